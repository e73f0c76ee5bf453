/**
 * Which passwords an operator may choose for an account (Web RA and CLI): at least 8
 * characters, not one of the most common passwords (assets/common-passwords.txt, compared
 * case-insensitively), and not the account's email address or its local part. Generated
 * passwords are random and need no check.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MIN_PASSWORD_LENGTH = 8;

/** assets/ beside src/ and dist/: the same path from the sources and from the build. */
const LIST_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets', 'common-passwords.txt');

let common: ReadonlySet<string> | undefined;

/** The list, read once. */
export function commonPasswords(file = LIST_FILE): ReadonlySet<string> {
  if (file !== LIST_FILE) return parseList(readFileSync(file, 'utf8'));
  common ??= parseList(readFileSync(LIST_FILE, 'utf8'));
  return common;
}

function parseList(text: string): ReadonlySet<string> {
  return new Set(text.split('\n').map((l) => l.trim().toLowerCase()).filter((l) => l !== '' && !l.startsWith('#')));
}

/** Why this password is refused for this account, or undefined when it is acceptable. */
export function passwordRefusal(password: string, email: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `a password needs at least ${MIN_PASSWORD_LENGTH} characters`;
  const lower = password.toLowerCase();
  const address = email.trim().toLowerCase();
  const local = address.split('@')[0] ?? '';
  if (lower === address || lower === local) return 'a password cannot be the account\'s email address or its local part';
  if (commonPasswords().has(lower)) return 'this password is one of the most common passwords; choose another';
  return undefined;
}

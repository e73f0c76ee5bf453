/** Passwords come from a file or the environment, never from the command line. */
import { readFileSync } from 'node:fs';
import { generatePassword } from '../ra/password.js';
import { passwordRefusal } from '../ra/password-policy.js';
import { CliError } from './context.js';

export function readPassword(opts: { passwordFile?: string }, env = process.env): { password: string; generated: boolean } {
  if (opts.passwordFile) {
    const text = readFileSync(opts.passwordFile, 'utf8').replace(/\r?\n$/, '');
    if (text.length < 8) throw new CliError(`${opts.passwordFile}: a password needs at least 8 characters`);
    return { password: text, generated: false };
  }
  if (env.ESTUARY_PASSWORD) {
    if (env.ESTUARY_PASSWORD.length < 8) throw new CliError('ESTUARY_PASSWORD: a password needs at least 8 characters');
    return { password: env.ESTUARY_PASSWORD, generated: false };
  }
  return { password: generatePassword(), generated: true };
}

/** An account's password: one given must pass the password policy (not common, not the email). */
export function readAccountPassword(opts: { passwordFile?: string }, email: string, env = process.env): { password: string; generated: boolean } {
  const read = readPassword(opts, env);
  const refusal = read.generated ? undefined : passwordRefusal(read.password, email);
  if (refusal) throw new CliError(`${opts.passwordFile ?? 'ESTUARY_PASSWORD'}: ${refusal}`);
  return read;
}

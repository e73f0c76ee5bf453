/**
 * Webhook signing secrets. A secret must be usable to sign, so it cannot be stored hashed: it is
 * stored sealed (AES-256-GCM) under a key kept in a file of the home (`webhooks.key`, mode 0600,
 * made on first use, like the CA's key files), never in the database. A copy of the database
 * (a backup, the shared PostgreSQL) holds no usable secret; every instance that delivers needs the
 * same key file. The plain secret is shown once, when the endpoint is added.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';

export const SECRET_KEY_FILE = 'webhooks.key';
const PREFIX = 'v1.';

/** A new secret: `whsec_` and 32 random bytes, base64url. */
export function generateSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

export interface SecretBox {
  seal(secret: string): string;
  open(sealed: string): string;
}

export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretKeyError';
  }
}

export function secretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new SecretKeyError('the webhook secret key must be 32 bytes');
  return {
    seal(secret) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
      return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
    },
    open(sealed) {
      if (!sealed.startsWith(PREFIX)) throw new SecretKeyError('unknown sealed secret format');
      const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      try {
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      } catch {
        throw new SecretKeyError('the webhook secret cannot be opened with this key file (another instance\'s webhooks.key?)');
      }
    },
  };
}

/** The key file's box; `create`: make the file (0600) when it does not exist. */
export function loadSecretBox(path: string, create: boolean): SecretBox {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw new SecretKeyError(`cannot read the webhook secret key ${path}: ${(err as Error).message}`);
    text = randomBytes(32).toString('base64');
    try {
      writeFileSync(path, `${text}\n`, { mode: 0o600, flag: 'wx' });
      chmodSync(path, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new SecretKeyError(`cannot create the webhook secret key ${path}: ${(e as Error).message}`);
      text = readFileSync(path, 'utf8'); // another process made it first
    }
  }
  return secretBox(Buffer.from(text.trim(), 'base64'));
}

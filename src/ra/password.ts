/** Password hashing with scrypt (RFC 7914); constant-time comparison. */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** scrypt cost: N (CPU and memory, a power of two), r (block size), p (parallelism). */
export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/** The cost of every stored hash (~50 ms of a core, 32 MiB). */
export const SCRYPT_COST: Readonly<ScryptCost> = { N: 1 << 15, r: 8, p: 1 };
const KEY_LEN = 32;

function scryptAsync(password: string, salt: Buffer, keyLen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

const maxmem = (N: number, r: number): number => 128 * N * r * 2;

/**
 * Encoded as `scrypt$N$r$p$saltB64$hashB64`. `cost` is for tests that hash many passwords (a lower N);
 * the server and the CLI always use SCRYPT_COST. verifyPassword reads the cost from the encoding.
 */
export async function hashPassword(password: string, cost: Readonly<ScryptCost> = SCRYPT_COST): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, KEY_LEN, { ...cost, maxmem: maxmem(cost.N, cost.r) });
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** False for a wrong password and for any malformed or weak stored hash; never throws. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash, ...extra] = encoded.split('$');
  if (scheme !== 'scrypt' || !salt || !hash || extra.length > 0) return false;
  const expected = Buffer.from(hash, 'base64');
  // A stored hash shorter than ours (e.g. one that decodes to nothing) would compare equal to anything.
  if (expected.length !== KEY_LEN) return false;
  const [N, R, P] = [Number(n), Number(r), Number(p)];
  if (![N, R, P].every((v) => Number.isSafeInteger(v) && v > 0)) return false;
  try {
    const key = await scryptAsync(password, Buffer.from(salt, 'base64'), KEY_LEN, { N, r: R, p: P, maxmem: maxmem(N, R) });
    return timingSafeEqual(key, expected);
  } catch {
    return false;
  }
}

/** A hash of a random password: verifying against it costs the same as a real account. */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
}

/** A random password for generated accounts: 24 characters from base64url. */
export function generatePassword(random: (n: number) => Buffer = randomBytes): string {
  return random(18).toString('base64url');
}

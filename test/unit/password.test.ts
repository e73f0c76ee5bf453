/** scrypt password hashing (RFC 7914). */
import { scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generatePassword, hashPassword as hashAtFullCost, SCRYPT_COST, verifyPassword, type ScryptCost } from '../../src/ra/password.js';

/** A cheap cost for the tests about salts, encodings and tampering (the full cost is checked once below). */
const TEST_COST: ScryptCost = { N: 1 << 10, r: 8, p: 1 };
const hashPassword = (password: string): Promise<string> => hashAtFullCost(password, TEST_COST);

describe('hashPassword / verifyPassword', () => {
  it('hashes at the full cost by default: N = 32768, r = 8, p = 1', async () => {
    expect(SCRYPT_COST).toEqual({ N: 32768, r: 8, p: 1 });
    const encoded = await hashAtFullCost('pw');
    expect(encoded).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]{43}=$/);
    expect(await verifyPassword('pw', encoded)).toBe(true);
    expect(await verifyPassword('pw ', encoded)).toBe(false);
  });

  it('round-trips and refuses a wrong password', async () => {
    const encoded = await hashPassword('s3cret pass — ünïcode');
    expect(encoded).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/);
    expect(await verifyPassword('s3cret pass — ünïcode', encoded)).toBe(true);
    expect(await verifyPassword('s3cret pass — unicode', encoded)).toBe(false);
    expect(await verifyPassword('', encoded)).toBe(false);
    expect(await verifyPassword('s3cret pass — ünïcode ', encoded)).toBe(false);
  });

  it('salts: two hashes of the same password differ and both verify', async () => {
    const [a, b] = await Promise.all([hashPassword('same'), hashPassword('same')]);
    expect(a).not.toBe(b);
    expect(a.split('$')[4]).not.toBe(b.split('$')[4]);
    expect(await verifyPassword('same', a)).toBe(true);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it('verifies a hash with other scrypt parameters (they are read from the encoding)', async () => {
    const encoded = await hashPassword('pw');
    const [, , , , salt] = encoded.split('$');
    // the same password hashed with N=2048, written in the same encoding
    const key = scryptSync('pw', Buffer.from(salt!, 'base64'), 32, { N: 2048, r: 8, p: 1 });
    const weak = ['scrypt', 2048, 8, 1, salt, key.toString('base64')].join('$');
    expect(await verifyPassword('pw', weak)).toBe(true);
    expect(await verifyPassword('pW', weak)).toBe(false);
  });

  it('a changed salt or hash no longer verifies', async () => {
    const encoded = await hashPassword('pw');
    const parts = encoded.split('$');
    const salt = Buffer.from(parts[4]!, 'base64');
    salt[0]! ^= 1;
    expect(await verifyPassword('pw', [...parts.slice(0, 4), salt.toString('base64'), parts[5]].join('$'))).toBe(false);
    const hash = Buffer.from(parts[5]!, 'base64');
    hash[31]! ^= 1;
    expect(await verifyPassword('pw', [...parts.slice(0, 5), hash.toString('base64')].join('$'))).toBe(false);
  });

  it('malformed encodings with a wrong scheme or missing parts are false', async () => {
    for (const bad of ['', 'plain', 'bcrypt$2b$10$abc', 'scrypt', 'scrypt$32768$8$1', 'scrypt$32768$8$1$c2FsdA==', 'scrypt$32768$8$1$$aGFzaA==', 'scrypt$32768$8$1$c2FsdA==$']) {
      expect(await verifyPassword('pw', bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it('malformed scrypt parameters are false, not a rejected promise', async () => {
    for (const bad of ['scrypt$abc$8$1$c2FsdA==$aGFzaA==', 'scrypt$16385$8$1$c2FsdA==$aGFzaA==', 'scrypt$$$$c2FsdA==$aGFzaA==']) {
      await expect(verifyPassword('pw', bad), JSON.stringify(bad)).resolves.toBe(false);
    }
  });

  it('a hash part that decodes to zero bytes never verifies (it would compare two empty keys)', async () => {
    for (const bad of ['scrypt$1024$8$1$c2FsdA==$!!!', 'scrypt$1024$8$1$c2FsdA==$=']) {
      expect(await verifyPassword('any password at all', bad), JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('generatePassword', () => {
  it('is 24 base64url characters from 18 random bytes', () => {
    const p = generatePassword();
    expect(p).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(generatePassword()).not.toBe(p);
    expect(generatePassword((n) => Buffer.alloc(n, 0xff))).toBe('________________________');
  });
});

/** The cache of recently verified credentials: hits, misses, invalidation, expiry, bound. */
import { describe, expect, it } from 'vitest';
import { CredentialCache } from '../../src/ra/credential-cache.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

const HASH = 'scrypt$32768$8$1$c2FsdA==$aGFzaA==';
const HASH2 = 'scrypt$32768$8$1$c2FsdDI=$aGFzaDI=';

describe('CredentialCache', () => {
  it('hits for the remembered email, password and stored hash', () => {
    const c = new CredentialCache();
    expect(c.has('a@example.com', 'pw', HASH)).toBe(false);
    c.remember('a@example.com', 'pw', HASH);
    expect(c.has('a@example.com', 'pw', HASH)).toBe(true);
    expect(c.has('a@example.com', 'pw', HASH)).toBe(true);
    expect(c.size).toBe(1);
  });

  it('misses on a wrong password, and the right one still hits afterwards', () => {
    const c = new CredentialCache();
    c.remember('a@example.com', 'pw', HASH);
    expect(c.has('a@example.com', 'pW', HASH)).toBe(false);
    expect(c.has('a@example.com', '', HASH)).toBe(false);
    expect(c.has('a@example.com', 'pw\0', HASH)).toBe(false);
    expect(c.has('a@example.com', 'pw', HASH)).toBe(true);
  });

  it('misses for another email, even with the same password', () => {
    const c = new CredentialCache();
    c.remember('a@example.com', 'pw', HASH);
    expect(c.has('b@example.com', 'pw', HASH)).toBe(false);
  });

  it('does not confuse the email/password boundary', () => {
    const c = new CredentialCache();
    c.remember('a@example.com', 'xpw', HASH);
    expect(c.has('a@example.comx', 'pw', HASH)).toBe(false);
  });

  it('is invalidated at once when the stored hash changes (password change or reset)', () => {
    const c = new CredentialCache();
    c.remember('a@example.com', 'pw', HASH);
    expect(c.has('a@example.com', 'pw', HASH2)).toBe(false);
    expect(c.size).toBe(0);
    // the entry is gone: going back to the old hash does not revive it
    expect(c.has('a@example.com', 'pw', HASH)).toBe(false);
  });

  it('expires after the TTL with an injected clock', () => {
    const t = clock();
    const c = new CredentialCache({ ttlMs: 60_000, now: t.now });
    c.remember('a@example.com', 'pw', HASH);
    t.advance(59_999);
    expect(c.has('a@example.com', 'pw', HASH)).toBe(true);
    t.advance(1);
    expect(c.has('a@example.com', 'pw', HASH)).toBe(false);
    expect(c.size).toBe(0);
  });

  it('a hit does not extend the TTL; remembering again does', () => {
    const t = clock();
    const c = new CredentialCache({ ttlMs: 1000, now: t.now });
    c.remember('a@example.com', 'pw', HASH);
    t.advance(900);
    expect(c.has('a@example.com', 'pw', HASH)).toBe(true);
    t.advance(200);
    expect(c.has('a@example.com', 'pw', HASH)).toBe(false);
    c.remember('a@example.com', 'pw', HASH);
    t.advance(900);
    expect(c.has('a@example.com', 'pw', HASH)).toBe(true);
  });

  it('defaults to a five-minute TTL', () => {
    const t = clock();
    const c = new CredentialCache({ now: t.now });
    c.remember('a@example.com', 'pw', HASH);
    t.advance(5 * 60_000 - 1);
    expect(c.has('a@example.com', 'pw', HASH)).toBe(true);
    t.advance(1);
    expect(c.has('a@example.com', 'pw', HASH)).toBe(false);
  });

  it('evicts the oldest entry beyond maxEntries', () => {
    const c = new CredentialCache({ maxEntries: 3 });
    for (const e of ['a', 'b', 'c']) c.remember(`${e}@x`, 'pw', HASH);
    expect(c.size).toBe(3);
    c.remember('d@x', 'pw', HASH);
    expect(c.size).toBe(3);
    expect(c.has('a@x', 'pw', HASH)).toBe(false);
    for (const e of ['b', 'c', 'd']) expect(c.has(`${e}@x`, 'pw', HASH)).toBe(true);
  });

  it('remembering an existing email again refreshes its place instead of evicting another', () => {
    const c = new CredentialCache({ maxEntries: 2 });
    c.remember('a@x', 'pw', HASH);
    c.remember('b@x', 'pw', HASH);
    c.remember('a@x', 'pw2', HASH); // a is now the newest, with the new password
    expect(c.size).toBe(2);
    c.remember('c@x', 'pw', HASH); // evicts b, the oldest
    expect(c.has('b@x', 'pw', HASH)).toBe(false);
    expect(c.has('a@x', 'pw', HASH)).toBe(false);
    expect(c.has('a@x', 'pw2', HASH)).toBe(true);
    expect(c.has('c@x', 'pw', HASH)).toBe(true);
  });

  it('forget removes an entry', () => {
    const c = new CredentialCache();
    c.remember('a@x', 'pw', HASH);
    c.forget('a@x');
    expect(c.has('a@x', 'pw', HASH)).toBe(false);
    expect(c.size).toBe(0);
  });

  it('two caches with different process keys do not share entries', () => {
    const one = new CredentialCache({ key: Buffer.alloc(32, 1) });
    const two = new CredentialCache({ key: Buffer.alloc(32, 2) });
    one.remember('a@x', 'pw', HASH);
    expect(two.has('a@x', 'pw', HASH)).toBe(false);
  });

  it('never holds the password itself', () => {
    const c = new CredentialCache();
    const password = 'correct horse battery staple';
    c.remember('a@x', password, HASH);
    const dump = JSON.stringify([...((c as unknown as { entries: Map<string, unknown> }).entries.values())], (_, v) => (v && v.type === 'Buffer' ? Buffer.from(v.data).toString('latin1') : v));
    expect(dump).not.toContain(password);
    expect(dump).not.toContain(Buffer.from(password).toString('hex'));
  });
});

describe('CredentialCache.verify (single flight)', () => {
  it('runs one full check for concurrent identical credentials and remembers a success', async () => {
    const cache = new CredentialCache();
    let checks = 0;
    const check = async (): Promise<boolean> => {
      checks++;
      await new Promise((r) => setTimeout(r, 20));
      return true;
    };
    const results = await Promise.all(Array.from({ length: 32 }, () => cache.verify('a@example.com', 'pw-123456', 'hash-1', check)));
    expect(results.every(Boolean)).toBe(true);
    expect(checks).toBe(1);
    expect(await cache.verify('a@example.com', 'pw-123456', 'hash-1', check)).toBe(true);
    expect(checks).toBe(1); // served from the cache
  });

  it('does not share a check between different passwords, and does not remember a failure', async () => {
    const cache = new CredentialCache();
    const seen: string[] = [];
    const checkFor = (pw: string) => async (): Promise<boolean> => {
      seen.push(pw);
      return pw === 'right-password';
    };
    const [a, b] = await Promise.all([
      cache.verify('a@example.com', 'wrong-password', 'hash-1', checkFor('wrong-password')),
      cache.verify('a@example.com', 'right-password', 'hash-1', checkFor('right-password')),
    ]);
    expect([a, b]).toEqual([false, true]);
    expect(seen.sort()).toEqual(['right-password', 'wrong-password']);
    expect(await cache.verify('a@example.com', 'wrong-password', 'hash-1', checkFor('wrong-password'))).toBe(false);
    expect(seen).toHaveLength(3); // a failure is checked in full every time
  });
});

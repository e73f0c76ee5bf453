/** Failure throttling (counts and locks in a real SQLite store) and the password-hash gate, with a fake clock. */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HashGate, HashGateFullError } from '../../src/ra/hash-gate.js';
import { BasicAuthThrottle, FailureThrottle } from '../../src/ra/throttle.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';
import { tempDir } from '../helpers/home.js';

const opened: SqliteStore[] = [];
function fresh(): SqliteStore {
  const store = openSqliteStore(join(tempDir(), 'throttle.db'));
  opened.push(store);
  return store;
}
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

describe('FailureThrottle', () => {
  it('locks a key at the limit within the window, reports the lock once, and the lock expires', async () => {
    let now = 0;
    const t = new FailureThrottle({ store: fresh(), now: () => now });
    const limit = { maxFailures: 3, windowMs: 60_000, lockMs: 30_000 };
    expect([await t.fail('k', limit), await t.fail('k', limit)]).toEqual([0, 0]);
    expect(await t.lockedSeconds('k')).toBe(0);
    expect(await t.fail('k', limit)).toBe(30);
    expect(await t.lockedSeconds('k')).toBe(30);
    expect(await t.fail('k', limit)).toBe(0); // failures while locked set off nothing new
    now += 29_500;
    expect(await t.lockedSeconds('k')).toBe(1);
    now += 1_000;
    expect(await t.lockedSeconds('k')).toBe(0);
  });

  it('forgets failures outside the window', async () => {
    let now = 0;
    const t = new FailureThrottle({ store: fresh(), now: () => now });
    const limit = { maxFailures: 2, windowMs: 1000, lockMs: 5000 };
    await t.fail('k', limit);
    now += 1000;
    expect(await t.fail('k', limit)).toBe(0);
    expect(await t.fail('k', limit)).toBe(5);
  });

  it('a lock set before an unlock no longer counts (and failures count from zero again); one set after it does', async () => {
    let now = 10_000;
    const t = new FailureThrottle({ store: fresh(), now: () => now });
    const limit = { maxFailures: 1, windowMs: 1000, lockMs: 60_000 };
    await t.fail('k', limit);
    expect(await t.lockedSeconds('k', new Date(9_000))).toBe(60);
    expect(await t.lockedSeconds('k', new Date(10_000))).toBe(0);
    now += 5;
    expect(await t.fail('k', limit)).toBe(60);
    expect(await t.lockedSeconds('k', new Date(10_000))).toBe(60);
  });

  it('a key seen again within maxAge costs no read; a success writes only when failures may exist', async () => {
    const store = fresh();
    const reads = { activeLock: 0, clearFailures: 0 };
    const activeLock = store.activeLock.bind(store);
    const clearFailures = store.clearFailures.bind(store);
    store.activeLock = async (k, at) => (reads.activeLock++, activeLock(k, at));
    store.clearFailures = async (k) => (reads.clearFailures++, clearFailures(k));
    let now = 0;
    const t = new FailureThrottle({ store, now: () => now, maxAgeMs: 1000 });
    for (let i = 0; i < 10; i++) expect(await t.lockedSeconds('ip:10.0.0.9')).toBe(0);
    expect(reads.activeLock).toBe(1);
    await t.clear('ip:10.0.0.9');
    expect(reads.clearFailures).toBe(0);
    now = 1000;
    await t.lockedSeconds('ip:10.0.0.9');
    expect(reads.activeLock).toBe(2);
    await t.fail('ip:10.0.0.9', { maxFailures: 3, windowMs: 60_000, lockMs: 60_000 });
    await t.clear('ip:10.0.0.9');
    expect(reads.clearFailures).toBe(1);
  });
});

describe('BasicAuthThrottle', () => {
  it('counts per account and per address; a success clears the account, a suspect is an address with failures', async () => {
    const t = new BasicAuthThrottle({ maxFailuresPerAccount: 2, maxFailuresPerAddress: 3, windowSeconds: 60, lockSeconds: 60 }, fresh(), () => 0);
    expect(t.suspect('10.0.0.1')).toBe(false);
    expect(await t.fail('a@x', '10.0.0.1')).toEqual([]);
    expect(t.suspect('10.0.0.1')).toBe(true);
    await t.succeed('a@x');
    expect(await t.fail('a@x', '10.0.0.1')).toEqual([]);
    expect(await t.fail('a@x', '10.0.0.1')).toEqual([{ scope: 'account', retryAfterSeconds: 60 }, { scope: 'address', retryAfterSeconds: 60 }]);
    expect(await t.locked('b@x', '10.0.0.1')).toEqual({ scope: 'address', retryAfterSeconds: 60 });
    expect(await t.locked('a@x', '10.0.0.2')).toEqual({ scope: 'account', retryAfterSeconds: 60 });
    expect(await t.locked('b@x', '10.0.0.2')).toBeUndefined();
  });
});

describe('HashGate', () => {
  const deferred = () => {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  };

  it('runs clean checks before waiting suspects, suspects one at a time, and refuses a full suspect queue', async () => {
    const gate = new HashGate({ concurrency: 2, suspectConcurrency: 1, maxSuspectQueue: 2 });
    const order: string[] = [];
    const jobs = new Map<string, ReturnType<typeof deferred>>();
    const run = (name: string, suspect: boolean) => {
      const d = deferred();
      jobs.set(name, d);
      return gate.run(suspect, async () => {
        order.push(name);
        await d.promise;
      });
    };
    const s1 = run('s1', true);
    const s2 = run('s2', true); // waits: one suspect at a time
    const s3 = run('s3', true);
    await expect(gate.run(true, async () => undefined)).rejects.toBeInstanceOf(HashGateFullError);
    const c1 = run('c1', false); // starts at once: a slot is free
    const c2 = run('c2', false); // waits for a slot, ahead of s2 and s3
    await Promise.resolve();
    expect(order).toEqual(['s1', 'c1']);
    jobs.get('s1')!.resolve();
    await s1;
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['s1', 'c1', 'c2']);
    jobs.get('c1')!.resolve();
    await c1;
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['s1', 'c1', 'c2', 's2']);
    jobs.get('c2')!.resolve();
    jobs.get('s2')!.resolve();
    await Promise.all([c2, s2]);
    await new Promise((r) => setImmediate(r));
    expect(order.at(-1)).toBe('s3');
    jobs.get('s3')!.resolve();
    await s3;
    expect(gate.waiting).toEqual({ clean: 0, suspect: 0 });
  });
});

/**
 * The shared-state part of the Store contract (several instances on one database): Web RA
 * sessions, failure counters and locks, leases, published CRLs, and the change each emits.
 * Called from storeContract(), so every implementation runs it.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store, StoreChange, StoredCrl, WebSession } from '../../src/store/store.js';

const MIN = 60_000;
const T0 = new Date('2026-06-01T10:00:00.000Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);

function session(overrides: Partial<WebSession> = {}): WebSession {
  return {
    id: randomBytes(32).toString('hex'), email: 'admin@example.com', role: 'admin', csrfToken: randomBytes(16).toString('base64url'),
    createdAt: T0, lastSeenAt: T0, expiresAt: at(60 * MIN), ...overrides,
  };
}

function crl(overrides: Partial<StoredCrl> = {}): StoredCrl {
  return {
    ca: 'default', kind: 'complete', number: 10n, der: Buffer.concat([Buffer.from([0x30, 0x82]), randomBytes(300)]),
    thisUpdate: T0, nextUpdate: at(24 * 60 * MIN), stamp: '3/2026-06-01T09:00:00.000Z', ...overrides,
  };
}

export function storeSharedStateContract(name: string, open: () => Promise<Store>, cleanup?: () => Promise<void>): void {
  describe(`Store contract: ${name}: state shared by instances`, () => {
    let store: Store;
    let seen: StoreChange[];

    beforeEach(async () => {
      store = await open();
      seen = [];
      store.changes.subscribe((c) => seen.push(c));
    });
    afterEach(async () => {
      await store.close().catch(() => undefined);
      await cleanup?.();
    });

    it('keeps Web RA sessions: create, get, touch, delete, and tells each change', async () => {
      const s = session();
      await store.createSession(s);
      expect(seen).toContainEqual({ kind: 'session', id: s.id });
      expect(await store.getSession(s.id)).toEqual(s);
      expect(await store.getSession('0'.repeat(64))).toBeUndefined();

      seen.length = 0;
      expect(await store.touchSession(s.id, at(5 * MIN))).toBe(true);
      expect((await store.getSession(s.id))?.lastSeenAt).toEqual(at(5 * MIN));
      expect(seen).toContainEqual({ kind: 'session', id: s.id });
      expect(await store.touchSession('f'.repeat(64), at(5 * MIN))).toBe(false);

      seen.length = 0;
      await store.deleteSession(s.id);
      expect(await store.getSession(s.id)).toBeUndefined();
      expect(seen).toContainEqual({ kind: 'session', id: s.id });
      expect(await store.touchSession(s.id, at(6 * MIN))).toBe(false);
      await store.deleteSession(s.id); // already gone: no error
    });

    it('signs an account out everywhere and purges sessions past their idle or absolute end', async () => {
      const a1 = session({ email: 'a@example.com' });
      const a2 = session({ email: 'a@example.com', role: 'officer' });
      const b = session({ email: 'b@example.com', role: 'auditor' });
      for (const s of [a1, a2, b]) await store.createSession(s);
      seen.length = 0;
      expect(await store.deleteSessionsOf('A@example.com')).toBe(2);
      expect(seen).toEqual(expect.arrayContaining([{ kind: 'session', id: a1.id }, { kind: 'session', id: a2.id }]));
      expect(await store.getSession(a1.id)).toBeUndefined();
      expect(await store.getSession(a2.id)).toBeUndefined();
      expect(await store.getSession(b.id)).toBeDefined();
      expect(await store.deleteSessionsOf('a@example.com')).toBe(0);

      const idle = session({ lastSeenAt: T0 }); // idle 30 min at T0 + 30 min
      const active = session({ lastSeenAt: at(20 * MIN) });
      const ended = session({ lastSeenAt: at(29 * MIN), expiresAt: at(30 * MIN) }); // absolute end reached
      for (const s of [idle, active, ended]) await store.createSession(s);
      await store.touchSession(b.id, at(25 * MIN));
      seen.length = 0;
      expect(await store.purgeSessions(at(30 * MIN), 30 * MIN)).toBe(2);
      expect(seen).toEqual(expect.arrayContaining([{ kind: 'session', id: idle.id }, { kind: 'session', id: ended.id }]));
      expect(await store.getSession(idle.id)).toBeUndefined();
      expect(await store.getSession(ended.id)).toBeUndefined();
      expect(await store.getSession(active.id)).toBeDefined();
      expect(await store.getSession(b.id)).toBeDefined();
    });

    it('counts failures within the window and locks at the limit; the count starts again after a lock', async () => {
      const limit = { maxFailures: 3, windowMs: 10 * MIN, lockMs: 5 * MIN };
      expect(await store.recordFailure('acct:x', limit, at(0))).toBeUndefined();
      expect(seen).toContainEqual({ kind: 'lock', key: 'acct:x' });
      // the first failure falls out of the window before the third
      expect(await store.recordFailure('acct:x', limit, at(6 * MIN))).toBeUndefined();
      expect(await store.recordFailure('acct:x', limit, at(11 * MIN))).toBeUndefined();
      expect(await store.activeLock('acct:x', at(11 * MIN))).toBeUndefined();
      seen.length = 0;
      const lock = await store.recordFailure('acct:x', limit, at(12 * MIN));
      expect(lock).toEqual({ lockedAt: at(12 * MIN), lockedUntil: at(17 * MIN) });
      expect(seen).toContainEqual({ kind: 'lock', key: 'acct:x' });
      expect(await store.activeLock('acct:x', at(16 * MIN))).toEqual(lock);
      expect(await store.activeLock('acct:y', at(16 * MIN))).toBeUndefined();
      // failures while locked do not count; after the lock the count starts from zero
      expect(await store.recordFailure('acct:x', limit, at(13 * MIN))).toBeUndefined();
      expect(await store.activeLock('acct:x', at(17 * MIN))).toBeUndefined();
      expect(await store.recordFailure('acct:x', limit, at(18 * MIN))).toBeUndefined();
      expect(await store.recordFailure('acct:x', limit, at(19 * MIN))).toBeUndefined();
      expect(await store.recordFailure('acct:x', limit, at(20 * MIN))).toEqual({ lockedAt: at(20 * MIN), lockedUntil: at(25 * MIN) });

      seen.length = 0;
      await store.clearFailures('acct:x');
      expect(seen).toContainEqual({ kind: 'lock', key: 'acct:x' });
      expect(await store.activeLock('acct:x', at(21 * MIN))).toBeUndefined();
      expect(await store.recordFailure('acct:x', limit, at(21 * MIN))).toBeUndefined(); // cleared: one failure, not the third
      await store.clearFailures('never-failed');
    });

    it('counts concurrent failures exactly', async () => {
      // lockMs 0: a lock ends at once, so every fifth failure sets one off
      const limit = { maxFailures: 5, windowMs: 10 * MIN, lockMs: 0 };
      const locks = await Promise.all(Array.from({ length: 20 }, () => store.recordFailure('ip:192.0.2.1', limit, at(MIN))));
      expect(locks.filter((l) => l !== undefined)).toHaveLength(4);
    });

    it('gives a lease to one holder at a time: renewed by its holder, taken by another only after expiry, released with ttl 0', async () => {
      expect(await store.acquireLease('crl:default', 'A', at(0), 10_000)).toBe(true);
      expect(await store.acquireLease('crl:default', 'B', at(1_000), 10_000)).toBe(false);
      expect(await store.acquireLease('crl:other', 'B', at(1_000), 10_000)).toBe(true);
      expect(await store.acquireLease('crl:default', 'A', at(9_000), 10_000)).toBe(true); // renewed until 19 s
      expect(await store.acquireLease('crl:default', 'B', at(15_000), 10_000)).toBe(false);
      expect(await store.acquireLease('crl:default', 'B', at(19_000), 10_000)).toBe(true); // A's expired
      expect(await store.acquireLease('crl:default', 'A', at(20_000), 10_000)).toBe(false);
      expect(await store.acquireLease('crl:default', 'B', at(21_000), 0)).toBe(true); // released
      expect(await store.acquireLease('crl:default', 'A', at(21_000), 10_000)).toBe(true);
    });

    it('publishes CRLs per CA and kind, refusing a number not higher than the stored one', async () => {
      expect(await store.getCrl('default', 'complete')).toBeUndefined();
      const first = crl();
      expect(await store.putCrl(first)).toBe(true);
      expect(seen).toContainEqual({ kind: 'crl', ca: 'default' });
      expect(await store.getCrl('default', 'complete')).toEqual(first);
      expect(await store.getCrl('default', 'delta')).toBeUndefined();

      seen.length = 0;
      expect(await store.putCrl(crl({ number: 10n }))).toBe(false);
      expect(await store.putCrl(crl({ number: 9n }))).toBe(false);
      expect(seen).toEqual([]);
      expect((await store.getCrl('default', 'complete'))?.der).toEqual(first.der);

      const big = crl({ number: 2n ** 159n + 1n, stamp: '4/2026-06-01T09:30:00.000Z', thisUpdate: at(MIN) }); // 20 octets
      expect(await store.putCrl(big)).toBe(true);
      expect(await store.getCrl('default', 'complete')).toEqual(big);
      expect(await store.putCrl(crl({ number: 2n ** 159n }))).toBe(false);

      const delta = crl({ kind: 'delta', number: 11n });
      expect(await store.putCrl(delta)).toBe(true); // numbers compare within one CA and kind
      expect(await store.putCrl(crl({ ca: 'default.g1', number: 1n }))).toBe(true);
      expect(await store.getCrl('default', 'delta')).toEqual(delta);
      expect((await store.getCrl('default.g1', 'complete'))?.number).toBe(1n);
    });
  });
}

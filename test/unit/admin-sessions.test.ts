/** Web RA sessions and sign-in throttling, kept in a real SQLite store, with a fake clock. */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionManager, sessionId } from '../../src/admin/sessions.js';
import { SignInThrottle } from '../../src/admin/sign-in-throttle.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';
import { tempDir } from '../helpers/home.js';

const MIN = 60_000;
const opened: SqliteStore[] = [];
async function fresh(): Promise<SqliteStore> {
  const store = openSqliteStore(join(tempDir(), 'sessions.db'));
  opened.push(store);
  return store;
}
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

describe('SessionManager', () => {
  it('keeps sessions in the store under the SHA-256 of the cookie, with idle and absolute timeouts', async () => {
    let now = 0;
    const store = await fresh();
    const sessions = new SessionManager({ store, idleMs: 30 * MIN, absoluteMs: 60 * MIN, now: () => now });
    const a = await sessions.create('a@example.com', 'admin');
    const b = await sessions.create('a@example.com', 'admin');
    const c = await sessions.create('c@example.com', 'auditor');
    expect(a.cookie).not.toBe(b.cookie);
    expect(a.session.csrfToken).not.toBe(b.session.csrfToken);
    expect(a.session.id).toBe(sessionId(a.cookie));
    expect(await store.getSession(a.cookie)).toBeUndefined(); // the cookie value itself is never stored
    expect((await store.getSession(a.session.id))?.email).toBe('a@example.com');

    expect(await sessions.lookup(undefined)).toEqual({ kind: 'none' });
    expect(await sessions.lookup('made-up')).toEqual({ kind: 'none' });
    now = 20 * MIN;
    expect((await sessions.lookup(a.cookie)).kind).toBe('active'); // a's idle timer restarts
    now = 35 * MIN;
    expect(await sessions.lookup(b.cookie)).toEqual({ kind: 'expired' });
    expect(await sessions.lookup(b.cookie)).toEqual({ kind: 'none' });
    expect((await sessions.lookup(a.cookie)).kind).toBe('active');
    now = 60 * MIN; // a's absolute end
    expect(await sessions.lookup(a.cookie)).toEqual({ kind: 'expired' });

    // another manager on the same store (another instance) sees the same sessions
    const d = await sessions.create('c@example.com', 'auditor');
    const other = new SessionManager({ store, idleMs: 30 * MIN, absoluteMs: 60 * MIN, now: () => now });
    expect(await other.lookup(d.cookie)).toMatchObject({ kind: 'active', session: { email: 'c@example.com', role: 'auditor' } });
    await sessions.destroyFor('c@example.com', d.session);
    expect((await other.lookup(c.cookie)).kind).toBe('none');
    expect((await other.lookup(d.cookie)).kind).toBe('active');
    await other.destroy(d.cookie);
    expect((await sessions.lookup(d.cookie)).kind).toBe('none');
  });

  it('writes activity at most every touchEveryMs, and purges expired sessions', async () => {
    let now = 0;
    const store = await fresh();
    const sessions = new SessionManager({ store, idleMs: 10 * MIN, absoluteMs: 60 * MIN, now: () => now, touchEveryMs: 30_000 });
    const a = await sessions.create('a@example.com', 'officer');
    const b = await sessions.create('b@example.com', 'officer');
    expect(SessionManager.csrfMatches(a.session, a.session.csrfToken)).toBe(true);
    expect(SessionManager.csrfMatches(a.session, a.session.csrfToken + 'x')).toBe(false);
    expect(SessionManager.csrfMatches(a.session, undefined)).toBe(false);
    now = 10_000;
    await sessions.lookup(a.cookie);
    expect((await store.getSession(a.session.id))?.lastSeenAt.getTime()).toBe(0);
    now = 40_000;
    await sessions.lookup(a.cookie);
    expect((await store.getSession(a.session.id))?.lastSeenAt.getTime()).toBe(40_000);
    now = 10 * MIN + 1;
    expect(await sessions.purge()).toBe(1); // b, idle since 0
    expect(await store.getSession(b.session.id)).toBeUndefined();
    expect((await sessions.lookup(a.cookie)).kind).toBe('active');
  });
});

describe('SignInThrottle', () => {
  it('counts failures within the window only, locks for lockMs, and a success clears the email', async () => {
    let now = 0;
    const t = new SignInThrottle({ maxFailuresPerEmail: 3, maxFailuresPerAddress: 100, windowMs: 10 * MIN, lockMs: 5 * MIN, now: () => now, store: await fresh() });
    expect(await t.fail('a', '10.0.0.1')).toEqual([]);
    expect(await t.fail('a', '10.0.0.1')).toEqual([]);
    now = 11 * MIN; // the first two have left the window
    expect(await t.fail('a', '10.0.0.1')).toEqual([]);
    await t.fail('a', '10.0.0.1');
    expect(await t.locked('a', '10.0.0.2')).toBeUndefined();
    expect(await t.fail('a', '10.0.0.1')).toEqual([{ scope: 'email', retryAfterSeconds: 300 }]);
    expect(await t.locked('a', '10.0.0.1')).toEqual({ scope: 'email', retryAfterSeconds: 300 });
    // The lock is of this email from this address: guesses elsewhere cannot lock the owner out.
    expect(await t.locked('a', '10.0.0.2')).toBeUndefined();
    expect(await t.locked('b', '10.0.0.1')).toBeUndefined();
    now += 4 * MIN + 30_000;
    expect((await t.locked('a', '10.0.0.1'))?.retryAfterSeconds).toBe(30);
    now += 30_000;
    expect(await t.locked('a', '10.0.0.1')).toBeUndefined();
    await t.fail('a', '10.0.0.1');
    await t.fail('a', '10.0.0.1');
    await t.succeed('a', '10.0.0.1');
    expect(await t.fail('a', '10.0.0.1')).toEqual([]);
  });

  it('an unlock after the lock lifts it; a lock set after the unlock stands', async () => {
    let now = 1000;
    const t = new SignInThrottle({ maxFailuresPerEmail: 1, maxFailuresPerAddress: 100, windowMs: MIN, lockMs: MIN, now: () => now, store: await fresh() });
    await t.fail('a', '10.0.0.1');
    expect((await t.locked('a', '10.0.0.1', new Date(999)))?.scope).toBe('email');
    expect(await t.locked('a', '10.0.0.1', new Date(1000))).toBeUndefined();
    now = 2000;
    await t.fail('a', '10.0.0.1');
    expect((await t.locked('a', '10.0.0.1', new Date(1000)))?.scope).toBe('email');
  });

  it('locks an address across emails', async () => {
    const t = new SignInThrottle({ maxFailuresPerEmail: 100, maxFailuresPerAddress: 3, windowMs: MIN, lockMs: MIN, now: () => 0, store: await fresh() });
    await t.fail('a', '192.0.2.1');
    await t.fail('b', '192.0.2.1');
    expect(await t.fail('c', '192.0.2.1')).toEqual([{ scope: 'address', retryAfterSeconds: 60 }]);
    expect(await t.locked('anyone', '192.0.2.1')).toEqual({ scope: 'address', retryAfterSeconds: 60 });
    expect(await t.locked('anyone', '192.0.2.2')).toBeUndefined();
  });

  it('shares counts and locks between instances on one database; a lock set elsewhere is in force here within maxAge', async () => {
    let now = 0;
    const dir = tempDir();
    const s1 = openSqliteStore(join(dir, 'shared.db'));
    const s2 = openSqliteStore(join(dir, 'shared.db'));
    opened.push(s1, s2);
    const options = { maxFailuresPerEmail: 4, maxFailuresPerAddress: 100, windowMs: MIN, lockMs: MIN, now: () => now };
    const one = new SignInThrottle({ ...options, store: s1 });
    const two = new SignInThrottle({ ...options, store: s2 });
    expect(await two.locked('a', '10.0.0.1')).toBeUndefined(); // remembered as not locked
    await one.fail('a', '10.0.0.1');
    await two.fail('a', '10.0.0.1');
    await one.fail('a', '10.0.0.1');
    expect(await two.fail('a', '10.0.0.1')).toEqual([{ scope: 'email', retryAfterSeconds: 60 }]); // the fourth, counted across both
    expect(await one.locked('a', '10.0.0.1')).toEqual({ scope: 'email', retryAfterSeconds: 60 });
    expect(await one.locked('b', '10.0.0.1')).toBeUndefined();
    now = 1000; // one's memory of 'b' is older than maxAge: read again
    await two.fail('b', '10.0.0.1');
    await two.fail('b', '10.0.0.1');
    await two.fail('b', '10.0.0.1');
    await two.fail('b', '10.0.0.1');
    now = 2000;
    expect((await one.locked('b', '10.0.0.1'))?.scope).toBe('email');
  });
});

/** The Web RA's session table and sign-in throttle on a fake clock. */
import { describe, expect, it } from 'vitest';
import { SessionManager } from '../../src/admin/sessions.js';
import { SignInThrottle } from '../../src/admin/sign-in-throttle.js';

const MIN = 60_000;

describe('SessionManager', () => {
  it('renews on use, expires when idle or past the absolute limit, ends sessions by account', () => {
    let now = 0;
    const sessions = new SessionManager({ idleMs: 30 * MIN, absoluteMs: 60 * MIN, now: () => now });
    const a = sessions.create('a@example.com', 'admin');
    const b = sessions.create('a@example.com', 'admin');
    const c = sessions.create('c@example.com', 'auditor');
    expect(a.id).not.toBe(b.id);
    expect(a.csrfToken).not.toBe(a.id);
    expect(sessions.lookup(undefined)).toEqual({ kind: 'none' });
    expect(sessions.lookup('made-up')).toEqual({ kind: 'none' });
    now = 29 * MIN;
    expect(sessions.lookup(a.id).kind).toBe('active');
    now = 50 * MIN; // b was last used at 0: idle
    expect(sessions.lookup(b.id)).toEqual({ kind: 'expired' });
    expect(sessions.lookup(b.id)).toEqual({ kind: 'none' });
    expect(sessions.lookup(a.id).kind).toBe('active');
    now = 60 * MIN; // absolute
    expect(sessions.lookup(a.id)).toEqual({ kind: 'expired' });
    const d = sessions.create('c@example.com', 'auditor');
    sessions.destroyFor('c@example.com', d.id);
    expect(sessions.lookup(c.id).kind).toBe('none');
    expect(sessions.lookup(d.id).kind).toBe('active');
  });

  it('compares CSRF tokens exactly, and keeps at most maxSessions', () => {
    const sessions = new SessionManager({ idleMs: MIN, absoluteMs: MIN, now: () => 0, maxSessions: 2 });
    const first = sessions.create('a@example.com', 'officer');
    expect(SessionManager.csrfMatches(first, first.csrfToken)).toBe(true);
    expect(SessionManager.csrfMatches(first, first.csrfToken + 'x')).toBe(false);
    expect(SessionManager.csrfMatches(first, undefined)).toBe(false);
    sessions.create('b@example.com', 'officer');
    sessions.create('c@example.com', 'officer');
    expect(sessions.lookup(first.id).kind).toBe('none');
  });
});

describe('SignInThrottle', () => {
  it('counts failures within the window only, locks for lockMs, and a success clears the email', () => {
    let now = 0;
    const t = new SignInThrottle({ maxFailuresPerEmail: 3, maxFailuresPerAddress: 100, windowMs: 10 * MIN, lockMs: 5 * MIN, now: () => now });
    expect(t.fail('a', '10.0.0.1')).toEqual([]);
    expect(t.fail('a', '10.0.0.1')).toEqual([]);
    now = 11 * MIN; // the first two have left the window
    expect(t.fail('a', '10.0.0.1')).toEqual([]);
    t.fail('a', '10.0.0.1');
    expect(t.locked('a', '10.0.0.2')).toBeUndefined();
    expect(t.fail('a', '10.0.0.1')).toEqual([{ scope: 'email', retryAfterSeconds: 300 }]);
    expect(t.locked('a', '10.0.0.1')).toEqual({ scope: 'email', retryAfterSeconds: 300 });
    // The lock is of this email from this address: guesses elsewhere cannot lock the owner out.
    expect(t.locked('a', '10.0.0.2')).toBeUndefined();
    expect(t.locked('b', '10.0.0.1')).toBeUndefined();
    now += 4 * MIN + 30_000;
    expect(t.locked('a', '10.0.0.1')?.retryAfterSeconds).toBe(30);
    now += 30_000;
    expect(t.locked('a', '10.0.0.1')).toBeUndefined();
    t.fail('a', '10.0.0.1');
    t.fail('a', '10.0.0.1');
    t.succeed('a', '10.0.0.1');
    expect(t.fail('a', '10.0.0.1')).toEqual([]);
  });

  it('an unlock after the lock lifts it; a lock set after the unlock stands', () => {
    let now = 1000;
    const t = new SignInThrottle({ maxFailuresPerEmail: 1, maxFailuresPerAddress: 100, windowMs: MIN, lockMs: MIN, now: () => now });
    t.fail('a', '10.0.0.1');
    expect(t.locked('a', '10.0.0.1', new Date(999))?.scope).toBe('email');
    expect(t.locked('a', '10.0.0.1', new Date(1000))).toBeUndefined();
    now = 2000;
    t.fail('a', '10.0.0.1');
    expect(t.locked('a', '10.0.0.1', new Date(1000))?.scope).toBe('email');
  });

  it('locks an address across emails', () => {
    const t = new SignInThrottle({ maxFailuresPerEmail: 100, maxFailuresPerAddress: 3, windowMs: MIN, lockMs: MIN, now: () => 0 });
    t.fail('a', '192.0.2.1');
    t.fail('b', '192.0.2.1');
    expect(t.fail('c', '192.0.2.1')).toEqual([{ scope: 'address', retryAfterSeconds: 60 }]);
    expect(t.locked('anyone', '192.0.2.1')).toEqual({ scope: 'address', retryAfterSeconds: 60 });
    expect(t.locked('anyone', '192.0.2.2')).toBeUndefined();
  });
});

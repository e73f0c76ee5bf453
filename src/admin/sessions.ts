/**
 * Web RA sessions, kept in the store so that every instance sharing the database accepts a
 * session opened on any of them: a random value in an HttpOnly cookie, of which the store keeps
 * only the SHA-256 (a copy of the database does not sign anyone in), a CSRF token per session,
 * an idle timeout (renewed by activity) and an absolute one (from sign-in). Nothing is held in
 * process memory, so signing out, a password change or a disabled account ends the session on
 * every instance at its next request.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SessionRole } from '../ra/model.js';
import type { Store, WebSession } from '../store/store.js';

export interface Session {
  /** The store's id: SHA-256 (hex) of the cookie value. */
  id: string;
  email: string;
  role: SessionRole;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
  /** Absolute end, whatever the activity. */
  expiresAt: number;
}

export interface SessionOptions {
  store: Store;
  idleMs: number;
  absoluteMs: number;
  /** Milliseconds since the epoch (injectable for tests). */
  now: () => number;
  random?: (n: number) => Buffer;
  /** Activity is written to the store at most this often per session (default 30 s, at most a tenth of idleMs). */
  touchEveryMs?: number;
}

export type SessionLookup = { kind: 'active'; session: Session } | { kind: 'expired' } | { kind: 'none' };

/** The store id of a cookie value. */
export const sessionId = (cookie: string): string => createHash('sha256').update(cookie).digest('hex');

const fromStored = (s: WebSession): Session => ({
  id: s.id, email: s.email, role: s.role, csrfToken: s.csrfToken,
  createdAt: s.createdAt.getTime(), lastSeenAt: s.lastSeenAt.getTime(), expiresAt: s.expiresAt.getTime(),
});

const toStored = (s: Session): WebSession => ({
  id: s.id, email: s.email, role: s.role, csrfToken: s.csrfToken,
  createdAt: new Date(s.createdAt), lastSeenAt: new Date(s.lastSeenAt), expiresAt: new Date(s.expiresAt),
});

/** Cookie values are 32 random bytes in base64url (43 characters); anything else is not ours. */
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

export class SessionManager {
  private readonly random: (n: number) => Buffer;
  private readonly touchEveryMs: number;

  constructor(private readonly o: SessionOptions) {
    this.random = o.random ?? randomBytes;
    this.touchEveryMs = o.touchEveryMs ?? Math.min(30_000, o.idleMs / 10);
  }

  get idleTimeoutSeconds(): number {
    return Math.round(this.o.idleMs / 1000);
  }

  /** A new session; the cookie value is returned once and never stored. */
  async create(email: string, role: SessionRole): Promise<{ session: Session; cookie: string }> {
    const now = this.o.now();
    const cookie = this.random(32).toString('base64url');
    const session: Session = {
      id: sessionId(cookie), email, role, csrfToken: this.random(32).toString('base64url'),
      createdAt: now, lastSeenAt: now, expiresAt: now + this.o.absoluteMs,
    };
    await this.o.store.createSession(toStored(session));
    return { session, cookie };
  }

  /**
   * The session behind a cookie value; activity on an active one restarts its idle timer.
   * Activity is written at most every `touchEveryMs`, so the stored lastSeenAt may lag the last
   * request by that much and a session may end up to `touchEveryMs` before `idleMs` of true
   * inactivity (never after): idle semantics hold within that granularity, in the safe direction.
   */
  async lookup(cookie: string | undefined): Promise<SessionLookup> {
    if (!cookie || !COOKIE_VALUE.test(cookie)) return { kind: 'none' };
    const id = sessionId(cookie);
    const stored = await this.o.store.getSession(id);
    if (!stored) return { kind: 'none' };
    const session = fromStored(stored);
    const now = this.o.now();
    if (now >= session.expiresAt || now - session.lastSeenAt >= this.o.idleMs) {
      await this.o.store.deleteSession(id);
      return { kind: 'expired' };
    }
    if (now - session.lastSeenAt >= this.touchEveryMs) {
      if (!(await this.o.store.touchSession(id, new Date(now)))) return { kind: 'none' }; // ended meanwhile
      session.lastSeenAt = now;
    }
    return { kind: 'active', session };
  }

  /** Sign out the session behind a cookie value. */
  async destroy(cookie: string): Promise<void> {
    await this.o.store.deleteSession(sessionId(cookie));
  }

  /** Ends a session by its store id (an account that can no longer sign in). */
  async end(session: Session): Promise<void> {
    await this.o.store.deleteSession(session.id);
  }

  /**
   * Ends every session of an account on every instance (password reset, disabling), except
   * `keep` (the admin changing their own password stays signed in): it is put back at once.
   */
  async destroyFor(email: string, keep?: Session): Promise<void> {
    await this.o.store.deleteSessionsOf(email);
    if (keep && keep.email === email) await this.o.store.createSession(toStored(keep));
  }

  /** Drops expired sessions from the store (idempotent: any instance may run it). */
  async purge(): Promise<number> {
    return this.o.store.purgeSessions(new Date(this.o.now()), this.o.idleMs);
  }

  /** Constant-time comparison of a presented CSRF token with the session's. */
  static csrfMatches(session: Session, presented: string | undefined): boolean {
    if (!presented) return false;
    const a = Buffer.from(presented);
    const b = Buffer.from(session.csrfToken);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}

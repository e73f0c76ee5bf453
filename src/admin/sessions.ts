/**
 * Web RA sessions, kept in memory: a random id in an HttpOnly cookie, a CSRF token per session,
 * an idle timeout (renewed by every request) and an absolute one (from sign-in). A restart
 * signs everyone out, which is the safe direction.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AdminRole } from '../ra/model.js';

export interface Session {
  id: string;
  email: string;
  role: AdminRole;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
  /** Absolute end, whatever the activity. */
  expiresAt: number;
}

export interface SessionOptions {
  idleMs: number;
  absoluteMs: number;
  /** Milliseconds since the epoch (injectable for tests). */
  now: () => number;
  random?: (n: number) => Buffer;
  /** Oldest sessions are dropped beyond this many (memory bound). */
  maxSessions?: number;
}

export type SessionLookup = { kind: 'active'; session: Session } | { kind: 'expired' } | { kind: 'none' };

export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  private readonly random: (n: number) => Buffer;
  private readonly maxSessions: number;

  constructor(private readonly o: SessionOptions) {
    this.random = o.random ?? randomBytes;
    this.maxSessions = o.maxSessions ?? 10_000;
  }

  get idleTimeoutSeconds(): number {
    return Math.round(this.o.idleMs / 1000);
  }

  create(email: string, role: AdminRole): Session {
    this.sweep();
    const now = this.o.now();
    const session: Session = {
      id: this.random(32).toString('base64url'),
      email,
      role,
      csrfToken: this.random(32).toString('base64url'),
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.o.absoluteMs,
    };
    this.sessions.set(session.id, session);
    while (this.sessions.size > this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    return session;
  }

  /** The session behind a cookie value; an active one is renewed (its idle timer restarts). */
  lookup(id: string | undefined): SessionLookup {
    if (!id) return { kind: 'none' };
    const session = this.sessions.get(id);
    if (!session) return { kind: 'none' };
    const now = this.o.now();
    if (now >= session.expiresAt || now - session.lastSeenAt >= this.o.idleMs) {
      this.sessions.delete(id);
      return { kind: 'expired' };
    }
    session.lastSeenAt = now;
    return { kind: 'active', session };
  }

  destroy(id: string): void {
    this.sessions.delete(id);
  }

  /** Ends every session of an account (password reset, disabling), except `keep`. */
  destroyFor(email: string, keep?: string): void {
    for (const [id, s] of this.sessions) if (s.email === email && id !== keep) this.sessions.delete(id);
  }

  /** Constant-time comparison of a presented CSRF token with the session's. */
  static csrfMatches(session: Session, presented: string | undefined): boolean {
    if (!presented) return false;
    const a = Buffer.from(presented);
    const b = Buffer.from(session.csrfToken);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private sweep(): void {
    const now = this.o.now();
    for (const [id, s] of this.sessions) if (now >= s.expiresAt || now - s.lastSeenAt >= this.o.idleMs) this.sessions.delete(id);
  }
}

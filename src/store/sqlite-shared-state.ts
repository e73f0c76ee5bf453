/**
 * The SQLite side of the state several instances share (store.ts: sessions, failure counters,
 * leases, published CRLs). Every write is one statement or one IMMEDIATE transaction, so two
 * processes on the same file never interleave a read-modify-write; each committed change is
 * then told to this process's caches through the change hub (other processes see it as a new
 * data version).
 */
import type Database from 'better-sqlite3';
import type { ChangeHub } from './change-hub.js';
import { iso } from './sqlite-rows.js';
import type { CrlKind, FailureLimit, FailureLock, StoredCrl, WebSession } from './store.js';
import type { AdminRole } from '../ra/model.js';

interface SessionRow {
  id: string;
  email: string;
  role: string;
  csrf_token: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
}

interface FailureRow {
  failures: string;
  locked_at: string | null;
  locked_until: string | null;
}

interface CrlRow {
  ca: string;
  kind: CrlKind;
  number: string;
  der: Buffer;
  this_update: string;
  next_update: string;
  stamp: string;
}

/** cRLNumbers are at most 20 octets (RFC 5280 §5.2.3): 49 decimal digits, padded so text order is numeric order. */
const NUMBER_DIGITS = 49;

export function crlNumberText(n: bigint): string {
  if (n < 0n) throw new RangeError(`a cRLNumber is non-negative, got ${n}`);
  const text = n.toString();
  if (text.length > NUMBER_DIGITS) throw new RangeError(`a cRLNumber has at most 20 octets (RFC 5280 §5.2.3), got ${n}`);
  return text.padStart(NUMBER_DIGITS, '0');
}

const toSession = (r: SessionRow): WebSession => ({
  id: r.id, email: r.email, role: r.role as AdminRole, csrfToken: r.csrf_token,
  createdAt: new Date(r.created_at), lastSeenAt: new Date(r.last_seen_at), expiresAt: new Date(r.expires_at),
});

export class SqliteSharedState {
  private readonly s;

  constructor(private readonly db: Database.Database, private readonly hub: ChangeHub) {
    const p = <R = unknown>(sql: string) => db.prepare<Record<string, unknown>, R>(sql);
    this.s = {
      insertSession: p(`INSERT INTO web_sessions (id, email, role, csrf_token, created_at, last_seen_at, expires_at)
        VALUES (@id, @email, @role, @csrf_token, @created_at, @last_seen_at, @expires_at)`),
      getSession: p<SessionRow>('SELECT * FROM web_sessions WHERE id = @id'),
      touchSession: p('UPDATE web_sessions SET last_seen_at = MAX(last_seen_at, @at) WHERE id = @id'),
      deleteSession: p('DELETE FROM web_sessions WHERE id = @id'),
      sessionsOf: p<{ id: string }>('SELECT id FROM web_sessions WHERE email = @email'),
      deleteSessionsOf: p('DELETE FROM web_sessions WHERE email = @email'),
      expiredSessions: p<{ id: string }>('SELECT id FROM web_sessions WHERE expires_at <= @at OR last_seen_at <= @idle_since'),
      purgeSessions: p('DELETE FROM web_sessions WHERE expires_at <= @at OR last_seen_at <= @idle_since'),
      getFailures: p<FailureRow>('SELECT failures, locked_at, locked_until FROM failure_counters WHERE key = @key'),
      putFailures: p(`INSERT INTO failure_counters (key, failures, locked_at, locked_until) VALUES (@key, @failures, @locked_at, @locked_until)
        ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, locked_at = excluded.locked_at, locked_until = excluded.locked_until`),
      activeLock: p<FailureRow>('SELECT failures, locked_at, locked_until FROM failure_counters WHERE key = @key AND locked_until > @at'),
      clearFailures: p('DELETE FROM failure_counters WHERE key = @key'),
      // Taken when free or expired, renewed by its holder; one statement, so atomic across processes.
      acquireLease: p(`INSERT INTO leases (name, holder, expires_at) VALUES (@name, @holder, @until)
        ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
        WHERE leases.holder = excluded.holder OR leases.expires_at <= @at`),
      getCrl: p<CrlRow>('SELECT * FROM published_crls WHERE ca = @ca AND kind = @kind'),
      putCrl: p(`INSERT INTO published_crls (ca, kind, number, der, this_update, next_update, stamp)
        VALUES (@ca, @kind, @number, @der, @this_update, @next_update, @stamp)
        ON CONFLICT (ca, kind) DO UPDATE SET number = excluded.number, der = excluded.der, this_update = excluded.this_update,
          next_update = excluded.next_update, stamp = excluded.stamp
        WHERE excluded.number > published_crls.number`),
    };
  }

  createSession(session: WebSession): void {
    this.s.insertSession.run({
      id: session.id, email: session.email.toLowerCase(), role: session.role, csrf_token: session.csrfToken,
      created_at: iso(session.createdAt), last_seen_at: iso(session.lastSeenAt), expires_at: iso(session.expiresAt),
    });
    this.hub.emit({ kind: 'session', id: session.id });
  }

  getSession(id: string): WebSession | undefined {
    const row = this.s.getSession.get({ id });
    return row && toSession(row);
  }

  touchSession(id: string, at: Date): boolean {
    const touched = this.s.touchSession.run({ id, at: iso(at) }).changes > 0;
    if (touched) this.hub.emit({ kind: 'session', id });
    return touched;
  }

  deleteSession(id: string): void {
    if (this.s.deleteSession.run({ id }).changes > 0) this.hub.emit({ kind: 'session', id });
  }

  deleteSessionsOf(email: string): number {
    const params = { email: email.toLowerCase() };
    const ids = this.db.transaction(() => {
      const found = this.s.sessionsOf.all(params).map((r) => r.id);
      this.s.deleteSessionsOf.run(params);
      return found;
    }).immediate();
    for (const id of ids) this.hub.emit({ kind: 'session', id });
    return ids.length;
  }

  purgeSessions(at: Date, idleMs: number): number {
    const params = { at: iso(at), idle_since: iso(new Date(at.getTime() - idleMs)) };
    const ids = this.db.transaction(() => {
      const found = this.s.expiredSessions.all(params).map((r) => r.id);
      this.s.purgeSessions.run(params);
      return found;
    }).immediate();
    for (const id of ids) this.hub.emit({ kind: 'session', id });
    return ids.length;
  }

  /** Failures within the window are kept as epoch milliseconds; a failure while locked does not count. */
  recordFailure(key: string, limit: FailureLimit, at: Date): FailureLock | undefined {
    const now = at.getTime();
    const lock = this.db.transaction((): FailureLock | undefined => {
      const row = this.s.getFailures.get({ key });
      if (row?.locked_until && new Date(row.locked_until).getTime() > now) return undefined;
      const failures = row ? (JSON.parse(row.failures) as number[]).filter((t) => now - t < limit.windowMs) : [];
      failures.push(now);
      if (failures.length < limit.maxFailures) {
        this.s.putFailures.run({ key, failures: JSON.stringify(failures), locked_at: row?.locked_at ?? null, locked_until: row?.locked_until ?? null });
        return undefined;
      }
      const set = { lockedAt: new Date(now), lockedUntil: new Date(now + limit.lockMs) };
      this.s.putFailures.run({ key, failures: '[]', locked_at: iso(set.lockedAt), locked_until: iso(set.lockedUntil) });
      return set;
    }).immediate();
    this.hub.emit({ kind: 'lock', key });
    return lock;
  }

  activeLock(key: string, at: Date): FailureLock | undefined {
    const row = this.s.activeLock.get({ key, at: iso(at) });
    return row ? { lockedAt: new Date(row.locked_at!), lockedUntil: new Date(row.locked_until!) } : undefined;
  }

  clearFailures(key: string): void {
    if (this.s.clearFailures.run({ key }).changes > 0) this.hub.emit({ kind: 'lock', key });
  }

  acquireLease(name: string, holder: string, at: Date, ttlMs: number): boolean {
    return this.s.acquireLease.run({ name, holder, at: iso(at), until: iso(new Date(at.getTime() + Math.max(0, ttlMs))) }).changes > 0;
  }

  getCrl(ca: string, kind: CrlKind): StoredCrl | undefined {
    const row = this.s.getCrl.get({ ca, kind });
    return row && {
      ca: row.ca, kind: row.kind, number: BigInt(row.number), der: Buffer.from(row.der),
      thisUpdate: new Date(row.this_update), nextUpdate: new Date(row.next_update), stamp: row.stamp,
    };
  }

  putCrl(crl: StoredCrl): boolean {
    const stored = this.s.putCrl.run({
      ca: crl.ca, kind: crl.kind, number: crlNumberText(crl.number), der: crl.der,
      this_update: iso(crl.thisUpdate), next_update: iso(crl.nextUpdate), stamp: crl.stamp,
    }).changes > 0;
    if (stored) this.hub.emit({ kind: 'crl', ca: crl.ca });
    return stored;
  }
}

/**
 * The PostgreSQL store's shared state: Web RA sessions, failure counters and locks, leases and
 * published CRLs. Each method is one statement (one round trip, its own transaction); the ones
 * that change what caches hold announce it with pg_notify in that statement. Failure keys are
 * stored escaped (encodeKey: they hold NUL, which PostgreSQL text cannot).
 */
import type { QueryResultRow } from 'pg';
import { encodeKey } from './postgres-rows.js';
import type { AdminRole } from '../ra/model.js';
import type { CrlKind, FailureLimit, FailureLock, StoreChange, StoredCrl, WebSession } from './store.js';

/** Runs one statement with the store's error contract (closed store, typed errors). */
export type Query = <R extends QueryResultRow>(what: string, text: string, values: unknown[]) => Promise<{ rows: R[]; rowCount: number }>;

export interface SharedContext {
  query: Query;
  /** This instance's id in the notices it sends. */
  origin: string;
  /** SQL that sends `change` (a jsonb expression) on the channel, with this instance as origin. */
  notify(change: string): string;
  /** Tells this instance's listeners (other instances hear the NOTIFY). */
  emit(change: StoreChange): void;
}

interface SessionRow {
  id: string; email: string; role: string; csrf_token: string; created_at: Date; last_seen_at: Date; expires_at: Date;
}

const toSession = (r: SessionRow): WebSession => ({
  id: r.id, email: r.email, role: r.role as AdminRole, csrfToken: r.csrf_token, createdAt: r.created_at, lastSeenAt: r.last_seen_at, expiresAt: r.expires_at,
});

const sessionChange = `jsonb_build_object('kind', 'session', 'id', d.id)`;

export class PostgresSharedState {
  constructor(private readonly c: SharedContext) {}

  async createSession(s: WebSession): Promise<void> {
    await this.c.query('createSession', `WITH d AS (INSERT INTO web_sessions (id, email, role, csrf_token, created_at, last_seen_at, expires_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id) SELECT ${this.c.notify(sessionChange)} FROM d`,
    [s.id, s.email, s.role, s.csrfToken, s.createdAt, s.lastSeenAt, s.expiresAt]);
    this.c.emit({ kind: 'session', id: s.id });
  }

  async getSession(id: string): Promise<WebSession | undefined> {
    const { rows } = await this.c.query<SessionRow>('getSession', 'SELECT * FROM web_sessions WHERE id = $1', [id]);
    return rows[0] && toSession(rows[0]);
  }

  async touchSession(id: string, at: Date): Promise<boolean> {
    // every session write is told, a touch too (store.ts)
    const { rows } = await this.c.query('touchSession', `WITH d AS (UPDATE web_sessions SET last_seen_at = GREATEST(last_seen_at, $2) WHERE id = $1 RETURNING id)
      SELECT ${this.c.notify(sessionChange)} FROM d`, [id, at]);
    if (rows.length === 0) return false;
    this.c.emit({ kind: 'session', id });
    return true;
  }

  async deleteSession(id: string): Promise<void> {
    // told even when it was not there: a cache may still hold it
    if ((await this.deleted('deleteSession', 'id = $1', [id])) === 0) this.c.emit({ kind: 'session', id });
  }

  async deleteSessionsOf(email: string): Promise<number> {
    return this.deleted('deleteSessionsOf', 'lower(email) = $1', [email.toLowerCase()]);
  }

  async purgeSessions(at: Date, idleMs: number): Promise<number> {
    return this.deleted('purgeSessions', `expires_at <= $1 OR last_seen_at <= $1 - make_interval(secs => $2::bigint / 1000.0)`, [at, idleMs]);
  }

  private async deleted(what: string, where: string, values: unknown[]): Promise<number> {
    const { rows } = await this.c.query<{ id: string }>(what, `WITH d AS (DELETE FROM web_sessions WHERE ${where} RETURNING id)
      SELECT d.id, ${this.c.notify(sessionChange)} FROM d`, values);
    for (const r of rows) this.c.emit({ kind: 'session', id: r.id });
    return rows.length;
  }

  async recordFailure(key: string, limit: FailureLimit, at: Date): Promise<FailureLock | undefined> {
    const { rows } = await this.c.query<{ locked_at: Date; locked_until: Date }>('recordFailure',
      'SELECT * FROM estuary_record_failure($1, $2, $3, $4, $5, $6)', [encodeKey(key), at, limit.windowMs, limit.maxFailures, limit.lockMs, this.c.origin]);
    // every failure is told (the function notifies other instances), counted or not: a key
    // failing elsewhere is a suspect here too (ra/throttle.ts)
    this.c.emit({ kind: 'lock', key });
    const row = rows[0];
    if (!row) return undefined;
    return { lockedAt: row.locked_at, lockedUntil: row.locked_until };
  }

  async activeLock(key: string, at: Date): Promise<FailureLock | undefined> {
    const { rows } = await this.c.query<{ locked_at: Date; locked_until: Date }>('activeLock',
      'SELECT locked_at, locked_until FROM auth_failures WHERE key = $1 AND locked_until > $2', [encodeKey(key), at]);
    return rows[0] && { lockedAt: rows[0].locked_at, lockedUntil: rows[0].locked_until };
  }

  async clearFailures(key: string): Promise<void> {
    const { rows } = await this.c.query('clearFailures', `WITH d AS (DELETE FROM auth_failures WHERE key = $1 RETURNING key)
      SELECT ${this.c.notify(`jsonb_build_object('kind', 'lock', 'key', d.key)`)} FROM d`, [encodeKey(key)]);
    if (rows.length === 0) return;
    this.c.emit({ kind: 'lock', key });
  }

  async acquireLease(name: string, holder: string, at: Date, ttlMs: number): Promise<boolean> {
    // ttl 0 releases: the lease then ends at `at`, and a lease is free once its end <= at
    if (!Number.isFinite(ttlMs) || ttlMs < 0) throw new RangeError(`lease ttlMs must be zero or positive, got ${ttlMs}`);
    const { rowCount } = await this.c.query('acquireLease', `INSERT INTO leases AS l (name, holder, expires_at)
      VALUES ($1, $2, $3::timestamptz + make_interval(secs => $4::bigint / 1000.0))
      ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
      WHERE l.holder = EXCLUDED.holder OR l.expires_at <= $3::timestamptz`, [name, holder, at, Math.ceil(ttlMs)]);
    return rowCount > 0;
  }

  async getCrl(ca: string, kind: CrlKind): Promise<StoredCrl | undefined> {
    const { rows } = await this.c.query<{ number: string; der: Buffer; this_update: Date; next_update: Date; stamp: string }>('getCrl',
      'SELECT number::text AS number, der, this_update, next_update, stamp FROM crls WHERE ca = $1 AND kind = $2', [ca, kind]);
    const r = rows[0];
    return r && { ca, kind, number: BigInt(r.number), der: r.der, thisUpdate: r.this_update, nextUpdate: r.next_update, stamp: r.stamp };
  }

  async putCrl(crl: StoredCrl): Promise<boolean> {
    const { rows } = await this.c.query('putCrl', `WITH u AS (INSERT INTO crls AS c (ca, kind, number, der, this_update, next_update, stamp)
        VALUES ($1, $2, $3::numeric, $4, $5, $6, $7)
        ON CONFLICT (ca, kind) DO UPDATE SET number = EXCLUDED.number, der = EXCLUDED.der, this_update = EXCLUDED.this_update,
          next_update = EXCLUDED.next_update, stamp = EXCLUDED.stamp
        WHERE c.number < EXCLUDED.number RETURNING ca)
      SELECT ${this.c.notify(`jsonb_build_object('kind', 'crl', 'ca', u.ca)`)} FROM u`,
    [crl.ca, crl.kind, crl.number.toString(), crl.der, crl.thisUpdate, crl.nextUpdate, crl.stamp]);
    if (rows.length === 0) return false;
    this.c.emit({ kind: 'crl', ca: crl.ca });
    return true;
  }
}

/**
 * The Web RA's reads of the SQLite store: searches, lists, counts and the dashboard's aggregates.
 * They run on the reader thread (sqlite-reader.ts) over its own read-only connection, so a search
 * over a million certificates never holds the EST event loop; an in-memory database (no file a
 * second connection could open) runs them in place. Every method returns plain data that survives
 * a structured clone (Buffers arrive as Uint8Array: see reviveReads).
 *
 * Measured with 1,000,000 certificates (npm run bench:webra): counts are bounded (countLimit) or
 * read from counters kept by triggers; lists page by keyset cursors on composite indexes.
 */
import type Database from 'better-sqlite3';
import { afterCursor, auditWhere, certificateWhere, equalityFilter, pendingWhere } from './sqlite-search.js';
import { decodeCursor, encodeCursor, page, type CertificateCursor } from './store-paging.js';
import { sampleKeys, sampleRarity, type TrigramRarity } from './trigram-rarity.js';
import { iso, toAudit, toCertificate, toPending, type AuditRow, type CertificateRow, type Params, type PendingRow } from './sqlite-rows.js';
import type { AuditFilter, CertificateCounts, CertificateFilter, CertificateSearch, DayCount, Page, PendingFilter } from './store.js';
import type { AuditEvent, CertificateRecord, PendingRequest } from '../ra/model.js';

const DEFAULT_LIMIT = 100;
const SAMPLE_ROWS = 2000;
const SAMPLE_EVERY = 1000;
const DAY_MS = 86_400_000;

/** The reads, by name: what the reader thread is asked to run. */
export interface ReadCalls {
  listCertificates(filter: CertificateFilter): CertificateRecord[];
  searchCertificates(search: CertificateSearch, now: Date): Page<CertificateRecord>;
  countCertificates(now: Date): CertificateCounts;
  issuedPerDay(since: Date): DayCount[];
  listPendingRequests(filter: PendingFilter): PendingRequest[];
  countPendingRequests(filter: PendingFilter): number;
  listAudit(filter: AuditFilter): AuditEvent[];
  countAudit(filter: AuditFilter): number;
}
export type ReadName = keyof ReadCalls;

type Row = CertificateRow & { _rowid: number };

export class SqliteReads implements ReadCalls {
  private readonly statements = new Map<string, Database.Statement>();
  private sample: TrigramRarity | undefined;
  private searches = 0;

  constructor(private readonly db: Database.Database) {}

  /** One statement per query shape, prepared on first use and then reused. */
  private prepared(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  listCertificates(filter: CertificateFilter): CertificateRecord[] {
    const params: Params = { limit: page(filter.limit, DEFAULT_LIMIT, 'limit'), offset: page(filter.offset, 0, 'offset') };
    const sql = `SELECT * FROM certificates${equalityFilter(filter, ['profile', 'status'], params)}
      ORDER BY created_at DESC, rowid DESC LIMIT @limit OFFSET @offset`;
    return (this.prepared(sql).all(params) as CertificateRow[]).map(toCertificate);
  }

  /**
   * How common each trigram is among the certificates (document counts over a sample of
   * SAMPLE_ROWS spread over the table), so a search asks the trigram index for the rarest trigrams of its text. Taken on
   * the first text search and again every SAMPLE_EVERY searches.
   */
  private rarity(): TrigramRarity {
    if (this.sample && this.searches++ % SAMPLE_EVERY !== 0) return this.sample;
    // rows spread over the whole table (the newest alone share too much, e.g. consecutive device numbers)
    const span = this.prepared('SELECT MIN(rowid) AS lo, MAX(rowid) AS hi FROM certificates').get() as { lo: number | null; hi: number | null };
    const ids = sampleKeys(span.lo ?? 0, span.hi ?? 0, SAMPLE_ROWS);
    const rows = this.prepared('SELECT serial, subject, sans FROM certificates WHERE rowid IN (SELECT value FROM json_each(@ids))')
      .all({ ids: JSON.stringify(ids) }) as Array<{ serial: string; subject: string; sans: string }>;
    this.searches = 1;
    return (this.sample = sampleRarity(rows.map((r) => [r.serial, r.subject, r.sans])));
  }

  searchCertificates(search: CertificateSearch, now: Date): Page<CertificateRecord> {
    const order = search.order === 'expiry' ? 'expiry' : 'issued';
    const text = [search.q, search.subject, search.san, search.serial].some((t) => t !== undefined && t.length >= 3);
    const { sql: where, params } = certificateWhere(search, iso(now), text ? this.rarity() : undefined);
    const limit = page(search.limit, DEFAULT_LIMIT, 'limit');
    const cursor = search.after !== undefined ? decodeCursor(search.after, order) : undefined;
    const offset = cursor ? 0 : page(search.offset, 0, 'offset');
    const cap = search.countLimit === undefined ? undefined : page(search.countLimit, 0, 'countLimit');
    if (text) {
      const onePass = this.textSearch(where, params, order, cursor, offset, limit, cap);
      if (onePass) return onePass;
    }
    const pageParams: Params = { ...params, limit, offset };
    const pageWhere = cursor ? (where ? `${where} AND ${afterCursor(cursor, pageParams)}` : ` WHERE ${afterCursor(cursor, pageParams)}`) : where;
    const orderBy = order === 'expiry' ? 'not_after ASC, serial ASC' : 'created_at DESC, rowid DESC';
    // The page's rowids from the index alone, then only its rows read (a sort would carry whole rows).
    const rows = this.prepared(`SELECT rowid AS _rowid, * FROM certificates WHERE rowid IN
      (SELECT rowid FROM certificates${pageWhere} ORDER BY ${orderBy} LIMIT @limit OFFSET @offset) ORDER BY ${orderBy}`).all(pageParams) as Row[];
    let total: number;
    let lowerBound = false;
    if (cap !== undefined) {
      // `valid` ones are the newest of a (profile and) status: counted from that end the bound comes soonest
      const from = search.status === 'valid' && !(search.notAfterFrom && search.notAfterTo) ? ' ORDER BY created_at DESC' : '';
      const n = (this.prepared(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM certificates${where}${from} LIMIT @cap)`).get({ ...params, cap: cap + 1 }) as { n: number }).n;
      total = Math.min(n, cap);
      lowerBound = n > cap;
    } else {
      total = (this.prepared(`SELECT COUNT(*) AS n FROM certificates${where}`).get(params) as { n: number }).n;
    }
    return certificatePage(rows, total, lowerBound, order, limit);
  }

  /**
   * A text search in one pass over its matches (the trigram index's candidates checked with LIKE):
   * their sort keys give the count and the page, whose rows are then read by rowid. Undefined when
   * more match than the count limit (the page then comes from an ordered query).
   */
  private textSearch(where: string, params: Params, order: 'issued' | 'expiry', cursor: CertificateCursor | undefined, offset: number, limit: number, cap: number | undefined): Page<CertificateRecord> | undefined {
    const keys = this.prepared(`SELECT rowid AS r, created_at AS c, not_after AS n, serial AS s FROM certificates${where}${cap === undefined ? '' : ' LIMIT @cap'}`)
      .all(cap === undefined ? params : { ...params, cap: cap + 1 }) as Array<{ r: number; c: string; n: string; s: string }>;
    if (cap !== undefined && keys.length > cap) return undefined;
    if (order === 'issued') keys.sort((x, y) => (x.c < y.c ? 1 : x.c > y.c ? -1 : y.r - x.r));
    else keys.sort((x, y) => (x.n < y.n ? -1 : x.n > y.n ? 1 : x.s < y.s ? -1 : x.s > y.s ? 1 : 0));
    const after = !cursor ? keys : keys.filter((k) => (cursor.order === 'issued'
      ? k.c < cursor.createdAt || (k.c === cursor.createdAt && k.r < cursor.rowid)
      : k.n > cursor.notAfter || (k.n === cursor.notAfter && k.s > cursor.serial)));
    const wanted = after.slice(offset, offset + limit).map((k) => k.r);
    const byRowid = new Map((this.prepared(`SELECT rowid AS _rowid, * FROM certificates WHERE rowid IN (SELECT value FROM json_each(@ids))`)
      .all({ ids: JSON.stringify(wanted) }) as Row[]).map((r) => [r._rowid, r]));
    const rows = wanted.map((r) => byRowid.get(r)).filter((r): r is Row => r !== undefined);
    return certificatePage(rows, keys.length, false, order, limit);
  }

  /**
   * Valid and revoked from the counters kept by triggers (certificate_totals); expired (not
   * revoked, past notAfter at `now`) counted over the (status, not_after) index; renewed (still
   * valid, with a successor) over the partial index certificates_renewed_away.
   */
  countCertificates(now: Date): CertificateCounts {
    const row = this.prepared(`SELECT
        COALESCE((SELECT n FROM certificate_totals WHERE status = 'valid'), 0) AS unrevoked,
        COALESCE((SELECT n FROM certificate_totals WHERE status = 'revoked'), 0) AS revoked,
        (SELECT COUNT(*) FROM certificates WHERE status = 'valid' AND not_after < @now) AS expired,
        (SELECT COUNT(*) FROM certificates WHERE status = 'valid' AND renewed_by IS NOT NULL AND not_after >= @now) AS renewed`)
      .get({ now: iso(now) }) as { unrevoked: number; revoked: number; expired: number; renewed: number };
    return { valid: row.unrevoked - row.expired - row.renewed, renewed: row.renewed, revoked: row.revoked, expired: row.expired };
  }

  /**
   * Whole UTC days from the per-day counters (certificates_per_day); the first day, when `since`
   * is not its midnight, counted exactly over the created_at index.
   */
  issuedPerDay(since: Date): DayCount[] {
    const firstDay = iso(since).slice(0, 10);
    const midnight = new Date(`${firstDay}T00:00:00.000Z`);
    const nextDay = new Date(midnight.getTime() + DAY_MS);
    const days = this.prepared(`SELECT day, n AS count FROM certificates_per_day WHERE day >= @from AND n > 0 ORDER BY day`)
      .all({ from: since.getTime() === midnight.getTime() ? firstDay : iso(nextDay).slice(0, 10) }) as DayCount[];
    if (since.getTime() === midnight.getTime()) return days;
    const first = (this.prepared(`SELECT COUNT(*) AS n FROM certificates WHERE created_at >= @since AND created_at < @next`)
      .get({ since: iso(since), next: iso(nextDay) }) as { n: number }).n;
    return first > 0 ? [{ day: firstDay, count: first }, ...days] : days;
  }

  listPendingRequests(filter: PendingFilter): PendingRequest[] {
    const { sql: where, params } = pendingWhere(filter);
    const paging = { limit: page(filter.limit, DEFAULT_LIMIT, 'limit'), offset: page(filter.offset, 0, 'offset') };
    const sql = `SELECT * FROM pending_requests${where} ORDER BY id DESC LIMIT @limit OFFSET @offset`;
    return (this.prepared(sql).all({ ...params, ...paging }) as PendingRow[]).map(toPending);
  }

  countPendingRequests(filter: PendingFilter): number {
    const { sql: where, params } = pendingWhere(filter);
    return (this.prepared(`SELECT COUNT(*) AS n FROM pending_requests${where}`).get(params) as { n: number }).n;
  }

  listAudit(filter: AuditFilter): AuditEvent[] {
    const { sql: where, params } = auditWhere(filter);
    const paging = { limit: page(filter.limit, DEFAULT_LIMIT, 'limit'), offset: page(filter.offset, 0, 'offset') };
    const sql = `SELECT * FROM audit_events${where} ORDER BY at DESC, id DESC LIMIT @limit OFFSET @offset`;
    return (this.prepared(sql).all({ ...params, ...paging }) as AuditRow[]).map(toAudit);
  }

  countAudit(filter: AuditFilter): number {
    const { sql: where, params } = auditWhere(filter);
    return (this.prepared(`SELECT COUNT(*) AS n FROM audit_events${where}`).get(params) as { n: number }).n;
  }
}

function certificatePage(rows: Row[], total: number, lowerBound: boolean, order: 'issued' | 'expiry', limit: number): Page<CertificateRecord> {
  const result: Page<CertificateRecord> = { items: rows.map(toCertificate), total };
  if (lowerBound) result.totalIsLowerBound = true;
  const last = rows[rows.length - 1];
  if (last && rows.length === limit) {
    result.next = encodeCursor(order === 'expiry'
      ? { order, notAfter: last.not_after, serial: last.serial }
      : { order, createdAt: last.created_at, rowid: last._rowid });
  }
  return result;
}

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** A reader thread's answer back in the Store's types: the binary fields as Buffers again. */
export function reviveReads<N extends ReadName>(name: N, value: ReturnType<ReadCalls[N]>): ReturnType<ReadCalls[N]> {
  const cert = (c: CertificateRecord): CertificateRecord => ({ ...c, der: asBuffer(c.der) });
  switch (name) {
    case 'listCertificates':
      return (value as CertificateRecord[]).map(cert) as ReturnType<ReadCalls[N]>;
    case 'searchCertificates': {
      const p = value as Page<CertificateRecord>;
      return { ...p, items: p.items.map(cert) } as ReturnType<ReadCalls[N]>;
    }
    case 'listPendingRequests':
      return (value as PendingRequest[]).map((r) => ({ ...r, csr: asBuffer(r.csr) })) as ReturnType<ReadCalls[N]>;
    default:
      return value;
  }
}

/**
 * The Web RA's reads of the PostgreSQL store: certificate lists and searches, and the
 * dashboard's aggregates. They run on the pool, off the EST event loop's critical path, each
 * under the statement timeout.
 *
 * At real size (migration 'Web RA at real size'): substring search is served by pg_trgm GIN
 * indexes through ILIKE, lists walk composite B-tree indexes in their sort order, pages follow
 * keyset cursors (the same opaque cursors as the SQLite store, with `seq` in place of its rowid,
 * so the Web RA API behaves the same on both), counts are bounded on request (countLimit) and
 * the dashboard's totals and per-day counts come from counters kept by a trigger.
 */
import type pg from 'pg';
import { CERTIFICATE_COLUMNS, toCertificate, type CertificateRow } from './postgres-rows.js';
import { certificateFilterWhere, certificateWhere, type Conditions, type TextColumn, type TextSample } from './postgres-search.js';
import { pgTrigramsOf } from './pg-trigrams.js';
import { sampleRarity } from './trigram-rarity.js';
import { decodeCursor, encodeCursor, page, type CertificateCursor } from './store-paging.js';
import type { CertificateCounts, CertificateFilter, CertificateSearch, DayCount, Page } from './store.js';
import type { CertificateRecord } from '../ra/model.js';

/** Runs one statement with the store's error contract (closed store, typed errors). */
export type ReadQuery = <R extends pg.QueryResultRow>(what: string, text: string, values: unknown[]) => Promise<{ rows: R[]; rowCount: number }>;

const DEFAULT_LIMIT = 100;
const DAY_MS = 86_400_000;
/** Rows sampled for the trigram rarity, taken on the first text search and again every SAMPLE_EVERY text searches. */
const SAMPLE_ROWS = 2000;
const SAMPLE_EVERY = 1000;

type Row = CertificateRow & { seq: string };

/** The keyset condition after a cursor (row comparisons, which walk the sort's index from the cursor on). */
function afterCursor(c: Conditions, cursor: CertificateCursor): string {
  if (cursor.order === 'issued') return `(created_at, seq) < (${c.bind(cursor.createdAt)}::timestamptz, ${c.bind(cursor.rowid)}::bigint)`;
  return `(not_after, serial) > (${c.bind(cursor.notAfter)}::timestamptz, ${c.bind(cursor.serial)}::text)`;
}

export class PostgresReads {
  private sample: Promise<TextSample> | undefined;
  private searches = 0;

  constructor(private readonly query: ReadQuery, private readonly now: () => Date) {}

  /**
   * How common each trigram is among the certificates (postgres-search.ts): about SAMPLE_ROWS rows
   * from pages spread over the table (TABLESAMPLE SYSTEM reads only those pages).
   */
  private textSample(): Promise<TextSample> {
    if (this.sample && this.searches++ % SAMPLE_EVERY !== 0) return this.sample;
    this.searches = 1;
    const taking = (async () => {
      const { rows: [size] } = await this.query<{ n: number }>('searchCertificates', `SELECT reltuples::float8 AS n FROM pg_class WHERE oid = 'certificates'::regclass`, []);
      const percent = size && size.n > SAMPLE_ROWS ? (100 * SAMPLE_ROWS) / size.n : 100;
      const { rows } = await this.query<{ serial: string; subject: string; sans: string }>('searchCertificates',
        `SELECT serial, subject, sans FROM certificates TABLESAMPLE SYSTEM ($1) LIMIT ${2 * SAMPLE_ROWS}`, [percent]);
      const column = (name: TextColumn) => sampleRarity(rows.map((r) => [r[name]]), pgTrigramsOf);
      return { rarity: { subject: column('subject'), sans: column('sans'), serial: column('serial') }, rows: rows.length };
    })();
    this.sample = taking.catch((e: unknown) => {
      this.sample = undefined;
      throw e;
    });
    return this.sample;
  }

  async listCertificates(filter: CertificateFilter = {}): Promise<CertificateRecord[]> {
    const c = certificateFilterWhere(filter);
    const limit = c.bind(page(filter.limit, DEFAULT_LIMIT, 'limit'));
    const offset = c.bind(page(filter.offset, 0, 'offset'));
    const { sql, values } = c.where();
    const { rows } = await this.query<CertificateRow>('listCertificates', `SELECT ${CERTIFICATE_COLUMNS} FROM certificates${sql}
      ORDER BY created_at DESC, seq DESC LIMIT ${limit} OFFSET ${offset}`, values);
    return rows.map(toCertificate);
  }

  /**
   * A page in the search's order (after its cursor, if any) and the count of all matches,
   * bounded by countLimit when given: the count stops at countLimit + 1 rows.
   */
  async searchCertificates(search: CertificateSearch = {}): Promise<Page<CertificateRecord>> {
    const order = search.order === 'expiry' ? 'expiry' : 'issued';
    const limit = page(search.limit, DEFAULT_LIMIT, 'limit');
    const cursor = search.after !== undefined ? decodeCursor(search.after, order) : undefined;
    const offset = cursor ? 0 : page(search.offset, 0, 'offset');
    const cap = search.countLimit === undefined ? undefined : page(search.countLimit, 0, 'countLimit');
    const now = search.now ?? this.now();

    // newest first within a status alone: walk (status, created_at, seq, not_after) (postgres-search.ts)
    const statusLeads = order === 'issued' && search.status !== undefined && search.profile === undefined && search.requester === undefined;
    const text = [search.q, search.subject, search.san, search.serial].some((t) => t !== undefined && t.length >= 3);
    const sample = text ? await this.textSample() : undefined;
    const pageWhere = certificateWhere(search, now, statusLeads, sample);
    if (cursor) pageWhere.add(afterCursor(pageWhere, cursor));
    const orderBy = order === 'expiry' ? 'not_after ASC, serial ASC' : `${statusLeads ? 'status, ' : ''}created_at DESC, seq DESC`;
    const limitAt = pageWhere.bind(limit);
    const offsetAt = pageWhere.bind(offset);
    const p = pageWhere.where();

    const countWhere = certificateWhere(search, now, false, sample);
    const capAt = cap === undefined ? undefined : countWhere.bind(cap + 1);
    const w = countWhere.where();
    const countSql = capAt === undefined
      ? `SELECT COUNT(*)::int AS n FROM certificates${w.sql}`
      : `SELECT COUNT(*)::int AS n FROM (SELECT 1 FROM certificates${w.sql} LIMIT ${capAt}) AS bounded`;

    const [items, count] = await Promise.all([
      this.query<Row>('searchCertificates', `SELECT seq, ${CERTIFICATE_COLUMNS} FROM certificates${p.sql}
        ORDER BY ${orderBy} LIMIT ${limitAt} OFFSET ${offsetAt}`, p.values),
      this.query<{ n: number }>('searchCertificates', countSql, w.values),
    ]);
    const n = count.rows[0]!.n;
    const result: Page<CertificateRecord> = { items: items.rows.map(toCertificate), total: cap === undefined ? n : Math.min(n, cap) };
    if (cap !== undefined && n > cap) result.totalIsLowerBound = true;
    const last = items.rows[items.rows.length - 1];
    if (last && items.rows.length === limit) {
      result.next = encodeCursor(order === 'expiry'
        ? { order, notAfter: last.not_after.toISOString(), serial: last.serial }
        : { order, createdAt: last.created_at.toISOString(), rowid: Number(last.seq) });
    }
    return result;
  }

  /**
   * Valid and revoked from the counters (certificate_counts, kept by a trigger); expired (not
   * revoked, past notAfter at `now`) counted over the (status, not_after) index.
   */
  async countCertificates(now: Date): Promise<CertificateCounts> {
    const { rows } = await this.query<{ unrevoked: number; revoked: number; expired: number; renewed: number }>('countCertificates', `SELECT
        COALESCE((SELECT SUM(n) FROM certificate_counts WHERE status = 'valid'), 0)::int AS unrevoked,
        COALESCE((SELECT SUM(n) FROM certificate_counts WHERE status = 'revoked'), 0)::int AS revoked,
        (SELECT COUNT(*) FROM certificates WHERE status = 'valid' AND not_after < $1)::int AS expired,
        (SELECT COUNT(*) FROM certificates WHERE status = 'valid' AND renewed_by IS NOT NULL AND not_after >= $1)::int AS renewed`, [now]);
    const r = rows[0]!;
    return { valid: r.unrevoked - r.expired - r.renewed, renewed: r.renewed, revoked: r.revoked, expired: r.expired };
  }

  /**
   * Whole UTC days from the counters; the first day, when `since` is not its midnight, counted
   * exactly over the created_at index.
   */
  async issuedPerDay(since: Date): Promise<DayCount[]> {
    const firstDay = since.toISOString().slice(0, 10);
    const midnight = new Date(`${firstDay}T00:00:00.000Z`);
    const whole = since.getTime() === midnight.getTime();
    const nextDay = new Date(midnight.getTime() + DAY_MS);
    const { rows } = await this.query<DayCount>('issuedPerDay', `SELECT to_char(day, 'YYYY-MM-DD') AS day, SUM(n)::int AS count
      FROM certificate_counts WHERE day >= $1::date GROUP BY day HAVING SUM(n) > 0 ORDER BY day`,
    [whole ? firstDay : nextDay.toISOString().slice(0, 10)]);
    if (whole) return rows;
    const first = await this.query<{ n: number }>('issuedPerDay', `SELECT COUNT(*)::int AS n FROM certificates
      WHERE created_at >= $1 AND created_at < $2`, [since, nextDay]);
    const n = first.rows[0]!.n;
    return n > 0 ? [{ day: firstDay, count: n }, ...rows] : rows;
  }
}

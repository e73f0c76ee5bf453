/**
 * WHERE clauses of the PostgreSQL store's searches, built from code-chosen column names with
 * every value bound as a positional parameter. Substrings use ILIKE with the input's wildcards
 * escaped (the default escape character is the backslash); the pg_trgm GIN indexes on subject,
 * sans and serial (migration 'Web RA at real size') serve these predicates.
 *
 * A text whose trigrams are in most rows (a fleet's shared domain name) makes the index read huge
 * posting lists: the index is then asked for the text's rarest trigrams only and the whole text
 * is checked on the rows found, through `(column || '')`, which the index does not serve. Measured
 * at 1,000,000 certificates (q=site-N.example): the index part from ~135-275 ms to ~9 ms. pg_trgm
 * drops punctuation, so in sans `site-125.` and an IP octet `.125.` look alike to the index: the
 * candidates it leaves there (~15,000 rows) still cost their heap reads.
 */
import { likePattern, serialText } from './sqlite-search.js';
import { pgPatternTrigrams } from './pg-trigrams.js';
import { rarestFirst, type TrigramRarity } from './trigram-rarity.js';
import type { AuditFilter, CertificateFilter, CertificateSearch, PendingFilter } from './store.js';

export interface Where {
  sql: string;
  values: unknown[];
}

export class Conditions {
  readonly parts: string[] = [];
  readonly values: unknown[] = [];

  /** The placeholder of a new parameter holding `value`. */
  bind(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }

  add(sql: string): void {
    this.parts.push(sql);
  }

  contains(column: string, text: string): string {
    return `${column} ILIKE ${this.bind(likePattern(text))}`;
  }

  /** `contains`, through the text's rarest trigrams when some of its trigrams are common (see the top of the file). */
  substring(column: TextColumn, text: string, sample: TextSample | undefined): string {
    const picked = sample && rarePieces(text, sample.rarity[column], sample.rows);
    if (!picked || picked.length === 0) return this.contains(column, text);
    const rare = picked.map((t) => `${column} ILIKE ${this.bind(likePattern(t))}`);
    return `(${rare.join(' AND ')} AND (${column} || '') ILIKE ${this.bind(likePattern(text))})`;
  }

  where(): Where {
    return { sql: this.parts.length ? ` WHERE ${this.parts.join(' AND ')}` : '', values: this.values };
  }
}

export type TextColumn = 'subject' | 'sans' | 'serial';

/**
 * The trigram rarity in each text column over a sample of `rows` certificates (trigram-rarity.ts):
 * each column has its own index, and a trigram rare in one can be common in another (the octets
 * of IP addresses are in sans alone).
 */
export interface TextSample {
  rarity: Record<TextColumn, TrigramRarity>;
  rows: number;
}

/** How many of a text's rarest trigrams the index is asked for. */
const PICKED_TRIGRAMS = 2;
/** A trigram in more than this share of the sample makes a text common enough to search by its rarest trigrams. */
const COMMON_SHARE = 0.05;

/**
 * The pieces of `text` whose patterns carry its rarest pg_trgm trigrams in a column, when some of
 * its trigrams are common there and the rarest is not (else undefined: the whole text is asked
 * for, all of its trigrams narrowing together).
 */
function rarePieces(text: string, rarity: TrigramRarity, rows: number): string[] | undefined {
  if (rows === 0 || !/^[\x20-\x7e]*$/.test(text)) return undefined;
  const common = (t: string) => rarity(t) > rows * COMMON_SHARE;
  const trigrams = pgPatternTrigrams(text);
  if (!trigrams.some((t) => common(t.trigram))) return undefined;
  const piece = new Map(trigrams.map((t) => [t.trigram, t.piece]));
  const picked = rarestFirst(trigrams.map((t) => t.trigram), rarity, PICKED_TRIGRAMS);
  if (picked.length === 0 || common(picked[0]!)) return undefined;
  return [...new Set(picked.map((t) => piece.get(t)!))];
}

/**
 * `statusLeads`: the status is written `status = ANY('{…}')`, which the planner does not fold into a
 * constant, so a page ordered by (status, created_at DESC, seq DESC) can only come from an index
 * that starts with status. Without it the planner may walk the whole newest-first index and filter,
 * expecting matches to be spread evenly: they are not for `expired` (the newest are never expired),
 * measured at 1,000,000 certificates as ~450 ms against ~70 ms.
 */
export function certificateWhere(s: CertificateSearch, now: Date, statusLeads = false, sample?: TextSample): Conditions {
  const c = new Conditions();
  const status = (value: 'valid' | 'revoked') => (statusLeads ? `status = ANY('{${value}}'::text[])` : `status = '${value}'`);
  if (s.q !== undefined && s.q !== '') {
    const serial = serialText(s.q);
    const any = [c.substring('subject', s.q, sample), c.substring('sans', s.q, sample)];
    if (serial !== '') any.push(c.substring('serial', serial, sample));
    c.add(`(${any.join(' OR ')})`);
  }
  if (s.subject) c.add(c.substring('subject', s.subject, sample));
  if (s.san) c.add(c.substring('sans', s.san, sample));
  if (s.serial && serialText(s.serial)) c.add(c.substring('serial', serialText(s.serial), sample));
  if (s.profile !== undefined) c.add(`profile = ${c.bind(s.profile)}`);
  if (s.requester !== undefined) c.add(`requester = ${c.bind(s.requester)}`);
  switch (s.status) {
    case undefined:
      break;
    case 'revoked':
      c.add(status('revoked'));
      break;
    case 'valid':
      c.add(`${status('valid')} AND not_after >= ${c.bind(now)}`);
      break;
    case 'expired':
      c.add(`${status('valid')} AND not_after < ${c.bind(now)}`);
      break;
  }
  if (s.notAfterFrom) c.add(`not_after >= ${c.bind(s.notAfterFrom)}`);
  if (s.notAfterTo) c.add(`not_after <= ${c.bind(s.notAfterTo)}`);
  return c;
}

export function certificateFilterWhere(f: CertificateFilter): Conditions {
  const c = new Conditions();
  if (f.profile !== undefined) c.add(`profile = ${c.bind(f.profile)}`);
  if (f.status !== undefined) c.add(`status = ${c.bind(f.status)}`);
  return c;
}

export function auditWhere(f: AuditFilter): Conditions {
  const c = new Conditions();
  if (f.actor !== undefined) c.add(`actor = ${c.bind(f.actor)}`);
  if (f.action !== undefined) c.add(`action = ${c.bind(f.action)}`);
  if (f.profile !== undefined) c.add(`profile = ${c.bind(f.profile)}`);
  if (f.from) c.add(`at >= ${c.bind(f.from)}`);
  if (f.to) c.add(`at < ${c.bind(f.to)}`);
  if (f.before) c.add(`(at, id) < (${c.bind(f.before.at)}, ${c.bind(f.before.id)})`);
  return c;
}

export function pendingWhere(f: PendingFilter): Conditions {
  const c = new Conditions();
  if (f.status !== undefined) c.add(`status = ${c.bind(f.status)}`);
  if (f.profile !== undefined) c.add(`profile = ${c.bind(f.profile)}`);
  if (f.requester !== undefined) c.add(`requester = ${c.bind(f.requester)}`);
  if (f.expiresAfter !== undefined) c.add(`expires_at > ${c.bind(f.expiresAfter)}`);
  return c;
}

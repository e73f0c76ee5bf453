/**
 * WHERE clauses of the PostgreSQL store's searches, built from code-chosen column names with
 * every value bound as a positional parameter. Substrings use ILIKE with the input's wildcards
 * escaped (the default escape character is the backslash); the pg_trgm GIN indexes on subject,
 * sans and serial (migration 'Web RA at real size') serve these predicates.
 *
 * A text whose trigrams are in most rows (a fleet's shared domain name) makes the index read huge
 * posting lists: the index is then asked for the text's rarest trigrams only and the whole text
 * is checked on the rows found, through `(column || '')`, which the index does not serve
 * (measured at 1,000,000 certificates: ~290 ms against ~12 ms).
 */
import { likePattern, serialText } from './sqlite-search.js';
import { rarestTrigrams, trigramsOf, type TrigramRarity } from './trigram-rarity.js';
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
  substring(column: string, text: string, sample: TextSample | undefined): string {
    const picked = sample && commonIn(text, sample) ? rarestTrigrams(text, sample.rarity, PICKED_TRIGRAMS, pgTrgmFinds) : undefined;
    if (!picked || picked.length === 0) return this.contains(column, text);
    const rare = picked.map((t) => `${column} ILIKE ${this.bind(likePattern(t))}`);
    return `(${rare.join(' AND ')} AND (${column} || '') ILIKE ${this.bind(likePattern(text))})`;
  }

  where(): Where {
    return { sql: this.parts.length ? ` WHERE ${this.parts.join(' AND ')}` : '', values: this.values };
  }
}

/** The trigram rarity over a sample of `rows` certificates (trigram-rarity.ts). */
export interface TextSample {
  rarity: TrigramRarity;
  rows: number;
}

/** How many of a text's rarest trigrams the index is asked for. */
const PICKED_TRIGRAMS = 2;
/** A trigram in more than this share of the sample makes a text common enough to search by its rarest trigrams. */
const COMMON_SHARE = 0.05;

function commonIn(text: string, sample: TextSample): boolean {
  const limit = sample.rows * COMMON_SHARE;
  return sample.rows > 0 && (trigramsOf(text)?.some((t) => sample.rarity(t) > limit) ?? false);
}

/**
 * Whether pg_trgm takes a trigram from `%piece%`: it splits the pattern into words (runs of
 * letters and digits), padding a word with two blanks before and one after where the piece
 * itself ends it (not where the wildcard does); a word yields trigrams when that makes three
 * characters. A piece without one would make the index scan all of itself.
 */
export function pgTrgmFinds(piece: string): boolean {
  for (const m of piece.matchAll(/[a-z0-9]+/gi)) {
    const before = m.index! > 0 ? 2 : 0;
    const after = m.index! + m[0].length < piece.length ? 1 : 0;
    if (m[0].length + before + after >= 3) return true;
  }
  return false;
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

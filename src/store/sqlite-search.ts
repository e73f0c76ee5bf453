/**
 * WHERE clauses of the store's searches, built from code-chosen column names with every value
 * bound as a parameter. Portable SQL (LOWER, LIKE … ESCAPE, SUBSTR on ISO text) where it can be;
 * substring search goes through SQLite's FTS5 trigram index (PostgreSQL: pg_trgm).
 */
import type { Params } from './sqlite-rows.js';
import { StoreQueryError, type AuditFilter, type CertificateSearch, type PendingFilter } from './store.js';

export interface Where {
  sql: string;
  params: Params;
}

/** `%text%` for LIKE, with the wildcards of the text escaped (ESCAPE '\'). */
export function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

class Conditions {
  readonly parts: string[] = [];
  readonly params: Params = {};
  private n = 0;

  bind(value: unknown): string {
    const name = `p${this.n++}`;
    this.params[name] = value;
    return `@${name}`;
  }

  add(sql: string): void {
    this.parts.push(sql);
  }

  contains(column: string, text: string): string {
    return `LOWER(${column}) LIKE ${this.bind(likePattern(text))} ESCAPE '\\'`;
  }

  where(): Where {
    return { sql: this.parts.length ? ` WHERE ${this.parts.join(' AND ')}` : '', params: this.params };
  }
}

/** Serial search text in the stored form: lower-case hex, colons and spaces dropped. */
export function serialText(text: string): string {
  return text.toLowerCase().replace(/[\s:]/g, '');
}

/** An FTS5 string: the text in double quotes, its double quotes doubled (every other character is literal). */
function ftsString(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

/**
 * The trigram index (certificates_fts) finds substrings of three characters or more; a shorter
 * text falls back to a LIKE over the rows the other conditions leave.
 */
const TRIGRAM = 3;

/**
 * The WHERE clause of a certificate search. Substrings go through the trigram index of serial,
 * subject and SANs (one MATCH, its parts ANDed); shorter texts through LIKE.
 */
export function certificateWhere(s: CertificateSearch, now: string): Where {
  const c = new Conditions();
  const match: string[] = [];
  const substring = (columns: Array<['serial' | 'subject' | 'sans', string]>): void => {
    const usable = columns.filter(([, text]) => text !== '');
    if (usable.length === 0) return;
    if (usable.every(([, text]) => [...text].length >= TRIGRAM)) {
      match.push(`(${usable.map(([column, text]) => `${column} : ${ftsString(text)}`).join(' OR ')})`);
    } else {
      c.add(`(${usable.map(([column, text]) => c.contains(column, text)).join(' OR ')})`);
    }
  };
  if (s.q !== undefined && s.q !== '') substring([['subject', s.q], ['sans', s.q], ['serial', serialText(s.q)]]);
  if (s.subject) substring([['subject', s.subject]]);
  if (s.san) substring([['sans', s.san]]);
  if (s.serial) substring([['serial', serialText(s.serial)]]);
  if (match.length) c.add(`rowid IN (SELECT rowid FROM certificates_fts WHERE certificates_fts MATCH ${c.bind(match.join(' AND '))})`);
  if (s.profile !== undefined) c.add(`profile = ${c.bind(s.profile)}`);
  switch (s.status) {
    case undefined:
      break;
    case 'revoked':
      c.add(`status = 'revoked'`);
      break;
    case 'valid':
      c.add(`status = 'valid' AND not_after >= ${c.bind(now)}`);
      break;
    case 'expired':
      c.add(`status = 'valid' AND not_after < ${c.bind(now)}`);
      break;
  }
  if (s.notAfterFrom) c.add(`not_after >= ${c.bind(s.notAfterFrom.toISOString())}`);
  if (s.notAfterTo) c.add(`not_after <= ${c.bind(s.notAfterTo.toISOString())}`);
  return c.where();
}

/** Where a page of a certificate search ended, in its order: newest first (created_at, rowid) or soonest expiry (not_after, serial). */
export type CertificateCursor = { order: 'issued'; createdAt: string; rowid: number } | { order: 'expiry'; notAfter: string; serial: string };

export function encodeCursor(c: CertificateCursor): string {
  const parts = c.order === 'issued' ? ['i', c.createdAt, String(c.rowid)] : ['e', c.notAfter, c.serial];
  return Buffer.from(parts.join('|'), 'utf8').toString('base64url');
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The cursor, or StoreQueryError when it is not one this store made for this order. */
export function decodeCursor(text: string, order: 'issued' | 'expiry'): CertificateCursor {
  const parts = /^[A-Za-z0-9_-]{1,200}$/.test(text) ? Buffer.from(text, 'base64url').toString('utf8').split('|') : [];
  const [kind, at, key] = parts;
  if (parts.length === 3 && ISO.test(at!)) {
    if (order === 'issued' && kind === 'i' && /^\d{1,16}$/.test(key!)) return { order, createdAt: at!, rowid: Number(key) };
    if (order === 'expiry' && kind === 'e' && /^[0-9a-f]{1,64}$/.test(key!)) return { order, notAfter: at!, serial: key! };
  }
  throw new StoreQueryError(`"after" is not a cursor of this search (${order === 'issued' ? 'newest first' : 'soonest expiry'}); start again without it`);
}

/** The keyset condition after a cursor, as an extra AND-ed part of a WHERE. */
export function afterCursor(c: CertificateCursor, params: Params): string {
  if (c.order === 'issued') {
    Object.assign(params, { after_at: c.createdAt, after_key: c.rowid });
    return '(created_at < @after_at OR (created_at = @after_at AND rowid < @after_key))';
  }
  Object.assign(params, { after_at: c.notAfter, after_key: c.serial });
  return '(not_after > @after_at OR (not_after = @after_at AND serial > @after_key))';
}

export function auditWhere(f: AuditFilter): Where {
  const c = new Conditions();
  if (f.actor !== undefined) c.add(`actor = ${c.bind(f.actor)}`);
  if (f.action !== undefined) c.add(`action = ${c.bind(f.action)}`);
  if (f.profile !== undefined) c.add(`profile = ${c.bind(f.profile)}`);
  if (f.from) c.add(`at >= ${c.bind(f.from.toISOString())}`);
  if (f.to) c.add(`at < ${c.bind(f.to.toISOString())}`);
  return c.where();
}

export function pendingWhere(f: PendingFilter): Where {
  const c = new Conditions();
  if (f.status !== undefined) c.add(`status = ${c.bind(f.status)}`);
  if (f.profile !== undefined) c.add(`profile = ${c.bind(f.profile)}`);
  if (f.requester !== undefined) c.add(`requester = ${c.bind(f.requester)}`);
  if (f.expiresAfter !== undefined) c.add(`expires_at > ${c.bind(f.expiresAfter.toISOString())}`);
  return c.where();
}

/**
 * ` WHERE a = @a AND b = @b` for the given filter keys that are set (column names equal the keys,
 * which come from code, never from input); their values are added to `params`.
 */
export function equalityFilter<F extends object>(filter: F, keys: ReadonlyArray<keyof F & string>, params: Params): string {
  const where: string[] = [];
  for (const k of keys) {
    if (filter[k] === undefined) continue;
    params[k] = filter[k];
    where.push(`${k} = @${k}`);
  }
  return where.length ? ` WHERE ${where.join(' AND ')}` : '';
}


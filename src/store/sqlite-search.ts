/**
 * WHERE clauses of the store's searches, built from code-chosen column names with every value
 * bound as a parameter. Portable SQL (LOWER, LIKE … ESCAPE, SUBSTR on ISO text) so the
 * PostgreSQL store can share the shapes.
 */
import type { Params } from './sqlite-rows.js';
import type { AuditFilter, CertificateSearch, PendingFilter } from './store.js';

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

export function certificateWhere(s: CertificateSearch, now: string): Where {
  const c = new Conditions();
  if (s.q !== undefined && s.q !== '') {
    const serial = serialText(s.q);
    const any = [c.contains('subject', s.q), c.contains('sans', s.q)];
    if (serial !== '') any.push(c.contains('serial', serial));
    c.add(`(${any.join(' OR ')})`);
  }
  if (s.subject) c.add(c.contains('subject', s.subject));
  if (s.san) c.add(c.contains('sans', s.san));
  if (s.serial && serialText(s.serial)) c.add(c.contains('serial', serialText(s.serial)));
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


/**
 * Paging that every store shares, so the Web RA API pages the same way on each: limit/offset
 * checks, and the opaque keyset cursor of a certificate search (the store's insertion order key:
 * SQLite's rowid, PostgreSQL's seq).
 */
import { StoreQueryError } from './store.js';

/** A limit or offset as given, or `fallback`; RangeError for anything but a non-negative integer. */
export function page(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  return value;
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


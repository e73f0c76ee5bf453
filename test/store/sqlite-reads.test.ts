/**
 * The SQLite store's Web RA reads at the schema level: the real-size migration on a database that
 * already holds certificates (trigram index and counters backfilled), the reader thread's time
 * limit, and reads on an in-memory database (no reader thread).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite-migrations.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';
import { StoreTimeoutError } from '../../src/store/store.js';
import { newCertificate, newEvent } from './store-contract.js';

const DAY = 86_400_000;

describe('SqliteStore Web RA reads (SQLite specifics)', () => {
  let dir: string;
  const open: SqliteStore[] = [];
  const openStore = (file: string, options?: Parameters<typeof openSqliteStore>[1]) => {
    const s = openSqliteStore(file, options);
    open.push(s);
    return s;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'estuary-reads-'));
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('backfills the trigram index and the counters when the migration meets certificates already stored', async () => {
    const file = join(dir, 'estuary.db');
    const before = SQLITE_MIGRATIONS.findIndex((m) => m.name.startsWith('Web RA at real size'));
    expect(before).toBeGreaterThan(0);
    const db = new Database(file);
    for (const m of SQLITE_MIGRATIONS.slice(0, before)) db.exec(m.sql);
    db.pragma(`user_version = ${before}`);
    const insert = db.prepare(`INSERT INTO certificates (serial, profile, ca, subject, sans, not_before, not_after, der, requester, renews, status,
      revoked_at, revocation_reason, created_at) VALUES (?, ?, 'default', ?, ?, ?, ?, X'3000', 'est@example.com', NULL, ?, ?, ?, ?)`);
    const now = new Date('2026-06-15T12:00:00.000Z');
    const rows = [
      ['a1b2c3d4e5', 'iot', 'CN=pump-0001.site-9.example.com', '["DNS:pump-0001.site-9.example.com","IP:10.9.0.1"]', now.getTime() + 30 * DAY, 'valid', '2026-06-14T08:00:00.000Z'],
      ['0f0e0d0c0b', 'iot', 'CN=pump-0002.site-9.example.com', '["DNS:pump-0002.site-9.example.com"]', now.getTime() - DAY, 'valid', '2026-06-14T09:00:00.000Z'],
      ['77aa88bb99', 'web', 'CN=portal.example.com', '["DNS:portal.example.com"]', now.getTime() + 300 * DAY, 'revoked', '2026-06-15T10:00:00.000Z'],
    ] as const;
    for (const [serial, profile, subject, sans, notAfter, status, created] of rows) {
      insert.run(serial, profile, subject, sans, created, new Date(notAfter).toISOString(), status, status === 'revoked' ? created : null, status === 'revoked' ? 'superseded' : null, created);
    }
    db.close();

    const store = openStore(file);
    const serials = async (s: Parameters<SqliteStore['searchCertificates']>[0]) => (await store.searchCertificates(s)).items.map((c) => c.serial);
    expect(await serials({ q: 'site-9.example' })).toEqual(['0f0e0d0c0b', 'a1b2c3d4e5']);
    expect(await serials({ san: '10.9.0' })).toEqual(['a1b2c3d4e5']);
    expect(await serials({ serial: '8BB9' })).toEqual(['77aa88bb99']);
    expect(await store.countCertificates(now)).toEqual({ valid: 1, renewed: 0, revoked: 1, expired: 1 });
    expect(await store.issuedPerDay(new Date('2026-06-14T00:00:00.000Z'))).toEqual([{ day: '2026-06-14', count: 2 }, { day: '2026-06-15', count: 1 }]);
    expect(await store.issuedPerDay(new Date('2026-06-14T08:30:00.000Z'))).toEqual([{ day: '2026-06-14', count: 1 }, { day: '2026-06-15', count: 1 }]);
    // and kept up to date by the triggers from then on
    const later = newCertificate({ subject: 'CN=pump-0003.site-9.example.com', profile: 'iot', notAfter: new Date(now.getTime() + DAY) });
    await store.recordIssuance(later, newEvent());
    expect(await serials({ q: 'pump-0003' })).toEqual([later.serial]);
    expect((await store.countCertificates(now)).valid).toBe(2);
  });

  it('gives up on a read after its time limit with StoreTimeoutError, and the store goes on', async () => {
    const file = join(dir, 'estuary.db');
    const writer = openStore(file);
    await writer.recordIssuance(newCertificate({ subject: 'CN=limit-test' }), newEvent());
    // No reader thread starts and answers within a millisecond: the first read always runs out of time.
    const hurried = openStore(file, { readTimeLimitMs: 1 });
    const err = await hurried.searchCertificates({ q: 'limit-test' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreTimeoutError);
    expect((err as StoreTimeoutError).message).toMatch(/no answer within 1 ms; narrow the search/);
    // the EST path's reads are on the main thread, untouched by the reader
    expect((await hurried.getCertificate((await writer.searchCertificates({ q: 'limit-test' })).items[0]!.serial))?.subject).toBe('CN=limit-test');
    expect((await writer.searchCertificates({ q: 'limit-test' })).total).toBe(1);
    await hurried.close();
  });

  it('reads an in-memory database in place', async () => {
    const store = openStore(':memory:');
    await store.recordIssuance(newCertificate({ subject: 'CN=in-memory-1' }), newEvent()).catch(() => undefined);
    expect(await store.searchCertificates({ q: 'nothing-here' })).toEqual({ items: [], total: 0 });
    expect(await store.countAudit()).toBeGreaterThanOrEqual(0);
  });
});

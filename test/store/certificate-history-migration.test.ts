/**
 * The certificate history migration on a database that already holds certificates (SQLite and
 * PostgreSQL): renewed_by is back-filled with the latest successor, the revocation counters gain a
 * release count of 0, and the store works on from there.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-migrations.js';
import { openPostgresStore } from '../../src/store/postgres-store.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite-migrations.js';
import { openSqliteStore } from '../../src/store/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/home.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const BEFORE = 'Certificate history: revoked by, renewed by, hold releases, request by serial';

/** old ← first (2025-01) ← second (2025-02): the latest successor is second; other is on its own, revoked. */
const ROWS = [
  { serial: 'a1', renews: null, created: '2024-12-01T00:00:00.000Z', status: 'valid' },
  { serial: 'b2', renews: 'a1', created: '2025-01-01T00:00:00.000Z', status: 'valid' },
  { serial: 'c3', renews: 'a1', created: '2025-02-01T00:00:00.000Z', status: 'valid' },
  { serial: 'd4', renews: null, created: '2025-02-02T00:00:00.000Z', status: 'revoked' },
];

async function expectMigrated(store: Store): Promise<void> {
  expect((await store.getCertificate('a1'))?.renewedBy).toBe('c3');
  expect((await store.getCertificate('b2'))?.renewedBy).toBeNull();
  expect(await store.getCertificate('d4')).toMatchObject({ status: 'revoked', revokedBy: null, renewedBy: null });
  expect(await store.revocationSummary('default')).toMatchObject({ count: 1, released: 0 });
  // a1 is renewed (still valid until 2030): counted apart from valid
  expect(await store.countCertificates(new Date('2026-01-01T00:00:00Z'))).toEqual({ valid: 2, renewed: 1, revoked: 1, expired: 0 });
  await store.close();
}

describe('certificate history migration on existing data', () => {
  it('SQLite', async () => {
    const path = join(tempDir(), 'history.db');
    const db = new Database(path);
    const upTo = SQLITE_MIGRATIONS.findIndex((m) => m.name === BEFORE);
    expect(upTo).toBeGreaterThan(0);
    db.transaction(() => {
      for (const m of SQLITE_MIGRATIONS.slice(0, upTo)) db.exec(m.sql);
      db.pragma(`user_version = ${upTo}`);
    })();
    const insert = db.prepare(`INSERT INTO certificates (serial, profile, ca, subject, sans, not_before, not_after, der, requester, renews, status,
      revoked_at, revocation_reason, created_at) VALUES (@serial, 'default', 'default', 'CN=x', '[]', @created, '2030-01-01T00:00:00.000Z', x'3000', 'r',
      @renews, @status, @revokedAt, @reason, @created)`);
    for (const r of ROWS) insert.run({ ...r, revokedAt: r.status === 'revoked' ? r.created : null, reason: r.status === 'revoked' ? 'keyCompromise' : null });
    db.close();
    await expectMigrated(openSqliteStore(path));
  });

  let database: TestDatabase | undefined;
  afterAll(async () => {
    await database?.drop();
  });

  it('PostgreSQL', async () => {
    database = await createTestDatabase();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const upTo = POSTGRES_MIGRATIONS.findIndex((m) => m.name === BEFORE);
      expect(upTo).toBeGreaterThan(0);
      await client.query(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (let v = 1; v <= upTo; v++) {
        await client.query(POSTGRES_MIGRATIONS[v - 1]!.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [v, POSTGRES_MIGRATIONS[v - 1]!.name]);
      }
      for (const r of ROWS) {
        await client.query(`INSERT INTO certificates (serial, profile, ca, subject, sans, not_before, not_after, der, requester, renews, status,
          revoked_at, revocation_reason, created_at) VALUES ($1, 'default', 'default', 'CN=x', '[]', $2, '2030-01-01T00:00:00Z', '\\x3000', 'r', $3, $4, $5, $6, $2)`,
        [r.serial, r.created, r.renews, r.status, r.status === 'revoked' ? r.created : null, r.status === 'revoked' ? 'keyCompromise' : null]);
      }
    } finally {
      await client.end();
    }
    await expectMigrated(await openPostgresStore(database.url));
  });
});

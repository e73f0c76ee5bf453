/**
 * The PostgreSQL store's migration 'Web RA at real size': dashboard counters built from the
 * certificates already there and kept exact by concurrent writers, pg_trgm and composite indexes
 * serving the Web RA's queries, and failure notices reaching the other instances.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres-store.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-migrations.js';
import type { StoreChange } from '../../src/store/store.js';
import { createTestDatabase, withConnection, type TestDatabase } from '../helpers/postgres.js';
import { newCertificate, newEvent } from './store-contract.js';

const DAY = 86_400_000;

describe('PostgresStore at real size (migration: trigram search, composite indexes, dashboard counters)', () => {
  let db: TestDatabase;
  const opened: PostgresStore[] = [];
  const open = async () => {
    const store = await openPostgresStore(db.url);
    opened.push(store);
    return store;
  };

  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    await db.drop();
  });

  it('builds the counters from the certificates of a database migrated before it, then keeps them exact under concurrent writers', async () => {
    const index = POSTGRES_MIGRATIONS.findIndex((m) => m.name.startsWith('Web RA at real size'));
    expect(index).toBeGreaterThan(0);
    const now = new Date();
    const day = (d: Date) => d.toISOString().slice(0, 10);
    const yesterday = new Date(`${day(new Date(now.getTime() - DAY))}T12:00:00.000Z`);
    await withConnection(db.url, async (c) => {
      await c.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      for (const [i, m] of POSTGRES_MIGRATIONS.slice(0, index).entries()) {
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [i + 1, m.name]);
      }
      // three certificates of yesterday (one revoked, one expired) and one of today, written by an older Estuary
      const rows: Array<[string, Date, Date, string]> = [
        ['aa01', yesterday, new Date(now.getTime() + DAY), 'valid'],
        ['aa02', yesterday, new Date(now.getTime() + DAY), 'revoked'],
        ['aa03', yesterday, new Date(now.getTime() - DAY), 'valid'],
        ['aa04', now, new Date(now.getTime() + DAY), 'valid'],
      ];
      for (const [serial, created, notAfter, status] of rows) {
        await c.query(`INSERT INTO certificates (serial, profile, ca, subject, sans, not_before, not_after, der, requester, status, revoked_at, created_at)
          VALUES ($1, 'old', 'default', 'CN=old', '[]', $2, $3, '\\x3000', 'old@example.com', $4, $5, $2)`,
        [serial, created, notAfter, status, status === 'revoked' ? now : null]);
      }
    });
    const [a, b] = [await open(), await open()];
    expect(await a.countCertificates(now)).toEqual({ valid: 2, renewed: 0, revoked: 1, expired: 1 });
    expect(await a.issuedPerDay(new Date(`${day(yesterday)}T00:00:00.000Z`))).toEqual([
      { day: day(yesterday), count: 3 }, { day: day(now), count: 1 },
    ]);

    // two instances, each with its own pool and group commit, issuing and revoking at once
    const issue = (s: PostgresStore) => Promise.all(Array.from({ length: 40 }, () => {
      const cert = newCertificate({ notAfter: new Date(now.getTime() + 2 * DAY) });
      return s.recordIssuance(cert, newEvent()).then(() => cert.serial);
    }));
    const [fromA, fromB] = await Promise.all([issue(a), issue(b)]);
    await Promise.all([...fromA.slice(0, 5).map((x) => b.revokeCertificate(x, 'keyCompromise', now)), ...fromB.slice(0, 5).map((x) => a.revokeCertificate(x, 'superseded', now))]);
    await a.revokeCertificate('aa03', 'superseded', now); // expired, then revoked: counted once, as revoked
    expect(await b.countCertificates(now)).toEqual({ valid: 2 + 80 - 10, renewed: 0, revoked: 1 + 10 + 1, expired: 0 });
    const perDay = await b.issuedPerDay(new Date(`${day(yesterday)}T00:00:00.000Z`));
    expect(perDay.reduce((n, d) => n + d.count, 0)).toBe(4 + 80);
    const exact = await withConnection(db.url, async (c) => (await c.query(`SELECT status, COUNT(*)::int AS n FROM certificates GROUP BY status ORDER BY status`)).rows);
    const counted = await withConnection(db.url, async (c) => (await c.query(`SELECT status, SUM(n)::int AS n FROM certificate_counts GROUP BY status ORDER BY status`)).rows);
    expect(counted).toEqual(exact);
  });

  it('serves substring and serial searches from pg_trgm indexes and the lists from composite indexes', async () => {
    await open();
    await withConnection(db.url, async (c) => {
      expect((await c.query(`SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'`)).rows).toHaveLength(1);
      await c.query(`INSERT INTO certificates (serial, profile, ca, subject, sans, not_before, not_after, der, requester, status, created_at)
        SELECT md5(i::text), 'p' || (i % 50), 'default', 'CN=sensor-' || i, '["DNS:d' || i || '.plant.example"]',
          now(), now() + i * interval '1 minute', '\\x3000', 'dev@example.com', CASE WHEN i % 10 = 0 THEN 'revoked' ELSE 'valid' END, now()
        FROM generate_series(1, 5000) AS i`);
      await c.query('VACUUM ANALYZE certificates'); // as autovacuum would: moves GIN's pending entries into the index
      await c.query('SET enable_seqscan = off'); // 50 profiles in a few thousand rows: left to itself the planner may rightly scan them
      const plan = async (sql: string, values: unknown[] = []) =>
        ((await c.query(`EXPLAIN ${sql}`, values)).rows as Array<{ 'QUERY PLAN': string }>).map((r) => r['QUERY PLAN']).join('\n');
      expect(await plan(`SELECT serial FROM certificates WHERE subject ILIKE $1`, ['%sensor%'])).toContain('certificates_subject_trgm');
      expect(await plan(`SELECT serial FROM certificates WHERE sans ILIKE $1`, ['%plant.example%'])).toContain('certificates_sans_trgm');
      expect(await plan(`SELECT serial FROM certificates WHERE serial ILIKE $1`, ['%e4b5a6%'])).toContain('certificates_serial_trgm');
      expect(await plan(`SELECT serial FROM certificates WHERE profile = 'p7' AND status = 'valid' ORDER BY created_at DESC, seq DESC LIMIT 100`))
        .toContain('certificates_profile_status_created');
      expect(await plan(`SELECT serial FROM certificates WHERE status = 'valid' ORDER BY not_after, serial LIMIT 100`)).toContain('certificates_status_not_after');
    });
  });

  it('tells the other instances of every failure counted against a key, not only of the lock', async () => {
    const [a, b] = [await open(), await open()];
    const seen: StoreChange[] = [];
    b.changes.subscribe((c) => seen.push(c));
    const limit = { maxFailures: 5, windowMs: 60_000, lockMs: 60_000 };
    expect(await a.recordFailure('acct:\u0000x', limit, new Date())).toBeUndefined();
    // NOTIFY arrives when it arrives: wait for it, bounded, without asserting how soon
    for (let i = 0; i < 250 && !seen.some((c) => c.kind === 'lock'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(seen).toContainEqual({ kind: 'lock', key: 'acct:\u0000x' });
  });
});

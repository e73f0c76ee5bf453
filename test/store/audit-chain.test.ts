/**
 * The audit chain beyond the contract cases: a database upgraded from before the chain keeps its
 * events as the chain's unchained start (both stores), and on PostgreSQL several processes
 * appending at once (group commit, issuances and plain events) still make one chain.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_AUDIT_CHAIN, SQLITE_AUDIT_CHAIN } from '../../src/store/audit-chain-migration.js';
import { verifyAuditChain } from '../../src/store/audit-chain.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-migrations.js';
import { openPostgresStore } from '../../src/store/postgres-store.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite-migrations.js';
import { openSqliteStore } from '../../src/store/sqlite-store.js';
import { createTestDatabase, withConnection, type TestDatabase } from '../helpers/postgres.js';
import { newCertificate, newEvent } from './store-contract.js';

const distStore = fileURLToPath(new URL('../../dist/store/postgres-store.js', import.meta.url));
const OLD_EVENT = `INSERT INTO audit_events (at, actor, action, profile, outcome, serial, detail) VALUES`;

describe('SQLite: upgrading a database with events from before the chain', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'estuary-chain-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves the old events unchained and starts the chain after them', async () => {
    const file = join(dir, 'old.db');
    const before = SQLITE_MIGRATIONS.indexOf(SQLITE_AUDIT_CHAIN);
    expect(before).toBeGreaterThan(0);
    const db = new Database(file);
    for (const m of SQLITE_MIGRATIONS.slice(0, before)) db.exec(m.sql);
    db.pragma(`user_version = ${before}`);
    for (let i = 0; i < 3; i++) db.prepare(`${OLD_EVENT} (?, 'cli', 'old', NULL, 'success', NULL, NULL)`).run(new Date().toISOString());
    db.close();
    const store = await openSqliteStore(file);
    try {
      await store.appendAudit(newEvent({ action: 'new' }));
      await store.recordIssuance(newCertificate(), newEvent({ action: 'new' }));
      const report = await verifyAuditChain(store);
      expect(report).toMatchObject({ checked: 2, unchained: 3 });
      expect(report.broken).toBeUndefined();
      expect((await store.auditChainPage(0, 10)).map((l) => l.id)).toEqual([4, 5]);
    } finally {
      await store.close();
    }
  });
});

describe('PostgreSQL audit chain', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.drop());

  it('leaves the events of a database upgraded from before the chain unchained, and starts the chain after them', async () => {
    const before = POSTGRES_MIGRATIONS.indexOf(POSTGRES_AUDIT_CHAIN);
    expect(before).toBeGreaterThan(0);
    await withConnection(db.url, async (c) => {
      await c.query(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const [i, m] of POSTGRES_MIGRATIONS.slice(0, before).entries()) {
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [i + 1, m.name]);
      }
      for (let i = 0; i < 3; i++) await c.query(`${OLD_EVENT} (now(), 'cli', 'old', NULL, 'success', NULL, NULL)`);
    });
    const store = await openPostgresStore(db.url);
    try {
      await store.appendAudit(newEvent({ action: 'new' }));
      const report = await verifyAuditChain(store);
      expect(report).toMatchObject({ checked: 1, unchained: 3 });
      expect(report.broken).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('keeps one chain while two other processes and this one append at once', async () => {
    if (!existsSync(distStore)) throw new Error(`${distStore} is missing: run npm run build first`);
    const store = await openPostgresStore(db.url, { poolSize: 4 });
    const start = (await verifyAuditChain(store)).checked;
    const n = 120;
    // each process: events alone and issuances with their event, many in flight (group commit batches)
    const script = `
      const { openPostgresStore } = await import(process.argv[1]);
      const store = await openPostgresStore(process.argv[2], { poolSize: 4 });
      const tag = process.argv[4];
      await Promise.all(Array.from({ length: Number(process.argv[3]) }, (_, i) => i % 2
        ? store.appendAudit({ actor: tag, action: 'child.event', profile: null, outcome: 'success', serial: null, detail: String(i), clientIp: '192.0.2.' + (i % 250), requestId: tag + '-' + i })
        : store.recordIssuance({ serial: tag + i.toString(16).padStart(6, '0'), profile: 'p', ca: 'default', subject: 'CN=' + tag + ' ' + i, sans: [],
            notBefore: new Date(), notAfter: new Date(), der: Buffer.alloc(300, 1), requester: tag, renews: null },
          { actor: tag, action: 'child.issue', profile: 'p', outcome: 'success', serial: null, detail: null })));
      await store.close();
    `;
    const child = (tag: string) => {
      const p = spawn(process.execPath, ['--input-type=module', '-e', script, distStore, db.url, String(n), tag], { stdio: ['ignore', 'inherit', 'inherit'] });
      return new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
    };
    const exits = [child('aa'), child('bb')];
    try {
      await Promise.all(Array.from({ length: n }, (_, i) => i % 2
        ? store.appendAudit(newEvent({ action: 'parent.event', detail: String(i) }))
        : store.recordIssuance(newCertificate(), newEvent({ action: 'parent.issue' }))));
      expect(await Promise.all(exits)).toEqual([0, 0]);
      const report = await verifyAuditChain(store);
      expect(report.broken).toBeUndefined();
      expect(report.checked - start).toBe(3 * n);
      expect(await store.countAudit()).toBe(report.checked + report.unchained);
      const links = await store.auditChainPage(start, 3 * n);
      expect(new Set(links.map((l) => l.actor))).toEqual(new Set(['aa', 'bb', 'est@estuary.local']));
    } finally {
      await store.close();
    }
  });
});

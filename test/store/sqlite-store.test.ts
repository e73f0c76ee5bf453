import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite-migrations.js';
import { auditParams, iso, profileParams } from '../../src/store/sqlite-rows.js';
import { PROFILE_LIFECYCLE_SQLITE } from '../../src/store/profile-lifecycle-migration.js';
import { COALESCE_BATCH, eventLoopBusy, SMALL_BATCH, SqliteWriter } from '../../src/store/sqlite-writer.js';
import type { WriteOp } from '../../src/store/sqlite-writer-protocol.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';
import { StoreUnavailableError } from '../../src/store/store.js';
import { type NewAuditEvent } from '../../src/ra/model.js';
import { fullProfile, newCertificate, newEvent, storeContract } from './store-contract.js';
import { sqliteChainOptions } from './store-contract-chain.js';

let contractDir: string | undefined;
const contractFile = (): string => {
  if (!contractDir) throw new Error('no store is open');
  return join(contractDir, 'estuary.db');
};
/** The child process of the crash case runs the built store (npm run build). */
const builtStore = fileURLToPath(new URL('../../dist/store/sqlite-store.js', import.meta.url));
storeContract(
  'SqliteStore',
  async () => {
    contractDir = mkdtempSync(join(tmpdir(), 'estuary-store-'));
    return openSqliteStore(contractFile());
  },
  async () => {
    if (contractDir) rmSync(contractDir, { recursive: true, force: true });
    contractDir = undefined;
  },
  {
    openAgain: async () => openSqliteStore(contractFile()),
    child: () => ({ module: builtStore, export: 'openSqliteStore', args: [contractFile()] }),
    chain: sqliteChainOptions(contractFile),
  },
);

const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * Another process (standing in for the CLI) that takes the write lock, writes an audit row,
 * holds the lock for holdMs, then commits. Resolves once it holds the lock; `done` when it exits.
 */
async function lockFromAnotherProcess(file: string, holdMs: number): Promise<{ done: Promise<number | null> }> {
  const script = `
    const Database = require(process.argv[1]);
    const db = new Database(process.argv[2], { timeout: 5000 });
    db.exec('BEGIN IMMEDIATE');
    db.prepare("INSERT INTO audit_events (at, actor, action, outcome) VALUES (?, 'cli', 'other-process', 'success')").run(new Date().toISOString());
    process.stdout.write('locked\\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.argv[3]));
    db.exec('COMMIT');
    db.close();
  `;
  const child = spawn(process.execPath, ['-e', script, betterSqlite3, file, String(holdMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    child.on('exit', (code) => reject(new Error(`lock holder exited early with ${code}`)));
  });
  return { done };
}

describe('SqliteStore (SQLite specifics)', () => {
  let dir: string;
  let file: string;
  const open: SqliteStore[] = [];
  const openStore = (options?: Parameters<typeof openSqliteStore>[1]) => {
    const s = openSqliteStore(file, options);
    open.push(s);
    return s;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'estuary-sqlite-'));
    file = join(dir, 'estuary.db');
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the database file, and its WAL files, with mode 0600', async () => {
    const store = openStore();
    await store.appendAudit(newEvent());
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(`${file}-wal`).mode & 0o777).toBe(0o600);
    expect(statSync(`${file}-shm`).mode & 0o777).toBe(0o600);
  });

  it('warns, without changing it, when an existing file is readable by others', async () => {
    writeFileSync(file, '', { mode: 0o644 });
    const warnings: string[] = [];
    openStore({ logger: { warn: (_obj, msg) => warnings.push(msg ?? '') } });
    expect(warnings.some((w) => w.includes('0600'))).toBe(true);
  });

  it('sets the schema version to the number of migrations, in WAL mode', async () => {
    const store = openStore();
    await store.close();
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('user_version', { simple: true })).toBe(SQLITE_MIGRATIONS.length);
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      raw.close();
    }
  });

  it('migration 5 rebuilds accounts for the Web RA roles and keeps every row, id and setting', async () => {
    const raw = new Database(file);
    for (const m of SQLITE_MIGRATIONS.slice(0, 4)) raw.exec(m.sql);
    raw.pragma('user_version = 4');
    const insert = raw.prepare(`INSERT INTO accounts (id, email, password_hash, role, disabled, created_at, updated_at, allowed_names)
      VALUES (?, ?, ?, ?, ?, '2025-01-01T00:00:00.000Z', '2025-01-02T00:00:00.000Z', ?)`);
    insert.run(3, 'admin@example.com', 'hash-a', 'admin', 0, '[]');
    insert.run(7, 'dev@example.com', 'hash-d', 'est', 1, '["dev-*.example.com"]');
    expect(() => insert.run(8, 'o@example.com', 'h', 'officer', 0, '[]')).toThrow(/CHECK/);
    raw.close();

    const store = openStore();
    expect(await store.getAccount('admin@example.com')).toMatchObject({ id: 3, passwordHash: 'hash-a', role: 'admin', disabled: false, allowedProfiles: [] });
    expect(await store.getAccount('dev@example.com')).toMatchObject({
      id: 7, role: 'est', disabled: true, allowedNames: ['dev-*.example.com'], createdAt: new Date('2025-01-01T00:00:00Z'), updatedAt: new Date('2025-01-02T00:00:00Z'),
    });
    const officer = await store.createAccount({ email: 'officer@example.com', passwordHash: 'h', role: 'officer' });
    expect(officer.id).toBeGreaterThan(7);
    await store.createAccount({ email: 'auditor@example.com', passwordHash: 'h', role: 'auditor' });
    await expect(store.createAccount({ email: 'x@example.com', passwordHash: 'h', role: 'root' as never })).rejects.toThrow();
    expect((await store.listAccounts()).map((a) => a.role)).toEqual(['admin', 'est', 'officer', 'auditor']);
  });

  it('refuses a database whose schema is newer than it knows', () => {
    openStore();
    const raw = new Database(file);
    raw.pragma(`user_version = ${SQLITE_MIGRATIONS.length + 1}`);
    raw.close();
    expect(() => openSqliteStore(file)).toThrow(StoreUnavailableError);
  });

  it('throws StoreUnavailableError when the file cannot be created', () => {
    expect(() => openSqliteStore(join(dir, 'missing', 'estuary.db'))).toThrow(StoreUnavailableError);
  });

  it('keeps every committed write across a reopen, including writes queued at close()', async () => {
    const first = openStore();
    const account = await first.createAccount({ email: 'a@example.com', passwordHash: 'h', role: 'admin' });
    await first.createProfile(fullProfile('iot'));
    const cert = newCertificate();
    await first.recordIssuance(cert, newEvent({ serial: cert.serial }));
    await first.revokeCertificate(cert.serial, 'superseded', new Date('2025-03-01T00:00:00Z'));
    const late = newCertificate();
    const queued = first.recordIssuance(late, newEvent({ action: 'late' }));
    await first.close();
    await queued;

    const second = openStore();
    expect(await second.getAccount('A@example.com')).toEqual(account);
    expect(await second.getProfile('iot')).toMatchObject(fullProfile('iot'));
    expect(await second.isRevoked(cert.serial)).toBe(true);
    expect(Buffer.compare((await second.getCertificate(late.serial))!.der, late.der)).toBe(0);
    expect((await second.listAudit()).map((e) => e.action)).toEqual(['late', 'simpleenroll']);
  });

  it('stores a certificate and its audit event atomically: a failing event leaves no certificate', async () => {
    const store = openStore();
    const cert = newCertificate();
    const bad = { ...newEvent(), actor: null } as unknown as NewAuditEvent; // violates NOT NULL
    const ok = newCertificate();
    const [failed, landed] = await Promise.allSettled([store.recordIssuance(cert, bad), store.recordIssuance(ok, newEvent())]);
    expect(failed.status).toBe('rejected');
    expect(landed.status).toBe('fulfilled');
    expect(await store.getCertificate(cert.serial)).toBeUndefined();
    expect(await store.getCertificate(ok.serial)).toBeDefined();
    expect(await store.listAudit()).toHaveLength(1);
  });

  it('profile lifecycle migration: a profile of the schema before it keeps its validity, now in seconds; a row with days only (an older instance\'s) reads in days', async () => {
    // the schema just before the migration, whatever the migrations after it
    const mine = SQLITE_MIGRATIONS.indexOf(PROFILE_LIFECYCLE_SQLITE);
    const db = new Database(file);
    for (const m of SQLITE_MIGRATIONS.slice(0, mine)) db.exec(m.sql);
    db.pragma(`user_version = ${mine}`);
    const old = profileParams({ ...fullProfile('old'), validitySeconds: 30 * 86_400 }, iso(new Date()));
    const columns = ['label', 'enabled', 'ca', 'auth', 'client_trust_anchors', 'validity_days', 'key_algorithms', 'key_usage', 'extended_key_usage', 'allowed_accounts',
      'csr_attrs', 'approval', 'retry_after_seconds', 'pending_ttl_hours', 'pop_linking', 'name_policy', 'device_revocation', 'renewal'];
    db.prepare(`INSERT INTO profiles (${columns.join(', ')}, created_at, updated_at) VALUES (${columns.map((c) => `@${c}`).join(', ')}, @now, @now)`)
      .run(Object.fromEntries([...columns, 'now'].map((c) => [c, old[c]])));
    db.close();
    const migrated = openStore();
    expect(await migrated.getProfile('old')).toMatchObject({ validitySeconds: 30 * 86_400, retiredAt: null });
    await migrated.updateProfile({ ...fullProfile('old'), validitySeconds: 8 * 3600 });
    const raw = new Database(file);
    // older readers see whole days, at least one
    expect(raw.prepare("SELECT validity_days, validity_seconds FROM profiles WHERE label = 'old'").get()).toEqual({ validity_days: 1, validity_seconds: 28_800 });
    raw.prepare("UPDATE profiles SET validity_seconds = NULL, validity_days = 7 WHERE label = 'old'").run();
    raw.close();
    expect((await migrated.getProfile('old'))?.validitySeconds).toBe(7 * 86_400);
  });

  it('shares one file between two open stores (server and CLI), both ways', async () => {
    const server = openStore();
    const cli = openStore();
    await cli.createAccount({ email: 'device@example.com', passwordHash: 'h', role: 'est' });
    await cli.createProfile(fullProfile('iot'));
    expect(await server.getAccount('device@example.com')).toBeDefined();
    expect((await server.getProfile('iot'))?.validitySeconds).toBe(397 * 86_400);

    const cert = newCertificate();
    await server.recordIssuance(cert, newEvent({ serial: cert.serial }));
    expect((await cli.getCertificate(cert.serial))?.subject).toBe(cert.subject);
    expect(await cli.revokeCertificate(cert.serial, 'keyCompromise', new Date())).toBe(true);
    expect(await server.isRevoked(cert.serial)).toBe(true);
    expect(await server.revokeCertificate(cert.serial, 'keyCompromise', new Date())).toBe(false);

    await cli.updateProfile({ ...fullProfile('iot'), validitySeconds: 7 * 86_400 });
    expect((await server.getProfile('iot'))?.validitySeconds).toBe(7 * 86_400);
    await Promise.all([server.appendAudit(newEvent({ actor: 'server' })), cli.appendAudit(newEvent({ actor: 'cli' }))]);
    expect((await server.listAudit({ actor: 'cli' })).length).toBe(1);
    expect((await cli.listAudit({ actor: 'server' })).length).toBe(1);
  });

  it('waits for another process holding the write lock; reads are not blocked meanwhile', async () => {
    const store = openStore();
    await store.createProfile(fullProfile('iot'));
    const holder = await lockFromAnotherProcess(file, 400);
    const readStart = Date.now();
    expect(await store.getProfile('iot')).toBeDefined();
    expect(Date.now() - readStart).toBeLessThan(200);
    const cert = newCertificate();
    await store.recordIssuance(cert, newEvent({ serial: cert.serial }));
    expect(await holder.done).toBe(0);
    expect(await store.getCertificate(cert.serial)).toBeDefined();
    expect((await store.listAudit()).map((e) => e.action).sort()).toEqual(['other-process', 'simpleenroll']);
  });

  it('rejects a whole batch with StoreUnavailableError when the lock is not released in time, then recovers', async () => {
    const warnings: string[] = [];
    const store = openStore({ busyTimeoutMs: 100, logger: { warn: (_obj, msg) => warnings.push(msg ?? '') } });
    const holder = await lockFromAnotherProcess(file, 1500);
    const results = await Promise.allSettled([
      store.recordIssuance(newCertificate(), newEvent()),
      store.appendAudit(newEvent({ action: 'a' })),
      store.recordIssuance(newCertificate(), newEvent()),
    ]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
    }
    const direct = await store.createAccount({ email: 'x@example.com', passwordHash: 'h', role: 'est' }).catch((e: unknown) => e);
    expect(direct).toBeInstanceOf(StoreUnavailableError);
    expect(warnings.some((w) => w.includes('group commit failed'))).toBe(true);
    expect(await holder.done).toBe(0);

    await store.recordIssuance(newCertificate(), newEvent({ action: 'after' }));
    expect((await store.listAudit()).map((e) => e.action).sort()).toEqual(['after', 'other-process']);
    expect(await store.listCertificates()).toHaveLength(1);
  });
});

describe('SqliteWriter group commit window', () => {
  const WINDOW_MS = 1000;
  let dir: string;
  let file: string;
  let writer: SqliteWriter;
  let busy = true;
  const op = (action: string): WriteOp => ({
    kind: 'audit', what: 'appendAudit', conflict: 'duplicate audit event', audit: auditParams(newEvent({ action }), iso(new Date())),
  });
  const timed = async (p: Promise<unknown>): Promise<number> => {
    const t0 = performance.now();
    await p;
    return performance.now() - t0;
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'estuary-writer-'));
    file = join(dir, 'estuary.db');
    await openSqliteStore(file).close(); // the schema
    busy = true;
    writer = new SqliteWriter({ path: file, busyTimeoutMs: 5000 }, undefined, { windowMs: WINDOW_MS, busy: () => busy });
  });
  afterEach(async () => {
    await writer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a lone write at once, holds a batch open only after a batch had company, and sends a full one at once', async () => {
    // Nothing suggests concurrency: a lone write is not held for the window.
    expect(await timed(writer.write(op('lone')))).toBeLessThan(WINDOW_MS / 2);
    expect(writer.stats()).toEqual({ batches: 1, writes: 1 });

    // Two writes in the same turn share a small batch: concurrency, and commits shared poorly.
    await Promise.all([writer.write(op('a')), writer.write(op('b'))]);
    expect(writer.stats()).toEqual({ batches: 2, writes: 3 });

    // Now a write waits for company: one queued 100 ms later joins its batch.
    const first = writer.write(op('c'));
    await new Promise((r) => setTimeout(r, 100));
    await Promise.all([first, writer.write(op('d'))]);
    expect(writer.stats()).toEqual({ batches: 3, writes: 5 });

    // A full batch does not wait for the window to end.
    const full = Array.from({ length: COALESCE_BATCH }, (_, i) => writer.write(op(`full-${i}`)));
    expect(await timed(Promise.all(full))).toBeLessThan(WINDOW_MS / 2);
    expect(writer.stats()).toEqual({ batches: 4, writes: 5 + COALESCE_BATCH });

    // The next lone write waits the window out; it was alone, so the one after it goes at once.
    expect(await timed(writer.write(op('waits')))).toBeGreaterThanOrEqual(WINDOW_MS - 50);
    expect(await timed(writer.write(op('prompt')))).toBeLessThan(WINDOW_MS / 2);
    expect(writer.stats()).toEqual({ batches: 6, writes: 7 + COALESCE_BATCH });
  });

  it('ends a window as soon as the event loop is idle', async () => {
    busy = false;
    await Promise.all([writer.write(op('a')), writer.write(op('b'))]);
    expect(await timed(writer.write(op('prompt')))).toBeLessThan(WINDOW_MS / 2);
    expect(writer.stats()).toEqual({ batches: 2, writes: 3 });
  });

  it('does not hold a window after a batch that was large on its own', async () => {
    await Promise.all(Array.from({ length: SMALL_BATCH }, (_, i) => writer.write(op(`large-${i}`))));
    expect(await timed(writer.write(op('prompt')))).toBeLessThan(WINDOW_MS / 2);
    expect(writer.stats()).toEqual({ batches: 2, writes: SMALL_BATCH + 1 });
  });

  it('tells a busy event loop from an idle one over at least 50 ms', async () => {
    const busyNow = eventLoopBusy();
    const spinUntil = performance.now() + 120;
    while (performance.now() < spinUntil); // the loop is blocked: fully utilised
    expect(busyNow()).toBe(true);
    await new Promise((r) => setTimeout(r, 120)); // the loop waits: idle
    expect(busyNow()).toBe(false);
  });

  it('commits a write held in the window when the writer is closed', async () => {
    await Promise.all([writer.write(op('a')), writer.write(op('b'))]);
    const held = writer.write(op('held'));
    await writer.close();
    await held;
    expect(writer.stats()).toEqual({ batches: 2, writes: 3 });
  });
});

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPostgresStore, postgresConfig, type PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres-store.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-migrations.js';
import { StoreConflictError, StoreUnavailableError, type StoreChange } from '../../src/store/store.js';
import { createTestDatabase, databaseUrl, withConnection, type TestDatabase } from '../helpers/postgres.js';
import { fullProfile, newCertificate, newEvent, storeContract } from './store-contract.js';
import { PROFILE_LIFECYCLE_POSTGRES } from '../../src/store/profile-lifecycle-migration.js';
import { PROFILE_COLUMNS, profileValues } from '../../src/store/postgres-rows.js';

const distStore = fileURLToPath(new URL('../../dist/store/postgres-store.js', import.meta.url));
let contractDb: TestDatabase | undefined;
const CHILD_APP = 'estuary-contract-child';

/** The URL the crash case's child opens: its connections carry their own application_name. */
function childUrl(url: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', CHILD_APP);
  return u.toString();
}

/** Waits until the killed child's connections are gone: each ends once its last statement ran (and committed) and it reads EOF. */
async function childGone(db: TestDatabase): Promise<void> {
  await withConnection(db.url, async (client) => {
    for (;;) {
      const { rows } = await client.query<{ n: number }>(
        'SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [db.name, CHILD_APP]);
      if (rows[0]!.n === 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  });
}
storeContract(
  'PostgresStore',
  async () => {
    contractDb = await createTestDatabase();
    return openPostgresStore(contractDb.url);
  },
  async () => {
    await contractDb?.drop();
    contractDb = undefined;
  },
  {
    openAgain: async () => openPostgresStore(contractDb!.url),
    child: () => ({ module: distStore, export: 'openPostgresStore', args: [childUrl(contractDb!.url)] }),
    settled: () => childGone(contractDb!),
    chain: {
      sql: (statement) => withConnection(contractDb!.url, async (c) => { await c.query(statement); }),
      // as before the chain's migration: no trigger
      insertUnchained: (action) => withConnection(contractDb!.url, async (c) => {
        await c.query('BEGIN');
        await c.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_chain');
        await c.query(`INSERT INTO audit_events (at, actor, action, outcome) VALUES (now(), 'old', $1, 'success')`, [action]);
        await c.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_chain');
        await c.query('COMMIT');
      }),
    },
  },
);

/** Resolves with the first change `accept` takes; rejects after `ms` (a generous bound, not a timing assertion). */
function nextChange(store: PostgresStore, accept: (c: StoreChange) => boolean, ms = 5000): Promise<StoreChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('no such change arrived'));
    }, ms);
    const off = store.changes.subscribe((c) => {
      if (!accept(c)) return;
      clearTimeout(timer);
      off();
      resolve(c);
    });
  });
}


describe('PostgresStore (PostgreSQL specifics)', () => {
  let db: TestDatabase;
  const opened: PostgresStore[] = [];
  const open = async (options?: PostgresStoreOptions) => {
    const store = await openPostgresStore(db.url, options);
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

  it('applies each migration exactly once when four instances open a fresh database at once', async () => {
    // a short statement timeout: waiting for another instance's migration is not subject to it
    const stores = await Promise.all([0, 1, 2, 3].map(() => open({ statementTimeoutMs: 100 })));
    expect(stores).toHaveLength(4);
    const rows = await withConnection(db.url, async (c) => (await c.query('SELECT version, name FROM schema_migrations ORDER BY version')).rows);
    expect(rows).toEqual(POSTGRES_MIGRATIONS.map((m, i) => ({ version: i + 1, name: m.name })));
    const [a, b] = [await open(), await open()]; // reopening an up-to-date database applies nothing
    await a.createAccount({ email: 'a@example.com', passwordHash: 'h', role: 'est' });
    expect((await b.getAccount('a@example.com'))?.email).toBe('a@example.com');
    await b.ping();
    expect(await withConnection(db.url, async (c) => (await c.query('SELECT COUNT(*)::int AS n FROM schema_migrations')).rows[0].n)).toBe(POSTGRES_MIGRATIONS.length);
  });

  it('profile lifecycle migration: a profile of the schema before it keeps its validity, now in seconds; a row with days only (an older instance\'s) reads in days', async () => {
    const mine = POSTGRES_MIGRATIONS.indexOf(PROFILE_LIFECYCLE_POSTGRES);
    await withConnection(db.url, async (c) => {
      await c.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      for (const [i, m] of POSTGRES_MIGRATIONS.slice(0, mine).entries()) {
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [i + 1, m.name]);
      }
      const v = profileValues({ ...fullProfile('old'), validitySeconds: 30 * 86_400 }).slice(0, 18);
      await c.query(`INSERT INTO profiles (${PROFILE_COLUMNS.split(',').slice(0, 18).join(',')}, created_at, updated_at)
        VALUES (${v.map((_, i) => `$${i + 1}`).join(', ')}, now(), now())`, v);
    });
    const store = await open();
    expect(await store.getProfile('old')).toMatchObject({ validitySeconds: 30 * 86_400, retiredAt: null });
    await store.updateProfile({ ...fullProfile('old'), validitySeconds: 8 * 3600 });
    const row = await withConnection(db.url, async (c) => (await c.query("SELECT validity_days, validity_seconds FROM profiles WHERE label = 'old'")).rows[0]);
    expect(row).toEqual({ validity_days: 1, validity_seconds: 28_800 });
    await withConnection(db.url, (c) => c.query("UPDATE profiles SET validity_seconds = NULL, validity_days = 7 WHERE label = 'old'"));
    expect((await store.getProfile('old'))?.validitySeconds).toBe(7 * 86_400);
  });

  it('refuses a database migrated by a newer Estuary', async () => {
    await (await open()).close();
    await withConnection(db.url, (c) => c.query(`INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')`));
    await expect(openPostgresStore(db.url)).rejects.toThrow(/schema version 999, newer than this Estuary supports/);
  });

  it('tells every other instance of each change through NOTIFY, and its own listeners once', async () => {
    const [a, b] = [await open(), await open()];
    const own: StoreChange[] = [];
    a.changes.subscribe((c) => own.push(c));
    await a.createAccount({ email: 'dev@example.com', passwordHash: 'h', role: 'est' });
    await a.createProfile({ ...(await import('./store-contract.js')).fullProfile('iot') });

    const seen = nextChange(a, (c) => c.kind === 'account' && c.email === 'dev@example.com');
    expect(await b.setAccountPassword('DEV@example.com', 'h2')).toBe(true);
    expect(await seen).toEqual({ kind: 'account', email: 'dev@example.com' });

    const cert = newCertificate();
    await b.recordIssuance(cert, newEvent());
    const revoked = nextChange(a, (c) => c.kind === 'revocation');
    await b.revokeCertificate(cert.serial, 'keyCompromise', new Date(), newEvent({ action: 'cert.revoke', serial: cert.serial }));
    expect(await revoked).toEqual({ kind: 'revocation', ca: cert.ca, serial: cert.serial });
    expect((await a.listAudit({ action: 'cert.revoke' }))[0]?.serial).toBe(cert.serial);

    const renewed = newCertificate();
    await b.recordIssuance(renewed, newEvent());
    const superseded = nextChange(a, (c) => c.kind === 'revocation' && c.serial === renewed.serial);
    await b.recordIssuance(newCertificate({ renews: renewed.serial }), newEvent(), { renewal: { supersede: { at: new Date(), event: newEvent({ action: 'cert.supersede' }) } } });
    expect(await superseded).toEqual({ kind: 'revocation', ca: renewed.ca, serial: renewed.serial });

    const profile = nextChange(a, (c) => c.kind === 'profile');
    expect(await b.updateProfile({ ...(await a.getProfile('iot'))!, validitySeconds: 7 * 86_400 })).toBe(true);
    expect(await profile).toEqual({ kind: 'profile', label: 'iot' });

    const crl = nextChange(a, (c) => c.kind === 'crl');
    const stored = { ca: 'default', kind: 'complete' as const, number: 2n ** 70n, der: Buffer.from([0x30, 0]), thisUpdate: new Date(), nextUpdate: new Date(), stamp: 's' };
    expect(await b.putCrl(stored)).toBe(true);
    expect(await crl).toEqual({ kind: 'crl', ca: 'default' });
    expect(await a.putCrl({ ...stored, number: 2n ** 70n })).toBe(false);
    expect((await a.getCrl('default', 'complete'))?.number).toBe(2n ** 70n);

    const session = nextChange(a, (c) => c.kind === 'session');
    const now = new Date();
    await b.createSession({ id: 'ab'.repeat(32), email: 'Officer@example.com', role: 'officer', csrfToken: 'c', createdAt: now, lastSeenAt: now, expiresAt: new Date(now.getTime() + 3600_000) });
    expect(await session).toEqual({ kind: 'session', id: 'ab'.repeat(32) });
    expect((await a.getSession('ab'.repeat(32)))?.email).toBe('Officer@example.com');
    const ended = nextChange(a, (c) => c.kind === 'session');
    expect(await b.deleteSessionsOf('officer@EXAMPLE.com')).toBe(1);
    expect(await ended).toEqual({ kind: 'session', id: 'ab'.repeat(32) });
    expect(await a.getSession('ab'.repeat(32))).toBeUndefined();

    // a's own changes reached its listeners exactly once each (emitted on commit, echoes skipped)
    expect(own.slice(0, 2)).toEqual([{ kind: 'account', email: 'dev@example.com' }, { kind: 'profile', label: 'iot' }]);
    expect(own.filter((c) => c.kind === 'account' && c.email === 'dev@example.com')).toHaveLength(2);
  });

  it('counts failures atomically across instances: 20 concurrent failures against a limit of 5 set off exactly one lock', async () => {
    const [a, b, watcher] = [await open(), await open(), await open()];
    const at = new Date('2026-06-01T00:00:00Z');
    const limit = { maxFailures: 5, windowMs: 60_000, lockMs: 300_000 };
    const lockSeen = nextChange(watcher, (c) => c.kind === 'lock');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).recordFailure('p:10.0.0.1\0dev', limit, at)));
    const locks = results.filter((r) => r !== undefined);
    expect(locks).toEqual([{ lockedAt: at, lockedUntil: new Date(at.getTime() + 300_000) }]);
    expect(await lockSeen).toEqual({ kind: 'lock', key: 'p:10.0.0.1\0dev' }); // the key as given, NUL and all
    expect(await a.activeLock('p:10.0.0.1\0dev', new Date(at.getTime() + 1000))).toEqual(locks[0]);
    expect(await a.activeLock('p:10.0.0.1\0dev', new Date(at.getTime() + 300_000))).toBeUndefined();
    await b.clearFailures('p:10.0.0.1\0dev');
    expect(await a.activeLock('p:10.0.0.1\0dev', at)).toBeUndefined();
  });

  it('keeps sessions, leases and CRLs for every instance', async () => {
    const [a, b] = [await open(), await open()];
    const t = (m: number) => new Date(Date.UTC(2026, 0, 1, 0, m));
    const session = (id: string, email: string, lastSeen: number, expires: number) => ({
      id, email, role: 'admin' as const, csrfToken: `csrf-${id}`, createdAt: t(0), lastSeenAt: t(lastSeen), expiresAt: t(expires),
    });
    await a.createSession(session('s1', 'Admin@example.com', 0, 600));
    await a.createSession(session('s2', 'admin@example.com', 0, 5));
    await a.createSession(session('s3', 'other@example.com', 0, 600));
    await expect(b.createSession(session('s1', 'x@example.com', 0, 1))).rejects.toBeInstanceOf(StoreConflictError);
    expect(await b.getSession('s1')).toEqual(session('s1', 'Admin@example.com', 0, 600));
    expect(await b.touchSession('s1', t(20))).toBe(true);
    expect(await b.touchSession('gone', t(20))).toBe(false);
    expect((await a.getSession('s1'))?.lastSeenAt).toEqual(t(20));
    // at t(31), idle 30 min: s3 (last seen t(0)) is idle too long, s2 is past its end, s1 stays
    expect(await a.purgeSessions(t(31), 30 * 60_000)).toBe(2);
    expect(await b.getSession('s2')).toBeUndefined();
    expect(await b.getSession('s1')).toBeDefined();
    await b.deleteSession('s1');
    expect(await a.getSession('s1')).toBeUndefined();

    expect(await a.acquireLease('crl:default', 'a', t(0), 60_000)).toBe(true);
    expect(await b.acquireLease('crl:default', 'b', t(0), 60_000)).toBe(false);
    expect(await a.acquireLease('crl:default', 'a', t(0), 120_000)).toBe(true); // renewed until t(2)
    expect(await b.acquireLease('crl:default', 'b', t(1), 60_000)).toBe(false);
    expect(await b.acquireLease('crl:default', 'b', t(2), 60_000)).toBe(true); // a's lease ended
    expect(await a.acquireLease('crl:default', 'a', t(2), 60_000)).toBe(false);
    const results = await Promise.all(['x', 'y', 'z', 'w'].map((h, i) => (i % 2 ? a : b).acquireLease('race', h, t(0), 60_000)));
    expect(results.filter(Boolean)).toHaveLength(1);

    expect(await a.getCrl('default', 'complete')).toBeUndefined();
    const crl = { ca: 'default.g2', kind: 'delta' as const, number: 5n, der: Buffer.from([0x30, 1, 2]), thisUpdate: t(0), nextUpdate: t(60), stamp: '3/2026' };
    expect(await a.putCrl(crl)).toBe(true);
    expect(await b.putCrl({ ...crl, number: 4n, stamp: 'older' })).toBe(false);
    expect(await b.putCrl({ ...crl, stamp: 'same number' })).toBe(false);
    expect(await b.getCrl('default.g2', 'delta')).toEqual(crl);
    expect(await b.getCrl('default.g2', 'complete')).toBeUndefined();
    expect(await b.putCrl({ ...crl, number: 6n, stamp: 'newer' })).toBe(true);
    expect((await a.getCrl('default.g2', 'delta'))?.stamp).toBe('newer');
  });

  it('counts failures in a sliding window, and nothing while locked', async () => {
    const store = await open();
    const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
    const limit = { maxFailures: 3, windowMs: 10_000, lockMs: 20_000 };
    expect(await store.recordFailure('a:x\\y', limit, t(0))).toBeUndefined();
    expect(await store.recordFailure('a:x\\y', limit, t(5))).toBeUndefined();
    expect(await store.recordFailure('a:x\\y', limit, t(11))).toBeUndefined(); // the first fell out of the window
    expect(await store.recordFailure('a:x\\y', limit, t(12))).toEqual({ lockedAt: t(12), lockedUntil: t(32) });
    expect(await store.recordFailure('a:x\\y', limit, t(13))).toBeUndefined(); // locked: not counted
    expect(await store.activeLock('a:x\\y', t(31))).toEqual({ lockedAt: t(12), lockedUntil: t(32) });
    expect(await store.activeLock('a:x\\y', t(32))).toBeUndefined();
    expect(await store.activeLock('a:x\0y', t(20))).toBeUndefined(); // escaped keys stay distinct
    expect(await store.recordFailure('a:x\\y', limit, t(33))).toBeUndefined(); // the count started again
  });

  it('stores a NUL in a name (PostgreSQL text cannot hold one) as U+FFFD instead of failing the write', async () => {
    const store = await open();
    const cert = newCertificate({ subject: 'CN=evil\0.example', requester: 'CN=dev\0ice' });
    await store.recordIssuance(cert, newEvent({ actor: 'CN=dev\0ice', detail: 'x\0y' }));
    expect(await store.getCertificate(cert.serial)).toMatchObject({ subject: 'CN=evil\uFFFD.example', requester: 'CN=dev\uFFFDice' });
    expect((await store.listAudit())[0]).toMatchObject({ actor: 'CN=dev\uFFFDice', detail: 'x\uFFFDy' });
  });

  it('lets one of two concurrent renewals of a certificate through when renewal is once', async () => {
    const [a, b] = [await open(), await open()];
    const first = newCertificate();
    await a.recordIssuance(first, newEvent());
    const [x, y] = [newCertificate({ renews: first.serial }), newCertificate({ renews: first.serial })];
    const results = await Promise.allSettled([
      a.recordIssuance(x, newEvent(), { renewal: { once: true } }),
      b.recordIssuance(y, newEvent(), { renewal: { once: true } }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(StoreConflictError);
    expect(await a.listCertificates()).toHaveLength(2);
  });

  it('commits queued writes as one batch; a failing write in a batch fails alone', async () => {
    const store = await open({ groupCommit: 1 });
    const first = newCertificate();
    await store.recordIssuance(first, newEvent());
    const held = await store.createPendingRequest({
      profile: 'manual', operation: 'simpleenroll', requester: 'dev', keyId: 'ab'.repeat(32), csr: Buffer.from([0x30, 0]), subject: 'CN=held', sans: [],
      keyDescription: 'EC P-256', createdAt: new Date(), expiresAt: new Date(Date.now() + 3600_000),
    });
    const changes: StoreChange[] = [];
    store.changes.subscribe((c) => changes.push(c));
    const good = Array.from({ length: 6 }, () => newCertificate());
    const renewal = newCertificate({ renews: first.serial });
    // the first goes out alone; the others queue behind it and go out together
    const results = await Promise.allSettled([
      store.appendAudit(newEvent({ action: 'lead' })),
      ...good.slice(0, 3).map((c) => store.recordIssuance(c, newEvent({ action: 'good', serial: c.serial }))),
      store.recordIssuance({ ...first, subject: 'CN=duplicate' }, newEvent({ action: 'dup' })),
      store.recordIssuance(newCertificate(), newEvent({ action: 'unapproved' }), { approvedRequestId: held.id }),
      store.recordIssuance(renewal, newEvent({ action: 'renewal' }), { renewal: { supersede: { at: new Date(), event: newEvent({ action: 'cert.supersede' }) } } }),
      ...good.slice(3).map((c) => store.recordIssuance(c, newEvent({ action: 'good', serial: c.serial }))),
      store.appendAudit(newEvent({ action: 'tail' })),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    for (const r of results.filter((x) => x.status === 'rejected')) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StoreConflictError);
    for (const c of good) expect(await store.getCertificate(c.serial)).toBeDefined();
    expect(await store.countAudit({ action: 'good' })).toBe(6);
    expect(await store.listAudit({ action: 'dup' })).toEqual([]);
    expect(await store.listAudit({ action: 'unapproved' })).toEqual([]);
    expect(await store.countAudit({ action: 'tail' })).toBe(1);
    expect(await store.getCertificate(first.serial)).toMatchObject({ status: 'revoked', revocationReason: 'superseded', subject: first.subject });
    expect(changes).toEqual([{ kind: 'revocation', ca: first.ca, serial: first.serial }]);
    expect(store.writeStats()).toMatchObject({ repeated: 1 });
    const before = store.writeStats();
    // without a failure, a batch commits as one: every write in it lands
    const many = Array.from({ length: 50 }, () => newCertificate());
    await Promise.all(many.map((c) => store.recordIssuance(c, newEvent({ action: 'many' }))));
    expect(await store.countAudit({ action: 'many' })).toBe(50);
    const after = store.writeStats();
    expect(after.batches).toBeGreaterThan(before.batches);
    expect(after.batchedWrites - before.batchedWrites).toBeGreaterThan(1);
    expect(after.repeated).toBe(1);
  });

  it('loses no write when another process records issuances at the same time', async () => {
    if (!existsSync(distStore)) throw new Error(`${distStore} is missing: run npm run build first`);
    const store = await open({ poolSize: 4 });
    const n = 150;
    const script = `
      const { openPostgresStore } = await import(process.argv[1]);
      const store = await openPostgresStore(process.argv[2], { poolSize: 4 });
      const der = Buffer.alloc(300, 1);
      await Promise.all(Array.from({ length: Number(process.argv[3]) }, (_, i) => store.recordIssuance(
        { serial: 'c' + i.toString(16).padStart(6, '0'), profile: 'p', ca: 'default', subject: 'CN=child ' + i, sans: [], notBefore: new Date(),
          notAfter: new Date(), der, requester: 'child', renews: null },
        { actor: 'child', action: 'simpleenroll', profile: 'p', outcome: 'success', serial: null, detail: null })));
      await store.close();
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, distStore, db.url, String(n)], { stdio: ['ignore', 'inherit', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const ours = Array.from({ length: n }, (_, i) => newCertificate({ serial: `d${i.toString(16).padStart(6, '0')}` }));
    await Promise.all(ours.map((c) => store.recordIssuance(c, newEvent({ serial: c.serial }))));
    expect(await exited).toBe(0);
    const { total } = await store.searchCertificates({ limit: 0 });
    expect(total).toBe(2 * n);
    const serials = await withConnection(db.url, async (c) => (await c.query<{ serial: string }>('SELECT serial FROM certificates')).rows.map((r) => r.serial));
    expect(new Set(serials).size).toBe(2 * n);
    for (let i = 0; i < n; i++) {
      expect(serials).toContain(`c${i.toString(16).padStart(6, '0')}`);
      expect(serials).toContain(`d${i.toString(16).padStart(6, '0')}`);
    }
    expect(await store.countAudit()).toBe(2 * n);
  });

  it('fails with StoreUnavailableError naming the server and database, never the password, when the database cannot be reached', async () => {
    const refused = await openPostgresStore('postgres://estuary:s3cret-pw@127.0.0.1:1/estuary_prod', { connectTimeoutMs: 2000 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StoreUnavailableError);
    expect((refused as Error).message).toMatch(/127\.0\.0\.1:1\/estuary_prod as estuary/);
    expect((refused as Error).message).not.toMatch(/s3cret/);
    const missing = await openPostgresStore(databaseUrl('estuary_no_such_db'), { password: 'other-s3cret' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(StoreUnavailableError);
    expect((missing as Error).message).toMatch(/estuary_no_such_db/);
    expect((missing as Error).message).not.toMatch(/s3cret/);
  });

  it('times a statement out after statementTimeoutMs with StoreUnavailableError', async () => {
    const store = await open({ statementTimeoutMs: 300 });
    await store.createAccount({ email: 'held@example.com', passwordHash: 'h', role: 'est' });
    await withConnection(db.url, async (c) => {
      await c.query('BEGIN');
      await c.query(`SELECT * FROM accounts WHERE email = 'held@example.com' FOR UPDATE`);
      const err = await store.setAccountPassword('held@example.com', 'h2').catch((e: unknown) => e);
      await c.query('ROLLBACK');
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as Error).message).toMatch(/setAccountPassword: .*statement timeout/);
    });
    expect(await store.setAccountPassword('held@example.com', 'h3')).toBe(true);
  });

  it('keeps to its pool size however many calls are made at once', async () => {
    const store = await open({ poolSize: 2 });
    let most = 0;
    const sample = setInterval(() => (most = Math.max(most, store.poolStats().total)), 1);
    const calls = Array.from({ length: 60 }, (_, i) =>
      i % 2 ? store.appendAudit(newEvent({ action: `a${i}` })) : store.recordIssuance(newCertificate(), newEvent()));
    await Promise.all(calls).finally(() => clearInterval(sample));
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2);
    expect(store.poolStats().total).toBeLessThanOrEqual(2);
    expect(await store.countAudit()).toBe(60);
  });

  it('answers StoreUnavailableError for a connection the server ended, then works again on new connections', async () => {
    const store = await open({ poolSize: 3 });
    await Promise.all([store.ping(), store.ping(), store.ping()]); // three pooled connections
    await withConnection(db.url, (c) => c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> $1`, [store.listener.pid]));
    const outcomes: unknown[] = [];
    for (let i = 0; i < 6; i++) outcomes.push(await store.listAccounts().then(() => 'ok', (e: unknown) => e));
    for (const o of outcomes) if (o !== 'ok') expect(o).toBeInstanceOf(StoreUnavailableError);
    expect(outcomes.at(-1)).toBe('ok');
    await store.createAccount({ email: 'back@example.com', passwordHash: 'h', role: 'est' });
  });

  it('reconnects its listener when the connection is killed, emits any, and hears other instances again', async () => {
    const [a, b] = [await open(), await open()];
    const pid = a.listener.pid;
    expect(pid).toBeTypeOf('number');
    const any = nextChange(a, (c) => c.kind === 'any', 15_000);
    await withConnection(db.url, (c) => c.query('SELECT pg_terminate_backend($1)', [pid]));
    expect(await any).toEqual({ kind: 'any' });
    expect(a.listener.pid).not.toBe(pid);
    const seen = nextChange(a, (c) => c.kind === 'account');
    await b.createAccount({ email: 'after@example.com', passwordHash: 'h', role: 'est' });
    expect(await seen).toEqual({ kind: 'account', email: 'after@example.com' });
  });
});

describe('PostgreSQL connection settings', () => {
  it('puts a password from a file or variable into the URL, whatever characters it holds', async () => {
    const { parse } = await import('pg-connection-string');
    for (const password of ['p@ss:w/rd%41?#&=+ ü', `a'b"c\\d`]) {
      const config = postgresConfig('postgres://estuary@db.example.net:5432/est?sslmode=disable', { password, statementTimeoutMs: 2500 });
      expect(parse(config.connectionString!)).toMatchObject({ password, user: 'estuary', host: 'db.example.net', port: '5432', database: 'est' });
      expect(config.statement_timeout).toBe(2500);
    }
    expect(postgresConfig('postgres://e:inurl@h/d').connectionString).toBe('postgres://e:inurl@h/d');
  });
});

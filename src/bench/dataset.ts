/**
 * A data set at real size for the Web RA scenarios (issue #14, "Data at real size"): certificates
 * spread over a year and over profiles (a few large, many small), a share of them revoked, audit
 * events, EST accounts and held requests, written with direct SQL in large transactions.
 *
 * The set is built once per size into a file under the temp dir (`estuary-dataset/`) and reused:
 * installDataset() copies it over a fresh home's database, opens it with the current schema (the
 * migrations run on the copy, on data, as they would on an upgraded installation) and brings in the
 * home's own accounts and profiles. Deterministic: the same size gives the same rows.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { migrateSqlite, SQLITE_MIGRATIONS } from '../store/sqlite-migrations.js';

export interface DatasetSize {
  certificates: number;
  revoked: number;
  audit: number;
  accounts: number;
  /** Profiles besides the home's own `default`. */
  profiles: number;
  pending: number;
}

/** `1m`: the size of the issue (1,000,000 certificates, 100,000 revoked, 200,000 audit events, 5,000 accounts, 50 profiles). */
export function datasetSize(name: string): DatasetSize {
  const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(name.trim());
  if (!m) throw new Error(`--dataset: expected a size such as 1m, 200k or 50000, got "${name}"`);
  const certificates = Math.round(Number(m[1]) * ({ k: 1e3, m: 1e6 } as Record<string, number>)[m[2]!.toLowerCase()]! || Number(m[1]));
  if (!Number.isSafeInteger(certificates) || certificates < 100) throw new Error(`--dataset: at least 100 certificates, got "${name}"`);
  return {
    certificates, revoked: Math.round(certificates / 10), audit: Math.round(certificates / 5),
    accounts: Math.max(10, Math.min(5000, Math.round(certificates / 200))), profiles: 49, pending: Math.min(2000, Math.round(certificates / 500)),
  };
}

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY_MS = 86_400_000;
const KINDS = ['sensor', 'gateway', 'router', 'meter', 'camera', 'plc', 'switch', 'badge', 'laptop', 'kiosk'];
const ORGS = ['Plant North', 'Plant South', 'Harbour Logistics', 'Grid Operations', 'Field Service', 'Head Office'];
const REASONS = ['keyCompromise', 'superseded', 'cessationOfOperation', 'affiliationChanged', 'unspecified'];
const ACTIONS = ['enroll', 'reenroll', 'revoke', 'sign-in', 'profile-update', 'request-approve'];
export const DATASET_PROFILE = (i: number): string => `fleet-${String(i).padStart(2, '0')}`;

/** One real certificate (P-256, self-signed) stored as every row's DER: the detail view parses it. */
function sampleDer(): Buffer {
  return execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null',
    '-subj', '/CN=dataset sample', '-days', '365', '-outform', 'DER'], { stdio: ['ignore', 'pipe', 'pipe'] });
}

function hex(rand: () => number, bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i++) s += Math.floor(rand() * 256).toString(16).padStart(2, '0');
  return s.replace(/^0+(?=.)/, '');
}

/** Profile index: a few profiles hold most certificates (the first about half), the rest share the remainder. */
function pickProfile(rand: () => number, profiles: number): number {
  const r = rand();
  if (r < 0.5) return 0;
  if (r < 0.7) return 1;
  if (r < 0.8) return 2;
  return 3 + Math.floor(rand() * Math.max(1, profiles - 3));
}

/** Writes the data set into a new database file (the current schema). `now`: the end of the year of issuance. */
export function seedDataset(path: string, size: DatasetSize, now: Date, log: (line: string) => void = () => undefined): void {
  const t0 = Date.now();
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    migrateSqlite(db, path);
    const rand = prng(14);
    const der = sampleDer();
    const end = now.getTime();
    const start = end - 365 * DAY_MS;
    const accounts = Array.from({ length: size.accounts }, (_, i) => `device-${String(i).padStart(4, '0')}@fleet.example`);
    const insertAccount = db.prepare(`INSERT INTO accounts (email, password_hash, role, disabled, created_at, updated_at)
      VALUES (?, 'seeded-no-password', 'est', 0, ?, ?)`);
    db.transaction(() => {
      for (const email of accounts) insertAccount.run(email, new Date(start).toISOString(), new Date(start).toISOString());
    })();

    const insertCert = db.prepare(`INSERT INTO certificates (serial, profile, ca, subject, sans, not_before, not_after, der, requester, renews,
      status, revoked_at, revocation_reason, created_at) VALUES (?, ?, 'default', ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)`);
    const revokeEvery = size.revoked > 0 ? size.certificates / size.revoked : Infinity;
    const batch = 50_000;
    for (let from = 0; from < size.certificates; from += batch) {
      db.transaction(() => {
        for (let i = from; i < Math.min(size.certificates, from + batch); i++) {
          const created = start + Math.floor(((i + rand()) / size.certificates) * (end - start));
          const p = pickProfile(rand, size.profiles + 1);
          const validityDays = [90, 365, 730][p % 3]!;
          const kind = KINDS[p % KINDS.length]!;
          const site = `site-${Math.floor(rand() * 400)}`;
          const host = `${kind}-${String(i).padStart(7, '0')}.${site}.example.com`;
          const subject = `CN=${host}, OU=${kind}s, O=${ORGS[p % ORGS.length]}, C=DE`;
          const sans = JSON.stringify([`DNS:${host}`, `IP:10.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`]);
          const revoked = Math.floor((i + 1) / revokeEvery) > Math.floor(i / revokeEvery);
          const revokedAt = revoked ? new Date(created + Math.floor(rand() * (end - created))).toISOString() : null;
          insertCert.run(hex(rand, 16), p === 0 ? 'default' : DATASET_PROFILE(p), subject, sans, new Date(created).toISOString(),
            new Date(created + validityDays * DAY_MS).toISOString(), der, accounts[Math.floor(rand() * accounts.length)]!,
            revoked ? 'revoked' : 'valid', revokedAt, revoked ? REASONS[Math.floor(rand() * REASONS.length)]! : null, new Date(created).toISOString());
        }
      })();
      log(`  certificates: ${Math.min(size.certificates, from + batch).toLocaleString('en')} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }

    const insertAudit = db.prepare(`INSERT INTO audit_events (at, actor, action, profile, outcome, serial, detail) VALUES (?, ?, ?, ?, ?, NULL, ?)`);
    db.transaction(() => {
      for (let i = 0; i < size.audit; i++) {
        const at = start + Math.floor(((i + rand()) / size.audit) * (end - start));
        const action = ACTIONS[Math.floor(rand() * rand() * ACTIONS.length)]!;
        const actor = action === 'sign-in' || action === 'profile-update' || action === 'request-approve' ? `officer-${Math.floor(rand() * 20)}@example.com` : accounts[Math.floor(rand() * accounts.length)]!;
        insertAudit.run(new Date(at).toISOString(), actor, action, DATASET_PROFILE(1 + Math.floor(rand() * size.profiles)), rand() < 0.95 ? 'success' : 'failure', null);
      }
    })();
    const insertPending = db.prepare(`INSERT INTO pending_requests (profile, operation, requester, key_id, csr, subject, sans, key_description,
      status, created_at, expires_at) VALUES (?, 'simpleenroll', ?, ?, X'3000', ?, '[]', 'EC P-256', ?, ?, ?)`);
    db.transaction(() => {
      for (let i = 0; i < size.pending; i++) {
        const created = end - Math.floor(rand() * 30 * DAY_MS);
        const status = ['pending', 'approved', 'rejected', 'issued'][Math.floor(rand() * 4)]!;
        insertPending.run(DATASET_PROFILE(1 + (i % size.profiles)), accounts[i % accounts.length]!, hex(rand, 32), `CN=held-${i}.example.com`, status,
          new Date(created).toISOString(), new Date(created + 3 * DAY_MS).toISOString());
      }
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  log(`  seeded ${path} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

function sizeKey(s: DatasetSize): string {
  return `c${s.certificates}-r${s.revoked}-a${s.audit}-u${s.accounts}-p${s.profiles}-q${s.pending}`;
}

/** The cached data set of this size (built on first use), under `dir` (default: the temp dir). */
export function cachedDataset(size: DatasetSize, now: Date, log: (line: string) => void, dir = join(tmpdir(), 'estuary-dataset')): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${sizeKey(size)}.db`);
  if (existsSync(file)) {
    log(`data set: reusing ${file}`);
    return file;
  }
  log(`data set: building ${file}`);
  const partial = `${file}.partial`;
  for (const f of [partial, `${partial}-wal`, `${partial}-shm`]) rmSync(f, { force: true });
  seedDataset(partial, size, now, log);
  renameSync(partial, file);
  return file;
}

/**
 * Replaces a home's (fresh) database with a copy of the data set in the current schema, keeping
 * the home's accounts and profiles, and adds the data set's profiles as copies of the home's
 * `default`. The first install at a schema version migrates a copy of the data set (the time that
 * takes is returned: what an upgrade costs at this size) and keeps it beside the data set.
 */
export function installDataset(dataset: string, homeDb: string, size: DatasetSize): { migrateMs: number | undefined } {
  const migrated = dataset.replace(/\.db$/, `-schema${SQLITE_MIGRATIONS.length}.db`);
  let migrateMs: number | undefined;
  if (!existsSync(migrated)) {
    const partial = `${migrated}.partial`;
    copyFileSync(dataset, partial);
    const db = new Database(partial);
    try {
      db.pragma('journal_mode = WAL');
      // planner statistics are not part of a real installation (nothing here runs ANALYZE)
      if (db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'`).get()) db.exec('DELETE FROM sqlite_stat1');
      const t0 = Date.now();
      migrateSqlite(db, partial);
      migrateMs = Date.now() - t0;
      db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      db.close();
    }
    renameSync(partial, migrated);
  }
  const target = `${homeDb}.dataset`;
  copyFileSync(migrated, target);
  chmodSync(target, 0o600);
  const db = new Database(target);
  try {
    db.pragma('journal_mode = WAL');
    migrateSqlite(db, target);
    db.prepare('ATTACH DATABASE ? AS home').run(homeDb);
    const columns = (db.prepare(`SELECT name FROM pragma_table_info('profiles')`).all() as Array<{ name: string }>).map((c) => c.name);
    const others = columns.filter((c) => c !== 'label').join(', ');
    db.transaction(() => {
      const accountColumns = (db.prepare(`SELECT name FROM pragma_table_info('accounts')`).all() as Array<{ name: string }>).map((c) => c.name).filter((c) => c !== 'id').join(', ');
      db.exec(`INSERT OR REPLACE INTO main.accounts (${accountColumns}) SELECT ${accountColumns} FROM home.accounts`);
      db.exec(`INSERT OR REPLACE INTO main.profiles SELECT * FROM home.profiles`);
      const copy = db.prepare(`INSERT OR REPLACE INTO main.profiles (label, ${others}) SELECT ?, ${others} FROM home.profiles WHERE label = 'default'`);
      for (let i = 1; i <= size.profiles; i++) copy.run(DATASET_PROFILE(i));
    })();
    db.exec('DETACH DATABASE home');
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  for (const f of [homeDb, `${homeDb}-wal`, `${homeDb}-shm`]) rmSync(f, { force: true });
  renameSync(target, homeDb);
  return { migrateMs };
}

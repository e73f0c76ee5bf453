#!/usr/bin/env node
/**
 * `node dist/bench/postgres-webra-reads.js --dataset 1m`: the Web RA's store calls at real size on
 * PostgreSQL (issue #14). Creates a database on the server (`--admin-url`, default the local one),
 * opens the PostgreSQL store on it (all migrations), fills it with direct SQL (generate_series: the
 * shape of src/bench/dataset.ts — a year of certificates over 50 profiles, a tenth revoked, audit
 * events, accounts, held requests), runs VACUUM ANALYZE as autovacuum would, then times each Web RA
 * scenario as the store calls its API handler makes (src/admin/api-*.ts): `--calls` sequential
 * calls per scenario, each with a different argument; median and p95. Drops the database at the
 * end unless `--keep`; `--database NAME` runs on a database an earlier `--keep` run left (no fill,
 * kept). The HTTP layer is left out: this measures what the store adds.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { datasetSize, DATASET_PROFILE, type DatasetSize } from './dataset.js';
import { openPostgresStore, type PostgresStore } from '../store/postgres-store.js';

const DAY_MS = 86_400_000;
const COUNT_LIMIT = 10_000; // admin/api-certificates.ts
const log = (line: string): boolean => process.stderr.write(line + '\n');

async function fill(client: pg.Client, size: DatasetSize, now: Date): Promise<void> {
  const t0 = Date.now();
  const end = now.getTime();
  const start = end - 365 * DAY_MS;
  await client.query(`INSERT INTO accounts (email, password_hash, role, created_at, updated_at)
    SELECT 'device-' || lpad(i::text, 4, '0') || '@fleet.example', 'seeded-no-password', 'est', $1, $1 FROM generate_series(0, $2 - 1) AS i`,
  [new Date(start), size.accounts]);
  const der = randomBytes(420);
  const chunk = 100_000;
  const revokeEvery = Math.round(size.certificates / size.revoked);
  for (let from = 0; from < size.certificates; from += chunk) {
    const to = Math.min(size.certificates, from + chunk) - 1;
    await client.query(`INSERT INTO certificates (serial, profile, ca, subject, sans, not_before, not_after, der, requester, status, revoked_at, revocation_reason, created_at)
      SELECT serial, profile, 'default', 'CN=' || host || ', OU=devices, O=Plant North, C=DE',
        '["DNS:' || host || '", "IP:10.' || (h % 256) || '.' || ((h / 256) % 256) || '.' || (1 + (h / 65536) % 254) || '"]',
        created, created + validity, $4, 'device-' || lpad((h % $6)::text, 4, '0') || '@fleet.example',
        CASE WHEN i % $5 = 0 THEN 'revoked' ELSE 'valid' END, CASE WHEN i % $5 = 0 THEN created + interval '1 day' END,
        CASE WHEN i % $5 = 0 THEN 'keyCompromise' END, created
      FROM (SELECT i, md5('estuary' || i) AS serial, abs(hashtext('h' || i)) AS h,
          to_timestamp(($7::bigint + (i::float8 / $3) * $8::bigint) / 1000.0) AS created,
          CASE WHEN r < 0.5 THEN 'default' WHEN r < 0.7 THEN 'fleet-01' WHEN r < 0.8 THEN 'fleet-02'
            ELSE 'fleet-' || lpad((3 + floor(random() * 47))::int::text, 2, '0') END AS profile,
          (ARRAY[90, 365, 730])[1 + i % 3] * interval '1 day' AS validity,
          (ARRAY['sensor', 'gateway', 'router', 'meter', 'camera'])[1 + i % 5] || '-' || lpad(i::text, 7, '0') || '.site-' || (abs(hashtext('s' || i)) % 400) || '.example.com' AS host
        FROM (SELECT i, random() AS r FROM generate_series($1::int, $2::int) AS i) AS g) AS c`,
    [from, to, size.certificates, der, revokeEvery, size.accounts, start, end - start]);
    log(`  certificates: ${(to + 1).toLocaleString('en')} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  await client.query(`INSERT INTO audit_events (at, actor, action, profile, outcome, detail)
    SELECT to_timestamp(($2::bigint + (i::float8 / $1) * $3::bigint) / 1000.0),
      CASE WHEN i % 3 = 0 THEN 'officer-' || (i % 20) || '@example.com' ELSE 'device-' || lpad((i % $4)::text, 4, '0') || '@fleet.example' END,
      (ARRAY['enroll', 'reenroll', 'revoke', 'sign-in', 'profile-update', 'request-approve'])[1 + i % 6],
      'fleet-' || lpad((1 + i % 49)::text, 2, '0'), CASE WHEN i % 20 = 0 THEN 'failure' ELSE 'success' END, NULL
    FROM generate_series(0, $1 - 1) AS i`, [size.audit, start, end - start, size.accounts]);
  await client.query(`INSERT INTO pending_requests (profile, operation, requester, key_id, csr, subject, sans, key_description, status, created_at, expires_at)
    SELECT 'fleet-' || lpad((1 + i % 49)::text, 2, '0'), 'simpleenroll', 'device-' || lpad((i % $2)::text, 4, '0') || '@fleet.example', md5('k' || i),
      '\\x3000', 'CN=held-' || i || '.example.com', '[]', 'EC P-256', (ARRAY['pending', 'approved', 'rejected', 'issued'])[1 + i % 4],
      $3::timestamptz - (i % 30) * interval '1 day', $3::timestamptz - (i % 30) * interval '1 day' + interval '3 days'
    FROM generate_series(0, $1 - 1) AS i`, [size.pending, size.accounts, now]);
  log(`  filled in ${((Date.now() - t0) / 1000).toFixed(1)} s; VACUUM ANALYZE`);
  await client.query('VACUUM ANALYZE');
  log(`  ready after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

interface Scenario {
  name: string;
  run: (i: number) => Promise<unknown>;
}

function scenarios(store: PostgresStore, serials: string[], certificates: number, now: Date): Scenario[] {
  const pick = (i: number) => serials[(i * 7919) % serials.length]!;
  const host = (i: number) => `-${String((i * 104_729) % certificates).padStart(7, '0')}.`;
  const search = (s: Parameters<PostgresStore['searchCertificates']>[0]) => store.searchCertificates({ now, countLimit: COUNT_LIMIT, limit: 50, ...s });
  const profile = (i: number) => (i % 2 ? 'default' : DATASET_PROFILE(1 + (i % 49)));
  const firstDay = new Date(`${new Date(now.getTime() - 29 * DAY_MS).toISOString().slice(0, 10)}T00:00:00.000Z`);
  return [
    {
      name: 'dashboard', run: () => Promise.all([store.countCertificates(now), store.countPendingRequests({ status: 'pending' }), store.issuedPerDay(firstDay),
        store.searchCertificates({ status: 'valid', now, notAfterFrom: now, notAfterTo: new Date(now.getTime() + 30 * DAY_MS), order: 'expiry', limit: 10 })]),
    },
    { name: 'certificates newest', run: (i) => search({ offset: (i % 3) * 50 }) },
    { name: 'certificates profile+valid', run: (i) => search({ profile: profile(i), status: 'valid' }) },
    { name: 'certificates profile+revoked', run: (i) => search({ profile: profile(i), status: 'revoked' }) },
    { name: 'certificates status=expired', run: () => search({ status: 'expired' }) },
    { name: 'search q=host', run: (i) => search({ q: host(i) }) },
    { name: 'search q=site', run: (i) => search({ q: `site-${i % 400}.example` }) },
    { name: 'search subject+profile', run: (i) => search({ subject: `site-${i % 400}.`, profile: 'default' }) },
    { name: 'search san=IP prefix', run: (i) => search({ san: `IP:10.${i % 256}.${(i * 7) % 256}.` }) },
    { name: 'search serial exact', run: (i) => search({ serial: pick(i), limit: undefined }) },
    { name: 'search serial prefix', run: (i) => search({ serial: pick(i).slice(0, 6), limit: undefined }) },
    { name: 'search q=serial part', run: (i) => search({ q: pick(i).slice(4, 14), limit: undefined }) },
    { name: 'expiring in 30 days', run: () => search({ status: 'valid', notAfterFrom: now, notAfterTo: new Date(now.getTime() + 30 * DAY_MS) }) },
    { name: 'certificate detail', run: (i) => store.getCertificate(pick(i)) },
    { name: 'audit newest', run: (i) => Promise.all([store.listAudit({ limit: 50, offset: (i % 3) * 50 }), store.countAudit({})]) },
    { name: 'audit by actor', run: (i) => Promise.all([store.listAudit({ actor: `officer-${i % 20}@example.com`, limit: 50 }), store.countAudit({ actor: `officer-${i % 20}@example.com` })]) },
    { name: 'requests pending', run: () => Promise.all([store.listPendingRequests({ status: 'pending', limit: 50 }), store.countPendingRequests({ status: 'pending' })]) },
    { name: 'requests all', run: () => Promise.all([store.listPendingRequests({ limit: 50 }), store.countPendingRequests({})]) },
  ];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { dataset: { type: 'string' }, calls: { type: 'string' }, 'admin-url': { type: 'string' }, keep: { type: 'boolean' }, database: { type: 'string' }, json: { type: 'boolean' } },
  });
  const size = datasetSize(values.dataset ?? '1m');
  const calls = Number(values.calls ?? 30);
  const adminUrl = values['admin-url'] ?? 'postgres://postgres@127.0.0.1:5432/test';
  const reuse = values.database;
  if (reuse !== undefined && !/^estuary_bench_[0-9a-f]{8}$/.test(reuse)) throw new Error(`--database ${reuse}: not a database this bench made`);
  const name = reuse ?? `estuary_bench_${randomBytes(4).toString('hex')}`;
  const keep = values.keep || reuse !== undefined;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  if (!reuse) await admin.query(`CREATE DATABASE ${name}`);
  let store: PostgresStore | undefined;
  try {
    store = await openPostgresStore(url.toString(), { statementTimeoutMs: 600_000 });
    const now = new Date();
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      if (reuse) log(`on ${name} as filled`);
      else log(`filling ${name}: ${size.certificates.toLocaleString('en')} certificates`);
      if (!reuse) await fill(client, size, now);
    } finally {
      await client.end();
    }
    const sample = await store.searchCertificates({ limit: 200, offset: 1000 });
    const serials = sample.items.map((c) => c.serial);
    const results = [];
    for (const s of scenarios(store, serials, size.certificates, now)) {
      await s.run(calls); // one warm-up call
      const times: number[] = [];
      for (let i = 0; i < calls; i++) {
        const t0 = performance.now();
        await s.run(i);
        times.push(performance.now() - t0);
      }
      const sorted = [...times].sort((a, b) => a - b);
      const r = { scenario: s.name, medianMs: median(times), p95Ms: sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]!, maxMs: sorted[sorted.length - 1]! };
      results.push(r);
      log(`${s.name.padEnd(30)} median ${r.medianMs.toFixed(1).padStart(8)} ms  p95 ${r.p95Ms.toFixed(1).padStart(8)} ms  max ${r.maxMs.toFixed(1).padStart(8)} ms`);
    }
    if (values.json) process.stdout.write(JSON.stringify({ dataset: size, calls, results }, null, 2) + '\n');
  } finally {
    await store?.close().catch(() => undefined);
    if (!keep) {
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [name]);
      await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    } else log(`kept database ${name}`);
    await admin.end();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`postgres-webra-reads: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});

#!/usr/bin/env node
/**
 * CRL cost at real size, in this process: a store with N revoked certificates of one CA (written
 * straight into the SQLite file, one a minute), then the CRL service's first fetch (read all +
 * encode + sign), fetches after one more revocation (read the new one + encode + sign), a
 * fetch with nothing changed (served from the kept CRL), and the longest the event loop was held
 * during each. Milliseconds.
 *
 *   node dist/bench/crl-size.js [--count N] [--algorithm ec-p256|ec-p384|rsa-2048] [--rounds R]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { createCaHierarchy, type KeyAlgorithm } from '../ca/ca-setup.js';
import { createLocalCa } from '../ca/local-ca.js';
import { softwareSigner } from '../ca/signers/software-signer.js';
import { nativeCrypto } from '../pki/native-crypto.js';
import { createCrlService } from '../ra/crl-service.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { median } from './harness.js';

const { values } = parseArgs({ options: { count: { type: 'string' }, algorithm: { type: 'string' }, rounds: { type: 'string' } } });
const count = Number(values.count ?? 150_000);
const algorithm = (values.algorithm ?? 'ec-p256') as KeyAlgorithm;
const rounds = Number(values.rounds ?? 5);

/** n revoked certificates, the i-th revoked (n - i) minutes ago. */
function insertRevoked(path: string, n: number, prefix: string): void {
  const db = new Database(path);
  const now = Date.now();
  const insert = db.prepare(`INSERT INTO certificates (serial, profile, ca, subject, sans, not_before, not_after, der, requester,
    renews, status, revoked_at, revocation_reason, created_at) VALUES (?, 'bench', 'default', 'CN=bench', '[]',
    '2025-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z', x'3000', 'bench', NULL, 'revoked', ?, 'keyCompromise', ?)`);
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const at = new Date(now - (n - 1 - i) * 60_000).toISOString();
      insert.run(prefix + i.toString(16).padStart(32 - prefix.length, '0'), at, at);
    }
  })();
  db.close();
}

/** The longest gap between event-loop turns while fn runs. */
async function withLoopWatch<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number; blockedMs: number }> {
  let last = performance.now();
  let worst = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 1);
  const start = performance.now();
  const result = await fn();
  const ms = performance.now() - start;
  clearInterval(tick);
  worst = Math.max(worst, performance.now() - last);
  return { result, ms, blockedMs: worst };
}

const dir = mkdtempSync(join(tmpdir(), 'estuary-crl-bench-'));
try {
  const path = join(dir, 'bench.db');
  const store = openSqliteStore(path);
  insertRevoked(path, count, '4b');
  const { issuing } = createCaHierarchy({ algorithm, rootName: 'CN=Bench Root', issuingName: 'CN=Bench Issuing', now: new Date(), random: randomBytes });
  const ca = createLocalCa({ id: 'default', signer: softwareSigner(issuing.key, nativeCrypto), chain: [issuing.der], now: () => new Date(), random: randomBytes });
  const crls = createCrlService({ store, cas: new Map([['default', ca]]), now: () => new Date(), validityHours: 24 });

  const first = await withLoopWatch(() => crls.current('default'));
  const uncached: number[] = [];
  const blocked: number[] = [];
  let size = 0;
  for (let r = 0; r < rounds; r++) {
    insertRevoked(path, 1, `5${r.toString(16)}`); // a change: the next fetch re-signs
    const run = await withLoopWatch(() => crls.current('default'));
    uncached.push(run.ms);
    blocked.push(run.blockedMs);
    size = run.result!.length;
  }
  const revoked = (await store.listRevoked('default')).map((r) => ({ serialHex: r.serial, revokedAt: r.revokedAt, reason: 'keyCompromise' as const }));
  const signOnly: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    await ca.issueCrl({ revoked, thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 86_400_000) });
    signOnly.push(performance.now() - start);
  }
  const cached: number[] = [];
  for (let r = 0; r < 200; r++) {
    const start = performance.now();
    await crls.current('default');
    cached.push(performance.now() - start);
  }
  const f = (n: number): string => n.toFixed(n < 10 ? 2 : 0);
  process.stdout.write(
    `CRL of ${count + rounds} entries (${(size / 1e6).toFixed(1)} MB), ${algorithm} CA, median of ${rounds} signings / 200 cached fetches:\n` +
      `  first fetch (read all + encode + sign): ${f(first.ms)} ms; event loop held at most ${f(first.blockedMs)} ms at a time\n` +
      `  fetch after a revocation (read new + encode + sign): ${f(median(uncached))} ms; event loop held at most ${f(median(blocked))} ms at a time\n` +
      `  encode + sign alone (entries in memory): ${f(median(signOnly))} ms\n` +
      `  fetch with nothing changed (served from the kept CRL): ${(median(cached) * 1000).toFixed(0)} µs\n`,
  );
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

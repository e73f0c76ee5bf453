#!/usr/bin/env node
/**
 * Durable issuance writes per second, SQLite next to PostgreSQL in the same run: C callers each
 * awaiting recordIssuance (certificate + audit event, one transaction) in a loop, N writes per
 * round, rounds alternating between the stores; medians. SQLite in a temporary directory; for
 * PostgreSQL a database created for the run (and dropped) on the server of --postgres.
 *
 *   node dist/bench/store-write.js [--count N] [--concurrency C] [--rounds R] [--pool P]
 *                                  [--group G] [--postgres postgres://postgres@127.0.0.1:5432/test]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openPostgresStore } from '../store/postgres-store.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/store.js';
import { median } from './harness.js';

const { values } = parseArgs({
  options: { count: { type: 'string' }, concurrency: { type: 'string' }, rounds: { type: 'string' }, pool: { type: 'string' }, group: { type: 'string' }, postgres: { type: 'string' } },
});
const count = Number(values.count ?? 4000);
const concurrency = Number(values.concurrency ?? 16);
const rounds = Number(values.rounds ?? 5);
const poolSize = Number(values.pool ?? 10);
const groupCommit = Number(values.group ?? 4);
const adminUrl = values.postgres ?? 'postgres://postgres@127.0.0.1:5432/test';

const der = randomBytes(600);
let serial = 0;

/** Writes per second and client CPU milliseconds per 1000 writes, for one round. */
async function round(store: Store): Promise<{ rate: number; cpuPer1000: number }> {
  let next = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < count) {
      const s = `b${(serial++).toString(16).padStart(15, '0')}${randomBytes(4).toString('hex')}`;
      await store.recordIssuance(
        { serial: s, profile: 'bench', ca: 'default', subject: `CN=${s}`, sans: [`DNS:${s}.example`], notBefore: new Date(), notAfter: new Date(), der, requester: 'bench', renews: null },
        { actor: 'bench', action: 'simpleenroll', profile: 'bench', outcome: 'success', serial: s, detail: null },
      );
    }
  }));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  return { rate: count / seconds, cpuPer1000: ((used.user + used.system) / 1000 / count) * 1000 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'estuary-store-bench-'));
  const name = `estuary_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const stores: Array<[string, Store]> = [
    ['sqlite', openSqliteStore(join(dir, 'bench.db'))],
    ['postgres', await openPostgresStore(url.toString(), { poolSize, groupCommit })],
  ];
  const results = new Map<string, Array<{ rate: number; cpuPer1000: number }>>(stores.map(([n]) => [n, []]));
  try {
    for (const [, store] of stores) await round(store); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const [n, store] of r % 2 ? [...stores].reverse() : stores) results.get(n)!.push(await round(store));
    }
  } finally {
    for (const [, store] of stores) await store.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`recordIssuance, ${concurrency} concurrent callers, ${count} writes per round, median of ${rounds} rounds (PostgreSQL pool ${poolSize}, ${groupCommit} batches at once)`);
  const base = median(results.get('sqlite')!.map((x) => x.rate));
  for (const [n, rs] of results) {
    const rate = median(rs.map((x) => x.rate));
    const cpu = median(rs.map((x) => x.cpuPer1000));
    console.log(`${n.padEnd(9)} ${rate.toFixed(0).padStart(7)} writes/s  ${(rate / base).toFixed(2)}× SQLite  client CPU ${cpu.toFixed(0)} ms per 1000  [${rs.map((x) => x.rate.toFixed(0)).join(', ')}]`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

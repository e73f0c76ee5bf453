/**
 * `npm run bench -- --stores sqlite,postgres` (src/bench/stores-scenario.ts), as it is run: the
 * bench makes a PostgreSQL database for the run, a home on it and a server, alternates
 * enroll-keepalive between the SQLite and the PostgreSQL server, reports the backends' CPU as
 * database CPU, and drops the database at the end. Real PostgreSQL on 127.0.0.1:5432.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseStores, windowCpuSeconds } from '../../src/bench/stores-scenario.js';

const BENCH = join(process.cwd(), 'dist', 'bench', 'bench.js');
const run = promisify(execFile);

interface Database { databaseCpuPercent: number; requestsPerServerAndDatabaseCpuSecond: number; backends: number }
interface Report {
  config: { stores: string[] };
  serverExit: string;
  postgresServerExit?: string;
  scenarios: { scenario: string; errors: number; requestsPerSecond: number; requestsPerServerCpuSecond: number; serverCpuPercent: number; database?: Database; runs: { database?: Database }[] }[];
  storesOverSqlite: { scenario: string; sqlite: string; ratePercent: number; perServerCpuPercent: number; perServerAndDatabaseCpuPercent: number }[];
}

describe('--stores', () => {
  it('parses a list of known stores, in order, without repeats', () => {
    expect(parseStores(undefined)).toEqual(['sqlite']);
    expect(parseStores('sqlite,postgres')).toEqual(['sqlite', 'postgres']);
    expect(parseStores(' postgres , sqlite,postgres')).toEqual(['postgres', 'sqlite']);
    expect(() => parseStores('sqlite,mysql')).toThrow(/unknown store "mysql"/);
    expect(() => parseStores(',')).toThrow(/--stores/);
  });

  it('counts the backends\' CPU over the window, those that connected during it whole, those that ended not at all', () => {
    const before = new Map([[1, 10], [2, 5], [3, 7]]);
    const after = new Map([[1, 10.5], [2, 5.25]]); // 3 ended
    expect(windowCpuSeconds(before, after, new Map([[4, 0.125]]))).toBeCloseTo(0.875, 9);
  });

  it('the bench refuses an unknown store with its usage (exit 2)', async () => {
    const err = await run(process.execPath, [BENCH, '--stores', 'oracle'], { encoding: 'utf8' }).then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(err?.code).toBe(2);
    expect(err?.stderr).toMatch(/--stores: unknown store "oracle"/);
    expect(err?.stderr).toMatch(/usage: npm run bench/);
  });

  it('runs enroll-keepalive on SQLite and on PostgreSQL in one run, with the database CPU, and drops the database', async () => {
    const { stdout, stderr } = await run(process.execPath, [
      BENCH, '--scenarios', 'enroll-keepalive', '--stores', 'sqlite,postgres', '--runs', '1', '--duration', '1', '--warmup', '0.5', '--concurrency', '4', '--json',
    ], { encoding: 'utf8', timeout: 110_000, maxBuffer: 64 * 1024 * 1024 });
    const report = JSON.parse(stdout) as Report;
    expect(report.config.stores).toEqual(['sqlite', 'postgres']);
    expect(report.serverExit).toBe('exit 0');
    expect(report.postgresServerExit).toBe('exit 0');
    expect(report.scenarios.map((s) => s.scenario)).toEqual(['enroll-keepalive', 'enroll-keepalive (postgres)']);
    const [sqlite, postgres] = report.scenarios;
    for (const s of report.scenarios) {
      expect(s.errors, s.scenario).toBe(0);
      expect(s.requestsPerSecond, s.scenario).toBeGreaterThan(0);
    }
    expect(sqlite!.database).toBeUndefined();
    const db = postgres!.database!;
    expect(db.databaseCpuPercent).toBeGreaterThan(0);
    expect(db.backends).toBeGreaterThanOrEqual(1);
    expect(db.requestsPerServerAndDatabaseCpuSecond).toBeLessThan(postgres!.requestsPerServerCpuSecond);
    const [q] = report.storesOverSqlite;
    expect(q).toMatchObject({ scenario: 'enroll-keepalive (postgres)', sqlite: 'enroll-keepalive' });
    expect(q!.ratePercent).toBeCloseTo((100 * postgres!.requestsPerSecond) / sqlite!.requestsPerSecond, 6);
    expect(q!.perServerAndDatabaseCpuPercent).toBeLessThan(q!.perServerCpuPercent);

    const name = /server on PostgreSQL \(database (estuary_bench_[0-9a-f]+)\)/.exec(stderr)?.[1];
    expect(name, stderr).toBeDefined();
    const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' });
    await client.connect();
    try {
      expect((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount).toBe(0);
    } finally {
      await client.end();
    }
  }, 120_000);
});

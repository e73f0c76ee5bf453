/**
 * `npm run bench -- --stores sqlite,postgres`: the direct scenarios against a server on the embedded
 * SQLite file (the bench's home) and against one on PostgreSQL, alternating within each run.
 *
 * The PostgreSQL server has a home of its own, made by `estuary init --database-url` on a database
 * created for the bench run (estuary_bench_<random>) and dropped at its end. Its database work happens
 * in PostgreSQL backend processes, not in Estuary: their CPU over the measured window (/proc/<pid>/stat
 * of the backends connected to the bench database, from pg_stat_activity) is reported next to
 * Estuary's, so that requests per CPU-second can be compared both ways (Estuary only, Estuary + database).
 * The backends are PostgreSQL's processes and are not pinned: they run on whichever core is free.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { cpuSeconds, freePort, initHome, sanityCheck, startServer, type ServerProcess } from './harness.js';
import { startWorkersServers, type WorkersServer } from './workers-scenario.js';

export const STORES = ['sqlite', 'postgres'] as const;
export type StoreKind = (typeof STORES)[number];

/** The maintenance connection (database `test` on the local PostgreSQL), unless ESTUARY_BENCH_PG_URL says otherwise. */
export function maintenanceUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.ESTUARY_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

/** `--stores sqlite,postgres`: known names, no repeats, in the order given. */
export function parseStores(text: string | undefined): StoreKind[] {
  if (text === undefined) return ['sqlite'];
  const out: StoreKind[] = [];
  for (const name of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(STORES as readonly string[]).includes(name)) throw new Error(`--stores: unknown store "${name}" (known: ${STORES.join(', ')})`);
    if (!out.includes(name as StoreKind)) out.push(name as StoreKind);
  }
  if (out.length === 0) throw new Error('--stores: expected a comma-separated list of stores');
  return out;
}

/** A database made for one bench run; `pids()` lists the backends connected to it. */
export interface BenchDatabase {
  name: string;
  url: string;
  pids(): Promise<number[]>;
  /** Disconnect its backends and drop it. */
  drop(): Promise<void>;
}

export async function createBenchDatabase(maintenance = maintenanceUrl()): Promise<BenchDatabase> {
  const admin = new pg.Client({ connectionString: maintenance, application_name: 'estuary-bench' });
  await admin.connect().catch((err: Error) => {
    throw new Error(`--stores postgres: cannot reach PostgreSQL at ${redact(maintenance)}: ${err.message}`);
  });
  const name = `estuary_bench_${randomBytes(6).toString('hex')}`;
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (err) {
    await admin.end();
    throw err;
  }
  const url = new URL(maintenance);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    async pids() {
      const r = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [name]);
      return r.rows.map((row) => row.pid);
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

// ---- the backends' CPU over a window ----

/** CPU seconds of each process now (those gone are left out). */
export function cpuOf(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const s = cpuSeconds(pid);
    if (s !== undefined) out.set(pid, s);
  }
  return out;
}

/**
 * The backends' CPU seconds between two readings of the same pids, plus all of the CPU of `late`
 * (backends that connected during the window). A backend that ended in the window is not counted.
 */
export function windowCpuSeconds(before: Map<number, number>, after: Map<number, number>, late: Map<number, number>): number {
  let sum = 0;
  for (const [pid, s] of before) {
    const a = after.get(pid);
    if (a !== undefined) sum += a - s;
  }
  for (const s of late.values()) sum += s;
  return sum;
}

// ---- the PostgreSQL server(s) ----

export interface StoreServers {
  store: StoreKind;
  home: string;
  server: ServerProcess;
  port: number;
  authorization: string;
  rootPem: string;
  database: BenchDatabase;
  /** Its `serve --workers N` servers (N > 1), on the same home and database. */
  clusters: Map<number, WorkersServer>;
}

export interface PostgresServersOptions {
  mainJs: string;
  home: string;
  core: number | undefined;
  workers: number[];
  cores: number;
  taskset: boolean;
  loadCores: number[];
  cpuProf: string | undefined;
  sanityCsr: Buffer;
  log: (line: string) => void;
  /** Set as soon as each piece exists, so that the caller can stop and drop what was made if a later step fails. */
  made: Partial<StoreServers> & { clusters: Map<number, WorkersServer> };
}

/** A PostgreSQL database for the run, a home on it, its server (and `--workers` servers), each sanity-checked. */
export async function startPostgresServers(o: PostgresServersOptions): Promise<StoreServers> {
  const database = await createBenchDatabase();
  o.made.database = database;
  const init = initHome(o.mainJs, o.home, ['--database-url', database.url]);
  const rootPem = readFileSync(join(o.home, 'ca', 'root.pem'), 'utf8');
  const authorization = 'Basic ' + Buffer.from(`${init.estAccount.email}:${init.estAccount.password}`).toString('base64');
  const port = await freePort();
  const cpuProfDir = o.cpuProf ? join(o.cpuProf, 'postgres') : undefined;
  const server = await startServer({ mainJs: o.mainJs, home: o.home, port, core: o.core, ...(cpuProfDir ? { cpuProfDir } : {}) });
  Object.assign(o.made, { store: 'postgres', home: o.home, server, port, authorization, rootPem });
  const base = `https://127.0.0.1:${port}/.well-known/est`;
  o.log(`server on PostgreSQL (database ${database.name}): pid ${server.pid} on ${base}`);
  o.log(await sanityCheck(base, rootPem, authorization, o.sanityCsr));
  await startWorkersServers({
    mainJs: o.mainJs, home: o.home, workers: o.workers, cores: o.cores, taskset: o.taskset, loadCores: o.loadCores, cpuProf: cpuProfDir,
    rootPem, authorization, sanityCsr: o.sanityCsr, log: (line) => o.log(`PostgreSQL ${line}`),
  }, o.made.clusters);
  return o.made as StoreServers;
}

/** Stop what startPostgresServers made (also after a partial start), then drop the database. */
export async function stopPostgresServers(made: Partial<StoreServers> & { clusters: Map<number, WorkersServer> }): Promise<string | undefined> {
  for (const c of made.clusters.values()) await c.server.stop();
  made.clusters.clear();
  const exit = made.server ? await made.server.stop() : undefined;
  made.server = undefined;
  if (made.database) await made.database.drop();
  made.database = undefined;
  return exit;
}

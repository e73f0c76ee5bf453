#!/usr/bin/env node
/**
 * `npm run bench`: the EST server as a child process pinned to core 0, driven over TLS on
 * loopback by driver processes pinned to the other core(s). Six closed-loop scenarios at a
 * fixed concurrency; requests/s, latency percentiles, errors, the server's peak RSS and who
 * was the bottleneck (server and driver CPU over the measured window). Options: see USAGE.
 * The fifth goes through an RA (a second Estuary, also on core 0) whose profile issues through
 * an est connector to the server: src/bench/upstream-scenario.ts. The sixth talks to a server whose
 * issuing key is in a SoftHSM2 token: src/bench/hsm-scenario.ts. Results: src/bench/report.ts.
 * The drivers use the native engine (src/bench/native-load.ts: full TLS handshakes, cheap enough
 * that one core outpaces the server) unless `--driver node` asks for node:https.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { decodeBase64Body } from '../pki/base64.js';
import { parseCsr, verifyCsrSignature } from '../pki/csr.js';
import { expectFrom, runDriver, spawnDriver, wallNow, type Driver, type Engine, type RunResult, type RunSpec } from './driver.js';
import { perCore, ratio, storesOverSqlite, summarize, textReport, verdict, workersLabel, workersOverOne, type Measured, type Summary } from './report.js';
import { cpuOf, parseStores, startPostgresServers, stopPostgresServers, windowCpuSeconds, type BenchDatabase, type StoreKind, type StoreServers } from './stores-scenario.js';
import { resetTreePeakRss, treeCpuSeconds, treeMemoryKb } from './process-tree.js';
import { startWorkersServers, type WorkersServer } from './workers-scenario.js';
import { hsmForBench, type HsmServer } from './hsm-scenario.js';
import { establishedTo, prepareRaHome, withRa, type RaHome } from './upstream-scenario.js';
import {
  coreTimes, coreUse, cpuCount, cpuSeconds, csrPool, freePort, initHome, newestCpuProfile, pinnedArgv, pinPid,
  median, monotonicUs, percentile, sanityCheck, startServer, summarizeCpuProfile, tasksetAvailable, f, type InitJson, type ServerProcess,
} from './harness.js';
import { fullHandshakes, nativeLoadError } from './native-load.js';
import { compareLabel, compareMainJs, compareRows, compareText, startCompareServer, type CompareServer } from './compare-scenario.js';

const EST = '/.well-known/est';
/**
 * `via: 'hsm'`: the drivers talk to a second server whose issuing key is in a SoftHSM2 token made for
 * the bench (hsm-scenario.ts), on the server core too.
 */
/** `via: 'ra'`: the drivers talk to an RA whose profile issues through an est connector to the bench's server (upstream-scenario.ts). */
const SCENARIOS = [
  { name: 'enroll-keepalive', what: 'simpleenroll, keep-alive', method: 'POST', op: 'simpleenroll', keepAlive: true, via: 'direct' },
  { name: 'enroll-newconn', what: 'simpleenroll, new TLS connection per request', method: 'POST', op: 'simpleenroll', keepAlive: false, via: 'direct' },
  { name: 'cacerts-keepalive', what: 'cacerts, keep-alive', method: 'GET', op: 'cacerts', keepAlive: true, via: 'direct' },
  { name: 'cacerts-newconn', what: 'cacerts, new TLS connection per request', method: 'GET', op: 'cacerts', keepAlive: false, via: 'direct' },
  { name: 'enroll-ra-keepalive', what: 'simpleenroll, keep-alive, through an RA in front of an upstream Estuary', method: 'POST', op: 'simpleenroll', keepAlive: true, via: 'ra' },
  { name: 'enroll-hsm-keepalive', what: 'simpleenroll, keep-alive, issuing key in a SoftHSM2 token (PKCS#11)', method: 'POST', op: 'simpleenroll', keepAlive: true, via: 'hsm' },
] as const;
type Scenario = (typeof SCENARIOS)[number];

interface Options {
  concurrency: number;
  duration: number;
  warmup: number;
  runs: number;
  scenarios: Scenario[];
  drivers: number | undefined;
  engine: Engine;
  csrPool: number;
  verifyTls: boolean;
  cpuProf: string | undefined;
  json: boolean;
  /** The RA connector's maxConnections (enroll-ra-keepalive); undefined: the connector's default. */
  raPool: number | undefined;
  /** The core the RA is pinned to; undefined: the server's core. */
  raCore: number | undefined;
  /** enroll-hsm-keepalive: the PKCS#11 signer's session pool; undefined: the signer's default. */
  hsmSessions: number | undefined;
  /** `serve --workers N` for each N: the direct scenarios run against each, alternating within a run. */
  workers: number[];
  /** The direct scenarios against a server on each store, alternating within a run (stores-scenario.ts). */
  stores: StoreKind[];
  /** Another build's root (its dist/cli/main.js): the direct scenarios against its server too, alternating. */
  compare: string | undefined;
}

const USAGE = `usage: npm run bench -- [options]
  --concurrency N   closed-loop clients per scenario (default 32)
  --duration S      measured seconds per scenario (default 10)
  --warmup S        warm-up seconds before each measurement (default 2)
  --runs N          repeat every scenario N times, report the median (default 1)
  --scenarios LIST  comma-separated names or numbers (default all):
                    ${SCENARIOS.map((s, i) => `${i + 1}=${s.name}`).join(', ')}
  --drivers N       load-generator processes (default: one per core not used by the server)
  --driver ENGINE   load generator: native (default; epoll + OpenSSL, a full TLS handshake for
                    every new connection, never a resumed session) or node (node:https)
  --csr-pool N      distinct pre-generated P-256 CSRs (default 256)
  --verify-tls      drivers verify the server certificate (default: verified once at start, then skipped)
  --cpu-prof DIR    run the server under node --cpu-prof, keep the profile in DIR, print its top self time
                    (and the RA's in DIR/ra, of its last run; the PostgreSQL-store server's in DIR/postgres)
  --ra-pool N       enroll-ra-keepalive: the RA's connections to the upstream (maxConnections; default 8)
  --ra-core N       enroll-ra-keepalive: pin the RA to core N (default: the server's core, with the upstream)
  --hsm-sessions N  enroll-hsm-keepalive: PKCS#11 sessions of the token signer (cas.default.pkcs11.sessions; default 2)
  --workers LIST    the direct scenarios against \`serve --workers N\` for each N (e.g. 1,2; default 1), alternating
                    within each run; N workers run on cores 0..N-1 and their CPU (primary + workers) is the server CPU
  --stores LIST     the direct scenarios against a server on each store (sqlite, postgres; default sqlite), alternating
                    within each run; postgres: a database made for the run on $ESTUARY_BENCH_PG_URL's server (default
                    postgres://postgres@127.0.0.1:5432/test), dropped at the end; its backends' CPU is reported as database CPU
  --compare DIR     the direct scenarios also against the server of the build in DIR (DIR/dist/cli/main.js, its own
                    home made by its own init), alternating with this build in every run; rows "X (compare)" and
                    this build / that build per server CPU-second (medians and run by run)
  --json            print the results as JSON`;

function positive(name: string, text: string | undefined, fallback: number, integer = true): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`--${name}: expected a positive ${integer ? 'integer' : 'number'}, got "${text}"`);
  return n;
}

function core(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n >= cpuCount()) throw new Error(`--${name}: expected a core number from 0 to ${cpuCount() - 1}, got "${text}"`);
  return n;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      concurrency: { type: 'string' }, duration: { type: 'string' }, warmup: { type: 'string' }, runs: { type: 'string' },
      scenarios: { type: 'string' }, drivers: { type: 'string' }, driver: { type: 'string' }, 'csr-pool': { type: 'string' }, 'verify-tls': { type: 'boolean' },
      'cpu-prof': { type: 'string' }, json: { type: 'boolean' }, 'ra-pool': { type: 'string' }, 'ra-core': { type: 'string' }, 'hsm-sessions': { type: 'string' }, workers: { type: 'string' }, stores: { type: 'string' }, compare: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const scenarios = (values.scenarios ?? SCENARIOS.map((s) => s.name).join(','))
    .split(',').map((s) => s.trim()).filter(Boolean)
    .map((s) => {
      const found = /^\d+$/.test(s) ? SCENARIOS[Number(s) - 1] : SCENARIOS.find((x) => x.name === s);
      if (!found) throw new Error(`--scenarios: unknown scenario "${s}" (known: ${SCENARIOS.map((x, i) => `${i + 1}=${x.name}`).join(', ')})`);
      return found;
    });
  const engine = values.driver ?? 'native';
  if (engine !== 'native' && engine !== 'node') throw new Error(`--driver: expected native or node, got "${engine}"`);
  return {
    concurrency: positive('concurrency', values.concurrency, 32),
    duration: positive('duration', values.duration, 10, false),
    warmup: values.warmup === '0' ? 0 : positive('warmup', values.warmup, 2, false),
    runs: positive('runs', values.runs, 1),
    scenarios: [...new Set(scenarios)],
    drivers: values.drivers === undefined ? undefined : positive('drivers', values.drivers, 1),
    engine,
    csrPool: positive('csr-pool', values['csr-pool'], 256),
    verifyTls: Boolean(values['verify-tls']),
    cpuProf: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
    json: Boolean(values.json),
    raPool: values['ra-pool'] === undefined ? undefined : positive('ra-pool', values['ra-pool'], 8),
    raCore: values['ra-core'] === undefined ? undefined : core('ra-core', values['ra-core']),
    hsmSessions: values['hsm-sessions'] === undefined ? undefined : positive('hsm-sessions', values['hsm-sessions'], 2),
    workers: [...new Set((values.workers ?? '1').split(',').map((w) => positive('workers', w.trim(), 1)))],
    stores: parseStores(values.stores),
    compare: values.compare === undefined ? undefined : (compareMainJs(values.compare), resolve(values.compare)),
  };
}

const log = (line: string): boolean => process.stderr.write(line + '\n');

// ---- one measured scenario ----

interface Bench {
  options: Options;
  server: ServerProcess;
  port: number;
  drivers: Driver[];
  driverCores: number;
  authorization: string;
  rootPem: string;
  serverCore: number | undefined;
  loadCores: number[];
  /** The RA's home, when a scenario goes through it, and what starting it needs. */
  ra?: { home: RaHome; mainJs: string; sanityCsr: Buffer };
  /** The server whose issuing key is in SoftHSM2, when enroll-hsm-keepalive runs. */
  hsm?: HsmServer;
  /** `serve --workers N` servers (N > 1) on the same home, each on cores 0..N-1. */
  clusters: Map<number, WorkersServer>;
  /** The server(s) on PostgreSQL, with `--stores postgres`. */
  postgres?: StoreServers;
  /** --compare: the other build's server. */
  compare?: CompareServer;
}

/** Where a scenario's load goes: the server the drivers talk to, and the upstream behind it, if any (its CPU counts too). */
interface Target {
  server: ServerProcess;
  port: number;
  authorization: string;
  rootPem: string;
  upstream?: { server: ServerProcess; port: number };
  /** The front server is on another core than the server core (--ra-core): its CPU is not part of that core's use. */
  frontElsewhere?: boolean;
  /** The cores of a `--workers` server; undefined: the server core. */
  serverCores?: number[];
  /** On PostgreSQL: the database whose backends' CPU is counted as database CPU. */
  database?: BenchDatabase;
}

async function runScenario(b: Bench, s: Scenario, run: number, t: Target): Promise<Measured> {
  const { options: o, drivers } = b;
  const { server, upstream } = t;
  // VmHWM is reset so that each scenario reports its own peak; VmRSS is polled as well.
  const peakReset = resetTreePeakRss(server.pid);
  let rssPeakKb = treeMemoryKb(server.pid)?.rss ?? 0;
  const poll = setInterval(() => {
    rssPeakKb = Math.max(rssPeakKb, treeMemoryKb(server.pid)?.rss ?? 0);
  }, 100);
  const measureStart = wallNow() + o.warmup * 1000 + 100;
  const measureEnd = measureStart + o.duration * 1000;
  // The concurrency is split across the drivers; every driver starts at a different CSR.
  const shares = drivers.map((_, i) => Math.floor(o.concurrency / drivers.length) + (i < o.concurrency % drivers.length ? 1 : 0));
  const active = drivers.filter((_, i) => shares[i]! > 0);
  drivers.forEach((d, i) => {
    const spec: RunSpec = {
      engine: o.engine, host: '127.0.0.1', port: t.port, method: s.method, path: `${EST}/${s.op}`, keepAlive: s.keepAlive, concurrency: shares[i]!,
      measureStart, measureEnd,
      ...(s.op === 'simpleenroll' ? { authorization: t.authorization, contentType: 'application/pkcs10', bodyOffset: i * 977 } : {}),
      ...(o.verifyTls ? { ca: t.rootPem } : {}),
    };
    if (spec.concurrency > 0) d.send({ type: 'run', spec });
  });
  const snapshot = () => ({
    at: wallNow(), mono: monotonicUs(), cores: coreTimes(),
    server: treeCpuSeconds(server.pid) ?? NaN, upstream: upstream ? cpuSeconds(upstream.server.pid) ?? NaN : 0,
    drivers: active.map((d) => cpuSeconds(d.child.pid!) ?? NaN),
    upstreamConnections: upstream ? establishedTo(upstream.port) : NaN,
  });
  // the database's backends are listed ahead of the window and read with the snapshots; those that connect during it are added
  const dbPids = t.database ? (await sleep(Math.max(0, measureStart - wallNow() - 100)), await t.database.pids()) : [];
  await sleep(Math.max(0, measureStart - wallNow()));
  const dbBefore = cpuOf(dbPids);
  const before = snapshot();
  await sleep(Math.max(0, measureEnd - wallNow()));
  const after = snapshot();
  const dbAfter = cpuOf(dbPids);
  const dbNow = t.database ? await t.database.pids() : [];
  const dbCpuS = windowCpuSeconds(dbBefore, dbAfter, cpuOf(dbNow.filter((p) => !dbPids.includes(p))));
  const results: RunResult[] = [];
  for (const d of active) results.push((await expectFrom(d, 'result')).result);
  clearInterval(poll);
  const mem = treeMemoryKb(server.pid);
  rssPeakKb = Math.max(rssPeakKb, mem?.rss ?? 0, peakReset ? mem?.hwm ?? 0 : 0);

  const windowS = (after.at - before.at) / 1000;
  const all = new Float64Array(results.reduce((n, r) => n + r.latencies.length, 0));
  let off = 0;
  for (const r of results) {
    all.set(r.latencies, off);
    off += r.latencies.length;
  }
  all.sort();
  const ok = results.reduce((n, r) => n + r.ok, 0);
  const frontCpu = (100 * (after.server - before.server)) / windowS;
  const upstreamCpu = (100 * (after.upstream - before.upstream)) / windowS;
  // RA and upstream: together they are "the server" (on the server core, unless --ra-core moved the RA)
  const serverCpu = frontCpu + upstreamCpu;
  const serverCoreCpu = t.frontElsewhere ? upstreamCpu : serverCpu;
  const driverCpu = (100 * after.drivers.reduce((n, v, i) => n + v - before.drivers[i]!, 0)) / windowS / b.driverCores;
  const firstError = results.find((r) => r.firstError)?.firstError;
  const tls = fullHandshakes(s.name, results) ?? {};
  const cores = coreUse(before.cores, after.cores);
  // a --workers server: its cores' busy and iowait time summed (so "other" stays busy time not the server's)
  const serverCores = t.serverCores ?? (b.serverCore === undefined ? [] : [b.serverCore]);
  const serverCore = serverCores.length === 0 ? undefined : {
    busy: serverCores.reduce((n, c) => n + (cores[c]?.busy ?? NaN), 0), iowait: serverCores.reduce((n, c) => n + (cores[c]?.iowait ?? NaN), 0),
  };
  const m = {
    scenario: s.name, run, requestsPerSecond: ok / o.duration, p50Ms: percentile(all, 0.5), p99Ms: percentile(all, 0.99), ok,
    errors: results.reduce((n, r) => n + r.errors, 0), ...(firstError ? { firstError } : {}), ...tls,
    serverPeakRssMb: rssPeakKb / 1024, serverCpuPercent: serverCpu, requestsPerServerCpuSecond: (100 * ok) / o.duration / serverCpu, driverCpuPercent: driverCpu,
    coreBusyPercent: cores.map((c) => c.busy), serverCoreOtherPercent: (serverCore?.busy ?? NaN) - serverCoreCpu,
    serverCoreIowaitPercent: serverCore?.iowait ?? NaN, driverCoreBusyPercent: median(b.loadCores.map((c) => cores[c]?.busy ?? NaN)),
    windowMonotonicUs: [before.mono, after.mono] as [number, number], serverCores: Math.max(1, serverCores.length),
    ...(t.database ? {
      database: {
        databaseCpuPercent: (100 * dbCpuS) / windowS, backends: dbNow.length,
        requestsPerServerAndDatabaseCpuSecond: (100 * ok) / o.duration / (serverCpu + (100 * dbCpuS) / windowS),
      },
    } : {}),
    ...(upstream ? {
      ra: {
        raCpuPercent: frontCpu, upstreamCpuPercent: upstreamCpu, requestsPerRaCpuSecond: (100 * ok) / o.duration / frontCpu,
        requestsPerUpstreamCpuSecond: (100 * ok) / o.duration / upstreamCpu, upstreamConnectionsOpen: after.upstreamConnections,
        // the RA's connector counts come when the RA stops (withRa)
        upstreamRequests: NaN, upstreamHandshakes: NaN, handshakesPerThousand: NaN,
      },
    } : {}),
  };
  return { ...m, bottleneck: verdict(perCore(m)) };
}

/** One run of a scenario: against the server, or through an RA started for the run (its connector's counts are known when it stops). */
async function measure(b: Bench, s: Scenario, run: number, workers = 1, store: StoreKind = 'sqlite', compare = false): Promise<Measured> {
  let direct: Target = { server: b.server, port: b.port, authorization: b.authorization, rootPem: b.rootPem };
  if (compare) {
    if (!b.compare || s.via !== 'direct') throw new Error(`${s.name}: --compare applies to the direct scenarios only`);
    const c = b.compare;
    const m = await runScenario(b, s, run, { server: c.server, port: c.port, authorization: c.authorization, rootPem: c.rootPem });
    return { ...m, scenario: compareLabel(s.name, true) };
  }
  let clusters = b.clusters;
  if (store === 'postgres') {
    const pg = b.postgres;
    if (!pg) throw new Error(`${s.name}: the PostgreSQL server was not started`);
    if (s.via !== 'direct') throw new Error(`${s.name}: --stores applies to the direct scenarios only`);
    direct = { server: pg.server, port: pg.port, authorization: pg.authorization, rootPem: pg.rootPem, database: pg.database };
    clusters = pg.clusters;
  }
  const cluster = clusters.get(workers);
  if (cluster) {
    if (s.via !== 'direct') throw new Error(`${s.name}: --workers applies to the direct scenarios only`);
    const m = await runScenario(b, s, run, { ...direct, server: cluster.server, port: cluster.port, ...(cluster.cores ? { serverCores: cluster.cores } : {}) });
    return { ...m, scenario: workersLabel(s.name, workers, store) };
  }
  if (s.via === 'direct') return { ...(await runScenario(b, s, run, direct)), scenario: workersLabel(s.name, 1, store) };
  if (s.via === 'hsm') {
    if (!b.hsm) throw new Error(`${s.name}: the SoftHSM2 home was not prepared`);
    return runScenario(b, s, run, { server: b.hsm.server, port: b.hsm.port, authorization: b.hsm.home.authorization, rootPem: b.hsm.home.rootPem });
  }
  if (!b.ra) throw new Error(`${s.name}: the RA home was not prepared`);
  const { home, mainJs, sanityCsr } = b.ra;
  const port = await freePort();
  const cpuProfDir = b.options.cpuProf ? join(b.options.cpuProf, 'ra') : undefined;
  const core = b.options.raCore ?? b.serverCore;
  const { result: m, counts } = await withRa({ mainJs, ra: home, port, core, sanityCsr, ...(cpuProfDir ? { cpuProfDir } : {}) }, (server) =>
    runScenario(b, s, run, {
      server, port, authorization: home.authorization, rootPem: home.rootPem, upstream: { server: b.server, port: b.port }, frontElsewhere: core !== b.serverCore,
    }));
  m.ra = { ...m.ra!, upstreamRequests: counts.requests, upstreamHandshakes: counts.handshakes, handshakesPerThousand: (1000 * counts.handshakes) / counts.requests };
  return m;
}

// ---- main ----

async function main(): Promise<void> {
  if (process.argv.includes('--as-driver')) return runDriver();
  let o: Options;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const nativeMissing = o.engine === 'native' ? nativeLoadError() : undefined;
  if (nativeMissing) {
    log(`\n*** bench: the native load driver is not available, falling back to --driver node (Node's https client: about one\n` +
      `*** driver core per 1,000 new TLS connections/s, so the new-connection scenarios may measure the driver, not the server).\n` +
      `*** ${nativeMissing}\n*** Rebuild it with \`npm run install\` (node-gyp: needs g++, make, python3).\n`);
    o.engine = 'node';
  }
  const self = fileURLToPath(import.meta.url);
  const mainJs = join(dirname(self), '..', 'cli', 'main.js');
  const cores = cpuCount();
  const taskset = tasksetAvailable();
  const serverCore = taskset ? 0 : undefined;
  const loadCores = taskset && cores >= 2 ? Array.from({ length: cores - 1 }, (_, i) => i + 1) : [];
  const driverCount = o.drivers ?? Math.max(1, loadCores.length);
  const pinning = {
    cores, taskset,
    server: serverCore === undefined ? 'not pinned (taskset not found)' : 'taskset -c 0',
    drivers: loadCores.length ? `taskset -c ${loadCores.join(',')} (round robin)` : taskset ? 'not pinned (one core: shares it with the server)' : 'not pinned (taskset not found)',
    bench: loadCores.length && pinPid(process.pid, loadCores[0]!) ? `core ${loadCores[0]}` : 'not pinned',
  };
  log(`estuary bench: ${cores} cores; server ${pinning.server}; ${driverCount} ${o.engine} driver process(es) ${pinning.drivers}; this process ${pinning.bench}`);
  const idleBefore = coreTimes();
  await sleep(1000);
  const busyBefore = coreUse(idleBefore, coreTimes()).map((c) => c.busy);
  if (busyBefore.some((b) => b > 15)) {
    log(`warning: the machine is busy before the bench starts (cores ${busyBefore.map((b) => f(b, 0) + '%').join('/')} busy): expect noisy results`);
  }

  const tmp = mkdtempSync(join(tmpdir(), 'estuary-bench-'));
  const home = join(tmp, 'home');
  let server: ServerProcess | undefined;
  const clusters: Bench['clusters'] = new Map();
  const postgresMade: Parameters<typeof stopPostgresServers>[0] = { clusters: new Map() };
  let postgresExit: string | undefined;
  let hsm: HsmServer | undefined;
  let compare: CompareServer | undefined;
  let hsmSkipped: string | undefined;
  let hsmServerExit: string | undefined;
  const drivers: Driver[] = [];
  const cleanup = async (): Promise<string | undefined> => {
    for (const d of drivers) if (d.child.exitCode === null && d.child.connected) d.send({ type: 'exit' });
    if (hsm) hsmServerExit = await hsm.server.stop();
    hsm = undefined;
    for (const c of clusters.values()) await c.server.stop();
    clusters.clear();
    if (compare) await compare.server.stop();
    compare = undefined;
    postgresExit = (await stopPostgresServers(postgresMade)) ?? postgresExit;
    const exit = server ? await server.stop() : undefined;
    server = undefined;
    rmSync(tmp, { recursive: true, force: true });
    return exit;
  };
  process.once('SIGINT', () => {
    void cleanup().finally(() => process.exit(130));
  });
  try {
    const init: InitJson = initHome(mainJs, home);
    const rootPem = readFileSync(join(home, 'ca', 'root.pem'), 'utf8');
    const authorization = 'Basic ' + Buffer.from(`${init.estAccount.email}:${init.estAccount.password}`).toString('base64');
    const port = await freePort();
    server = await startServer({ mainJs, home, port, core: serverCore, cpuProfDir: o.cpuProf });
    const allowed = (pid: number): string => /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
    log(`server pid ${server.pid} on https://127.0.0.1:${port}${EST} (CPUs allowed: ${allowed(server.pid)})`);

    const t0 = Date.now();
    const bodies = csrPool(o.csrPool);
    const first = parseCsr(decodeBase64Body(bodies[0]!));
    if (!verifyCsrSignature(first)) throw new Error('the generated CSR does not verify');
    log(`${bodies.length} distinct P-256 CSRs generated in ${Date.now() - t0} ms`);
    log(await sanityCheck(`https://127.0.0.1:${port}${EST}`, rootPem, authorization, bodies[0]!));
    await startWorkersServers({
      mainJs, home, workers: o.workers, cores, taskset, loadCores, cpuProf: o.cpuProf, rootPem, authorization, sanityCsr: bodies[0]!, log,
    }, clusters);
    if (o.compare) {
      compare = await startCompareServer({
        dir: o.compare, home: join(tmp, 'compare-home'), core: serverCore, cpuProf: o.cpuProf ? join(o.cpuProf, 'compare') : undefined,
        sanityCsr: bodies[0]!, readRootPem: (h) => readFileSync(join(h, 'ca', 'root.pem'), 'utf8'), log,
      });
    }
    const postgres = o.stores.includes('postgres') ? await startPostgresServers({
      mainJs, home: join(tmp, 'home-postgres'), core: serverCore, workers: o.workers, cores, taskset, loadCores, cpuProf: o.cpuProf, sanityCsr: bodies[0]!, log, made: postgresMade,
    }) : undefined;

    for (let i = 0; i < driverCount; i++) drivers.push(spawnDriver(...pinnedArgv(loadCores.length ? loadCores[i % loadCores.length] : undefined, [process.execPath, self, '--as-driver'])));
    for (const d of drivers) d.send({ type: 'init', bodies });
    for (const d of drivers) await expectFrom(d, 'ready');
    log(`drivers: ${drivers.map((d) => `pid ${d.child.pid} (CPUs allowed: ${allowed(d.child.pid!)})`).join(', ')}`);

    let ra: Bench['ra'];
    if (o.scenarios.some((s) => s.via === 'ra')) {
      // the RA's home: its profile issues through an est connector to the server above (its upstream)
      const raHome = prepareRaHome({ mainJs, home: join(tmp, 'ra-home'), upstreamHome: home, upstreamPort: port, upstreamInit: init, ...(o.raPool ? { maxConnections: o.raPool } : {}) });
      ra = { home: raHome, mainJs, sanityCsr: bodies[0]! };
      log(`RA home ${raHome.home}: cas.upstream (type est, maxConnections ${o.raPool ?? 'default'}) → https://127.0.0.1:${port}, profile default issues through it; the RA starts for each run ${o.raCore === undefined ? pinning.server : `on core ${o.raCore}`}`);
    }
    if (o.scenarios.some((s) => s.via === 'hsm')) {
      ({ hsm, skipped: hsmSkipped } = await hsmForBench({ mainJs, dir: tmp, core: serverCore, sanityCsr: bodies[0]!, sessions: o.hsmSessions, cpuProf: o.cpuProf, log }));
      if (hsmSkipped) o.scenarios = o.scenarios.filter((s) => s.via !== 'hsm');
    }
    const bench: Bench = {
      options: o, server, port, drivers, driverCores: Math.max(1, Math.min(driverCount, loadCores.length || 1)), authorization, rootPem,
      serverCore, loadCores, ...(ra ? { ra } : {}), ...(hsm ? { hsm } : {}), clusters, ...(postgres ? { postgres } : {}), ...(compare ? { compare } : {}),
    };
    // every direct scenario against each --workers count, alternating within a run
    // ... and on each --stores store; --compare: then against the other build, right after this build's
    const plan = o.scenarios.flatMap((s) => (s.via === 'direct' ? o.stores : ['sqlite' as const]).flatMap((store) =>
      (s.via === 'direct' ? o.workers : [1]).flatMap((n) => [
        { s, n, store, cmp: false, label: workersLabel(s.name, n, store) },
        ...(compare && s.via === 'direct' && n === 1 && store === 'sqlite' ? [{ s, n, store, cmp: true, label: compareLabel(s.name, true) }] : []),
      ])));
    const measured = new Map<string, Measured[]>(plan.map((p) => [p.label, []]));
    for (let run = 1; run <= o.runs; run++) {
      for (const { s, n, store, cmp, label } of plan) {
        const m = await measure(bench, s, run, n, store, cmp);
        measured.get(label)!.push(m);
        log(`run ${run}/${o.runs} ${label.padEnd(19)} ${f(m.requestsPerSecond)} req/s  p50 ${f(m.p50Ms, 2)} ms  p99 ${f(m.p99Ms, 2)} ms  errors ${m.errors}  ` +
          `server CPU ${f(m.serverCpuPercent, 0)}% (+${f(m.serverCoreIowaitPercent, 0)}% iowait)  driver CPU ${f(m.driverCpuPercent, 0)}%  ` +
          `cores busy ${m.coreBusyPercent.map((c) => f(c, 0) + '%').join('/')}  RSS ${f(m.serverPeakRssMb)} MiB` +
          `${m.handshakes === undefined ? '' : `  TLS handshakes ${m.handshakes} (${m.resumed} resumed)`}  → ${m.bottleneck}`);
        if (m.ra) {
          log(`  RA CPU ${f(m.ra.raCpuPercent, 0)}%  upstream CPU ${f(m.ra.upstreamCpuPercent, 0)}%  forwarded ${m.ra.upstreamRequests}  ` +
            `upstream TLS handshakes ${m.ra.upstreamHandshakes} (${f(m.ra.handshakesPerThousand, 2)} per 1,000)  open at end of window ${m.ra.upstreamConnectionsOpen}`);
        }
        if (m.database) {
          log(`  database CPU ${f(m.database.databaseCpuPercent, 0)}% (${m.database.backends} backends)  ` +
            `${f(m.database.requestsPerServerAndDatabaseCpuSecond, 0)} req per (Estuary + database) CPU-second`);
        }
        if (m.firstError) log(`  first error: ${m.firstError}`);
        await sleep(500); // let closed connections settle between scenarios
      }
    }
    const summaries: Summary[] = plan.map((p) => summarize(p.label, p.cmp ? `${p.s.what}, the build in ${o.compare}` :
      [p.s.what, ...(p.n === 1 ? [] : [`serve --workers ${p.n}`]), ...(p.store === 'sqlite' ? [] : [`store ${p.store}`])].join(', '), measured.get(p.label)!));
    const compared = compareRows(summaries, measured);
    const by = (name: string): Summary | undefined => summaries.find((x) => x.scenario === name);
    const newconn = ratio(by('enroll-newconn'), by('cacerts-newconn'));
    const raOverDirect = ratio(by('enroll-ra-keepalive'), by('enroll-keepalive'));
    const hsmOverSoftware = ratio(by('enroll-hsm-keepalive'), by('enroll-keepalive'));

    const serverExit = await cleanup();
    let profile: ReturnType<typeof summarizeCpuProfile> & { file: string } | undefined;
    let raProfile: typeof profile;
    let hsmProfile: typeof profile;
    let postgresProfile: typeof profile;
    if (o.cpuProf) {
      const file = newestCpuProfile(o.cpuProf);
      const windows = [...measured.values()].flat().map((m) => m.windowMonotonicUs);
      if (file) profile = { file, ...summarizeCpuProfile(file, windows) };
      // the RA of the last run through it
      const raFile = ra ? newestCpuProfile(join(o.cpuProf, 'ra')) : undefined;
      if (raFile) raProfile = { file: raFile, ...summarizeCpuProfile(raFile, windows) };
      const hsmFile = hsmSkipped || !o.scenarios.some((s) => s.via === 'hsm') ? undefined : newestCpuProfile(join(o.cpuProf, 'hsm'));
      if (hsmFile) hsmProfile = { file: hsmFile, ...summarizeCpuProfile(hsmFile, windows) };
      // the one-process server on PostgreSQL
      const pgFile = o.stores.includes('postgres') ? newestCpuProfile(join(o.cpuProf, 'postgres')) : undefined;
      if (pgFile) postgresProfile = { file: pgFile, ...summarizeCpuProfile(pgFile, windows) };
    }

    if (o.json) {
      process.stdout.write(JSON.stringify({
        config: {
          concurrency: o.concurrency, durationS: o.duration, warmupS: o.warmup, runs: o.runs, drivers: driverCount, driver: o.engine,
          ...(nativeMissing ? { driverFallback: nativeMissing } : {}), csrPool: o.csrPool, verifyTls: o.verifyTls, ...(o.raPool ? { raPool: o.raPool } : {}), ...(o.raCore !== undefined ? { raCore: o.raCore } : {}),
          ...(o.hsmSessions ? { hsmSessions: o.hsmSessions } : {}), stores: o.stores,
        },
        pinning, coreBusyBeforePercent: busyBefore, node: process.version, serverExit, scenarios: summaries,
        enrollNewconnOverCacertsNewconnPercent: newconn?.rate, enrollNewconnOverCacertsNewconnPerServerCpuPercent: newconn?.perCpu,
        enrollRaOverDirectPercent: raOverDirect?.rate, enrollRaOverDirectPerServerCpuPercent: raOverDirect?.perCpu,
        workersOverOne: workersOverOne(summaries), ...(o.compare ? { compare: { dir: o.compare, thisOverThat: compared } } : {}), storesOverSqlite: storesOverSqlite(summaries), ...(postgresExit ? { postgresServerExit: postgresExit } : {}),
        enrollHsmOverSoftwarePercent: hsmOverSoftware?.rate, enrollHsmOverSoftwarePerServerCpuPercent: hsmOverSoftware?.perCpu, ...(hsmSkipped ? { hsmSkipped } : {}),
        ...(hsmServerExit ? { hsmServerExit } : {}), cpuProfile: profile, raCpuProfile: raProfile, hsmCpuProfile: hsmProfile, postgresCpuProfile: postgresProfile,
      }, null, 2) + '\n');
      return;
    }
    process.stdout.write(textReport({
      summaries,
      setting: `concurrency ${o.concurrency}, ${o.duration} s measured after ${o.warmup} s warm-up, ${o.runs === 1 ? '1 run' : `median of ${o.runs} runs`}; ` +
        `${driverCount} ${o.engine} driver process(es)${nativeMissing ? ' (native driver missing!)' : ''}; server ${pinning.server}` +
        `${ra ? (o.raCore === undefined ? ' (the RA too)' : `, the RA on core ${o.raCore}`) : ''}, drivers ${pinning.drivers}; ${process.version}`,
      loadLine: `load from ${driverCount} ${o.engine} driver process(es); server stopped with ${serverExit}${hsmServerExit ? `, the SoftHSM2 server with ${hsmServerExit}` : ''}` +
        `${postgresExit ? `, the PostgreSQL server with ${postgresExit}` : ''}`,
      ...(profile ? { profile } : {}),
      ...(raProfile ? { raProfile } : {}),
      ...(hsmProfile ? { hsmProfile } : {}),
      ...(postgresProfile ? { postgresProfile } : {}),
      ...(hsmSkipped ? { hsmSkipped } : {}),
      ...(o.hsmSessions ? { hsmSessions: o.hsmSessions } : {}),
    }) + (o.compare ? compareText(o.compare, compared).join('\n') + '\n' : ''));
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});

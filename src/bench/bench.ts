#!/usr/bin/env node
/**
 * `npm run bench`: the EST server as a child process pinned to core 0, driven over TLS on
 * loopback by driver processes pinned to the other core(s). Four closed-loop scenarios at a
 * fixed concurrency; requests/s, latency percentiles, errors, the server's peak RSS and who
 * was the bottleneck (server and driver CPU over the measured window). Options: see USAGE.
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
import {
  coreTimes, coreUse, cpuCount, cpuSeconds, csrPool, freePort, initHome, memoryKb, newestCpuProfile, pinnedArgv, pinPid,
  median, monotonicUs, percentile, resetPeakRss, sanityCheck, startServer, summarizeCpuProfile, table, tasksetAvailable, f, type InitJson, type ServerProcess,
} from './harness.js';
import { fullHandshakes, nativeLoadError } from './native-load.js';

const EST = '/.well-known/est';
const SCENARIOS = [
  { name: 'enroll-keepalive', what: 'simpleenroll, keep-alive', method: 'POST', op: 'simpleenroll', keepAlive: true },
  { name: 'enroll-newconn', what: 'simpleenroll, new TLS connection per request', method: 'POST', op: 'simpleenroll', keepAlive: false },
  { name: 'cacerts-keepalive', what: 'cacerts, keep-alive', method: 'GET', op: 'cacerts', keepAlive: true },
  { name: 'cacerts-newconn', what: 'cacerts, new TLS connection per request', method: 'GET', op: 'cacerts', keepAlive: false },
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
  --json            print the results as JSON`;

function positive(name: string, text: string | undefined, fallback: number, integer = true): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`--${name}: expected a positive ${integer ? 'integer' : 'number'}, got "${text}"`);
  return n;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      concurrency: { type: 'string' }, duration: { type: 'string' }, warmup: { type: 'string' }, runs: { type: 'string' },
      scenarios: { type: 'string' }, drivers: { type: 'string' }, driver: { type: 'string' }, 'csr-pool': { type: 'string' }, 'verify-tls': { type: 'boolean' },
      'cpu-prof': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
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
  };
}

const log = (line: string): boolean => process.stderr.write(line + '\n');

// ---- one measured scenario ----

interface Measured {
  scenario: string;
  run: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  errors: number;
  firstError?: string;
  /** Native engine: TLS handshakes (whole run) and how many resumed a session; undefined for node. */
  handshakes?: number;
  resumed?: number;
  serverPeakRssMb: number;
  /** Server user+system CPU over the window, percent of one core. */
  serverCpuPercent: number;
  /** Requests per second of server CPU: the server's capacity on one core, whoever was the bottleneck. */
  requestsPerServerCpuSecond: number;
  /** All drivers' CPU over the window, percent of the cores they run on. */
  driverCpuPercent: number;
  /** Busy time of each core over the window (kernel network work included). */
  coreBusyPercent: number[];
  /** Busy time of the server's core not spent by the server process: kernel work and other load (noise). */
  serverCoreOtherPercent: number;
  /** The server's core idle while the server waited for the disk (its event loop blocked in fsync). */
  serverCoreIowaitPercent: number;
  /** Busy time of the driver core(s), median. */
  driverCoreBusyPercent: number;
  /** The measured window on CLOCK_MONOTONIC (µs), to cut the server's CPU profile to it. */
  windowMonotonicUs: [number, number];
  bottleneck: string;
}

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
}

/**
 * Who limits the rate. A process that used ≥ 90% of its core over the window is saturated. The
 * server's core is also used up when its CPU, the core's I/O wait (the event loop blocked in
 * fsync) and the rest of the core's busy time (kernel network work, or other load) reach 90%.
 */
function verdict(m: Pick<Measured, 'serverCpuPercent' | 'serverCoreOtherPercent' | 'serverCoreIowaitPercent' | 'driverCpuPercent' | 'driverCoreBusyPercent'>): string {
  const limits: string[] = [];
  if (m.serverCpuPercent >= 90) limits.push('server CPU');
  else if (m.serverCpuPercent + m.serverCoreIowaitPercent + m.serverCoreOtherPercent >= 90) {
    if (m.serverCoreOtherPercent >= 15) limits.push('server core (shared with other load)');
    else limits.push(m.serverCoreIowaitPercent >= 5 ? 'server (CPU + disk waits)' : 'server (CPU + kernel)');
  }
  if (m.driverCpuPercent >= 90) limits.push('driver CPU');
  else if (m.driverCoreBusyPercent >= 90 && m.driverCoreBusyPercent - m.driverCpuPercent >= 15) limits.push('driver core (shared with other load)');
  return limits.length ? limits.join(' + ') : 'neither';
}

async function runScenario(b: Bench, s: Scenario, run: number): Promise<Measured> {
  const { options: o, server, drivers } = b;
  // VmHWM is reset so that each scenario reports its own peak; VmRSS is polled as well.
  const peakReset = resetPeakRss(server.pid);
  let rssPeakKb = memoryKb(server.pid)?.rss ?? 0;
  const poll = setInterval(() => {
    rssPeakKb = Math.max(rssPeakKb, memoryKb(server.pid)?.rss ?? 0);
  }, 100);
  const measureStart = wallNow() + o.warmup * 1000 + 100;
  const measureEnd = measureStart + o.duration * 1000;
  // The concurrency is split across the drivers; every driver starts at a different CSR.
  const shares = drivers.map((_, i) => Math.floor(o.concurrency / drivers.length) + (i < o.concurrency % drivers.length ? 1 : 0));
  const active = drivers.filter((_, i) => shares[i]! > 0);
  drivers.forEach((d, i) => {
    const spec: RunSpec = {
      engine: o.engine, host: '127.0.0.1', port: b.port, method: s.method, path: `${EST}/${s.op}`, keepAlive: s.keepAlive, concurrency: shares[i]!,
      measureStart, measureEnd,
      ...(s.op === 'simpleenroll' ? { authorization: b.authorization, contentType: 'application/pkcs10', bodyOffset: i * 977 } : {}),
      ...(o.verifyTls ? { ca: b.rootPem } : {}),
    };
    if (spec.concurrency > 0) d.send({ type: 'run', spec });
  });
  const snapshot = () => ({
    at: wallNow(), mono: monotonicUs(), cores: coreTimes(),
    server: cpuSeconds(server.pid) ?? NaN, drivers: active.map((d) => cpuSeconds(d.child.pid!) ?? NaN),
  });
  await sleep(Math.max(0, measureStart - wallNow()));
  const before = snapshot();
  await sleep(Math.max(0, measureEnd - wallNow()));
  const after = snapshot();
  const results: RunResult[] = [];
  for (const d of active) results.push((await expectFrom(d, 'result')).result);
  clearInterval(poll);
  const mem = memoryKb(server.pid);
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
  const serverCpu = (100 * (after.server - before.server)) / windowS;
  const driverCpu = (100 * after.drivers.reduce((n, v, i) => n + v - before.drivers[i]!, 0)) / windowS / b.driverCores;
  const firstError = results.find((r) => r.firstError)?.firstError;
  const tls = fullHandshakes(s.name, results) ?? {};
  const cores = coreUse(before.cores, after.cores);
  const serverCore = b.serverCore === undefined ? undefined : cores[b.serverCore];
  const m = {
    scenario: s.name, run, requestsPerSecond: ok / o.duration, p50Ms: percentile(all, 0.5), p99Ms: percentile(all, 0.99), ok,
    errors: results.reduce((n, r) => n + r.errors, 0), ...(firstError ? { firstError } : {}), ...tls,
    serverPeakRssMb: rssPeakKb / 1024, serverCpuPercent: serverCpu, requestsPerServerCpuSecond: (100 * ok) / o.duration / serverCpu, driverCpuPercent: driverCpu,
    coreBusyPercent: cores.map((c) => c.busy), serverCoreOtherPercent: (serverCore?.busy ?? NaN) - serverCpu,
    serverCoreIowaitPercent: serverCore?.iowait ?? NaN, driverCoreBusyPercent: median(b.loadCores.map((c) => cores[c]?.busy ?? NaN)),
    windowMonotonicUs: [before.mono, after.mono] as [number, number],
  };
  return { ...m, bottleneck: verdict(m) };
}

// ---- output ----

type MedianKey = 'requestsPerSecond' | 'p50Ms' | 'p99Ms' | 'serverCpuPercent' | 'requestsPerServerCpuSecond' | 'serverCoreOtherPercent'
  | 'serverCoreIowaitPercent' | 'driverCpuPercent' | 'driverCoreBusyPercent';

/** Medians over the runs; errors are summed (warm-up included), peak RSS is the maximum. */
type Summary = Record<MedianKey, number> & {
  scenario: string;
  description: string;
  errors: number;
  firstError?: string;
  /** Summed over the runs (native engine). */
  handshakes?: number;
  resumed?: number;
  serverPeakRssMb: number;
  /** Judged on the medians; each run keeps its own verdict too. */
  bottleneck: string;
  runs: Measured[];
};

function summarize(s: Scenario, runs: Measured[]): Summary {
  const keys: MedianKey[] = ['requestsPerSecond', 'p50Ms', 'p99Ms', 'serverCpuPercent', 'requestsPerServerCpuSecond', 'serverCoreOtherPercent',
    'serverCoreIowaitPercent', 'driverCpuPercent', 'driverCoreBusyPercent'];
  const medians = Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[k]))])) as Record<MedianKey, number>;
  const firstError = runs.find((r) => r.firstError)?.firstError;
  const counted = runs.every((r) => r.handshakes !== undefined);
  return {
    scenario: s.name, description: s.what, ...medians,
    errors: runs.reduce((n, r) => n + r.errors, 0), ...(firstError ? { firstError } : {}),
    ...(counted ? { handshakes: runs.reduce((n, r) => n + r.handshakes!, 0), resumed: runs.reduce((n, r) => n + r.resumed!, 0) } : {}),
    serverPeakRssMb: Math.max(...runs.map((r) => r.serverPeakRssMb)),
    bottleneck: verdict(medians), runs,
  };
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
  const drivers: Driver[] = [];
  const cleanup = async (): Promise<string | undefined> => {
    for (const d of drivers) if (d.child.exitCode === null && d.child.connected) d.send({ type: 'exit' });
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

    for (let i = 0; i < driverCount; i++) drivers.push(spawnDriver(...pinnedArgv(loadCores.length ? loadCores[i % loadCores.length] : undefined, [process.execPath, self, '--as-driver'])));
    for (const d of drivers) d.send({ type: 'init', bodies });
    for (const d of drivers) await expectFrom(d, 'ready');
    log(`drivers: ${drivers.map((d) => `pid ${d.child.pid} (CPUs allowed: ${allowed(d.child.pid!)})`).join(', ')}`);

    const bench: Bench = {
      options: o, server, port, drivers, driverCores: Math.max(1, Math.min(driverCount, loadCores.length || 1)), authorization, rootPem,
      serverCore, loadCores,
    };
    const measured = new Map<string, Measured[]>(o.scenarios.map((s) => [s.name, []]));
    for (let run = 1; run <= o.runs; run++) {
      for (const s of o.scenarios) {
        const m = await runScenario(bench, s, run);
        measured.get(s.name)!.push(m);
        log(`run ${run}/${o.runs} ${s.name.padEnd(17)} ${f(m.requestsPerSecond)} req/s  p50 ${f(m.p50Ms, 2)} ms  p99 ${f(m.p99Ms, 2)} ms  errors ${m.errors}  ` +
          `server CPU ${f(m.serverCpuPercent, 0)}% (+${f(m.serverCoreIowaitPercent, 0)}% iowait)  driver CPU ${f(m.driverCpuPercent, 0)}%  ` +
          `cores busy ${m.coreBusyPercent.map((c) => f(c, 0) + '%').join('/')}  RSS ${f(m.serverPeakRssMb)} MiB` +
          `${m.handshakes === undefined ? '' : `  TLS handshakes ${m.handshakes} (${m.resumed} resumed)`}  → ${m.bottleneck}`);
        if (m.firstError) log(`  first error: ${m.firstError}`);
        await sleep(500); // let closed connections settle between scenarios
      }
    }
    const summaries = o.scenarios.map((s) => summarize(s, measured.get(s.name)!));
    const by = (name: string): Summary | undefined => summaries.find((x) => x.scenario === name);
    const enrollNew = by('enroll-newconn');
    const cacertsNew = by('cacerts-newconn');
    const ratio = enrollNew && cacertsNew ? (100 * enrollNew.requestsPerSecond) / cacertsNew.requestsPerSecond : undefined;
    const cpuRatio = enrollNew && cacertsNew ? (100 * enrollNew.requestsPerServerCpuSecond) / cacertsNew.requestsPerServerCpuSecond : undefined;

    const serverExit = await cleanup();
    let profile: ReturnType<typeof summarizeCpuProfile> & { file: string } | undefined;
    if (o.cpuProf) {
      const file = newestCpuProfile(o.cpuProf);
      const windows = [...measured.values()].flat().map((m) => m.windowMonotonicUs);
      if (file) profile = { file, ...summarizeCpuProfile(file, windows) };
    }

    if (o.json) {
      process.stdout.write(JSON.stringify({
        config: {
          concurrency: o.concurrency, durationS: o.duration, warmupS: o.warmup, runs: o.runs, drivers: driverCount, driver: o.engine,
          ...(nativeMissing ? { driverFallback: nativeMissing } : {}), csrPool: o.csrPool, verifyTls: o.verifyTls,
        },
        pinning, coreBusyBeforePercent: busyBefore, node: process.version, serverExit, scenarios: summaries, enrollNewconnOverCacertsNewconnPercent: ratio,
        enrollNewconnOverCacertsNewconnPerServerCpuPercent: cpuRatio, cpuProfile: profile,
      }, null, 2) + '\n');
      return;
    }
    const rows = [['scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'resumed', 'peak RSS MiB', 'server CPU', 'req/server-CPU-s', 'core 0 iowait', 'core 0 other', 'driver CPU', 'bottleneck']];
    for (const s of summaries) {
      rows.push([
        s.scenario, f(s.requestsPerSecond), f(s.p50Ms, 2), f(s.p99Ms, 2), String(s.errors),
        s.handshakes === undefined ? '-' : `${s.resumed}/${s.handshakes}`, f(s.serverPeakRssMb),
        `${f(s.serverCpuPercent, 0)}%`, f(s.requestsPerServerCpuSecond, 0), `${f(s.serverCoreIowaitPercent, 0)}%`, `${f(s.serverCoreOtherPercent, 0)}%`,
        `${f(s.driverCpuPercent, 0)}%`, s.bottleneck,
      ]);
    }
    const out: string[] = [
      '',
      `concurrency ${o.concurrency}, ${o.duration} s measured after ${o.warmup} s warm-up, ${o.runs === 1 ? '1 run' : `median of ${o.runs} runs`}; ` +
        `${driverCount} ${o.engine} driver process(es)${nativeMissing ? ' (native driver missing!)' : ''}; server ${pinning.server}, drivers ${pinning.drivers}; ${process.version}`,
      'server CPU = user+system time of the server process over the window, % of one core; req/server-CPU-s = req/s ÷ server CPU,',
      'the server\'s one-core capacity even when the driver limits the rate; core 0 iowait = the server\'s core idle while it waited',
      'for the disk (fsync on the event loop); core 0 other = core 0 busy time not used by the server (kernel network work, other',
      'load on the machine); driver CPU = % of the driver core(s); saturated = ≥ 90%; errors = non-200 answers, warm-up included;',
      'resumed = TLS handshakes that resumed a session / all handshakes, warm-up included (native driver; any resumption fails the bench)',
      '',
      table(rows),
    ];
    if (ratio !== undefined) {
      out.push('', `enroll-newconn / cacerts-newconn = ${f(ratio)}% of the trivial-GET-over-new-connections rate` +
        ` (${f(cpuRatio!)}% per server CPU-second)`);
    }
    for (const s of summaries) if (s.firstError) out.push(`first error in ${s.scenario}: ${s.firstError}`);
    out.push(`load from ${driverCount} ${o.engine} driver process(es); server stopped with ${serverExit}`);
    if (profile) {
      out.push('', `server CPU profile ${profile.file}, measured windows only: ${f(profile.totalMs / 1000)} s busy, ` +
        `${f(profile.idleMs / 1000)} s idle (native work outside JS, e.g. TLS, may count as idle); top self time:`);
      out.push(table([['function', 'self ms', '%', 'where'], ...profile.functions.map((h) => [h.name, f(h.selfMs, 0), f(h.percent), h.where])]));
      out.push('', 'self time by file:');
      out.push(table([['file', 'self ms', '%'], ...profile.files.slice(0, 15).map((h) => [h.name, f(h.selfMs, 0), f(h.percent)])]));
    }
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});

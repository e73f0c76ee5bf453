#!/usr/bin/env node
/**
 * `npm run bench:webra -- --dataset 1m`: the Web RA at real size (issue #14). A fresh home gets the
 * cached data set (src/bench/dataset.ts); the server runs pinned to core 0 with its Web RA listener.
 * 1. Latency of each Web RA list, search, lookup and dashboard call: `--calls` sequential calls per
 *    scenario over one keep-alive connection, each with a different argument; median and p95.
 * 2. Keep-alive simpleenroll from driver processes on the other core(s): p50/p99 idle, then again
 *    while an operator runs one of the searches every `--search-every` ms.
 */
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { cachedDataset, datasetSize, installDataset, DATASET_PROFILE } from './dataset.js';
import { expectFrom, runDriver, spawnDriver, wallNow, type Driver, type Engine } from './driver.js';
import { cpuCount, csrPool, f, freePort, initHome, median, percentile, pinnedArgv, startServer, table, tasksetAvailable, type ServerProcess } from './harness.js';
import { nativeLoadError } from './native-load.js';

const USAGE = `usage: npm run bench:webra -- [options]
  --dataset SIZE        certificates in the data set: 1m (default), 200k, 50000 ...
  --calls N             calls per Web RA scenario (default 30)
  --enroll-duration S   measured seconds of each enrollment run (default 10; 0 skips the enrollment runs)
  --concurrency N       enrollment clients (default 16)
  --search-every MS     the operator's search interval during the loaded run (default 2000)
  --enroll-pairs N      idle and loaded enrollment runs, alternated, N of each (default 2)
  --dataset-dir DIR     where data sets are cached (default: $TMPDIR/estuary-dataset)
  --json                print the results as JSON`;

const log = (line: string): boolean => process.stderr.write(line + '\n');

interface WebRa {
  agent: Agent;
  port: number;
  rootPem: string;
  cookie: string;
}

function call(w: WebRa, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = request({
      host: '127.0.0.1', port: w.port, path, method, agent: w.agent, ca: w.rootPem, servername: 'localhost',
      headers: { accept: 'application/json', ...(w.cookie ? { cookie: w.cookie } : {}), ...(text ? { 'content-type': 'application/json' } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        if (method === 'POST' && path === '/api/session') {
          w.cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!).find((c) => c.startsWith('estuary_session=')) ?? '';
        }
        let json: unknown;
        try {
          json = raw ? JSON.parse(raw) : undefined;
        } catch {
          json = raw;
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(text);
  });
}

interface Scenario {
  name: string;
  /** The i-th call's path: every call asks something different. */
  path: (i: number) => string;
}

function scenarios(serials: string[], certificates: number): Scenario[] {
  const pick = (i: number) => serials[(i * 7919) % serials.length]!;
  const host = (i: number) => `-${String((i * 104_729) % certificates).padStart(7, '0')}.`;
  return [
    { name: 'dashboard', path: () => '/api/dashboard' },
    { name: 'certificates newest', path: (i) => `/api/certificates?limit=50&offset=${(i % 3) * 50}` },
    { name: 'certificates profile+valid', path: (i) => `/api/certificates?profile=${i % 2 ? 'default' : DATASET_PROFILE(1 + (i % 49))}&status=valid&limit=50` },
    { name: 'certificates profile+revoked', path: (i) => `/api/certificates?profile=${i % 2 ? 'default' : DATASET_PROFILE(1 + (i % 49))}&status=revoked&limit=50` },
    { name: 'certificates status=expired', path: () => '/api/certificates?status=expired&limit=50' },
    { name: 'search q=host', path: (i) => `/api/certificates?q=${encodeURIComponent(host(i))}&limit=50` },
    { name: 'search q=site', path: (i) => `/api/certificates?q=site-${i % 400}.example&limit=50` },
    { name: 'search subject+profile', path: (i) => `/api/certificates?subject=site-${i % 400}.&profile=default&limit=50` },
    { name: 'search san=IP prefix', path: (i) => `/api/certificates?san=IP:10.${i % 256}.${(i * 7) % 256}.&limit=50` },
    { name: 'search serial exact', path: (i) => `/api/certificates?serial=${pick(i)}` },
    { name: 'search serial prefix', path: (i) => `/api/certificates?serial=${pick(i).slice(0, 6)}` },
    { name: 'search q=serial part', path: (i) => `/api/certificates?q=${pick(i).slice(4, 14)}` },
    { name: 'expiring in 30 days', path: () => '/api/certificates?status=valid&expiresWithinDays=30&limit=50' },
    { name: 'certificate detail', path: (i) => `/api/certificates/${pick(i)}` },
    { name: 'audit newest', path: (i) => `/api/audit?limit=50&offset=${(i % 3) * 50}` },
    { name: 'audit by actor', path: (i) => `/api/audit?actor=officer-${i % 20}@example.com&limit=50` },
    { name: 'requests pending', path: () => '/api/requests?status=pending&limit=50' },
    { name: 'requests all', path: () => '/api/requests?status=all&limit=50' },
  ];
}

interface Latency {
  scenario: string;
  calls: number;
  medianMs: number;
  p95Ms: number;
  maxMs: number;
  statuses: string;
  total?: string;
}

async function measureCalls(w: WebRa, s: Scenario, calls: number): Promise<Latency> {
  const times: number[] = [];
  const statuses = new Map<number, number>();
  let total: string | undefined;
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    const r = await call(w, 'GET', s.path(i));
    times.push(performance.now() - t0);
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    if (r.status === 200 && typeof r.json?.total === 'number') total ??= `${r.json.total}${r.json.totalIsLowerBound ? '+' : ''}`;
  }
  const sorted = Float64Array.from(times).sort();
  return {
    scenario: s.name, calls, medianMs: median(times), p95Ms: percentile(sorted, 0.95), maxMs: sorted[sorted.length - 1]!,
    statuses: [...statuses].map(([k, n]) => `${k}×${n}`).join(' '), ...(total !== undefined ? { total } : {}),
  };
}

interface EnrollRun {
  run: string;
  ok: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  operatorCalls?: number;
  operatorMedianMs?: number;
  operatorStatuses?: string;
}

async function enrollRun(drivers: Driver[], engine: Engine, port: number, authorization: string, concurrency: number, durationS: number,
  operator?: { w: WebRa; scenarios: Scenario[]; everyMs: number }): Promise<EnrollRun> {
  const measureStart = wallNow() + 2000;
  const measureEnd = measureStart + durationS * 1000;
  drivers.forEach((d, i) => d.send({
    type: 'run', spec: {
      engine, host: '127.0.0.1', port, method: 'POST', path: '/.well-known/est/simpleenroll', keepAlive: true,
      concurrency: Math.floor(concurrency / drivers.length) + (i < concurrency % drivers.length ? 1 : 0),
      measureStart, measureEnd, authorization, contentType: 'application/pkcs10', bodyOffset: i * 977,
    },
  }));
  const opTimes: number[] = [];
  const opStatuses = new Map<number, number>();
  if (operator) {
    let i = 0;
    while (wallNow() < measureEnd) {
      const s = operator.scenarios[i % operator.scenarios.length]!;
      const t0 = performance.now();
      const r = await call(operator.w, 'GET', s.path(i++));
      opTimes.push(performance.now() - t0);
      opStatuses.set(r.status, (opStatuses.get(r.status) ?? 0) + 1);
      await sleep(Math.max(0, operator.everyMs - (performance.now() - t0)));
    }
  }
  const results = [];
  for (const d of drivers) results.push((await expectFrom(d, 'result')).result);
  const all = Float64Array.from(results.flatMap((r) => [...r.latencies])).sort();
  return {
    run: operator ? `operator search every ${operator.everyMs} ms` : 'idle', ok: results.reduce((n, r) => n + r.ok, 0),
    errors: results.reduce((n, r) => n + r.errorsInWindow, 0), p50Ms: percentile(all, 0.5), p99Ms: percentile(all, 0.99),
    ...(operator ? { operatorCalls: opTimes.length, operatorMedianMs: median(opTimes), operatorStatuses: [...opStatuses].map(([k, n]) => `${k}×${n}`).join(' ') } : {}),
  };
}

async function main(): Promise<void> {
  if (process.argv.includes('--as-driver')) return runDriver();
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      dataset: { type: 'string' }, calls: { type: 'string' }, 'enroll-duration': { type: 'string' }, concurrency: { type: 'string' },
      'search-every': { type: 'string' }, 'enroll-pairs': { type: 'string' }, 'dataset-dir': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const size = datasetSize(values.dataset ?? '1m');
  const calls = Number(values.calls ?? 30);
  const enrollS = Number(values['enroll-duration'] ?? 10);
  const concurrency = Number(values.concurrency ?? 16);
  const everyMs = Number(values['search-every'] ?? 2000);
  const pairs = Number(values['enroll-pairs'] ?? 2);
  const self = fileURLToPath(import.meta.url);
  const mainJs = join(dirname(self), '..', 'cli', 'main.js');
  const taskset = tasksetAvailable();
  const serverCore = taskset ? 0 : undefined;
  const loadCores = taskset && cpuCount() >= 2 ? Array.from({ length: cpuCount() - 1 }, (_, i) => i + 1) : [];
  const engine: Engine = nativeLoadError() ? 'node' : 'native';

  const tmp = mkdtempSync(join(tmpdir(), 'estuary-webra-bench-'));
  let server: ServerProcess | undefined;
  const drivers: Driver[] = [];
  try {
    const home = join(tmp, 'home');
    const init = initHome(mainJs, home);
    const dataset = cachedDataset(size, new Date(), log, values['dataset-dir']);
    const t0 = Date.now();
    const { migrateMs } = installDataset(dataset, join(home, 'estuary.db'), size);
    log(`data set installed in ${home} in ${Date.now() - t0} ms (${migrateMs === undefined ? 'migrated copy reused' : `schema migrations on a copy of the data set: ${migrateMs} ms`})`);
    const port = await freePort();
    const adminPort = await freePort();
    const serverStart = Date.now();
    server = await startServer({ mainJs, home, port, adminPort, core: serverCore });
    log(`server pid ${server.pid} listening after ${Date.now() - serverStart} ms (EST ${port}, Web RA ${adminPort}, ${serverCore === undefined ? 'not pinned' : 'core 0'})`);
    const rootPem = readFileSync(join(home, 'ca', 'root.pem'), 'utf8');
    const w: WebRa = { agent: new Agent({ keepAlive: true, maxSockets: 1 }), port: adminPort, rootPem, cookie: '' };
    const signIn = await call(w, 'POST', '/api/session', { email: init.adminAccount.email, password: init.adminAccount.password });
    if (signIn.status !== 200 || !w.cookie) throw new Error(`Web RA sign-in answered ${signIn.status}: ${JSON.stringify(signIn.json)}`);
    const sample = await call(w, 'GET', '/api/certificates?limit=200&offset=1000');
    const serials = (sample.json?.items ?? []).map((c: { serial: string }) => c.serial) as string[];
    if (serials.length === 0) throw new Error(`no certificates listed: ${sample.status} ${JSON.stringify(sample.json).slice(0, 300)}`);

    const list = scenarios(serials, size.certificates);
    await measureCalls(w, list[0]!, 2); // warm the connection and the page cache a little
    const latencies: Latency[] = [];
    for (const s of list) {
      const l = await measureCalls(w, s, calls);
      latencies.push(l);
      log(`${s.name.padEnd(30)} median ${f(l.medianMs, 1).padStart(8)} ms  p95 ${f(l.p95Ms, 1).padStart(8)} ms  ${l.statuses}${l.total ? `  total ${l.total}` : ''}`);
    }

    const enroll: EnrollRun[] = [];
    if (enrollS > 0) {
      const bodies = csrPool(256);
      const authorization = 'Basic ' + Buffer.from(`${init.estAccount.email}:${init.estAccount.password}`).toString('base64');
      const count = Math.max(1, loadCores.length);
      for (let i = 0; i < count; i++) drivers.push(spawnDriver(...pinnedArgv(loadCores.length ? loadCores[i % loadCores.length] : undefined, [process.execPath, self, '--as-driver'])));
      for (const d of drivers) d.send({ type: 'init', bodies });
      for (const d of drivers) await expectFrom(d, 'ready');
      const searches = list.filter((s) => /^(search|certificates|dashboard|audit)/.test(s.name));
      for (const operator of Array.from({ length: pairs }, () => [undefined, { w, scenarios: searches, everyMs }]).flat()) {
        const r = await enrollRun(drivers, engine, port, authorization, concurrency, enrollS, operator);
        enroll.push(r);
        log(`enroll keep-alive ${r.run.padEnd(30)} ok ${r.ok}  errors ${r.errors}  p50 ${f(r.p50Ms, 2)} ms  p99 ${f(r.p99Ms, 2)} ms` +
          (r.operatorCalls ? `  operator: ${r.operatorCalls} calls, median ${f(r.operatorMedianMs!, 1)} ms, ${r.operatorStatuses}` : ''));
        await sleep(500);
      }
    }
    const result = { dataset: size, calls, engine, pinned: serverCore !== undefined, latencies, enroll };
    if (values.json) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      return;
    }
    process.stdout.write(`\nWeb RA at ${size.certificates.toLocaleString('en')} certificates (${size.revoked.toLocaleString('en')} revoked), ` +
      `${size.audit.toLocaleString('en')} audit events, ${size.accounts} accounts, ${size.profiles + 1} profiles; ${calls} calls each\n`);
    process.stdout.write(table([['scenario', 'median ms', 'p95 ms', 'max ms', 'statuses', 'total'],
      ...latencies.map((l) => [l.scenario, f(l.medianMs, 1), f(l.p95Ms, 1), f(l.maxMs, 1), l.statuses, l.total ?? ''])]) + '\n');
    if (enroll.length) {
      process.stdout.write(`\nkeep-alive simpleenroll, ${concurrency} clients, ${enrollS} s each (${engine} driver)\n`);
      process.stdout.write(table([['run', 'ok', 'errors', 'p50 ms', 'p99 ms', 'operator calls', 'operator median ms'],
        ...enroll.map((r) => [r.run, String(r.ok), String(r.errors), f(r.p50Ms, 2), f(r.p99Ms, 2), String(r.operatorCalls ?? ''), r.operatorMedianMs === undefined ? '' : f(r.operatorMedianMs, 1)])]) + '\n');
      const med = (loaded: boolean, k: 'ok' | 'p99Ms') => median(enroll.filter((r) => (r.operatorCalls !== undefined) === loaded).map((r) => r[k]));
      process.stdout.write(`medians: idle ${f(med(false, 'ok'), 0)} ok, p99 ${f(med(false, 'p99Ms'), 2)} ms; with the operator ${f(med(true, 'ok'), 0)} ok, ` +
        `p99 ${f(med(true, 'p99Ms'), 2)} ms (${f((100 * med(true, 'p99Ms')) / med(false, 'p99Ms'), 0)}% of idle)\n`);
    }
  } finally {
    for (const d of drivers) if (d.child.exitCode === null && d.child.connected) d.send({ type: 'exit' });
    if (server) log(`server stopped: ${await server.stop()}`);
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:webra: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});

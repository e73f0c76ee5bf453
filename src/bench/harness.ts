/**
 * Benchmark plumbing: a fresh Estuary home, the server as a pinned child process, /proc
 * readers (CPU time, RSS, per-core busy time), a pool of distinct P-256 CSRs, a sanity check
 * over verified TLS, statistics and table formatting, and a summary of a V8 .cpuprofile.
 * Nothing here is used by the server itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeBase64Body } from '../pki/base64.js';
import { bitString, explicit, octets, oid, seq, set, smallInteger, tlv } from '../pki/der.js';
import { encodeName } from '../pki/names.js';
import { OID } from '../pki/oids.js';
import { parseCertsOnly } from '../pki/signed-data.js';

export interface InitJson {
  estUrl: string;
  rootFingerprintSha256: string;
  estAccount: { email: string; password: string };
  adminAccount: { email: string; password: string };
}

// ---- CPUs and pinning ----

export function cpuCount(): number {
  return availableParallelism();
}

export function tasksetAvailable(): boolean {
  if (process.platform !== 'linux') return false;
  const r = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  return r.status === 0;
}

/** Pin a running process and all of its threads to one core. */
export function pinPid(pid: number, core: number): boolean {
  const r = spawnSync('taskset', ['-a', '-c', '-p', String(core), String(pid)], { stdio: 'ignore' });
  return r.status === 0;
}

/** argv that runs `argv` on `core` or on a list of cores (taskset exec's the program, so the pid is the program's). */
export function pinnedArgv(core: number | readonly number[] | undefined, argv: string[]): [string, string[]] {
  if (core === undefined) return [argv[0]!, argv.slice(1)];
  return ['taskset', ['-c', typeof core === 'number' ? String(core) : core.join(','), ...argv]];
}

// ---- the Estuary home and server ----

/** `estuary init` into `home`; `args` are added (e.g. `--database-url postgres://...`). */
export function initHome(mainJs: string, home: string, args: string[] = []): InitJson {
  const r = spawnSync(process.execPath, [mainJs, 'init', '--home', home, '--json', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`estuary init failed (exit ${r.status}): ${r.stderr || r.stdout}`);
  // Every driver connection comes from 127.0.0.1: no per-client connection cap for the bench.
  const config = join(home, 'estuary.yaml');
  writeFileSync(config, readFileSync(config, 'utf8').replace(/(\n  maxConnectionsPerClient: )\d+/, (_m, head: string) => `${head}0`));
  return JSON.parse(r.stdout) as InitJson;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** SIGTERM (the server drains and exits 0); SIGKILL after `graceMs`. Resolves to the exit code or signal. */
  stop(graceMs?: number): Promise<string>;
}

export interface StartServerOptions {
  mainJs: string;
  home: string;
  port: number;
  /** One core, or several (a `--workers` server: its workers inherit the affinity). */
  core: number | readonly number[] | undefined;
  /** `serve --workers N` when above 1. */
  workers?: number;
  cpuProfDir?: string;
  /** Added to the server's environment (e.g. SOFTHSM2_CONF for a token made for the bench). */
  env?: Record<string, string>;
  /** Start the Web RA listener on this port (default: off). */
  adminPort?: number;
}

export async function startServer(o: StartServerOptions): Promise<ServerProcess> {
  const logFile = join(o.home, 'server.log');
  // the log is appended to: a server started again on the same home is listening when its own line says so
  const from = existsSync(logFile) ? statSync(logFile).size : 0;
  const log = (): string => readFileSync(logFile).subarray(from).toString('utf8');
  const fd = openSync(logFile, 'a');
  const nodeArgs = o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir] : [];
  const [cmd, args] = pinnedArgv(o.core, [process.execPath, ...nodeArgs, o.mainJs, 'serve', '--home', o.home,
    ...(o.workers && o.workers > 1 ? ['--workers', String(o.workers)] : [])]);
  const child = spawn(cmd, args, {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...o.env, ESTUARY_EST_LISTEN: `127.0.0.1:${o.port}`, ESTUARY_CRL_LISTEN: 'off', ESTUARY_ADMIN_LISTEN: o.adminPort === undefined ? 'off' : `127.0.0.1:${o.adminPort}`, ESTUARY_OPS_LISTEN: 'off' },
  });
  closeSync(fd);
  let exited: string | undefined;
  const exit = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = code !== null ? `exit ${code}` : `signal ${signal}`;
      resolve(exited);
    });
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`the server stopped before listening (${exited}); log:\n${log()}`);
    if (log().includes('EST service listening on')) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server did not listen within 30 s; log:\n${log()}`);
    }
    await sleep(50);
  }
  return {
    pid: child.pid!,
    child,
    logFile,
    async stop(graceMs = 15_000) {
      if (exited) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exit;
      clearTimeout(timer);
      return result;
    },
  };
}

// ---- /proc ----

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** user+system CPU seconds of a process (all threads), or undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces: fields are counted after the closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime (14) and stime (15)
  } catch {
    return undefined;
  }
}

/** VmRSS and VmHWM in KiB. */
export function memoryKb(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: field('VmRSS'), hwm: field('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Reset the peak RSS (VmHWM) of a process we own (Linux ≥ 4.0); false when refused. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface CoreTimes {
  busy: number;
  iowait: number;
  total: number;
}

/** Busy, I/O-wait and total jiffies per core from /proc/stat. */
export function coreTimes(): CoreTimes[] {
  try {
    const out: CoreTimes[] = [];
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const v = m[2]!.trim().split(/\s+/).map(Number);
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // guest time is already in user
      const iowait = v[4] ?? 0;
      out[Number(m[1])] = { busy: total - (v[3] ?? 0) - iowait, iowait, total };
    }
    return out;
  } catch {
    return [];
  }
}

export interface CoreUse {
  /** Percent of the interval the core was busy (processes, kernel, interrupts). */
  busy: number;
  /** Percent of the interval the core was idle while a task that last ran on it waited for disk I/O. */
  iowait: number;
}

export function coreUse(before: CoreTimes[], after: CoreTimes[]): CoreUse[] {
  return after.map((a, i) => {
    const b = before[i];
    const span = b ? a.total - b.total : 0;
    if (!b || span <= 0) return { busy: 0, iowait: 0 };
    return { busy: (100 * (a.busy - b.busy)) / span, iowait: (100 * (a.iowait - b.iowait)) / span };
  });
}

// ---- CSRs ----

/** A DER PKCS#10 request for a fresh P-256 key: CN=<cn>, SAN dNSName <cn>.bench.invalid. */
export function buildCsr(cn: string): Buffer {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const sanValue = seq(tlv(0x82, Buffer.from(`${cn}.bench.invalid`, 'latin1')));
  const extensionRequest = seq(oid(OID.extensionRequest), set(seq(seq(oid(OID.subjectAltName), octets(sanValue)))));
  const info = seq(smallInteger(0), encodeName(`CN=${cn}`), spki, explicit(0, extensionRequest));
  const signature = sign('sha256', info, { key: privateKey, dsaEncoding: 'der' });
  return seq(info, seq(oid(OID.ecdsaWithSHA256)), bitString(signature));
}

/** base64 wrapped at 64 columns, as EST clients send it. */
export function csrBody(der: Buffer): Buffer {
  const b64 = der.toString('base64');
  let out = '';
  for (let i = 0; i < b64.length; i += 64) out += b64.slice(i, i + 64) + '\n';
  return Buffer.from(out, 'latin1');
}

export function csrPool(size: number): Buffer[] {
  const stamp = Date.now().toString(36);
  return Array.from({ length: size }, (_, i) => csrBody(buildCsr(`bench-${stamp}-${i}`)));
}

// ---- sanity checks over a verified TLS connection ----

function fetchOnce(url: string, ca: string, o: { method?: string; body?: Buffer; headers?: Record<string, string> } = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((done, reject) => {
    const req = request(url, { method: o.method ?? 'GET', headers: o.headers, ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

export async function sanityCheck(base: string, rootPem: string, authorization: string, csr: Buffer): Promise<string> {
  const cacerts = await fetchOnce(`${base}/cacerts`, rootPem);
  if (cacerts.status !== 200) throw new Error(`sanity check: cacerts answered ${cacerts.status}: ${cacerts.body.toString('utf8')}`);
  const chain = parseCertsOnly(decodeBase64Body(cacerts.body));
  const enroll = await fetchOnce(`${base}/simpleenroll`, rootPem, { method: 'POST', body: csr, headers: { authorization, 'content-type': 'application/pkcs10' } });
  if (enroll.status !== 200) throw new Error(`sanity check: simpleenroll answered ${enroll.status}: ${enroll.body.toString('utf8')}`);
  const [leaf] = parseCertsOnly(decodeBase64Body(enroll.body));
  if (!leaf) throw new Error('sanity check: simpleenroll answered no certificate');
  const cert = new X509Certificate(leaf);
  return `TLS verified against the init root; cacerts: ${chain.length} certificates; simpleenroll issued "${cert.subject.replace(/\n/g, ', ')}" by "${cert.issuer.replace(/\n/g, ', ')}"`;
}

// ---- statistics and formatting ----

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export function median(values: number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

/** The most frequent value, with its count when the values disagree. */
export function mostFrequent(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const [best, n] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]!;
  return n === values.length ? best : `${best} (${n}/${values.length})`;
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

export const f = (n: number, digits = 1): string => (Number.isNaN(n) ? '-' : n.toFixed(digits));

// ---- CPU profile summary ----

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export interface HotSpot {
  name: string;
  where: string;
  selfMs: number;
  percent: number;
}

/** The newest main-thread profile (CPU.<date>.<time>.<pid>.<thread id 0>.<seq>.cpuprofile), not a worker's. */
export function newestCpuProfile(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir).filter((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f)).sort();
  return files.length ? join(dir, files[files.length - 1]!) : undefined;
}

function shortUrl(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/** Self time by function and by file (module), highest first. */
/** Microseconds of CLOCK_MONOTONIC, the clock of V8 profile timestamps (on Linux). */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * Self time by function and by file (module), highest first. With `windows` (monotonic µs),
 * only samples taken inside them count: the measured windows, not start-up and warm-up.
 */
export function summarizeCpuProfile(
  file: string,
  windows: readonly (readonly [number, number])[] = [],
  top = 25,
): { functions: HotSpot[]; files: HotSpot[]; totalMs: number; idleMs: number } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (windows.length && !windows.some(([a, b]) => at >= a && at <= b)) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const files = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    if (cf.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    totalUs += us;
    const where = cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName}|${where}`;
    const e = fn.get(key) ?? { name: cf.functionName || '(anonymous)', where, us: 0 };
    e.us += us;
    fn.set(key, e);
    const f = cf.url ? shortUrl(cf.url) : cf.functionName;
    files.set(f, (files.get(f) ?? 0) + us);
  }
  const pct = (us: number): number => (totalUs ? (100 * us) / totalUs : 0);
  return {
    totalMs: totalUs / 1000,
    functions: [...fn.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((e) => ({ name: e.name, where: e.where, selfMs: e.us / 1000, percent: pct(e.us) })),
    files: [...files.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([f, us]) => ({ name: f, where: '', selfMs: us / 1000, percent: pct(us) })),
    idleMs: idleUs / 1000,
  };
}

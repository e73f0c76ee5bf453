/**
 * What `npm run bench` reports: one measured window (Measured), the medians over the runs
 * (Summary), who limited the rate (verdict), and the text tables.
 */
import { f, median, table, type HotSpot } from './harness.js';

/** A scenario through the RA (src/bench/upstream-scenario.ts): both server processes and the RA's connections upstream. */
export interface ThroughRa {
  /** user+system CPU of the RA process and of the upstream Estuary over the window, % of one core. */
  raCpuPercent: number;
  upstreamCpuPercent: number;
  requestsPerRaCpuSecond: number;
  requestsPerUpstreamCpuSecond: number;
  /**
   * The RA connector's own counts over the RA process's life (start, sanity check, warm-up, window
   * and drain), from the 'upstream CA connector closed' line it logs when it closes: enrollments
   * forwarded, and TLS connections it opened to the upstream (each a full handshake: its agent
   * caches no sessions).
   */
  upstreamRequests: number;
  upstreamHandshakes: number;
  handshakesPerThousand: number;
  /** ESTABLISHED connections to the upstream's port at the end of the window (/proc/net/tcp). */
  upstreamConnectionsOpen: number;
}

export interface Measured {
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
  /** Peak RSS of the process the drivers talk to (the RA when there is one). */
  serverPeakRssMb: number;
  /** Server user+system CPU over the window, percent of one core (through the RA: RA + upstream, both on the server core). */
  serverCpuPercent: number;
  /** Requests per second of server CPU: the server's capacity on one core, whoever was the bottleneck. */
  requestsPerServerCpuSecond: number;
  /** All drivers' CPU over the window, percent of the cores they run on. */
  driverCpuPercent: number;
  /** Busy time of each core over the window (kernel network work included). */
  coreBusyPercent: number[];
  /** Busy time of the server's core not spent by the server process(es): kernel work and other load (noise). */
  serverCoreOtherPercent: number;
  /** The server's core idle while the server waited for the disk (its event loop blocked in fsync). */
  serverCoreIowaitPercent: number;
  /** Busy time of the driver core(s), median. */
  driverCoreBusyPercent: number;
  /** The measured window on CLOCK_MONOTONIC (µs), to cut the server's CPU profile to it. */
  windowMonotonicUs: [number, number];
  bottleneck: string;
  ra?: ThroughRa;
  /** On PostgreSQL: the backends' CPU; serverCpuPercent stays Estuary's alone. */
  database?: DatabaseCpu;
  /** Cores the server runs on: above 1 for `serve --workers N`, whose CPU and core figures are summed over them. */
  serverCores?: number;
}

/** The name of a scenario measured against `serve --workers N` and/or on a store other than SQLite. */
export function workersLabel(name: string, workers: number, store = 'sqlite'): string {
  const parts = [...(store === 'sqlite' ? [] : [store]), ...(workers === 1 ? [] : [`${workers} workers`])];
  return parts.length ? `${name} (${parts.join(', ')})` : name;
}

/** The database's share of a scenario on PostgreSQL: its backends' CPU over the window (stores-scenario.ts). */
export interface DatabaseCpu {
  /** user+system CPU of the backends connected to the bench database, % of one core. */
  databaseCpuPercent: number;
  /** req/s ÷ (Estuary CPU + database CPU). */
  requestsPerServerAndDatabaseCpuSecond: number;
  /** Backends connected at the end of the window. */
  backends: number;
}

/** CPU and core figures per server core, for the verdict: a 2-worker server at 180% is saturated. */
export function perCore<T extends Pick<Measured, 'serverCpuPercent' | 'serverCoreOtherPercent' | 'serverCoreIowaitPercent'> & { serverCores?: number }>(m: T): T {
  const k = m.serverCores ?? 1;
  return { ...m, serverCpuPercent: m.serverCpuPercent / k, serverCoreOtherPercent: m.serverCoreOtherPercent / k, serverCoreIowaitPercent: m.serverCoreIowaitPercent / k };
}

/** Each `X (N workers)` summary against X: rate and requests per server CPU-second, in percent. */
export function workersOverOne(summaries: Summary[]): { scenario: string; label: string; workers: number; ratePercent: number; perServerCpuPercent: number }[] {
  return summaries.flatMap((s) => {
    const m = /^(.*) \((?:(\w+), )?(\d+) workers\)$/.exec(s.scenario);
    const base = m ? (m[2] ? `${m[1]} (${m[2]})` : m[1]!) : undefined;
    const q = m ? ratio(s, summaries.find((x) => x.scenario === base)) : undefined;
    return m && q ? [{ scenario: base!, label: s.scenario, workers: Number(m[3]), ratePercent: q.rate, perServerCpuPercent: q.perCpu }] : [];
  });
}

/**
 * Each `X (postgres[, N workers])` against the same X on SQLite, in percent: rate, per Estuary CPU-second,
 * and per CPU-second of Estuary + database (SQLite's database work is inside Estuary's process).
 */
export function storesOverSqlite(summaries: Summary[]): {
  scenario: string; sqlite: string; ratePercent: number; perServerCpuPercent: number; perServerAndDatabaseCpuPercent: number;
  /** The median of the ratios of each run's two measurements (taken one after the other), robust to load that changes between runs. */
  pairedRatePercent: number; pairedPerServerAndDatabaseCpuPercent: number;
}[] {
  return summaries.flatMap((s) => {
    const m = /^(.*) \(postgres(?:, (\d+) workers)?\)$/.exec(s.scenario);
    if (!m || !s.database) return [];
    const sqlite = m[2] ? `${m[1]} (${m[2]} workers)` : m[1]!;
    const b = summaries.find((x) => x.scenario === sqlite);
    const q = ratio(s, b);
    const pairs = s.runs.flatMap((r) => {
      const o = b?.runs.find((x) => x.run === r.run);
      return o && r.database ? [{ rate: (100 * r.requestsPerSecond) / o.requestsPerSecond, perCpu: (100 * r.database.requestsPerServerAndDatabaseCpuSecond) / o.requestsPerServerCpuSecond }] : [];
    });
    return q && b ? [{
      scenario: s.scenario, sqlite, ratePercent: q.rate, perServerCpuPercent: q.perCpu,
      perServerAndDatabaseCpuPercent: (100 * s.database.requestsPerServerAndDatabaseCpuSecond) / b.requestsPerServerCpuSecond,
      pairedRatePercent: median(pairs.map((p) => p.rate)), pairedPerServerAndDatabaseCpuPercent: median(pairs.map((p) => p.perCpu)),
    }] : [];
  });
}

/**
 * Who limits the rate. A process that used ≥ 90% of its core over the window is saturated. The
 * server's core is also used up when its CPU, the core's I/O wait (the event loop blocked in
 * fsync) and the rest of the core's busy time (kernel network work, or other load) reach 90%.
 */
export function verdict(m: Pick<Measured, 'serverCpuPercent' | 'serverCoreOtherPercent' | 'serverCoreIowaitPercent' | 'driverCpuPercent' | 'driverCoreBusyPercent'>): string {
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

type MedianKey = 'requestsPerSecond' | 'p50Ms' | 'p99Ms' | 'serverCpuPercent' | 'requestsPerServerCpuSecond' | 'serverCoreOtherPercent'
  | 'serverCoreIowaitPercent' | 'driverCpuPercent' | 'driverCoreBusyPercent';
const MEDIAN_KEYS: MedianKey[] = ['requestsPerSecond', 'p50Ms', 'p99Ms', 'serverCpuPercent', 'requestsPerServerCpuSecond', 'serverCoreOtherPercent',
  'serverCoreIowaitPercent', 'driverCpuPercent', 'driverCoreBusyPercent'];
const RA_KEYS: (keyof ThroughRa)[] = ['raCpuPercent', 'upstreamCpuPercent', 'requestsPerRaCpuSecond', 'requestsPerUpstreamCpuSecond',
  'upstreamRequests', 'upstreamHandshakes', 'handshakesPerThousand', 'upstreamConnectionsOpen'];

const DATABASE_KEYS: (keyof DatabaseCpu)[] = ['databaseCpuPercent', 'requestsPerServerAndDatabaseCpuSecond', 'backends'];

/** Medians over the runs; errors are summed (warm-up included), peak RSS is the maximum. */
export type Summary = Record<MedianKey, number> & {
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
  /** Medians over the runs of the RA's numbers. */
  ra?: ThroughRa;
  /** Medians over the runs of the database's numbers (PostgreSQL). */
  database?: DatabaseCpu;
  runs: Measured[];
};

export function summarize(name: string, description: string, runs: Measured[]): Summary {
  const medians = Object.fromEntries(MEDIAN_KEYS.map((k) => [k, median(runs.map((r) => r[k]))])) as Record<MedianKey, number>;
  const firstError = runs.find((r) => r.firstError)?.firstError;
  const counted = runs.every((r) => r.handshakes !== undefined);
  const ra = runs.every((r) => r.ra !== undefined) && runs.length > 0
    ? Object.fromEntries(RA_KEYS.map((k) => [k, median(runs.map((r) => r.ra![k]))])) as unknown as ThroughRa
    : undefined;
  const database = runs.length > 0 && runs.every((r) => r.database !== undefined)
    ? Object.fromEntries(DATABASE_KEYS.map((k) => [k, median(runs.map((r) => r.database![k]))])) as unknown as DatabaseCpu
    : undefined;
  return {
    scenario: name, description, ...medians, ...(database ? { database } : {}),
    errors: runs.reduce((n, r) => n + r.errors, 0), ...(firstError ? { firstError } : {}),
    ...(counted ? { handshakes: runs.reduce((n, r) => n + r.handshakes!, 0), resumed: runs.reduce((n, r) => n + r.resumed!, 0) } : {}),
    serverPeakRssMb: Math.max(...runs.map((r) => r.serverPeakRssMb)),
    bottleneck: verdict(perCore({ ...medians, serverCores: runs[0]?.serverCores ?? 1 })), ...(ra ? { ra } : {}), runs,
  };
}

export interface TextReport {
  summaries: Summary[];
  /** The first lines: concurrency, duration, drivers and pinning. */
  setting: string;
  loadLine: string;
  profile?: Profile;
  /** The RA's, through-the-RA scenarios (its last run). */
  raProfile?: Profile;
  /** The SoftHSM2 server's (enroll-hsm-keepalive). */
  hsmProfile?: Profile;
  /** The one-process server on PostgreSQL (--stores postgres). */
  postgresProfile?: Profile;
  /** Why enroll-hsm-keepalive was skipped (SoftHSM2 missing). */
  hsmSkipped?: string;
  hsmSessions?: number;
}

type Profile = { file: string; functions: HotSpot[]; files: HotSpot[]; totalMs: number; idleMs: number };

function profileLines(what: string, p: Profile): string[] {
  return [
    '', `${what} CPU profile ${p.file}, measured windows only: ${f(p.totalMs / 1000)} s busy, ` +
      `${f(p.idleMs / 1000)} s idle (native work outside JS, e.g. TLS, may count as idle); top self time:`,
    table([['function', 'self ms', '%', 'where'], ...p.functions.map((h) => [h.name, f(h.selfMs, 0), f(h.percent), h.where])]),
    '', 'self time by file:',
    table([['file', 'self ms', '%'], ...p.files.slice(0, 15).map((h) => [h.name, f(h.selfMs, 0), f(h.percent)])]),
  ];
}

/** Throughput of one scenario relative to another, in percent, by rate and per server CPU-second. */
export function ratio(a: Summary | undefined, b: Summary | undefined): { rate: number; perCpu: number } | undefined {
  if (!a || !b) return undefined;
  return { rate: (100 * a.requestsPerSecond) / b.requestsPerSecond, perCpu: (100 * a.requestsPerServerCpuSecond) / b.requestsPerServerCpuSecond };
}

export function textReport(r: TextReport): string {
  const rows = [['scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'resumed', 'peak RSS MiB', 'server CPU', 'req/server-CPU-s', 'core 0 iowait', 'core 0 other', 'driver CPU', 'bottleneck']];
  for (const s of r.summaries) {
    rows.push([
      s.scenario, f(s.requestsPerSecond), f(s.p50Ms, 2), f(s.p99Ms, 2), String(s.errors),
      s.handshakes === undefined ? '-' : `${s.resumed}/${s.handshakes}`, f(s.serverPeakRssMb),
      `${f(s.serverCpuPercent, 0)}%`, f(s.requestsPerServerCpuSecond, 0), `${f(s.serverCoreIowaitPercent, 0)}%`, `${f(s.serverCoreOtherPercent, 0)}%`,
      `${f(s.driverCpuPercent, 0)}%`, s.bottleneck,
    ]);
  }
  const out: string[] = [
    '',
    r.setting,
    'server CPU = user+system time of the server process over the window, % of one core; req/server-CPU-s = req/s ÷ server CPU,',
    'the server\'s one-core capacity even when the driver limits the rate; core 0 iowait = the server\'s core idle while it waited',
    'for the disk (fsync on the event loop); core 0 other = core 0 busy time not used by the server (kernel network work, other',
    'load on the machine); driver CPU = % of the driver core(s); saturated = ≥ 90%; errors = non-200 answers, warm-up included;',
    'resumed = TLS handshakes that resumed a session / all handshakes, warm-up included (native driver; any resumption fails the bench)',
    '',
    table(rows),
  ];
  const by = (name: string): Summary | undefined => r.summaries.find((x) => x.scenario === name);
  const newconn = ratio(by('enroll-newconn'), by('cacerts-newconn'));
  if (newconn) {
    out.push('', `enroll-newconn / cacerts-newconn = ${f(newconn.rate)}% of the trivial-GET-over-new-connections rate (${f(newconn.perCpu)}% per server CPU-second)`);
  }
  const throughRa = r.summaries.filter((s) => s.ra);
  if (throughRa.length > 0) {
    out.push('', 'through the RA: the drivers talk to the RA, which forwards each CSR to the upstream Estuary over its kept-alive pool; both processes',
      'on the server core (unless --ra-core moved the RA), and "server CPU" above is RA + upstream. handshakes = TLS connections the RA opened to the upstream over the RA',
      'process\'s life (its connector\'s count, logged at close), per 1,000 enrollments it forwarded; open = connections to the upstream at the end of the window', '');
    out.push(table([
      ['scenario', 'RA CPU', 'upstream CPU', 'req/RA-CPU-s', 'req/upstream-CPU-s', 'req/(RA+upstream)-CPU-s', 'forwarded', 'handshakes', 'per 1,000', 'open'],
      ...throughRa.map((s) => [
        s.scenario, `${f(s.ra!.raCpuPercent, 0)}%`, `${f(s.ra!.upstreamCpuPercent, 0)}%`, f(s.ra!.requestsPerRaCpuSecond, 0), f(s.ra!.requestsPerUpstreamCpuSecond, 0),
        f(s.requestsPerServerCpuSecond, 0), f(s.ra!.upstreamRequests, 0), f(s.ra!.upstreamHandshakes, 0), f(s.ra!.handshakesPerThousand, 2), f(s.ra!.upstreamConnectionsOpen, 0),
      ]),
    ]));
    const direct = by('enroll-keepalive');
    for (const s of throughRa) {
      const q = ratio(s, direct);
      if (q) out.push(`${s.scenario} / enroll-keepalive = ${f(q.rate)}% of the direct rate, ${f(q.perCpu)}% per server CPU-second (RA + upstream)`);
    }
  }
  const workers = workersOverOne(r.summaries);
  if (workers.length > 0) {
    out.push('', '"(N workers)": `serve --workers N` on cores 0..N-1 (the drivers share them); server CPU = primary + workers, % of one core;',
      'core 0 iowait/other are summed over its cores; target: no more than 10% lost per server CPU-second');
    for (const w of workers) {
      out.push(`${w.label} / ${w.scenario} = ${f(w.ratePercent)}% of the one-process rate, ${f(w.perServerCpuPercent)}% per server CPU-second` +
        `${w.perServerCpuPercent >= 90 ? '' : ' (more than 10% lost)'}`);
    }
  }
  const stores = storesOverSqlite(r.summaries);
  if (stores.length > 0) {
    out.push('', '"(postgres)": the same scenario against a server whose store is PostgreSQL (a database made for the run), alternating with',
      'SQLite within each run; Estuary CPU = the server\'s alone; database CPU = the PostgreSQL backends connected to that database',
      '(/proc/<pid>/stat over the window; not pinned, they run on any core); on SQLite the database work is in Estuary\'s CPU', '');
    out.push(table([
      ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'Estuary CPU', 'req/Estuary-CPU-s', 'database CPU', 'req/(Estuary+database)-CPU-s', 'backends'],
      ...r.summaries.filter((s) => s.database || stores.some((x) => x.sqlite === s.scenario)).map((s) => [
        s.scenario, f(s.requestsPerSecond), f(s.p50Ms, 2), f(s.p99Ms, 2), `${f(s.serverCpuPercent, 0)}%`, f(s.requestsPerServerCpuSecond, 0),
        s.database ? `${f(s.database.databaseCpuPercent, 0)}%` : '(in-process)', f(s.database ? s.database.requestsPerServerAndDatabaseCpuSecond : s.requestsPerServerCpuSecond, 0),
        s.database ? f(s.database.backends, 0) : '-',
      ]),
    ]));
    for (const x of stores) {
      out.push(`${x.scenario} / ${x.sqlite} = ${f(x.ratePercent)}% of the SQLite rate${x.ratePercent >= 80 ? '' : ' (below the 80% target)'}, ` +
        `${f(x.perServerCpuPercent)}% per Estuary CPU-second, ${f(x.perServerAndDatabaseCpuPercent)}% per (Estuary + database) CPU-second` +
        `${x.pairedRatePercent === x.ratePercent ? '' : `; median of the runs' own ratios: ${f(x.pairedRatePercent)}% of the rate, ${f(x.pairedPerServerAndDatabaseCpuPercent)}% per (Estuary + database) CPU-second`}`);
    }
  }
  const hsm = ratio(by('enroll-hsm-keepalive'), by('enroll-keepalive'));
  if (hsm) {
    out.push('', `enroll-hsm-keepalive / enroll-keepalive = ${f(hsm.rate)}% of the software-key rate, ${f(hsm.perCpu)}% per server CPU-second ` +
      `(issuing key in SoftHSM2, PKCS#11 sessions ${r.hsmSessions ?? '2 (default)'})`);
  }
  if (r.hsmSkipped) out.push('', `enroll-hsm-keepalive: SKIPPED, ${r.hsmSkipped}`);
  for (const s of r.summaries) if (s.firstError) out.push(`first error in ${s.scenario}: ${s.firstError}`);
  out.push(r.loadLine);
  if (r.profile) out.push(...profileLines('server', r.profile));
  if (r.raProfile) out.push(...profileLines('RA', r.raProfile));
  if (r.hsmProfile) out.push(...profileLines('SoftHSM2 server', r.hsmProfile));
  if (r.postgresProfile) out.push(...profileLines('PostgreSQL-store server', r.postgresProfile));
  return out.join('\n') + '\n';
}

#!/usr/bin/env node
/**
 * The CPU the RA's upstream connector (src/ca/upstream-ca.ts, type `est`) spends per forwarded
 * enrollment, without the RA server around it: an upstream Estuary is started as a process (on
 * core 0 where taskset exists; run this one elsewhere, e.g. `taskset -c 1`), and this process calls
 * the connector's issue() for pre-made P-256 requests, 32 at a time over its pool, measuring its
 * own CPU (process.cpuUsage) and the upstream's (/proc) per issue. With `--old DIST`, the connector
 * of another build (e.g. a copy of an older commit's dist/) runs against the same upstream in
 * alternating rounds, for an A/B in one window. Medians over the rounds.
 *
 *   node dist/bench/connector-micro.js [--old /tmp/old/dist] [--pool N] [--issues N] [--rounds N]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { IssueRequest } from '../ca/ca-backend.js';
import type { UpstreamCa, UpstreamSettings, createUpstreamCa as CreateUpstreamCa } from '../ca/upstream-ca.js';
import { pemBlocks } from '../pki/base64.js';
import { children, readTop, seq, slice, tlv } from '../pki/der.js';
import { buildCsr, cpuSeconds, freePort, initHome, median, startServer } from './harness.js';

const { values } = parseArgs({ options: { old: { type: 'string' }, pool: { type: 'string' }, issues: { type: 'string' }, rounds: { type: 'string' } } });
const pool = Number(values.pool ?? 8);
const issues = Number(values.issues ?? 800);
const rounds = Number(values.rounds ?? 5);
const CONCURRENCY = 32;

const dist = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const builds: Record<string, string> = { this: dist, ...(values.old ? { old: resolve(values.old) } : {}) };

const dir = mkdtempSync(join(tmpdir(), 'estuary-connector-micro-'));
const home = join(dir, 'upstream');
const mainJs = join(dist, 'cli', 'main.js');
const init = initHome(mainJs, home);
const port = await freePort();
const upstream = await startServer({ mainJs, home, port, core: 0 });

/** Requests as the RA admits them: the CSR's own subject and key, SAN dNSName <cn>.bench.invalid (buildCsr's). */
const requests: IssueRequest[] = Array.from({ length: 256 }, (_, i) => {
  const cn = `micro-${i}`;
  const csr = buildCsr(cn);
  const [info] = children(csr, readTop(csr));
  const [, subject, spki] = children(csr, info!);
  return {
    operation: 'enroll', csr, requestId: `micro-${i}`, requester: 'bench',
    template: {
      subject: Buffer.from(slice(csr, subject!)), spki: Buffer.from(slice(csr, spki!)),
      subjectAltName: seq(tlv(0x82, Buffer.from(`${cn}.bench.invalid`, 'latin1'))), validitySeconds: 30 * 86_400, keyUsage: ['digitalSignature'], extendedKeyUsage: [],
    },
  };
});

const settings: UpstreamSettings = {
  id: 'upstream', url: `https://127.0.0.1:${port}`, label: undefined,
  trust: { kind: 'explicit', anchors: pemBlocks(readFileSync(join(home, 'ca', 'root.pem'), 'utf8'), 'CERTIFICATE') },
  basic: { user: init.estAccount.email, password: init.estAccount.password }, clientCert: undefined,
  reenroll: 'forward', serverKeygen: 'local', timeoutSeconds: 30, maxConnections: pool, refreshMinutes: 60, retryAfterSeconds: 60, cache: undefined,
};
const connectors: Record<string, UpstreamCa> = {};
for (const [name, path] of Object.entries(builds)) {
  const mod = (await import(join(path, 'ca', 'upstream-ca.js'))) as { createUpstreamCa: typeof CreateUpstreamCa };
  connectors[name] = mod.createUpstreamCa(settings, { now: () => new Date(), logger: undefined });
}

/** n issues, CONCURRENCY at a time: µs of this process's and of the upstream's CPU per issue. */
async function run(ca: UpstreamCa, n: number): Promise<{ connectorUs: number; upstreamUs: number; perSecond: number }> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const r = await ca.issue(requests[next++ % requests.length]!);
      if (r.status !== 'issued') throw new Error(`the upstream answered ${r.status}`);
    }
  };
  const cpu0 = process.cpuUsage();
  const up0 = cpuSeconds(upstream.pid) ?? NaN;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const cpu = process.cpuUsage(cpu0);
  return { connectorUs: (cpu.user + cpu.system) / n, upstreamUs: (((cpuSeconds(upstream.pid) ?? NaN) - up0) * 1e6) / n, perSecond: (n * 1000) / (performance.now() - t0) };
}

try {
  const names = Object.keys(connectors);
  for (const name of names) await run(connectors[name]!, 300); // warm-up: JIT, pool connections
  const results: Record<string, { connectorUs: number[]; upstreamUs: number[]; perSecond: number[] }> = {};
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 ? [...names].reverse() : names) {
      const x = await run(connectors[name]!, issues);
      const acc = (results[name] ??= { connectorUs: [], upstreamUs: [], perSecond: [] });
      acc.connectorUs.push(x.connectorUs);
      acc.upstreamUs.push(x.upstreamUs);
      acc.perSecond.push(x.perSecond);
      process.stdout.write(`round ${r + 1} ${name}: connector ${x.connectorUs.toFixed(0)} µs CPU per issue, upstream ${x.upstreamUs.toFixed(0)} µs, ${x.perSecond.toFixed(0)} issues/s\n`);
    }
  }
  process.stdout.write(`\npool ${pool}, ${CONCURRENCY} issues in flight, ${issues} issues per round, median of ${rounds} rounds:\n`);
  for (const name of names) {
    const m = results[name]!;
    process.stdout.write(`${name.padEnd(5)} (${builds[name]}): connector ${median(m.connectorUs).toFixed(0)} µs CPU per issue, upstream ${median(m.upstreamUs).toFixed(0)} µs, ${median(m.perSecond).toFixed(0)} issues/s\n`);
  }
} finally {
  for (const ca of Object.values(connectors)) ca.close();
  await upstream.stop();
  rmSync(dir, { recursive: true, force: true });
}

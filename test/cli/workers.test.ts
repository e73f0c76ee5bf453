/**
 * `estuary serve --workers 2` as operators run it (the built dist/cli/main.js) on a fresh SQLite
 * home: bounded concurrent enrollment load served by both workers with no lost or duplicate
 * certificate, a revocation seen on the CRL whichever worker answers, a worker killed with SIGKILL
 * replaced while the service keeps answering, SIGHUP passed on, SIGTERM draining in-flight requests
 * on every worker before all exit 0, and a startup error stopping everything with that error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get as httpGet } from 'node:http';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCsr, csrBody } from '../../src/bench/harness.js';
import { withStore } from '../../src/cli/context.js';
import { decodeBase64Body } from '../../src/pki/base64.js';
import { certificateFields } from '../../src/pki/certificate.js';
import { parseCrl } from '../../src/pki/crl-reader.js';
import { parseCertsOnly } from '../../src/pki/signed-data.js';
import { estuary, MAIN } from '../helpers/cli.js';
import { estRequest } from '../helpers/est-http.js';
import { opensslIn } from '../helpers/openssl.js';
import { makeHome, type TestHome } from '../helpers/home.js';

const ENROLLMENTS = 200;
const CLIENTS = 16;

interface Cluster {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  est: string;
  crl: string;
  pids: number[];
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

async function until(what: string, output: () => string, test: () => boolean): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (test()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not happen within 60 s:\n${output()}`);
}

function serveWorkers(home: string, env: Record<string, string> = {}): Cluster & { started: Promise<void> } {
  const child = spawn(process.execPath, [MAIN, 'serve', '--home', home, '--workers', '2'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ESTUARY_EST_LISTEN: '127.0.0.1:0', ESTUARY_CRL_LISTEN: '127.0.0.1:0', ESTUARY_ADMIN_LISTEN: 'off', ESTUARY_OPS_LISTEN: 'off', ...env },
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const cluster = { child, output: () => out, exited, est: '', crl: '', pids: [] as number[] };
  const started = (async () => {
    await until('the cluster listening', cluster.output, () => /\d+ workers \(pids [\d, ]+\)/.test(out) || child.exitCode !== null);
    const m = /EST service listening on (https:\/\/\S+)/.exec(out);
    if (!m) throw new Error(`no listening line:\n${out}`);
    cluster.est = m[1]!;
    cluster.crl = /CRLs published at (http:\/\/\S+?)\/<ca>\.crl/.exec(out)?.[1] ?? '';
    cluster.pids = /workers \(pids ([\d, ]+)\)/.exec(out)![1]!.split(', ').map(Number);
  })();
  started.catch(() => undefined); // awaited by the tests that expect a start
  return Object.assign(cluster, { started });
}

/** One simpleenroll on its own TLS connection (so that connections spread over the workers): the serial on 200. */
function enroll(url: string, ca: string, authorization: string, body: Buffer, partial?: (finish: () => void) => void): Promise<{ status: number; serial?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/simpleenroll`, { method: 'POST', ca, agent: false, headers: { authorization, 'content-type': 'application/pkcs10', 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return resolve({ status: res.statusCode ?? 0 });
        const [leaf] = parseCertsOnly(decodeBase64Body(Buffer.concat(chunks)));
        resolve({ status: 200, serial: certificateFields(leaf!).serialHex });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (!partial) return void req.end(body);
    req.write(body.subarray(0, 40)); // headers and part of the body: the request is in flight
    partial(() => req.end(body.subarray(40)));
  });
}

function fetchCrl(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`CRL: HTTP ${res.statusCode}`))));
    }).on('error', reject);
  });
}

/** Log lines with this message, counted per process id. */
function perPid(output: string, msg: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const line of output.split('\n')) {
    if (!line.startsWith('{') || !line.includes(`"msg":"${msg}"`)) continue;
    const pid = (JSON.parse(line) as { pid: number }).pid;
    counts.set(pid, (counts.get(pid) ?? 0) + 1);
  }
  return counts;
}

/** The CRL number, read by openssl (an independent reader). */
async function crlNumber(der: Buffer): Promise<bigint> {
  const dir = mkdtempSync(join(tmpdir(), 'estuary-crl-'));
  writeFileSync(join(dir, 'c.crl'), der);
  const r = await opensslIn(dir, ['crl', '-inform', 'DER', '-in', 'c.crl', '-noout', '-crlnumber']);
  const m = /crlNumber=(?:0x)?([0-9A-Fa-f]+)/.exec(r.out);
  if (r.code !== 0 || !m) throw new Error(`openssl crl: ${r.out}`);
  return BigInt(`0x${m[1]}`);
}

const norm = (serial: string): string => serial.toLowerCase().replace(/^0+/, '');

describe('estuary serve --workers 2 (SQLite)', () => {
  let home: TestHome;
  let authorization: string;
  let server: Cluster;
  const pool = Array.from({ length: 32 }, (_, i) => csrBody(buildCsr(`worker-load-${i}`)));

  beforeAll(async () => {
    home = await makeHome();
    authorization = `Basic ${Buffer.from(`${home.summary.estAccount.email}:${home.summary.estAccount.password}`).toString('base64')}`;
    const s = serveWorkers(home.home, { ESTUARY_ADMIN_LISTEN: '127.0.0.1:0', ESTUARY_OPS_LISTEN: '127.0.0.1:0' });
    await s.started;
    server = s;
  }, 120_000);

  it('serves a bounded concurrent load from both workers with no lost or duplicate certificate', async () => {
    expect(server.pids).toHaveLength(2);
    const serials: string[] = [];
    const statuses: number[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      while (next < ENROLLMENTS) {
        const i = next++;
        const r = await enroll(server.est, home.rootPem, authorization, pool[i % pool.length]!);
        statuses.push(r.status);
        if (r.serial) serials.push(r.serial);
      }
    }));
    expect(statuses.filter((s) => s !== 200), 'every enrollment answered 200 (no SQLITE_BUSY under two writers)').toEqual([]);
    expect(serials).toHaveLength(ENROLLMENTS);
    expect(new Set(serials).size, 'no serial twice').toBe(ENROLLMENTS);
    const stored = await withStore({ home: home.home }, async (store) => {
      const missing: string[] = [];
      for (const s of serials) if (!(await store.getCertificate(s))) missing.push(s);
      return { missing, all: (await store.listCertificates({ limit: 10 * ENROLLMENTS })).length };
    });
    expect(stored.missing, 'every certificate answered 200 is in the store').toEqual([]);
    expect(stored.all, 'the store holds exactly the certificates answered').toBe(ENROLLMENTS);
    // both workers issued: each logs "certificate issued" with its own pid
    await until('all issuance log lines', server.output, () => [...perPid(server.output(), 'certificate issued').values()].reduce((a, b) => a + b, 0) >= ENROLLMENTS);
    const issued = perPid(server.output(), 'certificate issued');
    expect([...issued.keys()].sort()).toEqual([...server.pids].sort());
    for (const pid of server.pids) expect(issued.get(pid), `worker ${pid} issued`).toBeGreaterThan(0);
    expect(server.output()).not.toMatch(/SQLITE_BUSY|database is locked/);
  }, 180_000);

  it('answers /readyz and /metrics for every worker from the primary\'s operations listener', async () => {
    const ops = /Health and metrics on (http:\/\/\S+?)\/healthz/.exec(server.output())?.[1];
    expect(ops, server.output()).toBeDefined();
    const get = async (path: string): Promise<{ status: number; text: string }> => {
      const r = await fetch(`${ops}${path}`);
      return { status: r.status, text: await r.text() };
    };
    expect((await get('/healthz')).status).toBe(200);
    const ready = await get('/readyz');
    expect(ready.status, ready.text).toBe(200);
    const checks = (JSON.parse(ready.text) as { checks: Array<{ name: string; ok: boolean }> }).checks;
    expect(checks.find((c) => c.name === 'workers')?.ok).toBe(true);
    for (const pid of server.pids) expect(checks.some((c) => c.name.includes(`pid ${pid}`) && c.name.endsWith(': store') && c.ok), `worker ${pid}'s store check`).toBe(true);
    // the load above, summed over both workers
    const metrics = (await get('/metrics')).text;
    const enrolled = metrics.split('\n').filter((l) => l.startsWith('estuary_requests_total{') && l.includes('operation="simpleenroll"') && l.includes('status="200"'))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    expect(enrolled).toBeGreaterThanOrEqual(ENROLLMENTS);
  });

  it('runs the Web RA in one worker only', async () => {
    const admin = /Web RA listening on (https:\/\/\S+)/.exec(server.output());
    expect(admin, server.output()).not.toBeNull();
    const api = await estRequest(`${admin![1]}api/openapi.json`, { ca: home.rootPem });
    expect(api.status).toBe(200);
    const running = perPid(server.output(), 'Web RA listening');
    expect(running.size).toBe(1);
    expect(server.pids).toContain([...running.keys()][0]);
  });

  it('lists a revocation on the CRL whichever worker answers', async () => {
    const r = await enroll(server.est, home.rootPem, authorization, pool[0]!);
    expect(r.status).toBe(200);
    // both workers have signed a CRL before the revocation (their caches are warm)
    const before: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      const der = await fetchCrl(`${server.crl}/default.crl`);
      expect(parseCrl(der).revoked.size).toBe(0);
      before.push(await crlNumber(der));
    }
    const revoked = await estuary(['cert', 'revoke', r.serial!, '--reason', 'keyCompromise', '--home', home.home]);
    expect(revoked.code, revoked.stderr).toBe(0);
    // each worker notices the change through the shared database and signs a new CRL of its own
    for (let i = 0; i < 6; i++) {
      const der = await fetchCrl(`${server.crl}/default.crl`);
      expect([...parseCrl(der).revoked.keys()].map(norm)).toEqual([norm(r.serial!)]);
      // RFC 5280 §5.2.3: CRL numbers never go back, whichever worker signed. Not strictly greater:
      // the number is the signing second in ms (+1 within one process), so two workers signing in
      // the same second give the same number, until the CRL is signed once for all (in the store).
      const n = await crlNumber(der);
      for (const b of before) expect(n >= b, `CRL number ${n} after ${b}`).toBe(true);
    }
  }, 60_000);

  it('passes SIGHUP to every worker (each reloads its TLS certificate)', async () => {
    const before = perPid(server.output(), 'server certificate reloaded');
    server.child.kill('SIGHUP');
    await until('both workers reloading', server.output, () => server.pids.every((p) => (perPid(server.output(), 'server certificate reloaded').get(p) ?? 0) > (before.get(p) ?? 0)));
    expect(server.child.exitCode).toBeNull();
  }, 60_000);

  it('replaces a worker killed with SIGKILL, and keeps answering; the Web RA moves to the replacement', async () => {
    // the victim is the worker that runs the Web RA
    const victim = [...perPid(server.output(), 'Web RA listening').keys()][0]!;
    const survivor = server.pids.find((p) => p !== victim)!;
    process.kill(victim, 'SIGKILL');
    await until('a replacement worker listening', server.output, () => /"msg":"replacement worker listening"/.test(server.output()));
    const logged = (msg: string): Record<string, unknown> => JSON.parse(server.output().split('\n').find((l) => l.includes(`"msg":"${msg}"`))!) as Record<string, unknown>;
    expect(logged('worker died; replacing it')).toMatchObject({ workerPid: victim, signal: 'SIGKILL' });
    const newPid = logged('replacement worker listening').workerPid as number;
    expect(newPid).not.toBe(victim);
    expect(logged('worker replaced').workerPid).toBe(newPid);
    server.pids = [survivor, newPid];
    await until('the Web RA in the replacement', server.output, () => perPid(server.output(), 'Web RA listening').has(newPid));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => enroll(server.est, home.rootPem, authorization, pool[i]!)));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
  }, 120_000);

  it('SIGTERM drains the in-flight requests of every worker, then all exit 0', async () => {
    // four requests in flight (connections go round robin, so both workers hold some), completed after SIGTERM
    const finishers: Array<() => void> = [];
    const pending = Array.from({ length: 4 }, (_, i) => enroll(server.est, home.rootPem, authorization, pool[i]!, (finish) => finishers.push(finish)));
    await until('the requests being sent', server.output, () => finishers.length === 4);
    await new Promise((r) => setTimeout(r, 300)); // let the workers read the headers
    server.child.kill('SIGTERM');
    await until('every worker draining', server.output, () => server.pids.every((p) => (perPid(server.output(), 'draining in-flight requests').get(p) ?? 0) > 0));
    for (const finish of finishers) finish();
    expect((await Promise.all(pending)).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(await server.exited).toBe(0);
    for (const pid of server.pids) expect(() => process.kill(pid, 0), `worker ${pid} has exited`).toThrow();
  }, 120_000);
});

describe('estuary serve --workers: startup', () => {
  it('stops every worker with the error when one cannot start (port in use), with no fork loop', async () => {
    const home = await makeHome();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const s = serveWorkers(home.home, { ESTUARY_EST_LISTEN: `127.0.0.1:${port}`, ESTUARY_CRL_LISTEN: 'off' });
      expect(await s.exited).toBe(2);
      expect(s.output()).toMatch(new RegExp(`^estuary: est\\.listen: 127\\.0\\.0\\.1:${port} is already in use`, 'm'));
      expect(s.output()).not.toMatch(/worker replaced|EST service listening on/);
    } finally {
      blocker.close();
    }
  }, 120_000);

  it('stops every worker and exits 2 naming ops.listen when the primary\'s operations listener cannot bind', async () => {
    const home = await makeHome();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const s = serveWorkers(home.home, { ESTUARY_OPS_LISTEN: `127.0.0.1:${port}` });
      expect(await s.exited).toBe(2);
      expect(s.output()).toMatch(new RegExp(`^estuary: ops\\.listen: 127\\.0\\.0\\.1:${port} is already in use`, 'm'));
    } finally {
      blocker.close();
    }
  }, 120_000);

  it('refuses a --workers value that is not a count or auto', async () => {
    const home = await makeHome();
    const r = await estuary(['serve', '--home', home.home, '--workers', 'many']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--workers: expected auto or a number from 1 to 256, got "many"/);
  });
});

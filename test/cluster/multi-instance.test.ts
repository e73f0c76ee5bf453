/**
 * Two `estuary serve` processes (separate ports, one PostgreSQL database, one home) behind HAProxy
 * in TCP pass-through mode (round robin, health-checking each instance's /readyz on its ops
 * listener). Everything one instance does is in force on the other: approvals, Web RA sessions,
 * passwords, revocations on the CRL. Then a load through HAProxy while one instance is killed.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFields } from '../../src/pki/certificate.js';
import { estuary, estuaryClient } from '../helpers/cli.js';
import { certsFrom, csrBody, estRequest, type EstResponse } from '../helpers/est-http.js';
import { startHaproxy, type Haproxy } from '../helpers/haproxy.js';
import { tempDir } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { createTestDatabase, withConnection, type TestDatabase } from '../helpers/postgres.js';
import { portBelowEphemeralRange, serveProcess, type ServeProcess } from '../helpers/serve-process.js';

interface Instance {
  name: string;
  est: number;
  admin: number;
  crl: number;
  ops: number;
  server: ServeProcess;
}

let db: TestDatabase;
let dir: string;
let home: string;
let rootPem: string;
let est: { user: string; password: string };
let adminAccount: { user: string; password: string };
let a: Instance;
let b: Instance;
let lb: Haproxy;
let lbEst: number;
let lbAdmin: number;

async function instance(name: string): Promise<Instance> {
  const [estPort, admin, crl, ops] = [await portBelowEphemeralRange(), await portBelowEphemeralRange(), await portBelowEphemeralRange(), await portBelowEphemeralRange()];
  const server = serveProcess({
    home, logFile: join(dir, `${name}.log`),
    env: {
      ESTUARY_EST_LISTEN: `127.0.0.1:${estPort}`, ESTUARY_ADMIN_LISTEN: `127.0.0.1:${admin}`, ESTUARY_CRL_LISTEN: `127.0.0.1:${crl}`,
      ESTUARY_OPS_LISTEN: `127.0.0.1:${ops}`, ESTUARY_DATABASE_URL: db.url,
    },
  });
  return { name, est: estPort, admin, crl, ops, server };
}

function haproxyConfig(): string {
  const backend = (kind: 'est' | 'admin') => `
backend ${kind}
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 300ms fall 2 rise 1
  server a 127.0.0.1:${a[kind]} check port ${a.ops}
  server b 127.0.0.1:${b[kind]} check port ${b.ops}
`;
  return `global
  maxconn 2000
defaults
  mode tcp
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 3
  option redispatch
frontend est
  bind 127.0.0.1:${lbEst}
  default_backend est
frontend admin
  bind 127.0.0.1:${lbAdmin}
  default_backend admin
${backend('est')}${backend('admin')}`;
}

const sh = async (script: string, env: Record<string, string> = {}): Promise<string> =>
  (await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8' })).stdout;

function get(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https') ? httpsRequest : httpRequest)(url, { ca: rootPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A JSON call to a Web RA API with an optional session cookie and CSRF token. */
function api(port: number, method: string, path: string, o: { body?: unknown; cookie?: string; csrf?: string } = {}): Promise<{ status: number; json: any; cookie?: string }> {
  return new Promise((resolve, reject) => {
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    const req = httpsRequest({
      host: '127.0.0.1', port, path, method, ca: rootPem, agent: false,
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(o.cookie ? { cookie: o.cookie } : {}), ...(o.csrf ? { 'x-csrf-token': o.csrf } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const setCookie = res.headers['set-cookie']?.[0]?.split(';')[0];
        resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined, ...(setCookie ? { cookie: setCookie } : {}) });
      });
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

async function signIn(port: number): Promise<{ cookie: string; csrf: string }> {
  const r = await api(port, 'POST', '/api/session', { body: { email: adminAccount.user, password: adminAccount.password } });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return { cookie: r.cookie!, csrf: r.json.csrfToken };
}

const enroll = (port: number, cn: string, path = '/simpleenroll', basic = est): Promise<EstResponse> =>
  makeCsr({ name: `CN=${cn}` }).then((csr) => estRequest(`https://127.0.0.1:${port}/.well-known/est${path}`, { ca: rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' }));

/** Retries `check` until it holds or `ms` pass (a change reaches the other instance within one second). */
async function within(ms: number, check: () => Promise<boolean>): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  dir = tempDir('estuary-multi-');
  home = join(dir, 'home');
  const init = await estuary(['init', '--home', home, '--database-url', db.url, '--json']);
  expect(init.code, init.stderr).toBe(0);
  const summary = JSON.parse(init.stdout) as { estAccount: { email: string; password: string }; adminAccount: { email: string; password: string } };
  est = { user: summary.estAccount.email, password: summary.estAccount.password };
  adminAccount = { user: summary.adminAccount.email, password: summary.adminAccount.password };
  rootPem = readFileSync(join(home, 'ca', 'root.pem'), 'utf8');
  writeFileSync(join(dir, 'root.pem'), rootPem);
  const held = await estuary(['profile', 'add', 'held', '--approval', 'manual', '--home', home], { env: { ESTUARY_DATABASE_URL: db.url } });
  expect(held.code, held.stderr).toBe(0);
  a = await instance('a');
  b = await instance('b');
  await Promise.all([a.server.start(), b.server.start()]);
  lbEst = await portBelowEphemeralRange();
  lbAdmin = await portBelowEphemeralRange();
  lb = await startHaproxy(dir, haproxyConfig(), [lbEst, lbAdmin]);
}, 180_000);

afterAll(async () => {
  await lb?.stop();
  await Promise.all([a?.server.stop(), b?.server.stop()]);
  await db?.drop();
});

describe('two instances on one PostgreSQL database behind HAProxy (TCP pass-through)', () => {
  it('both instances are ready on their ops listeners, and report their database pool', async () => {
    for (const i of [a, b]) expect((await get(`http://127.0.0.1:${i.ops}/readyz`)).status).toBe(200);
    // the PostgreSQL pool is reported through the profile/account cache in front of the store
    expect((await get(`http://127.0.0.1:${a.ops}/metrics`)).body.toString()).toMatch(/^estuary_store_pool_connections\{state="total"\} [1-9]/m);
  });

  it('enrolls and reenrolls with curl + openssl through HAProxy, on both instances', async () => {
    const before = await Promise.all([a, b].map((i) => enrolledOn(i)));
    for (let n = 0; n < 4; n++) {
      await sh(
        `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k${n}.pem -subj "/CN=lb-${n}" -outform DER | openssl base64 > c${n}.b64
         curl -sS --fail --cacert root.pem -u "$U:$P" -H "Content-Type: application/pkcs10" --data-binary @c${n}.b64 "$BASE/simpleenroll" | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out cert${n}.pem`,
        { BASE: `https://127.0.0.1:${lbEst}/.well-known/est`, U: est.user, P: est.password },
      );
    }
    await sh(
      `openssl req -new -key k0.pem -subj "/CN=lb-0" -outform DER | openssl base64 > r0.b64
       curl -sS --fail --cacert root.pem --cert cert0.pem --key k0.pem -H "Content-Type: application/pkcs10" --data-binary @r0.b64 "$BASE/simplereenroll" | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out renewed0.pem`,
      { BASE: `https://127.0.0.1:${lbEst}/.well-known/est` },
    );
    expect(new X509Certificate(readFileSync(join(dir, 'renewed0.pem'))).subject).toBe('CN=lb-0');
    const after = await Promise.all([a, b].map((i) => enrolledOn(i)));
    // round robin: each instance served some of them
    expect(after[0]! - before[0]!).toBeGreaterThan(0);
    expect(after[1]! - before[1]!).toBeGreaterThan(0);
  });

  it('enrolls with estuary client through HAProxy', async () => {
    writeFileSync(join(dir, 'pw'), est.password + '\n');
    const r = await estuaryClient(['enroll', '--server', `https://127.0.0.1:${lbEst}`, '--ca', join(dir, 'root.pem'), '--user', est.user, '--password-file', join(dir, 'pw'),
      '--cn', 'lb-client', '--out-key', join(dir, 'client.key'), '--out-cert', join(dir, 'client.pem')]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('a request held on one instance is approved on the other and collected through HAProxy', async () => {
    const csr = await makeCsr({ name: 'CN=held-device' });
    const send = (port: number) => estRequest(`https://127.0.0.1:${port}/.well-known/est/held/simpleenroll`, { ca: rootPem, basic: est, body: csrBody(csr.der), contentType: 'application/pkcs10' });
    const first = await send(a.est);
    expect(first.status, first.text).toBe(202);
    const s = await signIn(b.admin);
    const list = await api(b.admin, 'GET', '/api/requests?status=pending', { cookie: s.cookie });
    const id = list.json.items.find((r: { subject: string }) => r.subject.includes('held-device')).id;
    const decided = await api(b.admin, 'POST', `/api/requests/${id}/approve`, { cookie: s.cookie, csrf: s.csrf, body: {} });
    expect(decided.status, JSON.stringify(decided.json)).toBe(200);
    const collected = await send(lbEst);
    expect(collected.status, collected.text).toBe(200);
  });

  it('a Web RA session opened on one instance is accepted by the other', async () => {
    const s = await signIn(a.admin);
    const onB = await api(b.admin, 'GET', '/api/session', { cookie: s.cookie });
    expect(onB.status).toBe(200);
    expect(onB.json.email).toBe(adminAccount.user);
    // and ended on one, ended on both
    expect((await api(b.admin, 'DELETE', '/api/session', { cookie: s.cookie, csrf: s.csrf })).status).toBe(204);
    expect((await api(a.admin, 'GET', '/api/session', { cookie: s.cookie })).status).toBe(401);
  });

  it('a password changed on one instance is refused on the other within one second', async () => {
    expect((await enroll(b.est, 'pw-before')).status).toBe(200);
    const s = await signIn(a.admin);
    const next = `Changed-${Date.now()}-pw!`;
    const r = await api(a.admin, 'POST', `/api/accounts/${encodeURIComponent(est.user)}/password`, { cookie: s.cookie, csrf: s.csrf, body: { password: next } });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(await within(1000, async () => (await enroll(b.est, 'pw-old')).status === 401)).toBe(true);
    est = { user: est.user, password: next };
    expect((await enroll(b.est, 'pw-new')).status).toBe(200);
  });

  it('a revocation on one instance is on the CRL served by the other', async () => {
    const res = await enroll(a.est, 'to-revoke');
    expect(res.status).toBe(200);
    const serial = certificateFields(certsFrom(res)[0]!).serialHex;
    const s = await signIn(a.admin);
    const r = await api(a.admin, 'POST', `/api/certificates/${serial}/revoke`, { cookie: s.cookie, csrf: s.csrf, body: { reason: 'keyCompromise' } });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const crlFrom = async (i: Instance) => (await get(`http://127.0.0.1:${i.crl}/crl/default.crl`)).body;
    writeFileSync(join(dir, 'b.crl'), await crlFrom(b));
    const text = await sh('openssl crl -inform DER -in b.crl -noout -text');
    const listed = [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]!.toLowerCase().replace(/^0+/, ''));
    expect(listed).toContain(serial.replace(/^0+/, ''));
    expect((await crlFrom(a)).equals(await crlFrom(b))).toBe(true);
  });

  it('keeps enrolling through the survivor while one instance is killed; every 200 is recorded once; the killed one rejoins', async () => {
    const ok: string[] = [];
    let failed = 0;
    let stop = false;
    let n = 0;
    const worker = async () => {
      while (!stop) {
        const r = await enroll(lbEst, `load-${n++}`).catch(() => undefined);
        if (r?.status === 200) ok.push(certificateFields(certsFrom(r)[0]!).serialHex);
        else failed++;
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, worker));
    await new Promise((r) => setTimeout(r, 1500));
    await b.server.stop('kill');
    const atKill = ok.length;
    await new Promise((r) => setTimeout(r, 3000));
    expect(ok.length).toBeGreaterThan(atKill); // the survivor carries the load
    expect(atKill).toBeGreaterThan(0);
    await b.server.start();
    const servedBefore = await enrolledOn(b);
    await new Promise((r) => setTimeout(r, 2500));
    stop = true;
    await load;
    expect(await enrolledOn(b)).toBeGreaterThan(servedBefore); // rejoined: HAProxy sends it requests again
    const serials = ok;
    expect(new Set(serials).size).toBe(serials.length);
    const stored = await withConnection(db.url, async (c) => (await c.query<{ n: string }>('SELECT COUNT(*) AS n FROM certificates WHERE serial = ANY($1)', [serials])).rows[0]!.n);
    expect(Number(stored)).toBe(serials.length);
    // some requests may fail at the moment of the kill (connections it held); they are not recorded as issued to anyone
    expect(failed).toBeLessThan(ok.length);
  }, 120_000);
});

/** Enrollments an instance answered, from its own metrics. */
async function enrolledOn(i: Instance): Promise<number> {
  const text = (await get(`http://127.0.0.1:${i.ops}/metrics`)).body.toString();
  return text.split('\n').filter((l) => l.startsWith('estuary_requests_total{') && /operation="simple(re)?enroll"/.test(l) && /status="200"/.test(l))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/**
 * The CA connectors in the Web RA API, with a real upstream Estuary behind an RA (connector type
 * est) and a second est connector whose upstream never answers: what GET /api/cas says about each,
 * POST /api/cas/{id}/test, revocation of an upstream CA's certificate (recorded here, the upstream
 * must revoke it; no CRL pretends otherwise), and the health after the upstream goes away.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/bench/harness.js';
import { setCaConnector } from '../../src/cli/config-edit.js';
import { loadConfig } from '../../src/cli/config.js';
import { pemBlocks } from '../../src/pki/base64.js';
import { estuary } from '../helpers/cli.js';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { makeHome, startServer, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { addAccount, enroll, signedIn, type AdminClient } from './admin-client.js';

let up: TestServer;
let ra: TestServer;
let admin: AdminClient;
let officer: AdminClient;
let auditor: AdminClient;
let upstreamUrl: string;
/** SHA-256 (lower-case hex) of the upstream's CA certificates, issuing CA first. */
let upstreamFingerprints: string[];

const NOTICE = /^recorded here; the upstream CA upstream must revoke it — EST has no revocation operation/;
const sha256 = (der: Buffer): string => new X509Certificate(der).fingerprint256.replace(/:/g, '').toLowerCase();

beforeAll(async () => {
  up = await startServer();
  upstreamUrl = `https://127.0.0.1:${up.port}`;
  const raHome = await makeHome();
  writeFileSync(join(raHome.home, 'upstream-root.pem'), up.rootPem);
  writeFileSync(join(raHome.home, 'upstream.password'), up.summary.estAccount.password, { mode: 0o600 });
  const auth = { basic: { user: up.summary.estAccount.email, passwordFile: 'upstream.password' } };
  setCaConnector(raHome.home, 'upstream', { type: 'est', url: upstreamUrl, trustAnchors: ['upstream-root.pem'], auth });
  // nobody listens there: no answer, and no copy of its certificates
  setCaConnector(raHome.home, 'nowhere', { type: 'est', url: `https://127.0.0.1:${await freePort()}`, trustAnchors: ['upstream-root.pem'], auth });
  ra = await startServer(raHome);
  const upConfig = loadConfig(up.home, {});
  upstreamFingerprints = [...pemBlocks(readFileSync(upConfig.tls.certificate, 'utf8')).slice(1, 2), ...pemBlocks(up.rootPem)].map(sha256);
  admin = await signedIn(ra, ra.summary.adminAccount.email, ra.summary.adminAccount.password);
  officer = await signedIn(ra, 'officer@example.com', await addAccount(admin, 'officer@example.com', 'officer'));
  auditor = await signedIn(ra, 'auditor@example.com', await addAccount(admin, 'auditor@example.com', 'auditor'));
  const created = await admin.post('/api/profiles', { label: 'via-upstream', ca: 'upstream' });
  expect(created.status, created.text).toBe(201);
}, 120_000);

afterAll(async () => {
  await ra?.runtime.close();
  await up?.runtime.close();
});

describe('with the upstream running', () => {
  it('lists every connector with its type, chain, health and the profiles using it', async () => {
    const res = await auditor.get('/api/cas');
    expect(res.status, res.text).toBe(200);
    const byId = Object.fromEntries(res.json.items.map((c: { id: string }) => [c.id, c]));
    expect(Object.keys(byId)).toEqual(['default', 'upstream', 'nowhere']);

    const local = byId.default;
    expect(local).toMatchObject({
      type: 'local', typeLabel: 'Built-in CA', profileSetsCertificateContent: true, issuesCrls: true, url: null, chainError: null,
      subject: 'CN=Estuary Issuing CA, O=Estuary', notAfter: expect.any(String),
      health: { healthy: true, lastError: null }, profiles: ['default'],
    });
    expect(local.chain.at(-1).fingerprintSha256).toBe(sha256(pemBlocks(ra.rootPem)[0]!));
    expect(local.chain[0]).toMatchObject({ subject: 'CN=Estuary Issuing CA, O=Estuary', issuer: expect.stringContaining('Root'), notBefore: expect.any(String) });

    const upstream = byId.upstream;
    expect(upstream).toMatchObject({
      type: 'est', typeLabel: 'Upstream EST CA', profileSetsCertificateContent: false, issuesCrls: false, url: upstreamUrl, chainError: null,
      health: { healthy: true, lastError: null, chainFetchedAt: expect.any(String), lastSuccessAt: expect.any(String) },
      profiles: ['via-upstream'],
    });
    expect(upstream.chain.map((c: { fingerprintSha256: string }) => c.fingerprintSha256)).toEqual(upstreamFingerprints);
    expect(new Date(upstream.chain[0].notAfter).getTime()).toBeGreaterThan(Date.now());

    // down from the start, with nothing kept: no chain, the reason, unhealthy
    const nowhere = byId.nowhere;
    expect(nowhere).toMatchObject({ type: 'est', chain: [], subject: null, notAfter: null, profiles: [], health: { healthy: false, lastError: { message: expect.any(String), at: expect.any(String) } } });
    expect(nowhere.chainError).toMatch(/cannot be reached and no copy of its CA certificates is kept/);
  });

  it('POST /api/cas/{id}/test: admins only, probes the upstream and its credentials, audited', async () => {
    for (const c of [officer, auditor]) expect((await c.post('/api/cas/upstream/test', {})).status).toBe(403);
    expect((await admin.post('/api/cas/none/test', {})).status).toBe(404);
    const res = await admin.post('/api/cas/upstream/test', {});
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ healthy: true, url: upstreamUrl, lastError: null, credentials: 'accepted', lastSuccessAt: expect.any(String) });
    const local = await admin.post('/api/cas/default/test', {});
    expect(local.json).toEqual({ healthy: true, lastError: null, lastSuccessAt: null, chainFetchedAt: null });
    const down = await admin.post('/api/cas/nowhere/test', {});
    expect(down.json).toMatchObject({ healthy: false, lastError: { message: expect.any(String) } });
    const audit = (await auditor.get('/api/audit?action=ca.test')).json.items;
    expect(audit.map((e: { outcome: string; detail: string; actor: string }) => [e.actor, e.outcome, e.detail.split(':')[0]])).toEqual([
      [ra.summary.adminAccount.email, 'failure', 'nowhere'],
      [ra.summary.adminAccount.email, 'success', 'default'],
      [ra.summary.adminAccount.email, 'success', 'upstream'],
    ]);
  });

  it('revokes an upstream CA\'s certificate here, says the upstream must revoke it, and publishes no CRL for that CA', async () => {
    const key = await makeCsr({ name: 'CN=upstream-device', dns: ['upstream-device.example'] });
    const issued = await enroll(ra, { label: 'via-upstream', csr: key });
    expect(issued.status, issued.text).toBe(200);
    const serial = issued.serial!;
    const before = await auditor.get(`/api/certificates/${serial}`);
    expect(before.json).toMatchObject({ ca: 'upstream', status: 'valid', caPublishesCrl: false, revocationNotice: expect.stringMatching(NOTICE) });

    const res = await officer.post(`/api/certificates/${serial}/revoke`, { reason: 'keyCompromise' });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ serial, status: 'revoked', revocationReason: 'keyCompromise', caPublishesCrl: false, revocationNotice: expect.stringMatching(NOTICE) });
    expect((await auditor.get(`/api/certificates/${serial}`)).json.status).toBe('revoked');
    const audit = (await auditor.get('/api/audit?action=cert.revoke')).json.items;
    expect(audit[0]).toMatchObject({ actor: 'officer@example.com', serial, profile: 'via-upstream', outcome: 'success' });
    expect(audit[0].detail).toMatch(/^keyCompromise; recorded here; the upstream CA upstream must revoke it — EST has no revocation operation/);

    // the RA holds to its record: the revoked certificate cannot renew
    const pem = (await auditor.get(`/api/certificates/${serial}/pem`)).text;
    const renew = await estRequest(`${ra.base}/via-upstream/simplereenroll`, {
      ca: ra.rootPem, clientCert: { cert: pem, key: key.keyPem }, body: csrBody(key.der), contentType: 'application/pkcs10',
    });
    expect(renew.status, renew.text).toBe(401);
    expect(renew.text).toMatch(/revoked/);

    // no CRL here for the upstream CA, said in words; the built-in CA's CRL does not list the serial either
    for (const name of ['upstream', 'upstream-delta']) {
      const crl = await fetch(`${ra.runtime.crlBaseUrl()}/${name}.crl`);
      expect(crl.status).toBe(404);
      expect(crl.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await crl.text()).toMatch(/^no CRL for CA "upstream": it is an upstream CA reached over EST, which has no revocation operation; .*the upstream CA must revoke/);
    }
    const local = await fetch(`${ra.runtime.crlBaseUrl()}/default.crl`);
    expect(local.status).toBe(200);
    const { X509Crl } = await import('@peculiar/x509');
    expect(new X509Crl(Buffer.from(await local.arrayBuffer())).entries.map((e) => e.serialNumber.toLowerCase().replace(/^0+/, ''))).not.toContain(serial);
    const unknown = await fetch(`${ra.runtime.crlBaseUrl()}/nosuch.crl`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toMatch(/^no CRL for CA "nosuch": there is no such CA/);
  });

  it('a built-in CA\'s certificate revoked through the Web RA has no upstream notice', async () => {
    const issued = await enroll(ra, { cn: 'local-device' });
    expect(issued.status, issued.text).toBe(200);
    const res = await officer.post(`/api/certificates/${issued.serial}/revoke`, { reason: 'superseded' });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ ca: 'default', caPublishesCrl: true, revocationNotice: null });
    const audit = (await auditor.get('/api/audit?action=cert.revoke')).json.items;
    expect(audit[0]).toMatchObject({ serial: issued.serial, detail: 'superseded' });
  });

  it('estuary cert revoke says the same for an upstream CA\'s certificate', async () => {
    const issued = await enroll(ra, { label: 'via-upstream', cn: 'upstream-cli' });
    expect(issued.status, issued.text).toBe(200);
    const run = await estuary(['cert', 'revoke', issued.serial!, '--reason', 'cessationOfOperation', '--home', ra.home], { timeoutMs: 120_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^certificate ${issued.serial} \\(CN=upstream-cli\\) revoked: cessationOfOperation; recorded here; the upstream CA upstream must revoke it — EST has no revocation operation`));
    expect((await auditor.get(`/api/certificates/${issued.serial}`)).json).toMatchObject({ status: 'revoked', revocationReason: 'cessationOfOperation' });
    const audit = (await auditor.get('/api/audit?action=cert.revoke')).json.items;
    expect(audit[0]).toMatchObject({ actor: expect.stringMatching(/^cli:/), serial: issued.serial, detail: expect.stringMatching(/^cessationOfOperation; recorded here; the upstream CA upstream must revoke it/) });
  });
});

describe('after the upstream stops', () => {
  beforeAll(async () => {
    await up.runtime.close();
  }, 120_000);

  it('a failed enrollment marks the connector unhealthy with the error; the kept chain is still shown', async () => {
    const res = await enroll(ra, { label: 'via-upstream', cn: 'after-stop' });
    expect(res.status, res.text).toBe(503);
    const cas = await auditor.get('/api/cas');
    const upstream = cas.json.items.find((c: { id: string }) => c.id === 'upstream');
    expect(upstream.health).toMatchObject({ healthy: false, lastError: { message: expect.any(String), at: expect.any(String) } });
    expect(upstream.chain.map((c: { fingerprintSha256: string }) => c.fingerprintSha256)).toEqual(upstreamFingerprints);
    expect(upstream.chainError).toBeNull();
  });

  it('the test says so too, and the audit records the failure', async () => {
    const res = await admin.post('/api/cas/upstream/test', {});
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ healthy: false, url: upstreamUrl, lastError: { message: expect.any(String) } });
    const audit = (await auditor.get('/api/audit?action=ca.test')).json.items;
    expect(audit[0]).toMatchObject({ outcome: 'failure', detail: expect.stringMatching(/^upstream: /) });
  });
});

describe('an upstream that accepts connections and never answers', () => {
  let silent: Server;
  const sockets = new Set<Socket>();
  let raSilent: TestServer;

  beforeAll(async () => {
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const home = await makeHome();
    writeFileSync(join(home.home, 'upstream-root.pem'), ra.rootPem);
    writeFileSync(join(home.home, 'upstream.password'), 'unused', { mode: 0o600 });
    setCaConnector(home.home, 'silent', {
      type: 'est', url: `https://127.0.0.1:${port}`, trustAnchors: ['upstream-root.pem'], timeoutSeconds: 600,
      auth: { basic: { user: 'ra@example.com', passwordFile: 'upstream.password' } },
    });
    raSilent = await startServer(home);
  }, 120_000);

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await raSilent?.runtime.close();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('does not hold the list: the connector is shown without a chain, saying it has not answered', async () => {
    const client = await signedIn(raSilent, raSilent.summary.adminAccount.email, raSilent.summary.adminAccount.password);
    const res = await client.get('/api/cas');
    expect(res.status, res.text).toBe(200);
    const byId = Object.fromEntries(res.json.items.map((c: { id: string }) => [c.id, c]));
    expect(byId.default.chain.length).toBeGreaterThan(0);
    expect(byId.silent).toMatchObject({ chain: [], health: { healthy: false } });
    expect(byId.silent.chainError).toMatch(/^the CA has not answered within 5 s/);
  });
});

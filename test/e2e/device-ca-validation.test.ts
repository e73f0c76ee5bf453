/**
 * TLS client certificates from external device CAs over real TLS: name constraints of the
 * device CA (RFC 5280 §4.2.1.10) and revocation from the device CA's CRL (RFC 5280 §6.3),
 * served by a real HTTP server on 127.0.0.1:0; the profile's policy when no fresh CRL can be had.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEVICE_REVOCATION } from '../../src/ra/model.js';
import { makeDeviceCa, type DeviceCa, type IssueOptions } from '../helpers/device-ca.js';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { generateKeys, makeCsr, x509 } from '../helpers/keys.js';

let s: TestServer;
let crlServer: Server;
let crlBase: string;
let downUrl: string;
let device: DeviceCa;
let constrained: DeviceCa;
const crls = new Map<string, Buffer>();

/** NameConstraints permitting dNSName devices.example only, DER written out. */
const PERMIT_DEVICES_EXAMPLE = Buffer.from('3015a0133011820f646576696365732e6578616d706c65', 'hex');

beforeAll(async () => {
  s = await startServer();
  crlServer = createServer((req, res) => {
    const body = crls.get(req.url ?? '');
    if (body) res.writeHead(200, { 'Content-Type': 'application/pkix-crl' }).end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => crlServer.listen(0, '127.0.0.1', resolve));
  crlBase = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}`;
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  downUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/down.crl`;
  await new Promise((resolve) => closed.close(resolve));

  device = await makeDeviceCa('CN=Plant Device CA, O=Example');
  constrained = await makeDeviceCa('CN=Constrained Device CA, O=Example', { extensions: [new x509.Extension('2.5.29.30', true, new Uint8Array(PERMIT_DEVICES_EXAMPLE))] });
  const p = (await s.runtime.store.getProfile('default'))!;
  const devices = { ...p, auth: 'tls-client-cert' as const, clientTrustAnchors: [device.pem] };
  await s.runtime.store.createProfile({ ...devices, label: 'refuse' });
  await s.runtime.store.createProfile({ ...devices, label: 'allow', deviceRevocation: { ...DEFAULT_DEVICE_REVOCATION, whenUnavailable: 'allow' } });
  const fingerprint = createHash('sha256').update(Buffer.from(device.cert.rawData)).digest('hex');
  await s.runtime.store.createProfile({ ...devices, label: 'anchor-crl', deviceRevocation: { whenUnavailable: 'refuse', crlUrls: { [fingerprint]: `${crlBase}/anchor.crl` } } });
  await s.runtime.store.createProfile({ ...devices, label: 'constrained', clientTrustAnchors: [constrained.pem] });
});
afterAll(async () => {
  crlServer.closeAllConnections();
  await new Promise((resolve) => crlServer.close(resolve));
  await s.runtime.close();
});

async function enroll(label: string, ca: DeviceCa, cn: string, opts: IssueOptions = {}) {
  const clientCert = await ca.issue(cn, opts);
  const csr = await makeCsr({ name: `CN=${cn}` });
  const res = await estRequest(`${s.base}/${label}/simpleenroll`, { ca: s.rootPem, clientCert, body: csrBody(csr.der), contentType: 'application/pkcs10' });
  return { ...res, serial: clientCert.serial };
}

const lastAudit = async (label: string, action = 'simpleenroll') => (await s.runtime.store.listAudit({ profile: label, action }))[0];

describe('name constraints of a device CA', () => {
  it('refuses a leaf outside the CA’s permitted names with 401 and the reason, and enrolls one inside', async () => {
    const outside = await enroll('constrained', constrained, 'cam-1', { sans: [{ type: 'dns', value: 'cam-1.elsewhere.test' }] });
    expect(outside.status).toBe(401);
    expect(outside.headers['content-type']).toMatch(/^text\/plain/);
    expect(outside.text).toMatch(/DNS:cam-1\.elsewhere\.test is outside the permitted names of "CN=Constrained Device CA, O=Example" \(name constraints\)/);
    expect(await lastAudit('constrained')).toMatchObject({ outcome: 'unauthenticated', detail: expect.stringMatching(/outside the permitted names/) });
    const inside = await enroll('constrained', constrained, 'cam-2', { sans: [{ type: 'dns', value: 'cam-2.devices.example' }] });
    expect(inside.status, inside.text).toBe(200);
  });
});

describe('revocation of device certificates from the device CA’s CRL', () => {
  it('refuses a revoked certificate with 401 and audits it; accepts one the CRL does not list', async () => {
    const url = `${crlBase}/plant.crl`;
    const revoked = await device.issue('stolen-1', { crlUrl: url });
    crls.set('/plant.crl', await device.crl([revoked.serial]));
    const csr = await makeCsr({ name: 'CN=stolen-1' });
    const res = await estRequest(`${s.base}/refuse/simpleenroll`, { ca: s.rootPem, clientCert: revoked, body: csrBody(csr.der), contentType: 'application/pkcs10' });
    expect(res.status).toBe(401);
    expect(res.text).toMatch(`the client certificate has been revoked (CRL ${url}, reason keyCompromise)`);
    expect(await lastAudit('refuse')).toMatchObject({ actor: 'CN=stolen-1', outcome: 'unauthenticated', detail: expect.stringMatching(/has been revoked/) });
    const fine = await enroll('refuse', device, 'fine-1', { crlUrl: url });
    expect(fine.status, fine.text).toBe(200);
  });

  it('CRL server down: refused under the default policy, allowed and audited under "allow"', async () => {
    const refused = await enroll('refuse', device, 'offline-1', { crlUrl: downUrl });
    expect(refused.status).toBe(401);
    expect(refused.text).toMatch(`the revocation status of the client certificate is unknown (no fresh CRL from ${downUrl}: connect ECONNREFUSED`);
    expect(refused.text).toMatch(/refused by the profile's revocation policy/);
    const allowed = await enroll('allow', device, 'offline-2', { crlUrl: downUrl });
    expect(allowed.status, allowed.text).toBe(200);
    const event = await lastAudit('allow', 'revocation-check');
    expect(event).toMatchObject({ actor: 'CN=offline-2', outcome: 'allowed' });
    expect(event!.detail).toContain(downUrl);
    expect(event!.detail).toMatch(/ECONNREFUSED.*allowed by the profile's revocation policy; certificate serial/);
    await expect.poll(() => readFileSync(s.logFile, 'utf8')).toMatch(new RegExp(`"url":"${downUrl}","reason":"connect ECONNREFUSED[^"]*","msg":"device CA CRL could not be fetched"`));
  });

  it('an expired CRL counts as no CRL: refused or allowed per policy', async () => {
    crls.set('/expired.crl', await device.crl([], { thisUpdate: new Date(Date.now() - 3 * 86_400_000), nextUpdate: new Date(Date.now() - 86_400_000) }));
    const refused = await enroll('refuse', device, 'stale-1', { crlUrl: `${crlBase}/expired.crl` });
    expect(refused.status).toBe(401);
    expect(refused.text).toMatch(/no fresh CRL from .*expired\.crl: the CRL expired at/);
    expect((await enroll('allow', device, 'stale-2', { crlUrl: `${crlBase}/expired.crl` })).status).toBe(200);
  });

  it('a CRL signed by another key counts as no CRL, even when it does not list the certificate', async () => {
    const stranger = await generateKeys('ec-p256');
    crls.set('/forged.crl', await device.crl([], { signingKey: stranger.privateKey }));
    const refused = await enroll('refuse', device, 'forged-1', { crlUrl: `${crlBase}/forged.crl` });
    expect(refused.status).toBe(401);
    expect(refused.text).toMatch(/the CRL signature does not verify with the issuing CA's key/);
  });

  it('a CRL URL configured for the trust anchor takes precedence over the certificate’s distribution point', async () => {
    crls.set('/cdp-clean.crl', await device.crl([]));
    const cert = await device.issue('anchor-listed', { crlUrl: `${crlBase}/cdp-clean.crl` });
    crls.set('/anchor.crl', await device.crl([cert.serial]));
    const csr = await makeCsr({ name: 'CN=anchor-listed' });
    const post = (label: string) => estRequest(`${s.base}/${label}/simpleenroll`, { ca: s.rootPem, clientCert: cert, body: csrBody(csr.der), contentType: 'application/pkcs10' });
    const viaAnchor = await post('anchor-crl');
    expect(viaAnchor.status).toBe(401);
    expect(viaAnchor.text).toMatch(`has been revoked (CRL ${crlBase}/anchor.crl`);
    expect((await post('refuse')).status).toBe(200);
    // a certificate without a distribution point is checked against the anchor's CRL too
    expect((await enroll('anchor-crl', device, 'no-cdp')).status).toBe(200);
  });

  it('refuses a certificate whose issuing CA its root has revoked (the client sends the chain)', async () => {
    const root = await makeDeviceCa('CN=Plant Root CA, O=Example');
    const p = (await s.runtime.store.getProfile('refuse'))!;
    await s.runtime.store.createProfile({ ...p, label: 'chain', clientTrustAnchors: [root.pem] });
    const rootCrl = `${crlBase}/plant-root.crl`;
    const kept = await makeDeviceCa('CN=Plant Issuing CA 1, O=Example', { parent: root, serial: '5a', crlUrl: rootCrl });
    const dropped = await makeDeviceCa('CN=Plant Issuing CA 2, O=Example', { parent: root, serial: '5b', crlUrl: rootCrl });
    crls.set('/plant-root.crl', await root.crl(['5b']));
    const viaChain = async (sub: DeviceCa, cn: string) => {
      const leaf = await sub.issue(cn);
      const csr = await makeCsr({ name: `CN=${cn}` });
      return estRequest(`${s.base}/chain/simpleenroll`, { ca: s.rootPem, clientCert: { cert: leaf.cert + sub.pem, key: leaf.key }, body: csrBody(csr.der), contentType: 'application/pkcs10' });
    };
    const ok = await viaChain(kept, 'line-1');
    expect(ok.status, ok.text).toBe(200);
    const refused = await viaChain(dropped, 'line-2');
    expect(refused.status).toBe(401);
    expect(refused.text).toMatch(`the CA certificate "CN=Plant Issuing CA 2, O=Example" on its path has been revoked (CRL ${rootCrl}, reason keyCompromise)`);
  });

  it('a certificate that names no CRL and has none configured is not checked', async () => {
    expect((await enroll('refuse', device, 'no-crl')).status).toBe(200);
  });
});

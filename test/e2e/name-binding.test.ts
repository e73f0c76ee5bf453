/**
 * Names bound to the TLS client certificate (namePolicy.clientBinding) over real TLS: a device
 * certificate gets its own names (match), names configured for its trust anchor (anchor-names),
 * or any name (free, opt-in); an id-kp-cmcRA certificate requests for others (RFC 7030 §3.7).
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OID } from '../../src/pki/oids.js';
import { DEFAULT_CLIENT_BINDING, EMPTY_NAME_POLICY, type ClientBinding } from '../../src/ra/model.js';
import { certsFrom, csrBody, estRequest } from '../helpers/est-http.js';
import { makeDeviceCa, type DeviceCa } from '../helpers/device-ca.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';

let s: TestServer;
let device: DeviceCa;
let otherDevice: DeviceCa;
let basic: { user: string; password: string };

async function profileWith(label: string, binding: Partial<ClientBinding>, auth: 'tls-client-cert' | 'basic+tls-client-cert' = 'tls-client-cert'): Promise<void> {
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({
    ...p, label, auth, clientTrustAnchors: [device.pem, otherDevice.pem],
    namePolicy: { ...EMPTY_NAME_POLICY, clientBinding: { ...DEFAULT_CLIENT_BINDING, ...binding } },
  });
}

async function enroll(label: string, clientCert: { cert: string; key: string }, name: string, dns: string[] = [], withBasic = false) {
  const { der } = await makeCsr({ name, dns });
  return estRequest(`${s.base}/${label}/simpleenroll`, { ca: s.rootPem, clientCert, body: csrBody(der), contentType: 'application/pkcs10', ...(withBasic ? { basic } : {}) });
}

beforeAll(async () => {
  s = await startServer();
  basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  device = await makeDeviceCa();
  otherDevice = await makeDeviceCa('CN=Other Device CA, O=Example');
  const fp = new X509Certificate(device.pem).fingerprint256;
  await profileWith('match', {});
  await profileWith('match-both', {}, 'basic+tls-client-cert');
  await profileWith('match-cn', { attributes: ['CN'] });
  await profileWith('anchored', {
    mode: 'anchor-names',
    anchors: [{ fingerprintSha256: fp, names: ['dev-*', 'dns:*.devices.example.com'], subjectPatterns: { O: 'Example|Example Lab' } }],
  });
  await profileWith('free', { mode: 'free' });
});
afterAll(async () => {
  await s.runtime.close();
});

describe('match (the default): a device certificate gets its own names', () => {
  it('refuses someone else\'s name, and issues the certificate\'s own', async () => {
    const dev = await device.issue('dev-42');
    const hijack = await enroll('match', dev, 'CN=ceo-laptop', ['www.bank.example']);
    expect(hijack.status).toBe(403);
    expect(hijack.text).toMatch(/binds requested names to the TLS client certificate: the requested subject "CN=ceo-laptop" is not the certificate's "CN=dev-42"/);
    const own = await enroll('match', dev, 'CN=dev-42');
    expect(own.status, own.text).toBe(200);
    expect(new X509Certificate(certsFrom(own)[0]!).subject).toBe('CN=dev-42');
  });

  it('compares subjects as RFC 5280 names (case and spaces), and SANs against the certificate\'s', async () => {
    const dev = await device.issue('', { subject: 'CN=Dev 7, O=Example', dns: ['dev-7.devices.example.com'] });
    expect((await enroll('match', dev, 'CN=dev  7, O=EXAMPLE', ['DEV-7.devices.example.com'])).status).toBe(200);
    const extraSan = await enroll('match', dev, 'CN=Dev 7, O=Example', ['dev-7.devices.example.com', 'www.bank.example']);
    expect(extraSan.status).toBe(403);
    expect(extraSan.text).toMatch(/DNS:www.bank.example is not among the certificate's subjectAltNames/);
    expect((await enroll('match', dev, 'CN=Dev 7, O=Evil', ['dev-7.devices.example.com'])).status).toBe(403);
  });

  it('binds on basic+tls-client-cert profiles too', async () => {
    const dev = await device.issue('gw-1');
    expect((await enroll('match-both', dev, 'CN=gw-1', [], true)).status).toBe(200);
    const other = await enroll('match-both', dev, 'CN=gw-2', [], true);
    expect(other.status).toBe(403);
    expect(other.text).toMatch(/binds requested names/);
  });

  it('with a list of attributes binds only those', async () => {
    const dev = await device.issue('dev-43');
    expect((await enroll('match-cn', dev, 'CN=DEV-43, O=Anything')).status).toBe(200);
    const other = await enroll('match-cn', dev, 'CN=dev-44');
    expect(other.status).toBe(403);
    expect(other.text).toMatch(/the requested subject CN differs from the certificate's \(dev-43\)/);
  });

  it('exempts an RA certificate (id-kp-cmcRA), which requests for others (RFC 7030 §3.7)', async () => {
    const ra = await device.issue('est-ra', { eku: [OID.clientAuth, OID.cmcRA] });
    const res = await enroll('match', ra, 'CN=sensor-99', ['sensor-99.devices.example.com']);
    expect(res.status, res.text).toBe(200);
  });
});

describe('anchor-names: names configured per trust anchor', () => {
  it('issues names within the anchor\'s globs and patterns, refuses others', async () => {
    const dev = await device.issue('whoever');
    expect((await enroll('anchored', dev, 'CN=dev-9, O=Example Lab', ['dev-9.devices.example.com'])).status).toBe(200);
    const outside = await enroll('anchored', dev, 'CN=ceo-laptop');
    expect(outside.status).toBe(403);
    expect(outside.text).toMatch(/trust anchor "CN=Enterprise Device CA, O=Example" does not allow the name "ceo-laptop"/);
    const dnsOutside = await enroll('anchored', dev, 'CN=dev-9', ['www.bank.example']);
    expect(dnsOutside.status).toBe(403);
    const badO = await enroll('anchored', dev, 'CN=dev-9, O=Evil');
    expect(badO.status).toBe(403);
    expect(badO.text).toMatch(/subject O="Evil" does not match/);
    const ou = await enroll('anchored', dev, 'CN=dev-9, OU=Lab');
    expect(ou.status).toBe(403);
    expect(ou.text).toMatch(/allows no subject attribute OU/);
  });

  it('refuses everything from an anchor without configured names, an RA certificate included', async () => {
    const other = await otherDevice.issue('dev-1');
    const res = await enroll('anchored', other, 'CN=dev-1');
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/no names are configured for trust anchor "CN=Other Device CA, O=Example"/);
    const ra = await device.issue('est-ra', { eku: [OID.clientAuth, OID.cmcRA] });
    expect((await enroll('anchored', ra, 'CN=ceo-laptop')).status).toBe(403);
    expect((await enroll('anchored', ra, 'CN=dev-77')).status).toBe(200);
  });
});

describe('free: explicitly unbound', () => {
  it('issues any name the rest of the policy allows', async () => {
    const dev = await device.issue('dev-42');
    expect((await enroll('free', dev, 'CN=ceo-laptop', ['www.bank.example'])).status).toBe(200);
  });
});

/**
 * TLS client authentication and "both", each on its own profile, and simplereenroll
 * (RFC 7030 §4.2.2): renew, rekey, subject mismatch, expired, revoked and foreign certificates.
 */
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { localCaConfig } from '../../src/ca/registry.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalCa } from '../../src/ca/local-ca.js';
import { pemBlocks } from '../../src/pki/base64.js';
import { certsFrom, csrBody, estRequest, pem } from '../helpers/est-http.js';
import { makeDeviceCa, type DeviceCa } from '../helpers/device-ca.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { makeCsr, type TestCsr } from '../helpers/keys.js';
import { issueTemplate } from '../helpers/issue-template.js';

let s: TestServer;
let device: DeviceCa;
let basic: { user: string; password: string };

beforeAll(async () => {
  s = await startServer();
  basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  device = await makeDeviceCa();
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'devices', auth: 'tls-client-cert', clientTrustAnchors: [device.pem] });
  await s.runtime.store.createProfile({ ...p, label: 'both', auth: 'basic+tls-client-cert', clientTrustAnchors: [device.pem] });
});
afterAll(async () => {
  await s.runtime.close();
});

const post = (path: string, csr: TestCsr, extra: { basic?: typeof basic; clientCert?: { cert: string; key: string }; maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {}) =>
  estRequest(s.base + path, { ca: s.rootPem, body: csrBody(csr.der), contentType: 'application/pkcs10', ...extra });

/** Enroll on the default (Basic) profile and return the certificate with its key. */
async function enrolled(name = 'CN=renew-me', dns = ['renew-me.example']): Promise<{ cert: string; key: string; x: X509Certificate; csr: TestCsr }> {
  const csr = await makeCsr({ name, dns });
  const res = await post('/simpleenroll', csr, { basic });
  expect(res.status, res.text).toBe(200);
  const der = certsFrom(res)[0]!;
  return { cert: pem(der), key: csr.keyPem, x: new X509Certificate(der), csr };
}

describe('TLS client authentication profile', () => {
  it.each(['TLSv1.2', 'TLSv1.3'] as const)('enrolls with a device certificate that chains to the profile anchors (%s)', async (maxVersion) => {
    const dev = await device.issue('sensor-7');
    const csr = await makeCsr({ name: 'CN=sensor-7' });
    const res = await post('/devices/simpleenroll', csr, { clientCert: dev, maxVersion });
    expect(res.status, res.text).toBe(200);
    const record = await s.runtime.store.getCertificate(new X509Certificate(certsFrom(res)[0]!).serialNumber.toLowerCase());
    expect(record?.requester).toBe('CN=sensor-7');
  });

  it('refuses no certificate, a foreign certificate, an expired one and one without clientAuth with 401', async () => {
    const csr = await makeCsr();
    const none = await post('/devices/simpleenroll', csr);
    expect(none.status).toBe(401);
    expect(none.text).toMatch(/TLS client certificate is required/);
    // RFC 9110 §15.5.2: a challenge, but not for a password this profile would not take
    expect(none.headers['www-authenticate']).toBe('TLS-Client-Certificate realm="estuary devices"');
    const foreignCa = await makeDeviceCa('CN=Someone Else CA');
    const foreign = await post('/devices/simpleenroll', csr, { clientCert: await foreignCa.issue('intruder') });
    expect(foreign.status).toBe(401);
    expect(foreign.text).toMatch(/does not chain to the trust anchors/);
    const expired = await post('/devices/simpleenroll', csr, { clientCert: await device.issue('old', { notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) }) });
    expect(expired.status).toBe(401);
    expect(expired.text).toMatch(/expired/);
    const serverOnly = await post('/devices/simpleenroll', csr, { clientCert: await device.issue('srv', { eku: ['1.3.6.1.5.5.7.3.1'] }) });
    expect(serverOnly.status).toBe(401);
    expect(serverOnly.text).toMatch(/extended key usage/);
    // Basic alone does not satisfy a TLS-only profile
    expect((await post('/devices/simpleenroll', csr, { basic })).status).toBe(401);
  });

  it('refuses a certificate this CA issued but the profile does not trust', async () => {
    const mine = await enrolled('CN=ours');
    const res = await post('/devices/simpleenroll', await makeCsr(), { clientCert: mine });
    expect(res.status).toBe(401);
  });
});

describe('both mechanisms', () => {
  it('needs the certificate first, then Basic', async () => {
    const dev = await device.issue('gateway-1');
    const csr = await makeCsr({ name: 'CN=gateway-1' });
    expect((await post('/both/simpleenroll', csr, { clientCert: dev, basic })).status).toBe(200);
    const certOnly = await post('/both/simpleenroll', csr, { clientCert: dev });
    expect(certOnly.status).toBe(401);
    expect(certOnly.headers['www-authenticate']).toBe('Basic realm="estuary both"');
    const basicOnly = await post('/both/simpleenroll', csr, { basic });
    expect(basicOnly.status).toBe(401);
    // valid Basic without a certificate: the answer says the certificate is missing, no password re-challenge
    expect(basicOnly.text).toMatch(/HTTP Basic credentials alone are not enough: a TLS client certificate is required by this profile, and none was presented/);
    expect(basicOnly.headers['www-authenticate']).toBe('TLS-Client-Certificate realm="estuary both"');
    const nothing = await estRequest(s.base + '/both/simpleenroll', { ca: s.rootPem, body: csrBody(csr.der), contentType: 'application/pkcs10', headers: { 'user-agent': 'est-test' } });
    expect(nothing.status).toBe(401);
    // two header fields, Basic first (node joins them with ", ")
    expect(nothing.headers['www-authenticate']).toBe('Basic realm="estuary both", TLS-Client-Certificate realm="estuary both"');
    expect(nothing.text).toMatch(/TLS client certificate is required/);
    const wrongPw = await post('/both/simpleenroll', csr, { clientCert: dev, basic: { ...basic, password: 'nope-nope' } });
    expect(wrongPw.status).toBe(401);
  });
});

describe('simplereenroll', () => {
  it.each(['TLSv1.2', 'TLSv1.3'] as const)('renews with the same key and links the new certificate (%s)', async (maxVersion) => {
    const old = await enrolled();
    const res = await post('/simplereenroll', old.csr, { clientCert: old, maxVersion });
    expect(res.status, res.text).toBe(200);
    const renewed = new X509Certificate(certsFrom(res)[0]!);
    expect(renewed.subject).toBe(old.x.subject);
    expect(renewed.subjectAltName).toBe(old.x.subjectAltName);
    expect(renewed.serialNumber).not.toBe(old.x.serialNumber);
    const record = await s.runtime.store.getCertificate(renewed.serialNumber.toLowerCase());
    expect(record?.renews).toBe(old.x.serialNumber.toLowerCase());
  });

  it('rekeys: a new key with the same subject and SAN', async () => {
    const old = await enrolled();
    const rekey = await makeCsr({ name: 'CN=renew-me', dns: ['renew-me.example'] });
    const res = await post('/simplereenroll', rekey, { clientCert: old });
    expect(res.status, res.text).toBe(200);
    const renewed = new X509Certificate(certsFrom(res)[0]!);
    expect(renewed.publicKey.export({ format: 'jwk' })).toEqual(rekey.keys.publicKey && (await import('node:crypto')).createPublicKey(createPrivateKey(rekey.keyPem)).export({ format: 'jwk' }));
  });

  it('refuses a different subject or SAN with 403', async () => {
    const old = await enrolled();
    const other = await post('/simplereenroll', await makeCsr({ name: 'CN=someone-else', dns: ['renew-me.example'] }), { clientCert: old });
    expect(other.status).toBe(403);
    expect(other.text).toMatch(/subject differs/);
    const otherSan = await post('/simplereenroll', await makeCsr({ name: 'CN=renew-me', dns: ['other.example'] }), { clientCert: old });
    expect(otherSan.status).toBe(403);
    expect(otherSan.text).toMatch(/subjectAltName differs/);
    const noSan = await post('/simplereenroll', await makeCsr({ name: 'CN=renew-me' }), { clientCert: old });
    expect(noSan.status).toBe(403);
  });

  it('refuses without a client certificate, with a foreign one, a revoked one and an expired one', async () => {
    const old = await enrolled();
    const none = await post('/simplereenroll', old.csr, { basic });
    expect(none.status).toBe(401);
    // only the certificate being renewed can authenticate: a challenge for it, not for a password
    expect(none.headers['www-authenticate']).toBe('TLS-Client-Certificate realm="estuary default"');
    expect(none.text).toMatch(/requires the certificate being renewed/);
    const foreign = await device.issue('renew-me');
    const f = await post('/simplereenroll', old.csr, { clientCert: foreign });
    expect(f.status).toBe(401);
    expect(f.headers['www-authenticate']).toBe('TLS-Client-Certificate realm="estuary default"');
    expect(f.text).toMatch(/not issued by this profile's CA/);

    const revoked = await enrolled();
    expect(await s.runtime.store.revokeCertificate(revoked.x.serialNumber.toLowerCase(), 'keyCompromise', new Date())).toBe(true);
    const r = await post('/simplereenroll', revoked.csr, { clientCert: revoked });
    expect(r.status).toBe(401);
    expect(r.text).toMatch(/revoked/);

    // An expired certificate from this CA: signed with the issuing key, recorded as issued.
    const caConfig = localCaConfig(s.runtime.config.cas.default, 'default');
    const ca = createLocalCa({
      id: 'default',
      key: createPrivateKey(readFileSync(caConfig.key)),
      chain: pemBlocks(readFileSync(caConfig.certificate, 'utf8')),
      now: () => new Date(Date.now() - 40 * 86_400_000),
      random: randomBytes,
    });
    const csr = await makeCsr({ name: 'CN=expired-device' });
    const issued = await issueTemplate(ca, { subject: (await import('../../src/pki/csr.js')).parseCsr(csr.der).subject, spki: (await import('../../src/pki/csr.js')).parseCsr(csr.der).spki, subjectAltName: undefined, validitySeconds: 1 * 86_400, keyUsage: ['digitalSignature'], extendedKeyUsage: ['1.3.6.1.5.5.7.3.2'] });
    await s.runtime.store.recordIssuance(
      { serial: issued.serialHex, profile: 'default', ca: 'default', subject: 'CN=expired-device', sans: [], notBefore: issued.notBefore, notAfter: issued.notAfter, der: issued.der, requester: 'test', renews: null },
      { actor: 'test', action: 'simpleenroll', profile: 'default', outcome: 'success', serial: issued.serialHex, detail: null },
    );
    const e = await post('/simplereenroll', csr, { clientCert: { cert: pem(issued.der), key: csr.keyPem } });
    expect(e.status).toBe(401);
    expect(e.text).toMatch(/validity/);
    // and the server keeps serving
    expect((await post('/simplereenroll', old.csr, { clientCert: old })).status).toBe(200);
  });

  it('a revoked certificate of ours no longer authenticates on a TLS profile that trusts our CA', async () => {
    const p = (await s.runtime.store.getProfile('default'))!;
    await s.runtime.store.createProfile({ ...p, label: 'ours', auth: 'tls-client-cert', clientTrustAnchors: [readFileSync(join(s.home, 'ca', 'root.pem'), 'utf8')] });
    const mine = await enrolled('CN=ours-2');
    expect((await post('/ours/simpleenroll', await makeCsr({ name: 'CN=ours-2' }), { clientCert: { cert: mine.cert + readFileSync(join(s.home, 'ca', 'issuing.pem'), 'utf8'), key: mine.key } })).status).toBe(200);
    await s.runtime.store.revokeCertificate(mine.x.serialNumber.toLowerCase(), 'superseded', new Date());
    const res = await post('/ours/simpleenroll', await makeCsr(), { clientCert: { cert: mine.cert + readFileSync(join(s.home, 'ca', 'issuing.pem'), 'utf8'), key: mine.key } });
    expect(res.status).toBe(401);
    expect(res.text).toMatch(/revoked/);
  });
});

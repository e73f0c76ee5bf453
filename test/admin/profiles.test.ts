/**
 * Profiles through the API: create, read, change; validation against the schemas (unknown
 * properties, wrong types) and against the shared profile rules, naming the field, nothing
 * saved; changes reach the running EST service on its very next request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { makeDeviceCa, type DeviceCa } from '../helpers/device-ca.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { enroll, signedIn, type AdminClient } from './admin-client.js';

let s: TestServer;
let admin: AdminClient;
let deviceCa: DeviceCa;

beforeAll(async () => {
  s = await startServer();
  admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
  deviceCa = await makeDeviceCa();
});
afterAll(async () => {
  await s?.runtime.close();
});

describe('reading', () => {
  it('lists profiles with their EST URL and reads one', async () => {
    const list = await admin.get('/api/profiles');
    expect(list.status).toBe(200);
    expect(list.json.items.map((p: { label: string }) => p.label)).toEqual(['default']);
    const p = (await admin.get('/api/profiles/default')).json;
    expect(p).toMatchObject({ label: 'default', enabled: true, ca: 'default', auth: 'basic', estUrl: `${s.base}/default`, trustAnchors: [], approval: 'auto' });
    expect(p).not.toHaveProperty('passwordHash');
    expect(Date.parse(p.createdAt)).not.toBeNaN();
    const missing = await admin.get('/api/profiles/nope');
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ type: 'urn:estuary:problem:not-found', detail: 'no profile "nope"' });
  });

  it('lists the CA connectors', async () => {
    const res = await admin.get('/api/cas');
    expect(res.json.items).toEqual([{
      id: 'default', type: 'local', typeLabel: 'Built-in CA', profileSetsCertificateContent: true, issuesCrls: true, url: null,
      subject: 'CN=Estuary Issuing CA, O=Estuary', notAfter: expect.any(String), chain: [expect.objectContaining({ subject: 'CN=Estuary Issuing CA, O=Estuary' }), expect.any(Object)],
      chainError: null, health: { healthy: true, lastError: null, lastSuccessAt: null, chainFetchedAt: null }, profiles: ['default'],
      keyLocation: { kind: 'file', path: 'ca/issuing-key.pem' },
    }]);
  });
});

describe('creating', () => {
  it('creates a profile from defaults for each authentication mechanism; its EST URL works', async () => {
    for (const [label, auth] of [['web-basic', 'basic'], ['web-tls', 'tls-client-cert'], ['web-both', 'basic+tls-client-cert']] as const) {
      const res = await admin.post('/api/profiles', { label, auth, clientTrustAnchors: auth === 'basic' ? [] : [deviceCa.pem] });
      expect(res.status, res.text).toBe(201);
      expect(res.headers.location).toBe(`/api/profiles/${label}`);
      expect(res.json).toMatchObject({ label, auth, enabled: true, validityDays: 365, estUrl: `${s.base}/${label}` });
    }
    const tls = (await admin.get('/api/profiles/web-tls')).json;
    expect(tls.trustAnchors).toEqual([{ subject: 'CN=Enterprise Device CA, O=Example', fingerprintSha256: expect.stringMatching(/^[0-9a-f]{64}$/), notAfter: expect.any(String) }]);
    expect((await enroll(s, { label: 'web-basic', cn: 'via-web-basic' })).status).toBe(200);
    const device = await deviceCa.issue('web-tls-device');
    const csr = await makeCsr({ name: 'CN=web-tls-device' });
    const res = await estRequest(`${tls.estUrl}/simpleenroll`, { ca: s.rootPem, clientCert: device, body: csrBody(csr.der), contentType: 'application/pkcs10' });
    expect(res.status, res.text).toBe(200);
    const audit = await admin.get('/api/audit?action=profile.create');
    expect(audit.json.items.map((e: { profile: string }) => e.profile)).toEqual(['web-both', 'web-tls', 'web-basic']);
    expect(audit.json.items[0].actor).toBe('admin@estuary.local');
  });

  it('accepts a full profile as the UI sends it, read-only fields included, and splits a PEM bundle', async () => {
    const other = await makeDeviceCa('CN=Second Device CA');
    const full = { ...(await admin.get('/api/profiles/default')).json, label: 'full', clientTrustAnchors: [deviceCa.pem + other.pem, deviceCa.pem] };
    const res = await admin.post('/api/profiles', full);
    expect(res.status, res.text).toBe(201);
    expect(res.json.clientTrustAnchors).toHaveLength(2);
    expect(res.json.trustAnchors.map((a: { subject: string }) => a.subject)).toEqual(['CN=Enterprise Device CA, O=Example', 'CN=Second Device CA']);
  });

  it('refuses a label that is an EST operation name (RFC 7030 §3.2.2): 400 naming label, nothing saved', async () => {
    for (const label of ['simpleenroll', 'CACerts']) {
      const res = await admin.post('/api/profiles', { label });
      expect(res.status).toBe(400);
      expect(res.json.errors).toEqual([{ field: 'label', message: expect.stringMatching(/is an EST operation name and cannot be a label \(RFC 7030 §3\.2\.2/) }]);
      expect((await admin.get(`/api/profiles/${label}`)).status).toBe(404);
    }
  });

  it('refuses a duplicate label with 409', async () => {
    const res = await admin.post('/api/profiles', { label: 'default' });
    expect(res.status).toBe(409);
    expect(res.json.type).toBe('urn:estuary:problem:conflict');
  });

  it('refuses a TLS mechanism without trust anchors: 400 naming clientTrustAnchors, nothing saved', async () => {
    const res = await admin.post('/api/profiles', { label: 'no-anchors', auth: 'tls-client-cert' });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json).toMatchObject({ type: 'urn:estuary:problem:validation', status: 400 });
    expect(res.json.errors).toEqual([{ field: 'clientTrustAnchors', message: 'a TLS client authentication mechanism needs at least one trust anchor (the device CA certificate)' }]);
    expect((await admin.get('/api/profiles/no-anchors')).status).toBe(404);
  });

  it('lists every broken rule with its field', async () => {
    const res = await admin.post('/api/profiles', {
      label: 'broken', ca: 'nowhere', keyUsage: ['keyCertSign'], extendedKeyUsage: ['frobnicate'], clientTrustAnchors: ['not a certificate'],
      namePolicy: { ipRanges: ['10.0.0.0/99'], forbiddenNames: ['('] },
    });
    expect(res.status).toBe(400);
    expect(res.json.errors.map((e: { field: string }) => e.field)).toEqual([
      'ca', 'clientTrustAnchors.0', 'keyUsage', 'extendedKeyUsage', 'namePolicy.forbiddenNames', 'namePolicy.ipRanges',
    ]);
    expect(res.json.errors[0].message).toBe('no CA connector "nowhere" is configured (configured: default)');
    expect(await s.runtime.store.getProfile('broken')).toBeUndefined();
  });

  it('validates input against the schema: unknown property, wrong type, bad enum, bad label → 400 naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ label: 'x1', colour: 'blue' }, 'colour'],
      [{ label: 'x2', validityDays: '30' }, 'validityDays'],
      [{ label: 'x3', validityDays: 0 }, 'validityDays'],
      [{ label: 'x4', enabled: 'yes' }, 'enabled'],
      [{ label: 'x5', auth: 'kerberos' }, 'auth'],
      [{ label: 'x6', keyAlgorithms: [{ type: 'ec', curves: ['P-999'] }] }, 'keyAlgorithms.0'],
      [{ label: 'x7', namePolicy: { ipRanges: 'all' } }, 'namePolicy.ipRanges'],
      [{ label: 'x8', namePolicy: { extra: [] } }, 'namePolicy.extra'],
      [{ label: 'x10', namePolicy: { clientBinding: { mode: 'loose' } } }, 'namePolicy.clientBinding.mode'],
      [{ label: 'x11', namePolicy: { maxSans: 0 } }, 'namePolicy.maxSans'],
      [{ label: 'x12', namePolicy: { allowWildcards: 'yes' } }, 'namePolicy.allowWildcards'],
      [{ label: 'bad label' }, 'label'],
      [{ auth: 'basic' }, 'label'],
      [[1, 2], '(body)'],
    ];
    for (const [body, field] of cases) {
      const res = await admin.post('/api/profiles', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.errors[0].field, JSON.stringify(body)).toMatch(new RegExp(`^${field.replace(/[.()]/g, '\\$&')}`));
    }
    expect((await admin.get('/api/profiles')).json.items.map((p: { label: string }) => p.label)).not.toContain('x1');
    const unknown = await admin.post('/api/profiles', { label: 'x9', colour: 'blue' });
    expect(unknown.json.errors).toEqual([{ field: 'colour', message: 'is not a known property' }]);
  });
});

describe('changing', () => {
  it('applies a change to the very next EST request: disable → 404, enable → 200', async () => {
    expect((await enroll(s, { cn: 'before' })).status).toBe(200);
    const off = await admin.put('/api/profiles/default', { enabled: false });
    expect(off.status, off.text).toBe(200);
    expect(off.json.enabled).toBe(false);
    expect((await enroll(s, { cn: 'while-off' })).status).toBe(404);
    expect((await admin.put('/api/profiles/default', { enabled: true })).status).toBe(200);
    expect((await enroll(s, { cn: 'after' })).status).toBe(200);
  });

  it('applies issuance policy at once: key algorithms and approval mode', async () => {
    expect((await admin.put('/api/profiles/web-basic', { keyAlgorithms: [{ type: 'rsa', minBits: 2048 }] })).status).toBe(200);
    const ec = await enroll(s, { label: 'web-basic', cn: 'ec-refused' });
    expect(ec.status).toBe(403);
    expect(ec.text).toMatch(/key EC P-256 is not allowed/);
    expect((await admin.put('/api/profiles/web-basic', { approval: 'manual', keyAlgorithms: [{ type: 'ec', curves: ['P-256'] }] })).status).toBe(200);
    expect((await enroll(s, { label: 'web-basic', cn: 'held' })).status).toBe(202);
  });

  it('RSA rules carry maxBits and minExponent; an even exponent minimum or a maximum below the minimum is a 400 naming the rule', async () => {
    const rule = { type: 'rsa', minBits: 2048, maxBits: 4096, minExponent: 3 };
    const ok = await admin.put('/api/profiles/web-basic', { keyAlgorithms: [rule] });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json.keyAlgorithms).toEqual([rule]);
    expect((await s.runtime.store.getProfile('web-basic'))!.keyAlgorithms).toEqual([rule]);
    for (const bad of [{ ...rule, minExponent: 4 }, { ...rule, maxBits: 1024 }]) {
      const res = await admin.put('/api/profiles/web-basic', { keyAlgorithms: [bad] });
      expect(res.status, res.text).toBe(400);
      expect(res.json.errors[0].field).toMatch(/^keyAlgorithms\.0/);
    }
    expect((await admin.put('/api/profiles/web-basic', { keyAlgorithms: [{ type: 'ec', curves: ['P-256'] }] })).status).toBe(200);
  });

  it('keeps settings left out, refuses a label change, audits which fields changed', async () => {
    const before = (await admin.get('/api/profiles/full')).json;
    const res = await admin.put('/api/profiles/full', { validityDays: 30, popLinking: 'required' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ validityDays: 30, popLinking: 'required', clientTrustAnchors: before.clientTrustAnchors, createdAt: before.createdAt });
    const rename = await admin.put('/api/profiles/full', { label: 'renamed' });
    expect(rename.status).toBe(400);
    expect(rename.json.errors).toEqual([{ field: 'label', message: 'the label of a profile cannot change' }]);
    const audit = await admin.get('/api/audit?action=profile.update&profile=full');
    expect(audit.json.items[0]).toMatchObject({ actor: 'admin@estuary.local', detail: 'changed: validitySeconds, popLinking' });
  });

  it('sets the client binding, wildcards and caps; a partial binding keeps the rest; rules name the field', async () => {
    const created = await admin.post('/api/profiles', { label: 'bound', auth: 'tls-client-cert', clientTrustAnchors: [deviceCa.pem] });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    expect(created.json.namePolicy).toMatchObject({ allowWildcards: false, maxSans: 100, maxRdns: 32, maxSubjectBytes: 1024, clientBinding: { mode: 'match', attributes: [], anchors: [] } });
    const fp = created.json.trustAnchors[0].fingerprintSha256 as string;
    const anchors = [{ fingerprintSha256: fp, names: ['dev-*'] }];
    const set = await admin.put('/api/profiles/bound', { namePolicy: { allowWildcards: true, maxSans: 10, clientBinding: { mode: 'anchor-names', anchors } } });
    expect(set.status, JSON.stringify(set.json)).toBe(200);
    expect(set.json.namePolicy).toMatchObject({ allowWildcards: true, maxSans: 10, clientBinding: { mode: 'anchor-names', attributes: [], anchors: [{ fingerprintSha256: fp, names: ['dev-*'], subjectPatterns: {} }] } });
    const dev = await deviceCa.issue('whoever');
    const post = async (name: string) => estRequest(`${s.base}/bound/simpleenroll`, { ca: s.rootPem, clientCert: dev, body: csrBody((await makeCsr({ name })).der), contentType: 'application/pkcs10' });
    expect((await post('CN=dev-1')).status).toBe(200);
    expect((await post('CN=ceo-laptop')).status).toBe(403);
    const mode = await admin.put('/api/profiles/bound', { namePolicy: { clientBinding: { mode: 'free' } } });
    expect(mode.json.namePolicy.clientBinding).toMatchObject({ mode: 'free', anchors: [{ names: ['dev-*'] }] });
    expect((await post('CN=ceo-laptop')).status).toBe(200);
    const bad = await admin.put('/api/profiles/bound', { namePolicy: { clientBinding: { mode: 'anchor-names', anchors: [{ fingerprintSha256: fp, names: ['mail:x'] }] } } });
    expect(bad.status).toBe(400);
    expect(bad.json.errors[0]).toMatchObject({ field: 'namePolicy.clientBinding.anchors.0.names', message: expect.stringMatching(/unknown name type prefix "mail:"/) });
  });

  it('sets the renewal policy field by field, and names a bad value', async () => {
    expect((await admin.get('/api/profiles/full')).json.renewal).toEqual({ supersede: false, once: false, windowPercent: 0 });
    const res = await admin.put('/api/profiles/full', { renewal: { once: true, windowPercent: 25 } });
    expect(res.status, res.text).toBe(200);
    expect(res.json.renewal).toEqual({ supersede: false, once: true, windowPercent: 25 });
    expect((await admin.put('/api/profiles/full', { renewal: { supersede: true } })).json.renewal).toEqual({ supersede: true, once: true, windowPercent: 25 });
    const bad = await admin.put('/api/profiles/full', { renewal: { windowPercent: 101 } });
    expect(bad.status).toBe(400);
    expect(bad.json.errors[0].field).toBe('renewal.windowPercent');
    expect((await s.runtime.store.getProfile('full'))!.renewal).toEqual({ supersede: true, once: true, windowPercent: 25 });
  });

  it('saves nothing of an invalid change', async () => {
    const before = (await admin.get('/api/profiles/default')).json;
    const res = await admin.put('/api/profiles/default', { validityDays: 10, auth: 'tls-client-cert' });
    expect(res.status).toBe(400);
    expect(res.json.errors[0].field).toBe('clientTrustAnchors');
    expect((await admin.get('/api/profiles/default')).json).toEqual(before);
    expect((await admin.put('/api/profiles/missing', { enabled: true })).status).toBe(404);
  });

  it('sets the device CA revocation policy and a CRL URL per trust anchor; refuses a fingerprint of no anchor', async () => {
    const created = await admin.post('/api/profiles', { label: 'crl-devices', auth: 'tls-client-cert', clientTrustAnchors: [deviceCa.pem] });
    expect(created.status, created.text).toBe(201);
    expect(created.json.deviceRevocation).toEqual({ whenUnavailable: 'refuse', crlUrls: {} });
    const fp = created.json.trustAnchors[0].fingerprintSha256 as string;
    const res = await admin.put('/api/profiles/crl-devices', { deviceRevocation: { whenUnavailable: 'allow', crlUrls: { [fp]: 'http://crl.example.com/plant.crl' } } });
    expect(res.status, res.text).toBe(200);
    expect(res.json.deviceRevocation).toEqual({ whenUnavailable: 'allow', crlUrls: { [fp]: 'http://crl.example.com/plant.crl' } });
    expect((await s.runtime.store.getProfile('crl-devices'))!.deviceRevocation.whenUnavailable).toBe('allow');
    // a partial change keeps the other setting
    expect((await admin.put('/api/profiles/crl-devices', { deviceRevocation: { whenUnavailable: 'refuse' } })).json.deviceRevocation.crlUrls).toEqual({ [fp]: 'http://crl.example.com/plant.crl' });
    const stray = await admin.put('/api/profiles/crl-devices', { deviceRevocation: { crlUrls: { ['0'.repeat(64)]: 'http://crl.example.com/x.crl' } } });
    expect(stray.status).toBe(400);
    expect(stray.json.errors).toEqual([{ field: 'deviceRevocation.crlUrls', message: `no client trust anchor has the SHA-256 fingerprint ${'0'.repeat(64)}` }]);
    // the form sends every setting back: replacing the anchor drops the removed anchor's URL
    const form = (await admin.get('/api/profiles/crl-devices')).json;
    const otherCa = await makeDeviceCa('CN=Replacement Device CA');
    const replaced = await admin.put('/api/profiles/crl-devices', { ...form, clientTrustAnchors: [otherCa.pem] });
    expect(replaced.status, replaced.text).toBe(200);
    expect(replaced.json.deviceRevocation).toEqual({ whenUnavailable: 'refuse', crlUrls: {} });
    const badPolicy = await admin.put('/api/profiles/crl-devices', { deviceRevocation: { whenUnavailable: 'maybe' } });
    expect(badPolicy.status).toBe(400);
    expect(badPolicy.json.errors[0].field).toMatch(/^deviceRevocation\.whenUnavailable/);
  });
});

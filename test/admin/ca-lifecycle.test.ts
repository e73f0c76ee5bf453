/**
 * CA lifecycle in the Web RA API over real TLS: an issuing CA made under a configured root, a new
 * root, a key made in a PKCS#11 token (SoftHSM2), and a CSR signed by an offline CA with openssl and
 * imported; each new CA issues over EST at once and openssl verifies the chains. Refusals (400 with
 * the reason), roles (admins only) and the audit log (ca.create / ca.import by the admin's email).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa } from '../../src/ca/ca-create.js';
import { setCaConnector } from '../../src/cli/config-edit.js';
import { loadConfig } from '../../src/cli/config.js';
import { certsFrom, csrBody, estRequest, pem } from '../helpers/est-http.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { opensslIn } from '../helpers/openssl.js';
import { softHsm } from '../helpers/softhsm.js';
import { addAccount, signedIn, type AdminClient } from './admin-client.js';

let s: TestServer;
let admin: AdminClient;
let officer: AdminClient;
let auditor: AdminClient;
let dir: string;
const adminEmail = (): string => s.summary.adminAccount.email;

beforeAll(async () => {
  s = await startServer();
  dir = tempDir();
  writeFileSync(join(dir, 'root.pem'), s.rootPem);
  // the root, as a configured CA that no profile uses, can sign new issuing CAs
  setCaConnector(s.home, 'root', { type: 'local', certificate: 'ca/root.pem', key: 'ca/root-key.pem' });
  expect(await s.runtime.reloadCas()).toContain('root');
  admin = await signedIn(s, adminEmail(), s.summary.adminAccount.password);
  officer = await signedIn(s, 'officer@example.com', await addAccount(admin, 'officer@example.com', 'officer'));
  auditor = await signedIn(s, 'auditor@example.com', await addAccount(admin, 'auditor@example.com', 'auditor'));
}, 120_000);

afterAll(async () => {
  await s?.runtime.close();
  delete process.env.ESTUARY_TEST_TOKEN_PIN;
});

/** A profile naming `ca`, one enrollment on it (no retry: the CA must be in service when the API answered), the certificate as PEM. */
async function enrollUnder(ca: string, label: string): Promise<string> {
  const created = await admin.post('/api/profiles', { label, ca });
  expect(created.status, created.text).toBe(201);
  const csr = await makeCsr({ name: `CN=${label}-device` });
  const basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  const res = await estRequest(`${s.base}/${label}/simpleenroll`, { ca: s.rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });
  expect(res.status, res.text).toBe(200);
  return pem(certsFrom(res)[0]!);
}

async function auditOf(action: string): Promise<Array<{ actor: string; outcome: string; detail: string }>> {
  const res = await auditor.get(`/api/audit?action=${action}&limit=100`);
  expect(res.status, res.text).toBe(200);
  return res.json.items;
}

describe('POST /api/cas', () => {
  it('makes an issuing CA under a configured root; it is listed with its key location and issues over EST at once', async () => {
    const res = await admin.post('/api/cas', { id: 'devices', subject: 'CN=Devices CA, O=Example', issuer: { parent: 'root' }, validityYears: 5 });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({
      id: 'devices', type: 'local', typeLabel: 'Built-in CA', subject: 'CN=Devices CA, O=Example', chainError: null,
      keyLocation: { kind: 'file', path: 'ca/devices-key.pem' }, profiles: [],
    });
    expect(res.json.chain.map((c: { subject: string }) => c.subject)).toEqual(['CN=Devices CA, O=Example', expect.stringMatching(/Root/)]);
    expect(JSON.stringify(res.json)).not.toMatch(/PRIVATE KEY/);
    // estuary.yaml names it, comments kept
    const yaml = readFileSync(join(s.home, 'estuary.yaml'), 'utf8');
    expect(yaml).toMatch(/# CA connectors, by id/);
    expect(loadConfig(s.home, {}).cas.devices).toMatchObject({ type: 'local', certificate: join(s.home, 'ca', 'devices.pem') });

    const cert = await enrollUnder('devices', 'devices');
    writeFileSync(join(dir, 'devices-ca.pem'), readFileSync(join(s.home, 'ca', 'devices.pem')));
    writeFileSync(join(dir, 'device.pem'), cert);
    const verified = await opensslIn(dir, ['verify', '-CAfile', 'root.pem', '-untrusted', 'devices-ca.pem', 'device.pem']);
    expect(verified.code, verified.out).toBe(0);
    // RFC 5280 §4.2.1.9: under a parent the default pathLenConstraint is 0
    expect((await opensslIn(dir, ['x509', '-in', 'devices-ca.pem', '-noout', '-ext', 'basicConstraints'])).out).toMatch(/CA:TRUE, pathlen:0/);

    const listed = (await auditor.get('/api/cas')).json;
    const byId = Object.fromEntries(listed.items.map((c: { id: string }) => [c.id, c]));
    expect(byId.devices).toMatchObject({ keyLocation: { kind: 'file', path: 'ca/devices-key.pem' }, profiles: ['devices'] });
    expect(byId.default.keyLocation).toEqual({ kind: 'file', path: 'ca/issuing-key.pem' });
    expect(byId.root.keyLocation).toEqual({ kind: 'file', path: 'ca/root-key.pem' });

    const audit = await auditOf('ca.create');
    expect(audit.find((e) => e.detail.startsWith('devices:'))).toMatchObject({ actor: adminEmail(), outcome: 'success', detail: 'devices: CN=Devices CA, O=Example, key ca/devices-key.pem, signed by root' });
  });

  it('makes a self-signed root with the key algorithm and path length asked for', async () => {
    const res = await admin.post('/api/cas', { id: 'lab-root', subject: 'CN=Lab Root', keyAlgorithm: 'ec-p384', issuer: { selfSigned: true }, validityYears: 2, pathLen: 1 });
    expect(res.status, res.text).toBe(201);
    expect(res.json.chain).toHaveLength(1);
    expect(res.json.chain[0]).toMatchObject({ subject: 'CN=Lab Root', issuer: 'CN=Lab Root' });
    const ca = new X509Certificate(readFileSync(join(s.home, 'ca', 'lab-root.pem')));
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    const years = (new Date(ca.validTo).getTime() - Date.now()) / (365 * 86_400_000);
    expect(years).toBeGreaterThan(1.9);
    expect(years).toBeLessThan(2.1);
    const cert = await enrollUnder('lab-root', 'lab');
    writeFileSync(join(dir, 'lab-root.pem'), readFileSync(join(s.home, 'ca', 'lab-root.pem')));
    writeFileSync(join(dir, 'lab-device.pem'), cert);
    const verified = await opensslIn(dir, ['verify', '-CAfile', 'lab-root.pem', 'lab-device.pem']);
    expect(verified.code, verified.out).toBe(0);
    expect((await opensslIn(dir, ['x509', '-in', 'lab-root.pem', '-noout', '-ext', 'basicConstraints'])).out).toMatch(/CA:TRUE, pathlen:1/);
  });

  it('makes the key inside a PKCS#11 token; the key location is the token URI', async () => {
    const hsm = softHsm();
    hsm.initToken('web-ra');
    writeFileSync(join(s.home, 'token.pin'), hsm.pin, { mode: 0o600 });
    const uri = 'pkcs11:token=web-ra;object=web-root;id=%0b;type=private';
    const res = await admin.post('/api/cas', { id: 'token-root', subject: 'CN=Token Root', issuer: { selfSigned: true }, pkcs11: { uri, module: hsm.module, pinFile: 'token.pin' } });
    expect(res.status, res.text).toBe(201);
    expect(res.json.keyLocation).toEqual({ kind: 'pkcs11', uri });
    expect(existsSync(join(s.home, 'ca', 'token-root-key.pem'))).toBe(false);
    const cert = await enrollUnder('token-root', 'token');
    writeFileSync(join(dir, 'token-root.pem'), readFileSync(join(s.home, 'ca', 'token-root.pem')));
    writeFileSync(join(dir, 'token-device.pem'), cert);
    const verified = await opensslIn(dir, ['verify', '-CAfile', 'token-root.pem', 'token-device.pem']);
    expect(verified.code, verified.out).toBe(0);

    // token errors are the caller's to fix: 400 with the reason, audited as a failure
    const again = await admin.post('/api/cas', { id: 'token-again', subject: 'CN=Again', issuer: { selfSigned: true }, pkcs11: { uri, module: hsm.module, pinFile: 'token.pin' } });
    expect(again.status, again.text).toBe(400);
    expect(again.json.detail).toMatch(/already has a private key/);
    const noToken = await admin.post('/api/cas', { id: 'no-token', subject: 'CN=X', issuer: { selfSigned: true }, pkcs11: { uri: 'pkcs11:token=nosuch;object=x', module: hsm.module, pinFile: 'token.pin' } });
    expect(noToken.status, noToken.text).toBe(400);
    expect(noToken.json.detail).toMatch(/nosuch/);
    const badUri = await admin.post('/api/cas', { id: 'bad-uri', subject: 'CN=X', issuer: { selfSigned: true }, pkcs11: { uri: 'token=web-ra', module: hsm.module, pinFile: 'token.pin' } });
    expect(badUri.status, badUri.text).toBe(400);
    const outside = await admin.post('/api/cas', { id: 'pin-outside', subject: 'CN=X', issuer: { selfSigned: true }, pkcs11: { uri, module: hsm.module, pinFile: '../token.pin' } });
    expect(outside.status, outside.text).toBe(400);
    expect(outside.json.detail).toMatch(/pkcs11\.pinFile: a path relative to the data directory/);
    expect(outside.json.errors).toEqual([{ field: 'pkcs11.pinFile', message: expect.stringMatching(/^a path relative/) }]);
    const failures = (await auditOf('ca.create')).filter((e) => e.outcome === 'failure').map((e) => e.detail.split(':')[0]);
    expect(failures).toEqual(expect.arrayContaining(['token-again', 'no-token', 'bad-uri', 'pin-outside']));
    for (const id of ['token-again', 'no-token', 'bad-uri', 'pin-outside']) expect(loadConfig(s.home, {}).cas[id]).toBeUndefined();
  });
});

describe('a CA signed by an external CA', () => {
  it('answers 202 with the CSR; it waits in the list; the signed certificate is imported and issues at once', async () => {
    const res = await admin.post('/api/cas', { id: 'offline', subject: 'CN=Offline Signed CA, O=Example', issuer: { csr: true } });
    expect(res.status, res.text).toBe(202);
    expect(res.json).toMatchObject({ id: 'offline', subject: 'CN=Offline Signed CA, O=Example', keyLocation: { kind: 'file', path: 'ca/offline-key.pem' } });
    expect(res.json.csrPem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
    expect(readFileSync(join(s.home, 'ca', 'offline.csr.pem'), 'utf8')).toBe(res.json.csrPem);
    const listed = (await auditor.get('/api/cas')).json;
    expect(listed.items.map((c: { id: string }) => c.id)).not.toContain('offline');
    expect(listed.pending).toEqual([{ id: 'offline', subject: 'CN=Offline Signed CA, O=Example', keyLocation: { kind: 'file', path: 'ca/offline-key.pem' }, csrPem: res.json.csrPem }]);
    const download = await auditor.get('/api/cas/pending/offline/csr.pem');
    expect(download.status).toBe(200);
    expect(download.headers['content-disposition']).toBe('attachment; filename="offline.csr.pem"');
    expect(download.text).toBe(res.json.csrPem);
    expect((await auditor.get('/api/cas/pending/nosuch/csr.pem')).status).toBe(404);

    // the offline CA signs with openssl
    writeFileSync(join(dir, 'offline.csr'), download.text);
    const csrCheck = await opensslIn(dir, ['req', '-in', 'offline.csr', '-noout', '-verify', '-subject']);
    expect(csrCheck.code, csrCheck.out).toBe(0);
    writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    const signed = await opensslIn(dir, ['x509', '-req', '-in', 'offline.csr', '-CA', join(s.home, 'ca', 'root.pem'), '-CAkey', join(s.home, 'ca', 'root-key.pem'), '-days', '365', '-extfile', 'ext.cnf', '-out', 'offline.pem']);
    expect(signed.code, signed.out).toBe(0);
    const certificate = readFileSync(join(dir, 'offline.pem'), 'utf8');

    // refusals: another key's certificate, a chain that did not sign it, not PEM
    const wrongKey = await admin.post('/api/cas/offline/certificate', { certificate: readFileSync(join(s.home, 'ca', 'issuing.pem'), 'utf8'), chain: [s.rootPem] });
    expect(wrongKey.status, wrongKey.text).toBe(400);
    expect(wrongKey.json.detail).toMatch(/another key/);
    const wrongChain = await admin.post('/api/cas/offline/certificate', { certificate, chain: [readFileSync(join(s.home, 'ca', 'lab-root.pem'), 'utf8')] });
    expect(wrongChain.status, wrongChain.text).toBe(400);
    expect(wrongChain.json.detail).toMatch(/^certificate: not signed by the next certificate of the chain \(CN=Lab Root\)/);
    const notPem = await admin.post('/api/cas/offline/certificate', { certificate: 'hello' });
    expect(notPem.status).toBe(400);
    expect(notPem.json.detail).toMatch(/no PEM certificate/);
    const notPending = await admin.post('/api/cas/nosuch/certificate', { certificate });
    expect(notPending.status).toBe(400);
    expect(notPending.json.detail).toMatch(/no CA "nosuch" is waiting for its certificate/);
    for (const c of [officer, auditor]) expect((await c.post('/api/cas/offline/certificate', { certificate, chain: [s.rootPem] })).status).toBe(403);
    expect((await auditor.get('/api/cas')).json.pending).toHaveLength(1);

    const imported = await admin.post('/api/cas/offline/certificate', { certificate, chain: [s.rootPem] });
    expect(imported.status, imported.text).toBe(200);
    expect(imported.json).toMatchObject({ id: 'offline', subject: 'CN=Offline Signed CA, O=Example', keyLocation: { kind: 'file', path: 'ca/offline-key.pem' } });
    expect(imported.json.chain).toHaveLength(2);
    expect((await auditor.get('/api/cas')).json.pending).toEqual([]);
    const cert = await enrollUnder('offline', 'offline');
    writeFileSync(join(dir, 'offline-device.pem'), cert);
    const verified = await opensslIn(dir, ['verify', '-CAfile', 'root.pem', '-untrusted', 'offline.pem', 'offline-device.pem']);
    expect(verified.code, verified.out).toBe(0);
    // RFC 7030 §4.1.3: /cacerts of the profile is the new CA and its chain
    expect(certsFrom(await estRequest(`${s.base}/offline/cacerts`, { ca: s.rootPem }))).toHaveLength(2);

    const audit = await auditOf('ca.import');
    expect(audit.find((e) => e.outcome === 'success')).toMatchObject({ actor: adminEmail(), detail: expect.stringMatching(/^offline: CN=Offline Signed CA, O=Example, issued by CN=Estuary Root CA/) });
    expect(audit.filter((e) => e.outcome === 'failure').map((e) => e.detail.split(':')[0]).sort()).toEqual(['nosuch', 'offline', 'offline', 'offline']);
    expect((await auditOf('ca.create')).find((e) => e.detail.startsWith('offline:'))?.detail).toBe('offline: CN=Offline Signed CA, O=Example, key ca/offline-key.pem, CSR written to ca/offline.csr.pem');
  });
});

describe('a token key for an external CA', () => {
  it('the PIN from an environment variable; the pending CA shows the token URI; the import checks the token key', async () => {
    const hsm = softHsm();
    hsm.initToken('web-ra-csr');
    process.env.ESTUARY_TEST_TOKEN_PIN = hsm.pin;
    const uri = 'pkcs11:token=web-ra-csr;object=partner;type=private';
    const res = await admin.post('/api/cas', { id: 'token-partner', subject: 'CN=Token Partner CA', keyAlgorithm: 'rsa-2048', issuer: { csr: true }, pkcs11: { uri, module: hsm.module, pinEnv: 'ESTUARY_TEST_TOKEN_PIN' } });
    expect(res.status, res.text).toBe(202);
    expect(res.json.keyLocation).toEqual({ kind: 'pkcs11', uri });
    const pending = (await auditor.get('/api/cas')).json.pending.find((p: { id: string }) => p.id === 'token-partner');
    expect(pending).toEqual({ id: 'token-partner', subject: 'CN=Token Partner CA', keyLocation: { kind: 'pkcs11', uri }, csrPem: res.json.csrPem });

    writeFileSync(join(dir, 'token-partner.csr'), res.json.csrPem);
    expect((await opensslIn(dir, ['req', '-in', 'token-partner.csr', '-noout', '-verify'])).code).toBe(0);
    writeFileSync(join(dir, 'ext-tp.cnf'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
    const signed = await opensslIn(dir, ['x509', '-req', '-in', 'token-partner.csr', '-CA', join(s.home, 'ca', 'root.pem'), '-CAkey', join(s.home, 'ca', 'root-key.pem'), '-days', '90', '-extfile', 'ext-tp.cnf', '-out', 'token-partner.pem']);
    expect(signed.code, signed.out).toBe(0);
    // a CA certificate for another key (and key type): refused by the CSR's key, the token is not asked
    const other = await admin.post('/api/cas/token-partner/certificate', { certificate: readFileSync(join(s.home, 'ca', 'issuing.pem'), 'utf8'), chain: [s.rootPem] });
    expect(other.status, other.text).toBe(400);
    expect(other.json.detail).toMatch(/^certificate: it is for another key than the one made for "token-partner"/);
    expect((await auditor.get('/api/cas')).json.pending.map((p: { id: string }) => p.id)).toContain('token-partner');
    const imported = await admin.post('/api/cas/token-partner/certificate', { certificate: readFileSync(join(dir, 'token-partner.pem'), 'utf8'), chain: [s.rootPem] });
    expect(imported.status, imported.text).toBe(200);
    expect(imported.json.keyLocation).toEqual({ kind: 'pkcs11', uri });
    expect(loadConfig(s.home, {}).cas['token-partner']).toMatchObject({ key: uri, pkcs11: { module: hsm.module, pinEnv: 'ESTUARY_TEST_TOKEN_PIN' } });
    const cert = await enrollUnder('token-partner', 'token-partner');
    writeFileSync(join(dir, 'token-partner-device.pem'), cert);
    const verified = await opensslIn(dir, ['verify', '-CAfile', 'root.pem', '-untrusted', 'token-partner.pem', 'token-partner-device.pem']);
    expect(verified.code, verified.out).toBe(0);
  });
});

describe('a token CA made by "estuary ca create --csr" (its CSR outside the data directory)', () => {
  it('a certificate for a key of another type: 400 naming the token key, and the server\'s TLS connections are unharmed', async () => {
    const hsm = softHsm();
    hsm.initToken('cli-csr');
    process.env.ESTUARY_TEST_TOKEN_PIN = hsm.pin;
    const uri = 'pkcs11:token=cli-csr;object=cli;type=private';
    // what the CLI does for "ca create cli-token --csr FILE --pkcs11 ... --key-algorithm rsa-2048"
    await createCa({
      home: s.home, id: 'cli-token', subject: 'CN=CLI Token CA', algorithm: 'rsa-2048', key: { kind: 'pkcs11', uri, module: hsm.module, pinEnv: 'ESTUARY_TEST_TOKEN_PIN' },
      issuer: { kind: 'csr', out: join(dir, 'cli-token.csr') }, validityYears: 1, now: new Date(), env: process.env,
    });
    expect((await auditor.get('/api/cas')).json.pending.find((p: { id: string }) => p.id === 'cli-token')).toMatchObject({ csrPem: null, keyLocation: { kind: 'pkcs11', uri } });
    // an EC CA certificate for the RSA key in the token: the token is asked, and its failure is a refusal
    const other = await admin.post('/api/cas/cli-token/certificate', { certificate: readFileSync(join(s.home, 'ca', 'issuing.pem'), 'utf8'), chain: [s.rootPem] });
    expect(other.status, other.text).toBe(400);
    expect(other.json.detail).toMatch(/the private key .* in the token cannot sign for the CA certificate's ec key .*it is not the key of the CA certificate/);
    // requests whose bodies take several TLS reads still work (no OpenSSL error left behind by the token)
    for (let i = 0; i < 3; i++) {
      const big = await admin.post('/api/cas/nosuch/certificate', { certificate: 'x'.repeat(60_000) });
      expect(big.status, big.text).toBe(400);
      expect(big.json.detail).toMatch(/no PEM certificate/);
    }
    expect((await auditor.get('/api/cas')).json.pending.map((p: { id: string }) => p.id)).toContain('cli-token');
  });
});

describe('refusals and roles', () => {
  it('answers 400 with the reason and changes nothing', async () => {
    const before = readFileSync(join(s.home, 'estuary.yaml'), 'utf8');
    const cases: Array<[unknown, RegExp]> = [
      [{ id: 'x1', subject: 'not a name', issuer: { selfSigned: true } }, /^subject: /],
      [{ id: 'x2', subject: 'CN=X', issuer: { parent: 'nosuch' } }, /^issuer\.parent: cas\.nosuch: expected a built-in CA/],
      [{ id: 'default', subject: 'CN=X', issuer: { selfSigned: true } }, /cas\.default exists already/],
      [{ id: 'x3', subject: 'CN=X', issuer: { selfSigned: true, csr: true } }, /issuer/],
      [{ id: 'x4', subject: 'CN=X', issuer: {} }, /issuer/],
      [{ id: '../x', subject: 'CN=X', issuer: { selfSigned: true } }, /^id /],
      [{ id: 'x5', subject: 'CN=X', issuer: { selfSigned: true }, keyAlgorithm: 'dsa' }, /^keyAlgorithm must be one of/],
      [{ id: 'x6', subject: 'CN=X', issuer: { selfSigned: true }, validityYears: 0 }, /^validityYears /],
      [{ id: 'x7', subject: 'CN=X', issuer: { selfSigned: true }, pkcs11: { uri: 'pkcs11:token=t;object=o', module: '/nonexistent/module.so', pinEnv: 'PIN' } }, /pkcs11\.module: \/nonexistent\/module\.so is not an existing file/],
      [{ id: 'x8', subject: 'CN=X', issuer: { selfSigned: true }, pkcs11: { uri: 'pkcs11:token=t;object=o', module: '/bin/sh' } }, /exactly one of pinFile and pinEnv/],
    ];
    for (const [body, reason] of cases) {
      const res = await admin.post('/api/cas', body);
      expect(res.status, `${JSON.stringify(body)}: ${res.text}`).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json.detail, JSON.stringify(body)).toMatch(reason);
    }
    // the CA "devices" made above: the id is taken
    const taken = await admin.post('/api/cas', { id: 'devices', subject: 'CN=Again', issuer: { selfSigned: true } });
    expect(taken.status).toBe(400);
    expect(taken.json.detail).toMatch(/cas\.devices exists already/);
    expect(readFileSync(join(s.home, 'estuary.yaml'), 'utf8')).toBe(before);
    for (const id of ['x1', 'x2', 'x5', 'x6']) expect(existsSync(join(s.home, 'ca', `${id}-key.pem`)), id).toBe(false);
  });

  it('a CA that fails half-way leaves no files behind, so its id can be used again; two requests for one id: one CA', async () => {
    // a "parent" whose certificate is not a CA certificate: refused after the new key was made
    const tls = loadConfig(s.home, {}).tls;
    setCaConnector(s.home, 'not-a-ca', { type: 'local', certificate: tls.certificate, key: tls.key });
    const refused = await admin.post('/api/cas', { id: 'again', subject: 'CN=Again', issuer: { parent: 'not-a-ca' } });
    expect(refused.status, refused.text).toBe(400);
    expect(refused.json.detail).toMatch(/^issuer\.parent not-a-ca: its certificate is not a CA certificate/);
    for (const f of ['again-key.pem', 'again.pem']) expect(existsSync(join(s.home, 'ca', f)), f).toBe(false);
    const retried = await admin.post('/api/cas', { id: 'again', subject: 'CN=Again', issuer: { parent: 'root' } });
    expect(retried.status, retried.text).toBe(201);

    const both = await Promise.all([1, 2].map((n) => admin.post('/api/cas', { id: 'twice', subject: `CN=Twice ${n}`, issuer: { selfSigned: true } })));
    expect(both.map((r) => r.status).sort()).toEqual([201, 400]);
    expect(both.find((r) => r.status === 400)!.json.detail).toMatch(/cas\.twice exists already/);
    const subject = both.find((r) => r.status === 201)!.json.subject;
    expect(new X509Certificate(readFileSync(join(s.home, 'ca', 'twice.pem'))).subject).toBe(subject);
  });

  it('admins only: officers and auditors get 403 and nothing is made; signed out is 401; no CSRF token is 403', async () => {
    const body = { id: 'forbidden', subject: 'CN=Forbidden', issuer: { selfSigned: true } };
    for (const c of [officer, auditor]) {
      const res = await c.post('/api/cas', body);
      expect(res.status, res.text).toBe(403);
      expect(res.json.detail).toMatch(/needed: admin/);
    }
    expect((await admin.post('/api/cas', body, { csrf: null })).status).toBe(403);
    const anonymous = await estRequest(`${s.adminBase}/api/cas`, { method: 'POST', ca: s.rootPem, body: JSON.stringify(body), contentType: 'application/json' });
    expect(anonymous.status).toBe(401);
    expect(existsSync(join(s.home, 'ca', 'forbidden-key.pem'))).toBe(false);
    expect(loadConfig(s.home, {}).cas.forbidden).toBeUndefined();
    expect((await auditOf('ca.create')).some((e) => e.detail.startsWith('forbidden'))).toBe(false);
  });

  it('the OpenAPI document describes the new operations', async () => {
    const doc = (await auditor.get('/api/openapi.json')).json;
    expect(doc.paths['/api/cas'].post).toMatchObject({ operationId: 'createCa', 'x-roles': ['admin'] });
    expect(Object.keys(doc.paths['/api/cas'].post.responses)).toEqual(expect.arrayContaining(['201', '202', '400', '403']));
    expect(doc.paths['/api/cas/{id}/certificate'].post).toMatchObject({ operationId: 'importCaCertificate', 'x-roles': ['admin'] });
    expect(doc.paths['/api/cas/pending/{id}/csr.pem'].get.operationId).toBe('downloadCaCsr');
    expect(doc.components.schemas.CaCreate.required).toEqual(['id', 'subject', 'issuer']);
  });
});

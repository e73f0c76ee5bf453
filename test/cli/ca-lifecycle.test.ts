/**
 * `estuary ca create|import` against a running server: a subordinate CA signed by a configured root,
 * a root made in a PKCS#11 token (SoftHSM2), and a CSR signed by an offline CA with openssl; the
 * running server takes each up without a restart and issues under it (openssl verifies the chains).
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setCaConnector } from '../../src/cli/config-edit.js';
import { certsFrom, csrBody, estRequest, pem } from '../helpers/est-http.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { estuary } from '../helpers/cli.js';
import { makeCsr } from '../helpers/keys.js';
import { opensslIn } from '../helpers/openssl.js';
import { softHsm } from '../helpers/softhsm.js';

let s: TestServer;
let dir: string;

beforeAll(async () => {
  s = await startServer();
  dir = tempDir();
  writeFileSync(join(dir, 'root.pem'), s.rootPem);
  // the root, as a configured CA that no profile uses, can sign new issuing CAs
  setCaConnector(s.home, 'root', { type: 'local', certificate: 'ca/root.pem', key: 'ca/root-key.pem' });
  expect(await s.runtime.reloadCas()).toContain('root');
});
afterAll(async () => {
  await s?.runtime.close();
});

/** Enroll on a new profile that names `ca` (retrying while the server takes the CA up by itself). */
async function enrollUnder(ca: string, label: string): Promise<string> {
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label, ca });
  const csr = await makeCsr({ name: `CN=${label}-device` });
  const basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  for (let attempt = 0; ; attempt++) {
    const res = await estRequest(`${s.base}/${label}/simpleenroll`, { ca: s.rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });
    if (res.status === 200) return pem(certsFrom(res)[0]!);
    // the server's watcher of estuary.yaml takes the new CA up within a moment (no reload asked here)
    if (attempt > 60) throw new Error(`enrollment under ${ca}: ${res.status} ${res.text}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('estuary ca create', () => {
  it('makes an issuing CA under a configured root; the running server issues under it at once', async () => {
    const run = await estuary(['ca', 'create', 'devices', '--subject', 'CN=Devices CA, O=Example', '--parent', 'root', '--home', s.home]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/CA "devices" created: key ca\/devices-key\.pem/);
    expect(readFileSync(join(s.home, 'estuary.yaml'), 'utf8')).toMatch(/# CA connectors, by id/); // comments kept
    const cert = await enrollUnder('devices', 'devices');
    writeFileSync(join(dir, 'devices-ca.pem'), readFileSync(join(s.home, 'ca', 'devices.pem')));
    writeFileSync(join(dir, 'device.pem'), cert);
    const verified = await opensslIn(dir, ['verify', '-CAfile', 'root.pem', '-untrusted', 'devices-ca.pem', 'device.pem']);
    expect(verified.code, verified.out).toBe(0);
    expect((await opensslIn(dir, ['x509', '-in', 'device.pem', '-noout', '-issuer'])).out).toMatch(/CN\s*=\s*Devices CA/);
    const audit = await s.runtime.store.listAudit({ limit: 20 });
    expect(audit.some((e) => e.action === 'ca.create' && e.detail?.includes('devices'))).toBe(true);
  });

  it('makes a root whose key is generated inside a PKCS#11 token; the key never leaves it', async () => {
    const hsm = softHsm();
    hsm.initToken('cli-root');
    writeFileSync(join(s.home, 'token.pin'), hsm.pin, { mode: 0o600 });
    const run = await estuary([
      'ca', 'create', 'hsmroot', '--subject', 'CN=Token Root', '--self-signed', '--key-algorithm', 'ec-p384',
      '--pkcs11', 'pkcs11:token=cli-root;object=root;id=%0a;type=private', '--module', hsm.module, '--pin-file', 'token.pin', '--home', s.home,
    ], { env: { SOFTHSM2_CONF: hsm.conf } });
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(join(s.home, 'estuary.yaml'), 'utf8')).toMatch(/key: pkcs11:token=cli-root;object=root/);
    const cert = await enrollUnder('hsmroot', 'tokenroot');
    writeFileSync(join(dir, 'hsm-root.pem'), readFileSync(join(s.home, 'ca', 'hsmroot.pem')));
    writeFileSync(join(dir, 'token-device.pem'), cert);
    const verified = await opensslIn(dir, ['verify', '-CAfile', 'hsm-root.pem', 'token-device.pem']);
    expect(verified.code, verified.out).toBe(0);
    // the same object cannot be made twice
    const again = await estuary(['ca', 'create', 'hsmroot2', '--subject', 'CN=Again', '--self-signed', '--pkcs11', 'pkcs11:token=cli-root;object=root;id=%0a', '--module', hsm.module, '--pin-file', 'token.pin', '--home', s.home], { env: { SOFTHSM2_CONF: hsm.conf } });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already has a private key/);
  });

  it('writes a CSR for an offline CA; "ca import" brings the signed certificate and the server issues under it', async () => {
    const csrFile = join(dir, 'offline.csr');
    const run = await estuary(['ca', 'create', 'offline', '--subject', 'CN=Offline Signed CA', '--csr', csrFile, '--home', s.home]);
    expect(run.code, run.stderr).toBe(0);
    writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    const signed = await opensslIn(dir, ['x509', '-req', '-in', 'offline.csr', '-CA', join(s.home, 'ca', 'root.pem'), '-CAkey', join(s.home, 'ca', 'root-key.pem'), '-days', '365', '-extfile', 'ext.cnf', '-out', 'offline.pem']);
    expect(signed.code, signed.out).toBe(0);
    // a certificate for another key is refused
    const wrong = await estuary(['ca', 'import', 'offline', '--certificate', join(s.home, 'ca', 'issuing.pem'), '--home', s.home]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/another key/);
    const imported = await estuary(['ca', 'import', 'offline', '--certificate', join(dir, 'offline.pem'), '--chain', 'ca/root.pem', '--home', s.home]);
    expect(imported.code, imported.stderr).toBe(0);
    const cert = await enrollUnder('offline', 'offline');
    writeFileSync(join(dir, 'offline-device.pem'), cert);
    const verified = await opensslIn(dir, ['verify', '-CAfile', 'root.pem', '-untrusted', 'offline.pem', 'offline-device.pem']);
    expect(verified.code, verified.out).toBe(0);
    // /cacerts of the profile is the new CA and its chain
    const cacerts = await estRequest(`${s.base}/offline/cacerts`, { ca: s.rootPem });
    expect(certsFrom(cacerts)).toHaveLength(2);
  });

  it('refuses unclear or impossible requests with one line', async () => {
    const none = await estuary(['ca', 'create', 'x', '--subject', 'CN=X', '--home', s.home]);
    expect(none.stderr).toMatch(/exactly one of --parent <id>, --self-signed and --csr <file>/);
    const exists = await estuary(['ca', 'create', 'default', '--subject', 'CN=X', '--self-signed', '--home', s.home]);
    expect(exists.stderr).toMatch(/cas\.default exists already/);
    const noParent = await estuary(['ca', 'create', 'y', '--subject', 'CN=Y', '--parent', 'nosuch', '--home', s.home]);
    expect(noParent.stderr).toMatch(/--parent: cas\.nosuch: expected a built-in CA/);
    const badSubject = await estuary(['ca', 'create', 'z', '--subject', 'not a name', '--self-signed', '--home', s.home]);
    expect(badSubject.code).not.toBe(0);
    expect(badSubject.stderr).toMatch(/--subject/);
  });
});

describe('estuary init --offline-root', () => {
  it('writes the root key outside the home; the server runs and issues without it', async () => {
    const base = tempDir();
    const home = join(base, 'home');
    const offline = join(base, 'offline');
    const run = await estuary(['init', '--home', home, '--offline-root', offline, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { rootKeyFile: string; estAccount: { email: string; password: string } };
    expect(summary.rootKeyFile).toBe(join(offline, 'root-key.pem'));
    expect(existsSync(join(home, 'ca', 'root-key.pem'))).toBe(false);
    expect((statSync(summary.rootKeyFile).mode & 0o777).toString(8)).toBe('600');
    const server = await startServer({ home, summary: summary as never, rootPem: readFileSync(join(home, 'ca', 'root.pem'), 'utf8') });
    try {
      const csr = await makeCsr({ name: 'CN=offline-root-device' });
      const res = await estRequest(`${server.base}/simpleenroll`, { ca: server.rootPem, basic: { user: summary.estAccount.email, password: summary.estAccount.password }, body: csrBody(csr.der), contentType: 'application/pkcs10' });
      expect(res.status, res.text).toBe(200);
    } finally {
      await server.runtime.close();
    }
  });
});

describe('estuary init --root-pkcs11', () => {
  it('generates the root key inside a token; the home holds no root key and the server issues under the root', async () => {
    const hsm = softHsm();
    hsm.initToken('init-root');
    const base = tempDir();
    const home = join(base, 'home');
    const pinFile = join(base, 'pin');
    writeFileSync(pinFile, hsm.pin, { mode: 0o600 });
    const run = await estuary(['init', '--home', home, '--root-pkcs11', 'pkcs11:token=init-root;object=root', '--module', hsm.module, '--pin-file', pinFile, '--json'], { env: { SOFTHSM2_CONF: hsm.conf } });
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { rootKeyFile: string; estAccount: { email: string; password: string } };
    expect(summary.rootKeyFile).toBe('pkcs11:token=init-root;object=root');
    expect(existsSync(join(home, 'ca', 'root-key.pem'))).toBe(false);
    writeFileSync(join(base, 'root.pem'), readFileSync(join(home, 'ca', 'root.pem')));
    writeFileSync(join(base, 'issuing.pem'), readFileSync(join(home, 'ca', 'issuing.pem')));
    const chain = await opensslIn(base, ['verify', '-CAfile', 'root.pem', 'issuing.pem']);
    expect(chain.code, chain.out).toBe(0);
    const server = await startServer({ home, summary: summary as never, rootPem: readFileSync(join(home, 'ca', 'root.pem'), 'utf8') });
    try {
      const csr = await makeCsr({ name: 'CN=token-root-device' });
      const res = await estRequest(`${server.base}/simpleenroll`, { ca: server.rootPem, basic: { user: summary.estAccount.email, password: summary.estAccount.password }, body: csrBody(csr.der), contentType: 'application/pkcs10' });
      expect(res.status, res.text).toBe(200);
    } finally {
      await server.runtime.close();
    }
    // a wrong PIN: one line, and no half-made home
    writeFileSync(pinFile, '0000', { mode: 0o600 });
    const wrong = await estuary(['init', '--home', join(base, 'home2'), '--root-pkcs11', 'pkcs11:token=init-root;object=root2', '--module', hsm.module, '--pin-file', pinFile], { env: { SOFTHSM2_CONF: hsm.conf } });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/--root-pkcs11: cannot log in to the token of token "init-root", object "root2": the PIN is wrong/);
    expect(existsSync(join(base, 'home2'))).toBe(false);
  });
});

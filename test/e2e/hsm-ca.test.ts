/**
 * The built-in CA with its issuing key in a PKCS#11 token (SoftHSM2): enroll, reenroll and a CRL
 * signed in the token and verified by openssl; RSA-PSS; the token gone → 503 + Retry-After and back
 * without a restart; a wrong PIN is a startup error naming the setting.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { setCaConnector } from '../../src/cli/config-edit.js';
import { createLogger, createRuntime } from '../../src/cli/runtime.js';
import { certsFrom, csrBody, estRequest, pem } from '../helpers/est-http.js';
import { makeHome, startServer, tempDir, type TestHome, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { opensslIn } from '../helpers/openssl.js';
import { softHsm, type SoftHsm } from '../helpers/softhsm.js';

let hsm: SoftHsm;

/** A home whose issuing key is moved into token `token` (the key file is deleted). */
async function tokenHome(token: string, algorithm: 'ec-p256' | 'rsa-2048', extra: Record<string, unknown> = {}): Promise<TestHome> {
  const home = await makeHome(algorithm);
  hsm.initToken(token);
  const keyFile = join(home.home, 'ca', 'issuing-key.pem');
  hsm.importKey(token, 'issuing', '01', createPrivateKey(readFileSync(keyFile)));
  rmSync(keyFile);
  writeFileSync(join(home.home, 'token.pin'), `${hsm.pin}\n`, { mode: 0o600 });
  setCaConnector(home.home, 'default', {
    type: 'local', certificate: 'ca/issuing.pem', chain: ['ca/root.pem'], key: `pkcs11:token=${token};object=issuing;type=private`,
    pkcs11: { module: hsm.module, pinFile: 'token.pin', ...extra },
  });
  return home;
}

beforeAll(() => {
  hsm = softHsm();
});

describe('a CA key in a PKCS#11 token', () => {
  let s: TestServer;
  let dir: string;
  beforeAll(async () => {
    s = await startServer(await tokenHome('ec-ca', 'ec-p256'));
    dir = tempDir();
    writeFileSync(join(dir, 'root.pem'), s.rootPem);
    writeFileSync(join(dir, 'issuing.pem'), readFileSync(join(s.home, 'ca', 'issuing.pem')));
  });
  afterAll(async () => {
    await s?.runtime.close();
  });
  const basic = () => ({ user: s.summary.estAccount.email, password: s.summary.estAccount.password });

  it('issues, renews and signs CRLs with the token key; openssl verifies them', async () => {
    const csr = await makeCsr({ name: 'CN=hsm-device', dns: ['hsm-device.example'] });
    const res = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic: basic(), body: csrBody(csr.der), contentType: 'application/pkcs10' });
    expect(res.status, res.text).toBe(200);
    const cert = pem(certsFrom(res)[0]!);
    writeFileSync(join(dir, 'device.pem'), cert);
    const verified = await opensslIn(dir, ['verify', '-CAfile', 'root.pem', '-untrusted', 'issuing.pem', 'device.pem']);
    expect(verified.code, verified.out).toBe(0);

    const again = await makeCsr({ name: 'CN=hsm-device', dns: ['hsm-device.example'], keys: csr.keys });
    const renewed = await estRequest(s.base + '/simplereenroll', { ca: s.rootPem, body: csrBody(again.der), contentType: 'application/pkcs10', clientCert: { cert, key: csr.keyPem } });
    expect(renewed.status, renewed.text).toBe(200);
    writeFileSync(join(dir, 'renewed.pem'), pem(certsFrom(renewed)[0]!));
    expect((await opensslIn(dir, ['verify', '-CAfile', 'root.pem', '-untrusted', 'issuing.pem', 'renewed.pem'])).code).toBe(0);

    const serial = /serial=([0-9A-F]+)/i.exec((await opensslIn(dir, ['x509', '-in', 'renewed.pem', '-noout', '-serial'])).out)![1]!.toLowerCase();
    expect(await s.runtime.store.revokeCertificate(serial, 'keyCompromise', new Date())).toBe(true);
    const crl = await fetch(`${s.runtime.crlBaseUrl()}/default.crl`);
    expect(crl.status).toBe(200);
    writeFileSync(join(dir, 'crl.der'), Buffer.from(await crl.arrayBuffer()));
    const text = await opensslIn(dir, ['crl', '-inform', 'DER', '-in', 'crl.der', '-CAfile', 'issuing.pem', '-noout', '-text']);
    expect(text.out).toMatch(/verify OK/);
    expect(text.out.toLowerCase()).toContain(`serial number: ${serial}`);
  });

  it('answers 503 with Retry-After while the token is gone, and issues again once it is back, without a restart', async () => {
    const csr = await makeCsr({ name: 'CN=while-gone' });
    const enroll = () => estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic: basic(), body: csrBody(csr.der), contentType: 'application/pkcs10' });
    hsm.deleteToken('ec-ca');
    const gone = await enroll();
    expect(gone.status).toBe(503);
    expect(Number(gone.headers['retry-after'])).toBeGreaterThan(0);
    expect(gone.headers['content-type']).toMatch(/^text\/plain/);
    const keyPem = readFileSync(join(hsm.dir, 'issuing-01.pem'));
    hsm.initToken('ec-ca');
    hsm.importKey('ec-ca', 'issuing', '01', createPrivateKey(keyPem));
    const back = await enroll();
    expect(back.status, back.text).toBe(200);
  });
});

describe('RSA keys in a token', () => {
  it('signs certificates with RSASSA-PSS when asked; openssl verifies them', async () => {
    const s = await startServer(await tokenHome('rsa-ca', 'rsa-2048', { rsaSignature: 'pss' }));
    try {
      const dir = tempDir();
      writeFileSync(join(dir, 'root.pem'), s.rootPem);
      writeFileSync(join(dir, 'issuing.pem'), readFileSync(join(s.home, 'ca', 'issuing.pem')));
      const csr = await makeCsr({ name: 'CN=pss-device' });
      const res = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic: { user: s.summary.estAccount.email, password: s.summary.estAccount.password }, body: csrBody(csr.der), contentType: 'application/pkcs10' });
      expect(res.status, res.text).toBe(200);
      writeFileSync(join(dir, 'device.pem'), pem(certsFrom(res)[0]!));
      const text = await opensslIn(dir, ['x509', '-in', 'device.pem', '-noout', '-text']);
      expect(text.out).toMatch(/Signature Algorithm: rsassaPss/);
      const verified = await opensslIn(dir, ['verify', '-CAfile', 'root.pem', '-untrusted', 'issuing.pem', 'device.pem']);
      expect(verified.code, verified.out).toBe(0);
    } finally {
      await s.runtime.close();
    }
  });
});

describe('startup errors', () => {
  it('a wrong PIN stops the start with one line naming the setting and the token', async () => {
    const home = await tokenHome('pin-ca', 'ec-p256');
    writeFileSync(join(home.home, 'token.pin'), '0000\n', { mode: 0o600 });
    const config = loadConfig(home.home, { ESTUARY_EST_LISTEN: '127.0.0.1:0', ESTUARY_CRL_LISTEN: 'off', ESTUARY_ADMIN_LISTEN: 'off', ESTUARY_OPS_LISTEN: 'off' });
    await expect(createRuntime(config, createLogger('error'))).rejects.toThrow(/^cas\.default\.key: cannot log in to the token of token "pin-ca", object "issuing": the PIN is wrong/);
  });
});

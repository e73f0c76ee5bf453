/** Delta CRLs (RFC 5280 §5.2.4) served at /crl/<ca>-delta.crl and used by openssl verify -use_deltas. */
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certsFrom, csrBody, estRequest, pem } from '../helpers/est-http.js';
import { makeHome, startServer, tempDir, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { opensslIn } from '../helpers/openssl.js';

let s: TestServer;
let dir: string;

const openssl = (args: string[]): Promise<{ code: number; out: string }> => opensslIn(dir, args);

/** Fetch a CRL and keep it as <name>.pem for openssl. */
async function fetchCrl(path: string, name: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(s.runtime.crlBaseUrl() + path);
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status === 200) {
    writeFileSync(join(dir, `${name}.der`), body);
    await openssl(['crl', '-inform', 'DER', '-in', `${name}.der`, '-out', `${name}.pem`]);
  }
  return { status: res.status, body };
}

beforeAll(async () => {
  dir = tempDir('estuary-crl-delta-');
  const home = await makeHome();
  const configFile = join(home.home, 'estuary.yaml');
  writeFileSync(configFile, readFileSync(configFile, 'utf8')
    .replace('# publicUrl: http://pki.example.com/crl', 'publicUrl: http://pki.example.test/crl')
    .replace('# deltaValidityHours: 1', 'deltaValidityHours: 1'));
  s = await startServer(home);
  writeFileSync(join(dir, 'root.pem'), s.rootPem);
  writeFileSync(join(dir, 'issuing.pem'), readFileSync(join(s.home, 'ca', 'issuing.pem')));
});
afterAll(async () => {
  await s.runtime.close();
});

describe('delta CRLs', () => {
  it('carry a revocation made after the complete CRL; openssl verify -use_deltas refuses the certificate with both', async () => {
    const csr = await makeCsr({ name: 'CN=delta-device' });
    const res = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic: { user: s.summary.estAccount.email, password: s.summary.estAccount.password }, body: csrBody(csr.der), contentType: 'application/pkcs10' });
    expect(res.status, res.text).toBe(200);
    const der = certsFrom(res)[0]!;
    writeFileSync(join(dir, 'device.pem'), pem(der));

    const base = await fetchCrl('/default.crl', 'base');
    expect(base.status).toBe(200);
    const baseText = await openssl(['crl', '-in', 'base.pem', '-CAfile', 'issuing.pem', '-noout', '-text']);
    expect(baseText.out).toMatch(/verify OK/);
    expect(baseText.out).toMatch(/Freshest CRL:[\s\S]*URI:http:\/\/pki.example.test\/crl\/default-delta.crl/);

    expect(await s.runtime.store.revokeCertificate(new X509Certificate(der).serialNumber.toLowerCase(), 'keyCompromise', new Date())).toBe(true);
    expect((await fetchCrl('/default.crl', 'base-again')).body.equals(base.body)).toBe(true); // on its schedule
    const delta = await fetchCrl('/default-delta.crl', 'delta');
    expect(delta.status).toBe(200);
    const deltaText = await openssl(['crl', '-in', 'delta.pem', '-CAfile', 'issuing.pem', '-noout', '-text']);
    expect(deltaText.out).toMatch(/verify OK/);
    expect(deltaText.out).toMatch(/Delta CRL Indicator: critical/);
    expect(deltaText.out).toMatch(/Key Compromise/);

    const chain = ['-CAfile', 'root.pem', '-untrusted', 'issuing.pem'];
    const baseOnly = await openssl(['verify', '-crl_check', '-CRLfile', 'base.pem', ...chain, 'device.pem']);
    expect(baseOnly.code, baseOnly.out).toBe(0);
    const withDelta = await openssl(['verify', '-crl_check', '-use_deltas', '-CRLfile', 'base.pem', '-CRLfile', 'delta.pem', ...chain, 'device.pem']);
    expect(withDelta.code).not.toBe(0);
    expect(withDelta.out).toMatch(/certificate revoked/);
  });

  it('answers 404 for the delta CRL of an unknown CA', async () => {
    expect((await fetchCrl('/nosuch-delta.crl', 'x')).status).toBe(404);
  });
});

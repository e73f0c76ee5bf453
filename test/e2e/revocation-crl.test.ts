/** Revocation and CRL publication: CRL served over HTTP, verified by openssl, CDP in issued certificates. */
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

async function fetchCrl(path = '/default.crl', method = 'GET'): Promise<{ status: number; type: string | null; body: Buffer }> {
  const res = await fetch(s.runtime.crlBaseUrl() + path, { method });
  return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) };
}

async function enroll(cn: string): Promise<{ der: Buffer; serial: string; file: string }> {
  const csr = await makeCsr({ name: `CN=${cn}` });
  const res = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic: { user: s.summary.estAccount.email, password: s.summary.estAccount.password }, body: csrBody(csr.der), contentType: 'application/pkcs10' });
  expect(res.status, res.text).toBe(200);
  const der = certsFrom(res)[0]!;
  const file = join(dir, `${cn}.pem`);
  writeFileSync(file, pem(der));
  return { der, serial: new X509Certificate(der).serialNumber.toLowerCase(), file };
}

beforeAll(async () => {
  dir = tempDir('estuary-crl-');
  const home = await makeHome();
  const configFile = join(home.home, 'estuary.yaml');
  writeFileSync(configFile, readFileSync(configFile, 'utf8').replace('# publicUrl: http://pki.example.com/crl', 'publicUrl: http://pki.example.test/crl'));
  s = await startServer(home);
  writeFileSync(join(dir, 'root.pem'), s.rootPem);
  writeFileSync(join(dir, 'issuing.pem'), readFileSync(join(s.home, 'ca', 'issuing.pem')));
});
afterAll(async () => {
  await s.runtime.close();
});

describe('CRL', () => {
  it('issued certificates carry the configured CRL distribution point', async () => {
    const cert = await enroll('cdp-device');
    const { out } = await openssl(['x509', '-in', cert.file, '-noout', '-ext', 'crlDistributionPoints']);
    expect(out).toMatch(/URI:http:\/\/pki.example.test\/crl\/default.crl/);
  });

  it('serves a signed, empty CRL that openssl accepts', async () => {
    const crl = await fetchCrl();
    expect(crl.status).toBe(200);
    expect(crl.type).toBe('application/pkix-crl');
    writeFileSync(join(dir, 'empty.crl'), crl.body);
    const { code, out } = await openssl(['crl', '-inform', 'DER', '-in', 'empty.crl', '-CAfile', 'issuing.pem', '-noout', '-text']);
    expect(code, out).toBe(0);
    expect(out).toMatch(/verify OK/);
    expect(out).toMatch(/No Revoked Certificates/);
    expect(out).toMatch(/CRL Number/);
  });

  it('lists a revoked certificate at once; openssl verify -crl_check refuses it and accepts the others', async () => {
    const good = await enroll('good-device');
    const bad = await enroll('bad-device');
    const before = await fetchCrl();
    expect(await s.runtime.store.revokeCertificate(bad.serial, 'keyCompromise', new Date())).toBe(true);
    const crl = await fetchCrl();
    expect(crl.body.equals(before.body)).toBe(false);
    writeFileSync(join(dir, 'crl.der'), crl.body);
    const text = await openssl(['crl', '-inform', 'DER', '-in', 'crl.der', '-CAfile', 'issuing.pem', '-noout', '-text']);
    expect(text.out).toMatch(/verify OK/);
    expect(text.out.toLowerCase()).toContain(`serial number: ${bad.serial}`);
    expect(text.out).toMatch(/Key Compromise/);
    await openssl(['crl', '-inform', 'DER', '-in', 'crl.der', '-out', 'crl.pem']);
    const refused = await openssl(['verify', '-crl_check', '-CRLfile', 'crl.pem', '-CAfile', 'root.pem', '-untrusted', 'issuing.pem', bad.file]);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/certificate revoked/);
    const accepted = await openssl(['verify', '-crl_check', '-CRLfile', 'crl.pem', '-CAfile', 'root.pem', '-untrusted', 'issuing.pem', good.file]);
    expect(accepted.code, accepted.out).toBe(0);
    // the CRL number grows
    const numberOf = async (file: string): Promise<bigint> => BigInt(/crlNumber=(0x[0-9A-F]+)/i.exec((await openssl(['crl', '-inform', 'DER', '-in', file, '-noout', '-crlnumber'])).out)![1]!);
    writeFileSync(join(dir, 'before.der'), before.body);
    expect(await numberOf('crl.der')).toBeGreaterThan(await numberOf('before.der'));
  });

  it('answers 404 for unknown CAs and paths and 405 for other methods', async () => {
    expect((await fetchCrl('/nosuch.crl')).status).toBe(404);
    expect((await fetchCrl('/default-delta.crl')).status).toBe(404); // delta CRLs are off
    expect((await fetchCrl('/../default.crl')).status).toBe(404);
    expect((await fetchCrl('/default.crl', 'POST')).status).toBe(405);
    const head = await fetchCrl('/default.crl', 'HEAD');
    expect(head.status).toBe(200);
    expect((await fetchCrl()).status).toBe(200);
  });
});

/** The OCSP responder (RFC 6960) on the CRL listener, driven by `openssl ocsp` over real HTTP. */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFields } from '../../src/pki/certificate.js';
import { children, DER_NULL, explicit, octets, oid, readTop, seq, tlv, value } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';
import { certsFrom, csrBody, estRequest, pem } from '../helpers/est-http.js';
import { makeHome, startServer, tempDir, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { opensslIn } from '../helpers/openssl.js';

let s: TestServer;
let dir: string;
let ocspUrl: string;
let issuingDer: Buffer;

const openssl = (args: string[]): Promise<{ code: number; out: string }> => opensslIn(dir, args);

async function enroll(cn: string): Promise<{ serial: string; file: string }> {
  const csr = await makeCsr({ name: `CN=${cn}` });
  const res = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic: { user: s.summary.estAccount.email, password: s.summary.estAccount.password }, body: csrBody(csr.der), contentType: 'application/pkcs10' });
  expect(res.status, res.text).toBe(200);
  const der = certsFrom(res)[0]!;
  const file = `${cn}.pem`;
  writeFileSync(join(dir, file), pem(der));
  return { serial: new X509Certificate(der).serialNumber.toLowerCase(), file };
}

/** `openssl ocsp` against the responder, verifying the response up to root.pem. */
function ask(...args: string[]): Promise<{ code: number; out: string }> {
  return openssl(['ocsp', '-issuer', 'issuing.pem', '-url', `${ocspUrl}/default`, '-CAfile', 'root.pem', '-verify_other', 'issuing.pem', '-resp_text', ...args]);
}

/** A hand-made OCSPRequest for one serial of the issuing CA, with an optional raw nonce. */
function ocspRequest(serial: Buffer, nonce?: Buffer): Buffer {
  const f = certificateFields(issuingDer);
  const [, bits] = children(f.spki, readTop(f.spki));
  const sha1 = (b: Buffer): Buffer => createHash('sha1').update(b).digest();
  const certId = seq(seq(oid(OID.sha1), DER_NULL), octets(sha1(f.subject)), octets(sha1(value(f.spki, bits!).subarray(1))), tlv(0x02, serial));
  const parts = [seq(seq(certId))];
  if (nonce) parts.push(explicit(2, seq(seq(oid(OID.ocspNonce), octets(octets(nonce))))));
  return seq(seq(...parts));
}

async function post(body: Buffer, contentType = 'application/ocsp-request'): Promise<{ status: number; type: string | null; body: Buffer }> {
  const res = await fetch(`${ocspUrl}/default`, { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body) });
  return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) };
}

let good: { serial: string; file: string };
let bad: { serial: string; file: string };

beforeAll(async () => {
  dir = tempDir('estuary-ocsp-');
  const home = await makeHome();
  const configFile = join(home.home, 'estuary.yaml');
  writeFileSync(configFile, readFileSync(configFile, 'utf8').replace('# publicUrl: http://pki.example.com/ocsp', 'publicUrl: http://ocsp.example.test/ocsp'));
  s = await startServer(home);
  ocspUrl = s.runtime.crlBaseUrl()!.replace(/\/crl$/, '/ocsp');
  issuingDer = new X509Certificate(readFileSync(join(s.home, 'ca', 'issuing.pem'))).raw;
  writeFileSync(join(dir, 'root.pem'), s.rootPem);
  writeFileSync(join(dir, 'issuing.pem'), readFileSync(join(s.home, 'ca', 'issuing.pem')));
  good = await enroll('ocsp-good');
  bad = await enroll('ocsp-bad');
  expect(await s.runtime.store.revokeCertificate(bad.serial, 'keyCompromise', new Date('2026-11-01T10:00:00Z'))).toBe(true);
});
afterAll(async () => {
  await s.runtime.close();
});

describe('OCSP responder', () => {
  it('issued certificates carry the responder URL in Authority Information Access', async () => {
    const { out } = await openssl(['x509', '-in', good.file, '-noout', '-ext', 'authorityInfoAccess']);
    expect(out).toMatch(/OCSP - URI:http:\/\/ocsp.example.test\/ocsp\/default/);
  });

  it('answers good, signed by a delegated responder certificate (OCSPSigning, ocsp-nocheck) that openssl verifies, with the nonce echoed', async () => {
    const r = await ask('-cert', good.file);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/Response verify OK/);
    expect(r.out).toMatch(/ocsp-good\.pem: good/);
    expect(r.out).toMatch(/OCSP Nonce/);
    expect(r.out).not.toMatch(/WARNING: no nonce/);
    expect(r.out).toMatch(/OCSP Signing/);
    expect(r.out).toMatch(/OCSP No Check/);
    expect(r.out).toMatch(/Next Update:/);
  });

  it('reads CertIDs hashed with SHA-256 as well as SHA-1, and several certificates in one request', async () => {
    const r = await ask('-sha256', '-cert', bad.file);
    expect(r.out).toMatch(/Response verify OK/);
    expect(r.out).toMatch(/Hash Algorithm: sha256/);
    expect(r.out).toMatch(/ocsp-bad\.pem: revoked/);
    const both = await ask('-cert', good.file, '-cert', bad.file);
    expect(both.out).toMatch(/ocsp-good\.pem: good/);
    expect(both.out).toMatch(/ocsp-bad\.pem: revoked/);
  });

  it('answers revoked with the revocation time and reason, also without a nonce', async () => {
    const r = await ask('-cert', bad.file, '-no_nonce');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/Response verify OK/);
    expect(r.out).toMatch(/ocsp-bad\.pem: revoked/);
    expect(r.out).toMatch(/Reason: keyCompromise/);
    expect(r.out).toMatch(/Revocation Time: Nov  1 10:00:00 2026 GMT/);
    expect(r.out).not.toMatch(/OCSP Nonce/);
  });

  it('answers unknown for a serial it never issued, and unauthorized for another issuer', async () => {
    const unknown = await ask('-serial', '0x0123456789abcdef');
    expect(unknown.out).toMatch(/0x0123456789abcdef: unknown/i);
    const other = await openssl(['ocsp', '-issuer', 'root.pem', '-serial', '0x01', '-url', `${ocspUrl}/default`, '-CAfile', 'root.pem']);
    expect(other.out).toMatch(/Responder Error: unauthorized \(6\)/);
  });

  it('answers a GET with the URL-encoded base64 request in the path (RFC 6960 Appendix A.1)', async () => {
    expect((await openssl(['ocsp', '-issuer', 'issuing.pem', '-cert', bad.file, '-no_nonce', '-reqout', 'get-req.der'])).code).toBe(0);
    const b64 = readFileSync(join(dir, 'get-req.der')).toString('base64');
    const res = await fetch(`${ocspUrl}/default/${encodeURIComponent(b64)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/ocsp-response');
    writeFileSync(join(dir, 'get-resp.der'), Buffer.from(await res.arrayBuffer()));
    const r = await openssl(['ocsp', '-respin', 'get-resp.der', '-issuer', 'issuing.pem', '-cert', bad.file, '-CAfile', 'root.pem', '-verify_other', 'issuing.pem']);
    expect(r.out).toMatch(/Response verify OK/);
    expect(r.out).toMatch(/ocsp-bad\.pem: revoked/);
    // the same request with its base64 left as is ('/' and '+' unescaped) is read too
    expect((await fetch(`${ocspUrl}/default/${b64}`)).status).toBe(200);
  });

  it('answers malformedRequest for DER that is not an OCSPRequest and for a nonce over 32 octets; echoes a 32-octet one', async () => {
    const malformed = Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]);
    const garbage = await post(Buffer.from([0x30, 0x05, 0x02, 0x01]));
    expect(garbage.status).toBe(200);
    expect(garbage.type).toBe('application/ocsp-response');
    expect(garbage.body.equals(malformed)).toBe(true);
    const serial = Buffer.from(good.serial, 'hex');
    expect((await post(ocspRequest(serial, Buffer.alloc(33, 7)))).body.equals(malformed)).toBe(true);
    const echoed = await post(ocspRequest(serial, Buffer.alloc(32, 9)));
    expect(echoed.body.subarray(0, 8).includes(Buffer.from([0x0a, 0x01, 0x00]))).toBe(true); // successful
    expect(echoed.body.includes(Buffer.concat([Buffer.from([0x04, 0x22, 0x04, 0x20]), Buffer.alloc(32, 9)]))).toBe(true);
  });

  it('answers requests that are not OCSP at all with a text/plain 4xx, and keeps serving', async () => {
    const wrongType = await post(ocspRequest(Buffer.from([1])), 'text/plain');
    expect(wrongType.status).toBe(415);
    expect(wrongType.type).toMatch(/^text\/plain/);
    expect((await post(Buffer.alloc(0))).status).toBe(400);
    expect((await post(Buffer.alloc(64 * 1024, 0x30))).status).toBe(413);
    expect((await fetch(`${ocspUrl}/default/!!!notbase64`)).status).toBe(400);
    expect((await fetch(`${ocspUrl}/default`)).status).toBe(400);
    expect((await fetch(`${ocspUrl}/default`, { method: 'PUT' })).status).toBe(405);
    expect((await fetch(`${ocspUrl}/nosuch`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: new Uint8Array(ocspRequest(Buffer.from([1]))) })).status).toBe(404);
    const still = await ask('-cert', good.file);
    expect(still.out).toMatch(/ocsp-good\.pem: good/);
    expect((await fetch(s.runtime.crlBaseUrl() + '/default.crl')).status).toBe(200);
  });
});

/** RFC 7030 §4.4 server-side key generation: multipart answer, key per profile, never stored. */
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64Body } from '../../src/pki/base64.js';
import { oid, seq } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';
import { parseCertsOnly } from '../../src/pki/signed-data.js';
import { firstKeyOfPackage } from '../../src/pki/enveloped-data.js';
import { csrBody, estRequest, type EstResponse } from '../helpers/est-http.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { generateKeys, makeCsr, x509 } from '../helpers/keys.js';
import { makeDeviceCa, type DeviceCa } from '../helpers/device-ca.js';

let s: TestServer;
let basic: { user: string; password: string };

/** A CSR asking for the key to be returned encrypted (RFC 7030 §4.4.1.2). */
async function encryptedRequest(name: string, attribute: string = OID.asymmetricDecryptKeyIdentifier, capabilities?: string[]): Promise<Buffer> {
  const keys = await generateKeys('ec-p256');
  const keyId = new Uint8Array([0x04, 0x00]).buffer; // an empty identifier: "the key of my TLS certificate"
  const attributes = [new x509.Attribute(attribute, [keyId])];
  // RFC 8551 §2.5.2 SMIMECapabilities: the algorithms the client prefers, first first
  if (capabilities) attributes.push(new x509.Attribute(OID.smimeCapabilities, [new Uint8Array(seq(...capabilities.map((c) => seq(oid(c))))).buffer]));
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
    attributes,
  });
  return Buffer.from(csr.rawData);
}

let device: DeviceCa;

beforeAll(async () => {
  s = await startServer();
  device = await makeDeviceCa();
  basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'rsa', keyAlgorithms: [{ type: 'rsa', minBits: 3072 }] });
  await s.runtime.store.createProfile({ ...p, label: 'held', approval: 'manual', retryAfterSeconds: 9 });
  await s.runtime.store.createProfile({ ...p, label: 'devices', auth: 'tls-client-cert', clientTrustAnchors: [device.pem] });
});
afterAll(async () => {
  await s.runtime.close();
});

const keygen = async (label: string, der: Buffer): Promise<EstResponse> =>
  estRequest(`${s.base}${label ? `/${label}` : ''}/serverkeygen`, { ca: s.rootPem, basic, body: csrBody(der), contentType: 'application/pkcs10' });

function parts(res: EstResponse): Array<{ type: string; der: Buffer }> {
  const boundary = /boundary=([^;]+)/.exec(String(res.headers['content-type']))![1]!;
  return res.text
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((p) => {
      const [head = '', body = ''] = p.split('\r\n\r\n');
      return { type: /Content-Type: *([^\r\n]+)/i.exec(head)![1]!, der: decodeBase64Body(body) };
    });
}

describe('serverkeygen', () => {
  it('answers multipart/mixed with a PKCS#8 key and the certificate for it; the CSR key is ignored', async () => {
    const csr = await makeCsr({ name: 'CN=keyless-device', dns: ['keyless.example'] });
    const res = await keygen('', csr.der);
    expect(res.status, res.text).toBe(200);
    expect(res.headers['content-type']).toMatch(/^multipart\/mixed; boundary=/);
    const [key, certPart] = parts(res);
    expect(key!.type).toBe('application/pkcs8');
    expect(certPart!.type).toBe('application/pkcs7-mime; smime-type=certs-only');
    const privateKey = createPrivateKey({ key: key!.der, format: 'der', type: 'pkcs8' });
    expect(privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1'); // the profile's first key rule
    const cert = new X509Certificate(parseCertsOnly(certPart!.der)[0]!);
    expect(cert.subject).toBe('CN=keyless-device');
    expect(cert.subjectAltName).toBe('DNS:keyless.example');
    expect(cert.publicKey.export({ format: 'jwk' })).toEqual(createPublicKey(privateKey).export({ format: 'jwk' }));
    expect(cert.publicKey.export({ format: 'jwk' })).not.toEqual(createPublicKey(createPrivateKey(csr.keyPem)).export({ format: 'jwk' }));

    // the generated private scalar is nowhere on the server: not in the database files, not in the log
    const d = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
    expect(d.length).toBe(32);
    for (const f of ['estuary.db', 'estuary.db-wal']) {
      const file = join(s.home, f);
      if (existsSync(file)) expect(readFileSync(file).includes(d), f).toBe(false);
    }
    expect(readFileSync(s.logFile, 'utf8')).not.toMatch(/PRIVATE KEY/);
  });

  it('generates the kind of key the profile allows', async () => {
    const res = await keygen('rsa', (await makeCsr({ name: 'CN=rsa-device' })).der);
    expect(res.status, res.text).toBe(200);
    const privateKey = createPrivateKey({ key: parts(res)[0]!.der, format: 'der', type: 'pkcs8' });
    expect(privateKey.asymmetricKeyType).toBe('rsa');
    expect(privateKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
  });

  it('openssl reads both parts and the key matches the certificate', async () => {
    const dir = tempDir('estuary-skg-');
    const res = await keygen('', (await makeCsr({ name: 'CN=openssl-device' })).der);
    writeFileSync(join(dir, 'response.txt'), res.body);
    const sh = (script: string) => promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, encoding: 'utf8' });
    await sh(`tr -d '\\r' < response.txt | awk '/^--/{n++; body=0; next} /^$/{body=1; next} body && n==1' | openssl base64 -d > key.der
              tr -d '\\r' < response.txt | awk '/^--/{n++; body=0; next} /^$/{body=1; next} body && n==2' | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out cert.pem`);
    const fromKey = (await sh('openssl pkey -inform DER -in key.der -pubout')).stdout;
    const fromCert = (await sh('openssl x509 -in cert.pem -noout -pubkey')).stdout;
    expect(fromKey).toMatch(/BEGIN PUBLIC KEY/);
    expect(fromKey).toBe(fromCert);
  });

  it.each(['ec-p256', 'rsa-2048'] as const)('returns the key encrypted to the TLS client certificate (%s), signed by the server (RFC 7030 §4.4.2); openssl decrypts and verifies it', async (keyType) => {
    const dev = await device.issue(`enc-${keyType}`, { keyType });
    const res = await estRequest(`${s.base}/devices/serverkeygen`, { ca: s.rootPem, clientCert: dev, body: csrBody(await encryptedRequest(`CN=enc-${keyType}`)), contentType: 'application/pkcs10' });
    expect(res.status, res.text).toBe(200);
    const [keyPart, certPart] = parts(res);
    expect(keyPart!.type).toBe('application/pkcs7-mime; smime-type=server-generated-key');
    const dir = tempDir('estuary-enc-');
    writeFileSync(join(dir, 'enveloped.der'), keyPart!.der);
    writeFileSync(join(dir, 'dev.pem'), dev.cert);
    writeFileSync(join(dir, 'dev-key.pem'), dev.key);
    writeFileSync(join(dir, 'root.pem'), s.rootPem);
    const run = (args: string[]) => promisify(execFile)('openssl', args, { cwd: dir, encoding: 'buffer' });
    const printed = (await run(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', 'enveloped.der'])).stdout.toString();
    expect(printed).toMatch(/contentType: pkcs7-signedData/); // encryptedContentInfo: RFC 5958 §4 nesting
    expect(printed).toMatch(/contentEncryptionAlgorithm:\s*\n?\s*algorithm: aes-256-cbc/); // no SMIMECapabilities: AES-256
    await run(['cms', '-decrypt', '-inform', 'DER', '-in', 'enveloped.der', '-recip', 'dev.pem', '-inkey', 'dev-key.pem', '-binary', '-out', 'signed.der']);
    // the signer is the EST server (its TLS certificate, chained to the root); the content is an AsymmetricKeyPackage
    const { stdout: keyPackage, stderr } = await run(['cms', '-verify', '-inform', 'DER', '-in', 'signed.der', '-CAfile', 'root.pem', '-purpose', 'any', '-binary']);
    expect(stderr.toString()).toMatch(/Verification successful/);
    const signers = (await run(['cms', '-verify', '-inform', 'DER', '-in', 'signed.der', '-noverify', '-signer', 'signer.pem', '-out', '/dev/null'])).stderr.toString();
    expect(signers).toMatch(/Verification successful/);
    expect(new X509Certificate(readFileSync(join(dir, 'signer.pem'))).subject).toBe(new X509Certificate(readFileSync(join(s.home, 'tls', 'server.pem'))).subject);
    const printedSigned = (await run(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', 'signed.der'])).stdout.toString();
    expect(printedSigned).toMatch(/eContentType: .*\(2\.16\.840\.1\.101\.2\.1\.2\.78\.5\)/); // id-ct-KP-aKeyPackage
    const pkcs8 = firstKeyOfPackage(keyPackage)!;
    const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    const cert = new X509Certificate(parseCertsOnly(certPart!.der)[0]!);
    expect(cert.publicKey.export({ format: 'jwk' })).toEqual(createPublicKey(privateKey).export({ format: 'jwk' }));
  });

  it('follows the client\'s SMIMECapabilities (RFC 8551 §2.7.1): AES-128 content encryption and key wrap', async () => {
    const dev = await device.issue('enc-caps', { keyType: 'ec-p256' });
    const body = csrBody(await encryptedRequest('CN=enc-caps', OID.asymmetricDecryptKeyIdentifier, ['1.2.3.4', OID.aes128CBC, OID.aes256CBC, OID.aes128Wrap]));
    const res = await estRequest(`${s.base}/devices/serverkeygen`, { ca: s.rootPem, clientCert: dev, body, contentType: 'application/pkcs10' });
    expect(res.status, res.text).toBe(200);
    const dir = tempDir('estuary-caps-');
    writeFileSync(join(dir, 'enveloped.der'), parts(res)[0]!.der);
    const printed = (await promisify(execFile)('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', 'enveloped.der'], { cwd: dir })).stdout;
    expect(printed).toMatch(/algorithm: aes-128-cbc/);
    expect(printed).toMatch(/OBJECT *:id-aes128-wrap/);
    expect(printed).not.toMatch(/aes-256/);
  });

  it('refuses encrypted return without a client certificate, and symmetric encryption with 501', async () => {
    const noCert = await keygen('', await encryptedRequest('CN=no-cert'));
    expect(noCert.status).toBe(400);
    expect(noCert.text).toMatch(/needs a TLS client certificate/);
    // refused before anything was issued: no certificate whose key nobody got
    expect((await s.runtime.store.listCertificates()).map((c) => c.subject)).not.toContain('CN=no-cert');
    const symmetric = await keygen('', await encryptedRequest('CN=symmetric', OID.decryptKeyIdentifier));
    expect(symmetric.status).toBe(501);
    expect(symmetric.text).toMatch(/DecryptKeyIdentifier/);
  });

  it('is held like any request on a manual profile', async () => {
    const res = await keygen('held', (await makeCsr({ name: 'CN=held-keygen' })).der);
    expect(res.status).toBe(202);
    expect(res.headers['retry-after']).toBe('9');
  });
});

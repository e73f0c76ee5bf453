/**
 * Encrypted server-generated keys (RFC 7030 §4.4.2, RFC 5958 §4) opened by Bouncy Castle's CMS
 * classes (test/interop/bc/BcKeyPackage.java, compiled during the run): EnvelopedData decrypted
 * with the device key (RSA key transport and ECDH key agreement), the SignedData signature and
 * its signer's chain to our root verified, the AsymmetricKeyPackage's key matching the certificate.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64Body } from '../../src/pki/base64.js';
import { OID } from '../../src/pki/oids.js';
import { parseCertsOnly } from '../../src/pki/signed-data.js';
import { makeDeviceCa, type DeviceCa } from '../helpers/device-ca.js';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { generateKeys, x509 } from '../helpers/keys.js';
import { BC_JARS } from './bc-client.js';

const run = promisify(execFile);
let s: TestServer;
let device: DeviceCa;
const dir = tempDir('estuary-bc-kp-');
const f = (name: string): string => join(dir, name);

beforeAll(async () => {
  const source = new URL('./bc/BcKeyPackage.java', import.meta.url).pathname;
  await run('javac', ['-encoding', 'UTF-8', '-nowarn', '-cp', BC_JARS.join(':'), '-d', f('classes'), source]);
  s = await startServer();
  device = await makeDeviceCa();
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'devices', auth: 'tls-client-cert', clientTrustAnchors: [device.pem] });
  writeFileSync(f('root.pem'), s.rootPem);
}, 120_000);
afterAll(async () => {
  await s?.runtime.close();
});

async function encryptedRequest(name: string): Promise<Buffer> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys: await generateKeys('ec-p256'),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
    attributes: [new x509.Attribute(OID.asymmetricDecryptKeyIdentifier, [new Uint8Array([0x04, 0x00]).buffer])],
  });
  return Buffer.from(csr.rawData);
}

describe('Bouncy Castle opens our encrypted server-generated keys', () => {
  it.each(['ec-p256', 'rsa-2048'] as const)('%s recipient: decrypts, verifies the server signature and its chain, reads the key package', async (keyType) => {
    const dev = await device.issue(`bc-enc-${keyType}`, { keyType });
    const res = await estRequest(`${s.base}/devices/serverkeygen`, { ca: s.rootPem, clientCert: dev, body: csrBody(await encryptedRequest(`CN=bc-enc-${keyType}`)), contentType: 'application/pkcs10' });
    expect(res.status, res.text).toBe(200);
    const boundary = /boundary=([^;]+)/.exec(String(res.headers['content-type']))![1]!;
    const [keyPart, certPart] = res.text.split(`--${boundary}`).slice(1, 3).map((p) => decodeBase64Body(p.split('\r\n\r\n')[1] ?? ''));
    writeFileSync(f(`${keyType}.der`), keyPart!);
    writeFileSync(f(`${keyType}-dev.pem`), dev.cert);
    writeFileSync(f(`${keyType}-dev-key.pem`), dev.key);
    const out = f(`${keyType}-key.pem`);
    const { stdout } = await run('java', ['-cp', [f('classes'), ...BC_JARS].join(':'), 'BcKeyPackage', f(`${keyType}.der`), f(`${keyType}-dev.pem`), f(`${keyType}-dev-key.pem`), f('root.pem'), out]);
    expect(stdout).toContain(`encryptedContentType ${OID.signedData}`);
    expect(stdout).toContain(`contentEncryption ${OID.aes256CBC}`);
    expect(stdout).toContain(`eContentType ${OID.aKeyPackage}`);
    expect(stdout).toMatch(/signer CN=localhost/);
    expect(stdout).toContain('key-package ok 1');
    const cert = new X509Certificate(parseCertsOnly(certPart!)[0]!);
    expect(createPublicKey(createPrivateKey(readFileSync(out))).export({ format: 'jwk' })).toEqual(cert.publicKey.export({ format: 'jwk' }));
  }, 60_000);
});

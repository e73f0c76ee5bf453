/**
 * serverkeygen through the RA's upstream connector with the key returned encrypted (RFC 7030
 * §4.4.1.2): the RA makes the key itself even with serverKeygen: forward (an upstream would encrypt
 * to the RA, not to this client), enrolls a CSR it signs with it upstream, and returns the key in an
 * EnvelopedData for the client's TLS certificate; openssl opens it, and the certificate is the upstream's.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { setCaConnector } from '../../src/cli/config-edit.js';
import { decodeBase64Body } from '../../src/pki/base64.js';
import { certificateFields } from '../../src/pki/certificate.js';
import { firstKeyOfPackage } from '../../src/pki/enveloped-data.js';
import { OID } from '../../src/pki/oids.js';
import { parseCertsOnly } from '../../src/pki/signed-data.js';
import { makeDeviceCa, type DeviceCa } from '../helpers/device-ca.js';
import { csrBody, estRequest, type EstResponse } from '../helpers/est-http.js';
import { makeHome, startServer, tempDir, type TestServer } from '../helpers/home.js';
import { generateKeys, x509 } from '../helpers/keys.js';

let up: TestServer;
let ra: TestServer;
let device: DeviceCa;

beforeAll(async () => {
  up = await startServer();
  const raHome = await makeHome();
  writeFileSync(join(raHome.home, 'upstream-root.pem'), up.rootPem);
  writeFileSync(join(raHome.home, 'upstream.password'), up.summary.estAccount.password, { mode: 0o600 });
  // serverKeygen: forward is the default
  setCaConnector(raHome.home, 'upstream', {
    type: 'est', url: `https://127.0.0.1:${up.port}`, trustAnchors: ['upstream-root.pem'],
    auth: { basic: { user: up.summary.estAccount.email, passwordFile: 'upstream.password' } },
  });
  ra = await startServer(raHome);
  device = await makeDeviceCa();
  const p = (await ra.runtime.store.getProfile('default'))!;
  await ra.runtime.store.createProfile({ ...p, label: 'devices', auth: 'tls-client-cert', clientTrustAnchors: [device.pem], ca: 'upstream' });
});
afterAll(async () => {
  await ra?.runtime.close();
  await up?.runtime.close();
});

function parts(res: EstResponse): Array<{ type: string; der: Buffer }> {
  const boundary = /boundary=([^;]+)/.exec(String(res.headers['content-type']))![1]!;
  return res.text.split(`--${boundary}`).slice(1, -1).map((p) => {
    const [head = '', body = ''] = p.split('\r\n\r\n');
    return { type: /Content-Type: *([^\r\n]+)/i.exec(head)![1]!, der: decodeBase64Body(body) };
  });
}

it('returns an RA-made key encrypted to the client, with a certificate from the upstream CA', async () => {
  const dev = await device.issue('enc-through-ra', { keyType: 'ec-p256' });
  const keys = await generateKeys('ec-p256');
  // an empty identifier: "the key of my TLS certificate"
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=enc-through-ra', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
    attributes: [new x509.Attribute(OID.asymmetricDecryptKeyIdentifier, [new Uint8Array([0x04, 0x00]).buffer])],
  });
  const res = await estRequest(`${ra.base}/devices/serverkeygen`, { ca: ra.rootPem, clientCert: dev, body: csrBody(Buffer.from(csr.rawData)), contentType: 'application/pkcs10' });
  expect(res.status, res.text).toBe(200);
  const [keyPart, certPart] = parts(res);
  expect(keyPart!.type).toBe('application/pkcs7-mime; smime-type=server-generated-key');

  const dir = tempDir('estuary-ra-enc-');
  writeFileSync(join(dir, 'enveloped.der'), keyPart!.der);
  writeFileSync(join(dir, 'dev.pem'), dev.cert);
  writeFileSync(join(dir, 'dev-key.pem'), dev.key);
  writeFileSync(join(dir, 'ra-root.pem'), ra.rootPem);
  const run = (args: string[]) => promisify(execFile)('openssl', args, { cwd: dir, encoding: 'buffer' });
  await run(['cms', '-decrypt', '-inform', 'DER', '-in', 'enveloped.der', '-recip', 'dev.pem', '-inkey', 'dev-key.pem', '-binary', '-out', 'signed.der']);
  // signed by the RA, the party that generated the key (RFC 7030 §4.4.2)
  const { stdout: keyPackage, stderr } = await run(['cms', '-verify', '-inform', 'DER', '-in', 'signed.der', '-CAfile', 'ra-root.pem', '-purpose', 'any', '-binary']);
  expect(stderr.toString()).toMatch(/Verification successful/);
  const privateKey = createPrivateKey({ key: firstKeyOfPackage(keyPackage)!, format: 'der', type: 'pkcs8' });

  const [certDer] = parseCertsOnly(certPart!.der);
  const cert = new X509Certificate(certDer!);
  expect(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }))).toBe(true);
  const upstreamIssuing = new X509Certificate(readFileSync(join(up.home, 'ca', 'issuing.pem')));
  expect(cert.verify(upstreamIssuing.publicKey)).toBe(true);
  expect(cert.subject).toBe('CN=enc-through-ra');
  // the upstream saw a simpleenroll for the RA-made key, never a serverkeygen
  const audit = await up.runtime.store.listAudit({ limit: 50 });
  expect(audit.some((e) => e.action === 'simpleenroll' && e.outcome === 'success' && e.serial === certificateFields(certDer!).serialHex)).toBe(true);
  expect(audit.some((e) => e.action === 'serverkeygen')).toBe(false);
  expect((await ra.runtime.store.listCertificates({ limit: 10 })).some((c) => c.subject === 'CN=enc-through-ra' && c.ca === 'upstream')).toBe(true);
});

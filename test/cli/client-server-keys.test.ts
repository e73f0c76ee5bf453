/**
 * `estuary client serverkeygen` against servers that return the key in other forms than our own:
 * PKCS#1 or SEC 1 labelled application/pkcs8 (accepted with a warning, written as PKCS#8), the
 * old flat EnvelopedData of a bare key (accepted with a warning), the RFC 7030 §4.4.2 signed form
 * (accepted silently when the server signed it, refused when a stranger did).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estuaryClient } from '../helpers/cli.js';
import { tempDir } from '../helpers/home.js';
import { startQuirkyServer, type QuirkyServer, type Quirks } from '../helpers/quirky-est-server.js';

const basic = { user: 'keys-user', password: 'keys-pass' };
let q: QuirkyServer;
const dir = tempDir('estuary-server-keys-');
const file = (name: string): string => join(dir, name);

beforeAll(async () => {
  q = await startQuirkyServer({ auth: { basic } });
  writeFileSync(file('ca.pem'), q.caPem);
  writeFileSync(file('password'), `${basic.password}\n`);
  const dev = await q.issueClientCert('CN=key-device');
  writeFileSync(file('dev.pem'), dev.certPem);
  writeFileSync(file('dev-key.pem'), dev.keyPem);
});
afterAll(async () => {
  await q.close();
});

async function serverkeygen(quirks: Quirks, name: string, encrypt = false) {
  q.setQuirks(quirks);
  const args = ['serverkeygen', '--server', q.url, '--ca', file('ca.pem'), '--user', basic.user, '--password-file', file('password'), '--no-csrattrs',
    '--cn', name, '--out-key', file(`${name}.key`), '--out-cert', file(`${name}.pem`)];
  if (encrypt) args.push('--encrypt', '--cert', file('dev.pem'), '--client-key', file('dev-key.pem'));
  return estuaryClient(args);
}

/** The key file is PKCS#8 PEM and belongs to the certificate. */
function expectPkcs8For(name: string): void {
  const pem = readFileSync(file(`${name}.key`), 'utf8');
  expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  expect(new X509Certificate(readFileSync(file(`${name}.pem`))).checkPrivateKey(createPrivateKey(pem))).toBe(true);
}

describe('serverkeygen keys in the wrong wrapper', () => {
  it('a PKCS#1 RSAPrivateKey labelled application/pkcs8: accepted, said on stderr, written as PKCS#8', async () => {
    const r = await serverkeygen({ serverKeyWrapper: 'pkcs1' }, 'pkcs1');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('serverkeygen: the server sent a PKCS#1 RSAPrivateKey where RFC 7030 §4.4.2 asks for PKCS#8; converted to PKCS#8');
    expectPkcs8For('pkcs1');
    expect(createPrivateKey(readFileSync(file('pkcs1.key'))).asymmetricKeyType).toBe('rsa');
  });

  it('a SEC 1 ECPrivateKey labelled application/pkcs8: the same', async () => {
    const r = await serverkeygen({ serverKeyWrapper: 'sec1' }, 'sec1');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('serverkeygen: the server sent a SEC 1 ECPrivateKey where RFC 7030 §4.4.2 asks for PKCS#8; converted to PKCS#8');
    expectPkcs8For('sec1');
  });

  it('a PKCS#8 key: no warning', async () => {
    const r = await serverkeygen({}, 'plain');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/serverkeygen:/);
    expectPkcs8For('plain');
  });
});

describe('encrypted server-generated keys', () => {
  it('the RFC 7030 §4.4.2 form signed by the server: opened, signature checked, no warning', async () => {
    const r = await serverkeygen({ signedKeyPackage: 'server' }, 'signed', true);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/serverkeygen:/);
    expectPkcs8For('signed');
  });

  it('the old flat EnvelopedData of a bare key: opened, with a warning', async () => {
    const r = await serverkeygen({}, 'flat', true);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('serverkeygen: the encrypted key is not signed (RFC 7030 §4.4.2 asks for a SignedData inside the EnvelopedData)');
    expectPkcs8For('flat');
  });

  it('signed by a certificate that is neither the server\'s nor under the trust anchors: refused (exit 8), no key written', async () => {
    const r = await serverkeygen({ signedKeyPackage: 'stranger' }, 'stranger', true);
    expect(r.code, r.stderr).toBe(8);
    expect(r.stderr).toMatch(/serverkeygen: the key package is signed by "CN=127\.0\.0\.1.*", which is neither this server's TLS certificate nor chains to the trust anchors/);
    expect(() => readFileSync(file('stranger.key'))).toThrow();
  });
});

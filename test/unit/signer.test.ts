/**
 * The signer seam (src/ca/signers/): software signers for every CA key type, and the local CA
 * signing certificates, CRLs and OCSP responses through a Signer that holds no KeyObject the CA
 * can see (as a PKCS#11 key will), checked by openssl.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { createLocalCa } from '../../src/ca/local-ca.js';
import type { Signer } from '../../src/ca/signers/signer.js';
import { nativeEcSigner, nodeCryptoSigner, softwareSigner } from '../../src/ca/signers/software-signer.js';
import { toPem } from '../../src/pki/base64.js';
import { signatureSchemeFor } from '../../src/pki/certificate.js';
import { seq, tlv } from '../../src/pki/der.js';
import { nativeCrypto } from '../../src/pki/native-crypto.js';
import { basicResponse, responseData } from '../../src/pki/ocsp.js';
import { openssl, requireOpenssl, scratch } from './openssl-tool.js';
import { issueTemplate } from '../helpers/issue-template.js';
import { rsaFixtureKey } from '../helpers/fixture-keys.js';

let tmp: ReturnType<typeof scratch>;
beforeAll(() => {
  requireOpenssl();
  tmp = scratch('estuary-signer-');
});
afterAll(() => tmp?.cleanup());

const keys: Record<string, KeyObject> = {
  'RSA 2048': rsaFixtureKey(2048).privateKey,
  'P-256': generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  'P-384': generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey,
  'P-521': generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey,
  Ed25519: generateKeyPairSync('ed25519').privateKey,
};

/** A signer that only signs asynchronously and keeps its key to itself, like an HSM. */
function remoteSigner(key: KeyObject): Signer & { calls: number } {
  const inner = nodeCryptoSigner(key);
  const out = {
    calls: 0,
    algorithmIdentifier: inner.algorithmIdentifier,
    publicKey: inner.publicKey,
    description: 'remote test key',
    async sign(data: Buffer): Promise<Buffer> {
      out.calls++;
      await new Promise<void>((resolve) => setImmediate(resolve));
      return inner.signSync(data);
    },
  };
  return out;
}

describe('software signers', () => {
  it.each(Object.keys(keys))('%s: algorithm, public key and signatures match the key', async (name) => {
    const key = keys[name]!;
    const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    const scheme = signatureSchemeFor(key);
    for (const signer of [nodeCryptoSigner(key), softwareSigner(key, nativeCrypto), softwareSigner(key)]) {
      expect(signer.algorithmIdentifier.equals(scheme.algorithmIdentifier)).toBe(true);
      expect(signer.publicKey.equals(spki)).toBe(true);
      expect(signer.description).not.toMatch(/BEGIN|PRIVATE/);
      const data = randomBytes(300);
      for (const sig of [await signer.sign(data), signer.signSync(data)]) {
        expect(cryptoVerify(scheme.hash, data, { key: createPublicKey(key), dsaEncoding: 'der' }, sig)).toBe(true);
      }
    }
  });

  it('the native signer is used for P-256/P-384 only when the addon is handed in', () => {
    expect(nativeCrypto.loaded).toBe(true);
    expect(softwareSigner(keys['P-256']!, nativeCrypto).description).toBe('software ec prime256v1 (native)');
    expect(softwareSigner(keys['P-384']!, nativeCrypto).description).toBe('software ec secp384r1 (native)');
    expect(softwareSigner(keys['P-256']!).description).toBe('software ec prime256v1');
    for (const name of ['RSA 2048', 'P-521', 'Ed25519']) expect(nativeEcSigner(keys[name]!, nativeCrypto), name).toBeUndefined();
    expect(nativeEcSigner(keys['P-256']!, { loaded: false, reason: 'off' })).toBeUndefined();
  });

  it('refuses a public key', () => {
    expect(() => nodeCryptoSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).toThrow(/private key/);
    expect(() => nodeCryptoSigner(generateKeyPairSync('x25519').privateKey)).toThrow(/unsupported CA key type x25519/);
  });
});

describe.each(['ec-p256', 'rsa-2048'] as const)('the local CA on an asynchronous signer (%s)', (algorithm) => {
  const { root, issuing } = createCaHierarchy({ algorithm, rootName: 'CN=Signer Root', issuingName: 'CN=Signer Issuing', now: new Date(), random: randomBytes });
  const signer = remoteSigner(issuing.key);
  const ca = createLocalCa({ id: 'remote', signer, chain: [issuing.der, root.der], now: () => new Date(), random: randomBytes, ocspSigner: 'ca' });

  it('issues certificates and CRLs through the signer that openssl verifies', async () => {
    const before = signer.calls;
    const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { der } = await issueTemplate(ca, {
      subject: seq(), spki: leaf.publicKey.export({ type: 'spki', format: 'der' }), subjectAltName: seq(tlv(0x82, Buffer.from('signer.example'))),
      validitySeconds: 1 * 86_400, keyUsage: ['digitalSignature'], extendedKeyUsage: [],
    });
    const rootPem = tmp.write(`${algorithm}-root.pem`, toPem('CERTIFICATE', root.der));
    const issuingPem = tmp.write(`${algorithm}-issuing.pem`, toPem('CERTIFICATE', issuing.der));
    const leafPem = tmp.write(`${algorithm}-leaf.pem`, toPem('CERTIFICATE', der));
    expect(openssl(['verify', '-CAfile', rootPem, '-untrusted', issuingPem, leafPem]).toString()).toContain(': OK');
    const revoked = Array.from({ length: 5000 }, (_, i) => ({ serialHex: (0x1000 + i).toString(16), revokedAt: new Date(), reason: 'unspecified' as const }));
    for (const list of [[], revoked]) {
      const crl = tmp.write(`${algorithm}.crl`, (await ca.issueCrl({ revoked: list, thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 86_400_000) })).der);
      const out = openssl(['crl', '-inform', 'DER', '-in', crl, '-CAfile', issuingPem, '-noout', '-text']).toString();
      expect(out).toMatch(list.length ? /Revoked Certificates:/ : /No Revoked Certificates/);
    }
    expect(signer.calls - before).toBe(3);
  });

  it('signs OCSP responses with the CA signer (ocspSigner: ca)', async () => {
    const responder = await ca.ocspResponder(new Date());
    expect(responder.signatureAlgorithm.equals(signer.algorithmIdentifier)).toBe(true);
    const before = signer.calls;
    const tbs = responseData(responder.keyHash, new Date(), [], undefined);
    const response = basicResponse(tbs, responder.signatureAlgorithm, await responder.sign(tbs), responder.certificates);
    expect(signer.calls - before).toBe(1);
    expect(response[0]).toBe(0x30);
  });

  it('issues a delegated OCSP responder certificate through an asynchronous signer', async () => {
    const delegated = createLocalCa({ id: 'remote', signer, chain: [issuing.der, root.der], now: () => new Date(), random: randomBytes });
    const before = signer.calls;
    const responder = await delegated.ocspResponder(new Date());
    expect(signer.calls - before).toBe(1);
    const cert = new X509Certificate(responder.certificates[0]!);
    expect(cert.verify(new X509Certificate(issuing.der).publicKey)).toBe(true);
    expect(cert.subject).toBe('CN=remote OCSP responder');
  });
});

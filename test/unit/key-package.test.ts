/**
 * RFC 7030 §4.4.2 / RFC 5958 §4 key packages: signKeyPackage verified by openssl and by
 * verifyKeyPackage; openServerGeneratedKey over every nesting (ContentInfo or bare SignedData,
 * flat key), a tampered signature refused; SMIMECapabilities choose the algorithms.
 */
import { createPrivateKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, privateKeyPem } from '../../src/client/keys.js';
import { fixtureKey } from '../helpers/fixture-keys.js';
import { normalizePrivateKeyDer } from '../../src/client/server-key.js';
import { children, readTop, slice } from '../../src/pki/der.js';
import { algorithmsFromCapabilities, envelopeFor } from '../../src/pki/enveloped-data.js';
import { KeyPackageError, openServerGeneratedKey, signKeyPackage, verifyKeyPackage } from '../../src/pki/key-package.js';
import { OID } from '../../src/pki/oids.js';
import { opensslAsync, scratchDir } from './openssl-async.js';

let tmp: Awaited<ReturnType<typeof scratchDir>>;
const parties = {} as Record<'signerEc' | 'signerRsa' | 'recipient', { key: ReturnType<typeof generateKey>['privateKey']; certDer: Buffer; certPath: string }>;

beforeAll(async () => {
  tmp = await scratchDir('estuary-key-package-');
  for (const [name, type] of [['signerEc', 'ec-p256'], ['signerRsa', 'rsa-2048'], ['recipient', 'ec-p256']] as const) {
    const { privateKey } = fixtureKey(type);
    const keyPath = tmp.path(`${name}.key`);
    const certPath = tmp.path(`${name}.pem`);
    await writeFile(keyPath, privateKeyPem(privateKey));
    await opensslAsync(['req', '-new', '-x509', '-key', keyPath, '-subj', `/CN=${name}`, '-days', '1', '-out', certPath]);
    parties[name] = { key: privateKey, certDer: await opensslAsync(['x509', '-in', certPath, '-outform', 'DER']), certPath };
  }
});
afterAll(async () => {
  await tmp.cleanup();
});

const pkcs8 = (): Buffer => generateKey('ec-p256').privateKey.export({ type: 'pkcs8', format: 'der' });

describe('signKeyPackage / verifyKeyPackage', () => {
  for (const name of ['signerEc', 'signerRsa'] as const) {
    it(`${name}: openssl cms -verify accepts it and returns the AsymmetricKeyPackage; verifyKeyPackage names the signer`, async () => {
      const key = pkcs8();
      const signer = parties[name];
      const signed = signKeyPackage(key, { key: signer.key, certificates: [signer.certDer] }, new Date());
      const inPath = tmp.path(`${name}-signed.der`);
      await writeFile(inPath, signed);
      const content = await opensslAsync(['cms', '-verify', '-inform', 'DER', '-in', inPath, '-CAfile', signer.certPath, '-purpose', 'any', '-binary']);
      const [first] = children(content, readTop(content));
      expect(slice(content, first!).equals(key)).toBe(true); // SEQUENCE OF OneAsymmetricKey, the key first
      const verified = await verifyKeyPackage(signed);
      expect(verified.pkcs8.equals(key)).toBe(true);
      expect(verified.signerCertificate.equals(signer.certDer)).toBe(true);
      expect(verified.contentType).toBe(OID.aKeyPackage);
    });
  }

  it('a signature that does not verify is refused', async () => {
    const signed = Buffer.from(signKeyPackage(pkcs8(), { key: parties.signerEc.key, certificates: [parties.signerEc.certDer] }, new Date()));
    // the ECDSA signature is the last OCTET STRING: change its last byte
    signed[signed.length - 1] ^= 0x01;
    await expect(verifyKeyPackage(signed)).rejects.toThrow(KeyPackageError);
    await expect(verifyKeyPackage(signed)).rejects.toThrow(/does not verify/);
  });
});

describe('openServerGeneratedKey', () => {
  const r = () => parties.recipient;
  const sign = (key: Buffer): Buffer => signKeyPackage(key, { key: parties.signerRsa.key, certificates: [parties.signerRsa.certDer] }, new Date());

  it('SignedData as a ContentInfo (what our server sends): key and signer', async () => {
    const key = pkcs8();
    const opened = await openServerGeneratedKey(await envelopeFor(r().certDer, sign(key), { contentType: OID.signedData }), r().certDer, r().key);
    expect(opened.pkcs8.equals(key)).toBe(true);
    expect(opened.signed?.signerCertificate.equals(parties.signerRsa.certDer)).toBe(true);
  });

  it('a bare SignedData (RFC 5652 content without ContentInfo)', async () => {
    const key = pkcs8();
    const ci = sign(key);
    const [, content] = children(ci, readTop(ci));
    const bare = slice(ci, children(ci, content!)[0]!);
    const opened = await openServerGeneratedKey(await envelopeFor(r().certDer, bare, { contentType: OID.signedData }), r().certDer, r().key);
    expect(opened.pkcs8.equals(key)).toBe(true);
    expect(opened.signed).toBeDefined();
  });

  it('the flat form (a bare PKCS#8 key) opens, unsigned', async () => {
    const key = pkcs8();
    const opened = await openServerGeneratedKey(await envelopeFor(r().certDer, key), r().certDer, r().key);
    expect(opened.pkcs8.equals(key)).toBe(true);
    expect(opened.signed).toBeUndefined();
  });
});

describe('algorithms and key wrappers', () => {
  it('SMIMECapabilities: the first AES-CBC and AES wrap the client lists; AES-256 otherwise', () => {
    expect(algorithmsFromCapabilities(undefined)).toEqual({ contentBits: 256, wrapBits: 256 });
    expect(algorithmsFromCapabilities(['1.2.840.113549.3.7', OID.aes192CBC, OID.aes128CBC])).toEqual({ contentBits: 192, wrapBits: 192 });
    expect(algorithmsFromCapabilities([OID.aes128CBC, OID.aes256Wrap])).toEqual({ contentBits: 128, wrapBits: 256 });
    expect(algorithmsFromCapabilities(['1.2.840.113549.3.7'])).toEqual({ contentBits: 256, wrapBits: 256 });
  });

  it('normalizePrivateKeyDer: PKCS#8 as it is, PKCS#1 and SEC 1 converted with a warning, anything else undefined', () => {
    const ec = generateKey('ec-p256').privateKey;
    const rsa = fixtureKey('rsa-2048').privateKey;
    const p8 = ec.export({ type: 'pkcs8', format: 'der' });
    expect(normalizePrivateKeyDer(p8, 'x')).toMatchObject({ pkcs8: p8, warning: undefined });
    const fromSec1 = normalizePrivateKeyDer(ec.export({ type: 'sec1', format: 'der' }), 'x')!;
    expect(fromSec1.pkcs8.equals(p8)).toBe(true);
    expect(fromSec1.warning).toMatch(/SEC 1 ECPrivateKey/);
    const fromPkcs1 = normalizePrivateKeyDer(rsa.export({ type: 'pkcs1', format: 'der' }), 'x')!;
    expect(fromPkcs1.pkcs8.equals(rsa.export({ type: 'pkcs8', format: 'der' }))).toBe(true);
    expect(fromPkcs1.warning).toMatch(/PKCS#1 RSAPrivateKey/);
    expect(normalizePrivateKeyDer(Buffer.from('30020500', 'hex'), 'x')).toBeUndefined();
    expect(createPrivateKey({ key: fromPkcs1.pkcs8, format: 'der', type: 'pkcs8' }).asymmetricKeyType).toBe('rsa');
  });
});

/** openEnvelope / decryptEnvelope: our own envelopeFor and `openssl cms -encrypt` (DER and streamed BER) round trips. */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, privateKeyPem, type ClientKeyType } from '../../src/client/keys.js';
import { seq } from '../../src/pki/der.js';
import { decryptEnvelope, envelopeFor, EnvelopeError, openEnvelope, privateKeyFromContent } from '../../src/pki/enveloped-data.js';
import { OID } from '../../src/pki/oids.js';
import { opensslAsync, scratchDir } from './openssl-async.js';
import { fixtureKey } from '../helpers/fixture-keys.js';

interface Recipient {
  key: KeyObject;
  certDer: Buffer;
  certPath: string;
  keyPath: string;
}

let tmp: Awaited<ReturnType<typeof scratchDir>>;
const recipients = {} as Record<'rsa' | 'p256' | 'p384' | 'rsa2' | 'p256b', Recipient>;

async function recipient(name: string, type: ClientKeyType, fixture = false): Promise<Recipient> {
  const { privateKey } = fixture ? fixtureKey(type) : generateKey(type);
  const keyPath = tmp.path(`${name}.key`);
  const certPath = tmp.path(`${name}.pem`);
  await writeFile(keyPath, privateKeyPem(privateKey));
  await opensslAsync(['req', '-new', '-x509', '-key', keyPath, '-subj', `/CN=${name}`, '-days', '1', '-out', certPath]);
  const certDer = await opensslAsync(['x509', '-in', certPath, '-outform', 'DER']);
  return { key: privateKey, certDer, certPath, keyPath };
}

/** `openssl cms -encrypt` of `content` to the recipients, with extra options (after them: -keyopt applies to the last -recip). */
async function opensslEncrypt(content: Buffer, to: Recipient[], options: string[] = []): Promise<Buffer> {
  const inPath = tmp.path(`plain-${Math.random().toString(36).slice(2)}`);
  await writeFile(inPath, content);
  return opensslAsync(['cms', '-encrypt', '-binary', '-in', inPath, '-outform', 'DER', ...to.flatMap((r) => ['-recip', r.certPath]), ...options]);
}

const pkcs8Of = (type: ClientKeyType): Buffer => generateKey(type).privateKey.export({ type: 'pkcs8', format: 'der' });

beforeAll(async () => {
  tmp = await scratchDir('estuary-envelope-');
  const [rsa, p256, p384, rsa2, p256b] = await Promise.all([
    recipient('rsa', 'rsa-2048', true), recipient('p256', 'ec-p256'), recipient('p384', 'ec-p384'), recipient('rsa2', 'rsa-2048'), recipient('p256b', 'ec-p256'),
  ]);
  Object.assign(recipients, { rsa, p256, p384, rsa2, p256b });
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('round trip with our server envelopeFor', () => {
  for (const name of ['rsa', 'p256', 'p384'] as const) {
    it(`${name}: the PKCS#8 key comes back`, async () => {
      const r = recipients[name];
      const pkcs8 = pkcs8Of('ec-p256');
      const enveloped = await envelopeFor(r.certDer, pkcs8);
      const opened = await openEnvelope(enveloped, r.certDer, r.key);
      expect(opened.equals(pkcs8)).toBe(true);
      expect(createPrivateKey({ key: opened, format: 'der', type: 'pkcs8' }).asymmetricKeyType).toBe('ec');
      // and openssl agrees with what envelopeFor made
      const envPath = tmp.path(`ours-${name}.der`);
      await writeFile(envPath, enveloped);
      const byOpenssl = await opensslAsync(['cms', '-decrypt', '-inform', 'DER', '-in', envPath, '-inkey', r.keyPath, '-recip', r.certPath]);
      expect(byOpenssl.equals(pkcs8)).toBe(true);
    });
  }

  it('an AsymmetricKeyPackage (RFC 5958) gives its first key', async () => {
    const pkcs8 = pkcs8Of('ed25519');
    const enveloped = await envelopeFor(recipients.p256.certDer, seq(pkcs8, pkcs8Of('ec-p256')));
    expect((await openEnvelope(enveloped, recipients.p256.certDer, recipients.p256.key)).equals(pkcs8)).toBe(true);
  });
});

describe('what openssl cms -encrypt produces', () => {
  const message = Buffer.from('a message for the recipient\n');

  it('RSA defaults: PKCS#1 v1.5 key transport and triple-DES content', async () => {
    const der = await opensslEncrypt(message, [recipients.rsa]);
    const printed = (await opensslAsync(['cms', '-cmsout', '-print', '-inform', 'DER'], der)).toString();
    expect(printed).toContain('rsaEncryption');
    expect(printed).toContain('des-ede3-cbc');
    const { contentType, content } = await decryptEnvelope(der, recipients.rsa.certDer, recipients.rsa.key);
    expect(contentType).toBe(OID.data);
    expect(content.equals(message)).toBe(true);
  });

  it('RSA-OAEP with SHA-256 and AES-256', async () => {
    const der = await opensslEncrypt(message, [recipients.rsa], ['-aes256', '-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256']);
    const printed = (await opensslAsync(['cms', '-cmsout', '-print', '-inform', 'DER'], der)).toString();
    expect(printed).toContain('rsaesOaep');
    expect(printed).toContain('sha256');
    expect((await decryptEnvelope(der, recipients.rsa.certDer, recipients.rsa.key)).content.equals(message)).toBe(true);
  });

  it('RSA-OAEP with the SHA-1 defaults, addressed by subject key identifier', async () => {
    const der = await opensslEncrypt(message, [recipients.rsa], ['-aes128', '-keyid', '-keyopt', 'rsa_padding_mode:oaep']);
    const printed = (await opensslAsync(['cms', '-cmsout', '-print', '-inform', 'DER'], der)).toString();
    expect(printed).toContain('rsaesOaep');
    expect(printed).toContain('d.subjectKeyIdentifier');
    expect((await decryptEnvelope(der, recipients.rsa.certDer, recipients.rsa.key)).content.equals(message)).toBe(true);
  });

  it('ECDH P-256 defaults (SHA-1 X9.63 KDF, AES-128 wrap) and P-384 with a SHA-384 KDF, by key identifier', async () => {
    const a = await opensslEncrypt(message, [recipients.p256], ['-aes128']);
    expect((await decryptEnvelope(a, recipients.p256.certDer, recipients.p256.key)).content.equals(message)).toBe(true);
    const b = await opensslEncrypt(message, [recipients.p384], ['-aes256', '-keyid', '-keyopt', 'ecdh_kdf_md:sha384']);
    expect((await opensslAsync(['cms', '-cmsout', '-print', '-inform', 'DER'], b)).toString()).toContain('sha384kdf');
    expect((await decryptEnvelope(b, recipients.p384.certDer, recipients.p384.key)).content.equals(message)).toBe(true);
  });

  it('several recipients of the same kind, triple-DES (with the RFC 3217 key wrap for ECDH): each opens its own', async () => {
    const der = await opensslEncrypt(message, [recipients.rsa2, recipients.rsa, recipients.p256b, recipients.p256]);
    for (const r of [recipients.rsa, recipients.rsa2, recipients.p256, recipients.p256b]) {
      expect((await decryptEnvelope(der, r.certDer, r.key)).content.equals(message)).toBe(true);
    }
  });

  it('streamed BER (indefinite lengths, chunked encrypted content) to several recipients', async () => {
    const big = Buffer.alloc(5000, 0x5a);
    const ber = await opensslEncrypt(big, [recipients.rsa, recipients.p256], ['-aes256', '-stream']);
    expect(ber.subarray(0, 2).toString('hex')).toBe('3080'); // indefinite length
    expect((await decryptEnvelope(ber, recipients.rsa.certDer, recipients.rsa.key)).content.equals(big)).toBe(true);
    expect((await decryptEnvelope(ber, recipients.p256.certDer, recipients.p256.key)).content.equals(big)).toBe(true);
  });

  it('a PKCS#8 key, bare or inside a SignedData, comes out of openEnvelope as PKCS#8', async () => {
    const pkcs8 = pkcs8Of('ec-p384');
    const bare = await opensslEncrypt(pkcs8, [recipients.rsa], ['-aes256']);
    expect((await openEnvelope(bare, recipients.rsa.certDer, recipients.rsa.key)).equals(pkcs8)).toBe(true);

    const pkcs8Path = tmp.path('key.p8');
    await writeFile(pkcs8Path, pkcs8);
    const signed = await opensslAsync(['cms', '-sign', '-binary', '-nodetach', '-in', pkcs8Path, '-signer', recipients.p256b.certPath, '-inkey', recipients.p256b.keyPath, '-outform', 'DER']);
    const enveloped = await opensslEncrypt(signed, [recipients.p256], ['-aes256']);
    const opened = await openEnvelope(enveloped, recipients.p256.certDer, recipients.p256.key);
    expect(opened.equals(pkcs8)).toBe(true);
    expect(createPublicKey(createPrivateKey({ key: opened, format: 'der', type: 'pkcs8' })).asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
  });
});

describe('failures are clear', () => {
  it('the wrong key, or no recipient of the key type', async () => {
    const toRsa = await opensslEncrypt(Buffer.from('x'), [recipients.rsa]);
    await expect(decryptEnvelope(toRsa, recipients.rsa2.certDer, recipients.rsa2.key)).rejects.toThrow(EnvelopeError);
    await expect(decryptEnvelope(toRsa, recipients.rsa2.certDer, recipients.rsa2.key)).rejects.toThrow(/cannot decrypt/);
    await expect(decryptEnvelope(toRsa, recipients.p256.certDer, recipients.p256.key)).rejects.toThrow(/no recipient .* ec key/);
    const toEc = await envelopeFor(recipients.p256.certDer, Buffer.from('x'));
    await expect(decryptEnvelope(toEc, recipients.p256b.certDer, recipients.p256b.key)).rejects.toThrow(/not encrypted to this key/);
  });

  it('something that is not an EnvelopedData', async () => {
    await expect(decryptEnvelope(Buffer.from('hello'), recipients.rsa.certDer, recipients.rsa.key)).rejects.toThrow(/not a CMS EnvelopedData/);
    const signed = await opensslAsync(['cms', '-sign', '-binary', '-nodetach', '-in', recipients.rsa.certPath, '-signer', recipients.rsa.certPath, '-inkey', recipients.rsa.keyPath, '-outform', 'DER']);
    await expect(decryptEnvelope(signed, recipients.rsa.certDer, recipients.rsa.key)).rejects.toThrow(/got content type signedData/);
    expect(privateKeyFromContent(Buffer.from('plain text'))).toBeUndefined();
    expect(await readFile(recipients.rsa.certPath, 'utf8')).toContain('BEGIN CERTIFICATE');
  });
});

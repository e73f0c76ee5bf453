/** Client keys: generation, PKCS#8 export (plain and PBES2-encrypted), loading, checked against openssl. */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KEY_TYPES, generateKey, isClientKeyType, KeyError, keyTypeOf, loadPrivateKey, privateKeyPem } from '../../src/client/keys.js';
import { opensslAsync, scratchDir } from './openssl-async.js';
import { fixtureKey, rsaFixturePem } from '../helpers/fixture-keys.js';

let tmp: Awaited<ReturnType<typeof scratchDir>>;
beforeAll(async () => {
  tmp = await scratchDir('estuary-keys-');
});
afterAll(async () => {
  await tmp.cleanup();
});

const spkiOf = (k: { publicKey: import('node:crypto').KeyObject }): string => k.publicKey.export({ type: 'spki', format: 'der' }).toString('hex');

describe('generateKey / keyTypeOf', () => {
  for (const type of CLIENT_KEY_TYPES) {
    // generating RSA-3072/4096 takes seconds: here the fixture key, the generation in test/integration/key-generation.test.ts
    const slow = type === 'rsa-3072' || type === 'rsa-4096';
    it(`${type}: ${slow ? 'a fixture key' : 'generated'}, named, exported and loaded back`, async () => {
      const keys = slow ? fixtureKey(type) : generateKey(type);
      expect(keyTypeOf(keys.privateKey)).toBe(type);
      expect(keyTypeOf(keys.publicKey)).toBe(type);
      const pem = privateKeyPem(keys.privateKey);
      expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      const loaded = loadPrivateKey(pem);
      expect(spkiOf(loaded)).toBe(spkiOf(keys));
      // openssl reads the PKCS#8 PEM and derives the same public key
      const path = tmp.path(`${type}.pem`);
      await writeFile(path, pem);
      const pub = await opensslAsync(['pkey', '-in', path, '-pubout', '-outform', 'DER']);
      expect(pub.toString('hex')).toBe(spkiOf(keys));
    });
  }

  it('names keys outside the client set descriptively', () => {
    expect(keyTypeOf(generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey)).toBe('ec-p521');
    expect(keyTypeOf(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey)).toBe('ec-secp256k1');
    expect(keyTypeOf(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey)).toBe('rsa-1024');
    expect(keyTypeOf(generateKeyPairSync('ed448').privateKey)).toBe('ed448');
    expect(isClientKeyType('ec-p256')).toBe(true);
    expect(isClientKeyType('ec-p521')).toBe(false);
  });
});

describe('encrypted PKCS#8', () => {
  it('is PBES2 with AES-256-CBC, readable by openssl with the passphrase and by loadPrivateKey', async () => {
    const keys = generateKey('ec-p256');
    const pem = privateKeyPem(keys.privateKey, 'correct horse');
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    const keyPath = tmp.path('enc.pem');
    const passPath = tmp.path('pass.txt');
    await writeFile(keyPath, pem);
    await writeFile(passPath, 'correct horse\n');
    const pub = await opensslAsync(['pkey', '-in', keyPath, '-passin', `file:${passPath}`, '-pubout', '-outform', 'DER']);
    expect(pub.toString('hex')).toBe(spkiOf(keys));
    const info = (await opensslAsync(['asn1parse', '-in', keyPath])).toString();
    expect(info).toContain('PBES2');
    expect(info).toContain('PBKDF2');
    expect(info).toContain('aes-256-cbc');
    await writeFile(passPath, 'wrong\n');
    await expect(opensslAsync(['pkey', '-in', keyPath, '-passin', `file:${passPath}`, '-noout'])).rejects.toThrow();

    expect(spkiOf(loadPrivateKey(pem, 'correct horse'))).toBe(spkiOf(keys));
  });

  it('fails clearly without a passphrase or with a wrong one', () => {
    const pem = privateKeyPem(generateKey('ed25519').privateKey, 'secret');
    expect(() => loadPrivateKey(pem)).toThrow(KeyError);
    expect(() => loadPrivateKey(pem)).toThrow(/encrypted: a passphrase is needed/);
    expect(() => loadPrivateKey(pem, 'not-it')).toThrow(/wrong passphrase/);
    expect(() => privateKeyPem(generateKey('ed25519').privateKey, '')).toThrow(/empty passphrase/);
    expect(() => privateKeyPem(generateKey('ed25519').publicKey)).toThrow(/private key/);
  });
});

describe('loadPrivateKey reads the PEM forms found on disk', () => {
  it('SEC 1 "EC PRIVATE KEY" with "EC PARAMETERS" before it (openssl ecparam -genkey)', async () => {
    const pem = (await opensslAsync(['ecparam', '-name', 'prime256v1', '-genkey'])).toString();
    expect(pem).toContain('BEGIN EC PARAMETERS');
    expect(pem).toContain('BEGIN EC PRIVATE KEY');
    const keys = loadPrivateKey(pem);
    expect(keyTypeOf(keys.privateKey)).toBe('ec-p256');
    const sig = sign('sha256', Buffer.from('x'), keys.privateKey);
    expect(verify('sha256', Buffer.from('x'), keys.publicKey, sig)).toBe(true);
  });

  it('PKCS#1 "RSA PRIVATE KEY", plain and legacy-encrypted (Proc-Type: 4,ENCRYPTED)', async () => {
    const keyPath = tmp.path('rsa.pem');
    await writeFile(keyPath, rsaFixturePem(2048));
    const pkcs1 = (await opensslAsync(['pkey', '-in', keyPath, '-traditional'])).toString();
    expect(pkcs1).toContain('BEGIN RSA PRIVATE KEY');
    expect(keyTypeOf(loadPrivateKey(pkcs1).privateKey)).toBe('rsa-2048');

    const legacy = (await opensslAsync(['rsa', '-in', keyPath, '-traditional', '-aes256', '-passout', 'pass:hunter2'])).toString();
    expect(legacy).toContain('Proc-Type: 4,ENCRYPTED');
    expect(() => loadPrivateKey(legacy)).toThrow(/passphrase is needed/);
    expect(() => loadPrivateKey(legacy, 'nope')).toThrow(/wrong passphrase/);
    expect(keyTypeOf(loadPrivateKey(legacy, 'hunter2').privateKey)).toBe('rsa-2048');
  });

  it('a key after a certificate in the same file; refuses files without a private key', async () => {
    const keyPath = tmp.path('p384.pem');
    const keys = generateKey('ec-p384');
    await writeFile(keyPath, privateKeyPem(keys.privateKey));
    const cert = (await opensslAsync(['req', '-new', '-x509', '-key', keyPath, '-subj', '/CN=x', '-days', '1'])).toString();
    expect(spkiOf(loadPrivateKey(cert + privateKeyPem(keys.privateKey)))).toBe(spkiOf(keys));
    expect(() => loadPrivateKey(cert)).toThrow(/no private key/);
    expect(() => loadPrivateKey('-----BEGIN DSA PRIVATE KEY-----\nAA==\n-----END DSA PRIVATE KEY-----\n')).toThrow(/unsupported private key PEM/);
    expect(() => loadPrivateKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')).toThrow(/cannot read the private key/);
  });
});

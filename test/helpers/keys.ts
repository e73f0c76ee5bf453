/** Keys and PKCS#10 requests for tests, built with @peculiar/x509 (independent of src/pki). */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export type TestKeyType = 'ec-p256' | 'ec-p384' | 'ec-p521' | 'rsa-1024' | 'rsa-2048' | 'ed25519';

const ALGS: Record<TestKeyType, { gen: EcKeyGenParams | RsaHashedKeyGenParams | Algorithm; sign: Algorithm | EcdsaParams }> = {
  'ec-p256': { gen: { name: 'ECDSA', namedCurve: 'P-256' } as EcKeyGenParams, sign: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams },
  'ec-p384': { gen: { name: 'ECDSA', namedCurve: 'P-384' } as EcKeyGenParams, sign: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams },
  'ec-p521': { gen: { name: 'ECDSA', namedCurve: 'P-521' } as EcKeyGenParams, sign: { name: 'ECDSA', hash: 'SHA-512' } as EcdsaParams },
  'rsa-1024': { gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as RsaHashedKeyGenParams, sign: { name: 'RSASSA-PKCS1-v1_5' } },
  'rsa-2048': { gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as RsaHashedKeyGenParams, sign: { name: 'RSASSA-PKCS1-v1_5' } },
  ed25519: { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
};

export interface TestCsr {
  der: Buffer;
  keys: CryptoKeyPair;
  /** PKCS#8 PEM of the private key (for curl/openssl/TLS client use). */
  keyPem: string;
}

/** PKCS#8 PEM of a private key (for curl, openssl and TLS client use). */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

export async function generateKeys(type: TestKeyType = 'ec-p256'): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGS[type].gen as never, true, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function makeCsr(opts: { name?: string; dns?: string[]; ips?: string[]; type?: TestKeyType; keys?: CryptoKeyPair; challengePassword?: string } = {}): Promise<TestCsr> {
  const type = opts.type ?? 'ec-p256';
  const keys = opts.keys ?? (await generateKeys(type));
  const sans = [...(opts.dns ?? []).map((d) => ({ type: 'dns' as const, value: d })), ...(opts.ips ?? []).map((i) => ({ type: 'ip' as const, value: i }))];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: opts.name ?? 'CN=device-1',
    keys,
    signingAlgorithm: ALGS[type].sign as Algorithm,
    extensions: sans.length ? [new x509.SubjectAlternativeNameExtension(sans)] : [],
    attributes: opts.challengePassword !== undefined ? [new x509.ChallengePasswordAttribute(opts.challengePassword)] : [],
  });
  const keyPem = await privateKeyPem(keys.privateKey);
  return { der: Buffer.from(csr.rawData), keys, keyPem };
}

export { x509 };

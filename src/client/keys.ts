/**
 * Client key pairs: generation, PKCS#8 PEM export (optionally encrypted, PBES2 with AES-256-CBC,
 * RFC 8018 §6.2) and loading of the PEM forms people have on disk (PKCS#8 plain or encrypted,
 * SEC 1 "EC PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY", legacy encrypted PEM).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

export const CLIENT_KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ed25519'] as const;
export type ClientKeyType = (typeof CLIENT_KEY_TYPES)[number];

export interface ClientKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A key that cannot be read: missing or wrong passphrase, not a private key, unsupported form. */
export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyError';
  }
}

export function isClientKeyType(s: string): s is ClientKeyType {
  return (CLIENT_KEY_TYPES as readonly string[]).includes(s);
}

export function generateKey(type: ClientKeyType): ClientKeyPair {
  switch (type) {
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ec-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return generateKeyPairSync('rsa', { modulusLength: Number(type.slice(4)), publicExponent: 0x10001 });
    case 'ed25519':
      return generateKeyPairSync('ed25519');
  }
}

const CURVE_SUFFIX: Record<string, string> = {
  prime256v1: 'p256', 'P-256': 'p256', secp384r1: 'p384', 'P-384': 'p384', secp521r1: 'p521', 'P-521': 'p521',
};

/**
 * The key type of a private or public key: one of CLIENT_KEY_TYPES, or a descriptive string for
 * other keys ("ec-p521", "ec-secp256k1", "rsa-1024", "rsa-pss-2048", "ed448", …).
 */
export function keyTypeOf(key: KeyObject): ClientKeyType | string {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = details.namedCurve ?? 'unknown';
      return `ec-${CURVE_SUFFIX[curve] ?? curve}`;
    }
    case 'rsa':
      return `rsa-${details.modulusLength ?? 0}`;
    case 'rsa-pss':
      return `rsa-pss-${details.modulusLength ?? 0}`;
    default:
      return key.asymmetricKeyType ?? 'unknown';
  }
}

/** PKCS#8 PEM; with a passphrase an "ENCRYPTED PRIVATE KEY" (PBES2, PBKDF2, AES-256-CBC). */
export function privateKeyPem(key: KeyObject, passphrase?: string): string {
  if (key.type !== 'private') throw new KeyError('privateKeyPem needs a private key');
  if (passphrase === undefined) return key.export({ type: 'pkcs8', format: 'pem' }) as string;
  if (passphrase.length === 0) throw new KeyError('an empty passphrase would not protect the key');
  return key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string;
}

const PRIVATE_KEY_LABEL = /-----BEGIN ((?:ENCRYPTED |RSA |EC )?PRIVATE KEY)-----([\s\S]*?)-----END \1-----/;

/**
 * Read a private key from PEM text (other PEM blocks such as "EC PARAMETERS" or certificates in
 * the same file are skipped). Throws KeyError with a message fit for the user.
 */
export function loadPrivateKey(pem: string, passphrase?: string): ClientKeyPair {
  const m = PRIVATE_KEY_LABEL.exec(pem);
  if (!m) {
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) throw new KeyError('unsupported private key PEM (expected PRIVATE KEY, ENCRYPTED PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)');
    throw new KeyError('no private key PEM block found');
  }
  const block = m[0];
  const encrypted = m[1] === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(m[2]!);
  if (encrypted && (passphrase === undefined || passphrase === '')) throw new KeyError('the private key is encrypted: a passphrase is needed');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: block, format: 'pem', ...(encrypted ? { passphrase } : {}) });
  } catch (err) {
    if (encrypted) throw new KeyError('cannot decrypt the private key: wrong passphrase or damaged file');
    throw new KeyError(`cannot read the private key: ${(err as Error).message}`);
  }
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

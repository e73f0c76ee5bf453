/**
 * Software Signers for a private key held in this process: node:crypto (RSA PKCS#1 v1.5 with
 * SHA-256, ECDSA P-256/P-384/P-521 with the curve's hash, Ed25519), and for P-256/P-384 the
 * native addon's key loaded into OpenSSL once (src/pki/native-crypto.ts), which the composition
 * root hands in when it is loaded.
 */
import { createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { signatureAlgorithmFor } from '../../pki/certificate.js';
import type { NativeCrypto, NativeHash } from '../../pki/native-crypto.js';
import type { SyncSigner } from './signer.js';

function keyDescription(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const bits = key.asymmetricKeyDetails?.modulusLength;
  return `${key.asymmetricKeyType}${curve ? ` ${curve}` : ''}${bits ? ` ${bits}` : ''}`;
}

function fromSyncSign(algorithmIdentifier: Buffer, publicKey: Buffer, description: string, signSync: (data: Buffer) => Buffer): SyncSigner {
  return {
    algorithmIdentifier, publicKey, description, signSync,
    sign: (data) => {
      try {
        return Promise.resolve(signSync(data));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    },
  };
}

/** node:crypto signing with the key (DER-encoded ECDSA signatures). */
export function nodeCryptoSigner(key: KeyObject): SyncSigner {
  if (key.type !== 'private') throw new Error('a signer needs a private key');
  const { algorithmIdentifier, hash } = signatureAlgorithmFor(key);
  const publicKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return fromSyncSign(algorithmIdentifier, publicKey, `software ${keyDescription(key)}`, (data) => cryptoSign(hash, data, { key, dsaEncoding: 'der' }));
}

/** The native ECDSA signer for a P-256/P-384 key, or undefined (addon not loaded, other key). */
export function nativeEcSigner(key: KeyObject, native: NativeCrypto): SyncSigner | undefined {
  if (!native.loaded || key.type !== 'private' || key.asymmetricKeyType !== 'ec') return undefined;
  const { algorithmIdentifier, hash } = signatureAlgorithmFor(key);
  const sign = native.ecSigner(key);
  if (!sign) return undefined;
  const publicKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const nativeHash = hash as NativeHash;
  return fromSyncSign(algorithmIdentifier, publicKey, `software ${keyDescription(key)} (native)`, (data) => sign(nativeHash, data));
}

/**
 * The fastest software signer for the key: native when the addon is given and loaded and the
 * key is P-256/P-384, else node:crypto.
 */
export function softwareSigner(key: KeyObject, native?: NativeCrypto): SyncSigner {
  return (native && nativeEcSigner(key, native)) || nodeCryptoSigner(key);
}

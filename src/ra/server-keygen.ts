/** RFC 7030 §4.4: the key a profile generates for a client that asks the server to make it. */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { PublicKeyInfo } from '../pki/csr.js';
import type { Profile } from '../store/store.js';

export interface GeneratedKey {
  info: PublicKeyInfo;
  spki: Buffer;
  /** PKCS#8 DER. Handed to the client once; never stored or logged. */
  pkcs8: Buffer;
}

/** The profile's first allowed key algorithm: its first curve, or RSA at its minimum size (at least 2048). */
export function generateKeyFor(profile: Profile): GeneratedKey {
  const rule = profile.keyAlgorithms[0] ?? { type: 'ec', curves: ['P-256'] };
  let privateKey: KeyObject;
  let info: PublicKeyInfo;
  switch (rule.type) {
    case 'ec': {
      const curve = rule.curves[0] ?? 'P-256';
      privateKey = generateKeyPairSync('ec', { namedCurve: curve }).privateKey;
      info = { type: 'ec', curve, bits: curve === 'P-521' ? 521 : Number(curve.slice(2)) };
      break;
    }
    case 'rsa': {
      const bits = Math.max(2048, rule.minBits);
      privateKey = generateKeyPairSync('rsa', { modulusLength: bits }).privateKey;
      info = { type: 'rsa', bits };
      break;
    }
    case 'ed25519':
      privateKey = generateKeyPairSync('ed25519').privateKey;
      info = { type: 'ed25519', bits: 256 };
      break;
  }
  return {
    info,
    spki: createPublicKey(privateKey).export({ type: 'spki', format: 'der' }),
    pkcs8: privateKey.export({ type: 'pkcs8', format: 'der' }),
  };
}

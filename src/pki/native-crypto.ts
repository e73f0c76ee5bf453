/**
 * The native ECDSA fast path for P-256 and P-384 (native/estuary-crypto.cc, built from the
 * repository's binding.gyp by `npm ci`): CSR signatures verified straight from the SPKI's
 * point, and CA signatures made with a key loaded into OpenSSL once. node:crypto pays a key
 * import through OpenSSL 3's decoders per CSR and a provider set-up per operation. Measured on
 * the bench machine (src/bench/crypto-micro.ts, one core): P-256 CSR parse + verify ~105 → ~48 µs
 * (the verify itself is at `openssl speed`'s ~42 µs), CA signature ~18 → ~15 µs; P-384 CSR parse +
 * verify ~800 → ~460 µs. RSA, Ed25519, P-521, and a missing addon stay on node:crypto.
 *
 * `ESTUARY_NATIVE_CRYPTO=off` in the environment disables the addon (A/B measurements, and an
 * escape hatch should a platform's build misbehave); `nativeCrypto.reason` says why it is off.
 */
import type { KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';

export type NativeCurve = 'P-256' | 'P-384';
export type NativeHash = 'sha256' | 'sha384' | 'sha512';

/** The addon's exports (see the header of native/estuary-crypto.cc). */
interface Addon {
  ecPointValid(curve: NativeCurve, point: Buffer): boolean;
  ecdsaVerify(curve: NativeCurve, hash: NativeHash, point: Buffer, data: Buffer, signature: Buffer): boolean;
  ecSigner(curve: NativeCurve, pkcs8Der: Buffer): object;
  ecdsaSign(signer: object, hash: NativeHash, data: Buffer): Buffer;
}

export interface NativeCryptoLoaded {
  loaded: true;
  /** Full public-key validation of an uncompressed point (0x04 || X || Y): in range, on the curve, not infinity. */
  ecPointValid(curve: NativeCurve, point: Buffer): boolean;
  /** ECDSA over hash(data) with a DER signature; false for an invalid point or a malformed or wrong signature. */
  ecdsaVerify(curve: NativeCurve, hash: NativeHash, point: Buffer, data: Buffer, signature: Buffer): boolean;
  /** A signer holding this P-256/P-384 private key natively (DER signatures), or undefined for any other key. */
  ecSigner(key: KeyObject): ((hash: NativeHash, data: Buffer) => Buffer) | undefined;
}

export type NativeCrypto = NativeCryptoLoaded | { loaded: false; reason: string };

const NAMED_CURVES: Record<string, NativeCurve> = { prime256v1: 'P-256', 'P-256': 'P-256', secp384r1: 'P-384', 'P-384': 'P-384' };

export function isNativeCurve(curve: string): curve is NativeCurve {
  return curve === 'P-256' || curve === 'P-384';
}

export function isNativeHash(hash: string | null): hash is NativeHash {
  return hash === 'sha256' || hash === 'sha384' || hash === 'sha512';
}

function load(): NativeCrypto {
  if (process.env['ESTUARY_NATIVE_CRYPTO'] === 'off') return { loaded: false, reason: 'disabled by ESTUARY_NATIVE_CRYPTO=off' };
  let addon: Addon;
  try {
    // src/pki/ and dist/pki/ are both two levels below the repository root that holds build/.
    addon = createRequire(import.meta.url)('../../build/Release/estuary_crypto.node') as Addon;
  } catch (err) {
    return { loaded: false, reason: `build/Release/estuary_crypto.node did not load: ${(err as Error).message}` };
  }
  return {
    loaded: true,
    ecPointValid: (curve, point) => addon.ecPointValid(curve, point),
    ecdsaVerify: (curve, hash, point, data, signature) => addon.ecdsaVerify(curve, hash, point, data, signature),
    ecSigner(key) {
      if (key.type !== 'private' || key.asymmetricKeyType !== 'ec') return undefined;
      const curve = NAMED_CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (!curve) return undefined;
      const der = key.export({ type: 'pkcs8', format: 'der' });
      try {
        const signer = addon.ecSigner(curve, der);
        return (hash, data) => addon.ecdsaSign(signer, hash, data);
      } finally {
        der.fill(0); // the copy of the private key handed to OpenSSL is not kept in JS memory
      }
    },
  };
}

export const nativeCrypto: NativeCrypto = load();

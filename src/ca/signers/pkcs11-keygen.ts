/**
 * A CA key made inside a PKCS#11 token (`estuary ca create --pkcs11 URI`): the private key is
 * generated there, sensitive and not extractable, labelled and identified as the URI says; only its
 * public key leaves the token.
 */
import { createPublicKey } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { KeyAlgorithm } from '../ca-setup.js';
import { bitString, oid, readTop, seq, TAG, value } from '../../pki/der.js';
import { OID } from '../../pki/oids.js';
import { describePkcs11Uri, type Pkcs11Uri } from './pkcs11-uri.js';
import { Pkcs11SetupError, tokenHasKey, withTokenSession } from './pkcs11-signer.js';

const CURVES: Record<string, string> = { 'ec-p256': OID.secp256r1, 'ec-p384': OID.secp384r1 };

/** Generate the key pair in the token; resolves to its SubjectPublicKeyInfo (DER). */
export function generateTokenKey(o: { modulePath: string; uri: Pkcs11Uri; pin: string; algorithm: KeyAlgorithm; setting: string }): Buffer {
  if (o.uri.object === undefined) throw new Pkcs11SetupError(`${o.setting}: a key made in the token needs object= (its label) in the URI`);
  return withTokenSession(o, (p11, session) => {
    if (tokenHasKey(p11, session, o.uri)) throw new Pkcs11SetupError(`${o.setting}: the token already has a private key ${describePkcs11Uri(o.uri)}; choose another object= or id=`);
    const common = [
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_LABEL, value: o.uri.object! },
      ...(o.uri.id ? [{ type: pkcs11js.CKA_ID, value: o.uri.id }] : []),
    ];
    const privateTemplate = [
      ...common, { type: pkcs11js.CKA_PRIVATE, value: true }, { type: pkcs11js.CKA_SIGN, value: true },
      // the key never leaves the token
      { type: pkcs11js.CKA_SENSITIVE, value: true }, { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    ];
    const curve = CURVES[o.algorithm];
    if (curve) {
      const keys = p11.C_GenerateKeyPair(session, { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN }, [...common, { type: pkcs11js.CKA_VERIFY, value: true }, { type: pkcs11js.CKA_EC_PARAMS, value: oid(curve) }], privateTemplate);
      const [point] = p11.C_GetAttributeValue(session, keys.publicKey, [{ type: pkcs11js.CKA_EC_POINT }]);
      // CKA_EC_POINT is the DER OCTET STRING of the point (PKCS#11 v2.40 §2.3.3); some tokens give the bare point
      const raw = point!.value as Buffer;
      const ecPoint = raw[0] === TAG.OCTET_STRING ? value(raw, readTop(raw)) : raw;
      return seq(seq(oid(OID.ecPublicKey), oid(curve)), bitString(ecPoint));
    }
    const bits = Number(o.algorithm.slice(4));
    const keys = p11.C_GenerateKeyPair(session, { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN }, [
      ...common, { type: pkcs11js.CKA_VERIFY, value: true }, { type: pkcs11js.CKA_MODULUS_BITS, value: bits }, { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
    ], privateTemplate);
    const [n, e] = p11.C_GetAttributeValue(session, keys.publicKey, [{ type: pkcs11js.CKA_MODULUS }, { type: pkcs11js.CKA_PUBLIC_EXPONENT }]);
    const jwk = { kty: 'RSA', n: (n!.value as Buffer).toString('base64url'), e: (e!.value as Buffer).toString('base64url') };
    return createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' });
  });
}

/**
 * The one table of key and signature algorithms: which signature algorithm OIDs exist for which key
 * type and hash, which named curves we know, and the hash OIDs. CSR parsing (csr.ts), CSR building
 * (csr-builder.ts), certificate signing (certificate.ts) and the client's reading of CSR attributes
 * (client/csr-template.ts) all read it.
 *
 *   ECDSA:   RFC 5758 §3.2, AlgorithmIdentifier without parameters
 *   RSA:     PKCS#1 v1.5, RFC 4055 §5, parameters NULL
 *   Ed25519: RFC 8410 §3, no parameters, no separate hash
 */
import type { KeyObject } from 'node:crypto';
import { DER_NULL, oid, seq } from './der.js';
import { OID } from './oids.js';

export type HashName = 'sha256' | 'sha384' | 'sha512';
export type KeyFamily = 'rsa' | 'ec' | 'ed25519';
export type CurveName = 'P-256' | 'P-384' | 'P-521';

export interface SignatureAlgorithm {
  oid: string;
  keyType: KeyFamily;
  /** null: the algorithm hashes by itself (Ed25519). */
  hash: HashName | null;
}

export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = [
  { oid: OID.sha256WithRSAEncryption, keyType: 'rsa', hash: 'sha256' },
  { oid: OID.sha384WithRSAEncryption, keyType: 'rsa', hash: 'sha384' },
  { oid: OID.sha512WithRSAEncryption, keyType: 'rsa', hash: 'sha512' },
  { oid: OID.ecdsaWithSHA256, keyType: 'ec', hash: 'sha256' },
  { oid: OID.ecdsaWithSHA384, keyType: 'ec', hash: 'sha384' },
  { oid: OID.ecdsaWithSHA512, keyType: 'ec', hash: 'sha512' },
  { oid: OID.ed25519, keyType: 'ed25519', hash: null },
];

export interface Curve {
  oid: string;
  name: CurveName;
  /** What node:crypto reports as asymmetricKeyDetails.namedCurve (either spelling). */
  nodeNames: readonly string[];
  bits: number;
  /** Bytes of one coordinate of a point. */
  coord: number;
  /** The hash that matches the curve's strength, used when nothing else is asked for. */
  hash: HashName;
}

export const CURVES: readonly Curve[] = [
  { oid: OID.secp256r1, name: 'P-256', nodeNames: ['prime256v1', 'P-256'], bits: 256, coord: 32, hash: 'sha256' },
  { oid: OID.secp384r1, name: 'P-384', nodeNames: ['secp384r1', 'P-384'], bits: 384, coord: 48, hash: 'sha384' },
  { oid: OID.secp521r1, name: 'P-521', nodeNames: ['secp521r1', 'P-521'], bits: 521, coord: 66, hash: 'sha512' },
];

export const HASH_ALGORITHMS: readonly { oid: string; hash: HashName }[] = [
  { oid: OID.sha256, hash: 'sha256' },
  { oid: OID.sha384, hash: 'sha384' },
  { oid: OID.sha512, hash: 'sha512' },
];

const SIGNATURE_BY_OID = new Map(SIGNATURE_ALGORITHMS.map((a) => [a.oid, a]));
const CURVE_BY_OID = new Map(CURVES.map((c) => [c.oid, c]));
const HASH_BY_OID = new Map(HASH_ALGORITHMS.map((h) => [h.oid, h.hash]));

/** The signature algorithm of an OID, or undefined for one we do not verify. */
export const signatureAlgorithmByOid = (o: string): SignatureAlgorithm | undefined => SIGNATURE_BY_OID.get(o);

/** The named curve of an OID, or undefined for one we do not support. */
export const curveByOid = (o: string): Curve | undefined => CURVE_BY_OID.get(o);

/** The hash of a hash algorithm OID (id-sha256 …). */
export const hashByOid = (o: string): HashName | undefined => HASH_BY_OID.get(o);

/** The named curve of an EC key, or undefined for another curve (or another key type). */
export function curveOfKey(key: KeyObject): Curve | undefined {
  if (key.asymmetricKeyType !== 'ec') return undefined;
  const n = key.asymmetricKeyDetails?.namedCurve;
  return n === undefined ? undefined : CURVES.find((c) => c.nodeNames.includes(n));
}

/** The signature algorithm OID for a key type and hash (the hash is ignored for Ed25519). */
export function signatureOid(keyType: KeyFamily, hash: HashName | null): string {
  const a = SIGNATURE_ALGORITHMS.find((s) => s.keyType === keyType && (keyType === 'ed25519' || s.hash === hash));
  if (!a) throw new Error(`no ${keyType} signature algorithm with ${hash ?? 'no hash'}`);
  return a.oid;
}

/** The DER AlgorithmIdentifier: RSA with NULL parameters (RFC 4055 §5), ECDSA and Ed25519 without (RFC 5758 §3.2, RFC 8410 §3). */
export function signatureAlgorithmIdentifier(keyType: KeyFamily, hash: HashName | null): Buffer {
  const o = oid(signatureOid(keyType, hash));
  return keyType === 'rsa' ? seq(o, DER_NULL) : seq(o);
}

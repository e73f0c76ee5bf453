/**
 * What /csrattrs announces for a profile (RFC 7030 §4.5): the attributes it asks for, and the key
 * its policy accepts, so that a client that follows /csrattrs produces an acceptable CSR.
 */
import { encodeCsrAttrs, type AttrOrOid } from '../pki/csr-attrs.js';
import { oid as derOid, smallInteger } from '../pki/der.js';
import { OID, resolveOid } from '../pki/oids.js';
import type { Profile } from './model.js';

const CURVE_OID = { 'P-256': OID.secp256r1, 'P-384': OID.secp384r1, 'P-521': OID.secp521r1 } as const;
const ECDSA_FOR_CURVE = { 'P-256': OID.ecdsaWithSHA256, 'P-384': OID.ecdsaWithSHA384, 'P-521': OID.ecdsaWithSHA512 } as const;

const unique = <T>(items: readonly T[]): T[] => [...new Set(items)];

/**
 * RFC 7030 §4.5.2 / RFC 8951 §4: when a profile accepts one kind of key, /csrattrs says which:
 * the key type as an Attribute whose values are every curve (or RSA size) the profile accepts, in
 * the RFC 9908 form (one id-ecPublicKey attribute with the curve OIDs, one rsaEncryption attribute
 * with the modulus sizes as INTEGERs; DER orders a SET's values), then the signature algorithms as
 * OIDs. A profile that accepts several kinds of key announces none: any of them will do.
 */
function keyAttributes(p: Profile): AttrOrOid[] {
  const kinds = unique(p.keyAlgorithms.map((r) => r.type));
  if (kinds.length !== 1) return [];
  switch (kinds[0]!) {
    case 'ec': {
      // In DER order, so that the signature algorithms follow the order a client reads the curves in.
      const curves = unique(p.keyAlgorithms.flatMap((r) => (r.type === 'ec' ? r.curves : []))).sort((a, b) => Buffer.compare(derOid(CURVE_OID[a]), derOid(CURVE_OID[b])));
      if (curves.length === 0) return [];
      return [{ type: OID.ecPublicKey, values: curves.map((c) => derOid(CURVE_OID[c])) }, ...unique(curves.map((c) => ECDSA_FOR_CURVE[c])).map((oid) => ({ oid }))];
    }
    case 'rsa': {
      const sizes = unique(p.keyAlgorithms.flatMap((r) => (r.type === 'rsa' ? [r.minBits] : []))).sort((a, b) => a - b);
      return [{ type: OID.rsaEncryption, values: sizes.map((bits) => smallInteger(bits)) }, { oid: OID.sha256WithRSAEncryption }];
    }
    case 'ed25519':
      return [{ oid: OID.ed25519 }];
  }
}

const KEY_TYPES: readonly string[] = [OID.ecPublicKey, OID.rsaEncryption];
const idOf = (item: AttrOrOid): string => ('oid' in item ? item.oid : item.type);

/**
 * What the profile's CA announces added to what the profile announces: items the profile does not
 * name already, except challengePassword (whether clients link proof-of-possession is the RA
 * profile's decision; the RA links them to its own sessions) and key types when the profile has its own.
 */
function upstreamItems(own: readonly AttrOrOid[], upstream: readonly AttrOrOid[]): AttrOrOid[] {
  const named = new Set(own.map(idOf));
  const ownKeyType = own.some((i) => 'type' in i && KEY_TYPES.includes(i.type));
  return upstream.filter((i) => {
    const id = idOf(i);
    if (named.has(id) || id === OID.challengePassword) return false;
    return !(ownKeyType && 'type' in i && KEY_TYPES.includes(i.type));
  });
}

/** DER CsrAttrs for the profile (merged with its CA's, RFC 7030 §4.5), or undefined when there is nothing to announce (204). */
export function csrAttrsFor(p: Profile, fromCa: readonly AttrOrOid[] = []): Buffer | undefined {
  const oids = p.csrAttrs.map((name) => resolveOid(name) ?? name);
  // RFC 7030 §3.5: a client told to link proof-of-possession finds challengePassword here.
  if (p.popLinking === 'required' && !oids.includes(OID.challengePassword)) oids.unshift(OID.challengePassword);
  const own: AttrOrOid[] = [...oids.map((oid) => ({ oid })), ...keyAttributes(p)];
  const items = [...own, ...upstreamItems(own, fromCa)];
  if (items.length === 0) return undefined;
  return encodeCsrAttrs(items);
}

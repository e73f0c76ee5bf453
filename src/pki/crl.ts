/** X.509 CRLs (RFC 5280 §5), assembled from DER and signed like certificates (signWith). */
import type { KeyObject } from 'node:crypto';
import { bitString, explicit, seq, smallInteger, TAG, time, tlv, unsignedInteger } from './der.js';
import { authorityKeyIdentifierValue, extension, signWith, type SignatureScheme } from './certificate.js';
import { OID } from './oids.js';

/** RFC 5280 §5.3.1 CRLReason; removeFromCRL (8) is a delta-CRL matter and not offered. */
export const CRL_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type CrlReason = keyof typeof CRL_REASONS;

export function isCrlReason(name: string): name is CrlReason {
  return Object.hasOwn(CRL_REASONS, name);
}

export interface RevokedEntry {
  serialHex: string;
  revokedAt: Date;
  reason: CrlReason;
}

export interface CrlInput {
  /** DER Name of the issuing CA. */
  issuer: Buffer;
  /** The CA's subject key identifier. */
  authorityKeyId: Buffer;
  /** cRLNumber: monotonically increasing. */
  number: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  revoked: readonly RevokedEntry[];
}

function bigintBytes(n: bigint): Buffer {
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return Buffer.from(hex, 'hex');
}

export function signCrl(input: CrlInput, key: KeyObject, scheme: SignatureScheme): Buffer {
  const entries = input.revoked.map((r) => {
    const reason = extension(OID.cRLReason, false, tlv(TAG.ENUMERATED, Buffer.from([CRL_REASONS[r.reason]])));
    return seq(unsignedInteger(Buffer.from(r.serialHex.length % 2 ? '0' + r.serialHex : r.serialHex, 'hex')), time(r.revokedAt), seq(reason));
  });
  const tbs = seq(
    smallInteger(1), // v2
    scheme.algorithmIdentifier,
    input.issuer,
    time(input.thisUpdate),
    time(input.nextUpdate),
    ...(entries.length > 0 ? [seq(...entries)] : []),
    explicit(0, seq(
      extension(OID.authorityKeyIdentifier, false, authorityKeyIdentifierValue(input.authorityKeyId)),
      extension(OID.cRLNumber, false, unsignedInteger(bigintBytes(input.number))),
    )),
  );
  return seq(tbs, scheme.algorithmIdentifier, bitString(signWith(scheme, key, tbs)));
}

/** CRLDistributionPoints with one fullName URI (RFC 5280 §4.2.1.13). */
export function crlDistributionPointsValue(uri: string): Buffer {
  // DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames { [6] URI } } }
  return seq(seq(explicit(0, tlv(0xa0, tlv(0x86, Buffer.from(uri, 'latin1'))))));
}



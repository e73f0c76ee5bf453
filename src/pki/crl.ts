/** X.509 CRLs (RFC 5280 §5), assembled from DER and signed like certificates (signWith). */
import type { KeyObject } from 'node:crypto';
import { bitString, explicit, seq, seqOf, smallInteger, TAG, time, tlv, unsignedInteger } from './der.js';
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
  /** cRLNumber: monotonically increasing, one sequence for complete and delta CRLs (RFC 5280 §5.2.3). */
  number: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  revoked: readonly RevokedEntry[];
  /** RFC 5280 §5.2.4: this is a delta CRL against the complete CRL with this cRLNumber. */
  deltaOf?: bigint;
  /** RFC 5280 §5.2.6 freshestCRL: where the delta CRLs for this complete CRL are published. */
  freshestCrlUrl?: string;
}

export function bigintBytes(n: bigint): Buffer {
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return Buffer.from(hex, 'hex');
}

/** Entries are encoded in slices of this many, with the event loop free in between. */
const SLICE = 4096;

/** crlEntryExtensions with the reason code, made once per reason (RFC 5280 §5.3.1). */
const REASON_EXTENSIONS = new Map<CrlReason, Buffer>(
  (Object.keys(CRL_REASONS) as CrlReason[]).map((r) => [r, seq(extension(OID.cRLReason, false, tlv(TAG.ENUMERATED, Buffer.from([CRL_REASONS[r]]))))]),
);

function encodeEntry(r: RevokedEntry): Buffer {
  const serial = unsignedInteger(Buffer.from(r.serialHex.length % 2 ? '0' + r.serialHex : r.serialHex, 'hex'));
  return seq(serial, time(r.revokedAt), REASON_EXTENSIONS.get(r.reason)!);
}

function assemble(input: CrlInput, entries: readonly Buffer[], key: KeyObject, scheme: SignatureScheme): Buffer {
  const extensions = [
    extension(OID.authorityKeyIdentifier, false, authorityKeyIdentifierValue(input.authorityKeyId)),
    extension(OID.cRLNumber, false, unsignedInteger(bigintBytes(input.number))),
  ];
  // RFC 5280 §5.2.4: deltaCRLIndicator is critical and names the complete CRL's number.
  if (input.deltaOf !== undefined) extensions.push(extension(OID.deltaCRLIndicator, true, unsignedInteger(bigintBytes(input.deltaOf))));
  // RFC 5280 §5.2.6: freshestCRL is non-critical, in complete CRLs only.
  else if (input.freshestCrlUrl) extensions.push(extension(OID.freshestCRL, false, crlDistributionPointsValue(input.freshestCrlUrl)));
  const fields = [smallInteger(1) /* v2 */, scheme.algorithmIdentifier, input.issuer, time(input.thisUpdate), time(input.nextUpdate)];
  // RFC 5280 §5.1.2.6: revokedCertificates is absent, not empty, when nothing is revoked.
  if (entries.length > 0) fields.push(seqOf(entries));
  fields.push(explicit(0, seqOf(extensions)));
  const tbs = seqOf(fields);
  return seq(tbs, scheme.algorithmIdentifier, bitString(signWith(scheme, key, tbs)));
}

export function signCrl(input: CrlInput, key: KeyObject, scheme: SignatureScheme): Buffer {
  return assemble(input, input.revoked.map(encodeEntry), key, scheme);
}

/**
 * The same CRL, encoded SLICE entries at a time with a macrotask turn between slices, so a CRL of
 * 150,000 entries does not hold the event loop for the whole encoding (only the final copy and
 * the one signature run in a single turn).
 */
export async function signCrlInSlices(input: CrlInput, key: KeyObject, scheme: SignatureScheme): Promise<Buffer> {
  const entries: Buffer[] = new Array<Buffer>(input.revoked.length);
  for (let i = 0; i < input.revoked.length; i++) {
    if (i > 0 && i % SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    entries[i] = encodeEntry(input.revoked[i]!);
  }
  return assemble(input, entries, key, scheme);
}

/** CRLDistributionPoints with one fullName URI (RFC 5280 §4.2.1.13). */
export function crlDistributionPointsValue(uri: string): Buffer {
  // DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames { [6] URI } } }
  return seq(seq(explicit(0, tlv(0xa0, tlv(0x86, Buffer.from(uri, 'latin1'))))));
}



/**
 * OCSP (RFC 6960) messages in DER: OCSPRequest parsing and BasicOCSPResponse assembly. The
 * signature itself comes from the caller (the CA or its delegated responder, in src/ca).
 */
import { createHash } from 'node:crypto';
import { children, decodeOid, DerError, explicit, expectTag, octets, oid, readTop, seq, seqOf, slice, TAG, tlv, value } from './der.js';
import { CRL_REASONS, type CrlReason } from './crl.js';
import { extension } from './certificate.js';
import { OID } from './oids.js';

/** RFC 6960 §4.2.1 OCSPResponseStatus (4 is not used). */
export const OCSP_STATUS = { successful: 0, malformedRequest: 1, internalError: 2, tryLater: 3, sigRequired: 5, unauthorized: 6 } as const;
export type OcspErrorStatus = Exclude<keyof typeof OCSP_STATUS, 'successful'>;

/** Hash algorithms accepted in a CertID, by OID. */
const CERT_ID_HASHES = new Map<string, string>([
  [OID.sha1, 'sha1'], [OID.sha256, 'sha256'], [OID.sha384, 'sha384'], [OID.sha512, 'sha512'],
]);

/** At most this many certificates per request: enough for a chain, not a way to make us sign a list. */
export const MAX_REQUESTS = 20;
/** RFC 8954 §2.1: a nonce is 1 to 32 octets. */
export const MAX_NONCE = 32;

export interface CertId {
  /** The CertID DER as received, echoed in the SingleResponse (RFC 6960 §4.2.1). */
  der: Buffer;
  /** node:crypto hash name. */
  hash: string;
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  /** Lower-case hex of the serial's INTEGER contents, without redundant leading zero bytes. */
  serialHex: string;
}

export interface OcspRequest {
  certIds: CertId[];
  /** The nonce extension's extnValue as received (RFC 8954), to echo. */
  nonce: Buffer | undefined;
}

export class OcspRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OcspRequestError';
  }
}

function parseCertId(buf: Buffer, t: ReturnType<typeof readTop>): CertId {
  const [alg, nameHash, keyHash, serial] = children(buf, expectTag(t, TAG.SEQUENCE, 'CertID'));
  const [algOid] = children(buf, expectTag(alg, TAG.SEQUENCE, 'hashAlgorithm'));
  const algName = decodeOid(value(buf, expectTag(algOid, TAG.OID, 'hashAlgorithm')));
  const hash = CERT_ID_HASHES.get(algName);
  if (!hash) throw new OcspRequestError(`unsupported CertID hash algorithm ${algName}`);
  const serialBytes = value(buf, expectTag(serial, TAG.INTEGER, 'serialNumber'));
  if (serialBytes.length === 0 || serialBytes.length > 40) throw new OcspRequestError('bad serialNumber');
  let i = 0;
  while (i < serialBytes.length - 1 && serialBytes[i] === 0) i++;
  return {
    der: slice(buf, t),
    hash,
    issuerNameHash: value(buf, expectTag(nameHash, TAG.OCTET_STRING, 'issuerNameHash')),
    issuerKeyHash: value(buf, expectTag(keyHash, TAG.OCTET_STRING, 'issuerKeyHash')),
    serialHex: serialBytes.subarray(i).toString('hex'),
  };
}

/** RFC 6960 §4.1.1; a signature on the request (optionalSignature) is not required and not checked. */
export function parseOcspRequest(der: Buffer): OcspRequest {
  try {
    const [tbsTlv] = children(der, expectTag(readTop(der), TAG.SEQUENCE, 'OCSPRequest'));
    const parts = children(der, expectTag(tbsTlv, TAG.SEQUENCE, 'TBSRequest'));
    let i = 0;
    if (parts[i]?.tag === 0xa0) i++; // version, v1
    if (parts[i]?.tag === 0xa1) i++; // requestorName
    const list = children(der, expectTag(parts[i++], TAG.SEQUENCE, 'requestList'));
    if (list.length === 0) throw new OcspRequestError('empty requestList');
    if (list.length > MAX_REQUESTS) throw new OcspRequestError(`more than ${MAX_REQUESTS} certificates in one request`);
    const certIds = list.map((r) => parseCertId(der, children(der, expectTag(r, TAG.SEQUENCE, 'Request'))[0]!));
    let nonce: Buffer | undefined;
    const extTlv = parts[i];
    if (extTlv) {
      expectTag(extTlv, 0xa2, 'requestExtensions');
      const [exts] = children(der, extTlv);
      for (const e of children(der, expectTag(exts, TAG.SEQUENCE, 'Extensions'))) {
        const fields = children(der, expectTag(e, TAG.SEQUENCE, 'Extension'));
        const id = decodeOid(value(der, expectTag(fields[0], TAG.OID, 'extnID')));
        const extnValue = value(der, expectTag(fields[fields.length - 1], TAG.OCTET_STRING, 'extnValue'));
        if (id === OID.ocspNonce) nonce = checkedNonce(extnValue);
        else if (fields.length === 3 && value(der, fields[1]!)[0] !== 0) throw new OcspRequestError(`unsupported critical extension ${id}`);
      }
    }
    return { certIds, nonce };
  } catch (err) {
    if (err instanceof DerError) throw new OcspRequestError(err.message);
    throw err;
  }
}

/** RFC 8954 §2.1: Nonce ::= OCTET STRING (SIZE(1..32)) inside extnValue; longer ones are refused. */
function checkedNonce(extnValue: Buffer): Buffer {
  let length = extnValue.length; // some clients put the raw nonce in extnValue
  if (extnValue[0] === TAG.OCTET_STRING) {
    try {
      length = value(extnValue, readTop(extnValue)).length;
    } catch {
      // not an inner OCTET STRING after all: the raw form
    }
  }
  if (length < 1 || length > MAX_NONCE) throw new OcspRequestError(`nonce of ${length} octets (RFC 8954: 1 to ${MAX_NONCE})`);
  return extnValue;
}

/** The issuer hashes a CertID must carry for this CA (RFC 6960 §4.1.1). */
export function matchesIssuer(certId: CertId, issuerName: Buffer, issuerSpki: Buffer): boolean {
  const [, bits] = children(issuerSpki, readTop(issuerSpki));
  const key = value(issuerSpki, bits!).subarray(1);
  return createHash(certId.hash).update(issuerName).digest().equals(certId.issuerNameHash)
    && createHash(certId.hash).update(key).digest().equals(certId.issuerKeyHash);
}

export type CertStatus =
  | { kind: 'good' }
  | { kind: 'revoked'; at: Date; reason: CrlReason }
  | { kind: 'unknown' };

export interface SingleResponse {
  certId: CertId;
  status: CertStatus;
  thisUpdate: Date;
  nextUpdate: Date;
}

/** OCSP times are GeneralizedTime whatever the year (RFC 6960 §4.2.2.1), without fractions. */
export function generalizedTime(d: Date): Buffer {
  const iso = d.toISOString();
  const text = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z';
  return tlv(TAG.GeneralizedTime, Buffer.from(text, 'latin1'));
}

function certStatus(s: CertStatus): Buffer {
  switch (s.kind) {
    case 'good':
      return Buffer.from([0x80, 0x00]); // [0] IMPLICIT NULL
    case 'revoked': {
      // RFC 5280 §5.3.1: the reason is left out rather than given as unspecified.
      const reason = s.reason === 'unspecified' ? [] : [explicit(0, tlv(TAG.ENUMERATED, Buffer.from([CRL_REASONS[s.reason]])))];
      return tlv(0xa1, generalizedTime(s.at), ...reason); // [1] IMPLICIT RevokedInfo
    }
    case 'unknown':
      return Buffer.from([0x82, 0x00]); // [2] IMPLICIT UnknownInfo (NULL)
  }
}

/** ResponseData (RFC 6960 §4.2.1), ResponderID byKey: the SHA-1 of the responder's public key. */
export function responseData(responderKeyHash: Buffer, producedAt: Date, responses: readonly SingleResponse[], nonce: Buffer | undefined): Buffer {
  const single = responses.map((r) => seq(r.certId.der, certStatus(r.status), generalizedTime(r.thisUpdate), explicit(0, generalizedTime(r.nextUpdate))));
  const fields = [explicit(2, octets(responderKeyHash)), generalizedTime(producedAt), seqOf(single)];
  // RFC 8954 §2.1: the nonce of the request, echoed as received.
  if (nonce) fields.push(explicit(1, seq(extension(OID.ocspNonce, false, nonce))));
  return seqOf(fields);
}

/** A successful OCSPResponse around a signed BasicOCSPResponse. */
export function basicResponse(tbs: Buffer, signatureAlgorithm: Buffer, signature: Buffer, certificates: readonly Buffer[]): Buffer {
  const basic = [tbs, signatureAlgorithm, tlv(TAG.BIT_STRING, Buffer.from([0]), signature)];
  if (certificates.length > 0) basic.push(explicit(0, seqOf(certificates)));
  return seq(
    tlv(TAG.ENUMERATED, Buffer.from([OCSP_STATUS.successful])),
    explicit(0, seq(oid(OID.ocspBasic), octets(seqOf(basic)))),
  );
}

/** An unsuccessful OCSPResponse: only the status, no responseBytes (RFC 6960 §4.2.1). */
export function errorResponse(status: OcspErrorStatus): Buffer {
  return seq(tlv(TAG.ENUMERATED, Buffer.from([OCSP_STATUS[status]])));
}

/** Authority Information Access with one OCSP URI (RFC 5280 §4.2.2.1). */
export function authorityInfoAccessValue(ocspUrl: string): Buffer {
  return seq(seq(oid(OID.accessOcsp), tlv(0x86, Buffer.from(ocspUrl, 'latin1'))));
}

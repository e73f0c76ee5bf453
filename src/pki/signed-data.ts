/**
 * Degenerate certs-only CMS SignedData (RFC 5652 §5, RFC 7030 §4.1.3): no signers, the
 * certificates in the `certificates` field. Built from DER directly (hot path of every
 * enroll response); parsed tolerantly (with or without an empty eContent).
 */
import { children, decodeOid, DerError, explicit, explicitOf, expectTag, oid, readTop, seq, set, slice, smallInteger, TAG, value } from './der.js';
import { OID } from './oids.js';

export function certsOnly(certificates: readonly Buffer[]): Buffer {
  const signedData = seq(
    smallInteger(1),
    set(), // digestAlgorithms
    seq(oid(OID.data)), // encapContentInfo without eContent
    explicitOf(0, certificates), // [0] IMPLICIT CertificateSet
    set(), // signerInfos
  );
  return seq(oid(OID.signedData), explicit(0, signedData));
}

/** The certificates (DER) of a certs-only SignedData ContentInfo. */
export function parseCertsOnly(der: Buffer): Buffer[] {
  const [typeTlv, contentTlv] = children(der, expectTag(readTop(der), TAG.SEQUENCE, 'ContentInfo'));
  const type = decodeOid(value(der, expectTag(typeTlv, TAG.OID, 'contentType')));
  if (type !== OID.signedData) throw new DerError('ContentInfo is not SignedData');
  const [sd] = children(der, expectTag(contentTlv, 0xa0, 'content'));
  const parts = children(der, expectTag(sd, TAG.SEQUENCE, 'SignedData'));
  const certs = parts.find((p) => p.tag === 0xa0);
  if (!certs) return [];
  return children(der, certs)
    .filter((c) => c.tag === TAG.SEQUENCE)
    .map((c) => Buffer.from(slice(der, c)));
}

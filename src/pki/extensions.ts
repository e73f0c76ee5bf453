/** The extensions of a certificate as listed (RFC 5280 §4.1.2.9), with their criticality. */
import { children, decodeOid, expectTag, readTop, TAG, value } from './der.js';

export interface CertificateExtension {
  oid: string;
  critical: boolean;
  /** extnValue contents (the DER of the extension's own structure). */
  value: Buffer;
}

export function certificateExtensions(der: Buffer): CertificateExtension[] {
  const [tbsTlv] = children(der, expectTag(readTop(der), TAG.SEQUENCE, 'Certificate'));
  const parts = children(der, expectTag(tbsTlv, TAG.SEQUENCE, 'TBSCertificate'));
  const explicitExtensions = parts.find((p) => p.tag === 0xa3); // [3] EXPLICIT Extensions
  if (!explicitExtensions) return [];
  const [list] = children(der, explicitExtensions);
  return children(der, expectTag(list, TAG.SEQUENCE, 'Extensions')).map((ext) => {
    // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
    const e = children(der, ext);
    const flag = e.length === 3 && e[1]!.tag === TAG.BOOLEAN ? value(der, e[1]!) : undefined;
    return { oid: decodeOid(value(der, e[0]!)), critical: flag !== undefined && flag[0] !== 0, value: value(der, e[e.length - 1]!) };
  });
}

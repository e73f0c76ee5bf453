/**
 * Reading X.509 CRLs (RFC 5280 §5) from other CAs: parse, check the signature against the
 * issuing CA's certificate, and read a certificate's CRL distribution points (§4.2.1.13).
 */
import { verify, type X509Certificate } from 'node:crypto';
import { pemBlocks } from './base64.js';
import { serialToHex } from './certificate.js';
import { children, decodeOid, DerError, expectTag, readTop, slice, TAG, value, type Tlv } from './der.js';
import { OID } from './oids.js';

export interface ParsedCrl {
  /** DER Name of the CRL issuer. */
  issuer: Buffer;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  /** Canonical serial (serialToHex) → CRLReason code, when the entry gives one. */
  revoked: Map<string, number | undefined>;
  /** Why this CRL cannot vouch for end-entity certificates (RFC 5280 §5.2), if it cannot. */
  unusable: string | undefined;
  tbs: Buffer;
  signatureAlgorithm: string;
  signature: Buffer;
}

function readTime(der: Buffer, t: Tlv): Date {
  const s = value(der, t).toString('latin1');
  const m = t.tag === TAG.UTCTime ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) throw new DerError(`bad time "${s}"`);
  let year = Number(m[1]);
  if (t.tag === TAG.UTCTime) year += year < 50 ? 2000 : 1900; // RFC 5280 §4.1.2.5.1
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

const isTime = (t: Tlv | undefined): t is Tlv => t !== undefined && (t.tag === TAG.UTCTime || t.tag === TAG.GeneralizedTime);

/** RFC 5280 §5.2.5: a CRL whose scope leaves out end-entity certificates cannot clear one. */
function scopeProblem(idp: Buffer): string | undefined {
  for (const t of children(idp, readTop(idp))) {
    const on = t.end > t.valueStart && idp[t.valueStart] !== 0;
    if (t.tag === 0x82 && on) return 'it covers only CA certificates (issuingDistributionPoint)';
    if (t.tag === 0xa3 || t.tag === 0x83) return 'it covers only some revocation reasons (issuingDistributionPoint)';
    if (t.tag === 0x84 && on) return 'it is an indirect CRL, which this server does not process';
    if (t.tag === 0x85 && on) return 'it covers only attribute certificates (issuingDistributionPoint)';
  }
  return undefined;
}

const RECOGNISED_CRL_EXTENSIONS = new Set<string>([OID.cRLNumber, OID.authorityKeyIdentifier, OID.issuingDistributionPoint]);

/** Parse a CRL given as DER or PEM. Throws DerError when it is neither. */
export function parseCrl(input: Buffer): ParsedCrl {
  const der = input[0] === 0x30 ? input : pemBlocks(input.toString('latin1'), 'X509 CRL')[0];
  if (!der) throw new DerError('neither a DER nor a PEM CRL');
  const [tbsTlv, algTlv, sigTlv] = children(der, expectTag(readTop(der), TAG.SEQUENCE, 'CertificateList'));
  const parts = children(der, expectTag(tbsTlv, TAG.SEQUENCE, 'TBSCertList'));
  let i = parts[0]?.tag === TAG.INTEGER ? 1 : 0; // version
  i++; // signature
  const issuer = slice(der, expectTag(parts[i++], TAG.SEQUENCE, 'issuer'));
  const thisUpdateTlv = parts[i++];
  if (!isTime(thisUpdateTlv)) throw new DerError('thisUpdate: expected a time');
  const thisUpdate = readTime(der, thisUpdateTlv);
  const nextUpdate = isTime(parts[i]) ? readTime(der, parts[i++]!) : undefined;
  const revoked = new Map<string, number | undefined>();
  if (parts[i]?.tag === TAG.SEQUENCE) {
    for (const entry of children(der, parts[i++]!)) {
      const [serial, , exts] = children(der, entry);
      let reason: number | undefined;
      for (const ext of exts ? children(der, exts) : []) {
        const e = children(der, ext);
        if (decodeOid(value(der, e[0]!)) !== OID.cRLReason) continue;
        const v = value(der, e[e.length - 1]!);
        reason = v[v.length - 1];
      }
      revoked.set(serialToHex(value(der, expectTag(serial, TAG.INTEGER, 'userCertificate'))), reason);
    }
  }
  let unusable: string | undefined;
  if (parts[i]?.tag === 0xa0) {
    const [exts] = children(der, parts[i]!);
    for (const ext of children(der, expectTag(exts, TAG.SEQUENCE, 'crlExtensions'))) {
      const e = children(der, ext);
      const id = decodeOid(value(der, e[0]!));
      const critical = e.length === 3 && der[e[1]!.valueStart] !== 0;
      if (id === OID.issuingDistributionPoint) unusable ??= scopeProblem(value(der, e[e.length - 1]!));
      else if (id === OID.deltaCRLIndicator) unusable ??= 'it is a delta CRL';
      else if (critical && !RECOGNISED_CRL_EXTENSIONS.has(id)) unusable ??= `it has an unrecognised critical extension ${id}`;
    }
  }
  const [algOid] = children(der, expectTag(algTlv, TAG.SEQUENCE, 'signatureAlgorithm'));
  const sigBits = value(der, expectTag(sigTlv, TAG.BIT_STRING, 'signatureValue'));
  return {
    issuer,
    thisUpdate,
    nextUpdate,
    revoked,
    unusable,
    tbs: slice(der, tbsTlv!),
    signatureAlgorithm: decodeOid(value(der, expectTag(algOid, TAG.OID, 'algorithm'))),
    signature: sigBits.subarray(1),
  };
}

const HASH_OF: Record<string, string | null> = {
  [OID.ecdsaWithSHA256]: 'sha256', [OID.ecdsaWithSHA384]: 'sha384', [OID.ecdsaWithSHA512]: 'sha512',
  [OID.sha256WithRSAEncryption]: 'sha256', [OID.sha384WithRSAEncryption]: 'sha384', [OID.sha512WithRSAEncryption]: 'sha512',
  [OID.ed25519]: null,
};

/** Whether crlSignedBy can check this CRL's signature algorithm (ECDSA, RSA PKCS#1 v1.5 with SHA-2, Ed25519). */
export const crlSignatureSupported = (crl: ParsedCrl): boolean => Object.hasOwn(HASH_OF, crl.signatureAlgorithm);

/** RFC 5280 §6.3.3 (f)/(g): the CRL must be signed with the issuing CA's key. */
export function crlSignedBy(crl: ParsedCrl, issuer: X509Certificate): boolean {
  if (!Object.hasOwn(HASH_OF, crl.signatureAlgorithm)) return false;
  const hash = HASH_OF[crl.signatureAlgorithm]!;
  try {
    return verify(hash, crl.tbs, { key: issuer.publicKey, dsaEncoding: 'der' }, crl.signature);
  } catch {
    return false;
  }
}

/** The http(s) URIs of a certificate's CRL distribution points (fullName only; LDAP is not fetched). */
export function crlDistributionUrls(extnValue: Buffer | undefined): string[] {
  if (!extnValue) return [];
  const urls: string[] = [];
  for (const dp of children(extnValue, readTop(extnValue))) {
    const [name] = children(extnValue, dp);
    if (name?.tag !== 0xa0) continue; // distributionPoint [0]
    const [fullName] = children(extnValue, name);
    if (fullName?.tag !== 0xa0) continue; // fullName [0] GeneralNames
    for (const gn of children(extnValue, fullName)) {
      const uri = gn.tag === 0x86 ? value(extnValue, gn).toString('latin1') : '';
      if (/^https?:\/\//i.test(uri)) urls.push(uri);
    }
  }
  return urls;
}

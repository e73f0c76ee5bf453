/**
 * Response bodies of the quirky EST test server (quirky-est-server.ts): the variants real EST
 * servers send that RFC 8951 says a client must tolerate, and malformed ones a client must reject.
 */
import { explicit, octets, oid, seq, set, smallInteger } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';

export type Operation = 'cacerts' | 'csrattrs' | 'simpleenroll' | 'simplereenroll' | 'serverkeygen';
export const OPERATIONS: readonly Operation[] = ['cacerts', 'csrattrs', 'simpleenroll', 'simplereenroll', 'serverkeygen'];

/**
 * Content-Type spellings for pkcs7/csrattrs/multipart answers.
 *   no-smime-type: `application/pkcs7-mime` without the smime-type parameter
 *   upper-case:    `APPLICATION/PKCS7-MIME; SMIME-TYPE=CERTS-ONLY` (media types and parameters are case-insensitive)
 *   quoted:        `application/pkcs7-mime; smime-type="certs-only"; name="cert.p7c"`
 *   x-pkcs7-mime:  the legacy `application/x-pkcs7-mime; smime-type=certs-only`
 */
export type ContentTypeVariant = 'no-smime-type' | 'upper-case' | 'quoted' | 'x-pkcs7-mime';

/** serverkeygen multipart/mixed variants (RFC 2046 §5.1.1 allows all of them). */
export interface MultipartVariants {
  /** `boundary="=_quirky:7030 part_="`: a boundary that needs quoting. */
  quotedBoundary?: boolean;
  /** LF instead of CRLF line endings throughout the multipart body. */
  lf?: boolean;
  /** The certificate part before the key part. */
  certFirst?: boolean;
  /** A preamble before the first boundary and an epilogue after the last. */
  preamble?: boolean;
}

export interface Quirks {
  /** Apply the quirks only to these operations (default: all). */
  only?: Operation[];
  // tolerated variants (RFC 8951 §3: base64 with or without line breaks, CTE ignored)
  crlfWrap?: boolean;
  noWrap?: boolean;
  trailingNul?: boolean;
  extraWhitespace?: boolean;
  noCte?: boolean;
  chunked?: boolean;
  eContent?: boolean;
  connectionClose?: boolean;
  /** true means 'no-smime-type'. */
  contentTypeVariants?: boolean | ContentTypeVariant;
  /** true means every variant at once. */
  multipartVariants?: boolean | MultipartVariants;
  /** serverkeygen: the key part as PKCS#1 RSAPrivateKey (an RSA key) or SEC 1 ECPrivateKey, still labelled application/pkcs8. */
  serverKeyWrapper?: 'pkcs1' | 'sec1';
  /**
   * serverkeygen, encrypted: the RFC 7030 §4.4.2 nesting (SignedData of an AsymmetricKeyPackage)
   * signed with this server's TLS key, or by a stranger (a certificate under another root).
   * Default: the bare PKCS#8 key in the EnvelopedData, as servers before RFC 5958 nesting send it.
   */
  signedKeyPackage?: 'server' | 'stranger';
  /**
   * simpleenroll/simplereenroll answer with the issuing CA and root besides the certificate: after it
   * ('leaf-first') or before it, root first ('reversed'); /cacerts is then root first too.
   */
  withChain?: 'leaf-first' | 'reversed';
  // answers an RA must not pass on
  /**
   * The issued certificate is for another key (serverkeygen: not the key returned), carries an
   * extra SAN, names another subject, or is signed by a CA outside /cacerts.
   */
  badCertificate?: 'other-key' | 'extra-san' | 'other-subject' | 'foreign-issuer';
  /** 503 Service Unavailable with Retry-After (delta-seconds). */
  status503?: { retryAfterSeconds: number };
  /** The request is read and never answered (the connection stays open until the client gives up). */
  neverAnswer?: boolean;
  // malformed answers
  garbledBase64?: boolean;
  truncatedDer?: boolean;
  wrongContentType?: boolean;
  notSignedData?: boolean;
  emptyBody200?: boolean;
  status500?: boolean;
  // RFC 7030 §4.2.3: this many 202 answers (enroll, reenroll, serverkeygen) before issuing
  respond202Times?: number;
  /** Retry-After of the 202 answers: delta-seconds (default) or an HTTP-date that many seconds ahead. */
  retryAfter?: { seconds: number; form?: 'delta-seconds' | 'http-date' };
}

/** Certs-only SignedData (RFC 5652 §5, RFC 7030 §4.1.3), optionally with an empty eContent [0] OCTET STRING. */
export function certsOnlyWith(certs: readonly Buffer[], eContent: boolean): Buffer {
  const encap = eContent ? seq(oid(OID.data), explicit(0, octets(Buffer.alloc(0)))) : seq(oid(OID.data));
  const signedData = seq(smallInteger(1), set(), encap, explicit(0, ...certs), set());
  return seq(oid(OID.signedData), explicit(0, signedData));
}

/** A well-formed ContentInfo that is id-data, not SignedData. */
export function notSignedData(): Buffer {
  return seq(oid(OID.data), explicit(0, octets(Buffer.from('this is not a SignedData'))));
}

/** base64 text of DER with the tolerated layout variants (default: wrapped at 64 with LF, like openssl). */
export function base64Text(der: Buffer, q: Quirks): string {
  let flat = der.toString('base64');
  if (q.garbledBase64) {
    const mid = Math.floor(flat.length / 2);
    flat = flat.slice(0, mid) + '*!~%' + flat.slice(mid + 4);
  }
  const width = q.crlfWrap ? 76 : 64;
  const eol = q.crlfWrap ? '\r\n' : '\n';
  const lines = q.noWrap ? [flat] : (flat.match(new RegExp(`.{1,${width}}`, 'g')) ?? []);
  let text = q.noWrap ? flat : lines.join(eol) + eol;
  if (q.extraWhitespace) text = `\r\n  ${lines.join(` \t${eol}  `)}  ${eol}\n\t\n`;
  if (q.trailingNul) text += '\0';
  return text;
}

function variantOf(q: Quirks): ContentTypeVariant | undefined {
  if (q.contentTypeVariants === true) return 'no-smime-type';
  return q.contentTypeVariants || undefined;
}

/** Content-Type of a certs-only answer. */
export function certsOnlyType(q: Quirks, smimeType = 'certs-only'): string {
  switch (variantOf(q)) {
    case undefined:
      return `application/pkcs7-mime; smime-type=${smimeType}`;
    case 'no-smime-type':
      return 'application/pkcs7-mime';
    case 'upper-case':
      return `APPLICATION/PKCS7-MIME; SMIME-TYPE=${smimeType.toUpperCase()}`;
    case 'quoted':
      return `application/pkcs7-mime; smime-type="${smimeType}"; name="cert.p7c"`;
    case 'x-pkcs7-mime':
      return `application/x-pkcs7-mime; smime-type=${smimeType}`;
  }
}

export function simpleType(q: Quirks, type: 'application/csrattrs' | 'application/pkcs8'): string {
  const v = variantOf(q);
  if (v === 'upper-case') return type.toUpperCase();
  if (v === 'quoted') return `${type}; charset="us-ascii"`;
  return type;
}

function multipartVariants(q: Quirks): MultipartVariants {
  if (q.multipartVariants === true) return { quotedBoundary: true, lf: true, certFirst: true, preamble: true };
  return q.multipartVariants || {};
}

export interface MultipartBody {
  contentType: string;
  body: Buffer;
}

/**
 * RFC 7030 §4.4.2: multipart/mixed, the private key part (application/pkcs8, or certs-only
 * smime-type=server-generated-key for an encrypted key) and the certs-only part.
 */
export function serverKeygenBody(key: { der: Buffer; encrypted: boolean }, certsOnlyDer: Buffer, q: Quirks): MultipartBody {
  const mv = multipartVariants(q);
  const boundary = mv.quotedBoundary ? '=_quirky:7030 part_=' : 'quirky-7030-boundary';
  const eol = mv.lf ? '\n' : '\r\n';
  const upper = variantOf(q) === 'upper-case';
  const part = (type: string, der: Buffer): string => {
    const headers = [`${upper ? 'CONTENT-TYPE' : 'Content-Type'}: ${type}`];
    if (!q.noCte) headers.push(`${upper ? 'CONTENT-TRANSFER-ENCODING' : 'Content-Transfer-Encoding'}: base64`);
    const text = base64Text(der, q).replace(/\r?\n/g, eol);
    return `--${boundary}${eol}${headers.join(eol)}${eol}${eol}${text}${text.endsWith(eol) ? '' : eol}`;
  };
  const keyPart = key.encrypted ? part(certsOnlyType(q, 'server-generated-key'), key.der) : part(simpleType(q, 'application/pkcs8'), key.der);
  const certPart = part(certsOnlyType(q), certsOnlyDer);
  const parts = mv.certFirst ? certPart + keyPart : keyPart + certPart;
  const preamble = mv.preamble ? `This is a multi-part message in MIME format.${eol}${eol}` : '';
  const epilogue = mv.preamble ? `${eol}-- end of the quirky answer --${eol}` : '';
  const body = Buffer.from(`${preamble}${parts}--${boundary}--${eol}${epilogue}`, 'latin1');
  const b = mv.quotedBoundary ? `"${boundary}"` : boundary;
  return { contentType: upper ? `MULTIPART/MIXED; BOUNDARY=${b}` : `multipart/mixed; boundary=${b}`, body };
}

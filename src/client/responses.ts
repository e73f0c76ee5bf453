/**
 * Reading EST answers tolerantly (RFC 8951 §3: base64 with or without line breaks, CRLF or LF,
 * Content-Transfer-Encoding present or not) and refusing malformed ones with a message that says
 * which operation got what.
 */
import { createPublicKey, type X509Certificate } from 'node:crypto';
import * as pkijs from 'pkijs';
import { Base64Error, decodeBase64Body, pemBlocks } from '../pki/base64.js';
import { certificateFields } from '../pki/certificate.js';
import { parsedCertificate } from '../pki/parsed-certificate.js';
import { decodeCsrAttrs, type AttrOrOid } from '../pki/csr-attrs.js';
import { decodeOid, readTlv, readTop, TAG, value } from '../pki/der.js';
import { OID } from '../pki/oids.js';
import { parseCertsOnly } from '../pki/signed-data.js';
import { EstClientError } from './errors.js';
import type { HttpResponse } from './http-connection.js';

export interface MediaType {
  /** type/subtype, lower-cased. */
  type: string;
  /** Parameter names lower-cased; values unquoted (case kept). */
  params: Record<string, string>;
}

/** Parse a Content-Type header (RFC 9110 §8.3.1): case-insensitive names, quoted or token values. */
export function parseMediaType(header: string | undefined): MediaType {
  const text = header ?? '';
  const semi = text.indexOf(';');
  const type = (semi < 0 ? text : text.slice(0, semi)).trim().toLowerCase();
  const params: Record<string, string> = {};
  const re = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (const m of text.slice(Math.max(semi, 0)).matchAll(re)) {
    params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!.trim();
  }
  return { type, params };
}

const PKCS7_TYPES = new Set(['application/pkcs7-mime', 'application/x-pkcs7-mime', 'application/pkcs7-certificates', 'application/x-pkcs7-certificates']);

function bad(what: string, message: string): EstClientError {
  return new EstClientError('bad-response', `${what}: ${message}`);
}

/** Whether bytes are one well-formed DER TLV (a binary answer rather than base64 text). */
function isDer(body: Buffer): boolean {
  if (body[0] !== TAG.SEQUENCE) return false;
  try {
    readTop(body);
    return true;
  } catch {
    return false;
  }
}

/**
 * The DER inside an EST body: base64 (RFC 8951, tolerant of wrapping, whitespace and a trailing
 * NUL). Also accepted, since servers send them despite the RFC: raw DER and PEM armour.
 */
export function derBody(body: Buffer, what: string): Buffer {
  if (body.length === 0 || body.toString('latin1').replace(/[\s\0]+/g, '') === '') throw bad(what, 'the response body is empty');
  try {
    return decodeBase64Body(body);
  } catch (err) {
    if (!(err instanceof Base64Error)) throw err;
    if (isDer(body)) return body;
    const text = body.toString('latin1');
    const pem = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text);
    if (pem) {
      const blocks = pemBlocks(text, pem[1]!);
      if (blocks.length === 1) return blocks[0]!;
    }
    const detail = /\(([^)]*)\)$/.exec(err.message)?.[1] ?? err.message;
    throw bad(what, `the response is not base64 (${detail})`);
  }
}

/** What the server said, for error messages: a text/plain body (trimmed, one line, capped), or X-EST-Reason. */
export function serverReason(res: HttpResponse, max = 300): string {
  const { type } = parseMediaType(res.headers['content-type']);
  let text = '';
  if (res.body.length > 0 && (type === '' || type.startsWith('text/'))) {
    text = res.body.toString('utf8');
    if (type === 'text/html') text = text.replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' ');
  }
  if (!text.trim()) text = String(res.headers['x-est-reason'] ?? '');
  text = text.replace(/[\0-\x1f\x7f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}

function checkType(res: HttpResponse, what: string, accepted: (t: MediaType) => boolean, expected: string): MediaType {
  const mt = parseMediaType(res.headers['content-type']);
  // A missing Content-Type is tolerated: the body decides.
  if (mt.type !== '' && !accepted(mt)) {
    const reason = mt.type.startsWith('text/') ? serverReason(res, 120) : '';
    throw bad(what, `expected ${expected}, got Content-Type ${res.headers['content-type']}${reason ? ` (${reason})` : ''}`);
  }
  return mt;
}

/** The contentType of a CMS ContentInfo, read from its start so BER (indefinite lengths) works too. */
function contentTypeOf(der: Buffer): string | undefined {
  try {
    if (der[0] !== TAG.SEQUENCE || der.length < 4) return undefined;
    const len = der[1]!;
    const start = len < 0x80 ? 2 : len === 0x80 ? 2 : 2 + (len & 0x7f);
    const type = readTlv(der, start);
    return type.tag === TAG.OID ? decodeOid(value(der, type)) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The certificates of a certs-only SignedData (RFC 7030 §4.1.3, §4.2.3), with or without an
 * empty eContent. DER is read by parseCertsOnly; a BER encoding (indefinite lengths, as some
 * CMS libraries stream it) is read by pkijs.
 */
export function certsFromPkcs7(der: Buffer, what: string): Buffer[] {
  const type = contentTypeOf(der);
  if (type !== undefined && type !== OID.signedData) throw bad(what, `the PKCS#7 answer is not SignedData (content type ${type})`);
  let certs: Buffer[];
  try {
    certs = parseCertsOnly(der);
  } catch (derErr) {
    try {
      const info = pkijs.ContentInfo.fromBER(new Uint8Array(der));
      if (info.contentType !== OID.signedData) throw new Error('not SignedData');
      const sd = new pkijs.SignedData({ schema: info.content });
      certs = (sd.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate).map((c) => Buffer.from(c.toSchema().toBER(false)));
    } catch {
      throw bad(what, `the answer is not a certs-only PKCS#7 SignedData (${(derErr as Error).message})`);
    }
  }
  for (const [i, c] of certs.entries()) {
    try {
      parsedCertificate(c); // kept for the caller's checks (src/ca/upstream-ca.ts reads the same buffer)
    } catch (err) {
      throw bad(what, `certificate ${i + 1} in the answer is not a valid X.509 certificate (${(err as Error).message})`);
    }
  }
  return certs;
}

/** A 200 answer carrying certs-only PKCS#7 (cacerts, simpleenroll, simplereenroll). */
export function readCertsOnly(res: HttpResponse, what: string): Buffer[] {
  // RFC 7030 §4.1.3: application/pkcs7-mime, smime-type certs-only (often omitted; legacy x- types seen).
  checkType(res, what, (t) => PKCS7_TYPES.has(t.type), 'application/pkcs7-mime (certs-only)');
  const certs = certsFromPkcs7(derBody(res.body, what), what);
  if (certs.length === 0) throw bad(what, 'the PKCS#7 answer holds no certificate');
  return certs;
}

/** A 200 answer to /csrattrs (RFC 7030 §4.5.2, RFC 8951 §4). */
export function readCsrAttrs(res: HttpResponse, what: string): AttrOrOid[] {
  checkType(res, what, (t) => t.type === 'application/csrattrs', 'application/csrattrs');
  const der = derBody(res.body, what);
  try {
    return decodeCsrAttrs(der);
  } catch (err) {
    throw bad(what, `the answer is not a CsrAttrs sequence (${(err as Error).message})`);
  }
}

export type ServerKey = { kind: 'pkcs8'; der: Buffer } | { kind: 'enveloped'; der: Buffer };

interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

/** RFC 2046 §5.1.1 body parts: CRLF or LF, preamble and epilogue ignored, transport padding allowed. */
export function multipartParts(body: Buffer, boundary: string): Part[] {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const starts: number[] = [];
  for (let i = body.indexOf(delimiter); i >= 0; i = body.indexOf(delimiter, i + delimiter.length)) {
    if (i === 0 || body[i - 1] === 0x0a) starts.push(i);
  }
  const parts: Part[] = [];
  for (let k = 0; k < starts.length; k++) {
    const after = starts[k]! + delimiter.length;
    if (body[after] === 0x2d && body[after + 1] === 0x2d) break; // the close delimiter
    const eol = body.indexOf(0x0a, after);
    if (eol < 0) break;
    if (body.subarray(after, eol).toString('latin1').trim() !== '') continue; // a longer boundary that starts alike
    let end = starts[k + 1] ?? body.length;
    if (end > eol + 1 && body[end - 1] === 0x0a) end--;
    if (end > eol + 1 && body[end - 1] === 0x0d) end--;
    parts.push(parsePart(body.subarray(eol + 1, end)));
  }
  return parts;
}

function parsePart(raw: Buffer): Part {
  const text = raw.toString('latin1');
  const m = /^\r?\n|\r?\n\r?\n/.exec(text);
  const headerText = m ? text.slice(0, m.index) : text;
  const bodyStart = m ? m.index + m[0].length : text.length;
  const headers: Record<string, string> = {};
  for (const line of headerText.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body: raw.subarray(bodyStart) }; // latin1: one character per byte
}

/**
 * RFC 7030 §4.4.2 serverkeygen answer: multipart/mixed holding the private key (application/pkcs8,
 * or application/pkcs7-mime; smime-type=server-generated-key for CMS EnvelopedData) and the
 * certificate (certs-only), in either order.
 */
export function readServerKeygen(res: HttpResponse, what: string): { privateKey: ServerKey; certificates: Buffer[] } {
  const mt = checkType(res, what, (t) => t.type === 'multipart/mixed', 'multipart/mixed');
  let boundary: string | undefined = mt.params.boundary;
  if (!boundary) {
    // Without the parameter, the first delimiter line of the body names it.
    boundary = /^--([^\r\n]+?)[ \t]*\r?$/m.exec(res.body.toString('latin1'))?.[1];
    if (!boundary) throw bad(what, 'the multipart answer has no boundary');
  }
  const parts = multipartParts(res.body, boundary);
  if (parts.length < 2) throw bad(what, `expected a key part and a certificate part, found ${parts.length} part(s)`);
  let privateKey: ServerKey | undefined;
  let certificates: Buffer[] | undefined;
  for (const [i, part] of parts.entries()) {
    const type = parseMediaType(part.headers['content-type']);
    const label = `${what} part ${i + 1}${type.type ? ` (${type.type})` : ''}`;
    const der = derBody(part.body, label);
    const cmsType = contentTypeOf(der);
    const smime = (type.params['smime-type'] ?? '').toLowerCase();
    if (type.type === 'application/pkcs8' || (cmsType === undefined && type.type === '')) {
      privateKey = { kind: 'pkcs8', der };
    } else if (smime === 'server-generated-key' || cmsType === OID.envelopedData) {
      privateKey = { kind: 'enveloped', der };
    } else if (PKCS7_TYPES.has(type.type) || (type.type === '' && cmsType === OID.signedData)) {
      certificates = certsFromPkcs7(der, label);
    } else {
      throw bad(what, `unexpected part ${i + 1} with Content-Type ${part.headers['content-type'] ?? '(none)'}`);
    }
  }
  if (!privateKey) throw bad(what, 'the answer has no private key part (application/pkcs8 or server-generated-key)');
  if (!certificates || certificates.length === 0) throw bad(what, 'the answer has no certificate part (certs-only)');
  return { privateKey, certificates };
}

/**
 * RFC 7030 §4.2.3 / RFC 9110 §10.2.3: Retry-After as delta-seconds or an HTTP-date.
 * undefined when absent or unreadable.
 */
export function parseRetryAfter(header: string | string[] | undefined, now: Date): { seconds: number; until: Date } | undefined {
  const v = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) {
    const seconds = Number(v);
    return { seconds, until: new Date(now.getTime() + seconds * 1000) };
  }
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  const seconds = Math.max(0, Math.ceil((at - now.getTime()) / 1000));
  return { seconds, until: new Date(now.getTime() + seconds * 1000) };
}

/**
 * The issued certificate among those returned: the one for `spki` when given, else the one no
 * other certificate in the answer was issued by (RFC 7030 §4.2.3 says only the issued
 * certificate is returned; some servers add the chain).
 */
export function splitIssued(certs: Buffer[], spki: Buffer | undefined): { certificate: Buffer; extraCertificates: Buffer[] } {
  let index = spki ? certs.findIndex((d) => sameSpkiBytes(d, spki)) : -1;
  let parsed: X509Certificate[] | undefined;
  const parse = (): X509Certificate[] => (parsed ??= certs.map((d) => parsedCertificate(d)));
  if (spki && index < 0) index = certs.findIndex((d) => certifiesKey(d, spki));
  if (index < 0) index = parse().findIndex((c, i) => !c.ca && !parse().some((o, j) => j !== i && o.checkIssued(c)));
  if (index < 0) index = 0;
  return { certificate: certs[index]!, extraCertificates: certs.filter((_, i) => i !== index) };
}

/** The certificate's SubjectPublicKeyInfo is these very bytes (a CA normally copies it from the request). */
function sameSpkiBytes(certDer: Buffer, spki: Buffer): boolean {
  try {
    return certificateFields(certDer).spki.equals(spki);
  } catch {
    return false; // not plain DER: the key comparison below decides
  }
}

/**
 * Whether a certificate is for this public key (SubjectPublicKeyInfo, DER). The bytes are compared
 * first; only when they differ (a CA that re-encoded the key, e.g. an EC point in compressed form)
 * are both keys imported and compared as keys: parsing the certificate and importing a key cost
 * Node 20 some 300 µs each, more than the rest of reading an answer.
 */
export function certifiesKey(certDer: Buffer, spki: Buffer): boolean {
  if (sameSpkiBytes(certDer, spki)) return true;
  try {
    return parsedCertificate(certDer).publicKey.equals(createPublicKey({ key: spki, format: 'der', type: 'spki' }));
  } catch {
    return false;
  }
}

/**
 * Just enough X.509 reading for the trust-anchor list before it is saved: split PEM bundles,
 * read subject and notAfter from the DER (RFC 5280 §4.1), SHA-256 fingerprint with WebCrypto.
 * The server validates the certificates for real when the profile is saved.
 */

export interface CertSummary {
  pem: string;
  subject: string;
  notAfter: string | undefined;
  fingerprintSha256: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** The CERTIFICATE blocks of a PEM text, each normalised to 64-column base64. */
export function splitPemCertificates(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    if (m[1] !== 'CERTIFICATE' && m[1] !== 'X509 CERTIFICATE' && m[1] !== 'TRUSTED CERTIFICATE') continue;
    const b64 = m[2]!.replace(/[^A-Za-z0-9+/=]/g, '');
    out.push(toPem(b64));
  }
  return out;
}

export function toPem(b64: string): string {
  return `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)?.join('\n') ?? ''}\n-----END CERTIFICATE-----\n`;
}

/** A DER file as PEM (a binary upload). */
export function derToPem(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return toPem(btoa(s));
}

function pemToDer(pem: string): Uint8Array<ArrayBuffer> {
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function readTlv(der: Uint8Array, offset: number): Tlv {
  const tag = der[offset]!;
  let len = der[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[p++]!;
  }
  if (p + len > der.length) throw new Error('truncated DER');
  return { tag, start: p, end: p + len };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.start; p < parent.end; ) {
    const t = readTlv(der, p);
    out.push(t);
    p = t.end;
  }
  return out;
}

function oid(bytes: Uint8Array): string {
  const parts: number[] = [];
  let v = 0;
  for (const b of bytes) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

function stringValue(der: Uint8Array, t: Tlv): string {
  const bytes = der.subarray(t.start, t.end);
  if (t.tag === 0x1e) {
    let s = '';
    for (let i = 0; i + 1 < bytes.length; i += 2) s += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
    return s;
  }
  return new TextDecoder(t.tag === 0x0c ? 'utf-8' : 'latin1').decode(bytes);
}

function nameToString(der: Uint8Array, name: Tlv): string {
  const parts: string[] = [];
  for (const rdn of children(der, name)) {
    for (const atv of children(der, rdn)) {
      const [type, value] = children(der, atv);
      if (!type || !value) continue;
      const dotted = oid(der.subarray(type.start, type.end));
      parts.push(`${ATTRIBUTE_NAMES[dotted] ?? dotted}=${stringValue(der, value)}`);
    }
  }
  return parts.join(', ');
}

function timeValue(der: Uint8Array, t: Tlv): string | undefined {
  const s = new TextDecoder('latin1').decode(der.subarray(t.start, t.end));
  // UTCTime YYMMDDHHMM[SS]Z, GeneralizedTime YYYYMMDDHHMMSS[.fff]Z
  const m = (t.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/ : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?Z$/).exec(s);
  if (!m) return undefined;
  // RFC 5280 §4.1.2.5.1: UTCTime years 50–99 are 19xx
  const year = t.tag === 0x17 ? (Number(m[1]) >= 50 ? 1900 : 2000) + Number(m[1]) : Number(m[1]);
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0))).toISOString();
}

/** Subject, notAfter and fingerprint of one PEM certificate; throws when it is not one. */
export async function summarizeCertificate(pem: string): Promise<CertSummary> {
  const der = pemToDer(pem);
  const cert = readTlv(der, 0);
  const [tbs] = children(der, cert);
  if (!tbs || tbs.tag !== 0x30) throw new Error('not an X.509 certificate');
  const f = children(der, tbs);
  const i = f[0]?.tag === 0xa0 ? 1 : 0; // [0] version
  const validity = f[i + 3];
  const subject = f[i + 4];
  if (!validity || !subject) throw new Error('not an X.509 certificate');
  const notAfter = children(der, validity)[1];
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', der.subarray(0, cert.end)));
  return {
    pem,
    subject: nameToString(der, subject) || '(empty subject)',
    notAfter: notAfter ? timeValue(der, notAfter) : undefined,
    fingerprintSha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''),
  };
}

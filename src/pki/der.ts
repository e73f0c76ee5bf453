/**
 * A minimal DER reader and writer. The request path (CSR parse, certificate assembly,
 * certs-only SignedData) uses it because it is measured to be an order of magnitude faster than
 * the general ASN.1 libraries, and so does most code off it (CRLs, OCSP, CSR attributes). CMS
 * that must be read tolerantly or encrypted (EnvelopedData, a key package's SignedData, the
 * client's reading of other servers' answers) uses pkijs.
 */

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8String: 0x0c,
  PrintableString: 0x13,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One TLV inside a buffer: `start` is the tag byte, `valueStart..end` the contents. */
export interface Tlv {
  tag: number;
  start: number;
  valueStart: number;
  end: number;
}

export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw new DerError('truncated DER (no room for tag and length)');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high-tag-number form is not supported');
  let len = buf[offset + 1]!;
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER');
    if (n > 4) throw new DerError('DER length too large');
    if (pos + n > limit) throw new DerError('truncated DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i]!;
    pos += n;
  }
  const end = pos + len;
  if (end > limit) throw new DerError('truncated DER (value runs past the end)');
  return { tag, start: offset, valueStart: pos, end };
}

/** The TLVs directly inside a constructed TLV. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let pos = parent.valueStart;
  while (pos < parent.end) {
    const t = readTlv(buf, pos, parent.end);
    out.push(t);
    pos = t.end;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}`);
  return t;
}

/** Parse a whole buffer as exactly one TLV. */
export function readTop(buf: Uint8Array): Tlv {
  const t = readTlv(buf, 0);
  if (t.end !== buf.length) throw new DerError('trailing bytes after the DER structure');
  return t;
}

export function slice(buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.start, t.end - t.start);
}

export function value(buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.valueStart, t.end - t.valueStart);
}

export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new DerError('empty OID');
  if (bytes[bytes.length - 1]! & 0x80) throw new DerError('truncated OID (last arc unfinished)');
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - a * 40, ...parts].join('.');
}

// ---- writer ----

function lengthBytes(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const bytes: number[] = [];
  while (len > 0) {
    bytes.unshift(len & 0xff);
    len = Math.floor(len / 256);
  }
  bytes.unshift(0x80 | bytes.length);
  return Buffer.from(bytes);
}

/**
 * A TLV around a list of already-encoded parts. Takes an array, never a spread: a CRL has one
 * part per revoked certificate, and spreading ~62,000 of them into a call overflows the stack.
 */
export function tlvOf(tag: number, parts: readonly Uint8Array[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const head = lengthBytes(len);
  const out = Buffer.allocUnsafe(1 + head.length + len);
  out[0] = tag;
  head.copy(out, 1);
  let pos = 1 + head.length;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** For a handful of parts written out at the call site; lists of unbounded length go through tlvOf/seqOf. */
export function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  return tlvOf(tag, parts);
}

export const seq = (...parts: Uint8Array[]): Buffer => tlvOf(TAG.SEQUENCE, parts);
export const seqOf = (parts: readonly Uint8Array[]): Buffer => tlvOf(TAG.SEQUENCE, parts);
export const set = (...parts: Uint8Array[]): Buffer => tlvOf(TAG.SET, parts);
export const octets = (b: Uint8Array): Buffer => tlv(TAG.OCTET_STRING, b);
export const bitString = (b: Uint8Array): Buffer => tlv(TAG.BIT_STRING, Buffer.from([0]), b);
export const explicit = (n: number, ...parts: Uint8Array[]): Buffer => tlvOf(0xa0 | n, parts);
export const explicitOf = (n: number, parts: readonly Uint8Array[]): Buffer => tlvOf(0xa0 | n, parts);
export const DER_NULL = Buffer.from([0x05, 0x00]);
export const DER_TRUE = Buffer.from([0x01, 0x01, 0xff]);

/** DER SET OF: elements sorted by their encodings (X.690 §11.6). */
export function setOf(elements: readonly Buffer[]): Buffer {
  return tlvOf(TAG.SET, [...elements].sort(Buffer.compare));
}

const oidCache = new Map<string, Buffer>();

/** Dotted decimal, first arc 0–2, second arc < 40 under 0 and 1 (X.660), every arc a safe integer. */
export function isValidOid(dotted: string): boolean {
  if (!/^\d+(\.\d+)+$/.test(dotted)) return false;
  const arcs = dotted.split('.').map(Number);
  if (arcs.some((a) => !Number.isSafeInteger(a))) return false;
  return arcs[0]! <= 2 && (arcs[0] === 2 || arcs[1]! < 40);
}

export function oid(dotted: string): Buffer {
  const cached = oidCache.get(dotted);
  if (cached) return cached;
  if (!isValidOid(dotted)) throw new DerError(`bad OID ${dotted}`);
  const arcs = dotted.split('.').map(Number);
  const bytes: number[] = [];
  const enc = (n: number): void => {
    const tmp = [n & 0x7f];
    n = Math.floor(n / 128);
    while (n > 0) {
      tmp.unshift(0x80 | (n & 0x7f));
      n = Math.floor(n / 128);
    }
    for (const b of tmp) bytes.push(b);
  };
  enc(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) enc(a);
  const out = tlv(TAG.OID, Buffer.from(bytes));
  oidCache.set(dotted, out);
  return out;
}

/** A DER INTEGER from unsigned big-endian magnitude bytes. */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  return m[0]! & 0x80 ? tlv(TAG.INTEGER, Buffer.from([0]), m) : tlv(TAG.INTEGER, m);
}

export function smallInteger(n: number): Buffer {
  if (n < 0 || n > 0x7fffffff) throw new DerError('integer out of range');
  const bytes: number[] = [];
  do {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  } while (n > 0);
  return unsignedInteger(Buffer.from(bytes));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
export function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const y = d.getUTCFullYear();
  const body = iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z';
  if (y >= 1950 && y < 2050) return tlv(TAG.UTCTime, Buffer.from(String(y).slice(2) + body, 'latin1'));
  return tlv(TAG.GeneralizedTime, Buffer.from(String(y).padStart(4, '0') + body, 'latin1'));
}

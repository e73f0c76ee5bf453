/**
 * RFC 8951 §3: EST bodies are base64 of DER. Be tolerant in what we read (line breaks LF or
 * CRLF, surrounding whitespace, a trailing NUL) and strict in what we send.
 */

const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

export class Base64Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Base64Error';
  }
}

/** Decode base64 that may be wrapped and padded with whitespace; throws Base64Error when garbled. */
export function decodeBase64Body(input: string | Buffer): Buffer {
  const text = typeof input === 'string' ? input : input.toString('latin1');
  const compact = text.replace(/[\s\0]+/g, '');
  if (compact.length === 0) throw new Base64Error('the body is empty');
  if (!BASE64_BODY.test(compact)) throw new Base64Error('the body is not base64 (unexpected character)');
  if (compact.length % 4 === 1) throw new Base64Error('the body is not base64 (truncated)');
  const out = Buffer.from(compact, 'base64');
  if (out.length === 0) throw new Base64Error('the body is empty (base64 padding only)');
  return out;
}

/** Encode as base64 wrapped at 64 characters with LF, the form openssl and older EST clients read. */
export function encodeBase64Body(der: Uint8Array): string {
  const flat = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let out = '';
  for (let i = 0; i < flat.length; i += 64) out += flat.slice(i, i + 64) + '\n';
  return out;
}

export function toPem(label: string, der: Uint8Array): string {
  return `-----BEGIN ${label}-----\n${encodeBase64Body(der)}-----END ${label}-----\n`;
}

/** Every DER block of the given PEM label in a text, in order. */
export function pemBlocks(text: string, label = 'CERTIFICATE'): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  const out: Buffer[] = [];
  for (const m of text.matchAll(re)) out.push(decodeBase64Body(m[1] ?? ''));
  return out;
}

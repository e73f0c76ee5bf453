/** RFC 8951 §3 tolerance of EST base64 bodies, and what we send. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Base64Error, decodeBase64Body, encodeBase64Body, pemBlocks, toPem } from '../../src/pki/base64.js';

// 100 bytes → 136 base64 characters: three lines when wrapped at 64.
const DATA = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 37 + 11) & 0xff));
const FLAT = DATA.toString('base64');
const wrap = (s: string, eol: string, width = 64): string => s.match(new RegExp(`.{1,${width}}`, 'g'))!.join(eol);

function expectBase64Error(input: string | Buffer, message: RegExp): void {
  let caught: unknown;
  try {
    decodeBase64Body(input);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(Base64Error);
  expect((caught as Error).name).toBe('Base64Error');
  expect((caught as Error).message).toMatch(message);
}

describe('decodeBase64Body (RFC 8951: tolerant in what we read)', () => {
  it('decodes base64 without line breaks', () => {
    expect(decodeBase64Body(FLAT).equals(DATA)).toBe(true);
  });

  it('decodes base64 wrapped with LF', () => {
    const text = wrap(FLAT, '\n') + '\n';
    expect(text.split('\n').length).toBeGreaterThan(2);
    expect(decodeBase64Body(text).equals(DATA)).toBe(true);
  });

  it('decodes base64 wrapped with CRLF', () => {
    expect(decodeBase64Body(wrap(FLAT, '\r\n') + '\r\n').equals(DATA)).toBe(true);
  });

  it('decodes base64 wrapped at 76 (MIME) as well as at 64', () => {
    expect(decodeBase64Body(wrap(FLAT, '\r\n', 76)).equals(DATA)).toBe(true);
  });

  it('ignores surrounding whitespace, tabs and blank lines', () => {
    expect(decodeBase64Body(`\n\n  \t${wrap(FLAT, '\n')}  \n\n\t `).equals(DATA)).toBe(true);
  });

  it('ignores a trailing NUL (some clients send a C string)', () => {
    expect(decodeBase64Body(FLAT + '\0').equals(DATA)).toBe(true);
    expect(decodeBase64Body(wrap(FLAT, '\r\n') + '\r\n\0').equals(DATA)).toBe(true);
  });

  it('accepts a Buffer body as well as a string', () => {
    const body = Buffer.from(wrap(FLAT, '\r\n') + '\r\n', 'latin1');
    expect(decodeBase64Body(body).equals(DATA)).toBe(true);
  });

  it('accepts unpadded base64 (length % 4 == 2 or 3)', () => {
    expect(decodeBase64Body('QQ').toString()).toBe('A');
    expect(decodeBase64Body('QUI').toString()).toBe('AB');
    expect(decodeBase64Body('QUI=').toString()).toBe('AB');
  });

  it('decodes random DER-sized payloads of every length mod 3', () => {
    for (const n of [1, 2, 3, 47, 48, 49, 500, 1001]) {
      const d = randomBytes(n);
      expect(decodeBase64Body(wrap(d.toString('base64'), '\r\n')).equals(d)).toBe(true);
    }
  });

  it('refuses garbled characters with a Base64Error', () => {
    expectBase64Error('QUJD*EFG', /not base64/);
    expectBase64Error(FLAT.slice(0, 20) + '-' + FLAT.slice(21), /unexpected character/);
    expectBase64Error('-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----', /not base64/);
    expectBase64Error('QUJD\u00e9', /not base64/);
  });

  it('refuses padding in the middle and more than two padding characters', () => {
    expectBase64Error('QQ==QUJD', /not base64/);
    expectBase64Error('Q===', /not base64/);
  });

  it('refuses truncated input (length % 4 == 1)', () => {
    expectBase64Error('QUJDR', /truncated/);
    expectBase64Error(DATA.subarray(0, 99).toString('base64') + '\nQ', /truncated/);
    expectBase64Error('Q', /truncated/);
  });

  it('refuses a body that decodes to no bytes at all (only padding, or one character and padding)', () => {
    // today '==' and 'A=' pass every check and decode to an empty Buffer
    expectBase64Error('==', /empty|not base64|truncated/);
    expectBase64Error('A=\r\n', /empty|not base64|truncated/);
  });

  it('refuses an empty body, including one of only whitespace and NULs', () => {
    expectBase64Error('', /empty/);
    expectBase64Error(Buffer.alloc(0), /empty/);
    expectBase64Error(' \r\n\t\0\n', /empty/);
  });
});

describe('encodeBase64Body (strict in what we send)', () => {
  it('wraps at 64 characters with LF and ends with a newline', () => {
    const out = encodeBase64Body(DATA);
    expect(out.endsWith('\n')).toBe(true);
    expect(out).not.toContain('\r');
    const lines = out.slice(0, -1).split('\n');
    expect(lines.length).toBe(Math.ceil(FLAT.length / 64));
    for (const line of lines.slice(0, -1)) expect(line.length).toBe(64);
    expect(lines.at(-1)!.length).toBe(FLAT.length - 64 * (lines.length - 1));
    expect(lines.join('')).toBe(FLAT);
  });

  it('writes an exact multiple of 64 without an empty last line', () => {
    const d = randomBytes(96); // 128 characters
    const out = encodeBase64Body(d);
    expect(out.split('\n')).toEqual([d.toString('base64').slice(0, 64), d.toString('base64').slice(64), '']);
  });

  it('round-trips through decodeBase64Body', () => {
    for (const n of [1, 2, 3, 48, 49, 700]) {
      const d = randomBytes(n);
      expect(decodeBase64Body(encodeBase64Body(d)).equals(d)).toBe(true);
    }
  });

  it('encodes only the bytes of a subarray view, not its whole backing buffer', () => {
    const backing = Buffer.from('xxxxHELLOyyyy');
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 4, 5);
    expect(encodeBase64Body(view)).toBe(Buffer.from('HELLO').toString('base64') + '\n');
  });
});

describe('toPem and pemBlocks', () => {
  it('toPem writes a PEM block that pemBlocks reads back', () => {
    const pem = toPem('CERTIFICATE', DATA);
    expect(pem.startsWith('-----BEGIN CERTIFICATE-----\n')).toBe(true);
    expect(pem.endsWith('\n-----END CERTIFICATE-----\n')).toBe(true);
    const blocks = pemBlocks(pem);
    expect(blocks).toHaveLength(1);
    expect(blocks[0]!.equals(DATA)).toBe(true);
  });

  it('returns every block of the label in order, skipping other labels and text around them', () => {
    const a = randomBytes(40);
    const b = randomBytes(300);
    const key = randomBytes(50);
    const text = `subject=CN=a\n${toPem('CERTIFICATE', a)}\n${toPem('PRIVATE KEY', key)}issuer: x\r\n${toPem('CERTIFICATE', b).replace(/\n/g, '\r\n')}trailing`;
    const certs = pemBlocks(text);
    expect(certs.map((c) => c.toString('hex'))).toEqual([a.toString('hex'), b.toString('hex')]);
    const keys = pemBlocks(text, 'PRIVATE KEY');
    expect(keys).toHaveLength(1);
    expect(keys[0]!.equals(key)).toBe(true);
  });

  it('returns nothing for a text without blocks', () => {
    expect(pemBlocks('no pem here')).toEqual([]);
    expect(pemBlocks(toPem('CERTIFICATE REQUEST', DATA))).toEqual([]);
  });

  it('throws Base64Error for a garbled or empty block', () => {
    expect(() => pemBlocks('-----BEGIN CERTIFICATE-----\nQU*D\n-----END CERTIFICATE-----\n')).toThrow(Base64Error);
    expect(() => pemBlocks('-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n')).toThrow(Base64Error);
  });
});

/** The minimal DER reader/writer (X.690) used on the request path. */
import { describe, expect, it } from 'vitest';
import {
  bitString, children, decodeOid, DerError, expectTag, explicit, oid, readTlv, readTop, seq, setOf, slice, smallInteger,
  TAG, time, tlv, unsignedInteger, value,
} from '../../src/pki/der.js';
import { openssl, requireOpenssl } from './openssl-tool.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function expectDerError(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DerError);
  expect((caught as Error).message).toMatch(message);
}

describe('readTlv / readTop', () => {
  it('reads a short-form length', () => {
    expect(readTlv(h('04 03 aa bb cc'), 0)).toEqual({ tag: 0x04, start: 0, valueStart: 2, end: 5 });
  });

  it('reads a zero length', () => {
    expect(readTop(h('05 00'))).toEqual({ tag: 0x05, start: 0, valueStart: 2, end: 2 });
  });

  it('reads long-form lengths of one, two and three bytes', () => {
    const one = Buffer.concat([h('04 81 80'), Buffer.alloc(0x80, 1)]);
    expect(readTop(one)).toEqual({ tag: 4, start: 0, valueStart: 3, end: 3 + 0x80 });
    const two = Buffer.concat([h('30 82 01 2c'), Buffer.alloc(300, 2)]);
    expect(readTop(two)).toEqual({ tag: 0x30, start: 0, valueStart: 4, end: 304 });
    const three = Buffer.concat([h('04 83 01 00 00'), Buffer.alloc(65536)]);
    expect(readTop(three).end).toBe(5 + 65536);
  });

  it('reads at an offset and within a limit', () => {
    const buf = h('ff ff 02 01 07 ff');
    expect(readTlv(buf, 2, 5)).toEqual({ tag: 2, start: 2, valueStart: 4, end: 5 });
    expectDerError(() => readTlv(buf, 2, 4), /truncated/);
  });

  it('refuses input with no room for tag and length', () => {
    expectDerError(() => readTop(Buffer.alloc(0)), /truncated/);
    expectDerError(() => readTop(h('30')), /truncated/);
  });

  it('refuses a value that runs past the end', () => {
    expectDerError(() => readTop(h('30 05 02 01 01')), /truncated/);
    expectDerError(() => readTop(Buffer.concat([h('04 82 01 00'), Buffer.alloc(255)])), /truncated/);
  });

  it('refuses a truncated long-form length', () => {
    expectDerError(() => readTop(h('04 82 01')), /truncated DER length/);
  });

  it('refuses indefinite length (BER, not DER)', () => {
    expectDerError(() => readTop(h('30 80 02 01 01 00 00')), /indefinite/);
  });

  it('refuses lengths of more than four bytes', () => {
    expectDerError(() => readTop(h('04 85 00 00 00 00 01 00')), /too large/);
  });

  it('refuses high-tag-number form', () => {
    expectDerError(() => readTop(h('1f 81 00 00')), /high-tag/);
  });

  it('refuses trailing bytes after the top-level structure', () => {
    expectDerError(() => readTop(h('02 01 01 00')), /trailing bytes/);
    expectDerError(() => readTop(Buffer.concat([seq(smallInteger(5)), h('30 00')])), /trailing bytes/);
  });

  it('children walks a constructed value and refuses a child overrunning its parent', () => {
    const der = seq(smallInteger(1), oid('1.2.3'), seq());
    const kids = children(der, readTop(der));
    expect(kids.map((k) => k.tag)).toEqual([TAG.INTEGER, TAG.OID, TAG.SEQUENCE]);
    expect(hex(slice(der, kids[1]!))).toBe('06022a03');
    expect(hex(value(der, kids[0]!))).toBe('01');
    // parent says 3 bytes, child says 2 value bytes: the child runs past the parent
    expectDerError(() => children(h('30 03 02 02 01 01'), readTlv(h('30 03 02 02 01 01'), 0, 6)), /truncated/);
  });

  it('slice and value are views into a Buffer at a non-zero byteOffset', () => {
    const backing = Buffer.concat([h('eeee'), seq(smallInteger(300))]);
    const der = backing.subarray(2);
    const [int] = children(der, readTop(der));
    expect(hex(value(der, int!))).toBe('012c');
    expect(hex(slice(der, int!))).toBe('0202012c');
  });

  it('expectTag names what was expected', () => {
    expectDerError(() => expectTag(readTop(h('05 00')), TAG.SEQUENCE, 'Widget'), /Widget: expected tag 0x30/);
    expectDerError(() => expectTag(undefined, TAG.INTEGER, 'version'), /version/);
  });
});

describe('tlv writer', () => {
  it('uses the minimal length form at every boundary', () => {
    expect(hex(tlv(4, Buffer.alloc(0x7f))).slice(0, 4)).toBe('047f');
    expect(hex(tlv(4, Buffer.alloc(0x80))).slice(0, 6)).toBe('048180');
    expect(hex(tlv(4, Buffer.alloc(0xff))).slice(0, 6)).toBe('0481ff');
    expect(hex(tlv(4, Buffer.alloc(0x100))).slice(0, 8)).toBe('04820100');
    expect(hex(tlv(4, Buffer.alloc(0x10000))).slice(0, 10)).toBe('0483010000');
    for (const n of [0, 1, 127, 128, 255, 256, 65535, 65536]) {
      const t = readTop(tlv(4, Buffer.alloc(n)));
      expect(t.end - t.valueStart).toBe(n);
    }
  });

  it('bitString adds zero unused bits and explicit uses a constructed context tag', () => {
    expect(hex(bitString(h('abcd')))).toBe('030300abcd');
    expect(hex(explicit(0, smallInteger(2)))).toBe('a003020102');
    expect(hex(explicit(3, seq()))).toBe('a3023000');
  });
});

const OIDS = [
  '0.0', '0.39', '1.0', '1.39', '2.0', '2.5', '2.39', '2.40', '2.47', '2.48', '2.100', '2.999', '2.999.3',
  '2.25.329800735698586629295641978511506172918', // UUID arc, far above 2^53: excluded below
  '1.2.840.113549', '1.2.840.113549.1.1.11', '1.2.840.10045.3.1.7', '1.3.132.0.34', '1.3.6.1.5.5.7.3.2',
  '2.5.29.17', '2.16.840.1.101.3.4.2.1', '1.3.101.112', '1.2.127', '1.2.128', '1.2.16383', '1.2.16384',
  '1.2.2097151', '1.2.2097152', '1.2.268435455', '1.2.4294967295', '1.3.6.1.4.1.311.21.20', '1.2.0.0.0',
].filter((o) => o.split('.').every((a) => Number.isSafeInteger(Number(a))));

describe('oid() and decodeOid()', () => {
  it('encodes known OIDs to their well-known bytes', () => {
    expect(hex(oid('1.2.840.113549.1.1.11'))).toBe('06092a864886f70d01010b');
    expect(hex(oid('1.2.840.10045.3.1.7'))).toBe('06082a8648ce3d030107');
    expect(hex(oid('2.5.29.17'))).toBe('0603551d11');
    expect(hex(oid('1.3.101.112'))).toBe('06032b6570');
    expect(hex(oid('2.999.3'))).toBe('0603883703');
    expect(hex(oid('1.2.128'))).toBe('06032a8100');
  });

  it('round-trips every OID, including arcs above 127 and 2.x with a large second arc', () => {
    expect(OIDS.length).toBeGreaterThan(25);
    for (const o of OIDS) {
      const der = oid(o);
      const t = readTop(der);
      expect(t.tag).toBe(TAG.OID);
      expect(decodeOid(value(der, t))).toBe(o);
    }
  });

  it('agrees with openssl asn1parse on the encoding', () => {
    requireOpenssl();
    const picked = ['1.2.840.113549.1.9.14', '2.999.3', '1.2.16384', '2.100', '1.2.4294967295'];
    const out = openssl(['asn1parse', '-inform', 'DER'], seq(...picked.map((o) => oid(o)))).toString();
    for (const o of picked) expect(out).toContain(`OBJECT            :${o === '1.2.840.113549.1.9.14' ? 'Extension Request' : o}`);
  });

  it('returns the cached buffer for a repeated OID with identical bytes', () => {
    expect(hex(oid('1.3.6.1.5.5.7.3.1'))).toBe(hex(oid('1.3.6.1.5.5.7.3.1')));
  });

  it('refuses a single arc and non-numeric or negative arcs', () => {
    for (const bad of ['1', '', '1.x', '1.-2', '1.2.3.4.5.6.7.8.9.a']) expectDerError(() => oid(bad), /bad OID/);
  });

  it('refuses arcs that are not plain decimal safe integers instead of coercing them', () => {
    // Number() turns '' into 0, '0x10' into 16, '5e3' into 5000 and rounds above 2^53
    for (const bad of ['1..2', '1.2.3.', '1.2.0x10', '1.2.3.0.5e3.1', ' 1.2', '1.2.9007199254740993']) {
      expectDerError(() => oid(bad), /bad OID/);
    }
  });

  it('refuses a first arc above 2 and a second arc ≥ 40 under 0 or 1 (X.660), which would decode as another OID', () => {
    // today oid('1.40') encodes 0x50, which decodes as 2.0; oid('3.1') decodes as 2.41
    for (const bad of ['3.1', '1.40', '0.40']) expectDerError(() => oid(bad), /bad OID/);
  });

  it('decodeOid refuses an empty OID', () => {
    expectDerError(() => decodeOid(Buffer.alloc(0)), /empty OID/);
  });

  it('decodeOid refuses a last arc whose continuation bit is still set (truncated OID)', () => {
    // 2a 86 is "1.2" followed by the first byte of a multi-byte arc (840 is 86 48)
    expect(() => decodeOid(h('2a 86'))).toThrow(DerError);
    expect(() => decodeOid(h('2a 86 48 86'))).toThrow(DerError);
  });
});

describe('integers', () => {
  it('unsignedInteger adds a 0x00 only when the high bit is set', () => {
    expect(hex(unsignedInteger(h('7f')))).toBe('02017f');
    expect(hex(unsignedInteger(h('80')))).toBe('02020080');
    expect(hex(unsignedInteger(h('ff ff')))).toBe('020300ffff');
    expect(hex(unsignedInteger(h('01 00')))).toBe('02020100');
    const serial = h('8a 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff 00 11 22 33');
    expect(hex(unsignedInteger(serial))).toBe('021500' + hex(serial));
    serial[0] = 0x4a;
    expect(hex(unsignedInteger(serial))).toBe('0214' + hex(serial));
  });

  it('unsignedInteger strips redundant leading zeros but keeps one for zero and a sign byte', () => {
    expect(hex(unsignedInteger(h('00 00 01')))).toBe('020101');
    expect(hex(unsignedInteger(h('00 00 80')))).toBe('02020080');
    expect(hex(unsignedInteger(h('00')))).toBe('020100');
    expect(hex(unsignedInteger(h('00 00')))).toBe('020100');
  });

  it('smallInteger encodes the boundaries and refuses out-of-range values', () => {
    expect(hex(smallInteger(0))).toBe('020100');
    expect(hex(smallInteger(1))).toBe('020101');
    expect(hex(smallInteger(127))).toBe('02017f');
    expect(hex(smallInteger(128))).toBe('02020080');
    expect(hex(smallInteger(256))).toBe('02020100');
    expect(hex(smallInteger(0x7fffffff))).toBe('02047fffffff');
    expectDerError(() => smallInteger(-1), /out of range/);
    expectDerError(() => smallInteger(0x80000000), /out of range/);
  });
});

describe('time() (RFC 5280 §4.1.2.5)', () => {
  const enc = (iso: string): { tag: number; text: string } => {
    const der = time(new Date(iso));
    const t = readTop(der);
    return { tag: t.tag, text: value(der, t).toString('latin1') };
  };

  it('uses UTCTime (YYMMDDHHMMSSZ) through 2049', () => {
    expect(enc('2025-03-04T05:06:07.890Z')).toEqual({ tag: TAG.UTCTime, text: '250304050607Z' });
    expect(enc('2049-12-31T23:59:59Z')).toEqual({ tag: TAG.UTCTime, text: '491231235959Z' });
    expect(enc('1999-01-02T00:00:00Z')).toEqual({ tag: TAG.UTCTime, text: '990102000000Z' });
    expect(enc('1950-01-01T00:00:00Z')).toEqual({ tag: TAG.UTCTime, text: '500101000000Z' });
    expect(enc('2000-02-29T12:00:00Z')).toEqual({ tag: TAG.UTCTime, text: '000229120000Z' });
  });

  it('uses GeneralizedTime (YYYYMMDDHHMMSSZ, no fraction) from 2050', () => {
    expect(enc('2050-01-01T00:00:00Z')).toEqual({ tag: TAG.GeneralizedTime, text: '20500101000000Z' });
    expect(enc('9999-12-31T23:59:59Z')).toEqual({ tag: TAG.GeneralizedTime, text: '99991231235959Z' });
    expect(enc('2100-06-15T08:09:10.999Z')).toEqual({ tag: TAG.GeneralizedTime, text: '21000615080910Z' });
  });

  it('uses GeneralizedTime before 1950, where UTCTime cannot express the year', () => {
    expect(enc('1949-12-31T23:59:59Z')).toEqual({ tag: TAG.GeneralizedTime, text: '19491231235959Z' });
  });

  it('is read back by openssl as the same instant', () => {
    requireOpenssl();
    const out = openssl(['asn1parse', '-inform', 'DER'], seq(time(new Date('2049-12-31T23:59:59Z')), time(new Date('2050-01-01T00:00:00Z')))).toString();
    expect(out).toContain('UTCTIME           :491231235959Z');
    expect(out).toContain('GENERALIZEDTIME   :20500101000000Z');
  });
});

describe('setOf (X.690 §11.6)', () => {
  it('sorts the elements by their encodings', () => {
    const a = seq(oid('2.5.4.3'));
    const b = smallInteger(5);
    const c = h('04 01 ff');
    const d = h('04 02 00 00');
    const out = setOf([a, d, c, b]);
    expect(out[0]).toBe(TAG.SET);
    const t = readTop(out);
    expect(children(out, t).map((k) => hex(slice(out, k)))).toEqual([b, c, d, a].map(hex));
  });

  it('does not reorder the caller’s array', () => {
    const items = [smallInteger(9), smallInteger(1)];
    setOf(items);
    expect(items.map(hex)).toEqual(['020109', '020101']);
  });

  it('encodes an empty SET OF', () => {
    expect(hex(setOf([]))).toBe('3100');
  });
});

/** CsrAttrs (RFC 7030 §4.5.2, RFC 8951 §4) encode/decode, checked against openssl asn1parse. */
import { describe, expect, it } from 'vitest';
import { decodeCsrAttrs, encodeCsrAttrs, type AttrOrOid } from '../../src/pki/csr-attrs.js';
import { DerError, oid, seq, smallInteger, tlv, TAG } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';
import { openssl, requireOpenssl, scratch } from './openssl-tool.js';

const utf8 = (s: string): Buffer => tlv(TAG.UTF8String, Buffer.from(s, 'utf8'));
const printable = (s: string): Buffer => tlv(TAG.PrintableString, Buffer.from(s, 'latin1'));

// The RFC 7030 §4.5.2 example asks for challengePassword, an EC key on P-384, a SHA-384 signature
// and a macAddress (1.3.6.1.1.1.1.22) — the shape of a real profile.
const ITEMS: AttrOrOid[] = [
  { oid: OID.challengePassword },
  { type: OID.ecPublicKey, values: [oid(OID.secp384r1)] },
  { type: '1.3.6.1.1.1.1.22', values: [utf8('00:11:22:33:44:55')] },
  { oid: OID.ecdsaWithSHA384 },
  { type: OID.extensionRequest, values: [seq(seq(oid(OID.subjectAltName)))] },
];

describe('encodeCsrAttrs / decodeCsrAttrs', () => {
  it('round-trips OIDs and Attributes in order', () => {
    const der = encodeCsrAttrs(ITEMS);
    const back = decodeCsrAttrs(der);
    expect(back).toHaveLength(ITEMS.length);
    back.forEach((item, i) => {
      const want = ITEMS[i]!;
      if ('oid' in want) {
        expect(item).toEqual({ oid: want.oid });
      } else {
        expect('type' in item && item.type).toBe(want.type);
        expect('values' in item && item.values.map((v) => v.toString('hex'))).toEqual(want.values.map((v) => v.toString('hex')));
      }
    });
  });

  it('encodes the RFC 7030 §4.5.2 CsrAttrs byte for byte', () => {
    // openssl asn1parse of RFC 7030's example (challengePassword; ecPublicKey {secp384r1}; ecdsaWithSHA384)
    const der = encodeCsrAttrs([{ oid: OID.challengePassword }, { type: OID.ecPublicKey, values: [oid(OID.secp384r1)] }, { oid: OID.ecdsaWithSHA384 }]);
    expect(der.toString('hex')).toBe(
      '3029' + '06092a864886f70d010907' + '3012' + '06072a8648ce3d0201' + '3107' + '06052b81040022' + '06082a8648ce3d040303',
    );
  });

  it('is read by openssl asn1parse as the same structure', () => {
    requireOpenssl();
    const out = openssl(['asn1parse', '-inform', 'DER'], encodeCsrAttrs(ITEMS)).toString();
    const lines = out.trim().split('\n').map((l) => l.replace(/^\s*\d+:/, '').replace(/\s+$/, ''));
    const shape = lines.map((l) => {
      const m = /d=(\d+)\s+hl=\d+\s+l=\s*\d+\s+(?:prim|cons):\s+(.*)$/.exec(l);
      return m ? `${m[1]} ${m[2]!.replace(/\s+/g, ' ')}` : l;
    });
    expect(shape).toEqual([
      '0 SEQUENCE',
      '1 OBJECT :challengePassword',
      '1 SEQUENCE',
      '2 OBJECT :id-ecPublicKey',
      '2 SET',
      '3 OBJECT :secp384r1',
      '1 SEQUENCE',
      '2 OBJECT :1.3.6.1.1.1.1.22',
      '2 SET',
      '3 UTF8STRING :00:11:22:33:44:55',
      '1 OBJECT :ecdsa-with-SHA384',
      '1 SEQUENCE',
      '2 OBJECT :Extension Request',
      '2 SET',
      '3 SEQUENCE',
      '4 SEQUENCE',
      '5 OBJECT :X509v3 Subject Alternative Name',
    ]);
  });

  it('encodes an empty CsrAttrs as an empty SEQUENCE and decodes it', () => {
    expect(encodeCsrAttrs([]).toString('hex')).toBe('3000');
    expect(decodeCsrAttrs(Buffer.from('3000', 'hex'))).toEqual([]);
  });

  it('decodes a CsrAttrs made by openssl asn1parse -genconf (an independent encoder)', () => {
    requireOpenssl();
    const conf = `asn1 = SEQUENCE:attrs
[attrs]
a = OID:1.2.840.113549.1.9.7
b = SEQUENCE:ec
c = OID:1.2.840.10045.4.3.3
[ec]
type = OID:1.2.840.10045.2.1
values = SET:curve
[curve]
c = OID:1.3.132.0.34
`;
    const tmp = scratch('estuary-csrattrs-');
    try {
      const cnf = tmp.write('attrs.cnf', conf);
      openssl(['asn1parse', '-genconf', cnf, '-out', tmp.path('attrs.der'), '-noout']);
      const bytes = tmp.read('attrs.der');
      expect(decodeCsrAttrs(bytes)).toEqual([
        { oid: OID.challengePassword },
        { type: OID.ecPublicKey, values: [oid(OID.secp384r1)] },
        { oid: OID.ecdsaWithSHA384 },
      ]);
      expect(encodeCsrAttrs(decodeCsrAttrs(bytes)).equals(bytes)).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses an item that is neither an OID nor an Attribute', () => {
    expect(() => decodeCsrAttrs(seq(smallInteger(1)))).toThrow(DerError);
    expect(() => decodeCsrAttrs(seq(printable('x')))).toThrow(/expected OID or Attribute/);
  });

  it('refuses an Attribute whose values are not a SET or whose type is not an OID', () => {
    expect(() => decodeCsrAttrs(seq(seq(oid('2.5.4.3'), seq())))).toThrow(/attribute values/);
    expect(() => decodeCsrAttrs(seq(seq(smallInteger(1), Buffer.from('3100', 'hex'))))).toThrow(/attribute type/);
  });

  it('refuses a top level that is not a SEQUENCE, truncated input and trailing bytes', () => {
    expect(() => decodeCsrAttrs(Buffer.from('3100', 'hex'))).toThrow(/CsrAttrs/);
    const der = encodeCsrAttrs(ITEMS);
    expect(() => decodeCsrAttrs(der.subarray(0, der.length - 1))).toThrow(DerError);
    expect(() => decodeCsrAttrs(Buffer.concat([der, Buffer.from([0])]))).toThrow(DerError);
  });

  it('sorts the values of a multi-valued Attribute (DER SET OF, X.690 §11.6)', () => {
    const der = encodeCsrAttrs([{ type: '1.3.6.1.1.1.1.22', values: [utf8('bb'), utf8('aa')] }]);
    const [attr] = decodeCsrAttrs(der);
    expect(attr && 'values' in attr ? attr.values.map((v) => v.toString('latin1').slice(2)) : []).toEqual(['aa', 'bb']);
  });
});

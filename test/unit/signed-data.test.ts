/** Certs-only CMS SignedData (RFC 5652 §5, RFC 7030 §4.1.3) against openssl pkcs7/crl2pkcs7/cms. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pemBlocks } from '../../src/pki/base64.js';
import { children, DerError, explicit, expectTag, oid, readTop, seq, set, smallInteger, TAG, tlv, value, decodeOid } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';
import { certsOnly, parseCertsOnly } from '../../src/pki/signed-data.js';
import { openssl, requireOpenssl, scratch } from './openssl-tool.js';

let tmp: ReturnType<typeof scratch>;
const certs: Buffer[] = [];
const certFiles: string[] = [];

beforeAll(() => {
  requireOpenssl();
  tmp = scratch('estuary-p7-');
  const kinds = [['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], ['ed25519'], ['ec', '-pkeyopt', 'ec_paramgen_curve:P-384']];
  kinds.forEach((k, i) => {
    const [alg, ...opts] = k;
    const pem = openssl(['req', '-x509', '-newkey', alg!, ...opts, '-nodes', '-keyout', tmp.path(`k${i}.pem`), '-subj', `/CN=cert-${i}`, '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE']).toString();
    certFiles.push(tmp.write(`c${i}.pem`, pem));
    certs.push(pemBlocks(pem)[0]!);
  });
});
afterAll(() => tmp?.cleanup());

const hexes = (list: Buffer[]): string[] => list.map((c) => c.toString('hex'));

describe('certsOnly', () => {
  it('is read by openssl pkcs7 -print_certs as the same certificates, in order', () => {
    const out = openssl(['pkcs7', '-inform', 'DER', '-print_certs'], certsOnly(certs)).toString();
    expect(hexes(pemBlocks(out))).toEqual(hexes(certs));
    expect(out).toMatch(/subject=CN ?= ?cert-0[\s\S]*subject=CN ?= ?cert-1[\s\S]*subject=CN ?= ?cert-2/);
  });

  it('has the RFC 5652 degenerate shape: version 1, no digest algorithms, data without eContent, no signers', () => {
    const der = certsOnly(certs.slice(0, 1));
    const [type, content] = children(der, readTop(der));
    expect(decodeOid(value(der, type!))).toBe(OID.signedData);
    const [sd] = children(der, expectTag(content, 0xa0, 'content'));
    const parts = children(der, expectTag(sd, TAG.SEQUENCE, 'SignedData'));
    expect(parts.map((p) => p.tag)).toEqual([TAG.INTEGER, TAG.SET, TAG.SEQUENCE, 0xa0, TAG.SET]);
    expect(value(der, parts[0]!).toString('hex')).toBe('01');
    expect(parts[1]!.end - parts[1]!.valueStart).toBe(0);
    const eci = children(der, parts[2]!);
    expect(eci).toHaveLength(1);
    expect(decodeOid(value(der, eci[0]!))).toBe(OID.data);
    expect(parts[4]!.end - parts[4]!.valueStart).toBe(0);
  });

  it('openssl asn1parse walks the whole encoding without errors', () => {
    const out = openssl(['asn1parse', '-inform', 'DER', '-i'], certsOnly(certs)).toString();
    expect(out).toContain(':pkcs7-signedData');
    expect(out).not.toMatch(/error/i);
  });

  it('round-trips through parseCertsOnly, including an empty list', () => {
    expect(hexes(parseCertsOnly(certsOnly(certs)))).toEqual(hexes(certs));
    expect(parseCertsOnly(certsOnly([]))).toEqual([]);
    expect(hexes(parseCertsOnly(certsOnly([certs[2]!, certs[0]!])))).toEqual(hexes([certs[2]!, certs[0]!]));
  });

  it('openssl pkcs7 reads an empty certs-only as having no certificates', () => {
    const out = openssl(['pkcs7', '-inform', 'DER', '-print_certs'], certsOnly([])).toString();
    expect(pemBlocks(out)).toEqual([]);
  });
});

describe('parseCertsOnly', () => {
  it('accepts openssl crl2pkcs7 -nocrl output (encapContentInfo without eContent)', () => {
    const der = openssl(['crl2pkcs7', '-nocrl', '-outform', 'DER', ...certFiles.flatMap((f) => ['-certfile', f])]);
    expect(hexes(parseCertsOnly(der))).toEqual(hexes(certs));
  });

  it('accepts openssl crl2pkcs7 output with a CRL, returning only the certificates', () => {
    const cnf = tmp.write('ca.cnf', `[ca]\ndefault_ca = d\n[d]\ndatabase = ${tmp.path('index.txt')}\ncrlnumber = ${tmp.path('crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 1\n`);
    tmp.write('index.txt', '');
    tmp.write('crlnumber', '01\n');
    openssl(['ca', '-gencrl', '-config', cnf, '-keyfile', tmp.path('k0.pem'), '-cert', certFiles[0]!, '-out', tmp.path('crl.pem')]);
    const der = openssl(['crl2pkcs7', '-in', tmp.path('crl.pem'), '-outform', 'DER', '-certfile', certFiles[1]!]);
    expect(openssl(['asn1parse', '-inform', 'DER'], der).toString()).toMatch(/cont \[ 1 \]/);
    expect(hexes(parseCertsOnly(der))).toEqual(hexes([certs[1]!]));
  });

  it('accepts a signed CMS (openssl cms -sign: digest algorithms, eContent, signerInfos)', () => {
    const content = tmp.write('content.txt', 'hello');
    const der = openssl(['cms', '-sign', '-nodetach', '-binary', '-outform', 'DER', '-in', content, '-signer', certFiles[0]!, '-inkey', tmp.path('k0.pem'), '-certfile', certFiles[2]!]);
    const got = parseCertsOnly(der);
    expect(new Set(hexes(got))).toEqual(new Set(hexes([certs[0]!, certs[2]!])));
    expect(got).toHaveLength(2);
  });

  it('accepts a SignedData with other certificate choices and crls, returning only the X.509 certificates', () => {
    const other = tlv(0xa1, seq(smallInteger(7))); // [1] extendedCertificate-like choice: skipped
    const sd = seq(
      smallInteger(3),
      set(seq(oid(OID.sha256))),
      seq(oid(OID.data), explicit(0, tlv(TAG.OCTET_STRING, Buffer.from('x')))),
      explicit(0, certs[1]!, other, certs[0]!),
      tlv(0xa1, seq(seq())), // crls
      set(),
    );
    const der = seq(oid(OID.signedData), explicit(0, sd));
    expect(hexes(parseCertsOnly(der))).toEqual(hexes([certs[1]!, certs[0]!]));
  });

  it('accepts an encapContentInfo with an empty eContent ([0] EXPLICIT OCTET STRING of length 0), as some EST servers send', () => {
    for (const eContent of [tlv(TAG.OCTET_STRING), tlv(TAG.OCTET_STRING, Buffer.from('hi'))]) {
      const sd = seq(smallInteger(1), set(), seq(oid(OID.data), explicit(0, eContent)), explicit(0, certs[0]!, certs[1]!), set());
      expect(hexes(parseCertsOnly(seq(oid(OID.signedData), explicit(0, sd))))).toEqual(hexes([certs[0]!, certs[1]!]));
    }
  });

  it('returns no certificates when the certificates field is absent', () => {
    const der = seq(oid(OID.signedData), explicit(0, seq(smallInteger(1), set(), seq(oid(OID.data)), set())));
    expect(parseCertsOnly(der)).toEqual([]);
  });

  it('refuses a ContentInfo that is not SignedData', () => {
    const der = seq(oid(OID.data), explicit(0, tlv(TAG.OCTET_STRING, Buffer.from('x'))));
    expect(() => parseCertsOnly(der)).toThrow(/not SignedData/);
    expect(() => parseCertsOnly(der)).toThrow(DerError);
  });

  it('refuses truncated input, trailing bytes and a bare certificate', () => {
    const der = certsOnly(certs);
    expect(() => parseCertsOnly(der.subarray(0, der.length - 1))).toThrow(DerError);
    expect(() => parseCertsOnly(Buffer.concat([der, Buffer.from([0])]))).toThrow(DerError);
    expect(() => parseCertsOnly(certs[0]!)).toThrow(DerError);
  });
});

/** PKCS#10 (RFC 2986) parse and proof-of-possession check on requests made by `openssl req`. */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { x509 } from '../helpers/keys.js';
import { CsrError, parseCsr, verifyCsrSignature } from '../../src/pki/csr.js';
import { bitString, children, DerError, octets, oid, readTop, seq, set, smallInteger, tlv } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';
import { openssl, requireOpenssl, scratch } from './openssl-tool.js';

let tmp: ReturnType<typeof scratch>;

/** A CSR from `openssl req`: its DER and the DER SPKI of its key as `openssl pkey` writes it. */
function opensslCsr(name: string, newkey: string[], extra: string[] = []): { der: Buffer; spki: Buffer } {
  const key = tmp.path(`${name}-key.pem`);
  const der = openssl(['req', '-new', ...newkey, '-nodes', '-keyout', key, '-outform', 'DER', ...extra]);
  const spki = openssl(['pkey', '-in', key, '-pubout', '-outform', 'DER']);
  return { der, spki };
}

const CASES = {
  p256: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  p384: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  p521: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'],
  rsa2048: ['-newkey', 'rsa:2048'],
  ed25519: ['-newkey', 'ed25519'],
} as const;

const csrs = {} as Record<keyof typeof CASES, { der: Buffer; spki: Buffer }>;
let withPassword: Buffer;

beforeAll(() => {
  requireOpenssl();
  tmp = scratch('estuary-csr-');
  for (const [name, args] of Object.entries(CASES) as Array<[keyof typeof CASES, readonly string[]]>) {
    csrs[name] = opensslCsr(name, [...args], ['-subj', `/C=DE/O=Example Org/CN=device-${name}`, '-addext', 'subjectAltName=DNS:a.example,IP:10.0.0.1,email:ops@example.com']);
  }
  const cnf = tmp.write(
    'req.cnf',
    `[req]
prompt = no
distinguished_name = dn
attributes = attrs
req_extensions = ext
[dn]
CN = pw-device
[attrs]
challengePassword = s3cret-Pass!
[ext]
subjectAltName = DNS:pw.example
keyUsage = critical, digitalSignature
`,
  );
  withPassword = opensslCsr('pw', [...CASES.p256], ['-config', cnf]).der;
});
afterAll(() => tmp?.cleanup());

const flipByte = (der: Buffer, index: number): Buffer => {
  const copy = Buffer.from(der);
  copy[index]! ^= 0x01;
  return copy;
};

describe('parseCsr + verifyCsrSignature on openssl requests', () => {
  const expected = {
    p256: { key: { type: 'ec', curve: 'P-256', bits: 256 }, sig: OID.ecdsaWithSHA256 },
    p384: { key: { type: 'ec', curve: 'P-384', bits: 384 }, sig: OID.ecdsaWithSHA256 },
    p521: { key: { type: 'ec', curve: 'P-521', bits: 521 }, sig: OID.ecdsaWithSHA256 },
    rsa2048: { key: { type: 'rsa', bits: 2048 }, sig: OID.sha256WithRSAEncryption },
    ed25519: { key: { type: 'ed25519', bits: 256 }, sig: OID.ed25519 },
  } as const;

  for (const name of Object.keys(CASES) as Array<keyof typeof CASES>) {
    it(`${name}: key, signature algorithm and a valid signature`, () => {
      const csr = parseCsr(csrs[name].der);
      expect(csr.key).toEqual(expected[name].key);
      expect(csr.signatureAlgorithm).toBe(expected[name].sig);
      expect(verifyCsrSignature(csr)).toBe(true);
    });

    it(`${name}: subject and SPKI are byte-exact`, () => {
      const der = csrs[name].der;
      const csr = parseCsr(der);
      const independent = new x509.Pkcs10CertificateRequest(new Uint8Array(der));
      expect(csr.subject.toString('hex')).toBe(Buffer.from(independent.subjectName.toArrayBuffer()).toString('hex'));
      expect(csr.spki.toString('hex')).toBe(csrs[name].spki.toString('hex'));
      expect(csr.der).toBe(der);
      // the signed bytes are the CertificationRequestInfo, the first element of the request
      const top = readTop(der);
      const [info] = children(der, top);
      expect(csr.info.equals(der.subarray(info!.start, info!.end))).toBe(true);
    });

    it(`${name}: the subjectAltName requested with -addext`, () => {
      const csr = parseCsr(csrs[name].der);
      expect([...csr.requestedExtensions.keys()]).toEqual([OID.subjectAltName]);
      const expectedSan = seq(
        Buffer.concat([Buffer.from([0x82, 9]), Buffer.from('a.example')]),
        Buffer.from([0x87, 4, 10, 0, 0, 1]),
        Buffer.concat([Buffer.from([0x81, 15]), Buffer.from('ops@example.com')]),
      );
      expect(csr.requestedExtensions.get(OID.subjectAltName)!.toString('hex')).toBe(expectedSan.toString('hex'));
      expect(csr.challengePassword).toBeUndefined();
    });

    it(`${name}: a flipped signature byte verifies false`, () => {
      const der = csrs[name].der;
      expect(verifyCsrSignature(parseCsr(flipByte(der, der.length - 1)))).toBe(false);
      expect(verifyCsrSignature(parseCsr(flipByte(der, der.length - 10)))).toBe(false);
    });

    it(`${name}: a changed byte in the signed subject verifies false`, () => {
      const der = csrs[name].der;
      const at = der.indexOf(Buffer.from(`device-${name}`));
      expect(at).toBeGreaterThan(0);
      const csr = parseCsr(flipByte(der, at));
      expect(verifyCsrSignature(csr)).toBe(false);
    });
  }

  it('RSA with SHA-512 and P-384 with SHA-384 verify', () => {
    const rsa = parseCsr(opensslCsr('rsa512', ['-newkey', 'rsa:2048'], ['-subj', '/CN=r', '-sha512']).der);
    expect(rsa.signatureAlgorithm).toBe(OID.sha512WithRSAEncryption);
    expect(verifyCsrSignature(rsa)).toBe(true);
    const ec = parseCsr(opensslCsr('p384-384', [...CASES.p384], ['-subj', '/CN=e', '-sha384']).der);
    expect(ec.signatureAlgorithm).toBe(OID.ecdsaWithSHA384);
    expect(verifyCsrSignature(ec)).toBe(true);
  });

  it('reads challengePassword and the extensionRequest from a config-file request', () => {
    const csr = parseCsr(withPassword);
    expect(verifyCsrSignature(csr)).toBe(true);
    expect(csr.challengePassword).toBe('s3cret-Pass!');
    expect([...csr.requestedExtensions.keys()].sort()).toEqual([OID.keyUsage, OID.subjectAltName].sort());
    expect(csr.requestedExtensions.get(OID.subjectAltName)!.toString('hex')).toBe('300c820a' + Buffer.from('pw.example').toString('hex'));
    // KeyUsage digitalSignature: the extnValue is the BIT STRING, not the critical flag
    expect(csr.requestedExtensions.get(OID.keyUsage)!.toString('hex')).toBe('03020780');
  });

  it('a request without a SAN has no requested extensions and an empty subject is two bytes', () => {
    const { der } = opensslCsr('nosan', [...CASES.p256], ['-subj', '/']);
    const csr = parseCsr(der);
    expect(csr.requestedExtensions.size).toBe(0);
    expect(csr.subject.toString('hex')).toBe('3000');
    expect(verifyCsrSignature(csr)).toBe(true);
  });
});

describe('parseCsr refuses malformed and unsupported requests', () => {
  it('truncated DER throws DerError', () => {
    const der = csrs.p256.der;
    for (const n of [0, 1, 2, 10, der.length - 1, Math.floor(der.length / 2)]) {
      expect(() => parseCsr(der.subarray(0, n)), `truncated to ${n}`).toThrow(DerError);
    }
  });

  it('garbage throws DerError or CsrError', () => {
    const garbage = [Buffer.from('hello, world'), Buffer.from('MIIBxzCCAW0CAQAw', 'latin1'), Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]), seq(seq(), seq(), seq()), Buffer.concat([csrs.p256.der, Buffer.from([0])])];
    for (const g of garbage) {
      let caught: unknown;
      try {
        parseCsr(g);
      } catch (err) {
        caught = err;
      }
      expect(caught instanceof DerError || caught instanceof CsrError, `${g.toString('hex')} threw ${String(caught)}`).toBe(true);
    }
  });

  it('a certificate is not a CSR', () => {
    const pem = openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', tmp.path('cert-key.pem'), '-subj', '/CN=c', '-days', '1', '-outform', 'DER']);
    expect(() => parseCsr(pem)).toThrow(DerError);
  });

  it('a version other than v1 (0) throws CsrError', () => {
    const der = Buffer.from(csrs.p256.der);
    const at = der.indexOf(Buffer.from([0x02, 0x01, 0x00]));
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(10);
    der[at + 2] = 1;
    expect(() => parseCsr(der)).toThrow(CsrError);
  });

  it('a secp256k1 request throws CsrError naming the curve', () => {
    const { der } = opensslCsr('k1', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'], ['-subj', '/CN=k1']);
    expect(() => parseCsr(der)).toThrow(CsrError);
    expect(() => parseCsr(der)).toThrow(/unsupported elliptic curve .*(secp256k1|1\.3\.132\.0\.10)/);
  });

  it('an Ed448 request throws CsrError naming the algorithm', () => {
    const { der } = opensslCsr('ed448', ['-newkey', 'ed448'], ['-subj', '/CN=ed448']);
    expect(() => parseCsr(der)).toThrow(CsrError);
    expect(() => parseCsr(der)).toThrow(/unsupported public key algorithm .*(Ed448|1\.3\.101\.113)/);
  });

  it('an RSASSA-PSS signature is refused by verifyCsrSignature with CsrError, not accepted', () => {
    const { der } = opensslCsr('pss', ['-newkey', 'rsa:2048'], ['-subj', '/CN=pss', '-sigopt', 'rsa_padding_mode:pss']);
    const csr = parseCsr(der);
    expect(csr.signatureAlgorithm).toBe(OID.rsassaPss);
    expect(() => verifyCsrSignature(csr)).toThrow(CsrError);
    expect(() => verifyCsrSignature(csr)).toThrow(/unsupported CSR signature algorithm rsassaPss/);
  });

  it('a signature algorithm that does not match the key throws CsrError', () => {
    const csr = parseCsr(csrs.p256.der);
    expect(() => verifyCsrSignature({ ...csr, signatureAlgorithm: OID.sha256WithRSAEncryption })).toThrow(/does not match the ec key/);
    expect(() => verifyCsrSignature({ ...csr, signatureAlgorithm: '1.2.3.4' })).toThrow(CsrError);
  });

  it('an EC point that is not on the curve throws DerError or CsrError', () => {
    const der = Buffer.from(csrs.p256.der);
    const csr = parseCsr(der);
    // the last byte of the uncompressed point (y coordinate) inside the SPKI
    const spkiAt = der.indexOf(csr.spki);
    der[spkiAt + csr.spki.length - 1]! ^= 0x01;
    let caught: unknown;
    try {
      parseCsr(der);
    } catch (err) {
      caught = err;
    }
    expect(caught, 'a point off the curve must not parse').toBeDefined();
    expect(caught instanceof DerError || caught instanceof CsrError, `threw ${String(caught)}`).toBe(true);
  });

  it('a key OpenSSL cannot decode throws CsrError with a plain reason, not an OpenSSL error code', () => {
    const der = Buffer.from(csrs.p256.der);
    const csr = parseCsr(der);
    // the first byte of the EC point: 0x05 is no point encoding (SEC 1 §2.3.4)
    der[der.indexOf(csr.spki) + csr.spki.length - 65] = 0x05;
    expect(() => parseCsr(der)).toThrow(CsrError);
    // OpenSSL's words without its code ("error:03000072:digital envelope routines::decode error")
    expect(() => parseCsr(der)).toThrow(/^invalid public key: [^:]*routines: \S/);
  });

  it('an extension requested twice throws CsrError', () => {
    // hand-built: one extensionRequest attribute carrying subjectAltName twice
    const csr = parseCsr(csrs.p256.der);
    const san = seq(oid(OID.subjectAltName), octets(seq(tlv(0x82, Buffer.from('a')))));
    const attrs = tlv(0xa0, seq(oid(OID.extensionRequest), set(seq(san, san))));
    const info = seq(smallInteger(0), csr.subject, csr.spki, attrs);
    const forged = seq(info, seq(oid(OID.ecdsaWithSHA256)), bitString(Buffer.from([0x30, 0x00])));
    expect(() => parseCsr(forged)).toThrow(CsrError);
    expect(() => parseCsr(forged)).toThrow(/subjectAltName requested twice/);
  });

  it('a challengePassword attribute without a value throws DerError', () => {
    const csr = parseCsr(csrs.p256.der);
    const attrs = tlv(0xa0, seq(oid(OID.challengePassword), set()));
    const forged = seq(seq(smallInteger(0), csr.subject, csr.spki, attrs), seq(oid(OID.ecdsaWithSHA256)), bitString(Buffer.from([0x30, 0x00])));
    expect(() => parseCsr(forged)).toThrow(DerError);
  });
});

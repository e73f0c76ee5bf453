/** Certificate assembly from the DER template (RFC 5280 §4.1) and field extraction. */
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { x509 } from '../helpers/keys.js';
import { rsaFixtureKey } from '../helpers/fixture-keys.js';
import { pemBlocks } from '../../src/pki/base64.js';
import {
  authorityKeyIdentifierValue, basicConstraintsEndEntity, certificateFields, extension, extKeyUsageValue, keyIdentifier,
  keyUsageBits, keyUsageValue, serialToHex, signatureSchemeFor, signCertificate, type KeyUsageBit,
} from '../../src/pki/certificate.js';
import { oid, seq, set, tlv, TAG } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';
import { openssl, requireOpenssl, scratch } from './openssl-tool.js';

let tmp: ReturnType<typeof scratch>;
beforeAll(() => {
  requireOpenssl();
  tmp = scratch('estuary-cert-');
});
afterAll(() => tmp?.cleanup());

const name = (cn: string): Buffer => seq(set(seq(oid(OID.commonName), tlv(TAG.UTF8String, Buffer.from(cn)))));
const spkiOf = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function selfSigned(opts: { keys?: { publicKey: KeyObject; privateKey: KeyObject }; serial?: Buffer; extensions?: Buffer[]; notBefore?: Date; notAfter?: Date; cn?: string } = {}): Buffer {
  const keys = opts.keys ?? ec256;
  return signCertificate(
    {
      serial: opts.serial ?? Buffer.from('0102', 'hex'),
      issuer: name(opts.cn ?? 'unit'),
      subject: name(opts.cn ?? 'unit'),
      notBefore: opts.notBefore ?? new Date('2025-01-01T00:00:00Z'),
      notAfter: opts.notAfter ?? new Date('2026-01-01T00:00:00Z'),
      spki: spkiOf(keys.publicKey),
      extensions: opts.extensions ?? [basicConstraintsEndEntity()],
    },
    keys.privateKey,
    signatureSchemeFor(keys.privateKey),
  );
}

const opensslText = (der: Buffer, ...args: string[]): string => openssl(['x509', '-inform', 'DER', '-noout', ...args], der).toString();

describe('keyUsageValue (RFC 5280 §4.2.1.3, DER named bit list)', () => {
  it('encodes the known DER bytes', () => {
    expect(hex(keyUsageValue(['digitalSignature']))).toBe('03020780');
    expect(hex(keyUsageValue(['digitalSignature', 'keyEncipherment']))).toBe('030205a0');
    expect(hex(keyUsageValue(['keyCertSign', 'cRLSign']))).toBe('03020106');
    expect(hex(keyUsageValue(['digitalSignature', 'keyCertSign', 'cRLSign']))).toBe('03020186');
    expect(hex(keyUsageValue(['nonRepudiation']))).toBe('03020640');
    expect(hex(keyUsageValue(['keyAgreement']))).toBe('03020308');
    expect(hex(keyUsageValue(['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign']))).toBe('030201fe');
  });

  it('does not depend on order or repetition', () => {
    expect(hex(keyUsageValue(['keyEncipherment', 'digitalSignature', 'keyEncipherment']))).toBe('030205a0');
  });

  it('refuses an empty list', () => {
    expect(() => keyUsageValue([])).toThrow(/at least one/);
  });

  it('reads back as the same bits (keyUsageBits)', () => {
    const sets: KeyUsageBit[][] = [['digitalSignature'], ['keyEncipherment'], ['keyAgreement'], ['keyCertSign', 'cRLSign'], ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign']];
    for (const usages of sets) expect([...keyUsageBits(keyUsageValue(usages))].sort()).toEqual([...usages].sort());
    // decipherOnly (bit 8) needs a second byte; the bits this server names are read from the first
    expect([...keyUsageBits(Buffer.from('03030780 80'.replace(' ', ''), 'hex'))]).toEqual(['digitalSignature']);
  });

  it('is rendered by openssl as the same usages', () => {
    const label: Record<KeyUsageBit, string> = {
      digitalSignature: 'Digital Signature', nonRepudiation: 'Non Repudiation', keyEncipherment: 'Key Encipherment',
      dataEncipherment: 'Data Encipherment', keyAgreement: 'Key Agreement', keyCertSign: 'Certificate Sign', cRLSign: 'CRL Sign',
    };
    const sets: KeyUsageBit[][] = [...(Object.keys(label) as KeyUsageBit[]).map((b) => [b]), ['digitalSignature', 'keyEncipherment'], ['digitalSignature', 'keyCertSign', 'cRLSign']];
    for (const usages of sets) {
      const der = selfSigned({ extensions: [extension(OID.keyUsage, true, keyUsageValue(usages))] });
      const text = opensslText(der, '-ext', 'keyUsage');
      expect(text).toContain('X509v3 Key Usage: critical');
      expect(text.split('\n')[1]!.trim()).toBe(usages.map((u) => label[u]).join(', '));
    }
  });
});

describe('signCertificate', () => {
  const keyTypes = {
    'EC P-256': ec256,
    'EC P-384': generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    'EC P-521': generateKeyPairSync('ec', { namedCurve: 'P-521' }),
    'RSA 2048': rsaFixtureKey(2048),
    Ed25519: generateKeyPairSync('ed25519'),
  };
  const algText = { 'EC P-256': 'ecdsa-with-SHA256', 'EC P-384': 'ecdsa-with-SHA384', 'EC P-521': 'ecdsa-with-SHA512', 'RSA 2048': 'sha256WithRSAEncryption', Ed25519: 'ED25519' };

  for (const [label, keys] of Object.entries(keyTypes) as Array<[keyof typeof keyTypes, { publicKey: KeyObject; privateKey: KeyObject }]>) {
    it(`${label}: a self-signed certificate that node and openssl accept`, () => {
      const der = selfSigned({ keys, cn: label });
      const cert = new X509Certificate(der);
      expect(cert.verify(keys.publicKey)).toBe(true);
      expect(cert.subject).toBe(`CN=${label}`);
      const text = opensslText(der, '-text');
      expect(text).toContain('Version: 3 (0x2)');
      expect(text).toContain(`Signature Algorithm: ${algText[label]}`);
      // openssl checks the self-signature of the trusted certificate (-check_ss_sig) at the validity's midpoint
      const pem = tmp.write(`${label.replace(/\W/g, '')}.pem`, cert.toString());
      const at = String(Math.floor(new Date('2025-07-01T00:00:00Z').getTime() / 1000));
      expect(openssl(['verify', '-attime', at, '-check_ss_sig', '-partial_chain', '-trusted', pem, pem]).toString()).toMatch(/: OK/);
    });
  }

  it('signatureSchemeFor encodes RSA with NULL parameters and ECDSA/Ed25519 without', () => {
    expect(hex(signatureSchemeFor(keyTypes['RSA 2048'].privateKey).algorithmIdentifier)).toBe('300d06092a864886f70d01010b0500');
    expect(hex(signatureSchemeFor(ec256.privateKey).algorithmIdentifier)).toBe('300a06082a8648ce3d040302');
    expect(hex(signatureSchemeFor(keyTypes.Ed25519.privateKey).algorithmIdentifier)).toBe('300506032b6570');
    expect(() => signatureSchemeFor(generateKeyPairSync('x25519').privateKey)).toThrow(/unsupported CA key type x25519/);
  });

  it('writes validity across 2050 as UTCTime then GeneralizedTime, read back by openssl', () => {
    const der = selfSigned({ notBefore: new Date('2049-12-31T23:59:59Z'), notAfter: new Date('2050-01-01T00:00:00Z') });
    expect(opensslText(der, '-startdate', '-enddate')).toBe('notBefore=Dec 31 23:59:59 2049 GMT\nnotAfter=Jan  1 00:00:00 2050 GMT\n');
    const out = openssl(['asn1parse', '-inform', 'DER'], der).toString();
    expect(out).toContain('UTCTIME           :491231235959Z');
    expect(out).toContain('GENERALIZEDTIME   :20500101000000Z');
  });

  it('encodes the serial as a positive INTEGER, as openssl reads it', () => {
    const der = selfSigned({ serial: Buffer.from('8a00ff0102030405060708090a0b0c0d0e0f1011', 'hex') });
    expect(opensslText(der, '-serial')).toBe('serial=8A00FF0102030405060708090A0B0C0D0E0F1011\n');
    expect(certificateFields(der).serialHex).toBe('8a00ff0102030405060708090a0b0c0d0e0f1011');
  });

  it('writes extensions that openssl renders: critical end-entity basicConstraints, EKU, SKI, AKI', () => {
    const ski = keyIdentifier(spkiOf(ec256.publicKey));
    const der = selfSigned({
      extensions: [
        basicConstraintsEndEntity(),
        extension(OID.extKeyUsage, false, extKeyUsageValue([OID.serverAuth, OID.clientAuth])),
        extension(OID.subjectKeyIdentifier, false, tlv(TAG.OCTET_STRING, ski)),
        extension(OID.authorityKeyIdentifier, false, authorityKeyIdentifierValue(ski)),
      ],
    });
    const text = opensslText(der, '-text');
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    const skiHex = ski.toString('hex').toUpperCase().match(/../g)!.join(':');
    expect(text).toMatch(new RegExp(`X509v3 Subject Key Identifier:\\s+${skiHex}`));
    expect(text).toMatch(new RegExp(`X509v3 Authority Key Identifier:\\s+(keyid:)?${skiHex}`));
  });
});

describe('keyIdentifier (RFC 5280 §4.2.1.2 method 1)', () => {
  it('matches the subjectKeyIdentifier openssl computes with "hash"', () => {
    for (const [i, alg] of [['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], ['rsa:2048'], ['ed25519']].entries()) {
      const pem = openssl(['req', '-x509', '-newkey', ...alg.slice(0, 1), ...alg.slice(1), '-nodes', '-keyout', tmp.path(`ski${i}.pem`), '-subj', '/CN=ski', '-days', '1', '-addext', 'subjectKeyIdentifier=hash']).toString();
      const der = pemBlocks(pem)[0]!;
      const fields = certificateFields(der);
      const fromOpenssl = fields.extensions.get(OID.subjectKeyIdentifier)!;
      expect(hex(tlv(TAG.OCTET_STRING, keyIdentifier(fields.spki)))).toBe(hex(fromOpenssl));
    }
  });
});

describe('certificateFields', () => {
  it('extracts serial, issuer, subject, SPKI and extensions byte-exact from an openssl certificate', () => {
    const keyFile = tmp.path('cf-key.pem');
    const pem = openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-subj', '/C=DE/O=Example/CN=fields', '-set_serial', '0x00c0ffee', '-days', '1', '-addext', 'subjectAltName=DNS:f.example,IP:192.0.2.1']).toString();
    const der = pemBlocks(pem)[0]!;
    const f = certificateFields(der);
    const independent = new x509.X509Certificate(new Uint8Array(der));
    expect(f.serialHex).toBe('c0ffee');
    expect(f.serialHex).toBe(opensslText(der, '-serial').trim().replace('serial=', '').toLowerCase());
    expect(hex(f.subject)).toBe(hex(new Uint8Array(independent.subjectName.toArrayBuffer())));
    expect(hex(f.issuer)).toBe(hex(new Uint8Array(independent.issuerName.toArrayBuffer())));
    expect(hex(f.spki)).toBe(hex(openssl(['pkey', '-in', keyFile, '-pubout', '-outform', 'DER'])));
    expect(hex(f.subjectAltName!)).toBe('3011820966' + Buffer.from('.example').toString('hex') + '8704c0000201');
    expect(f.extensions.get(OID.subjectAltName)).toEqual(f.subjectAltName);
    expect([...f.extensions.keys()]).toContain(OID.basicConstraints);
  });

  it('reads a v1 certificate (no version field, no extensions)', () => {
    const keyFile = tmp.path('v1-key.pem');
    const csr = openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-subj', '/CN=v1']);
    const der = openssl(['x509', '-req', '-signkey', keyFile, '-days', '1', '-set_serial', '5', '-outform', 'DER'], csr);
    expect(opensslText(der, '-text')).toContain('Version: 1 (0x0)');
    const f = certificateFields(der);
    expect(f.serialHex).toBe('05');
    expect(f.subjectAltName).toBeUndefined();
    expect(f.extensions.size).toBe(0);
    expect(hex(f.subject)).toBe(hex(f.issuer));
  });

  it('round-trips what signCertificate wrote', () => {
    const san = seq(tlv(0x82, Buffer.from('rt.example')));
    const der = selfSigned({ serial: Buffer.from('00ff', 'hex'), extensions: [extension(OID.subjectAltName, false, san)] });
    const f = certificateFields(der);
    expect(f.serialHex).toBe('ff');
    expect(hex(f.subject)).toBe(hex(name('unit')));
    expect(hex(f.spki)).toBe(hex(spkiOf(ec256.publicKey)));
    expect(hex(f.subjectAltName!)).toBe(hex(san));
  });

  it('refuses something that is not a certificate', () => {
    expect(() => certificateFields(seq(oid('1.2.3')))).toThrow(/TBSCertificate/);
    expect(() => certificateFields(Buffer.from('3003020101', 'hex'))).toThrow();
  });
});

describe('serialToHex', () => {
  it('is lower-case hex without the DER sign-padding zero', () => {
    expect(serialToHex(Buffer.from('0080', 'hex'))).toBe('80');
    expect(serialToHex(Buffer.from('00c0ffee', 'hex'))).toBe('c0ffee');
    expect(serialToHex(Buffer.from('7F', 'hex'))).toBe('7f');
    expect(serialToHex(Buffer.from('0abc', 'hex'))).toBe('0abc');
    expect(serialToHex(Buffer.from('000005', 'hex'))).toBe('05');
  });

  it('keeps a single zero byte for serial 0', () => {
    expect(serialToHex(Buffer.from('00', 'hex'))).toBe('00');
    expect(serialToHex(Buffer.from('0000', 'hex'))).toBe('00');
  });
});

describe('extension', () => {
  it('writes the critical flag only when critical (DER DEFAULT FALSE)', () => {
    expect(hex(extension(OID.keyUsage, true, keyUsageValue(['digitalSignature'])))).toBe('300e0603551d0f0101ff040403020780');
    expect(hex(extension(OID.keyUsage, false, keyUsageValue(['digitalSignature'])))).toBe('300b0603551d0f040403020780');
  });
});

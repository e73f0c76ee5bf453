/** One node:crypto parse per certificate buffer, never a stale one (src/pki/parsed-certificate.ts). */
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { basicConstraintsEndEntity, signatureSchemeFor, signCertificate } from '../../src/pki/certificate.js';
import { oid, seq, set, tlv, TAG } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';
import { parsedCertificate } from '../../src/pki/parsed-certificate.js';

const name = (cn: string): Buffer => seq(set(seq(oid(OID.commonName), tlv(TAG.UTF8String, Buffer.from(cn)))));
const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function certificate(cn: string, publicKey: KeyObject = keys.publicKey): Buffer {
  return signCertificate(
    {
      serial: Buffer.from('0a0b', 'hex'), issuer: name('issuer'), subject: name(cn),
      notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z'),
      spki: publicKey.export({ type: 'spki', format: 'der' }), extensions: [basicConstraintsEndEntity()],
    },
    keys.privateKey,
    signatureSchemeFor(keys.privateKey),
  );
}

describe('parsedCertificate', () => {
  it('parses as node:crypto does, and gives the same object for the same buffer', () => {
    const der = certificate('first');
    const cert = parsedCertificate(der);
    expect(cert).toBeInstanceOf(X509Certificate);
    expect(cert.subject).toBe('CN=first');
    expect(cert.raw.equals(der)).toBe(true);
    expect(parsedCertificate(der)).toBe(cert);
  });

  it('parses again a buffer with equal bytes but another identity', () => {
    const der = certificate('copy');
    const copy = Buffer.from(der);
    expect(parsedCertificate(copy)).not.toBe(parsedCertificate(der));
    expect(parsedCertificate(copy).subject).toBe('CN=copy');
  });

  it('never answers for bytes that changed since the parse', () => {
    const a = certificate('aaaa');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    // an ECDSA signature's DER length varies by a byte or two: sign again until both have the same length
    let b = certificate('bbbb', other);
    for (let i = 0; i < 100 && b.length !== a.length; i++) b = certificate('bbbb', other);
    expect(b.length).toBe(a.length);
    const buf = Buffer.from(a);
    expect(parsedCertificate(buf).subject).toBe('CN=aaaa');
    b.copy(buf);
    const again = parsedCertificate(buf);
    expect(again.subject).toBe('CN=bbbb');
    expect(again.publicKey.export({ type: 'spki', format: 'der' }).equals(new X509Certificate(b).publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
  });

  it('throws what new X509Certificate throws for bytes that are not a certificate', () => {
    const garbage = Buffer.from('3003020101', 'hex');
    let expected: unknown;
    try {
      new X509Certificate(garbage);
    } catch (err) {
      expected = err;
    }
    expect(expected).toBeInstanceOf(Error);
    expect(() => parsedCertificate(garbage)).toThrow((expected as Error).message);
    // and a failed parse is not remembered: the same buffer, once it holds a certificate, parses
    const buf = certificate('later');
    const broken = Buffer.from(buf);
    broken[0] = 0x31;
    expect(() => parsedCertificate(broken)).toThrow();
    buf.copy(broken);
    expect(parsedCertificate(broken).subject).toBe('CN=later');
  });
});

/** PKCS#10 requests built by src/pki/csr-builder.ts, checked by our own parser and by `openssl req -verify`. */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateKey, CLIENT_KEY_TYPES, type ClientKeyType } from '../../src/client/keys.js';
import { buildCsr, CsrBuildError, csrSignatureScheme } from '../../src/pki/csr-builder.js';
import { parseCsr, verifyCsrSignature } from '../../src/pki/csr.js';
import { extension, keyUsageValue } from '../../src/pki/certificate.js';
import { children, decodeOid, octets, oid, readTop, seq, set, tlv, value } from '../../src/pki/der.js';
import { encodeGeneralNames, ipToBytes, nameToString, parseGeneralNames } from '../../src/pki/names.js';
import { OID } from '../../src/pki/oids.js';
import { opensslRun } from './openssl-async.js';
import { fixtureKey } from '../helpers/fixture-keys.js';

const SANS = {
  dns: ['device.example.com', 'alt.example.com'],
  ip: ['192.0.2.7', '2001:db8::17'],
  email: ['ops@example.com'],
  uri: ['urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e'],
};
const CHANNEL_BINDING = Buffer.alloc(32, 0xa5).toString('base64'); // e.g. "paWl…=", printable

const SIG_OID: Record<ClientKeyType, string> = {
  'ec-p256': OID.ecdsaWithSHA256,
  'ec-p384': OID.ecdsaWithSHA384,
  'rsa-2048': OID.sha256WithRSAEncryption,
  'rsa-3072': OID.sha256WithRSAEncryption,
  'rsa-4096': OID.sha256WithRSAEncryption,
  ed25519: OID.ed25519,
};

async function opensslReq(der: Buffer): Promise<{ text: string; verify: string }> {
  const { stdout, stderr } = await opensslRun(['req', '-inform', 'DER', '-verify', '-noout', '-text'], der);
  return { text: stdout.toString(), verify: stderr };
}

describe('buildCsr for every client key type', () => {
  for (const type of CLIENT_KEY_TYPES) {
    it(`${type}: our parser and openssl accept it, with subject, every SAN type and challengePassword`, async () => {
      const keys = fixtureKey(type);
      const der = buildCsr({ ...keys, subject: 'CN=device-1, O=Example Org, C=DE', sans: SANS, challengePassword: CHANNEL_BINDING });

      const csr = parseCsr(der);
      expect(verifyCsrSignature(csr)).toBe(true);
      expect(csr.signatureAlgorithm).toBe(SIG_OID[type]);
      expect(nameToString(csr.subject)).toBe('CN=device-1, O=Example Org, C=DE');
      expect(csr.challengePassword).toBe(CHANNEL_BINDING);
      expect(csr.spki.equals(keys.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
      const sans = parseGeneralNames(csr.requestedExtensions.get(OID.subjectAltName)!);
      expect(sans).toEqual([
        { type: 'dns', value: 'device.example.com' },
        { type: 'dns', value: 'alt.example.com' },
        { type: 'ip', value: '192.0.2.7' },
        { type: 'ip', value: '2001:db8::17' },
        { type: 'email', value: 'ops@example.com' },
        { type: 'uri', value: SANS.uri[0] },
      ]);

      const { text, verify } = await opensslReq(der);
      expect(verify).toContain('verify OK');
      expect(text).toMatch(/Subject: CN\s?=\s?device-1, O\s?=\s?Example Org, C\s?=\s?DE/);
      expect(text).toContain('DNS:device.example.com');
      expect(text).toContain('DNS:alt.example.com');
      expect(text).toContain('IP Address:192.0.2.7');
      expect(text).toContain('IP Address:2001:DB8:0:0:0:0:0:17');
      expect(text).toContain('email:ops@example.com');
      expect(text).toContain(`URI:${SANS.uri[0]}`);
      expect(text).toContain(`challengePassword        :${CHANNEL_BINDING}`);
    });
  }
});

describe('buildCsr options', () => {
  const p256 = generateKey('ec-p256');

  it('chooses the hash: sha384 by default for P-384, or as asked', async () => {
    const p384 = generateKey('ec-p384');
    expect(parseCsr(buildCsr({ ...p384, subject: 'CN=a' })).signatureAlgorithm).toBe(OID.ecdsaWithSHA384);
    const rsa = fixtureKey('rsa-2048');
    for (const [hash, ec, rsaOid] of [
      ['sha256', OID.ecdsaWithSHA256, OID.sha256WithRSAEncryption],
      ['sha384', OID.ecdsaWithSHA384, OID.sha384WithRSAEncryption],
      ['sha512', OID.ecdsaWithSHA512, OID.sha512WithRSAEncryption],
    ] as const) {
      const a = parseCsr(buildCsr({ ...p256, subject: 'CN=a', hash }));
      expect(a.signatureAlgorithm).toBe(ec);
      expect(verifyCsrSignature(a)).toBe(true);
      const b = parseCsr(buildCsr({ ...rsa, subject: 'CN=a', hash }));
      expect(b.signatureAlgorithm).toBe(rsaOid);
      expect(verifyCsrSignature(b)).toBe(true);
      expect((await opensslRun(['req', '-inform', 'DER', '-verify', '-noout'], b.der)).stderr).toContain('verify OK');
    }
    // Ed25519 signs without a separate hash
    expect(parseCsr(buildCsr({ ...generateKey('ed25519'), subject: 'CN=a', hash: 'sha512' })).signatureAlgorithm).toBe(OID.ed25519);
    // RSA PKCS#1 v1.5 carries NULL parameters (RFC 4055 §5), ECDSA none (RFC 5758 §3.2)
    expect(csrSignatureScheme(rsa.privateKey).algorithmIdentifier.toString('hex')).toBe('300d06092a864886f70d01010b0500');
    expect(csrSignatureScheme(p256.privateKey).algorithmIdentifier.toString('hex')).toBe('300a06082a8648ce3d040302');
  });

  it('signs with a P-521 key brought by the user (ecdsa-with-SHA512)', () => {
    const csr = parseCsr(buildCsr({ ...generateKeyPairSync('ec', { namedCurve: 'P-521' }), subject: 'CN=a' }));
    expect(csr.key).toMatchObject({ type: 'ec', curve: 'P-521' });
    expect(csr.signatureAlgorithm).toBe(OID.ecdsaWithSHA512);
    expect(verifyCsrSignature(csr)).toBe(true);
    expect(() => buildCsr({ ...generateKeyPairSync('ec', { namedCurve: 'secp256k1' }), subject: 'CN=a' })).toThrow(/unsupported elliptic curve/);
  });

  it('allows an empty subject, then marks subjectAltName critical (RFC 5280 §4.2.1.6)', async () => {
    const der = buildCsr({ ...p256, subject: '', sans: { dns: ['only.example'] } });
    const csr = parseCsr(der);
    expect(csr.subject.equals(Buffer.from([0x30, 0x00]))).toBe(true);
    const { text, verify } = await opensslReq(der);
    expect(verify).toContain('verify OK');
    expect(text).toMatch(/X509v3 Subject Alternative Name: critical/);
  });

  it('takes a DER Name byte for byte (reenroll, RFC 7030 §4.2.2), refusing anything else', () => {
    // a PrintableString CN, as another CA may have issued it: re-encoding as UTF8String would change the bytes
    const name = seq(set(seq(oid(OID.commonName), tlv(0x13, Buffer.from('legacy device')))));
    const csr = parseCsr(buildCsr({ ...p256, subject: name }));
    expect(csr.subject.equals(name)).toBe(true);
    expect(verifyCsrSignature(csr)).toBe(true);
    expect(() => buildCsr({ ...p256, subject: oid(OID.commonName) })).toThrow(/subject: a DER Name must be a SEQUENCE/);
    expect(() => buildCsr({ ...p256, subject: Buffer.from([0x30, 0x05]) })).toThrow(CsrBuildError);
  });

  it('omits challengePassword and extensionRequest when there is nothing to put in them', () => {
    const csr = parseCsr(buildCsr({ ...p256, subject: 'CN=a', challengePassword: '' }));
    expect(csr.attributeTypes).toEqual([]);
    expect(csr.challengePassword).toBeUndefined();
  });

  it('encodes challengePassword as PrintableString when it fits, UTF8String otherwise', async () => {
    const printable = parseCsr(buildCsr({ ...p256, subject: 'CN=a', challengePassword: 'abc+/=' }));
    const utf8 = parseCsr(buildCsr({ ...p256, subject: 'CN=a', challengePassword: 'pässwört_1' }));
    const tagOf = (der: Buffer): number => {
      const info = children(der, readTop(der))[0]!;
      const attrs = children(der, children(der, info)[3]!);
      const values = children(der, attrs[0]!)[1]!;
      return children(der, values)[0]!.tag;
    };
    expect(tagOf(printable.der)).toBe(0x13);
    expect(tagOf(utf8.der)).toBe(0x0c);
    expect(utf8.challengePassword).toBe('pässwört_1');
    expect((await opensslReq(utf8.der)).verify).toContain('verify OK');
    expect(() => buildCsr({ ...p256, subject: 'CN=a', challengePassword: 'x'.repeat(256) })).toThrow(/255/);
  });

  it('adds extra extensions and attributes; refuses the same extension twice', async () => {
    const ku = extension(OID.keyUsage, true, keyUsageValue(['digitalSignature', 'keyAgreement']));
    const keyId = Buffer.alloc(20, 7);
    const der = buildCsr({
      ...p256,
      subject: 'CN=a',
      sans: { dns: ['a.example'] },
      extraExtensions: [ku],
      extraAttributes: [{ type: OID.asymmetricDecryptKeyIdentifier, values: [octets(keyId)] }],
    });
    const csr = parseCsr(der);
    expect(verifyCsrSignature(csr)).toBe(true);
    expect([...csr.requestedExtensions.keys()]).toEqual([OID.subjectAltName, OID.keyUsage]);
    expect(csr.asymmetricDecryptKeyId?.equals(keyId)).toBe(true);
    const { text, verify } = await opensslReq(der);
    expect(verify).toContain('verify OK');
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Agreement/);

    const san = extension(OID.subjectAltName, false, encodeGeneralNames([{ type: 'dns', value: 'b.example' }]));
    expect(() => buildCsr({ ...p256, subject: 'CN=a', sans: { dns: ['a.example'] }, extraExtensions: [san] })).toThrow(/subjectAltName given twice/);
  });

  it('sorts the attributes as DER SET OF requires', () => {
    const der = buildCsr({ ...p256, subject: 'CN=a', sans: { dns: ['a.example'] }, challengePassword: 'pw' });
    const info = children(der, readTop(der))[0]!;
    const attrs = children(der, children(der, info)[3]!);
    const types = attrs.map((a) => decodeOid(value(der, children(der, a)[0]!)));
    expect(types).toEqual([OID.challengePassword, OID.extensionRequest]);
  });

  it('rejects bad names with a clear error', () => {
    expect(() => buildCsr({ ...p256, subject: 'XX=a' })).toThrow(CsrBuildError);
    expect(() => buildCsr({ ...p256, subject: 'CN=a', sans: { ip: ['300.1.1.1'] } })).toThrow(/not an IP address/);
    expect(() => buildCsr({ ...p256, subject: 'CN=a', sans: { dns: ['bücher.example'] } })).toThrow(/punycode/);
  });
});

describe('GeneralNames encoding (names.ts)', () => {
  it('encodes IP addresses as 4 or 16 octets', () => {
    expect(ipToBytes('10.1.2.3').toString('hex')).toBe('0a010203');
    expect(ipToBytes('::1').toString('hex')).toBe('00000000000000000000000000000001');
    expect(ipToBytes('::').toString('hex')).toBe('0'.repeat(32));
    expect(ipToBytes('fe80::1:2').toString('hex')).toBe('fe800000000000000000000000010002');
    expect(ipToBytes('2001:db8:1:2:3:4:5:6').toString('hex')).toBe('20010db8000100020003000400050006');
    expect(ipToBytes('::ffff:192.0.2.1').toString('hex')).toBe('00000000000000000000ffffc0000201');
    expect(ipToBytes('1::').toString('hex')).toBe('0001' + '0'.repeat(28));
  });

  it('round-trips through parseGeneralNames', () => {
    const names = [
      { type: 'dns', value: 'x.example' },
      { type: 'ip', value: '10.0.0.1' },
      { type: 'email', value: 'a@b.example' },
      { type: 'uri', value: 'https://x.example/p' },
    ] as const;
    expect(parseGeneralNames(encodeGeneralNames(names))).toEqual(names);
    expect(encodeGeneralNames([{ type: 'dns', value: 'x' }]).equals(Buffer.from('30038201' + '78', 'hex'))).toBe(true);
  });
});

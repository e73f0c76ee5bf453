/** /csrattrs interpretation: our own server's answers, RFC 7030 / RFC 9908 examples, hand-built templates. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrTemplate, describeCsrAttrs } from '../../src/client/csr-template.js';
import { generateKey } from '../../src/client/keys.js';
import { buildCsr } from '../../src/pki/csr-builder.js';
import { decodeCsrAttrs, encodeCsrAttrs, type AttrOrOid } from '../../src/pki/csr-attrs.js';
import { parseCsr, verifyCsrSignature } from '../../src/pki/csr.js';
import { extension, keyUsageValue } from '../../src/pki/certificate.js';
import { DER_TRUE, bitString, explicit, octets, oid, seq, set, smallInteger, tlv, unsignedInteger } from '../../src/pki/der.js';
import { encodeGeneralNames } from '../../src/pki/names.js';
import { OID } from '../../src/pki/oids.js';
import { createEnrollmentService, type EnrollmentService } from '../../src/ra/enrollment-service.js';
import { defaultProfile } from '../../src/ra/default-profile.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';
import type { NewProfile } from '../../src/ra/model.js';

const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
const attr = (type: string, ...values: Buffer[]): AttrOrOid => ({ type, values });

describe('csrattrs from our own server (src/ra/enrollment-service.ts)', () => {
  let dir: string;
  let store: SqliteStore;
  let service: EnrollmentService;

  const profile = async (label: string, changes: Partial<NewProfile>): Promise<void> => {
    await store.createProfile({ ...defaultProfile(label, 'issuing'), ...changes });
  };
  const fetch = async (label: string): Promise<AttrOrOid[]> => {
    const der = await service.csrattrs(label);
    return der === undefined ? [] : decodeCsrAttrs(der);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'estuary-csrattrs-'));
    store = openSqliteStore(join(dir, 'estuary.db'));
    service = createEnrollmentService({ store, cas: new Map(), defaultProfile: 'default', now: () => new Date(), logger: pino({ enabled: false }) });
    await profile('default', {});
    await profile('p384', { keyAlgorithms: [{ type: 'ec', curves: ['P-384'] }], popLinking: 'required', csrAttrs: ['macAddress'] });
    await profile('p256', { keyAlgorithms: [{ type: 'ec', curves: ['P-256', 'P-384'] }], csrAttrs: ['challengePassword'] });
    await profile('p521', { keyAlgorithms: [{ type: 'ec', curves: ['P-521'] }] });
    await profile('rsa', { keyAlgorithms: [{ type: 'rsa', minBits: 3000 }] });
    await profile('rsa2k', { keyAlgorithms: [{ type: 'rsa', minBits: 2048 }], csrAttrs: ['1.2.3.4.5'] });
    await profile('ed', { keyAlgorithms: [{ type: 'ed25519' }] });
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('default profile: 204, nothing asked', async () => {
    expect(await fetch('default')).toEqual([]);
    expect(csrTemplate([])).toEqual({ challengePassword: false, extensions: [], unsupported: [], subject: [], fromTemplate: false });
  });

  it('P-384 with PoP linking required and macAddress', async () => {
    const attrs = await fetch('p384');
    expect(csrTemplate(attrs)).toEqual({
      challengePassword: true, keyType: 'ec-p384', hash: 'sha384', extensions: [], unsupported: [OID.macAddress], subject: [], fromTemplate: false,
    });
    expect(describeCsrAttrs(attrs)).toEqual([
      { oid: OID.challengePassword, name: 'challengePassword' },
      { oid: OID.macAddress, name: 'macAddress' },
      { oid: OID.ecPublicKey, name: 'ecPublicKey', values: ['secp384r1'] },
      { oid: OID.ecdsaWithSHA384, name: 'ecdsaWithSHA384' },
    ]);
  });

  it('two curves: the first one announced (DER order puts P-384 first) with its hash; RSA sizes rounded up, Ed25519 without a hash, P-521 unsupported', async () => {
    // RFC 9908 form: both curves in one id-ecPublicKey attribute, then the hashes in the same order
    expect((await fetch('p256')).slice(1, 3)).toEqual([{ type: OID.ecPublicKey, values: [oid(OID.secp384r1), oid(OID.secp256r1)] }, { oid: OID.ecdsaWithSHA384 }]);
    expect(csrTemplate(await fetch('p256'))).toMatchObject({ challengePassword: true, keyType: 'ec-p384', hash: 'sha384', unsupported: [] });
    expect(csrTemplate(await fetch('rsa'))).toMatchObject({ keyType: 'rsa-3072', hash: 'sha256', unsupported: [] });
    expect(describeCsrAttrs(await fetch('rsa'))[0]).toEqual({ oid: OID.rsaEncryption, name: 'rsaEncryption', values: ['3000'] });
    const rsa2k = csrTemplate(await fetch('rsa2k'));
    expect(rsa2k).toMatchObject({ keyType: 'rsa-2048', hash: 'sha256', unsupported: ['1.2.3.4.5'] });
    const ed = csrTemplate(await fetch('ed'));
    expect(ed.keyType).toBe('ed25519');
    expect(ed.hash).toBeUndefined();
    const p521 = csrTemplate(await fetch('p521'));
    expect(p521.keyType).toBeUndefined();
    expect(p521.unsupported).toEqual([OID.secp521r1]);
  });

  it('a CSR built from the template passes our server parser', async () => {
    const t = csrTemplate(await fetch('p384'));
    const keys = generateKey(t.keyType!);
    const csr = parseCsr(buildCsr({ ...keys, subject: 'CN=dev', challengePassword: 'cGF5bG9hZA==', hash: t.hash, extraExtensions: t.extensions }));
    expect(verifyCsrSignature(csr)).toBe(true);
    expect(csr.key).toMatchObject({ type: 'ec', curve: 'P-384' });
  });
});

describe('RFC 7030 and RFC 9908 list-form examples', () => {
  it('RFC 7030 §4.5.2 example (extensionRequest holding a bare macAddress OID)', () => {
    const der = Buffer.from('MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJBgcrBgEBAQEWBggqhkjOPQQDAw==', 'base64');
    const attrs = decodeCsrAttrs(der);
    expect(csrTemplate(attrs)).toEqual({
      challengePassword: true, keyType: 'ec-p384', hash: 'sha384', extensions: [], unsupported: [OID.macAddress], subject: [], fromTemplate: false,
    });
    expect(describeCsrAttrs(attrs).map((d) => [d.name, d.values])).toEqual([
      ['challengePassword', undefined], ['ecPublicKey', ['secp384r1']], ['extensionRequest', ['macAddress']], ['ecdsaWithSHA384', undefined],
    ]);
  });

  it('RFC 9908 corrected example: extensionRequest with a subjectDirectoryAttributes Extension, included as given', () => {
    const sda = extension(OID.subjectDirectoryAttributes, false, seq(seq(oid(OID.macAddress))));
    const attrs: AttrOrOid[] = [{ oid: OID.challengePassword }, attr(OID.ecPublicKey, oid(OID.secp384r1)), attr(OID.extensionRequest, seq(sda)), { oid: OID.ecdsaWithSHA384 }];
    const t = csrTemplate(decodeCsrAttrs(encodeCsrAttrs(attrs)));
    expect(t.extensions.map((e) => e.toString('hex'))).toEqual([sda.toString('hex')]);
    expect(describeCsrAttrs(attrs)[2]!.values).toEqual(['subjectDirectoryAttributes: macAddress']);
  });

  it('RSA 4096 with SHA-256 (RFC 9908 "specific size" example); sizes above 4096 unsupported', () => {
    expect(csrTemplate([{ oid: OID.challengePassword }, attr(OID.rsaEncryption, smallInteger(4096)), { oid: OID.sha256WithRSAEncryption }]))
      .toMatchObject({ challengePassword: true, keyType: 'rsa-4096', hash: 'sha256' });
    const big = csrTemplate([attr(OID.rsaEncryption, smallInteger(8192))]);
    expect(big.keyType).toBeUndefined();
    expect(big.unsupported).toEqual([OID.rsaEncryption]);
    expect(csrTemplate([attr(OID.rsaEncryption, smallInteger(1024))]).keyType).toBe('rsa-2048');
  });

  it('secp521r1, subject attributes and unknown attributes asked through a bare-OID extensionRequest', () => {
    const favouriteDrink = '0.9.2342.19200300.100.1.5';
    const attrs = [
      { oid: OID.challengePassword },
      attr(OID.ecPublicKey, oid(OID.secp521r1)),
      attr(OID.extensionRequest, oid(OID.serialNumber), oid(OID.friendlyName), oid(favouriteDrink)),
      { oid: OID.ecdsaWithSHA512 },
    ];
    const t = csrTemplate(decodeCsrAttrs(encodeCsrAttrs(attrs)));
    expect(t.keyType).toBeUndefined();
    expect(t.hash).toBe('sha512');
    expect(t.subject).toEqual([{ type: OID.serialNumber }]);
    expect(new Set(t.unsupported)).toEqual(new Set([OID.secp521r1, OID.friendlyName, favouriteDrink]));
    // the same OIDs inside one SEQUENCE value
    const inSeq = csrTemplate([attr(OID.extensionRequest, seq(oid(OID.serialNumber), oid(OID.macAddress)))]);
    expect(inSeq).toMatchObject({ subject: [{ type: OID.serialNumber }], unsupported: [OID.macAddress] });
  });

  it('a SAN Extension with an otherName (RFC 8994 ACP style) is kept verbatim; a bare subjectAltName OID asks for SANs', () => {
    const otherName = tlv(0xa0, oid('1.3.6.1.5.5.7.8.10'), explicit(0, utf8('rfc8994+fd73…@acp.example.com')));
    const san = extension(OID.subjectAltName, false, seq(otherName));
    const t = csrTemplate([attr(OID.extensionRequest, seq(san))]);
    expect(t.extensions).toEqual([san]);
    expect(t.sans).toBeUndefined();
    expect(describeCsrAttrs([attr(OID.extensionRequest, seq(san))])[0]!.values).toEqual(['subjectAltName: otherName:1.3.6.1.5.5.7.8.10']);
    expect(csrTemplate([{ oid: OID.subjectAltName }, { oid: OID.commonName }])).toMatchObject({ sans: {}, subject: [{ type: OID.commonName }] });
  });

  it('infers the key family from a lone signature algorithm; a hash OID alone sets the hash', () => {
    expect(csrTemplate([{ oid: OID.ecdsaWithSHA384 }])).toMatchObject({ keyType: 'ec-p384', hash: 'sha384' });
    expect(csrTemplate([{ oid: OID.sha512WithRSAEncryption }])).toMatchObject({ keyType: 'rsa-2048', hash: 'sha512' });
    const hashOnly = csrTemplate([{ oid: OID.sha384 }]);
    expect(hashOnly.keyType).toBeUndefined();
    expect(hashOnly.hash).toBe('sha384');
    // the signature algorithm matching the stated key wins
    expect(csrTemplate([{ oid: OID.sha256WithRSAEncryption }, attr(OID.ecPublicKey, oid(OID.secp384r1)), { oid: OID.ecdsaWithSHA384 }]))
      .toMatchObject({ keyType: 'ec-p384', hash: 'sha384' });
  });

  it('tolerates what it cannot read (RFC 8951 §4) and renders it', () => {
    const attrs = [attr('1.2.3.4', tlv(0x04, Buffer.from([1, 2]))), attr(OID.extensionRequest, tlv(0x04, Buffer.from([9]))), attr(OID.unstructuredName, tlv(0x13, Buffer.from('x')))];
    expect(csrTemplate(attrs).unsupported).toEqual(['1.2.3.4', OID.extensionRequest, OID.unstructuredName]);
    expect(describeCsrAttrs(attrs).map((d) => d.values)).toEqual([['hex:04020102'], ['hex:040109'], ['"x"']]);
  });
});

/** RFC 9908 §4's example template: CN to fill, two fixed OUs, a P-256 key, SAN with a fixed DNS name and an IP to fill, keyUsage, extKeyUsage to fill. */
function rfc9908Template(key: Buffer = seq(seq(oid(OID.ecPublicKey), oid(OID.secp256r1)))): Buffer {
  const subject = seq(set(seq(oid(OID.commonName))), set(seq(oid(OID.organizationalUnitName), utf8('myDept'))), set(seq(oid(OID.organizationalUnitName), utf8('myGroup'))));
  const exts = seq(
    seq(oid(OID.subjectAltName), octets(seq(tlv(0x82, Buffer.from('www.myServer.com')), tlv(0x87, Buffer.alloc(0))))),
    seq(oid(OID.keyUsage), DER_TRUE, octets(keyUsageValue(['digitalSignature', 'keyAgreement']))),
    seq(oid(OID.extKeyUsage)),
  );
  const attributes = tlv(0xa1, seq(oid(OID.extensionReqTemplate), set(exts)), seq(oid(OID.challengePassword), set(utf8('x'))));
  return seq(smallInteger(0), subject, tlv(0xa0, key), attributes);
}

describe('RFC 9908 CertificationRequestInfoTemplate', () => {
  it('is used alone when present, and read completely', () => {
    const attrs = decodeCsrAttrs(encodeCsrAttrs([{ oid: OID.ecdsaWithSHA512 }, attr(OID.certificationRequestInfoTemplate, rfc9908Template()), { oid: OID.macAddress }]));
    const t = csrTemplate(attrs);
    expect(t).toEqual({
      challengePassword: true,
      keyType: 'ec-p256',
      extensions: [extension(OID.keyUsage, true, keyUsageValue(['digitalSignature', 'keyAgreement']))],
      unsupported: [OID.extKeyUsage],
      subject: [{ type: OID.commonName }, { type: OID.organizationalUnitName, value: 'myDept' }, { type: OID.organizationalUnitName, value: 'myGroup' }],
      sans: { dns: ['www.myServer.com'], ip: [], email: [], uri: [] },
      fromTemplate: true,
    });
    expect(describeCsrAttrs(attrs)[1]!.values).toEqual([
      'subject: commonName=<to be filled in by the client>, organizationalUnitName=myDept, organizationalUnitName=myGroup',
      'key: ecPublicKey secp256r1',
      'extension subjectAltName: DNS:www.myServer.com, IP:<to be filled in by the client>',
      'extension keyUsage (critical): digitalSignature, keyAgreement',
      'extension extKeyUsage: <to be filled in by the client>',
      'attribute challengePassword: "x"',
    ]);
  });

  it('takes the RSA size from the dummy key and keeps a complete SAN as given', () => {
    const modulus = Buffer.alloc(384, 0xff); // 3072 bits
    const dummy = seq(seq(oid(OID.rsaEncryption), tlv(0x05)), bitString(seq(unsignedInteger(modulus), smallInteger(65537))));
    const san = encodeGeneralNames([{ type: 'dns', value: 'fixed.example' }]);
    const tpl = seq(smallInteger(0), tlv(0xa0, dummy), tlv(0xa1, seq(oid(OID.extensionReqTemplate), set(seq(seq(oid(OID.subjectAltName), octets(san)))))));
    const t = csrTemplate([attr(OID.certificationRequestInfoTemplate, tpl)]);
    expect(t.keyType).toBe('rsa-3072');
    expect(t.extensions).toEqual([extension(OID.subjectAltName, false, san)]);
    expect(t.sans).toBeUndefined();
    expect(describeCsrAttrs([attr(OID.certificationRequestInfoTemplate, tpl)])[0]!.values).toEqual(['key: rsaEncryption 3072 bits', 'extension subjectAltName: DNS:fixed.example']);
  });

  it('a template with another version falls back to the list form and is reported', () => {
    const tpl = seq(smallInteger(1));
    const t = csrTemplate([attr(OID.certificationRequestInfoTemplate, tpl), { oid: OID.challengePassword }]);
    expect(t).toMatchObject({ fromTemplate: false, challengePassword: true, unsupported: [OID.certificationRequestInfoTemplate] });
  });
});

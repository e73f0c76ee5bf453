/**
 * Malformed names are a 400 with the reason, and the server keeps serving: subject DER shapes
 * (RFC 5280 §4.1.2.4), GeneralName forms (RFC 5280 §4.2.1.6); then wildcards and caps (403).
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oid, seq, set, TAG, tlv } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';
import { hashPassword } from '../../src/ra/password.js';
import { EMPTY_NAME_POLICY, type NamePolicy } from '../../src/ra/model.js';
import { certsFrom, csrBody, estRequest } from '../helpers/est-http.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { cn, ia5, printable, rawCsr, rdn, utf8, type RawCsrOptions } from '../helpers/raw-csr.js';

let s: TestServer;
let basic: { user: string; password: string };

async function profileWith(label: string, namePolicy: Partial<NamePolicy>): Promise<void> {
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label, namePolicy: { ...EMPTY_NAME_POLICY, ...namePolicy } });
}

function enroll(csr: RawCsrOptions, label = 'default', creds = basic) {
  return estRequest(`${s.base}/${label}/simpleenroll`, { ca: s.rootPem, basic: creds, body: csrBody(rawCsr(csr)), contentType: 'application/pkcs10' });
}

beforeAll(async () => {
  s = await startServer();
  basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  await profileWith('wild', { allowWildcards: true });
  await profileWith('tight', { maxSans: 2, maxRdns: 3, maxSubjectBytes: 100 });
  await profileWith('cn-ip', { ipRanges: ['10.0.0.0/8'] });
  await s.runtime.store.createAccount({ email: 'web@example.com', passwordHash: await hashPassword('web-account-password'), role: 'est' });
  await s.runtime.store.setAccountAllowedNames('web@example.com', ['*.example.com', 'email:*@example.com', 'uri:https://*.example.com/*']);
});
afterAll(async () => {
  await s.runtime.close();
});

/** A SET whose length is written in two octets where one suffices. */
const longFormSet = (content: Buffer): Buffer => Buffer.concat([Buffer.from([0x31, 0x81, content.length]), content]);

describe('subject DER is validated (400 + reason)', () => {
  it.each([
    ['an RDN that is a SEQUENCE, not a SET', seq(seq(seq(oid(OID.commonName), utf8('x')))), /RDN is not a SET/],
    ['an AttributeTypeAndValue that is a SET', seq(set(set(oid(OID.commonName), utf8('x')))), /AttributeTypeAndValue is not a SEQUENCE/],
    ['an attribute type that is an INTEGER', seq(set(seq(tlv(TAG.INTEGER, Buffer.from([3])), utf8('x')))), /type is not an OBJECT IDENTIFIER/],
    ['an attribute without a value', seq(set(seq(oid(OID.commonName)))), /exactly a type and a value/],
    ['an INTEGER value', seq(rdn(OID.commonName, tlv(TAG.INTEGER, Buffer.from([5])))), /tag 0x2, not a string/],
    ['a nested SEQUENCE value', seq(rdn(OID.commonName, seq(utf8('x')))), /not a string/],
    ['invalid UTF-8', seq(rdn(OID.commonName, utf8(Buffer.from([0x61, 0xff, 0xfe])))), /not valid UTF-8/],
    ['a NUL in a CN', seq(cn('good\u0000evil.example.com')), /control character/],
    ['an empty RDN', seq(set()), /empty SET/],
    ['an empty value', seq(rdn(OID.commonName, utf8(''))), /value is empty/],
    ['a non-minimal length', seq(longFormSet(seq(oid(OID.commonName), utf8('x')))), /shortest form/],
    ['a PrintableString with @', seq(rdn(OID.commonName, printable('a@b'))), /PrintableString has characters outside/],
    ['a UTF8String countryName', seq(rdn(OID.countryName, utf8('DE'))), /must be PrintableString/],
    ['a three-letter countryName', seq(rdn(OID.countryName, printable('DEU'))), /two letters/],
    ['an emailAddress that is not one', seq(rdn(OID.emailAddress, ia5('not-an-email'))), /subject emailAddress/],
    ['an OID with a padded arc', seq(set(seq(tlv(TAG.OID, Buffer.from([0x55, 0x80, 0x04])), utf8('x')))), /non-minimal arc/],
  ])('%s', async (_what, subject, reason) => {
    const res = await enroll({ subject });
    expect(res.status, res.text).toBe(400);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(reason);
  });

  it('keeps serving, and issues well-formed subjects of every string form', async () => {
    const subject = seq(rdn(OID.countryName, printable('DE')), rdn(OID.organizationName, tlv(0x1e, Buffer.from('\u00d6rg', 'utf16le').swap16())), cn('ok.example.com'));
    const res = await enroll({ subject });
    expect(res.status, res.text).toBe(200);
    expect(new X509Certificate(certsFrom(res)[0]!).subject).toBe('C=DE\nO=Örg\nCN=ok.example.com');
  });
});

const gn = (tag: number, value: string | Buffer): Buffer => tlv(tag, typeof value === 'string' ? Buffer.from(value, 'latin1') : value);

describe('names are syntax-checked (400 + reason)', () => {
  it.each([
    ['a DNS name with a space', gn(0x82, 'a b.example.com'), /is not a DNS name/],
    ['a DNS name with a NUL', gn(0x82, 'good.example.com\u0000.evil.com'), /is not a DNS name/],
    ['a DNS name with <', gn(0x82, '<script>.example.com'), /is not a DNS name/],
    ['an empty label', gn(0x82, 'a..example.com'), /empty label/],
    ['a trailing dot', gn(0x82, 'a.example.com.'), /ends with a dot/],
    ['a 64-character label', gn(0x82, `${'a'.repeat(64)}.example.com`), /longer than 63/],
    ['a name over 253 characters', gn(0x82, `${'a.'.repeat(127)}com`), /longer than 253/],
    ['a U-label', gn(0x82, Buffer.from('bücher.example', 'utf8')), /not ASCII/],
    ['a broken A-label', gn(0x82, 'xn--a.example'), /invalid A-label/],
    ['"--" in positions 3-4', gn(0x82, 'ab--cd.example'), /not an A-label/],
    ['a 5-byte IP address', gn(0x87, Buffer.from([10, 0, 0, 1, 0])), /5 bytes \(4 or 16\)/],
    ['an IP address with a mask', gn(0x87, Buffer.from([10, 0, 0, 0, 255, 0, 0, 0])), /8 bytes/],
    ['an email without @', gn(0x81, 'someone.example.com'), /is not an email address/],
    ['an email with a space', gn(0x81, 'some one@example.com'), /invalid local part/],
    ['a relative URI', gn(0x86, '/path/only'), /not an absolute URI/],
    ['a URI with a space', gn(0x86, 'https://a.example.com/x y'), /characters RFC 3986 does not allow/],
    ['a URI without host', gn(0x86, 'https:///x'), /empty host/],
  ])('%s', async (_what, name, reason) => {
    const res = await enroll({ subject: '', rawSan: seq(name) });
    expect(res.status, res.text).toBe(400);
    expect(res.text).toMatch(reason);
  });

  it('accepts an A-label IDN, IPv6, an email and a URI', async () => {
    const res = await enroll({ subject: 'CN=idn', sans: { dns: ['xn--bcher-kva.example'], ip: ['2001:db8::1'], email: ['a.b+c@example.com'], uri: ['urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66'] } });
    expect(res.status, res.text).toBe(200);
  });

  it('holds a CN that is an IP address to ipRanges', async () => {
    expect((await enroll({ subject: 'CN=10.1.2.3' }, 'cn-ip')).status).toBe(200);
    const res = await enroll({ subject: 'CN=192.168.1.1' }, 'cn-ip');
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/IP address 192.168.1.1 is not in an allowed range/);
  });
});

describe('account name globs apply per name type', () => {
  const web = { user: 'web@example.com', password: 'web-account-password' };
  it('a DNS glob does not admit an email address or URI; prefixed globs do', async () => {
    expect((await enroll({ subject: 'CN=www.example.com', sans: { dns: ['www.example.com'], email: ['ops@example.com'], uri: ['https://www.example.com/x'] } }, 'default', web)).status).toBe(200);
    const email = await enroll({ subject: 'CN=www.example.com', sans: { email: ['www@evil.com'] } }, 'default', web);
    expect(email.status).toBe(403);
    expect(email.text).toMatch(/may not request the email address "www@evil.com"/);
    // before: the bare glob *.example.com admitted the email "x@y.example.com"
    expect((await enroll({ subject: 'CN=a.example.com', sans: { email: ['x@y.example.com'] } }, 'default', web)).status).toBe(403);
    const subjectEmail = await enroll({ subject: seq(cn('a.example.com'), rdn(OID.emailAddress, ia5('boss@evil.com'))) }, 'default', web);
    expect(subjectEmail.status).toBe(403);
    expect(subjectEmail.text).toMatch(/email address "boss@evil.com"/);
  });
});

describe('wildcards (RFC 6125 §6.4.3)', () => {
  const web = { user: 'web@example.com', password: 'web-account-password' };
  it('an account allowed *.example.com gets names under it, not the wildcard itself', async () => {
    expect((await enroll({ subject: 'CN=a.example.com', sans: { dns: ['a.example.com'] } }, 'default', web)).status).toBe(200);
    const san = await enroll({ subject: 'CN=a.example.com', sans: { dns: ['*.example.com'] } }, 'default', web);
    expect(san.status).toBe(403);
    expect(san.text).toMatch(/does not issue wildcard certificates \("\*.example.com"\)/);
    expect((await enroll({ subject: 'CN=*.example.com' }, 'default', web)).status).toBe(403);
  });

  it('a profile that allows wildcards issues a leftmost-label wildcard only', async () => {
    expect((await enroll({ subject: 'CN=*.example.com', sans: { dns: ['*.example.com'] } }, 'wild', web)).status).toBe(200);
    const partial = await enroll({ subject: 'CN=x', sans: { dns: ['a*.example.com'] } }, 'wild');
    expect(partial.status).toBe(400);
    const deep = await enroll({ subject: 'CN=a.*.example.com' }, 'wild');
    expect(deep.status).toBe(403);
    expect(deep.text).toMatch(/only a whole leftmost label/);
  });
});

describe('caps', () => {
  it('refuses more SANs than the default 100, and more than a profile allows', async () => {
    const dns = (n: number) => Array.from({ length: n }, (_, i) => `h${i}.example.com`);
    const many = await enroll({ subject: 'CN=many', sans: { dns: dns(101) } });
    expect(many.status).toBe(403);
    expect(many.text).toMatch(/at most 100 subjectAltName entries \(the request has 101\)/);
    expect((await enroll({ subject: 'CN=hundred', sans: { dns: dns(100) } })).status).toBe(200);
    expect((await enroll({ subject: 'CN=three', sans: { dns: dns(3) } }, 'tight')).status).toBe(403);
  });

  it('refuses more RDNs and a larger subject than the default and the profile allow', async () => {
    const rdns = (n: number) => seq(...Array.from({ length: n }, (_, i) => rdn(OID.organizationalUnitName, utf8(`u${i}`))));
    const deep = await enroll({ subject: rdns(33) });
    expect(deep.status).toBe(403);
    expect(deep.text).toMatch(/at most 32 RDNs/);
    expect((await enroll({ subject: rdns(4) }, 'tight')).text).toMatch(/at most 3 RDNs/);
    const big = await enroll({ subject: seq(cn('x'.repeat(1100))) });
    expect(big.status).toBe(403);
    expect(big.text).toMatch(/subject of at most 1024 bytes/);
    expect((await enroll({ subject: seq(cn('x'.repeat(120))) }, 'tight')).status).toBe(403);
  });
});

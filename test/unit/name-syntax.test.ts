/** Name syntax, RFC 5280 §7.1 matching, per-type globs and ChangeSubjectName parsing: the pure functions. */
import { describe, expect, it } from 'vitest';
import { oid, seq, set, TAG, tlv } from '../../src/pki/der.js';
import { foldNameValue, generalNameSetsMatch, namesMatch } from '../../src/pki/name-compare.js';
import { dnsNameProblem, emailProblem, generalNamesDerProblem, nameDerProblem, uriProblem } from '../../src/pki/name-syntax.js';
import { encodeGeneralNames, encodeName, nameAttributes, parseChangeSubjectName } from '../../src/pki/names.js';
import { OID } from '../../src/pki/oids.js';
import { globAdmits, nameGlobProblem } from '../../src/ra/name-globs.js';
import { validateNamePolicy } from '../../src/ra/name-policy.js';
import { EMPTY_NAME_POLICY } from '../../src/ra/model.js';

const str = (tag: number, b: Buffer) => tlv(tag, b);
const name = (...atvs: Array<[string, Buffer]>) => seq(...atvs.map(([t, v]) => set(seq(oid(t), v))));

describe('dnsNameProblem', () => {
  it.each(['example.com', 'a-b.example.com', 'xn--bcher-kva.example', '*.example.com', 'localhost', '1.2.3.4'])('accepts %s', (n) => {
    expect(dnsNameProblem(n)).toBeUndefined();
  });
  it.each([
    ['', /empty/], ['a..b', /empty label/], ['a.b.', /ends with a dot/], ['-a.b', /not a DNS name/], ['a-.b', /not a DNS name/],
    ['a_b.c', /not a DNS name/], ['a b', /not a DNS name/], ['a\u0000b', /\\x00/], [`${'x'.repeat(64)}.c`, /63/], ['a.*.c', /not a DNS name/],
    ['*', /not a DNS name/], ['xn--ab.c', /invalid A-label/], ['ab--cd.c', /positions 3–4/],
  ])('refuses %j', (n, reason) => {
    expect(dnsNameProblem(n)).toMatch(reason);
  });
});

describe('emailProblem and uriProblem', () => {
  it('accepts mailboxes and absolute URIs, refuses the rest', () => {
    expect(emailProblem('first.last+tag@example.com')).toBeUndefined();
    expect(emailProblem('@example.com')).toMatch(/not an email address/);
    expect(emailProblem('a..b@example.com')).toMatch(/local part/);
    expect(emailProblem('a@*.example.com')).toMatch(/wildcard/);
    expect(emailProblem('a@exa mple.com')).toMatch(/invalid domain/);
    expect(uriProblem('https://h.example.com:8443/p?q=1#f')).toBeUndefined();
    expect(uriProblem('urn:ietf:rfc:5280')).toBeUndefined();
    expect(uriProblem('h.example.com/p')).toMatch(/not an absolute URI/);
    expect(uriProblem('https://h.example.com/%zz')).toMatch(/percent-encoding/);
    expect(uriProblem('https://user@:80/')).toMatch(/empty host/);
  });
});

describe('nameDerProblem', () => {
  it('accepts every DirectoryString form and the empty Name', () => {
    const ok = name(
      [OID.countryName, str(TAG.PrintableString, Buffer.from('DE'))],
      [OID.organizationName, str(0x1e, Buffer.from('Ö', 'utf16le').swap16())],
      [OID.localityName, str(0x1c, Buffer.from([0, 0, 0, 0x41]))],
      [OID.stateOrProvinceName, str(0x14, Buffer.from('Bayern'))],
      [OID.commonName, str(TAG.UTF8String, Buffer.from('Grüße'))],
      [OID.emailAddress, str(TAG.IA5String, Buffer.from('a@example.com'))],
    );
    expect(nameDerProblem(ok)).toBeUndefined();
    expect(nameAttributes(ok).map((a) => a.value)).toEqual(['DE', 'Ö', 'A', 'Bayern', 'Grüße', 'a@example.com']);
    expect(nameDerProblem(seq())).toBeUndefined();
  });
  it('accepts "*" and "&" in a PrintableString, as certificates in use carry them; refuses "@"', () => {
    expect(nameDerProblem(name([OID.commonName, str(TAG.PrintableString, Buffer.from('*.example.com'))]))).toBeUndefined();
    expect(nameDerProblem(name([OID.organizationName, str(TAG.PrintableString, Buffer.from('A & B'))]))).toBeUndefined();
    expect(nameDerProblem(name([OID.commonName, str(TAG.PrintableString, Buffer.from('a@b'))]))).toMatch(/outside its set/);
  });
  it('refuses an unsorted multi-valued RDN (DER SET OF), accepts a sorted one', () => {
    const cnA = seq(oid(OID.commonName), str(TAG.UTF8String, Buffer.from('a')));
    const oB = seq(oid(OID.organizationName), str(TAG.UTF8String, Buffer.from('b')));
    const [lo, hi] = Buffer.compare(cnA, oB) < 0 ? [cnA, oB] : [oB, cnA];
    expect(nameDerProblem(seq(Buffer.concat([Buffer.from([0x31, lo.length + hi.length]), lo, hi])))).toBeUndefined();
    expect(nameDerProblem(seq(Buffer.concat([Buffer.from([0x31, lo.length + hi.length]), hi, lo])))).toMatch(/not sorted/);
  });
  it('encodeName writes emailAddress and DC as IA5String, which the checks require', () => {
    const n = encodeName('DC=example, CN=x, emailAddress=x@example.com');
    expect(nameDerProblem(n)).toBeUndefined();
    expect(nameAttributes(n).map((a) => a.short)).toEqual(['DC', 'CN', 'emailAddress']);
  });
  it('refuses malformed strings, trailing bytes and hard limits', () => {
    expect(nameDerProblem(name([OID.commonName, str(0x1e, Buffer.from([0, 0x41, 0]))]))).toMatch(/odd length/);
    expect(nameDerProblem(name([OID.commonName, str(0x1e, Buffer.from([0xd8, 0x00]))]))).toMatch(/unpaired surrogate/);
    expect(nameDerProblem(name([OID.commonName, str(0x1c, Buffer.from([0, 0x11, 0, 0]))]))).toMatch(/invalid code point/);
    expect(nameDerProblem(name([OID.commonName, str(TAG.IA5String, Buffer.from([0xe4]))]))).toMatch(/non-ASCII/);
    expect(nameDerProblem(Buffer.concat([encodeName('CN=a'), Buffer.from([0])]))).toMatch(/trailing/);
    expect(nameDerProblem(Buffer.from([0x30, 0x80, 0x00, 0x00]))).toMatch(/indefinite/);
    expect(nameDerProblem(encodeName('CN=a, O=b'), { rdns: 1 })).toMatch(/2 RDNs \(at most 1\)/);
    expect(nameDerProblem(encodeName('CN=abc'), { bytes: 8 })).toMatch(/at most 8/);
  });
});

describe('generalNamesDerProblem', () => {
  it('checks each dNSName, rfc822Name, URI and iPAddress, and DER lengths', () => {
    expect(generalNamesDerProblem(encodeGeneralNames([{ type: 'dns', value: 'a.example' }, { type: 'ip', value: '::1' }]))).toBeUndefined();
    expect(generalNamesDerProblem(seq(tlv(0x87, Buffer.alloc(3))))).toMatch(/3 bytes/);
    expect(generalNamesDerProblem(Buffer.from([0x30, 0x81, 0x03, 0x82, 0x01, 0x61]))).toMatch(/shortest form/);
    expect(generalNamesDerProblem(seq(tlv(0xa0, seq())))).toBeUndefined(); // otherName: the profile decides
  });
});

describe('RFC 5280 §7.1 matching', () => {
  it('folds case and whitespace across string types, keeps RDN order, and treats RDN sets as sets', () => {
    expect(foldNameValue('  Hello   World ')).toBe('hello world');
    const a = name([OID.organizationName, str(TAG.PrintableString, Buffer.from('Example  Org'))], [OID.commonName, str(TAG.PrintableString, Buffer.from('Dev 1'))]);
    const b = name([OID.organizationName, str(TAG.UTF8String, Buffer.from('example org'))], [OID.commonName, str(TAG.UTF8String, Buffer.from(' DEV 1'))]);
    expect(namesMatch(a, b)).toBe(true);
    expect(namesMatch(encodeName('CN=a, O=b'), encodeName('O=b, CN=a'))).toBe(false);
    expect(namesMatch(encodeName('CN=a'), encodeName('CN=b'))).toBe(false);
    const multi = (x: Buffer, y: Buffer) => seq(set(...[x, y]));
    const cnA = seq(oid(OID.commonName), str(TAG.UTF8String, Buffer.from('a')));
    const oB = seq(oid(OID.organizationName), str(TAG.UTF8String, Buffer.from('b')));
    expect(namesMatch(multi(cnA, oB), multi(oB, cnA))).toBe(true);
  });
  it('compares a loosely encoded certificate subject without throwing', () => {
    const loose = name([OID.commonName, str(TAG.UTF8String, Buffer.from([0x61, 0xff]))]);
    expect(namesMatch(loose, encodeName('CN=b'))).toBe(false);
  });
  it('compares SANs as sets, DNS names and email domains without case', () => {
    expect(generalNameSetsMatch([{ type: 'dns', value: 'A.example' }, { type: 'email', value: 'x@B.example' }], [{ type: 'email', value: 'x@b.example' }, { type: 'dns', value: 'a.EXAMPLE' }])).toBe(true);
    expect(generalNameSetsMatch([{ type: 'email', value: 'X@b.example' }], [{ type: 'email', value: 'x@b.example' }])).toBe(false);
    expect(generalNameSetsMatch([{ type: 'dns', value: 'a.example' }], [])).toBe(false);
  });
});

describe('name globs by type', () => {
  it('bare globs admit CNs, DNS names and IPs; prefixes one type', () => {
    expect(globAdmits('*.example.com', { kind: 'dns', value: 'a.example.com' })).toBe(true);
    expect(globAdmits('*.example.com', { kind: 'email', value: 'a@x.example.com' })).toBe(false);
    expect(globAdmits('*.example.com', { kind: 'uri', value: 'https://a.example.com' })).toBe(false);
    expect(globAdmits('10.0.0.*', { kind: 'ip', value: '10.0.0.7' })).toBe(true);
    expect(globAdmits('email:*@example.com', { kind: 'email', value: 'first.last@EXAMPLE.com' })).toBe(true);
    expect(globAdmits('email:*@example.com', { kind: 'email', value: 'a@sub.example.com' })).toBe(false);
    expect(globAdmits('email:*@example.com', { kind: 'dns', value: 'x@example.com' })).toBe(false);
    expect(globAdmits('uri:https://*.example.com/*', { kind: 'uri', value: 'https://a.example.com/x' })).toBe(true);
    expect(globAdmits('uri:https://*.example.com/*', { kind: 'uri', value: 'https://a.example.com/x/y' })).toBe(false);
    expect(globAdmits('dns:*.example.com', { kind: 'ip', value: '10.0.0.1' })).toBe(false);
    expect(globAdmits('cn:Sensor *', { kind: 'cn', value: 'sensor 7' })).toBe(true);
    expect(globAdmits('cn:Sensor *', { kind: 'dns', value: 'sensor 7' })).toBe(false);
  });
  it('keeps bare globs written as a URI or an email address meaning that, and nothing else', () => {
    expect(globAdmits('https://*.example.com/*', { kind: 'uri', value: 'https://a.example.com/x' })).toBe(true);
    expect(globAdmits('https://*.example.com/*', { kind: 'dns', value: 'https://a.example.com/x' })).toBe(false);
    expect(globAdmits('urn:dev:*', { kind: 'uri', value: 'urn:dev:17' })).toBe(true);
    expect(globAdmits('*@example.com', { kind: 'email', value: 'ops@example.com' })).toBe(true);
    expect(globAdmits('*@example.com', { kind: 'dns', value: 'ops@example.com' })).toBe(false);
    expect(nameGlobProblem('https://*.example.com/*')).toBeUndefined();
    expect(nameGlobProblem('urn:dev:*')).toBeUndefined();
  });
  it('refuses unknown prefixes but not IPv6 globs', () => {
    expect(nameGlobProblem('mail:*@example.com')).toMatch(/unknown name type prefix "mail:"/);
    expect(nameGlobProblem('fe80::*')).toBeUndefined();
    expect(nameGlobProblem('dns:')).toMatch(/empty/);
  });
});

describe('ChangeSubjectName', () => {
  const subject = encodeName('CN=new');
  const sans = encodeGeneralNames([{ type: 'dns', value: 'new.example' }]);
  it('tells a Name from GeneralNames, untagged or [1]', () => {
    expect(parseChangeSubjectName(seq(subject))).toEqual({ subject, subjectAlt: undefined });
    expect(parseChangeSubjectName(seq(sans))).toEqual({ subject: undefined, subjectAlt: sans });
    expect(parseChangeSubjectName(seq(subject, tlv(0xa1, sans.subarray(2))))).toEqual({ subject, subjectAlt: sans });
    expect(() => parseChangeSubjectName(seq())).toThrow(/neither/);
    expect(() => parseChangeSubjectName(seq(subject, subject))).toThrow(/expected/);
  });
});

describe('name policy validation of the new settings', () => {
  it('refuses caps out of range, unknown binding modes, bad fingerprints and globs', () => {
    expect(validateNamePolicy({ ...EMPTY_NAME_POLICY, maxSans: 0 })).toMatch(/maxSans must be an integer from 1 to 1000/);
    expect(validateNamePolicy({ ...EMPTY_NAME_POLICY, maxSubjectBytes: 10 })).toMatch(/maxSubjectBytes/);
    expect(validateNamePolicy({ ...EMPTY_NAME_POLICY, clientBinding: { mode: 'loose' as never, attributes: [], anchors: [] } })).toMatch(/unknown client binding mode "loose"/);
    const anchor = { fingerprintSha256: 'AB'.repeat(32), names: ['dev-*'], subjectPatterns: {} };
    expect(validateNamePolicy({ ...EMPTY_NAME_POLICY, clientBinding: { mode: 'anchor-names', attributes: ['CN'], anchors: [anchor] } })).toBeUndefined();
    expect(validateNamePolicy({ ...EMPTY_NAME_POLICY, clientBinding: { mode: 'anchor-names', attributes: [], anchors: [{ ...anchor, fingerprintSha256: 'abc' }] } })).toMatch(/not a SHA-256 fingerprint/);
    expect(validateNamePolicy({ ...EMPTY_NAME_POLICY, clientBinding: { mode: 'anchor-names', attributes: [], anchors: [anchor, anchor] } })).toMatch(/listed twice/);
    expect(validateNamePolicy({ ...EMPTY_NAME_POLICY, clientBinding: { mode: 'anchor-names', attributes: [], anchors: [{ ...anchor, names: ['mail:x'] }] } })).toMatch(/unknown name type prefix/);
    expect(validateNamePolicy({ ...EMPTY_NAME_POLICY, clientBinding: { mode: 'match', attributes: ['C N'], anchors: [] } })).toMatch(/not a known subject attribute/);
    // a typo must not silently bind nothing
    expect(validateNamePolicy({ ...EMPTY_NAME_POLICY, clientBinding: { mode: 'match', attributes: ['CN', 'SN'], anchors: [] } })).toMatch(/"SN" is not a known subject attribute/);
    expect(validateNamePolicy({ ...EMPTY_NAME_POLICY, clientBinding: { mode: 'match', attributes: ['cn', 'serialnumber', '2.5.4.97'], anchors: [] } })).toBeUndefined();
  });
});

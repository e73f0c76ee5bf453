/** Profile policy: which keys and which requested names a profile issues for. */
import { beforeAll, describe, expect, it } from 'vitest';
import { makeCsr, generateKeys, x509 } from '../helpers/keys.js';
import { parseCsr, type ParsedCsr, type PublicKeyInfo } from '../../src/pki/csr.js';
import { oid, seq, tlv } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';
import { checkKey, describeKey, describeKeyRule, extendedKeyUsageOids, keyUsageFor, requestedNames } from '../../src/ra/profile-policy.js';
import { defaultProfile } from '../../src/ra/default-profile.js';
import type { KeyAlgorithmRule, Profile } from '../../src/ra/model.js';

function profile(keyAlgorithms: KeyAlgorithmRule[], extra: Partial<Profile> = {}): Profile {
  const base = defaultProfile('devices', 'default');
  return { ...base, validitySeconds: 30 * 86_400, keyAlgorithms, extendedKeyUsage: ['clientAuth'], createdAt: new Date(0), updatedAt: new Date(0), ...extra };
}

const P256: PublicKeyInfo = { type: 'ec', curve: 'P-256', bits: 256 };
const P384: PublicKeyInfo = { type: 'ec', curve: 'P-384', bits: 384 };
const P521: PublicKeyInfo = { type: 'ec', curve: 'P-521', bits: 521 };
const RSA2048: PublicKeyInfo = { type: 'rsa', bits: 2048 };
const RSA2047: PublicKeyInfo = { type: 'rsa', bits: 2047 };
const RSA4096: PublicKeyInfo = { type: 'rsa', bits: 4096 };
const ED: PublicKeyInfo = { type: 'ed25519', bits: 256 };

describe('checkKey', async () => {
  it('EC rule: accepts listed curves only, and names the refused curve and the rule', async () => {
    const p = profile([{ type: 'ec', curves: ['P-256', 'P-384'] }]);
    expect(await checkKey(p, P256)).toBeUndefined();
    expect(await checkKey(p, P384)).toBeUndefined();
    expect(await checkKey(p, P521)).toBe('key EC P-521 is not allowed by profile "devices" (allowed: EC P-256/P-384)');
    expect(await checkKey(p, RSA4096)).toBe('key RSA 4096 bits is not allowed by profile "devices" (allowed: EC P-256/P-384)');
    expect(await checkKey(p, ED)).toBe('key Ed25519 is not allowed by profile "devices" (allowed: EC P-256/P-384)');
  });

  it('RSA rule: minBits is inclusive', async () => {
    const p = profile([{ type: 'rsa', minBits: 2048 }]);
    expect(await checkKey(p, RSA2048)).toBeUndefined();
    expect(await checkKey(p, RSA4096)).toBeUndefined();
    expect(await checkKey(p, RSA2047)).toBe('key RSA 2047 bits is not allowed by profile "devices" (allowed: RSA 2048–8192 bits)');
    expect(await checkKey(p, P256)).toBe('key EC P-256 is not allowed by profile "devices" (allowed: RSA 2048–8192 bits)');
  });

  it('Ed25519 rule', async () => {
    const p = profile([{ type: 'ed25519' }]);
    expect(await checkKey(p, ED)).toBeUndefined();
    expect(await checkKey(p, RSA4096)).toBe('key RSA 4096 bits is not allowed by profile "devices" (allowed: Ed25519)');
  });

  it('several rules: any one allows, the refusal lists them all', async () => {
    const p = profile([{ type: 'ec', curves: ['P-256'] }, { type: 'rsa', minBits: 3072 }, { type: 'ed25519' }]);
    expect(await checkKey(p, P256)).toBeUndefined();
    expect(await checkKey(p, ED)).toBeUndefined();
    expect(await checkKey(p, RSA4096)).toBeUndefined();
    expect(await checkKey(p, RSA2048)).toBe('key RSA 2048 bits is not allowed by profile "devices" (allowed: EC P-256, RSA 3072–8192 bits, Ed25519)');
  });

  it('no rules refuses every key and says "none"', async () => {
    expect(await checkKey(profile([]), P256)).toBe('key EC P-256 is not allowed by profile "devices" (allowed: none)');
  });

  it('applies to keys parsed from real requests (RSA 1024 refused, RSA 2048 allowed)', async () => {
    const p = profile([{ type: 'rsa', minBits: 2048 }]);
    const small = parseCsr((await makeCsr({ type: 'rsa-1024' })).der);
    const ok = parseCsr((await makeCsr({ type: 'rsa-2048' })).der);
    expect(await checkKey(p, ok.key)).toBeUndefined();
    expect(await checkKey(p, small.key)).toMatch(/^key RSA 1024 bits is not allowed/);
  });

  it('describeKey and describeKeyRule', () => {
    expect([P256, RSA2048, ED].map(describeKey)).toEqual(['EC P-256', 'RSA 2048 bits', 'Ed25519']);
    expect(describeKeyRule({ type: 'ec', curves: ['P-384'] })).toBe('EC P-384');
  });
});

describe('requestedNames', () => {
  let sanCsr: ParsedCsr;
  beforeAll(async () => {
    sanCsr = parseCsr((await makeCsr({ name: 'CN=dev', dns: ['a.example'], ips: ['10.1.2.3', '2001:db8::1'] })).der);
  });

  /** A CSR made by @peculiar/x509 with the given SAN entries. */
  async function csrWithSan(name: string, sans: x509.JsonGeneralName[]): Promise<ParsedCsr> {
    const keys = await generateKeys('ec-p256');
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name,
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
      extensions: [new x509.SubjectAlternativeNameExtension(sans)],
    });
    return parseCsr(Buffer.from(csr.rawData));
  }

  it('accepts DNS and IP names and returns the extnValue as requested', () => {
    const r = requestedNames(sanCsr);
    if (typeof r === 'string') throw new Error(r);
    expect(r.names).toEqual([
      { type: 'dns', value: 'a.example' },
      { type: 'ip', value: '10.1.2.3' },
      { type: 'ip', value: '2001:db8::1' },
    ]);
    expect(r.subjectAltName).toBe(sanCsr.requestedExtensions.get(OID.subjectAltName));
  });

  it('accepts email and URI names', async () => {
    const r = requestedNames(await csrWithSan('CN=x', [{ type: 'email', value: 'ops@example.com' }, { type: 'url', value: 'https://device.example/1' }]));
    if (typeof r === 'string') throw new Error(r);
    expect(r.names).toEqual([
      { type: 'email', value: 'ops@example.com' },
      { type: 'uri', value: 'https://device.example/1' },
    ]);
  });

  it('refuses an otherName (UPN) SAN', async () => {
    const csr = await csrWithSan('CN=x', [{ type: 'dns', value: 'ok.example' }, { type: 'upn', value: 'user@example.com' }]);
    expect(requestedNames(csr)).toBe('the requested subjectAltName has a name type that is not allowed (allowed: DNS, IP, email, URI)');
  });

  it('refuses a registeredID and a directoryName SAN', async () => {
    expect(requestedNames(await csrWithSan('CN=x', [{ type: 'id', value: '1.2.3.4' }]))).toMatch(/name type that is not allowed/);
    const withDirName = { ...sanCsr, requestedExtensions: new Map([[OID.subjectAltName, seq(tlv(0xa4, seq()))]]) };
    expect(requestedNames(withDirName)).toMatch(/name type that is not allowed/);
  });

  it('accepts a subject without SAN', async () => {
    const csr = parseCsr((await makeCsr({ name: 'CN=only-subject' })).der);
    const r = requestedNames(csr);
    if (typeof r === 'string') throw new Error(r);
    expect(r).toEqual({ subjectAltName: undefined, names: [] });
  });

  it('accepts an empty subject with a SAN', async () => {
    const csr = await csrWithSan('', [{ type: 'dns', value: 'nameless.example' }]);
    expect(csr.subject.toString('hex')).toBe('3000');
    const r = requestedNames(csr);
    if (typeof r === 'string') throw new Error(r);
    expect(r.names).toEqual([{ type: 'dns', value: 'nameless.example' }]);
  });

  it('refuses an empty subject with no SAN', async () => {
    const csr = parseCsr((await makeCsr({ name: '' })).der);
    expect(csr.subject.toString('hex')).toBe('3000');
    expect(requestedNames(csr)).toBe('the request has neither a subject nor a subjectAltName');
  });

  it('refuses an empty SAN and a SAN that is not DER', () => {
    const empty = { ...sanCsr, requestedExtensions: new Map([[OID.subjectAltName, seq()]]) };
    expect(requestedNames(empty)).toBe('the requested subjectAltName is empty');
    const bad = { ...sanCsr, requestedExtensions: new Map([[OID.subjectAltName, Buffer.from('3005820361', 'hex')]]) };
    expect(requestedNames(bad)).toBe('the requested subjectAltName is not valid DER');
    const notSeq = { ...sanCsr, requestedExtensions: new Map([[OID.subjectAltName, oid('1.2.3')]]) };
    expect(requestedNames(notSeq)).toBe('the requested subjectAltName is not valid DER');
  });
});

describe('extendedKeyUsageOids and keyUsageFor', () => {
  it('resolves EKU names and dotted OIDs, and names an unknown one', () => {
    expect(extendedKeyUsageOids(profile([], { extendedKeyUsage: ['serverAuth', 'clientAuth', '1.3.6.1.5.5.7.3.17'] }))).toEqual([OID.serverAuth, OID.clientAuth, '1.3.6.1.5.5.7.3.17']);
    expect(() => extendedKeyUsageOids(profile([], { extendedKeyUsage: ['smartcardLogon'] }))).toThrow('profile "devices": unknown extended key usage "smartcardLogon"');
  });

  it('keeps encipherment for RSA only and key agreement off Ed25519', () => {
    const p = profile([], { keyUsage: ['digitalSignature', 'keyEncipherment', 'dataEncipherment', 'keyAgreement'] });
    expect(keyUsageFor(p, RSA2048)).toEqual(['digitalSignature', 'keyEncipherment', 'dataEncipherment']);
    expect(keyUsageFor(p, P256)).toEqual(['digitalSignature', 'keyAgreement']);
    expect(keyUsageFor(p, ED)).toEqual(['digitalSignature']);
    expect(keyUsageFor(profile([], { keyUsage: ['keyEncipherment'] }), P256)).toBeUndefined();
  });
});

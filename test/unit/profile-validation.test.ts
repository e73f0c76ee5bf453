/** The profile rules shared by the CLI and the Web RA, and the CLI's wording of them. */
import { describe, expect, it } from 'vitest';
import { applyProfileFlags, cliMessage, formatKeyAlgorithms, parseKeyAlgorithms } from '../../src/cli/profile-options.js';
import { defaultProfile } from '../../src/ra/default-profile.js';
import { describeTrustAnchor, EST_OPERATIONS, newLabelError, splitTrustAnchors, validateProfile } from '../../src/ra/profile-validation.js';
import type { NewProfile } from '../../src/ra/model.js';
import { makeDeviceCa } from '../helpers/device-ca.js';

const rules = { knownCas: ['default', 'issuing-2'] };
const base = (): NewProfile => defaultProfile('iot', 'default');
const fields = (p: Partial<NewProfile>) => validateProfile({ ...base(), ...p }, rules);

describe('validateProfile', () => {
  it('accepts the default profile', () => {
    expect(validateProfile(base(), rules)).toEqual([]);
  });

  it('names every broken field, not just the first', () => {
    const errors = fields({
      label: 'bad label', ca: 'nope', validitySeconds: 0, keyUsage: ['keyCertSign'], extendedKeyUsage: ['frobnicate'], csrAttrs: ['zz'],
      retryAfterSeconds: 1.5, pendingTtlHours: 99_999, allowedAccounts: ['not-an-email'],
    });
    expect(errors.map((e) => e.field)).toEqual([
      'label', 'ca', 'validity', 'keyUsage', 'extendedKeyUsage', 'allowedAccounts', 'csrAttrs', 'retryAfterSeconds', 'pendingTtlHours',
    ]);
    expect(errors.find((e) => e.field === 'ca')!.message).toBe('no CA connector "nope" is configured (configured: default, issuing-2)');
    expect(errors.find((e) => e.field === 'keyUsage')!.message).toMatch(/cannot issue keyCertSign/);
  });

  it('requires a trust anchor for TLS client authentication, and parseable certificates', async () => {
    expect(fields({ auth: 'tls-client-cert' })).toEqual([
      { field: 'clientTrustAnchors', message: 'a TLS client authentication mechanism needs at least one trust anchor (the device CA certificate)' },
    ]);
    const ca = await makeDeviceCa();
    expect(fields({ auth: 'basic+tls-client-cert', clientTrustAnchors: [ca.pem] })).toEqual([]);
    expect(fields({ clientTrustAnchors: [ca.pem, 'hello'] })).toEqual([{ field: 'clientTrustAnchors.1', message: 'not a PEM certificate' }]);
    const broken = '-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n';
    expect(fields({ clientTrustAnchors: [broken] })[0]).toEqual({ field: 'clientTrustAnchors.0', message: 'the certificate cannot be parsed' });
  });

  it('checks key algorithm rules one by one, and the name policy', () => {
    expect(fields({ keyAlgorithms: [] })).toEqual([{ field: 'keyAlgorithms', message: 'at least one algorithm is required' }]);
    const errors = fields({
      keyAlgorithms: [{ type: 'ed25519' }, { type: 'ec', curves: ['P-999' as 'P-256'] }, { type: 'rsa', minBits: 512 }],
      namePolicy: { ...base().namePolicy, ipRanges: ['10.0.0.0/99'], sanTypes: ['dns', 'x400' as 'dns'], subjectPatterns: { CN: '(' } },
    });
    expect(errors.map((e) => e.field)).toEqual(['keyAlgorithms.1', 'keyAlgorithms.2', 'namePolicy.subjectPatterns', 'namePolicy.ipRanges', 'namePolicy.sanTypes']);
    expect(errors[0]!.message).toBe('unknown curve "P-999" (known: P-256, P-384, P-521)');
  });

  it('RSA rules: maxBits from the minimum to 16384, minExponent odd from 3 to 65537', () => {
    expect(fields({ keyAlgorithms: [{ type: 'rsa', minBits: 2048, maxBits: 4096, minExponent: 3 }] })).toEqual([]);
    const errors = fields({
      keyAlgorithms: [
        { type: 'rsa', minBits: 3072, maxBits: 2048 }, { type: 'rsa', minBits: 2048, minExponent: 4 },
        { type: 'rsa', minBits: 2048, minExponent: 1 }, { type: 'rsa', minBits: 2048, maxBits: 32_768 },
      ],
    });
    expect(errors).toEqual([
      { field: 'keyAlgorithms.0', message: 'rsa maximum must be an integer from the minimum (3072) to 16384, got 2048' },
      { field: 'keyAlgorithms.1', message: 'rsa minimum exponent must be an odd integer from 3 to 65537, got 4' },
      { field: 'keyAlgorithms.2', message: 'rsa minimum exponent must be an odd integer from 3 to 65537, got 1' },
      { field: 'keyAlgorithms.3', message: 'rsa maximum must be an integer from the minimum (2048) to 16384, got 32768' },
    ]);
  });
});

describe('new labels', () => {
  it('refuses the EST operation names in any case (RFC 7030 §3.2.2) and malformed labels', () => {
    for (const op of EST_OPERATIONS) expect(newLabelError(op)).toMatch(/EST operation name/);
    expect(newLabelError('SimpleEnroll')).toMatch(/EST operation name/);
    expect(newLabelError('-x')).toMatch(/not a valid label/);
    expect(newLabelError('devices')).toBeUndefined();
    expect(newLabelError('cacerts2')).toBeUndefined();
  });
});

describe('device CA revocation settings', () => {
  it('accepts a CRL URL per trust anchor fingerprint and refuses unknown fingerprints, bad URLs and policies', async () => {
    const ca = await makeDeviceCa();
    const fp = describeTrustAnchor(ca.pem).fingerprintSha256;
    const withRevocation = (deviceRevocation: NewProfile['deviceRevocation']) => fields({ clientTrustAnchors: [ca.pem], deviceRevocation });
    expect(base().deviceRevocation).toEqual({ whenUnavailable: 'refuse', crlUrls: {} });
    expect(withRevocation({ whenUnavailable: 'allow', crlUrls: { [fp]: 'http://crl.example.com/device.crl' } })).toEqual([]);
    expect(withRevocation({ whenUnavailable: 'sometimes' as 'allow', crlUrls: {} })).toEqual([{ field: 'deviceRevocation.whenUnavailable', message: 'expected refuse or allow, got "sometimes"' }]);
    expect(withRevocation({ whenUnavailable: 'refuse', crlUrls: { ['0'.repeat(64)]: 'https://crl.example.com/x.crl' } })).toEqual([
      { field: 'deviceRevocation.crlUrls', message: `no client trust anchor has the SHA-256 fingerprint ${'0'.repeat(64)}` },
    ]);
    expect(withRevocation({ whenUnavailable: 'refuse', crlUrls: { 'AB:CD': 'https://crl.example.com/x.crl' } })[0]!.message).toBe('"AB:CD" is not a SHA-256 fingerprint (64 hex digits)');
    expect(withRevocation({ whenUnavailable: 'refuse', crlUrls: { [fp]: 'ldap://ldap.example.com/cn=crl' } })).toEqual([
      { field: 'deviceRevocation.crlUrls', message: '"ldap://ldap.example.com/cn=crl" is not an http or https URL' },
    ]);
    expect(cliMessage({ field: 'deviceRevocation.crlUrls', message: 'x' })).toBe('--anchor-crl: x');
    // removing the anchor takes its URL along; naming it anew for a removed anchor is refused
    const configured: NewProfile = { ...base(), clientTrustAnchors: [ca.pem], deviceRevocation: { whenUnavailable: 'refuse', crlUrls: { [fp]: 'http://crl.example.com/a.crl' } } };
    expect(applyProfileFlags(configured, { clearTrustAnchors: true }, rules.knownCas).deviceRevocation.crlUrls).toEqual({});
    expect(applyProfileFlags(configured, { validityDays: '30' }, rules.knownCas).deviceRevocation.crlUrls).toEqual({ [fp]: 'http://crl.example.com/a.crl' });
    expect(() => applyProfileFlags(configured, { clearTrustAnchors: true, anchorCrl: [`${fp}=http://crl.example.com/b.crl`] }, rules.knownCas)).toThrow(`--anchor-crl: no client trust anchor has the SHA-256 fingerprint ${fp}`);
    expect(cliMessage({ field: 'deviceRevocation.whenUnavailable', message: 'x' })).toBe('--crl-unavailable: x');
  });
});

describe('trust anchors', () => {
  it('splits bundles into one PEM per certificate, drops duplicates, keeps what is not PEM for the rules to name', async () => {
    const [a, b] = [await makeDeviceCa('CN=A'), await makeDeviceCa('CN=B')];
    const split = splitTrustAnchors([a.pem + b.pem, a.pem, 'junk']);
    expect(split).toHaveLength(3);
    expect(split[2]).toBe('junk');
    expect(describeTrustAnchor(split[1]!)).toMatchObject({ subject: 'CN=B' });
    expect(describeTrustAnchor(split[0]!).fingerprintSha256).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('the CLI wording', () => {
  it('prefixes the flag, or "name policy"', () => {
    expect(cliMessage({ field: 'auth', message: 'x' })).toBe('--auth: x');
    expect(cliMessage({ field: 'clientTrustAnchors.2', message: 'x' })).toBe('--trust-anchors: x');
    expect(cliMessage({ field: 'namePolicy.ipRanges', message: 'x' })).toBe('name policy: x');
    expect(cliMessage({ field: 'namePolicy.sanTypes', message: 'x' })).toBe('--san-types: x');
    expect(cliMessage({ field: 'label', message: 'x' })).toBe('x');
  });

  it('--key-algorithms: rsa:MIN[-MAX][:e=MIN_EXPONENT] round-trips', () => {
    const rules = parseKeyAlgorithms('ec:P-256,rsa:2048-4096:e=3,rsa:3072,ed25519');
    expect(rules).toEqual([
      { type: 'ec', curves: ['P-256'] }, { type: 'rsa', minBits: 2048, maxBits: 4096, minExponent: 3 }, { type: 'rsa', minBits: 3072 }, { type: 'ed25519' },
    ]);
    expect(formatKeyAlgorithms(rules)).toBe('ec:P-256,rsa:2048-4096:e=3,rsa:3072,ed25519');
    expect(() => parseKeyAlgorithms('rsa:2048:x=3')).toThrow('--key-algorithms: "rsa:2048:x=3": expected rsa:MIN[-MAX][:e=MIN_EXPONENT], e.g. rsa:2048-4096:e=3');
  });
});

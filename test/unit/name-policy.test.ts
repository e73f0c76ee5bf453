/** The name policy's pure parts: globs, validation, and rules the e2e test does not reach. */
import { describe, expect, it } from 'vitest';
import { encodeName } from '../../src/pki/names.js';
import { checkNames, globMatches, validateNamePolicy } from '../../src/ra/name-policy.js';
import { defaultProfile } from '../../src/ra/default-profile.js';
import { EMPTY_NAME_POLICY, type Account, type NamePolicy, type Profile } from '../../src/ra/model.js';

function profile(policy: Partial<NamePolicy>): Profile {
  return { ...defaultProfile('p', 'default'), namePolicy: { ...EMPTY_NAME_POLICY, ...policy }, createdAt: new Date(0), updatedAt: new Date(0) };
}

const account = (allowedNames: string[]): Account => ({
  id: 1, email: 'a@example.com', passwordHash: 'x', role: 'est', disabled: false, allowedNames, allowedProfiles: [], unlockedAt: null, selfService: false, createdAt: new Date(0), updatedAt: new Date(0),
});

describe('globMatches', () => {
  it('matches * within one label, case-insensitively, whole value only', () => {
    expect(globMatches('sensor-*.example.com', 'SENSOR-7.example.com')).toBe(true);
    expect(globMatches('sensor-*.example.com', 'sensor-7.lab.example.com')).toBe(false);
    expect(globMatches('sensor-17', 'sensor-170')).toBe(false);
    expect(globMatches('a.b', 'axb')).toBe(false); // dots are literal
  });
});

describe('validateNamePolicy', () => {
  it('refuses bad regular expressions and CIDR ranges, naming them', () => {
    expect(validateNamePolicy({ ...EMPTY_NAME_POLICY, subjectPatterns: { CN: '(' } })).toMatch(/subject pattern for CN/);
    expect(validateNamePolicy({ ...EMPTY_NAME_POLICY, forbiddenNames: ['['] })).toMatch(/forbidden name pattern/);
    expect(validateNamePolicy({ ...EMPTY_NAME_POLICY, ipRanges: ['10.0.0.0/33'] })).toMatch(/"10.0.0.0\/33" is not a CIDR range/);
    expect(validateNamePolicy({ ...EMPTY_NAME_POLICY, ipRanges: ['10.0.0.0/8', '::1/128'], subjectPatterns: { CN: 'a|b' } })).toBeUndefined();
  });
});

describe('checkNames', () => {
  const subject = encodeName('CN=web-1, O=Example');
  it('holds a CN to dnsSuffixes and ipRanges as a CN-matching client reads it: trimmed, trailing dot dropped, IDN as A-labels', () => {
    const p = profile({ dnsSuffixes: ['.devices.example.com'], ipRanges: ['10.0.0.0/8'] });
    const cn = (v: string) => checkNames(p, undefined, encodeName(`CN=${v}`), []);
    expect(cn('a.devices.example.com')).toBeUndefined();
    expect(cn('www.bank.example.')).toMatch(/DNS name "www.bank.example" is not under an allowed domain/);
    expect(cn('bücher.example')).toMatch(/DNS name "xn--bcher-kva.example"/);
    expect(cn('192.168.0.1')).toMatch(/IP address 192.168.0.1 is not in an allowed range/);
    expect(cn('Printer in room 4')).toBeUndefined(); // not a host name: other rules decide
  });
  it('treats a subject emailAddress as an email name: SAN types, account globs', () => {
    const withEmail = encodeName('CN=web-1, emailAddress=ops@example.com');
    expect(checkNames(profile({ sanTypes: ['dns'] }), undefined, withEmail, [])).toMatch(/does not allow email names \(subject emailAddress/);
    expect(checkNames(profile({ sanTypes: ['dns', 'email'] }), undefined, withEmail, [])).toBeUndefined();
    expect(checkNames(profile({}), account(['web-1', '*.example.com']), withEmail, [])).toMatch(/may not request the email address "ops@example.com"/);
    expect(checkNames(profile({}), account(['web-1', 'email:ops@example.com']), withEmail, [])).toBeUndefined();
  });
  it('allows everything with an empty policy and no account restriction', () => {
    expect(checkNames(profile({}), account([]), subject, [{ type: 'uri', value: 'urn:x' }])).toBeUndefined();
  });

  it('refuses SAN types outside the allowed set, email and URI included', () => {
    const p = profile({ sanTypes: ['dns'] });
    expect(checkNames(p, undefined, subject, [{ type: 'email', value: 'a@example.com' }])).toMatch(/does not allow email names/);
    expect(checkNames(p, undefined, subject, [{ type: 'uri', value: 'https://x' }])).toMatch(/does not allow URI names/);
    expect(checkNames(p, undefined, subject, [{ type: 'dns', value: 'web-1.example.com' }])).toBeUndefined();
  });

  it('accepts subject attributes by dotted OID as well as short name', () => {
    expect(checkNames(profile({ subjectAllowed: ['2.5.4.3', 'O'] }), undefined, subject, [])).toBeUndefined();
  });

  it('a suffix without a leading dot allows the domain itself and its subdomains', () => {
    const p = profile({ dnsSuffixes: ['example.com'] });
    expect(checkNames(p, undefined, subject, [{ type: 'dns', value: 'example.com' }])).toBeUndefined();
    expect(checkNames(p, undefined, subject, [{ type: 'dns', value: 'a.example.com' }])).toBeUndefined();
    expect(checkNames(p, undefined, subject, [{ type: 'dns', value: 'badexample.com' }])).toMatch(/not under an allowed domain/);
  });

  it('applies an account restriction to the CN and every SAN', () => {
    const a = account(['web-1', 'web-1.example.com']);
    expect(checkNames(profile({}), a, subject, [{ type: 'dns', value: 'web-1.example.com' }])).toBeUndefined();
    expect(checkNames(profile({}), a, subject, [{ type: 'ip', value: '10.0.0.1' }])).toMatch(/may not request the name "10.0.0.1"/);
  });
});

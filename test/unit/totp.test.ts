/**
 * TOTP against RFC 6238 Appendix B (every row, all three hash functions) and RFC 4226
 * Appendix D, base32 against RFC 4648 §10, and the ±1 step window.
 */
import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode, generateTotpSecret, hotp, matchTotp, otpauthUri, totp, type TotpAlgorithm } from '../../src/ra/totp.js';

// RFC 6238 Appendix B: the seeds are ASCII "1234567890" repeated to the hash's size.
const SEEDS: Record<TotpAlgorithm, Buffer> = {
  sha1: Buffer.from('12345678901234567890'),
  sha256: Buffer.from('12345678901234567890123456789012'),
  sha512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234'),
};

const APPENDIX_B: Array<[seconds: number, step: string, sha1: string, sha256: string, sha512: string]> = [
  [59, '0000000000000001', '94287082', '46119246', '90693936'],
  [1111111109, '00000000023523EC', '07081804', '68084774', '25091201'],
  [1111111111, '00000000023523ED', '14050471', '67062674', '99943326'],
  [1234567890, '000000000273EF07', '89005924', '91819424', '93441116'],
  [2000000000, '0000000003F940AA', '69279037', '90698825', '38618901'],
  [20000000000, '0000000027BC86AA', '65353130', '77737706', '47863826'],
];

describe('TOTP (RFC 6238)', () => {
  for (const [seconds, step, ...codes] of APPENDIX_B) {
    it(`matches Appendix B at T=${seconds} (step ${step}) for SHA-1, SHA-256 and SHA-512`, () => {
      expect(Math.floor(seconds / 30)).toBe(parseInt(step, 16));
      (['sha1', 'sha256', 'sha512'] as const).forEach((algorithm, i) => {
        expect(totp(SEEDS[algorithm], seconds * 1000, { algorithm, digits: 8 })).toBe(codes[i]);
      });
    });
  }

  it('matches RFC 4226 Appendix D (HOTP, 6 digits)', () => {
    const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
    expect(expected.map((_, counter) => hotp(SEEDS.sha1, counter))).toEqual(expected);
  });

  it('accepts the current step and one either side, nothing further, and only six digits', () => {
    const secret = base32Encode(SEEDS.sha1);
    const t = 1111111111_000;
    const step = Math.floor(t / 30_000);
    const at = (s: number) => totp(SEEDS.sha1, s * 30_000);
    expect(matchTotp(secret, at(step), t)).toBe(step);
    expect(matchTotp(secret, at(step - 1), t)).toBe(step - 1);
    expect(matchTotp(secret, at(step + 1), t)).toBe(step + 1);
    expect(matchTotp(secret, at(step - 2), t)).toBeUndefined();
    expect(matchTotp(secret, at(step + 2), t)).toBeUndefined();
    expect(matchTotp(secret, `${at(step).slice(0, 3)} ${at(step).slice(3)}`, t)).toBe(step); // as apps show it
    expect(matchTotp(secret, '12345', t)).toBeUndefined();
    expect(matchTotp(secret, 'abcdef', t)).toBeUndefined();
    expect(matchTotp(secret, `${at(step)}0`, t)).toBeUndefined();
  });
});

describe('base32 (RFC 4648)', () => {
  it('encodes and decodes the §10 test vectors (padding left out)', () => {
    const vectors: Array<[string, string]> = [['', ''], ['f', 'MY'], ['fo', 'MZXQ'], ['foo', 'MZXW6'], ['foob', 'MZXW6YQ'], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI']];
    for (const [plain, encoded] of vectors) {
      expect(base32Encode(Buffer.from(plain))).toBe(encoded);
      expect(base32Decode(encoded).toString()).toBe(plain);
    }
    expect(base32Decode('mzxw6ytboi======').toString()).toBe('foobar');
    expect(() => base32Decode('MZ1')).toThrow(/not base32/);
  });

  it('makes 160-bit secrets: 32 base32 characters, different each time', () => {
    const a = generateTotpSecret();
    expect(a).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(a)).toHaveLength(20);
    expect(generateTotpSecret()).not.toBe(a);
  });

  it('writes the otpauth URI authenticator apps read', () => {
    const uri = new URL(otpauthUri({ secret: 'JBSWY3DPEHPK3PXP', issuer: 'Estuary Web RA', account: 'ann@example.com' }));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/Estuary Web RA:ann@example.com');
    expect(Object.fromEntries(uri.searchParams)).toEqual({ secret: 'JBSWY3DPEHPK3PXP', issuer: 'Estuary Web RA', algorithm: 'SHA1', digits: '6', period: '30' });
  });
});

/** A profile's validity as text (ra/validity.ts), and the built-in CA issuing short-lived certificates for exactly that long. */
import { randomBytes, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { createLocalCa } from '../../src/ca/local-ca.js';
import { parseCsr } from '../../src/pki/csr.js';
import { encodeName } from '../../src/pki/names.js';
import { formatValidity, parseValidity, validityError, wholeDaysOf } from '../../src/ra/validity.js';
import { makeCsr } from '../helpers/keys.js';

describe('validity text', () => {
  it('reads minutes, hours, days, combinations and bare days; refuses anything else', () => {
    expect(parseValidity('90m')).toBe(5400);
    expect(parseValidity('8h')).toBe(28_800);
    expect(parseValidity(' 30D ')).toBe(30 * 86_400);
    expect(parseValidity('1d12h')).toBe(129_600);
    expect(parseValidity('365')).toBe(365 * 86_400);
    expect(parseValidity('45s')).toBe(45);
    for (const bad of ['', 'soon', '8 hours', '1.5h', '-1d', 'h8', '2w']) expect(parseValidity(bad), bad).toBeUndefined();
  });

  it('writes the shortest exact text, minutes under a day', () => {
    expect([28_800, 5400, 30 * 86_400, 129_600, 45, 3661, 120].map(formatValidity)).toEqual(['8h', '90m', '30d', '1d12h', '45s', '1h1m1s', '2m']);
  });

  it('takes one minute to ten years, whole seconds', () => {
    expect(validityError(60)).toBeUndefined();
    expect(validityError(3650 * 86_400)).toBeUndefined();
    expect(validityError(59)).toMatch(/from 1m to 3650d, got 59s/);
    expect(validityError(3651 * 86_400)).toMatch(/got 3651d/);
    expect(validityError(60.5)).toMatch(/got 60.5s/);
    expect(wholeDaysOf(120)).toBe(1);
    expect(wholeDaysOf(86_401)).toBe(2);
  });
});

describe('the built-in CA and short lifetimes', () => {
  const h = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=Short Root', issuingName: 'CN=Short CA', now: new Date(), random: randomBytes });
  const now = new Date('2026-12-06T12:00:00.250Z');
  const ca = createLocalCa({ id: 'short', key: h.issuing.key, chain: [h.issuing.der, h.root.der], now: () => now, random: randomBytes });

  async function lifetime(validitySeconds: number): Promise<{ backdate: number; after: number }> {
    const csr = await makeCsr({ name: 'CN=short' });
    const r = await ca.issue({
      operation: 'enroll', csr: csr.der, requestId: 'r', requester: 'x',
      template: { subject: encodeName('CN=short'), spki: parseCsr(csr.der).spki, subjectAltName: undefined, validitySeconds, keyUsage: ['digitalSignature'], extendedKeyUsage: [] },
    });
    if (r.status !== 'issued') throw new Error('not issued');
    const x = new X509Certificate(r.certificate.der);
    const second = Math.floor(now.getTime() / 1000) * 1000;
    return { backdate: (second - new Date(x.validFrom).getTime()) / 1000, after: (new Date(x.validTo).getTime() - second) / 1000 };
  }

  it('issues for exactly the validity after issuance, backdated by a tenth of a short validity and 5 minutes at most', async () => {
    expect(await lifetime(120)).toEqual({ backdate: 12, after: 120 });
    expect(await lifetime(5400)).toEqual({ backdate: 300, after: 5400 });
    expect(await lifetime(8 * 3600)).toEqual({ backdate: 300, after: 28_800 });
    expect(await lifetime(60)).toEqual({ backdate: 6, after: 60 });
  });
});

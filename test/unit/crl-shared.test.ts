/** Two instances (two stores on one SQLite file, two CA objects with one key) share one CRL through the store. */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { createLocalCa } from '../../src/ca/local-ca.js';
import { createCrlService, type CrlServiceOptions } from '../../src/ra/crl-service.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';
import { insertRevoked } from '../helpers/bulk-revoked.js';
import { tempDir } from '../helpers/home.js';

const opened: SqliteStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

const crlText = (der: Buffer): string => execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text'], { input: der }).toString();
const crlNumber = (der: Buffer): bigint => BigInt(/X509v3 CRL Number: *\n\s*(\d+)/.exec(crlText(der))![1]!);
const serials = (der: Buffer): string[] => [...crlText(der).matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]!.toLowerCase());

function twoInstances(extra: Partial<CrlServiceOptions> = {}) {
  const dbPath = join(tempDir(), 'shared-crl.db');
  const { issuing } = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=R', issuingName: 'CN=I', now: new Date('2026-01-01T00:00:00Z'), random: randomBytes });
  const clock = { now: new Date('2026-03-01T00:00:00Z') };
  const instance = (holder: string) => {
    const store = openSqliteStore(dbPath);
    opened.push(store);
    const ca = createLocalCa({ id: 'default', key: issuing.key, chain: [issuing.der], now: () => clock.now, random: randomBytes });
    const crls = createCrlService({ store, cas: new Map([['default', ca]]), now: () => clock.now, validityHours: 24, holder, publicationWaitMs: 200, ...extra });
    return { store, crls };
  };
  return { dbPath, clock, a: instance('A'), b: instance('B') };
}

describe('a CRL shared by instances', () => {
  it('serves the same bytes on both; a revocation seen by one is signed once and served by both; cRLNumbers increase across them', async () => {
    const { dbPath, a, b } = twoInstances();
    insertRevoked(dbPath, { ca: 'default', count: 2, prefix: '5a' });
    const first = (await a.crls.current('default'))!;
    expect((await b.crls.current('default'))!.equals(first)).toBe(true);
    expect((await a.store.getCrl('default', 'complete'))?.der.equals(first)).toBe(true);

    // A revocation in the same second: B signs (the clock has not moved), its number is still higher than A's.
    const [added] = insertRevoked(dbPath, { ca: 'default', count: 1, prefix: '5b' });
    const second = (await b.crls.current('default'))!;
    expect(second.equals(first)).toBe(false);
    expect(serials(second)).toContain(added);
    expect(crlNumber(second)).toBeGreaterThan(crlNumber(first));
    expect((await a.crls.current('default'))!.equals(second)).toBe(true); // A serves B's, signing nothing
    expect((await a.store.getCrl('default', 'complete'))?.number).toBe(crlNumber(second));
  });

  it('an instance without the lease serves the published CRL while it is valid, and signs once the lease is free', async () => {
    const { dbPath, clock, a, b } = twoInstances();
    const first = (await a.crls.current('default'))!;
    expect(await a.store.acquireLease('crl:default', 'elsewhere', clock.now, 60_000)).toBe(true); // a third instance, slow to publish
    insertRevoked(dbPath, { ca: 'default', count: 1, prefix: '5c' });
    expect((await b.crls.current('default'))!.equals(first)).toBe(true); // still valid: served after a short wait
    await a.store.acquireLease('crl:default', 'elsewhere', clock.now, 0); // released
    const signed = (await b.crls.current('default'))!;
    expect(serials(signed)).toHaveLength(1);
    expect((await a.crls.current('default'))!.equals(signed)).toBe(true);
  });

  it('delta CRLs: one instance signs the delta against the complete CRL another published', async () => {
    const { dbPath, a, b } = twoInstances({ deltaValidityHours: 1, deltaUrl: (id) => `http://pki.example.test/crl/${id}-delta.crl` });
    insertRevoked(dbPath, { ca: 'default', count: 2, prefix: '6a' });
    const base = (await a.crls.current('default'))!;
    const [added] = insertRevoked(dbPath, { ca: 'default', count: 1, prefix: '6b' });
    const delta = (await b.crls.currentDelta('default'))!;
    expect(crlText(delta)).toMatch(new RegExp(`Delta CRL Indicator: critical\\s*\\n\\s*${crlNumber(base)}\\b`));
    expect(serials(delta)).toEqual([added]);
    expect(crlNumber(delta)).toBeGreaterThan(crlNumber(base));
    expect((await a.crls.currentDelta('default'))!.equals(delta)).toBe(true);
    expect((await b.crls.current('default'))!.equals(base)).toBe(true);
  });
});

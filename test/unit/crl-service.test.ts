/** The CRL service: re-signed on revocation and after half its validity, never served stale. */
import { randomBytes, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { createLocalCa } from '../../src/ca/local-ca.js';
import { createCrlService } from '../../src/ra/crl-service.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';
import { tempDir } from '../helpers/home.js';

let store: SqliteStore;
let now = new Date('2026-01-01T00:00:00Z');

function crlText(der: Buffer): string {
  return execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text'], { input: der }).toString();
}

beforeAll(() => {
  store = openSqliteStore(join(tempDir(), 'crl.db'));
});
afterAll(async () => {
  await store.close();
});

describe('CRL service', () => {
  it('serves the same CRL until a revocation or half its validity, then a fresh one', async () => {
    const { issuing, root } = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=R', issuingName: 'CN=I', now, random: randomBytes });
    const ca = createLocalCa({ id: 'default', key: issuing.key, chain: [issuing.der, root.der], now: () => now, random: randomBytes });
    const crls = createCrlService({ store, cas: new Map([['default', ca]]), now: () => now, validityHours: 2 });

    const first = (await crls.current('default'))!;
    expect(crlText(first)).toMatch(/Next Update: Jan  1 02:00:00 2026 GMT/);
    now = new Date('2026-01-01T00:59:00Z');
    expect((await crls.current('default'))!.equals(first)).toBe(true); // within the first half: cached

    const issued = await ca.issue({ subject: Buffer.from([0x30, 0x00]) /* empty; the SAN names it */, spki: Buffer.from(new X509Certificate(issuing.der).publicKey.export({ type: 'spki', format: 'der' })), subjectAltName: Buffer.from([0x30, 0x03, 0x82, 0x01, 0x61]), validityDays: 1, keyUsage: ['digitalSignature'], extendedKeyUsage: [] });
    await store.recordIssuance(
      { serial: issued.serialHex, profile: 'p', ca: 'default', subject: '', sans: ['DNS:a'], notBefore: issued.notBefore, notAfter: issued.notAfter, der: issued.der, requester: 't', renews: null },
      { actor: 't', action: 'simpleenroll', profile: 'p', outcome: 'success', serial: issued.serialHex, detail: null },
    );
    await store.revokeCertificate(issued.serialHex, 'superseded', now);
    const afterRevoke = (await crls.current('default'))!;
    expect(afterRevoke.equals(first)).toBe(false);
    expect(crlText(afterRevoke).toLowerCase()).toContain(`serial number: ${issued.serialHex}`);

    now = new Date('2026-01-01T02:00:00Z'); // past half of the new CRL's validity
    const refreshed = (await crls.current('default'))!;
    expect(refreshed.equals(afterRevoke)).toBe(false);
    expect(crlText(refreshed)).toMatch(/Last Update: Jan  1 02:00:00 2026 GMT/);
    expect(crlText(refreshed)).toMatch(/Superseded/);
    expect(await crls.current('nosuch')).toBeUndefined();
  });
});

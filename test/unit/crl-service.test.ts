/** The CRL service: re-signed on revocation and after half its validity, never served stale. */
import { randomBytes, X509Certificate } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { createLocalCa } from '../../src/ca/local-ca.js';
import { createCrlService } from '../../src/ra/crl-service.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';
import { toPem } from '../../src/pki/base64.js';
import { insertRevoked } from '../helpers/bulk-revoked.js';
import { tempDir } from '../helpers/home.js';
import { issueTemplate } from '../helpers/issue-template.js';

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

    const issued = await issueTemplate(ca, { subject: Buffer.from([0x30, 0x00]) /* empty; the SAN names it */, spki: Buffer.from(new X509Certificate(issuing.der).publicKey.export({ type: 'spki', format: 'der' })), subjectAltName: Buffer.from([0x30, 0x03, 0x82, 0x01, 0x61]), validitySeconds: 1 * 86_400, keyUsage: ['digitalSignature'], extendedKeyUsage: [] });
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

describe('CRL service: expired entries and delta CRLs', () => {
  const setup = (dbName: string, extra: { omitExpired?: boolean; deltaValidityHours?: number }) => {
    const dbPath = join(tempDir(), dbName);
    const s = openSqliteStore(dbPath);
    const { issuing } = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=R', issuingName: 'CN=I', now: new Date('2026-01-01T00:00:00Z'), random: randomBytes });
    const ca = createLocalCa({ id: 'default', key: issuing.key, chain: [issuing.der], now: () => clock, random: randomBytes });
    let clock = new Date('2026-03-01T00:00:00Z');
    const crls = createCrlService({ store: s, cas: new Map([['default', ca]]), now: () => clock, validityHours: 24, deltaUrl: (id) => `http://pki.example.test/crl/${id}-delta.crl`, ...extra });
    const issuingPem = join(tempDir(), 'issuing.pem');
    writeFileSync(issuingPem, toPem('CERTIFICATE', issuing.der));
    return { dbPath, s, crls, issuingPem, setNow: (d: Date) => { clock = d; } };
  };
  const verified = (der: Buffer, issuingPem: string): string => {
    const r = spawnSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text', '-CAfile', issuingPem], { input: der, encoding: 'utf8' });
    expect(r.stderr).toMatch(/verify OK/);
    return r.stdout;
  };

  it('omitExpired leaves out certificates expired for longer than one CRL validity, and keeps them otherwise', async () => {
    const kept = setup('kept.db', {});
    const omitting = setup('omitting.db', { omitExpired: true });
    for (const t of [kept, omitting]) {
      insertRevoked(t.dbPath, { ca: 'default', count: 2, prefix: '6a', notAfter: new Date('2026-02-01T00:00:00Z') }); // long expired
      insertRevoked(t.dbPath, { ca: 'default', count: 1, prefix: '6b', notAfter: new Date('2026-02-28T12:00:00Z') }); // expired 12 h ago
      insertRevoked(t.dbPath, { ca: 'default', count: 1, prefix: '6c', notAfter: new Date('2027-01-01T00:00:00Z') });
    }
    expect(verified((await kept.crls.current('default'))!, kept.issuingPem).match(/Serial Number: /g)).toHaveLength(4);
    const text = verified((await omitting.crls.current('default'))!, omitting.issuingPem);
    expect(text.match(/Serial Number: /g)).toHaveLength(2);
    expect(text).not.toMatch(/Serial Number: 6A/);
    expect(text).toMatch(/Serial Number: 6B/);
    await kept.s.close();
    await omitting.s.close();
  });

  it('publishes delta CRLs: freshestCRL in the complete CRL, new revocations in the delta with deltaCRLIndicator, one cRLNumber sequence', async () => {
    const t = setup('delta.db', { deltaValidityHours: 1 });
    insertRevoked(t.dbPath, { ca: 'default', count: 3, prefix: '7a' });
    const base = (await t.crls.current('default'))!;
    const baseText = verified(base, t.issuingPem);
    expect(baseText).toMatch(/Freshest CRL:[\s\S]*URI:http:\/\/pki.example.test\/crl\/default-delta.crl/);
    expect(baseText.match(/Serial Number: /g)).toHaveLength(3);
    const baseNumber = BigInt(/X509v3 CRL Number: *\n\s*(\d+)/.exec(baseText)![1]!);

    const emptyDelta = verified((await t.crls.currentDelta('default'))!, t.issuingPem);
    expect(emptyDelta).toMatch(/No Revoked Certificates/);

    insertRevoked(t.dbPath, { ca: 'default', count: 1, prefix: '7b' });
    expect((await t.crls.current('default'))!.equals(base)).toBe(true); // the complete CRL follows its schedule
    const deltaText = verified((await t.crls.currentDelta('default'))!, t.issuingPem);
    expect(deltaText).toMatch(new RegExp(`X509v3 Delta CRL Indicator: critical\\s*\\n\\s*${baseNumber}\\b`));
    expect(deltaText.match(/Serial Number: /g)).toHaveLength(1);
    expect(deltaText).toMatch(/Serial Number: 7B0+\n/);
    expect(BigInt(/X509v3 CRL Number: *\n\s*(\d+)/.exec(deltaText)![1]!)).toBeGreaterThan(baseNumber);

    t.setNow(new Date('2026-03-01T13:00:00Z')); // past half of the complete CRL's validity
    const rebased = verified((await t.crls.current('default'))!, t.issuingPem);
    expect(rebased.match(/Serial Number: /g)).toHaveLength(4);
    expect(verified((await t.crls.currentDelta('default'))!, t.issuingPem)).toMatch(/No Revoked Certificates/);
    await t.s.close();
  });

  it('has no delta CRL when deltas are off', async () => {
    expect(await createCrlService({ store, cas: new Map(), now: () => now, validityHours: 1 }).currentDelta('default')).toBeUndefined();
  });
});

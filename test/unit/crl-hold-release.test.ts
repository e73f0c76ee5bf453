/**
 * A released hold (RFC 5280 §5.3.1 certificateHold) leaves the CRL: the next complete CRL does not
 * list it; with delta CRLs, the delta lists it with removeFromCRL until the complete CRL is re-signed.
 * Checked with `openssl crl`, the signature verified against the issuing CA.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { createLocalCa } from '../../src/ca/local-ca.js';
import { toPem } from '../../src/pki/base64.js';
import { createCrlService } from '../../src/ra/crl-service.js';
import { releaseHold, revokeCertificate } from '../../src/ra/revocation.js';
import { openSqliteStore } from '../../src/store/sqlite-store.js';
import { tempDir } from '../helpers/home.js';

function setup(dbName: string, deltaValidityHours?: number) {
  const store = openSqliteStore(join(tempDir(), dbName));
  const { issuing } = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=R', issuingName: 'CN=I', now: new Date('2026-01-01T00:00:00Z'), random: randomBytes });
  let clock = new Date('2026-03-01T00:00:00Z');
  const ca = createLocalCa({ id: 'default', key: issuing.key, chain: [issuing.der], now: () => clock, random: randomBytes });
  const crls = createCrlService({
    store, cas: new Map([['default', ca]]), now: () => clock, validityHours: 24,
    ...(deltaValidityHours ? { deltaValidityHours, deltaUrl: (id: string) => `http://pki.example.test/crl/${id}-delta.crl` } : {}),
  });
  const issuingPem = join(tempDir(), `${dbName}.issuing.pem`);
  writeFileSync(issuingPem, toPem('CERTIFICATE', issuing.der));
  /** The CRL's text, its signature verified by openssl. */
  const text = (der: Buffer): string => {
    const r = spawnSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text', '-CAfile', issuingPem], { input: der, encoding: 'utf8' });
    expect(r.stderr).toMatch(/verify OK/);
    return r.stdout;
  };
  let n = 0;
  const issue = async (): Promise<string> => {
    const serial = `5e${(++n).toString(16).padStart(4, '0')}${randomBytes(6).toString('hex')}`;
    await store.recordIssuance(
      { serial, profile: 'p', ca: 'default', subject: `CN=d${n}`, sans: [], notBefore: clock, notAfter: new Date(clock.getTime() + 90 * 86_400_000), der: randomBytes(64), requester: 't', renews: null },
      { actor: 't', action: 'simpleenroll', profile: 'p', outcome: 'success', serial, detail: null },
    );
    return serial;
  };
  const hold = (serial: string, reason: 'certificateHold' | 'keyCompromise' = 'certificateHold') => revokeCertificate(store, { serial, reason, actor: 'officer', now: clock });
  const release = (serial: string) => releaseHold(store, { serial, actor: 'officer', now: clock });
  const tick = (ms: number) => { clock = new Date(clock.getTime() + ms); };
  return { store, crls, text, issue, hold, release, tick };
}

const listed = (text: string, serial: string): boolean => text.toLowerCase().includes(`serial number: ${serial}`);

describe('CRL after a hold is released', () => {
  it('the complete CRL lists a held certificate, and no longer once released; another revocation after it is listed', async () => {
    const t = setup('hold.db');
    const [x, y, z] = [await t.issue(), await t.issue(), await t.issue()];
    await t.hold(x);
    await t.hold(z, 'keyCompromise');
    const held = t.text((await t.crls.current('default'))!);
    expect(listed(held, x)).toBe(true);
    expect(held).toMatch(/Certificate Hold/);

    t.tick(1000);
    expect(await t.release(x)).toMatchObject({ kind: 'released' });
    expect(await t.release(z)).toMatchObject({ kind: 'not-on-hold' }); // key compromise is final
    const released = t.text((await t.crls.current('default'))!);
    expect(listed(released, x)).toBe(false);
    expect(listed(released, z)).toBe(true);

    t.tick(1000);
    await t.hold(x); // held again
    expect(listed(t.text((await t.crls.current('default'))!), x)).toBe(true);

    // released and another held before the next fetch: the revoked set has as many members as
    // before, and only the release count tells the sets apart
    t.tick(1000);
    await t.release(x);
    await t.hold(y);
    const again = t.text((await t.crls.current('default'))!);
    expect(listed(again, y)).toBe(true);
    expect(listed(again, x)).toBe(false);
    expect(again.match(/Serial Number: /g)).toHaveLength(2);
    await t.store.close();
  });

  it('with delta CRLs: the delta lists a released hold with removeFromCRL until the complete CRL is re-signed', async () => {
    const t = setup('hold-delta.db', 1);
    const [x, y] = [await t.issue(), await t.issue()];
    await t.hold(x);
    await t.hold(y, 'keyCompromise');
    const base = t.text((await t.crls.current('default'))!);
    expect(listed(base, x)).toBe(true);
    expect(t.text((await t.crls.currentDelta('default'))!)).toMatch(/No Revoked Certificates/);

    t.tick(1000);
    await t.release(x);
    expect(listed(t.text((await t.crls.current('default'))!), x)).toBe(true); // the complete CRL follows its schedule
    const delta = t.text((await t.crls.currentDelta('default'))!);
    expect(delta).toMatch(/Delta CRL Indicator: critical/);
    expect(delta.match(/Serial Number: /g)).toHaveLength(1);
    expect(listed(delta, x)).toBe(true);
    expect(delta).toMatch(/Remove From CRL/);

    t.tick(13 * 3_600_000); // past half of the complete CRL's validity
    const rebased = t.text((await t.crls.current('default'))!);
    expect(listed(rebased, x)).toBe(false);
    expect(listed(rebased, y)).toBe(true);
    expect(t.text((await t.crls.currentDelta('default'))!)).toMatch(/No Revoked Certificates/);
    await t.store.close();
  });
});

/**
 * Certificate history in every store: who revoked a certificate, which renewed it, which request
 * it fulfilled, hold release (RFC 5280 §5.3.1 certificateHold) and the dashboard's renewed count.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store, StoreChange } from '../../src/store/store.js';
import { newCertificate, newEvent } from './store-contract.js';

const DAY = 86_400_000;

export function storeHistoryContract(name: string, open: () => Promise<Store>, cleanup?: () => Promise<void>): void {
  describe(`Store contract: ${name}: certificate history`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close().catch(() => undefined);
      await cleanup?.();
    });

    it('keeps who revoked a certificate, and the latest certificate that renews it', async () => {
      const old = newCertificate();
      const other = newCertificate();
      await store.recordIssuance(old, newEvent());
      await store.recordIssuance(other, newEvent());
      expect(await store.getCertificate(old.serial)).toMatchObject({ revokedBy: null, renewedBy: null });
      const first = newCertificate({ renews: old.serial });
      await store.recordIssuance(first, newEvent({ action: 'simplereenroll' }));
      expect((await store.getCertificate(old.serial))?.renewedBy).toBe(first.serial);
      const second = newCertificate({ renews: old.serial });
      await store.recordIssuance(second, newEvent({ action: 'simplereenroll' }), { renewal: { supersede: { at: new Date('2025-06-01T00:00:00Z'), event: newEvent({ action: 'cert.supersede' }) } } });
      // superseded on renewal: no officer revoked it, its successor says why
      expect(await store.getCertificate(old.serial)).toMatchObject({ status: 'revoked', revocationReason: 'superseded', revokedBy: null, renewedBy: second.serial });
      expect((await store.getCertificate(first.serial))?.renewedBy).toBeNull();

      expect(await store.revokeCertificate(other.serial, 'keyCompromise', new Date('2025-06-02T00:00:00Z'), newEvent({ actor: 'officer@example.com', action: 'cert.revoke' }))).toBe(true);
      expect(await store.getCertificate(other.serial)).toMatchObject({ status: 'revoked', revokedBy: 'officer@example.com' });
      await store.revokeCertificate(first.serial, 'unspecified', new Date('2025-06-02T00:00:00Z'));
      expect((await store.getCertificate(first.serial))?.revokedBy).toBeNull();
      const found = await store.searchCertificates({ serial: old.serial });
      expect(found.items[0]).toMatchObject({ renewedBy: second.serial });
    });

    it('counts a renewed certificate still valid as renewed, not valid', async () => {
      const now = new Date('2025-06-01T00:00:00Z');
      const a = newCertificate({ notAfter: new Date(now.getTime() + 30 * DAY) });
      const b = newCertificate({ notAfter: new Date(now.getTime() + 30 * DAY) });
      const gone = newCertificate({ notAfter: new Date(now.getTime() - DAY) });
      for (const c of [a, b, gone]) await store.recordIssuance(c, newEvent());
      expect(await store.countCertificates(now)).toEqual({ valid: 2, renewed: 0, revoked: 0, expired: 1 });
      await store.recordIssuance(newCertificate({ renews: a.serial, notAfter: new Date(now.getTime() + 60 * DAY) }), newEvent());
      // an expired certificate renewed late is expired, not renewed
      await store.recordIssuance(newCertificate({ renews: gone.serial, notAfter: new Date(now.getTime() + 60 * DAY) }), newEvent());
      expect(await store.countCertificates(now)).toEqual({ valid: 3, renewed: 1, revoked: 0, expired: 1 });
      await store.revokeCertificate(a.serial, 'superseded', now);
      expect(await store.countCertificates(now)).toEqual({ valid: 3, renewed: 0, revoked: 1, expired: 1 });
    });

    it('releases a certificate from hold, and only from hold', async () => {
      const seen: StoreChange[] = [];
      const stop = store.changes.subscribe((c) => seen.push(c));
      const [held, compromised, valid] = [newCertificate(), newCertificate(), newCertificate()];
      for (const c of [held, compromised, valid]) await store.recordIssuance(c, newEvent());
      await store.revokeCertificate(held.serial, 'certificateHold', new Date('2025-06-01T00:00:00Z'), newEvent({ actor: 'officer@example.com', action: 'cert.revoke' }));
      await store.revokeCertificate(compromised.serial, 'keyCompromise', new Date('2025-06-02T00:00:00Z'));
      expect(await store.revocationSummary('default')).toEqual({ count: 2, latest: new Date('2025-06-02T00:00:00Z'), released: 0 });

      expect(await store.releaseHold(compromised.serial, newEvent({ action: 'cert.release' }))).toBe(false);
      expect(await store.releaseHold(valid.serial)).toBe(false);
      expect(await store.releaseHold('abcdef')).toBe(false);
      expect(await store.countAudit({ action: 'cert.release' })).toBe(0);

      expect(await store.releaseHold(held.serial, newEvent({ actor: 'officer2@example.com', action: 'cert.release', serial: held.serial }))).toBe(true);
      expect(await store.getCertificate(held.serial)).toMatchObject({ status: 'valid', revokedAt: null, revocationReason: null, revokedBy: null });
      expect(await store.isRevoked(held.serial)).toBe(false);
      expect((await store.listRevoked('default')).map((r) => r.serial)).toEqual([compromised.serial]);
      expect(await store.revocationSummary('default')).toEqual({ count: 1, latest: new Date('2025-06-02T00:00:00Z'), released: 1 });
      expect(await store.listAudit({ action: 'cert.release' })).toMatchObject([{ actor: 'officer2@example.com', serial: held.serial }]);
      expect(seen).toContainEqual({ kind: 'revocation', ca: 'default', serial: held.serial });
      expect(await store.releaseHold(held.serial)).toBe(false);
      // held again, and released again: each release counted
      expect(await store.revokeCertificate(held.serial, 'certificateHold', new Date('2025-06-03T00:00:00Z'))).toBe(true);
      expect(await store.releaseHold(held.serial)).toBe(true);
      expect(await store.revocationSummary('default')).toMatchObject({ count: 1, released: 2 });
      expect(await store.countCertificates(new Date('2025-06-03T00:00:00Z'))).toMatchObject({ valid: 2, revoked: 1 });
      stop();
    });

    it('finds the request an issued certificate fulfilled', async () => {
      const request = await store.createPendingRequest({
        profile: 'manual', operation: 'simpleenroll', requester: 'dev@example.com', keyId: 'ab'.repeat(32), csr: Buffer.from([0x30, 0x00]),
        subject: 'CN=held', sans: [], keyDescription: 'EC P-256', createdAt: new Date('2025-06-01T00:00:00Z'), expiresAt: new Date('2025-06-04T00:00:00Z'),
      });
      await store.decidePendingRequest(request.id, 'approved', 'officer@example.com', null, new Date('2025-06-01T01:00:00Z'));
      const cert = newCertificate({ profile: 'manual' });
      const direct = newCertificate();
      await store.recordIssuance(cert, newEvent(), { approvedRequestId: request.id });
      await store.recordIssuance(direct, newEvent());
      expect(await store.findRequestFor(cert.serial)).toMatchObject({ id: request.id, status: 'issued', decidedBy: 'officer@example.com', serial: cert.serial });
      expect(await store.findRequestFor(direct.serial)).toBeUndefined();
    });
  });
}

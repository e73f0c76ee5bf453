/**
 * The Store contract's request part, called from storeContract() so every implementation runs
 * it: what a held request records about its origin, four-eyes approval (two different officers,
 * atomically, each approval with its audit event), and the overlap search behind the Web RA's
 * "same subject or key" warnings.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewPendingRequest } from '../../src/ra/model.js';
import type { ApprovalEvents, Store } from '../../src/store/store.js';
import { newCertificate, newEvent } from './store-contract.js';

const CERT_SUMMARY = { subject: 'CN=device-7, O=Plant', issuer: 'CN=Device CA', serial: '0a1b2c', fingerprintSha256: 'AB:CD:EF' };

function held(overrides: Partial<NewPendingRequest> = {}): NewPendingRequest {
  return {
    profile: 'manual', operation: 'simpleenroll', requester: 'dev@example.com', keyId: 'ab'.repeat(32), csr: Buffer.from([0x30, 0x00]),
    subject: 'CN=held', sans: [], keyDescription: 'EC P-256', createdAt: new Date('2025-06-01T00:00:00Z'), expiresAt: new Date('2030-06-04T00:00:00Z'),
    ...overrides,
  };
}

const events = (id: number): ApprovalEvents => ({
  first: newEvent({ action: 'request.approve', outcome: 'first-approval', detail: `request ${id}: first of two` }),
  approved: newEvent({ action: 'request.approve', detail: `request ${id}` }),
});

export function storeRequestsContract(name: string, open: () => Promise<Store>, cleanup?: () => Promise<void>): void {
  describe(`Store contract: ${name}: held requests in detail`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close().catch(() => undefined);
      await cleanup?.();
    });

    it('records the client address, the authentication used and the client certificate; older requests read back as null', async () => {
      const r = await store.createPendingRequest(held({ clientAddress: '192.0.2.7', authMethod: 'basic+tls-client-cert', clientCertificate: CERT_SUMMARY }));
      expect(r).toMatchObject({ clientAddress: '192.0.2.7', authMethod: 'basic+tls-client-cert', clientCertificate: CERT_SUMMARY, firstApproval: null });
      expect(await store.getPendingRequest(r.id)).toMatchObject({ clientAddress: '192.0.2.7', authMethod: 'basic+tls-client-cert', clientCertificate: CERT_SUMMARY, firstApproval: null });
      const bare = await store.createPendingRequest(held({ keyId: 'cd'.repeat(32) }));
      expect(await store.getPendingRequest(bare.id)).toMatchObject({ clientAddress: null, authMethod: null, clientCertificate: null, firstApproval: null });
    });

    it('four-eyes: the first approval is recorded and the request stays pending; the same officer cannot give the second; another officer approves it', async () => {
      const r = await store.createPendingRequest(held());
      const at1 = new Date('2025-06-01T01:00:00Z');
      const at2 = new Date('2025-06-01T02:00:00Z');
      expect(await store.approvePendingRequest(r.id, 'first@example.com', 2, 'looks right', at1, events(r.id))).toBe('first-approval');
      expect(await store.getPendingRequest(r.id)).toMatchObject({ status: 'pending', firstApproval: { by: 'first@example.com', at: at1 }, decidedBy: null, reason: null });
      expect(await store.approvePendingRequest(r.id, 'first@example.com', 2, null, at2, events(r.id))).toBeUndefined();
      expect(await store.getPendingRequest(r.id)).toMatchObject({ status: 'pending', decidedBy: null });
      expect(await store.approvePendingRequest(r.id, 'second@example.com', 2, 'confirmed', at2, events(r.id))).toBe('approved');
      expect(await store.getPendingRequest(r.id)).toMatchObject({
        status: 'approved', firstApproval: { by: 'first@example.com', at: at1 }, decidedBy: 'second@example.com', decidedAt: at2, reason: 'confirmed',
      });
      expect(await store.approvePendingRequest(r.id, 'third@example.com', 2, null, at2, events(r.id))).toBeUndefined();
      const audit = await store.listAudit({ action: 'request.approve' });
      expect(audit.map((e) => [e.outcome, e.detail])).toEqual([['success', `request ${r.id}`], ['first-approval', `request ${r.id}: first of two`]]);
    });

    it('one approval suffices when one is required; a rejection after a first approval is final', async () => {
      const one = await store.createPendingRequest(held());
      expect(await store.approvePendingRequest(one.id, 'first@example.com', 1, null, new Date(), events(one.id))).toBe('approved');
      expect(await store.getPendingRequest(one.id)).toMatchObject({ status: 'approved', decidedBy: 'first@example.com', firstApproval: null });
      const two = await store.createPendingRequest(held({ keyId: 'cd'.repeat(32) }));
      expect(await store.approvePendingRequest(two.id, 'first@example.com', 2, null, new Date(), events(two.id))).toBe('first-approval');
      expect(await store.decidePendingRequest(two.id, 'rejected', 'second@example.com', 'not ours', new Date())).toBe(true);
      expect(await store.approvePendingRequest(two.id, 'third@example.com', 2, null, new Date(), events(two.id))).toBeUndefined();
      expect(await store.getPendingRequest(two.id)).toMatchObject({ status: 'rejected', reason: 'not ours', decidedBy: 'second@example.com' });
      expect(await store.approvePendingRequest(99_999, 'first@example.com', 1, null, new Date())).toBeUndefined();
    });

    it('two officers approving at once on a four-eyes profile: one first approval and one approval, never two firsts', async () => {
      const r = await store.createPendingRequest(held());
      const results = await Promise.all(['a@example.com', 'b@example.com'].map((o) => store.approvePendingRequest(r.id, o, 2, null, new Date(), events(r.id))));
      expect(results.sort()).toEqual(['approved', 'first-approval']);
      const read = await store.getPendingRequest(r.id);
      expect(read?.status).toBe('approved');
      expect(read?.firstApproval?.by).not.toBe(read?.decidedBy);
      expect((await store.listAudit({ action: 'request.approve' })).map((e) => e.outcome).sort()).toEqual(['first-approval', 'success']);
    });

    it('finds other undecided requests and valid certificates with the same subject or key', async () => {
      const now = new Date('2026-01-01T00:00:00Z');
      const same = await store.createPendingRequest(held({ subject: 'CN=pump-1', keyId: '11'.repeat(32) }));
      const sameKey = await store.createPendingRequest(held({ subject: 'CN=other', keyId: '22'.repeat(32), requester: 'b@example.com' }));
      const rejected = await store.createPendingRequest(held({ subject: 'CN=pump-1', keyId: '33'.repeat(32) }));
      await store.decidePendingRequest(rejected.id, 'rejected', 'o@example.com', 'no', now);
      await store.createPendingRequest(held({ subject: 'CN=unrelated', keyId: '44'.repeat(32) }));
      // a certificate with the subject; one issued for a held request with the key; a revoked and an expired one with the subject
      const bySubject = newCertificate({ subject: 'CN=pump-1', notAfter: new Date('2027-01-01T00:00:00Z') });
      await store.recordIssuance(bySubject, newEvent());
      const issuedRequest = await store.createPendingRequest(held({ subject: 'CN=old-name', keyId: '22'.repeat(32) }));
      await store.decidePendingRequest(issuedRequest.id, 'approved', 'o@example.com', null, now);
      const byKey = newCertificate({ subject: 'CN=old-name', notAfter: new Date('2027-01-01T00:00:00Z') });
      await store.recordIssuance(byKey, newEvent(), { approvedRequestId: issuedRequest.id });
      const revoked = newCertificate({ subject: 'CN=pump-1', notAfter: new Date('2027-01-01T00:00:00Z') });
      await store.recordIssuance(revoked, newEvent());
      await store.revokeCertificate(revoked.serial, 'keyCompromise', now);
      await store.recordIssuance(newCertificate({ subject: 'CN=pump-1', notAfter: new Date('2025-12-31T00:00:00Z') }), newEvent());

      const found = await store.findRequestOverlaps(['CN=pump-1'], ['22'.repeat(32)], now);
      expect(found.requests.map((r) => r.id).sort((a, b) => a - b)).toEqual([same.id, sameKey.id]);
      expect(found.certificates.map((c) => c.serial).sort()).toEqual([bySubject.serial, byKey.serial].sort());
      // found by subject and by key: listed once
      const both = await store.findRequestOverlaps(['CN=pump-1', 'CN=old-name'], ['11'.repeat(32), '22'.repeat(32)], now);
      expect(both.requests.map((r) => r.id).sort((a, b) => a - b)).toEqual([same.id, sameKey.id]);
      expect(both.certificates.map((c) => c.serial).sort()).toEqual([bySubject.serial, byKey.serial].sort());
      expect(await store.findRequestOverlaps([], [], now)).toEqual({ requests: [], certificates: [] });
    });
  });
}

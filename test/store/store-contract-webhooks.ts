/**
 * The webhook part of the Store contract: endpoints, events queued in the transaction of the
 * change (issuance, revocation, held request), expiring certificates announced once per
 * threshold, claims that one holder at a time gets, attempts, redelivery. Called from
 * storeContract(), so every implementation runs it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import type { NewWebhookEndpoint, WebhookEventType } from '../../src/store/webhook-types.js';
import type { NewCertificate, NewPendingRequest } from '../../src/ra/model.js';

const DAY = 86_400_000;
/** Triggers stamp deliveries with the database's clock: claims a minute ahead see them due. */
const soon = (): Date => new Date(Date.now() + 60_000);

function endpoint(events: WebhookEventType[], overrides: Partial<NewWebhookEndpoint> = {}): NewWebhookEndpoint {
  return {
    url: 'https://hooks.example.com/estuary', events, expiringDays: [30, 7], sealedSecret: 'v1.sealed', description: 'ops',
    createdBy: 'admin@example.com', createdAt: new Date('2026-06-01T00:00:00Z'), ...overrides,
  };
}

let n = 0;
function cert(overrides: Partial<NewCertificate> = {}): NewCertificate {
  n += 1;
  return {
    serial: `77${n.toString(16).padStart(6, '0')}${Math.random().toString(16).slice(2, 10)}`, profile: 'default', ca: 'default', subject: `CN=hook-${n}`,
    sans: [`DNS:hook-${n}.example`], notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date(Date.now() + 365 * DAY),
    der: Buffer.from([0x30, 0x03, 0x02, 0x01, n & 0x7f]), requester: 'est@example.com', renews: null, ...overrides,
  };
}

const held = (): NewPendingRequest => ({
  profile: 'manual', operation: 'simpleenroll', requester: 'dev@example.com', keyId: 'ab'.repeat(32), csr: Buffer.from([0x30, 0x00]),
  subject: 'CN=held', sans: ['DNS:held.example'], keyDescription: 'EC P-256', createdAt: new Date(), expiresAt: new Date(Date.now() + DAY),
});

const audit = { actor: 'est@example.com', action: 'simpleenroll', profile: 'default', outcome: 'success', serial: null, detail: null };

export function storeWebhookContract(name: string, open: () => Promise<Store>, cleanup: (() => Promise<void>) | undefined, openAgain: () => Promise<Store>): void {
  describe(`Store contract: ${name}: webhooks`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close().catch(() => undefined);
      await cleanup?.();
    });

    it('keeps endpoints (events, thresholds, sealed secret) and deletes one with its deliveries', async () => {
      const a = await store.createWebhookEndpoint(endpoint(['cert.issued', 'cert.revoked']));
      const b = await store.createWebhookEndpoint(endpoint(['cert.expiring'], { url: 'http://127.0.0.1:9/x', expiringDays: [1] }));
      expect(await store.getWebhookEndpoint(a.id)).toEqual(a);
      expect(a).toMatchObject({ events: ['cert.issued', 'cert.revoked'], expiringDays: [30, 7], sealedSecret: 'v1.sealed', createdBy: 'admin@example.com' });
      expect((await store.listWebhookEndpoints()).map((e) => e.id)).toEqual([a.id, b.id]);
      await store.recordIssuance(cert(), audit);
      expect((await store.listWebhookDeliveries({ endpointId: a.id })).total).toBe(1);
      expect(await store.deleteWebhookEndpoint(a.id)).toBe(true);
      expect(await store.deleteWebhookEndpoint(a.id)).toBe(false);
      expect(await store.getWebhookEndpoint(a.id)).toBeUndefined();
      expect((await store.listWebhookDeliveries()).total).toBe(0);
    });

    it('queues an event with the issuance, the revocation and the held request, for subscribed endpoints only', async () => {
      const c0 = cert();
      await store.recordIssuance(c0, audit); // no endpoint yet: nothing queued
      const issued = await store.createWebhookEndpoint(endpoint(['cert.issued']));
      const all = await store.createWebhookEndpoint(endpoint(['cert.issued', 'cert.revoked', 'request.pending']));
      const c1 = cert();
      await store.recordIssuance(c1, audit);
      expect(await store.revokeCertificate(c1.serial, 'keyCompromise', new Date('2026-06-02T00:00:00Z'))).toBe(true);
      const request = await store.createPendingRequest(held());
      const mine = await store.listWebhookDeliveries({ endpointId: all.id });
      expect(mine.total).toBe(3);
      const [pending, revoked, issuedEvent] = mine.items; // newest first
      expect(issuedEvent!.event.type).toBe('cert.issued');
      expect(JSON.parse(issuedEvent!.event.data)).toEqual({
        serial: c1.serial, profile: 'default', ca: 'default', subject: c1.subject, sans: c1.sans, notBefore: '2026-01-01T00:00:00.000Z',
        notAfter: c1.notAfter.toISOString(), requester: 'est@example.com', renews: null,
      });
      expect(revoked!.event.type).toBe('cert.revoked');
      expect(JSON.parse(revoked!.event.data)).toMatchObject({ serial: c1.serial, reason: 'keyCompromise', revokedAt: '2026-06-02T00:00:00.000Z' });
      expect(pending!.event.type).toBe('request.pending');
      expect(JSON.parse(pending!.event.data)).toMatchObject({ requestId: request.id, profile: 'manual', requester: 'dev@example.com', subject: 'CN=held', sans: ['DNS:held.example'] });
      expect(issuedEvent).toMatchObject({ status: 'pending', attempts: 0, lastError: null, responseCode: null, url: 'https://hooks.example.com/estuary' });
      const other = await store.listWebhookDeliveries({ endpointId: issued.id });
      expect(other.items.map((d) => d.event.type)).toEqual(['cert.issued']);
      expect(other.items[0]!.event.id).toBe(issuedEvent!.event.id); // one event, one delivery per endpoint
    });

    it('announces an expiring certificate once per threshold, at the smallest threshold it is within', async () => {
      const now = new Date();
      const hook = await store.createWebhookEndpoint(endpoint(['cert.expiring'], { expiringDays: [30, 7] }));
      const in20 = cert({ notAfter: new Date(now.getTime() + 20 * DAY) });
      const in5 = cert({ notAfter: new Date(now.getTime() + 5 * DAY) });
      const in90 = cert({ notAfter: new Date(now.getTime() + 90 * DAY) });
      const gone = cert({ notAfter: new Date(now.getTime() + 3 * DAY) });
      for (const c of [in20, in5, in90, gone]) await store.recordIssuance(c, audit);
      await store.revokeCertificate(gone.serial, 'superseded', now);
      expect(await store.queueExpiringWebhooks(now)).toBe(2);
      expect(await store.queueExpiringWebhooks(now)).toBe(0); // announced already
      const data = (await store.listWebhookDeliveries({ endpointId: hook.id })).items.map((d) => JSON.parse(d.event.data) as { serial: string; days: number });
      expect(data.map((d) => `${d.serial}:${d.days}`).sort()).toEqual([`${in20.serial}:30`, `${in5.serial}:7`].sort());
      // 14 days on, the 20-day certificate is within 7 days: announced again, once
      const later = new Date(now.getTime() + 14 * DAY);
      expect(await store.queueExpiringWebhooks(later)).toBe(1);
      expect(await store.queueExpiringWebhooks(later)).toBe(0);
      // another endpoint with the same threshold gets its own delivery of the same event
      const second = await store.createWebhookEndpoint(endpoint(['cert.expiring'], { expiringDays: [7] }));
      expect(await store.queueExpiringWebhooks(later)).toBe(1); // in20 (in5 has expired by then)
      expect((await store.listWebhookDeliveries({ endpointId: second.id })).items[0]!.event.type).toBe('cert.expiring');
    });

    it('gives a due delivery to one claim at a time, records attempts, and redelivers', async () => {
      const hook = await store.createWebhookEndpoint(endpoint(['cert.issued']));
      await store.recordIssuance(cert(), audit);
      const at = soon();
      const claimed = await store.claimWebhookDeliveries('instance-a', at, 30_000, 10);
      expect(claimed).toHaveLength(1);
      expect(claimed[0]).toMatchObject({ endpointId: hook.id, sealedSecret: 'v1.sealed', status: 'pending', claimedUntil: new Date(at.getTime() + 30_000) });
      expect(await store.claimWebhookDeliveries('instance-b', at, 30_000, 10)).toEqual([]);
      const id = claimed[0]!.id;
      expect(await store.redeliverWebhook(id, at)).toBe(false); // being attempted
      const retryAt = new Date(at.getTime() + 60_000);
      const attempt = { id, at, status: 'pending' as const, nextAttemptAt: retryAt, responseCode: 500, error: 'HTTP 500' };
      expect(await store.finishWebhookDeliveries('instance-b', [attempt])).toEqual([]); // not its claim
      expect(await store.finishWebhookDeliveries('instance-a', [attempt, { ...attempt, id: 999_999 }])).toEqual([id]);
      expect(await store.claimWebhookDeliveries('instance-b', at, 30_000, 10)).toEqual([]); // not due yet
      expect(await store.getWebhookDelivery(id)).toMatchObject({ status: 'pending', attempts: 1, responseCode: 500, lastError: 'HTTP 500', nextAttemptAt: retryAt });
      const again = await store.claimWebhookDeliveries('instance-b', retryAt, 30_000, 10);
      expect(again.map((d) => d.id)).toEqual([id]);
      // a claim whose holder died is taken over once it ends
      const taken = await store.claimWebhookDeliveries('instance-c', new Date(retryAt.getTime() + 30_000), 30_000, 10);
      expect(taken.map((d) => d.id)).toEqual([id]);
      const done = { id, at: retryAt, status: 'delivered' as const, nextAttemptAt: retryAt, responseCode: 204, error: null };
      expect(await store.finishWebhookDeliveries('instance-b', [done])).toEqual([]);
      expect(await store.finishWebhookDeliveries('instance-c', [done])).toEqual([id]);
      expect(await store.getWebhookDelivery(id)).toMatchObject({ status: 'delivered', attempts: 2, responseCode: 204, lastError: null });
      expect((await store.listWebhookDeliveries({ status: 'delivered' })).total).toBe(1);
      expect((await store.listWebhookDeliveries({ status: 'pending' })).total).toBe(0);
      const redo = new Date(retryAt.getTime() + 120_000);
      expect(await store.redeliverWebhook(id, redo)).toBe(true);
      expect(await store.redeliverWebhook(999_999, redo)).toBe(false);
      expect(await store.getWebhookDelivery(id)).toMatchObject({ status: 'pending', attempts: 0 });
      expect((await store.claimWebhookDeliveries('instance-a', redo, 30_000, 10)).map((d) => d.id)).toEqual([id]);
    });

    it('purges finished deliveries older than the retention, keeping pending ones and recent cert.expiring ones', async () => {
      const issued = await store.createWebhookEndpoint(endpoint(['cert.issued', 'cert.expiring'], { expiringDays: [30] }));
      const now = new Date();
      await store.recordIssuance(cert(), audit);
      await store.recordIssuance(cert(), audit);
      await store.recordIssuance(cert({ notAfter: new Date(now.getTime() + 10 * DAY) }), audit);
      await store.queueExpiringWebhooks(now);
      const at = soon();
      const claimed = await store.claimWebhookDeliveries('a', at, 30_000, 10);
      expect(claimed).toHaveLength(4);
      const keepPending = claimed.find((d) => d.event.type === 'cert.issued')!;
      const attempts = claimed.map((d) => {
        const status = d.id === keepPending.id ? ('pending' as const) : ('delivered' as const);
        return { id: d.id, at, status, nextAttemptAt: at, responseCode: status === 'pending' ? 500 : 200, error: null };
      });
      expect((await store.finishWebhookDeliveries('a', attempts)).sort((x, y) => x - y)).toEqual(claimed.map((d) => d.id).sort((x, y) => x - y));
      expect(await store.purgeWebhookDeliveries(at)).toBe(0); // attempted at `at`, not before it
      const later = new Date(at.getTime() + 31 * DAY);
      expect(await store.purgeWebhookDeliveries(later)).toBe(2); // the delivered cert.issued ones
      const left = (await store.listWebhookDeliveries({ endpointId: issued.id })).items;
      expect(left.map((d) => d.event.type).sort()).toEqual(['cert.expiring', 'cert.issued']);
      expect(await store.queueExpiringWebhooks(now)).toBe(0); // still announced once
      expect(await store.purgeWebhookDeliveries(new Date(at.getTime() + 400 * DAY))).toBe(1); // the expiring one, beyond any threshold
    });

    it('splits due deliveries between two instances claiming at once: each delivery goes to exactly one', async () => {
      await store.createWebhookEndpoint(endpoint(['cert.issued']));
      await store.createWebhookEndpoint(endpoint(['cert.issued'], { url: 'https://second.example.com/' }));
      for (let i = 0; i < 15; i++) await store.recordIssuance(cert(), audit); // 30 deliveries
      const other = await openAgain();
      try {
        const at = soon();
        const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? other : store).claimWebhookDeliveries(`holder-${i}`, at, 30_000, 5)));
        const ids = claims.flat().map((d) => d.id);
        expect(new Set(ids).size).toBe(ids.length); // nobody got one twice
        const rest = await other.claimWebhookDeliveries('holder-late', at, 30_000, 100);
        expect(ids.length + rest.length).toBe(30);
        expect(new Set([...ids, ...rest.map((d) => d.id)]).size).toBe(30);
      } finally {
        await other.close();
      }
    });
  });
}

/**
 * The Web RA's part of the Store contract: roles, account profile restrictions, certificate
 * search with totals, dashboard aggregates, paged requests and audit events. Called from
 * storeContract(), so every implementation runs it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreQueryError, type Store } from '../../src/store/store.js';
import type { NewPendingRequest } from '../../src/ra/model.js';
import { newCertificate, newEvent } from './store-contract.js';

const DAY = 86_400_000;

function pending(overrides: Partial<NewPendingRequest> = {}): NewPendingRequest {
  return {
    profile: 'manual', operation: 'simpleenroll', requester: 'dev@example.com', keyId: Math.random().toString(16).slice(2).padEnd(64, '0'),
    csr: Buffer.from([0x30, 0x00]), subject: 'CN=held', sans: [], keyDescription: 'EC P-256',
    createdAt: new Date('2025-06-01T00:00:00Z'), expiresAt: new Date('2025-06-04T00:00:00Z'), ...overrides,
  };
}

export function storeSearchContract(name: string, open: () => Promise<Store>, cleanup?: () => Promise<void>): void {
  describe(`Store contract: ${name}: Web RA queries`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close().catch(() => undefined);
      await cleanup?.();
    });

    it('keeps the officer and auditor roles, and an account restriction to profiles', async () => {
      const officer = await store.createAccount({ email: 'officer@example.com', passwordHash: 'h', role: 'officer' });
      await store.createAccount({ email: 'auditor@example.com', passwordHash: 'h', role: 'auditor' });
      expect(officer).toMatchObject({ role: 'officer', allowedProfiles: [], allowedNames: [] });
      expect((await store.getAccount('auditor@example.com'))?.role).toBe('auditor');
      await store.createAccount({ email: 'dev@example.com', passwordHash: 'h', role: 'est' });
      expect(await store.setAccountAllowedProfiles('DEV@example.com', ['iot', 'lab'])).toBe(true);
      expect((await store.getAccount('dev@example.com'))?.allowedProfiles).toEqual(['iot', 'lab']);
      expect(await store.setAccountAllowedProfiles('dev@example.com', [])).toBe(true);
      expect((await store.getAccount('dev@example.com'))?.allowedProfiles).toEqual([]);
      expect(await store.setAccountAllowedProfiles('none@example.com', ['iot'])).toBe(false);
    });

    it('self-service: the flag round-trips (off by default), and a search for one requester finds only its certificates, newest first', async () => {
      const holder = await store.createAccount({ email: 'holder@example.com', passwordHash: 'h', role: 'est' });
      expect(holder.selfService).toBe(false);
      expect(await store.setAccountSelfService('HOLDER@example.com', true)).toBe(true);
      expect((await store.getAccount('holder@example.com'))?.selfService).toBe(true);
      expect((await store.listAccounts()).find((a) => a.email === 'holder@example.com')?.selfService).toBe(true);
      expect(await store.setAccountSelfService('nobody@example.com', true)).toBe(false);
      const t = Date.parse('2025-06-01T00:00:00Z');
      const mine = [0, 1, 2].map((i) => newCertificate({ requester: 'holder@example.com', subject: `CN=mine-${i}`, notBefore: new Date(t + i * 1000) }));
      const other = newCertificate({ requester: 'other@example.com', subject: 'CN=mine-but-not' });
      for (const [i, cert] of [...mine, other].entries()) {
        await store.recordIssuance(cert, newEvent());
        if (i < 3) await new Promise((r) => setTimeout(r, 5)); // distinct issue times: newest first is well defined
      }
      const page = await store.searchCertificates({ requester: 'holder@example.com', countLimit: 100 });
      expect(page.items.map((c) => c.subject)).toEqual(['CN=mine-2', 'CN=mine-1', 'CN=mine-0']);
      expect(page.total).toBe(3);
      expect((await store.searchCertificates({ requester: 'holder@example.com', q: 'mine' })).items).toHaveLength(3);
      expect((await store.searchCertificates({ requester: 'holder@example.com', status: 'valid', now: new Date(t) })).total).toBe(3);
      expect((await store.searchCertificates({ requester: 'nobody@example.com' })).items).toEqual([]);
      expect(await store.setAccountSelfService('holder@example.com', false)).toBe(true);
      expect((await store.getAccount('holder@example.com'))?.selfService).toBe(false);
    });

    it('searches certificates by subject, SAN and serial substrings, case-insensitively, with a total', async () => {
      const a = newCertificate({ subject: 'CN=Sensor-17, O=Plant North', sans: ['DNS:sensor-17.plant.example', 'IP:10.1.2.3'], profile: 'iot' });
      const b = newCertificate({ subject: 'CN=gateway, O=Plant South', sans: ['DNS:gw.example'], profile: 'iot' });
      const c = newCertificate({ subject: 'CN=100%_done', sans: [], profile: 'web' });
      for (const cert of [a, b, c]) await store.recordIssuance(cert, newEvent());
      const serials = async (s: Parameters<Store['searchCertificates']>[0]) => (await store.searchCertificates(s)).items.map((x) => x.serial);
      expect(await serials({ subject: 'sensor-17' })).toEqual([a.serial]);
      expect(await serials({ subject: 'plant' })).toEqual([b.serial, a.serial]);
      expect(await serials({ san: 'GW.EXAMPLE' })).toEqual([b.serial]);
      expect(await serials({ san: '10.1.2' })).toEqual([a.serial]);
      expect(await serials({ serial: a.serial.slice(2, 10).toUpperCase() })).toEqual([a.serial]);
      expect(await serials({ serial: a.serial.slice(0, 6).match(/../g)!.join(':') })).toContain(a.serial);
      expect(await serials({ q: 'gw.example' })).toEqual([b.serial]);
      expect(await serials({ q: 'plant north' })).toEqual([a.serial]);
      expect(await serials({ q: b.serial })).toEqual([b.serial]);
      // LIKE wildcards in the input are literal characters
      expect(await serials({ subject: '100%_' })).toEqual([c.serial]);
      expect(await serials({ subject: '%' })).toEqual([c.serial]);
      expect(await serials({ subject: 'sensor_17' })).toEqual([]);
      expect(await serials({ profile: 'iot', subject: 'gateway' })).toEqual([b.serial]);
      expect(await store.searchCertificates({ subject: 'nothing-like-this' })).toEqual({ items: [], total: 0 });
    });

    it('judges valid, revoked and expired at the given time; filters by expiry window; orders by expiry', async () => {
      const now = new Date('2026-03-01T00:00:00Z');
      const expired = newCertificate({ notAfter: new Date(now.getTime() - DAY) });
      const soon = newCertificate({ notAfter: new Date(now.getTime() + 5 * DAY) });
      const later = newCertificate({ notAfter: new Date(now.getTime() + 20 * DAY) });
      const far = newCertificate({ notAfter: new Date(now.getTime() + 400 * DAY) });
      const revoked = newCertificate({ notAfter: new Date(now.getTime() + 10 * DAY) });
      for (const cert of [expired, soon, later, far, revoked]) await store.recordIssuance(cert, newEvent());
      await store.revokeCertificate(revoked.serial, 'superseded', new Date('2026-02-01T00:00:00Z'));
      const serials = async (s: Parameters<Store['searchCertificates']>[0]) => (await store.searchCertificates({ now, ...s })).items.map((x) => x.serial);
      expect((await serials({ status: 'valid' })).sort()).toEqual([soon.serial, later.serial, far.serial].sort());
      expect(await serials({ status: 'expired' })).toEqual([expired.serial]);
      expect(await serials({ status: 'revoked' })).toEqual([revoked.serial]);
      const window = { notAfterFrom: now, notAfterTo: new Date(now.getTime() + 30 * DAY) };
      expect(await serials({ ...window, status: 'valid', order: 'expiry' })).toEqual([soon.serial, later.serial]);
      expect(await serials({ ...window, order: 'expiry' })).toEqual([soon.serial, revoked.serial, later.serial]);
      expect(await store.countCertificates(now)).toEqual({ valid: 3, renewed: 0, revoked: 1, expired: 1 });
      expect(await store.countCertificates(new Date(now.getTime() + 15 * DAY))).toEqual({ valid: 2, renewed: 0, revoked: 1, expired: 2 });
    });

    it('pages certificate searches: offset, limit and the total of all matches', async () => {
      const certs = Array.from({ length: 7 }, (_, i) => newCertificate({ profile: i < 5 ? 'paged' : 'other' }));
      for (const cert of certs) await store.recordIssuance(cert, newEvent());
      const newestFirst = certs.slice(0, 5).map((c) => c.serial).reverse();
      const first = await store.searchCertificates({ profile: 'paged', limit: 2 });
      expect(first.total).toBe(5);
      expect(first.items.map((c) => c.serial)).toEqual(newestFirst.slice(0, 2));
      const last = await store.searchCertificates({ profile: 'paged', limit: 2, offset: 4 });
      expect(last).toMatchObject({ total: 5 });
      expect(last.items.map((c) => c.serial)).toEqual(newestFirst.slice(4));
      expect((await store.searchCertificates({ profile: 'paged', offset: 10 })).items).toEqual([]);
      expect((await store.searchCertificates()).total).toBe(7);
    });

    it('finds serials by prefix, by any part and exactly, with colons and any case', async () => {
      const a = newCertificate({ serial: '7f3a9c01d2e4b5a6c7d8e9f0a1b2c3d4' });
      const b = newCertificate({ serial: '7f3a9c02aaaaaaaaaaaaaaaaaaaaaaaa' });
      const c = newCertificate({ serial: '1234567890abcdef7f3a9c0000000000' });
      for (const cert of [a, b, c]) await store.recordIssuance(cert, newEvent());
      const serials = async (s: Parameters<Store['searchCertificates']>[0]) => (await store.searchCertificates(s)).items.map((x) => x.serial).sort();
      expect(await serials({ serial: '7F:3A:9C:0' })).toEqual([c.serial, a.serial, b.serial].sort());
      expect(await serials({ serial: '7f3a9c01' })).toEqual([a.serial]);
      expect(await serials({ serial: a.serial.toUpperCase() })).toEqual([a.serial]);
      expect(await serials({ serial: 'e4b5a6' })).toEqual([a.serial]);
      expect(await serials({ serial: 'aaaaaaaa' })).toEqual([b.serial]);
      expect(await serials({ serial: 'ab' })).toEqual([c.serial]);
      expect(await serials({ q: '90:AB:CD' })).toEqual([c.serial]);
      expect(await serials({ serial: '7f3a9c03' })).toEqual([]);
    });

    it('finds substrings of any length in subject and SANs, combined with the other filters', async () => {
      const a = newCertificate({ subject: 'CN=Kühlhaus-Sensor 04, O=Plant "North"', sans: ['DNS:kh-04.plant.example', 'IP:192.168.7.4'], profile: 'iot' });
      const b = newCertificate({ subject: 'CN=kh-05, O=Plant North', sans: ['DNS:kh-05.plant.example'], profile: 'web' });
      for (const cert of [a, b]) await store.recordIssuance(cert, newEvent());
      const serials = async (s: Parameters<Store['searchCertificates']>[0]) => (await store.searchCertificates(s)).items.map((x) => x.serial);
      expect(await serials({ subject: 'sensor 0' })).toEqual([a.serial]);
      expect(await serials({ subject: 'plant "north"' })).toEqual([a.serial]);
      expect(await serials({ subject: 'kühl' })).toEqual([a.serial]);
      expect(await serials({ subject: 'h-' })).toEqual([b.serial]);
      expect(await serials({ san: '168.7' })).toEqual([a.serial]);
      expect(await serials({ q: 'kh-0' })).toEqual([b.serial, a.serial]);
      expect(await serials({ q: 'kh-0', profile: 'web' })).toEqual([b.serial]);
      expect(await serials({ q: 'kh-0', subject: 'sensor', san: 'plant.example' })).toEqual([a.serial]);
      expect(await serials({ q: 'kh', san: 'kh-05' })).toEqual([b.serial]);
      expect(await serials({ q: 'OR "1"="1' })).toEqual([]);
      expect(await serials({ q: 'kh-0*' })).toEqual([]);
      expect(await serials({ subject: 'sensor', status: 'revoked' })).toEqual([]);
    });

    it('pages with a cursor: every match once, in order, whatever is issued meanwhile', async () => {
      const certs = Array.from({ length: 7 }, (_, i) => newCertificate({ profile: 'keyset', notAfter: new Date(Date.UTC(2027, 0, 1 + (i % 3))) }));
      for (const cert of certs) await store.recordIssuance(cert, newEvent());
      const added: string[] = [];
      const walk = async (order: 'issued' | 'expiry') => {
        const seen: string[] = [];
        let after: string | undefined;
        for (let n = 0; n < 10; n++) {
          const p = await store.searchCertificates({ profile: 'keyset', order, limit: 3, ...(after ? { after } : {}) });
          seen.push(...p.items.map((c) => c.serial));
          if (n === 0) {
            // issued after the walk began, newest and soonest to expire: before the cursor in either order
            const late = newCertificate({ profile: 'keyset', notAfter: new Date(Date.UTC(2026, 0, 1)) });
            await store.recordIssuance(late, newEvent());
            added.push(late.serial);
          }
          if (!p.next) break;
          expect(p.items).toHaveLength(3);
          after = p.next;
        }
        return seen;
      };
      expect(await walk('issued')).toEqual(certs.map((c) => c.serial).reverse());
      const byExpiry = [...certs].sort((x, y) => x.notAfter.getTime() - y.notAfter.getTime() || (x.serial < y.serial ? -1 : 1)).map((c) => c.serial);
      expect(await walk('expiry')).toEqual([added[0], ...byExpiry]);
      const full = await store.searchCertificates({ profile: 'keyset', limit: 2 });
      await expect(store.searchCertificates({ profile: 'keyset', order: 'expiry', after: full.next! })).rejects.toThrow(StoreQueryError);
      await expect(store.searchCertificates({ after: 'not-a-cursor' })).rejects.toThrow(StoreQueryError);
    });

    it('bounds the count when asked, and says when more match', async () => {
      for (let i = 0; i < 6; i++) await store.recordIssuance(newCertificate({ profile: 'counted' }), newEvent());
      expect(await store.searchCertificates({ profile: 'counted', countLimit: 4, limit: 2 })).toMatchObject({ total: 4, totalIsLowerBound: true });
      const exact = await store.searchCertificates({ profile: 'counted', countLimit: 6, limit: 2 });
      expect(exact.total).toBe(6);
      expect(exact.totalIsLowerBound).toBeUndefined();
      expect((await store.searchCertificates({ profile: 'counted', countLimit: 100 })).total).toBe(6);
      expect((await store.searchCertificates({ profile: 'counted' })).total).toBe(6);
    });

    it('keeps the dashboard counts and issuances per day as certificates are issued and revoked', async () => {
      const now = new Date();
      const expired = newCertificate({ notAfter: new Date(now.getTime() - DAY) });
      const valid = [newCertificate({ notAfter: new Date(now.getTime() + DAY) }), newCertificate({ notAfter: new Date(now.getTime() + 2 * DAY) })];
      for (const cert of [expired, ...valid]) await store.recordIssuance(cert, newEvent());
      expect(await store.countCertificates(now)).toEqual({ valid: 2, renewed: 0, revoked: 0, expired: 1 });
      await store.revokeCertificate(valid[0]!.serial, 'keyCompromise', now);
      await store.revokeCertificate(expired.serial, 'superseded', now);
      expect(await store.countCertificates(now)).toEqual({ valid: 1, renewed: 0, revoked: 2, expired: 0 });
      const today = (await store.getCertificate(expired.serial))!.createdAt.toISOString().slice(0, 10);
      const days = await store.issuedPerDay(new Date(`${today}T00:00:00.000Z`));
      expect(days.reduce((n, d) => n + d.count, 0)).toBe(3);
      expect(await store.issuedPerDay(new Date(Date.now() + 60_000))).toEqual([]);
    });

    it('counts issuances per UTC day of issuance', async () => {
      expect(await store.issuedPerDay(new Date(Date.now() - 30 * DAY))).toEqual([]);
      const certs = [newCertificate(), newCertificate(), newCertificate()];
      for (const cert of certs) await store.recordIssuance(cert, newEvent());
      const days = new Map<string, number>();
      for (const cert of certs) {
        const day = (await store.getCertificate(cert.serial))!.createdAt.toISOString().slice(0, 10);
        days.set(day, (days.get(day) ?? 0) + 1);
      }
      const expected = [...days].sort(([x], [y]) => x.localeCompare(y)).map(([day, count]) => ({ day, count }));
      expect(await store.issuedPerDay(new Date(Date.now() - 2 * DAY))).toEqual(expected);
      expect(await store.issuedPerDay(new Date(Date.now() + DAY))).toEqual([]);
    });

    it('counts and pages held requests', async () => {
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) ids.push((await store.createPendingRequest(pending({ profile: i < 4 ? 'manual' : 'other' }))).id);
      await store.decidePendingRequest(ids[0]!, 'rejected', 'officer@example.com', 'no', new Date());
      expect(await store.countPendingRequests()).toBe(5);
      expect(await store.countPendingRequests({ status: 'pending' })).toBe(4);
      expect(await store.countPendingRequests({ status: 'pending', profile: 'manual' })).toBe(3);
      expect(await store.countPendingRequests({ status: 'issued' })).toBe(0);
      const page = await store.listPendingRequests({ status: 'pending', limit: 2, offset: 1 });
      expect(page.map((r) => r.id)).toEqual([ids[3], ids[2]]);
    });

    it('filters audit events by time range, pages them and counts them', async () => {
      const t = (h: number) => new Date(Date.UTC(2025, 0, 1, h));
      for (let h = 0; h < 6; h++) await store.appendAudit(newEvent({ action: `a${h}`, actor: h % 2 ? 'odd' : 'even', at: t(h) }));
      const actions = async (f: Parameters<Store['listAudit']>[0]) => (await store.listAudit(f)).map((e) => e.action);
      expect(await actions({ from: t(2), to: t(4) })).toEqual(['a3', 'a2']);
      expect(await actions({ from: t(4) })).toEqual(['a5', 'a4']);
      expect(await actions({ to: t(1) })).toEqual(['a0']);
      expect(await actions({ actor: 'odd', from: t(2) })).toEqual(['a5', 'a3']);
      expect(await actions({ limit: 2, offset: 2 })).toEqual(['a3', 'a2']);
      expect(await store.countAudit()).toBe(6);
      expect(await store.countAudit({ from: t(2), to: t(4) })).toBe(2);
      expect(await store.countAudit({ actor: 'even', limit: 1 } as Parameters<Store['countAudit']>[0])).toBe(3);
    });
  });
}

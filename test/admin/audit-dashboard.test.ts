/** The audit log's filters and paging, and the dashboard's counts, daily issuance and expiring certificates. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/home.js';
import { enroll, signedIn, type AdminClient } from './admin-client.js';

const DAY = 86_400_000;
let s: TestServer;
let admin: AdminClient;
let clock = Date.now();

beforeAll(async () => {
  s = await startServer(undefined, {}, { admin: { now: () => new Date(clock) } });
  admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
});
afterAll(async () => {
  await s?.runtime.close();
});

describe('audit log', () => {
  it('filters by actor, action, profile and time, newest first, paged with a total', async () => {
    const t0 = new Date();
    await new Promise((r) => setTimeout(r, 5));
    expect((await admin.post('/api/profiles', { label: 'audited' })).status).toBe(201);
    expect((await enroll(s, { label: 'audited', cn: 'audited-1' })).status).toBe(200);
    expect((await enroll(s, { label: 'audited', cn: 'audited-2' })).status).toBe(200);
    expect((await enroll(s, { label: 'audited', basic: { user: 'est@estuary.local', password: 'wrong' } })).status).toBe(401);

    const byProfile = await admin.get('/api/audit?profile=audited');
    expect(byProfile.json.items.map((e: { action: string; outcome: string }) => `${e.action}:${e.outcome}`)).toEqual([
      'simpleenroll:unauthenticated', 'simpleenroll:success', 'simpleenroll:success', 'profile.create:success',
    ]);
    expect(byProfile.json).toMatchObject({ total: 4, offset: 0, limit: 50 });
    expect(byProfile.json.items[0]).toEqual({ id: expect.any(Number), at: expect.any(String), actor: 'est@estuary.local', action: 'simpleenroll', profile: 'audited', outcome: 'unauthenticated', serial: null, detail: expect.any(String), clientIp: '127.0.0.1', requestId: expect.any(String) });
    expect((await admin.get('/api/audit?profile=audited&action=simpleenroll&actor=est%40estuary.local')).json.total).toBe(3);
    expect((await admin.get('/api/audit?actor=admin%40estuary.local&action=profile.create')).json.items[0]).toMatchObject({ profile: 'audited' });
    const paged = await admin.get('/api/audit?profile=audited&limit=2&offset=1');
    expect(paged.json.items.map((e: { outcome: string }) => e.outcome)).toEqual(['success', 'success']);
    expect(paged.json.total).toBe(4);
    expect((await admin.get(`/api/audit?profile=audited&from=${t0.toISOString()}`)).json.total).toBe(4);
    expect((await admin.get(`/api/audit?profile=audited&to=${t0.toISOString()}`)).json.total).toBe(0);
    const init = (await admin.get(`/api/audit?action=init&to=${encodeURIComponent(new Date().toISOString())}`)).json;
    expect(init.items[0]).toMatchObject({ actor: expect.stringMatching(/^cli:/), outcome: 'success' });
    for (const bad of ['from=yesterday', 'to=2025-13-45', 'limit=1000', 'offset=x']) {
      expect((await admin.get(`/api/audit?${bad}`)).status, bad).toBe(400);
    }
  });
});

describe('dashboard', () => {
  it('counts by status, issuance per day for 30 days (today last), certificates expiring within 30 days', async () => {
    expect((await admin.post('/api/profiles', { label: 'short', validityDays: 10 })).status).toBe(201);
    expect((await admin.post('/api/profiles', { label: 'manual', approval: 'manual' })).status).toBe(201);
    const short = await enroll(s, { label: 'short', cn: 'short-lived' });
    expect(short.status).toBe(200);
    expect((await enroll(s, { label: 'manual', cn: 'waiting' })).status).toBe(202);
    const revoked = await enroll(s, { cn: 'to-revoke' });
    expect((await admin.post(`/api/certificates/${revoked.serial}/revoke`, { reason: 'superseded' })).status).toBe(200);

    const d = (await admin.get('/api/dashboard')).json;
    expect(d.counts).toEqual({ valid: 3, renewed: 0, revoked: 1, expired: 0, pendingRequests: 1 }); // 2 from the audit test, 1 short-lived
    expect(d.issuedPerDay).toHaveLength(30);
    const today = new Date(clock).toISOString().slice(0, 10);
    expect(d.issuedPerDay[29]).toEqual({ day: today, count: 4 });
    expect(d.issuedPerDay[0].day).toBe(new Date(clock - 29 * DAY).toISOString().slice(0, 10));
    expect(d.issuedPerDay.slice(0, 29).every((x: { count: number }) => x.count === 0)).toBe(true);
    expect(d.expiringSoon).toEqual([{ serial: short.serial, subject: 'CN=short-lived', profile: 'short', notAfter: expect.any(String), renewedBy: null }]);

    clock += 11 * DAY; // the short-lived certificate has expired by then (and so has the session)
    expect((await admin.get('/api/dashboard')).status).toBe(401);
    admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
    const later = (await admin.get('/api/dashboard')).json;
    expect(later.counts).toEqual({ valid: 2, renewed: 0, revoked: 1, expired: 1, pendingRequests: 1 });
    expect(later.expiringSoon).toEqual([]);
    expect(later.issuedPerDay[29 - 11]).toEqual({ day: today, count: 4 });
    expect((await admin.get('/api/certificates?status=expired')).json.items.map((c: { serial: string; status: string }) => [c.serial, c.status])).toEqual([[short.serial, 'expired']]);
  });
});

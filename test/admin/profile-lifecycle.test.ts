/**
 * Profiles and accounts through the API, day two: validity in hours or minutes (short-lived
 * certificates, issued by the built-in CA for exactly that long), the default profile marked,
 * clone, delete or retire with the consequence said first, account deletion; all audited.
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { addAccount, enroll, signedIn, type AdminClient } from './admin-client.js';

let s: TestServer;
let admin: AdminClient;

beforeAll(async () => {
  s = await startServer();
  admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
});
afterAll(async () => {
  await s?.runtime.close();
});

const lastAudit = async (action: string) => (await admin.get(`/api/audit?action=${action}&limit=1`)).json.items[0];

describe('validity in hours and minutes', () => {
  it('creates an 8h profile; the built-in CA issues certificates valid 8 hours from issuance', async () => {
    const res = await admin.post('/api/profiles', { label: 'hours', validity: '8h' });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({ validity: '8h', validitySeconds: 28_800, validityDays: 1 / 3, retiredAt: null, default: false });
    const before = Date.now();
    const e = await enroll(s, { label: 'hours', cn: 'shift-8h' });
    expect(e.status, e.text).toBe(200);
    const cert = (await s.runtime.store.getCertificate(e.serial!))!;
    expect(cert.notAfter.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 28_800_000);
    expect(cert.notAfter.getTime()).toBeLessThanOrEqual(Date.now() + 28_800_000);
  });

  it('changes it with validity or validityDays; a whole profile sent back with one of them changed takes that one', async () => {
    expect((await admin.put('/api/profiles/hours', { validity: '90m' })).json).toMatchObject({ validity: '90m', validitySeconds: 5400 });
    expect(await lastAudit('profile.update')).toMatchObject({ profile: 'hours', detail: 'changed: validitySeconds' });
    expect((await admin.put('/api/profiles/hours', { validityDays: 2 })).json).toMatchObject({ validity: '2d', validitySeconds: 172_800, validityDays: 2 });
    const whole = (await admin.get('/api/profiles/hours')).json;
    expect((await admin.put('/api/profiles/hours', { ...whole, validity: '1d12h' })).json).toMatchObject({ validity: '1d12h', validitySeconds: 129_600 });
    const back = (await admin.get('/api/profiles/hours')).json;
    expect((await admin.put('/api/profiles/hours', { ...back, validityDays: 3 })).json.validity).toBe('3d');
  });

  it('refuses what is not a validity, or out of range, with 400 naming the field; nothing saved', async () => {
    for (const [body, message] of [
      [{ validity: 'soon' }, /expected a duration such as 30d, 8h, 90m or 1d12h/],
      [{ validity: '30s' }, /from 1m to 3650d, got 30s/],
      [{ validity: '3651d' }, /from 1m to 3650d, got 3651d/],
      [{ validity: '8h', validityDays: 5 }, /give the validity once/],
    ] as const) {
      const res = await admin.put('/api/profiles/hours', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.errors[0].field).toBe('validity');
      expect(res.json.errors[0].message).toMatch(message);
    }
    expect((await s.runtime.store.getProfile('hours'))!.validitySeconds).toBe(3 * 86_400);
  });
});

describe('the list, clone', () => {
  it('marks the default profile', async () => {
    const items = (await admin.get('/api/profiles')).json.items as Array<{ label: string; default: boolean }>;
    expect(items.filter((p) => p.default).map((p) => p.label)).toEqual(['default']);
  });

  it('clones a profile with every setting, disabled unless asked; audited; refuses a taken or bad label and an unknown source', async () => {
    await admin.put('/api/profiles/hours', { validity: '8h', approval: 'manual', extendedKeyUsage: ['clientAuth'] });
    const res = await admin.post('/api/profiles/hours/clone', { label: 'hours-b' });
    expect(res.status, res.text).toBe(201);
    expect(res.headers.location).toBe('/api/profiles/hours-b');
    const { label: _a, enabled: _e, createdAt: _c, updatedAt: _u, estUrl: _x, ...source } = (await admin.get('/api/profiles/hours')).json;
    expect(res.json).toMatchObject({ ...source, label: 'hours-b', enabled: false, estUrl: `${s.base}/hours-b` });
    expect(await lastAudit('profile.clone')).toMatchObject({ actor: s.summary.adminAccount.email, profile: 'hours-b', detail: 'from hours' });
    expect((await admin.post('/api/profiles/hours/clone', { label: 'hours-c', enabled: true })).json.enabled).toBe(true);
    expect((await admin.post('/api/profiles/hours/clone', { label: 'hours-b' })).status).toBe(409);
    expect((await admin.post('/api/profiles/hours/clone', { label: 'simpleenroll' })).status).toBe(400);
    expect((await admin.post('/api/profiles/nope/clone', { label: 'x1' })).status).toBe(404);
  });
});

describe('delete or retire', () => {
  it('deletes a profile that never issued, after saying so; the label is free again', async () => {
    const plan = await admin.get('/api/profiles/hours-b/removal');
    expect(plan.json).toMatchObject({ action: 'delete', use: { certificates: 0, validCertificates: 0, openRequests: 0, requests: 0 } });
    expect(plan.json.consequence).toMatch(/has issued no certificates: it is deleted/);
    const res = await admin.delete('/api/profiles/hours-b');
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ label: 'hours-b', outcome: 'deleted' });
    expect((await admin.get('/api/profiles/hours-b')).status).toBe(404);
    expect(await lastAudit('profile.delete')).toMatchObject({ profile: 'hours-b', outcome: 'success' });
  });

  it('retires a profile that issued: it stops enrolling, cannot be changed, and its certificates stay valid and revocable', async () => {
    expect((await admin.put('/api/profiles/hours-c', { approval: 'auto' })).status).toBe(200);
    const e = await enroll(s, { label: 'hours-c', cn: 'retiring' });
    expect(e.status, e.text).toBe(200);
    const plan = (await admin.get('/api/profiles/hours-c/removal')).json;
    expect(plan).toMatchObject({ action: 'retire', use: { certificates: 1, validCertificates: 1 } });
    expect(plan.consequence).toMatch(/retired, not deleted: it stops enrolling .* its certificates stay valid, listed and revocable/);
    const res = await admin.delete('/api/profiles/hours-c');
    expect(res.json).toMatchObject({ label: 'hours-c', outcome: 'retired' });
    expect(await lastAudit('profile.retire')).toMatchObject({ profile: 'hours-c', detail: '1 certificate (1 valid)' });

    const p = (await admin.get('/api/profiles/hours-c')).json;
    expect(p).toMatchObject({ enabled: false });
    expect(Date.parse(p.retiredAt)).not.toBeNaN();
    const csr = await makeCsr({ name: 'CN=after-retirement' });
    const est = await estRequest(`${s.base}/hours-c/simpleenroll`, { ca: s.rootPem, basic: { user: s.summary.estAccount.email, password: s.summary.estAccount.password }, body: csrBody(csr.der), contentType: 'application/pkcs10' });
    expect(est.status).toBe(404);
    const change = await admin.put('/api/profiles/hours-c', { enabled: true });
    expect(change.status).toBe(409);
    expect(change.json.detail).toMatch(/retired and cannot be changed; clone it/);
    expect((await admin.get(`/api/certificates/${e.serial}`)).json).toMatchObject({ status: 'valid', profile: 'hours-c' });
    expect((await admin.post(`/api/certificates/${e.serial}/revoke`, { reason: 'cessationOfOperation' })).status).toBe(200);
    const again = await admin.delete('/api/profiles/hours-c');
    expect(again.status).toBe(409);
    expect(again.json.detail).toMatch(/already retired/);
    // a retired profile can be cloned, the clone is in service
    expect((await admin.post('/api/profiles/hours-c/clone', { label: 'hours-d' })).json).toMatchObject({ retiredAt: null, validity: '8h' });
  });

  it('refuses the default profile, a profile with requests waiting, and officers', async () => {
    const plan = (await admin.get('/api/profiles/default/removal')).json;
    expect(plan).toMatchObject({ action: 'refused' });
    expect(plan.reason).toMatch(/is the default profile/);
    expect((await admin.delete('/api/profiles/default')).status).toBe(409);

    const held = await enroll(s, { label: 'hours', cn: 'waiting' });
    expect(held.status).toBe(202);
    const waiting = await admin.delete('/api/profiles/hours');
    expect(waiting.status).toBe(409);
    expect(waiting.json.detail).toMatch(/1 request waiting/);

    await addAccount(admin, 'officer@example.com', 'officer', 'officer-pass-1234-long');
    const officer = await signedIn(s, 'officer@example.com', 'officer-pass-1234-long');
    expect((await officer.delete('/api/profiles/hours-d')).status).toBe(403);
    expect((await officer.get('/api/profiles/hours-d/removal')).json.action).toBe('delete');
    expect((await admin.get('/api/profiles/nope/removal')).status).toBe(404);
  });
});

describe('accounts', () => {
  it('creates an EST account restricted to profiles and names; deleting it says its certificates stay, then it can no longer enroll', async () => {
    const created = await admin.post('/api/accounts', { email: 'device-7@example.com', role: 'est', password: 'device-7-password-long', allowedProfiles: ['hours-d'], allowedNames: ['sensor-7.*.example.com'] });
    expect(created.status, created.text).toBe(201);
    expect((await admin.get('/api/accounts/device-7@example.com')).json).toMatchObject({ allowedProfiles: ['hours-d'], allowedNames: ['sensor-7.*.example.com'] });
    await admin.put('/api/profiles/hours-d', { enabled: true, allowedAccounts: ['device-7@example.com'] });
    const basic = { user: 'device-7@example.com', password: 'device-7-password-long' };
    const e = await enroll(s, { label: 'hours-d', cn: 'sensor-7.a.example.com', basic });
    expect(e.status, e.text).toBe(200);

    const plan = (await admin.get('/api/accounts/device-7@example.com/removal')).json;
    expect(plan.action).toBe('delete');
    expect(plan.consequence).toMatch(/certificates it obtained stay valid, listed and revocable/);
    expect(plan.consequence).toMatch(/It stays named in the allowed accounts of profile "hours-d": an account made later with this email could use it\./);
    const res = await admin.delete('/api/accounts/Device-7@example.com');
    expect(res.status, res.text).toBe(200);
    expect((await admin.get('/api/accounts/device-7@example.com')).status).toBe(404);
    expect(await lastAudit('account.delete')).toMatchObject({ actor: s.summary.adminAccount.email, detail: 'device-7@example.com (est)' });
    expect((await enroll(s, { label: 'hours-d', cn: 'sensor-7.b.example.com', basic })).status).toBe(401);
    expect((await admin.get(`/api/certificates/${e.serial}`)).json).toMatchObject({ status: 'valid', requester: 'device-7@example.com' });
    expect(new X509Certificate((await admin.get(`/api/certificates/${e.serial}/pem`)).text).subject).toBe('CN=sensor-7.a.example.com');
  });

  it('refuses to delete the signed-in account, and answers 404 for an unknown one', async () => {
    const own = await admin.delete(`/api/accounts/${encodeURIComponent(s.summary.adminAccount.email)}`);
    expect(own.status).toBe(409);
    expect(own.json.detail).toMatch(/the account you are signed in with/);
    expect((await admin.delete('/api/accounts/nobody@example.com')).status).toBe(404);
  });
});

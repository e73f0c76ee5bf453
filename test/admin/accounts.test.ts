/** Accounts through the API: create (password shown once, or set), disable, reset, restrict to names and profiles. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/home.js';
import { AdminClient, enroll, signedIn } from './admin-client.js';

let s: TestServer;
let admin: AdminClient;
const basic = (user: string, password: string) => ({ user, password });

beforeAll(async () => {
  s = await startServer();
  admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
});
afterAll(async () => {
  await s?.runtime.close();
});

describe('accounts', () => {
  it('lists accounts without password hashes', async () => {
    const res = await admin.get('/api/accounts');
    expect(res.status).toBe(200);
    expect(res.json.items.map((a: { email: string; role: string }) => [a.email, a.role])).toEqual([['est@estuary.local', 'est'], ['admin@estuary.local', 'admin']]);
    expect(res.text).not.toMatch(/scrypt|passwordHash/);
    expect(res.json.items[0]).toEqual({ email: 'est@estuary.local', role: 'est', disabled: false, allowedNames: [], allowedProfiles: [], selfService: false, createdAt: expect.any(String), updatedAt: expect.any(String), mfa: false });
  });

  it('creates an EST account with a generated password shown once; it enrolls at once', async () => {
    const res = await admin.post('/api/accounts', { email: 'Device@Example.com', role: 'est' });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toEqual({ email: 'device@example.com', role: 'est', password: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/) });
    expect((await enroll(s, { basic: basic('device@example.com', res.json.password), cn: 'device-1' })).status).toBe(200);
    expect((await admin.get('/api/accounts/device@example.com')).json).not.toHaveProperty('password');
    const audit = await admin.get('/api/audit?action=account.add');
    expect(audit.json.items[0]).toMatchObject({ actor: 'admin@estuary.local', detail: 'device@example.com (est)' });
  });

  it('creates accounts of every role with a chosen password; officer and auditor sign in, est cannot', async () => {
    for (const role of ['officer', 'auditor', 'admin', 'est']) {
      const res = await admin.post('/api/accounts', { email: `${role}-2@example.com`, role, password: 'chosen-password-1' });
      expect(res.json).toEqual({ email: `${role}-2@example.com`, role });
      expect((await new AdminClient(s).signIn(`${role}-2@example.com`, 'chosen-password-1')).status).toBe(role === 'est' ? 401 : 200);
    }
  });

  it('validates the input: email, role, password length, unknown properties, duplicates', async () => {
    const cases: Array<[unknown, string]> = [
      [{ email: 'not-an-email', role: 'est' }, 'email'],
      [{ email: 'a@example.com', role: 'root' }, 'role'],
      [{ email: 'a@example.com', role: 'est', password: 'short' }, 'password'],
      [{ email: 'a@example.com', role: 'est', admin: true }, 'admin'],
      [{ email: 'a@example.com' }, 'role'],
      [{ email: 'a@example.com', role: 'est', allowedProfiles: ['missing'] }, 'allowedProfiles'],
    ];
    for (const [body, field] of cases) {
      const res = await admin.post('/api/accounts', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.errors[0].field, JSON.stringify(body)).toBe(field);
    }
    expect((await admin.get('/api/accounts/a@example.com')).status).toBe(404);
    const dup = await admin.post('/api/accounts', { email: 'DEVICE@example.com', role: 'est' });
    expect(dup.status).toBe(409);
  });

  it('refuses the most common passwords (any case) and the email or its local part, on create and on reset', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['weak-1@example.com', 'Password1', /one of the most common passwords/],
      ['weak-2@example.com', 'QWERTYUIOP', /one of the most common passwords/],
      ['weak-3@example.com', 'iloveyou2', /one of the most common passwords/],
      ['Sensor-Seventeen@example.com', 'sensor-seventeen', /cannot be the account's email address or its local part/],
      ['sensor-eighteen@example.com', 'SENSOR-EIGHTEEN@EXAMPLE.COM', /cannot be the account's email address/],
    ];
    for (const [email, password, reason] of cases) {
      const res = await admin.post('/api/accounts', { email, role: 'est', password });
      expect(res.status, password).toBe(400);
      expect(res.json.errors).toEqual([{ field: 'password', message: expect.stringMatching(reason) }]);
      expect((await admin.get(`/api/accounts/${encodeURIComponent(email.toLowerCase())}`)).status).toBe(404);
    }
    expect((await admin.post('/api/accounts', { email: 'strong@example.com', role: 'est', password: 'tidal-marsh-heron-41' })).status).toBe(201);
    const reset = await admin.post('/api/accounts/strong%40example.com/password', { password: 'TrustNo1' });
    expect(reset.status).toBe(400);
    expect(reset.json.errors[0]).toMatchObject({ field: 'password', message: expect.stringMatching(/most common/) });
    expect((await admin.post('/api/accounts/strong%40example.com/password', { password: 'strong@example.com' })).status).toBe(400);
  });

  it('disables and enables: EST refuses a disabled account at once', async () => {
    const pw = (await admin.post('/api/accounts', { email: 'toggle@example.com', role: 'est' })).json.password as string;
    const off = await admin.patch('/api/accounts/toggle@example.com', { disabled: true });
    expect(off.status).toBe(200);
    expect(off.json.disabled).toBe(true);
    expect((await enroll(s, { basic: basic('toggle@example.com', pw) })).status).toBe(401);
    expect((await admin.patch('/api/accounts/TOGGLE@example.com', { disabled: false })).json.disabled).toBe(false);
    expect((await enroll(s, { basic: basic('toggle@example.com', pw) })).status).toBe(200);
    const actions = (await admin.get('/api/audit?actor=admin%40estuary.local&limit=5')).json.items.map((e: { action: string }) => e.action);
    expect(actions.slice(0, 2)).toEqual(['account.enable', 'account.disable']);
    expect((await admin.patch('/api/accounts/nobody@example.com', { disabled: true })).status).toBe(404);
    expect((await admin.patch('/api/accounts/toggle@example.com', {})).status).toBe(400);
    const self = await admin.patch('/api/accounts/admin@estuary.local', { disabled: true });
    expect(self.status).toBe(400);
    expect(self.json.errors[0].field).toBe('disabled');
  });

  it('resets a password (generated or set); the old one stops working; other sessions of that account end', async () => {
    const res = await admin.post('/api/accounts/device@example.com/password');
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ email: 'device@example.com', password: expect.any(String) });
    expect((await enroll(s, { basic: basic('device@example.com', res.json.password) })).status).toBe(200);
    const set = await admin.post('/api/accounts/device@example.com/password', { password: 'a-new-password' });
    expect(set.json).toEqual({ email: 'device@example.com' });
    expect((await enroll(s, { basic: basic('device@example.com', res.json.password) })).status).toBe(401);
    expect((await enroll(s, { basic: basic('device@example.com', 'a-new-password') })).status).toBe(200);

    const officer = await signedIn(s, 'officer-2@example.com', 'chosen-password-1');
    expect((await admin.post('/api/accounts/officer-2@example.com/password', { password: 'officer-password-2' })).status).toBe(200);
    expect((await officer.get('/api/session')).status).toBe(401);
    expect((await admin.post('/api/accounts/nobody@example.com/password', {})).status).toBe(404);
    expect((await admin.get('/api/audit?action=account.passwd')).json.total).toBe(3);
  });

  it('restricts an EST account to names', async () => {
    const res = await admin.patch('/api/accounts/device@example.com', { allowedNames: ['sensor-*.example.com', 'sensor-1'] });
    expect(res.json.allowedNames).toEqual(['sensor-*.example.com', 'sensor-1']);
    const creds = basic('device@example.com', 'a-new-password');
    expect((await enroll(s, { basic: creds, cn: 'sensor-1' })).status).toBe(200);
    const refused = await enroll(s, { basic: creds, cn: 'printer-1' });
    expect(refused.status).toBe(403);
    expect(refused.text).toMatch(/may not request the name "printer-1"/);
    const badGlob = await admin.patch('/api/accounts/device@example.com', { allowedNames: ['dns:*.example.com', 'mail:*@example.com'] });
    expect(badGlob.status).toBe(400);
    expect(badGlob.json.errors[0]).toMatchObject({ field: 'allowedNames.1', message: expect.stringMatching(/unknown name type prefix "mail:"/) });
    await admin.patch('/api/accounts/device@example.com', { allowedNames: [] });
    expect((await enroll(s, { basic: creds, cn: 'printer-1' })).status).toBe(200);
  });

  it('restricts an EST account to profiles; other accounts keep their access', async () => {
    expect((await admin.post('/api/profiles', { label: 'lab' })).status).toBe(201);
    const creds = basic('device@example.com', 'a-new-password');
    const res = await admin.put('/api/accounts/device@example.com/profiles', { profiles: ['lab'] });
    expect(res.status, res.text).toBe(200);
    expect(res.json.allowedProfiles).toEqual(['lab']);
    expect((await admin.get('/api/accounts')).json.items.find((a: { email: string }) => a.email === 'device@example.com').allowedProfiles).toEqual(['lab']);
    expect((await enroll(s, { basic: creds, label: 'lab' })).status).toBe(200);
    const refused = await enroll(s, { basic: creds, label: 'default' });
    expect(refused.status).toBe(403);
    expect((await enroll(s, { label: 'lab' })).status).toBe(200); // the home's EST account is not restricted
    expect((await enroll(s, { label: 'default' })).status).toBe(200);
    const bad = await admin.put('/api/accounts/device@example.com/profiles', { profiles: ['lab', 'missing'] });
    expect(bad.status).toBe(400);
    expect(bad.json.errors).toEqual([{ field: 'profiles', message: 'no profile "missing"' }]);
    expect((await admin.put('/api/accounts/device@example.com/profiles', { profiles: [] })).json.allowedProfiles).toEqual([]);
    expect((await enroll(s, { basic: creds, label: 'default' })).status).toBe(200);
    const audit = await admin.get('/api/audit?action=account.restrict');
    expect(audit.json.items[0].detail).toBe('device@example.com: profiles (any)');
  });
});

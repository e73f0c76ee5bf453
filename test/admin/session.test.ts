/**
 * Web RA sign-in over real TLS: cookies, who may sign in, CSRF, throttling and lockout with
 * audit events, idle and absolute session expiry on an injected clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/home.js';
import { AdminClient, addAccount, signedIn } from './admin-client.js';

let s: TestServer;
let clock = Date.now();
const admin = () => s.summary.adminAccount;

beforeAll(async () => {
  s = await startServer(undefined, {}, { admin: { now: () => new Date(clock) } });
});
afterAll(async () => {
  await s?.runtime.close();
});

describe('sign-in', () => {
  it('sets an HttpOnly, Secure, SameSite=Strict session cookie and returns the session', async () => {
    const c = new AdminClient(s);
    const res = await c.signIn(admin().email, admin().password);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ email: 'admin@estuary.local', role: 'admin', idleTimeoutSeconds: 1800 });
    expect(res.json.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Date(res.json.expiresAt).getTime()).toBe(clock + 12 * 3_600_000);
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^estuary_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    expect(res.headers['cache-control']).toBe('no-store');
    const again = await c.get('/api/session');
    expect(again.status).toBe(200);
    expect(again.json).toEqual(res.json);
  });

  it('answers 401 problem+json without a session, and for a made-up cookie', async () => {
    const c = new AdminClient(s);
    const res = await c.get('/api/session');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json).toMatchObject({ type: 'urn:estuary:problem:unauthenticated', status: 401, title: 'Sign-in required' });
    c.cookie = 'estuary_session=AAAA';
    expect((await c.get('/api/dashboard')).status).toBe(401);
  });

  it('refuses EST accounts, unknown emails and wrong passwords alike, and disabled accounts', async () => {
    const est = s.summary.estAccount;
    const answers = await Promise.all([
      new AdminClient(s).signIn(est.email, est.password),
      new AdminClient(s).signIn('nobody@example.com', 'whatever-password'),
      new AdminClient(s).signIn(admin().email, 'wrong-password'),
    ]);
    for (const res of answers) {
      expect(res.status).toBe(401);
      expect(res.json.detail).toBe('wrong email or password');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    const a = await signedIn(s, admin().email, admin().password);
    const pw = await addAccount(a, 'gone@example.com', 'auditor');
    const gone = await signedIn(s, 'gone@example.com', pw);
    expect((await a.patch('/api/accounts/gone@example.com', { disabled: true })).status).toBe(200);
    expect((await gone.get('/api/session')).status).toBe(401); // the live session ends at once
    expect((await new AdminClient(s).signIn('gone@example.com', pw)).status).toBe(401);
    const audit = await a.get(`/api/audit?action=session.signin&actor=${encodeURIComponent(est.email)}`);
    expect(audit.json.items[0]).toMatchObject({ outcome: 'unauthenticated', detail: expect.stringMatching(/a est account cannot sign in/) });
  });

  it('signs out: the session is gone and the cookie cleared', async () => {
    const c = await signedIn(s, admin().email, admin().password);
    const out = await c.delete('/api/session');
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^estuary_session=; .*Max-Age=0/);
    expect((await c.get('/api/session')).status).toBe(401);
    const audit = await (await signedIn(s, admin().email, admin().password)).get('/api/audit?action=session.signout');
    expect(audit.json.items[0]).toMatchObject({ actor: 'admin@estuary.local', outcome: 'success' });
  });
});

describe('CSRF', () => {
  it('refuses a state change without the token, or with a wrong one, with 403; nothing changes', async () => {
    const c = await signedIn(s, admin().email, admin().password);
    for (const csrf of [null, 'wrong-token', c.csrfToken!.slice(1)]) {
      const res = await c.post('/api/accounts', { email: 'csrf@example.com', role: 'est' }, { csrf });
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ type: 'urn:estuary:problem:csrf', title: 'CSRF token missing or wrong' });
      expect((await c.delete('/api/session', undefined, { csrf })).status).toBe(403);
    }
    expect((await c.get('/api/accounts/csrf@example.com')).status).toBe(404);
    const other = await signedIn(s, admin().email, admin().password);
    expect((await c.post('/api/accounts', { email: 'csrf@example.com', role: 'est' }, { csrf: other.csrfToken })).status).toBe(403);
    expect((await c.post('/api/accounts', { email: 'csrf@example.com', role: 'est' })).status).toBe(201);
  });

  it('accepts only JSON bodies (a form post cannot reach the API)', async () => {
    const c = await signedIn(s, admin().email, admin().password);
    const form = await c.post('/api/session', undefined, { raw: 'email=a&password=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(415);
    const text = await c.post('/api/session', undefined, { raw: '{"email":"a","password":"b"}', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    const broken = await c.post('/api/session', undefined, { raw: '{"email":' });
    expect(broken.status).toBe(400);
    expect(broken.json.errors).toEqual([{ field: '(body)', message: 'is not valid JSON' }]);
  });
});

describe('throttling and lockout', () => {
  it('locks an email after 5 failures for 15 minutes: 429 with Retry-After even with the right password, audited', async () => {
    const a = await signedIn(s, admin().email, admin().password);
    const pw = await addAccount(a, 'officer@example.com', 'officer');
    for (let i = 0; i < 4; i++) expect((await new AdminClient(s).signIn('officer@example.com', 'nope-nope')).status).toBe(401);
    // a success resets the count
    expect((await new AdminClient(s).signIn('officer@example.com', pw)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await new AdminClient(s).signIn('Officer@Example.com', 'nope-nope')).status).toBe(401);
    const locked = await new AdminClient(s).signIn('officer@example.com', pw);
    expect(locked.status).toBe(429);
    expect(locked.json).toMatchObject({ type: 'urn:estuary:problem:locked', status: 429 });
    expect(Number(locked.headers['retry-after'])).toBe(900);
    // other accounts are not affected
    expect((await new AdminClient(s).signIn(admin().email, admin().password)).status).toBe(200);
    const lockouts = await a.get('/api/audit?action=session.lockout');
    expect(lockouts.json.items).toHaveLength(1);
    expect(lockouts.json.items[0]).toMatchObject({ actor: 'officer@example.com', outcome: 'locked', detail: expect.stringMatching(/email officer@example.com locked for 900 s/) });
    const refused = await a.get('/api/audit?action=session.signin&actor=officer%40example.com');
    expect(refused.json.items[0]).toMatchObject({ outcome: 'locked' });
    expect(refused.json.items.filter((e: { outcome: string }) => e.outcome === 'unauthenticated')).toHaveLength(9);
    clock += 10 * 60_000;
    expect(Number((await new AdminClient(s).signIn('officer@example.com', pw)).headers['retry-after'])).toBe(300);
    clock += 5 * 60_000 + 1000;
    expect((await new AdminClient(s).signIn('officer@example.com', pw)).status).toBe(200);
  });

  it('guesses from another address cannot lock the admin out; an admin unlocks the guessed account early', async () => {
    const a = await signedIn(s, admin().email, admin().password);
    const pw = await addAccount(a, 'auditor@example.com', 'auditor');
    const elsewhere = () => new AdminClient(s, '127.0.0.2');
    for (let i = 0; i < 5; i++) expect((await elsewhere().signIn(admin().email, 'guess-guess')).status).toBe(401);
    expect((await elsewhere().signIn(admin().email, admin().password)).status).toBe(429);
    // The admin, from its own address, is not locked out.
    expect((await new AdminClient(s).signIn(admin().email, admin().password)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await elsewhere().signIn('auditor@example.com', 'guess-guess')).status).toBe(401);
    expect((await elsewhere().signIn('auditor@example.com', pw)).status).toBe(429);
    const officer = await signedIn(s, 'officer@example.com', (await a.post('/api/accounts/officer%40example.com/password', {})).json.password);
    expect((await officer.post('/api/accounts/auditor%40example.com/unlock')).status).toBe(403);
    const unlocked = await a.post('/api/accounts/auditor%40example.com/unlock');
    expect(unlocked.status).toBe(200);
    expect(unlocked.json.email).toBe('auditor@example.com');
    expect((await elsewhere().signIn('auditor@example.com', pw)).status).toBe(200);
    expect((await a.get('/api/audit?action=account.unlock')).json.items[0]).toMatchObject({ actor: admin().email, detail: 'auditor@example.com' });
    expect((await a.post('/api/accounts/nobody%40example.com/unlock')).status).toBe(404);
    clock += 15 * 60_000 + 1000; // the admin's pair lock from 127.0.0.2 expires
    expect((await elsewhere().signIn(admin().email, admin().password)).status).toBe(200);
  });

  it('locks a client address after too many failures across emails', async () => {
    // 20 within 15 minutes; the failures from 127.0.0.1 above are older than that by now
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await new AdminClient(s).signIn(`spray-${i}@example.com`, 'guess')).status);
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses[20]).toBe(429);
    const res = await new AdminClient(s).signIn(admin().email, admin().password);
    expect(res.status).toBe(429);
    clock += 15 * 60_000 + 1000;
    const a = await signedIn(s, admin().email, admin().password);
    const lockouts = await a.get('/api/audit?action=session.lockout&actor=127.0.0.1');
    expect(lockouts.json.items[0]).toMatchObject({ outcome: 'locked', detail: expect.stringMatching(/^address 127.0.0.1 locked/) });
  });
});

describe('session expiry', () => {
  it('ends a session after 30 idle minutes; activity keeps it alive', async () => {
    const c = await signedIn(s, admin().email, admin().password);
    clock += 29 * 60_000;
    expect((await c.get('/api/session')).status).toBe(200);
    clock += 29 * 60_000;
    expect((await c.get('/api/dashboard')).status).toBe(200);
    clock += 30 * 60_000;
    const expired = await c.get('/api/session');
    expect(expired.status).toBe(401);
    expect(expired.json.detail).toMatch(/session has expired/);
    expect(String(expired.headers['set-cookie'])).toMatch(/Max-Age=0/);
  });

  it('ends a session 12 hours after sign-in, however active', async () => {
    const c = await signedIn(s, admin().email, admin().password);
    for (let i = 0; i < 24; i++) {
      clock += 29 * 60_000;
      expect((await c.get('/api/session')).status).toBe(200);
    }
    clock += 29 * 60_000; // 12 h 5 min after sign-in
    expect((await c.get('/api/session')).status).toBe(401);
  });
});

/**
 * The Web RA second factor over real TLS: enrolment from one's own account (QR code, confirmation,
 * recovery codes shown once), sign-in in two steps, wrong codes, replay, recovery codes used once,
 * throttling of the code step, the per-role requirement (enrol at sign-in), an admin's reset.
 * The server's clock is injected, so the test computes the codes the app would show.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base32Decode, totp } from '../../src/ra/totp.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { AdminClient, addAccount, signedIn, type ApiResponse } from './admin-client.js';

let s: TestServer;
let clock = Date.UTC(2026, 11, 6, 12, 0, 0);
let admin: AdminClient;
const code = (secret: string, at = clock) => totp(base32Decode(secret), at);

beforeAll(async () => {
  s = await startServer(undefined, {}, { admin: { now: () => new Date(clock) } });
  admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
});
afterAll(async () => {
  await s?.runtime.close();
});

function cookieOf(res: ApiResponse, name: string): string | undefined {
  return ([] as string[]).concat(res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!).find((c) => c.startsWith(`${name}=`));
}

/** The password step; the client then holds the sign-in challenge cookie. */
async function passwordStep(c: AdminClient, email: string, password: string): Promise<ApiResponse> {
  const res = await c.post('/api/session', { email, password });
  c.cookie = cookieOf(res, 'estuary_signin');
  return res;
}

/** A second step that signs in: the client keeps the session like a browser. */
function keepSession(c: AdminClient, res: ApiResponse): void {
  if (res.status !== 200) return;
  c.cookie = cookieOf(res, 'estuary_session');
  c.csrfToken = res.json.csrfToken;
}

/** A new officer with a confirmed second factor; returns its client (signed in), password and secret. */
async function enrolled(email: string): Promise<{ c: AdminClient; password: string; secret: string; recovery: string[] }> {
  const password = await addAccount(admin, email, 'officer');
  const c = await signedIn(s, email, password);
  const started = await c.post('/api/mfa');
  const confirmed = await c.post('/api/mfa/confirm', { code: code(started.json.secret) });
  expect(confirmed.status, confirmed.text).toBe(200);
  return { c, password, secret: started.json.secret, recovery: confirmed.json.recoveryCodes };
}

describe('enrolment from one\'s own account', () => {
  it('shows the secret once with its otpauth URI and QR code, confirms with a current code, shows 10 recovery codes once', async () => {
    const password = await addAccount(admin, 'ann@example.com', 'officer');
    const c = await signedIn(s, 'ann@example.com', password);
    expect((await c.get('/api/mfa')).json).toEqual({ enrolled: false, required: false, confirmedAt: null, recoveryCodesLeft: 0 });

    const started = await c.post('/api/mfa');
    expect(started.status, started.text).toBe(200);
    const { secret, uri, qrCode } = started.json;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/); // 160 bits
    const url = new URL(uri);
    expect(`${url.protocol}//${url.host}${decodeURIComponent(url.pathname)}`).toBe('otpauth://totp/Estuary Web RA:ann@example.com');
    expect(url.searchParams.get('secret')).toBe(secret);
    expect(qrCode).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(Buffer.from(qrCode.split(',')[1], 'base64').toString()).toMatch(/^<svg [^>]*viewBox/);

    const wrong = await c.post('/api/mfa/confirm', { code: String((Number(code(secret)) + 1) % 1_000_000).padStart(6, '0') });
    expect(wrong.status).toBe(400);
    expect(wrong.json.errors[0].field).toBe('code');
    const ok = await c.post('/api/mfa/confirm', { code: code(secret) });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json.recoveryCodes).toHaveLength(10);
    for (const r of ok.json.recoveryCodes) expect(r).toMatch(/^[a-z2-7]{5}-[a-z2-7]{5}$/);
    expect(new Set(ok.json.recoveryCodes).size).toBe(10);

    const after = await c.get('/api/mfa');
    expect(after.json).toMatchObject({ enrolled: true, recoveryCodesLeft: 10, confirmedAt: new Date(clock).toISOString() });
    expect(after.text).not.toContain(secret);
    expect((await c.post('/api/mfa')).status).toBe(409); // no second enrolment over a confirmed one
    expect((await c.post('/api/mfa/confirm', { code: code(secret) })).status).toBe(409);
    const listed = await admin.get('/api/accounts');
    expect(listed.json.items.find((a: { email: string }) => a.email === 'ann@example.com').mfa).toBe(true);
    expect((await admin.get('/api/accounts/ann@example.com')).text).not.toContain(secret);
    expect((await admin.get('/api/audit?action=account.mfa.start&actor=ann%40example.com')).json.items).toHaveLength(1);
    expect((await admin.get('/api/audit?action=account.mfa.enrol')).json.items[0]).toMatchObject({ actor: 'ann@example.com', outcome: 'success' });
    expect(readFileSync(s.logFile, 'utf8')).not.toContain(secret);
  });
});

describe('sign-in with a second factor', () => {
  it('asks for the code after the password; no session before it; wrong code 401; the right code signs in; the same code is refused after', async () => {
    const { password, secret } = await enrolled('bob@example.com');
    clock += 30_000; // the enrolment's code is used; a new step
    const c = new AdminClient(s);
    const first = await passwordStep(c, 'bob@example.com', password);
    expect(first.status, first.text).toBe(202);
    expect(first.json).toEqual({ next: 'code', expiresAt: new Date(clock + 5 * 60_000).toISOString() });
    expect(String(first.headers['set-cookie'])).toMatch(/^estuary_signin=[A-Za-z0-9_-]{43}; Path=\/api\/session; HttpOnly; Secure; SameSite=Strict; Max-Age=300$/);
    expect(cookieOf(first, 'estuary_session')).toBeUndefined();
    expect((await c.get('/api/session')).status).toBe(401);

    const wrong = await c.post('/api/session/code', { code: String((Number(code(secret)) + 1) % 1_000_000).padStart(6, '0') });
    expect(wrong.status).toBe(401);
    expect(wrong.json.detail).toBe('wrong code');
    const ok = await c.post('/api/session/code', { code: code(secret) });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json).toMatchObject({ email: 'bob@example.com', role: 'officer' });
    expect(String(ok.headers['set-cookie'])).toMatch(/estuary_signin=; Path=\/api\/session;.*Max-Age=0/);
    keepSession(c, ok);
    expect((await c.get('/api/dashboard')).status).toBe(200);

    // replay: the same code on another sign-in within its window
    const again = new AdminClient(s);
    expect((await passwordStep(again, 'bob@example.com', password)).status).toBe(202);
    const replay = await again.post('/api/session/code', { code: code(secret) });
    expect(replay.status).toBe(401);
    expect(replay.json.detail).toBe('this code was already used; wait for the next one');
    expect((await again.post('/api/session/code', { code: code(secret, clock - 30_000) })).status).toBe(401); // older: refused too
    clock += 30_000;
    expect((await again.post('/api/session/code', { code: code(secret) })).status).toBe(200);
    const audit = await admin.get('/api/audit?action=session.signin&actor=bob%40example.com');
    expect(audit.json.items.map((e: { outcome: string }) => e.outcome)).toEqual(expect.arrayContaining(['pending', 'unauthenticated', 'success']));
    expect(audit.json.items[0].detail).toMatch(/second factor: totp$/);
  });

  it('accepts each recovery code once', async () => {
    const { password, recovery } = await enrolled('cat@example.com');
    const c = new AdminClient(s);
    await passwordStep(c, 'cat@example.com', password);
    const ok = await c.post('/api/session/code', { code: recovery[3]!.toUpperCase() });
    expect(ok.status, ok.text).toBe(200);
    const d = new AdminClient(s);
    await passwordStep(d, 'cat@example.com', password);
    const used = await d.post('/api/session/code', { code: recovery[3] });
    expect(used.status).toBe(401);
    expect(used.json.detail).toBe('wrong code');
    expect((await d.post('/api/session/code', { code: recovery[4] })).status).toBe(200);
    const signins = await admin.get('/api/audit?action=session.signin&actor=cat%40example.com');
    expect(signins.json.items[0].detail).toMatch(/second factor: recovery code \(8 left\)$/);
    expect((await admin.get('/api/accounts/cat@example.com')).json.mfa).toBe(true);
  });

  it('throttles the code step like the password: 5 wrong codes lock; the password again does not clear the count', async () => {
    const { password, secret } = await enrolled('dan@example.com');
    const c = new AdminClient(s, '127.0.0.3');
    expect((await passwordStep(c, 'dan@example.com', password)).status).toBe(202);
    const bad = String((Number(code(secret)) + 7) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < 3; i++) expect((await c.post('/api/session/code', { code: bad })).status).toBe(401);
    expect((await passwordStep(c, 'dan@example.com', password)).status).toBe(202); // does not reset the failures
    for (let i = 0; i < 2; i++) expect((await c.post('/api/session/code', { code: bad })).status).toBe(401);
    const locked = await c.post('/api/session/code', { code: code(secret) });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await new AdminClient(s, '127.0.0.3').post('/api/session', { email: 'dan@example.com', password })).status).toBe(429);
    expect((await admin.get('/api/audit?action=session.lockout&actor=dan%40example.com')).json.items).toHaveLength(1);
  });

  it('locks an account\'s code step after 10 wrong codes from any addresses; an admin\'s unlock lifts it', async () => {
    const { password, secret } = await enrolled('ida@example.com');
    clock += 30_000;
    const bad = String((Number(code(secret)) + 3) % 1_000_000).padStart(6, '0');
    for (const [address, tries] of [['127.0.0.11', 4], ['127.0.0.12', 4], ['127.0.0.13', 2]] as const) {
      const c = new AdminClient(s, address); // below the 5 per email and address
      expect((await passwordStep(c, 'ida@example.com', password)).status).toBe(202);
      for (let i = 0; i < tries; i++) expect((await c.post('/api/session/code', { code: bad })).status).toBe(401);
    }
    const elsewhere = new AdminClient(s, '127.0.0.14');
    expect((await passwordStep(elsewhere, 'ida@example.com', password)).status).toBe(202);
    const locked = await elsewhere.post('/api/session/code', { code: code(secret) });
    expect(locked.status).toBe(429);
    expect(locked.json.detail).toBe('too many wrong codes for this account; try again later');
    expect((await admin.get('/api/audit?action=session.lockout&actor=ida%40example.com')).json.items[0].detail)
      .toMatch(/^the code step of ida@example.com locked for 900 s on every address/);
    expect((await admin.post('/api/accounts/ida@example.com/unlock')).status).toBe(200);
    expect((await elsewhere.post('/api/session/code', { code: code(secret) })).status).toBe(200);
  });

  it('refuses a missing, made-up or expired sign-in step, and completes a step once', async () => {
    const { password, secret, recovery } = await enrolled('eve@example.com');
    expect((await new AdminClient(s).post('/api/session/code', { code: '123456' })).status).toBe(401);
    const fake = new AdminClient(s);
    fake.cookie = 'estuary_signin=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    expect((await fake.post('/api/session/code', { code: '123456' })).json.detail).toMatch(/expired or was not started/);
    const c = new AdminClient(s);
    await passwordStep(c, 'eve@example.com', password);
    clock += 5 * 60_000;
    const late = await c.post('/api/session/code', { code: code(secret) });
    expect(late.status).toBe(401);
    expect(late.json.detail).toMatch(/expired/);
    expect((await c.post('/api/session/code', { code: 'x' })).status).toBe(400); // the schema: 6 characters at least
    // two right answers at once on one step: one session
    clock += 30_000;
    await passwordStep(c, 'eve@example.com', password);
    const both = await Promise.all([c.post('/api/session/code', { code: code(secret) }), c.post('/api/session/code', { code: recovery[0] })]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 401]);
    // the loser either finds the step gone or loses the race to remove it
    expect(both.find((r) => r.status === 401)!.json.detail).toMatch(/already completed|expired or was not started/);
  });
});

describe('one\'s own second factor, signed in', () => {
  it('replaces the recovery codes and turns the factor off, each with a current code (not a recovery code), audited', async () => {
    const { c, password, secret, recovery } = await enrolled('joe@example.com');
    clock += 30_000;
    expect((await c.post('/api/mfa/recovery-codes', { code: recovery[0] })).status).toBe(400);
    const wrong = await c.post('/api/mfa/recovery-codes', { code: String((Number(code(secret)) + 5) % 1_000_000).padStart(6, '0') });
    expect(wrong.status).toBe(400);
    expect(wrong.json.errors[0]).toEqual({ field: 'code', message: 'is not the current code of your authenticator app' });
    const fresh = await c.post('/api/mfa/recovery-codes', { code: code(secret) });
    expect(fresh.status, fresh.text).toBe(200);
    expect(fresh.json.recoveryCodes).toHaveLength(10);
    expect(fresh.json.recoveryCodes).not.toContain(recovery[0]);
    expect((await c.post('/api/mfa/recovery-codes', { code: code(secret) })).json.errors[0].message).toBe('was already used; wait for the next one');
    const old = new AdminClient(s);
    await passwordStep(old, 'joe@example.com', password);
    expect((await old.post('/api/session/code', { code: recovery[1] })).status).toBe(401); // the old codes are void
    expect((await old.post('/api/session/code', { code: fresh.json.recoveryCodes[0] })).status).toBe(200);

    // the role requires it: turning off is refused; when it does not: with a current code
    expect((await admin.put('/api/mfa/policy', { requiredRoles: ['officer'] })).status).toBe(200);
    clock += 30_000;
    expect((await c.post('/api/mfa/disable', { code: code(secret) })).status).toBe(409);
    expect((await admin.put('/api/mfa/policy', { requiredRoles: [] })).status).toBe(200);
    expect((await c.post('/api/mfa/disable', { code: code(secret) })).status).toBe(204);
    expect((await c.get('/api/mfa')).json.enrolled).toBe(false);
    expect((await new AdminClient(s).signIn('joe@example.com', password)).status).toBe(200);
    const actions = (await admin.get('/api/audit?actor=joe%40example.com')).json.items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['account.mfa.recovery-codes', 'account.mfa.disable']));
  });
});

describe('required per role, and reset', () => {
  it('an admin requires it for a role: such an account enrols at its next sign-in before it gets a session', async () => {
    const password = await addAccount(admin, 'fay@example.com', 'auditor');
    const auditor = await signedIn(s, 'fay@example.com', password); // before the policy: a session without
    expect((await auditor.put('/api/mfa/policy', { requiredRoles: ['auditor'] })).status).toBe(403);
    const set = await admin.put('/api/mfa/policy', { requiredRoles: ['auditor'] });
    expect(set.status, set.text).toBe(200);
    expect(set.json).toEqual({ requiredRoles: ['auditor'] });
    expect((await admin.put('/api/mfa/policy', { requiredRoles: ['est'] })).status).toBe(400);
    expect((await auditor.get('/api/dashboard')).status).toBe(200); // sessions already open stay open

    const c = new AdminClient(s);
    const first = await passwordStep(c, 'fay@example.com', password);
    expect(first.status).toBe(202);
    expect(first.json.next).toBe('enrol');
    expect((await c.get('/api/dashboard')).status).toBe(401);
    expect((await c.post('/api/mfa')).status).toBe(401); // the signed-in route: not without a session
    expect((await c.post('/api/session/code', { code: '123456' })).json.detail).toMatch(/must enrol a second factor first/);
    const started = await c.post('/api/session/enrolment');
    expect(started.status, started.text).toBe(200);
    expect(started.json.uri).toContain(started.json.secret);
    const done = await c.post('/api/session/enrolment/confirm', { code: code(started.json.secret) });
    expect(done.status, done.text).toBe(200);
    expect(done.json).toMatchObject({ email: 'fay@example.com', role: 'auditor' });
    expect(done.json.recoveryCodes).toHaveLength(10);
    keepSession(c, done);
    expect((await c.get('/api/mfa')).json).toMatchObject({ enrolled: true, required: true });
    expect((await c.get('/api/dashboard')).status).toBe(200);

    // from now on: the code step
    clock += 30_000;
    const next = new AdminClient(s);
    expect((await passwordStep(next, 'fay@example.com', password)).json.next).toBe('code');
    expect((await admin.get('/api/audit?action=mfa.policy')).json.items[0].detail).toBe('second factor required for: auditor (was: (no role))');
    expect((await admin.put('/api/mfa/policy', { requiredRoles: [] })).status).toBe(200);
  });

  it('an admin resets an account\'s second factor: audited, its sessions end, it signs in with the password alone', async () => {
    const { c, password } = await enrolled('gus@example.com');
    const officer = c;
    expect((await officer.delete('/api/accounts/gus@example.com/mfa')).status).toBe(403);
    const reset = await admin.delete('/api/accounts/gus@example.com/mfa');
    expect(reset.status, reset.text).toBe(204);
    expect((await officer.get('/api/session')).status).toBe(401);
    expect((await admin.delete('/api/accounts/gus@example.com/mfa')).status).toBe(409);
    expect((await admin.delete('/api/accounts/nobody@example.com/mfa')).status).toBe(404);
    expect((await admin.get('/api/accounts/gus@example.com')).json.mfa).toBe(false);
    expect((await new AdminClient(s).signIn('gus@example.com', password)).status).toBe(200);
    expect((await admin.get('/api/audit?action=account.mfa.reset')).json.items[0]).toMatchObject({
      actor: 'admin@estuary.local', detail: 'gus@example.com: second factor and recovery codes removed, sessions ended',
    });
  });
});

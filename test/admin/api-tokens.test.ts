/**
 * API tokens over real TLS: an admin creates one (the secret shown once, stored as its SHA-256),
 * scripts use it as Authorization: Bearer without cookie or CSRF token, the token's role is
 * enforced, expired, revoked and unknown tokens get 401 with WWW-Authenticate: Bearer, and every
 * state change made with a token is audited with the actor token:<name>.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintApiToken } from '../../src/admin/api-tokens-secret.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { AdminClient, signedIn, type ApiResponse } from './admin-client.js';

let s: TestServer;
let admin: AdminClient;

/** A client that sends only the bearer token: no cookie, no CSRF token. */
function bearer(secret: string) {
  const c = new AdminClient(s);
  const auth = { authorization: `Bearer ${secret}` };
  return {
    get: (path: string) => c.get(path, { headers: auth }),
    post: (path: string, body?: unknown) => c.post(path, body ?? {}, { headers: auth }),
    put: (path: string, body?: unknown) => c.put(path, body, { headers: auth }),
    delete: (path: string) => c.delete(path, undefined, { headers: auth }),
  };
}

async function createToken(name: string, role: string, expiresInDays?: number): Promise<{ id: number; secret: string; res: ApiResponse }> {
  const res = await admin.post('/api/tokens', { name, role, ...(expiresInDays ? { expiresInDays } : {}) });
  expect(res.status, res.text).toBe(201);
  return { id: res.json.token.id, secret: res.json.secret, res };
}

async function heldRequest(n: number): Promise<number> {
  const r = await s.runtime.store.createPendingRequest({
    profile: 'default', operation: 'simpleenroll', requester: 'est@estuary.local', keyId: `${n}`.padStart(64, '0'), csr: Buffer.from([0x30, 0]),
    subject: `CN=held-${n}`, sans: [], keyDescription: 'EC P-256', createdAt: new Date(), expiresAt: new Date(Date.now() + 3_600_000),
  });
  return r.id;
}

function expectBearerChallenge(res: ApiResponse, error: string, detail: RegExp): void {
  expect(res.status, res.text).toBe(401);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json.detail).toMatch(detail);
  expect(String(res.headers['www-authenticate'])).toMatch(new RegExp(`^Bearer realm="estuary", error="${error}", error_description="[^"]+"$`));
}

beforeAll(async () => {
  s = await startServer();
  admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
});
afterAll(async () => {
  await s?.runtime.close();
});

describe('API tokens', () => {
  it('are created by an admin with a role and an expiry; the secret is shown once and only its SHA-256 is stored', async () => {
    const before = Date.now();
    const { id, secret, res } = await createToken('ci-read', 'auditor');
    expect(secret).toMatch(/^est_[A-Za-z0-9_-]{43}$/);
    expect(res.json.token).toMatchObject({ id, name: 'ci-read', role: 'auditor', status: 'active', createdBy: s.summary.adminAccount.email, hint: secret.slice(0, 8), lastUsedAt: null, revokedAt: null });
    const days = (Date.parse(res.json.token.expiresAt) - before) / 86_400_000;
    expect(days).toBeGreaterThan(89.99);
    expect(days).toBeLessThan(90.01);
    const stored = await s.runtime.store.getApiToken(id);
    expect(stored!.secretHash).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(JSON.stringify(await s.runtime.store.listApiTokens())).not.toContain(secret.slice(4));
    const list = await admin.get('/api/tokens');
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(secret.slice(4));
    expect(list.json.items[0]).toMatchObject({ id, name: 'ci-read', role: 'auditor', status: 'active' });
    const events = await s.runtime.store.listAudit({ action: 'token.create' });
    expect(events[0]).toMatchObject({ actor: s.summary.adminAccount.email, outcome: 'success' });
    expect(events[0]!.detail).toContain('ci-read (auditor');
    expect(JSON.stringify(await s.runtime.store.listAudit())).not.toContain(secret.slice(4));
  });

  it('refuse bad input with a 400 naming the field, and a second active token of one name with 409', async () => {
    for (const [body, field] of [
      [{ name: 'bad name', role: 'auditor' }, 'name'], [{ name: 'x', role: 'est' }, 'role'], [{ name: 'x', role: 'admin', expiresInDays: 366 }, 'expiresInDays'],
      [{ name: 'x', role: 'admin', expiresInDays: 0 }, 'expiresInDays'], [{ role: 'admin' }, 'name'],
    ] as const) {
      const res = await admin.post('/api/tokens', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.errors[0].field).toBe(field);
    }
    await createToken('dup', 'auditor');
    const again = await admin.post('/api/tokens', { name: 'dup', role: 'auditor' });
    expect(again.status).toBe(409);
    expect(again.json.detail).toMatch(/a token named dup already exists/);
  });

  it('authenticate API calls without cookie or CSRF token, with the token role, and record the last use', async () => {
    const { id, secret } = await createToken('ops-bot', 'officer');
    const t = bearer(secret);
    const dash = await t.get('/api/dashboard');
    expect(dash.status, dash.text).toBe(200);
    expect(dash.headers['set-cookie']).toBeUndefined();
    expect((await s.runtime.store.getApiToken(id))!.lastUsedAt).toBeInstanceOf(Date);

    // a state change an officer may make: no CSRF token, audited as token:ops-bot
    const held = await heldRequest(1);
    const approve = await t.post(`/api/requests/${held}/approve`, { reason: 'pipeline' });
    expect(approve.status, approve.text).toBe(200);
    const decided = await s.runtime.store.listAudit({ actor: 'token:ops-bot' });
    expect(decided.map((e) => e.action)).toEqual(['request.approve']);
    expect((await s.runtime.store.getPendingRequest(held))!.decidedBy).toBe('token:ops-bot');

    // the role is enforced as for a session: an officer may not create profiles nor manage tokens
    const profile = await t.post('/api/profiles', { label: 'by-token' });
    expect(profile.status).toBe(403);
    expect(profile.json.detail).toMatch(/the officer role may not do this/);
    expect(String(profile.headers['www-authenticate'])).toMatch(/error="insufficient_scope"/);
    expect(await s.runtime.store.getProfile('by-token')).toBeUndefined();
    expect((await t.get('/api/tokens')).status).toBe(403);
    expect((await t.post('/api/tokens', { name: 'child', role: 'admin' })).status).toBe(403);
    // reads are not audited one by one
    expect(await s.runtime.store.listAudit({ actor: 'token:ops-bot' })).toHaveLength(1);
  });

  it('keep CSRF for cookie sessions, and leave other Authorization schemes to the cookie', async () => {
    const noCsrf = await admin.post('/api/profiles', { label: 'no-csrf' }, { csrf: null });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.json.type).toBe('urn:estuary:problem:csrf');
    const basic = await admin.get('/api/dashboard', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(basic.status).toBe(200);
    const anonymous = await new AdminClient(s).get('/api/dashboard', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(anonymous.status).toBe(401);
  });

  it('refuse unknown, malformed, expired and revoked tokens with 401 and WWW-Authenticate: Bearer', async () => {
    expectBearerChallenge(await bearer(`est_${'A'.repeat(43)}`).get('/api/dashboard'), 'invalid_token', /unknown API token/);
    expectBearerChallenge(await bearer('not-a-token').get('/api/dashboard'), 'invalid_token', /not an Estuary API token/);
    expectBearerChallenge(await new AdminClient(s).get('/api/dashboard', { headers: { authorization: 'Bearer' } }), 'invalid_request', /needs an API token/);
    // a bearer token wins over a cookie sent with it
    expectBearerChallenge(await admin.get('/api/dashboard', { headers: { authorization: `Bearer est_${'B'.repeat(43)}` } }), 'invalid_token', /unknown API token/);

    const old = mintApiToken({ name: 'old', role: 'admin', expiresInDays: 1, createdBy: 'admin@example.com', now: new Date(Date.now() - 2 * 86_400_000) });
    await s.runtime.store.createApiToken(old.record);
    const expired = bearer(old.secret);
    expectBearerChallenge(await expired.get('/api/dashboard'), 'invalid_token', /the API token old expired at /);
    expectBearerChallenge(await expired.post('/api/profiles', { label: 'late' }), 'invalid_token', /expired/);
    const refused = await s.runtime.store.listAudit({ action: 'token.refused' });
    expect(refused).toHaveLength(1); // at most one a minute per token
    expect(refused[0]).toMatchObject({ actor: 'token:old', outcome: 'unauthenticated' });
    expect(refused[0]!.detail).toMatch(/expired at .*; GET \/api\/dashboard from 127\.0\.0\.1/);

    const { id, secret } = await createToken('to-revoke', 'admin');
    expect((await bearer(secret).get('/api/tokens')).status).toBe(200);
    const revoked = await admin.delete(`/api/tokens/${id}`);
    expect(revoked.status, revoked.text).toBe(200);
    expect(revoked.json).toMatchObject({ id, status: 'revoked', revokedBy: s.summary.adminAccount.email });
    expectBearerChallenge(await bearer(secret).get('/api/tokens'), 'invalid_token', /the API token to-revoke was revoked at /);
    expect((await admin.delete(`/api/tokens/${id}`)).status).toBe(409);
    expect((await admin.delete('/api/tokens/999999')).status).toBe(404);
    expect((await s.runtime.store.listAudit({ action: 'token.revoke' }))[0]).toMatchObject({ actor: s.summary.adminAccount.email });
    // the name is free again once revoked
    await createToken('to-revoke', 'auditor');
    // no secret reaches the server log
    const log = readFileSync(s.logFile, 'utf8');
    expect(log).not.toContain(secret.slice(4));
    expect(log).not.toContain(old.secret.slice(4));
  });

  it('let an admin token manage tokens, never beyond its own expiry; no session API for tokens', async () => {
    const { secret } = await createToken('root-bot', 'admin', 10);
    const t = bearer(secret);
    const tooLong = await t.post('/api/tokens', { name: 'child', role: 'auditor', expiresInDays: 30 });
    expect(tooLong.status).toBe(400);
    expect(tooLong.json.errors[0].field).toBe('expiresInDays');
    expect(tooLong.json.detail).toMatch(/cannot outlive the token that creates it/);
    const child = await t.post('/api/tokens', { name: 'child', role: 'auditor', expiresInDays: 5 });
    expect(child.status, child.text).toBe(201);
    expect(child.json.token.createdBy).toBe('token:root-bot');
    expect((await s.runtime.store.listAudit({ actor: 'token:root-bot', action: 'token.create' }))).toHaveLength(1);
    const revoke = await t.delete(`/api/tokens/${child.json.token.id}`);
    expect(revoke.status).toBe(200);
    expect(revoke.json.revokedBy).toBe('token:root-bot');

    for (const res of [await t.get('/api/session'), await t.delete('/api/session')]) {
      expect(res.status).toBe(403);
      expect(res.json.detail).toMatch(/an API token has no session/);
    }
  });
});

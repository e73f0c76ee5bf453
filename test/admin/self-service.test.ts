/**
 * Self-service for EST account holders, over real TLS: an EST account with self-service on signs
 * in to the Web RA, sees only the certificates requested with it, downloads them, revokes one for key
 * compromise (the CRL lists it with that reason) and changes its own password (the EST side takes
 * the new one at once); every other Web RA call is refused, and without self-service it cannot sign in.
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pemBlocks } from '../../src/pki/base64.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { x509 } from '../helpers/keys.js';
import { AdminClient, addAccount, enroll, signedIn } from './admin-client.js';

let s: TestServer;
let admin: AdminClient;
const holder = { email: 'holder@example.com', password: 'Holder-pass-1873' };
const basic = () => ({ user: holder.email, password: holder.password });
let mine: string[] = [];
let theirs: string;

beforeAll(async () => {
  s = await startServer();
  admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
  const created = await admin.post('/api/accounts', { email: holder.email, role: 'est', password: holder.password, selfService: true });
  expect(created.status, created.text).toBe(201);
  for (const cn of ['holder-a', 'holder-b']) {
    const r = await enroll(s, { cn, basic: basic() });
    expect(r.status, r.text).toBe(200);
    mine.push(r.serial!);
  }
  theirs = (await enroll(s, { cn: 'someone-else' })).serial!;
});
afterAll(async () => {
  await s?.runtime.close();
});

describe('signing in', () => {
  it('an EST account signs in only with self-service on; its session says role est', async () => {
    const plain = new AdminClient(s);
    expect((await plain.signIn(s.summary.estAccount.email, s.summary.estAccount.password)).status).toBe(401);
    const me = new AdminClient(s);
    const res = await me.signIn(holder.email, holder.password);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ email: holder.email, role: 'est' });
    expect((await me.get('/api/session')).json.role).toBe('est');
    expect((await admin.get(`/api/accounts/${holder.email}`)).json.selfService).toBe(true);
  });

  it('every Web RA call beyond its own is refused with 403 and a reason', async () => {
    const me = await signedIn(s, holder.email, holder.password);
    for (const path of ['/api/certificates', '/api/requests', '/api/accounts', '/api/dashboard', '/api/audit', '/api/profiles', `/api/certificates/${theirs}/pem`]) {
      const r = await me.get(path);
      expect(r.status, path).toBe(403);
      expect(r.json.detail).toMatch(/self-service account sees only its own certificates/);
    }
    expect((await me.post(`/api/certificates/${theirs}/revoke`, { reason: 'keyCompromise' })).status).toBe(403);
  });
});

describe('its own certificates', () => {
  it('lists exactly the certificates requested with the account, newest first, and finds them by text', async () => {
    const me = await signedIn(s, holder.email, holder.password);
    const page = await me.get('/api/self/certificates');
    expect(page.status, page.text).toBe(200);
    expect(page.json.items.map((c: { serial: string }) => c.serial)).toEqual([...mine].reverse());
    expect(page.json.total).toBe(2);
    expect((await me.get('/api/self/certificates?q=holder-a')).json.items.map((c: { serial: string }) => c.serial)).toEqual([mine[0]]);
    expect((await me.get('/api/self/certificates?q=someone-else')).json.items).toEqual([]);
  });

  it('shows and downloads its own certificate and chain; another account\'s is 404 as if it did not exist', async () => {
    const me = await signedIn(s, holder.email, holder.password);
    const detail = await me.get(`/api/self/certificates/${mine[0]}`);
    expect(detail.status).toBe(200);
    expect(detail.json).toMatchObject({ serial: mine[0], subject: 'CN=holder-a', requester: holder.email });
    const pem = await me.get(`/api/self/certificates/${mine[0]}/pem`);
    expect(pem.headers['content-type']).toBe('application/x-pem-file');
    expect(new X509Certificate(pem.text).subject).toBe('CN=holder-a');
    const chain = await me.get(`/api/self/certificates/${mine[0]}/chain.pem`);
    expect(pemBlocks(chain.text).length).toBeGreaterThanOrEqual(2);
    for (const path of [`/api/self/certificates/${theirs}`, `/api/self/certificates/${theirs}/pem`]) {
      const r = await me.get(path);
      expect(r.status).toBe(404);
      expect(r.json.detail).toBe(`you have no certificate with serial ${theirs}`);
    }
    expect((await me.post(`/api/self/certificates/${theirs}/revoke`)).status).toBe(404);
  });

  it('revokes one for key compromise: audited as the holder, on the CRL with that reason, a second time 409', async () => {
    const me = await signedIn(s, holder.email, holder.password);
    const r = await me.post(`/api/self/certificates/${mine[1]}/revoke`);
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ serial: mine[1], status: 'revoked', revocationReason: 'keyCompromise' });
    expect((await me.post(`/api/self/certificates/${mine[1]}/revoke`)).status).toBe(409);
    const crl = new x509.X509Crl(Buffer.from(await (await fetch(`${s.runtime.crlBaseUrl()}/default.crl`)).arrayBuffer()));
    const entry = crl.entries.find((e) => e.serialNumber.toLowerCase().replace(/^0+/, '') === mine[1]);
    expect(entry?.reason).toBe(1); // RFC 5280 §5.3.1 keyCompromise (1)
    const audit = await admin.get(`/api/audit?action=cert.revoke`);
    expect(audit.json.items.find((e: { serial: string }) => e.serial === mine[1])).toMatchObject({ actor: holder.email });
    expect((await me.get('/api/self/certificates?status=revoked')).json.items.map((c: { serial: string }) => c.serial)).toEqual([mine[1]]);
  });
});

describe('its own password', () => {
  it('needs the current one and a good new one; then EST Basic takes the new one, other sessions end and this one goes on', async () => {
    const me = await signedIn(s, holder.email, holder.password);
    const other = await signedIn(s, holder.email, holder.password);
    const wrong = await me.post('/api/self/password', { currentPassword: 'not-it-at-all', newPassword: 'Fresh-pass-9921' });
    expect(wrong.status).toBe(400);
    expect(wrong.json.detail).toMatch(/current password is wrong/);
    const weak = await me.post('/api/self/password', { currentPassword: holder.password, newPassword: 'password' });
    expect(weak.status).toBe(400);
    const ok = await me.post('/api/self/password', { currentPassword: holder.password, newPassword: 'Fresh-pass-9921' });
    expect(ok.status, ok.text).toBe(204);
    expect((await me.get('/api/self/certificates')).status).toBe(200);
    expect((await other.get('/api/self/certificates')).status).toBe(401);
    expect((await enroll(s, { cn: 'old-password', basic: basic() })).status).toBe(401);
    holder.password = 'Fresh-pass-9921';
    expect((await enroll(s, { cn: 'new-password', basic: basic() })).status).toBe(200);
  });

  it('self-service turned off ends its sessions and its sign-in; it is for EST accounts only', async () => {
    const me = await signedIn(s, holder.email, holder.password);
    const off = await admin.patch(`/api/accounts/${holder.email}`, { selfService: false });
    expect(off.status, off.text).toBe(200);
    expect(off.json.selfService).toBe(false);
    expect((await me.get('/api/self/certificates')).status).toBe(401);
    expect((await new AdminClient(s).signIn(holder.email, holder.password)).status).toBe(401);
    await addAccount(admin, 'auditor-ss@example.com', 'auditor');
    const bad = await admin.patch('/api/accounts/auditor-ss@example.com', { selfService: true });
    expect(bad.status).toBe(400);
    expect(bad.json.detail).toMatch(/self-service is for EST accounts/);
  });
});

/**
 * Two Estuary runtimes on one home and one SQLite database, as two instances behind a load
 * balancer: what one does is in force on the other (Web RA sessions, sign-in and EST Basic locks,
 * password changes), and both serve the same CRL, which lists a revocation made through either.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHome, startServer, type TestServer } from '../helpers/home.js';
import { AdminClient, addAccount, enroll, signedIn } from '../admin/admin-client.js';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { makeCsr } from '../helpers/keys.js';

let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  const home = await makeHome();
  a = await startServer(home);
  b = await startServer(home);
});
afterAll(async () => {
  await a?.runtime.close();
  await b?.runtime.close();
});

/** The same browser (cookie and CSRF token) talking to the other instance. */
function sameBrowserOn(server: TestServer, client: AdminClient): AdminClient {
  const other = new AdminClient(server);
  other.cookie = client.cookie;
  other.csrfToken = client.csrfToken;
  return other;
}

async function crlOf(server: TestServer): Promise<Buffer> {
  const res = await fetch(`${server.runtime.crlBaseUrl()}/default.crl`);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

const crlSerials = (der: Buffer): string[] =>
  [...execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text'], { input: der }).toString().matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]!.toLowerCase().replace(/^0+/, ''));

describe('two instances on one database', () => {
  it('a Web RA session opened on one is accepted by the other, for reads and CSRF-checked changes; signing out on one ends it on both', async () => {
    const onA = await signedIn(a, a.summary.adminAccount.email, a.summary.adminAccount.password);
    const onB = sameBrowserOn(b, onA);
    const session = await onB.get('/api/session');
    expect(session.status, session.text).toBe(200);
    expect(session.json).toMatchObject({ email: 'admin@estuary.local', role: 'admin', csrfToken: onA.csrfToken });
    await addAccount(onB, 'made-on-b@example.com', 'auditor');
    expect((await onA.get('/api/accounts/made-on-b@example.com')).status).toBe(200);
    expect((await onB.post('/api/accounts', { email: 'x@example.com', role: 'auditor' }, { csrf: 'wrong' })).status).toBe(403);

    expect((await onB.delete('/api/session')).status).toBe(204);
    expect((await onA.get('/api/session')).status).toBe(401);
  });

  it('a password changed on one signs the account out on the other and the old password is refused there', async () => {
    const admin = await signedIn(a, a.summary.adminAccount.email, a.summary.adminAccount.password);
    const old = await addAccount(admin, 'officer@example.com', 'officer');
    const officerOnB = await signedIn(b, 'officer@example.com', old);
    expect((await officerOnB.get('/api/session')).status).toBe(200);
    expect((await admin.post('/api/accounts/officer@example.com/password', { password: 'a-new-passphrase-for-officer' })).status).toBe(200);
    expect((await officerOnB.get('/api/session')).status).toBe(401);
    expect((await new AdminClient(b).signIn('officer@example.com', old)).status).toBe(401);
    expect((await new AdminClient(b).signIn('officer@example.com', 'a-new-passphrase-for-officer')).status).toBe(200);
    expect((await admin.get('/api/session')).status).toBe(200); // the admin's own session is untouched
  });

  it('a sign-in lock set off on one refuses on the other, even the right password', async () => {
    const admin = await signedIn(a, a.summary.adminAccount.email, a.summary.adminAccount.password);
    const password = await addAccount(admin, 'locked@example.com', 'auditor');
    expect((await new AdminClient(b).signIn('locked@example.com', 'wrong-1')).status).toBe(401); // counted on b
    for (let i = 2; i <= 5; i++) expect((await new AdminClient(a).signIn('locked@example.com', `wrong-${i}`)).status).toBe(401);
    const refused = await new AdminClient(b).signIn('locked@example.com', password);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await admin.post('/api/accounts/locked@example.com/unlock')).status).toBe(200); // unlocked on a
    expect((await new AdminClient(b).signIn('locked@example.com', password)).status).toBe(200);
  });

  it('an EST account locked by failed HTTP Basic attempts on one is refused on the other', async () => {
    const { email, password } = a.summary.estAccount;
    const csr = csrBody((await makeCsr({ name: 'CN=lock-probe' })).der);
    const attempt = (server: TestServer, pw: string) =>
      estRequest(`${server.base}/simpleenroll`, { ca: server.rootPem, basic: { user: email, password: pw }, body: csr, contentType: 'application/pkcs10' });
    for (let i = 0; i < 10; i++) expect((await attempt(a, `wrong-${i}`)).status).toBe(401);
    const refused = await attempt(b, password);
    expect(refused.status).toBe(429);
    const admin = await signedIn(b, b.summary.adminAccount.email, b.summary.adminAccount.password);
    expect((await admin.post(`/api/accounts/${email}/unlock`)).status).toBe(200);
    expect((await attempt(a, password)).status).toBe(200);
  });

  it('both serve the same CRL bytes; a revocation on one is listed on the CRL the other serves', async () => {
    const first = await crlOf(a);
    expect((await crlOf(b)).equals(first)).toBe(true);

    const issued = await enroll(b, { cn: 'revoked-on-a' });
    expect(issued.status, issued.text).toBe(200);
    const serial = issued.serial!;
    const officer = await signedIn(a, a.summary.adminAccount.email, a.summary.adminAccount.password);
    expect((await officer.post(`/api/certificates/${serial}/revoke`, { reason: 'keyCompromise' })).status).toBe(200);

    const onB = await crlOf(b);
    expect(crlSerials(onB)).toContain(serial);
    expect((await crlOf(a)).equals(onB)).toBe(true);
  });
});

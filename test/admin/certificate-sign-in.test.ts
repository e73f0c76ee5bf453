/**
 * Signing in to the Web RA with a TLS client certificate (admin.clientCertificateCa), over real
 * TLS: a certificate from the operators' CA naming an admin's email opens a session; one from
 * another CA, an expired one, one naming an EST account or no account, and no certificate at all
 * are refused with 401 and audited; password sign-in still works on the same listener.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estRequest } from '../helpers/est-http.js';
import { makeDeviceCa, type DeviceCa } from '../helpers/device-ca.js';
import { makeHome, startServer, type TestServer } from '../helpers/home.js';
import { AdminClient, signedIn } from './admin-client.js';

let s: TestServer;
let operators: DeviceCa;

beforeAll(async () => {
  const home = await makeHome();
  operators = await makeDeviceCa('CN=Operators CA, O=Example');
  writeFileSync(join(home.home, 'operators-ca.pem'), operators.pem);
  const yaml = join(home.home, 'estuary.yaml');
  writeFileSync(yaml, readFileSync(yaml, 'utf8').replace(/^admin:\n/m, 'admin:\n  clientCertificateCa: operators-ca.pem\n'));
  s = await startServer(home);
});
afterAll(async () => {
  await s?.runtime.close();
});

/** The CA names the listener sends in its CertificateRequest, as `openssl s_client` prints them. */
function acceptableCaNames(): Promise<string> {
  return new Promise((resolve) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${s.adminPort}`, '-servername', 'localhost'], { encoding: 'utf8', timeout: 60_000 }, (_err, stdout) => {
      resolve(/Acceptable client certificate CA names\n([^-]*?)(?:\n[A-Z][a-z]|\n---)/.exec(stdout)?.[1] ?? '');
    });
    child.stdin?.end();
  });
}

function signInWith(clientCert?: { cert: string; key: string }) {
  return estRequest(`${s.adminBase}/api/session/certificate`, { method: 'POST', ca: s.rootPem, headers: { accept: 'application/json' }, ...(clientCert ? { clientCert } : {}) });
}

const emailCert = (ca: DeviceCa, email: string, opts: Parameters<DeviceCa['issue']>[1] = {}) => ca.issue(email, { sans: [{ type: 'email', value: email }], ...opts });

describe('sign-in with a client certificate', () => {
  it('is announced, and opens a session for the account the certificate names', async () => {
    const info = await new AdminClient(s).get('/api/session/certificate');
    expect(info.json).toEqual({ enabled: true });
    const email = s.summary.adminAccount.email;
    const res = await signInWith(await emailCert(operators, email));
    expect(res.status, res.text).toBe(200);
    const body = JSON.parse(res.text);
    expect(body).toMatchObject({ email, role: 'admin' });
    const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!).find((c) => c.startsWith('estuary_session='));
    const client = new AdminClient(s);
    client.cookie = cookie;
    client.csrfToken = body.csrfToken;
    expect((await client.get('/api/session')).json).toMatchObject({ email, role: 'admin' });
    expect((await client.post('/api/profiles', { label: 'by-certificate' })).status).toBe(201);
    const [event] = await s.runtime.store.listAudit({ action: 'session.signin', actor: email });
    expect(event).toMatchObject({ outcome: 'success' });
    expect(event!.detail ?? "").toMatch(/^admin, with client certificate "CN=admin@estuary\.local" \(SHA-256 [0-9A-F:]+\), from 127\.0\.0\.1$/);
  });

  it('refuses other certificates, and no certificate, with 401 and the reason; each refusal is audited', async () => {
    const other = await makeDeviceCa('CN=Somebody Else CA');
    await s.runtime.store.createAccount({ email: 'gone@example.com', passwordHash: 'x', role: 'officer' });
    await s.runtime.store.setAccountDisabled('gone@example.com', true);
    const cases: Array<[{ cert: string; key: string } | undefined, RegExp]> = [
      [undefined, /no client certificate was presented/],
      [await emailCert(other, s.summary.adminAccount.email), /cannot sign in: .*(trust anchor|chain|issuer)/i],
      [await emailCert(operators, s.summary.adminAccount.email, { notAfter: new Date(Date.now() - 60_000), notBefore: new Date(Date.now() - 86_400_000) }), /has expired/],
      [await emailCert(operators, s.summary.adminAccount.email, { eku: ['1.3.6.1.5.5.7.3.1'] }), /not valid for TLS client authentication/],
      [await operators.issue('no-email'), /names no email address/],
      [await emailCert(operators, 'nobody@example.com'), /no Web RA account nobody@example.com/],
      [await emailCert(operators, s.summary.estAccount.email), /a est account cannot sign in to the Web RA/],
      [await emailCert(operators, 'gone@example.com'), /the account is disabled/],
    ];
    for (const [cert, reason] of cases) {
      const res = await signInWith(cert);
      expect(res.status, res.text).toBe(401);
      expect(JSON.parse(res.text).detail, String(reason)).toMatch(reason);
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    const refused = await s.runtime.store.listAudit({ action: 'session.signin' });
    expect(refused.filter((e) => e.outcome === 'unauthenticated' && /client certificate/.test(e.detail ?? ''))).toHaveLength(cases.length - 1);
  });

  it('asks for certificates of the operators\' CA, also after the server certificate is reloaded', async () => {
    expect(await acceptableCaNames()).toContain('CN = Operators CA, O = Example');
    s.runtime.reloadTls();
    expect(await acceptableCaNames()).toContain('CN = Operators CA, O = Example');
    const res = await signInWith(await emailCert(operators, s.summary.adminAccount.email));
    expect(res.status, res.text).toBe(200);
  });

  it('leaves password sign-in as it was on the same listener', async () => {
    const admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
    expect((await admin.get('/api/session')).status).toBe(200);
  });
});

/**
 * simplereenroll follows today's rules (RFC 7030 §4.2.2 plus the profile's renewal policy):
 * the account that obtained the certificate must still be enabled, allowed on the profile and
 * allowed the names; optionally the renewed certificate is revoked as superseded (in the CRL),
 * renewed only once, or only late in its life.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/ra/password.js';
import type { RenewalPolicy } from '../../src/ra/model.js';
import { certsFrom, csrBody, estRequest, pem } from '../helpers/est-http.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { makeCsr, type TestCsr } from '../helpers/keys.js';

let s: TestServer;
const PASSWORD = 'renewal-test-password';

beforeAll(async () => {
  s = await startServer();
  const p = (await s.runtime.store.getProfile('default'))!;
  const profiles: Array<[string, Partial<RenewalPolicy>]> = [['plain', {}], ['supersede', { supersede: true }], ['once', { once: true }], ['late', { windowPercent: 10 }]];
  for (const [label, renewal] of profiles) await s.runtime.store.createProfile({ ...p, label, renewal: { ...p.renewal, ...renewal } });
});
afterAll(async () => {
  await s.runtime.close();
});

let n = 0;
async function account(): Promise<string> {
  const email = `renewer-${++n}@example.com`;
  await s.runtime.store.createAccount({ email, passwordHash: await hashPassword(PASSWORD), role: 'est' });
  return email;
}

const post = (path: string, csr: TestCsr, extra: { basic?: { user: string; password: string }; clientCert?: { cert: string; key: string } }) =>
  estRequest(s.base + path, { ca: s.rootPem, body: csrBody(csr.der), contentType: 'application/pkcs10', ...extra });

async function enrolled(label: string, email: string, name = 'renew-me') {
  const csr = await makeCsr({ name: `CN=${name}`, dns: [`${name}.example`] });
  const res = await post(`/${label}/simpleenroll`, csr, { basic: { user: email, password: PASSWORD } });
  expect(res.status, res.text).toBe(200);
  const der = certsFrom(res)[0]!;
  const x = new X509Certificate(der);
  return { csr, clientCert: { cert: pem(der), key: csr.keyPem }, serial: x.serialNumber.toLowerCase() };
}

const renew = (label: string, old: Awaited<ReturnType<typeof enrolled>>) => post(`/${label}/simplereenroll`, old.csr, { clientCert: old.clientCert });

describe('renewal follows today\'s account rules', () => {
  it('a disabled account\'s certificates no longer renew; enabled again, they do', async () => {
    const email = await account();
    const old = await enrolled('plain', email);
    await s.runtime.store.setAccountDisabled(email, true);
    const refused = await renew('plain', old);
    expect(refused.status).toBe(403);
    expect(refused.text.trim()).toBe(`simplereenroll: the account ${email} that obtained the certificate being renewed is disabled`);
    await s.runtime.store.setAccountDisabled(email, false);
    const res = await renew('plain', old);
    expect(res.status, res.text).toBe(200);
    const renewed = await s.runtime.store.getCertificate(new X509Certificate(certsFrom(res)[0]!).serialNumber.toLowerCase());
    expect(renewed).toMatchObject({ requester: email, renews: old.serial });
  });

  it('refuses when the account is no longer allowed on the profile, or restricted to other profiles', async () => {
    const email = await account();
    const old = await enrolled('plain', email);
    const p = (await s.runtime.store.getProfile('plain'))!;
    await s.runtime.store.updateProfile({ ...p, allowedAccounts: ['someone-else@example.com'] });
    const res = await renew('plain', old);
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/is no longer allowed on profile "plain"/);
    await s.runtime.store.updateProfile({ ...p, allowedAccounts: [] });
    await s.runtime.store.setAccountAllowedProfiles(email, ['once']);
    expect((await renew('plain', old)).text).toMatch(/is restricted to other profiles than "plain"/);
    await s.runtime.store.setAccountAllowedProfiles(email, []);
    expect((await renew('plain', old)).status).toBe(200);
  });

  it('refuses names the account may no longer request', async () => {
    const email = await account();
    const old = await enrolled('plain', email);
    await s.runtime.store.setAccountAllowedNames(email, ['sensor-*.example']);
    const res = await renew('plain', old);
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/renew-me/);
  });
});

describe('the profile\'s renewal policy', () => {
  it('supersede: the renewed certificate is revoked as superseded with its successor, audited, and in the CRL', async () => {
    const email = await account();
    const old = await enrolled('supersede', email);
    const res = await renew('supersede', old);
    expect(res.status, res.text).toBe(200);
    const successor = new X509Certificate(certsFrom(res)[0]!).serialNumber.toLowerCase();
    expect(await s.runtime.store.getCertificate(old.serial)).toMatchObject({ status: 'revoked', revocationReason: 'superseded' });
    const [event] = await s.runtime.store.listAudit({ action: 'cert.supersede' });
    expect(event).toMatchObject({ serial: old.serial, profile: 'supersede', outcome: 'success', detail: `superseded by ${successor} (simplereenroll)` });
    const crl = Buffer.from(await (await fetch(`${s.runtime.crlBaseUrl()}/default.crl`)).arrayBuffer());
    const dir = tempDir();
    writeFileSync(join(dir, 'c.crl'), crl);
    const text = spawnSync('openssl', ['crl', '-inform', 'DER', '-in', join(dir, 'c.crl'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout.toLowerCase()).toContain(`serial number: ${old.serial}`);
    expect(text.stdout).toMatch(/Superseded/);
    // The superseded certificate can no longer renew (or authenticate).
    const again = await renew('supersede', old);
    expect(again.status).toBe(401);
    expect(again.text).toMatch(/revoked/);
  });

  it('once: a certificate renews once; its successor renews further', async () => {
    const email = await account();
    const old = await enrolled('once', email);
    const first = await renew('once', old);
    expect(first.status, first.text).toBe(200);
    const second = await renew('once', old);
    expect(second.status).toBe(403);
    expect(second.text).toMatch(/the certificate has already been renewed \(by [0-9a-f]+\); profile "once" renews each certificate once/);
    const successor = { csr: old.csr, clientCert: { cert: pem(certsFrom(first)[0]!), key: old.csr.keyPem }, serial: '' };
    expect((await renew('once', successor)).status).toBe(200);
  });

  it('a window: renewal only within the last 10% of the life, with the date it opens', async () => {
    const email = await account();
    const old = await enrolled('late', email);
    const res = await renew('late', old);
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/^simplereenroll: profile "late" renews a certificate only within the last 10% of its life; this one can be renewed from \d{4}-\d\d-\d\dT/);
    const p = (await s.runtime.store.getProfile('late'))!;
    await s.runtime.store.updateProfile({ ...p, renewal: { ...p.renewal, windowPercent: 100 } });
    expect((await renew('late', old)).status).toBe(200);
  });
});

/**
 * The officer's work through the API: held requests approved or rejected (the client's re-send
 * gets the certificate or the reason), certificates found, decoded, downloaded and revoked (the
 * CRL lists them from the next fetch).
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pemBlocks } from '../../src/pki/base64.js';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { makeCsr, x509 } from '../helpers/keys.js';
import { addAccount, enroll, signedIn, type AdminClient } from './admin-client.js';

let s: TestServer;
let admin: AdminClient;
let officer: AdminClient;
let auditor: AdminClient;

beforeAll(async () => {
  s = await startServer();
  admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
  officer = await signedIn(s, 'officer@example.com', await addAccount(admin, 'officer@example.com', 'officer'));
  auditor = await signedIn(s, 'auditor@example.com', await addAccount(admin, 'auditor@example.com', 'auditor'));
  expect((await admin.post('/api/profiles', { label: 'held', approval: 'manual', retryAfterSeconds: 5 })).status).toBe(201);
});
afterAll(async () => {
  await s?.runtime.close();
});

describe('held requests', () => {
  it('shows a held request in the queue; approving it lets the client\'s re-send collect the certificate', async () => {
    const csr = await makeCsr({ name: 'CN=held-a', dns: ['held-a.example.com'] });
    const first = await enroll(s, { label: 'held', csr });
    expect(first.status).toBe(202);
    const queue = await officer.get('/api/requests');
    expect(queue.status).toBe(200);
    expect(queue.json).toMatchObject({ total: 1, offset: 0, limit: 50 });
    const item = queue.json.items[0];
    expect(item).toMatchObject({
      profile: 'held', operation: 'simpleenroll', requester: 'est@estuary.local', subject: 'CN=held-a', sans: ['DNS:held-a.example.com'],
      keyDescription: 'EC P-256', status: 'pending', reason: null, decidedBy: null, expired: false,
    });
    expect(item.ageSeconds).toBeGreaterThanOrEqual(0);
    expect((await officer.get(`/api/requests/${item.id}`)).json).toMatchObject({ id: item.id, status: 'pending' });

    const approved = await officer.post(`/api/requests/${item.id}/approve`, { reason: 'on the inventory' });
    expect(approved.status, approved.text).toBe(200);
    expect(approved.json).toMatchObject({ status: 'approved', decidedBy: 'officer@example.com', reason: 'on the inventory' });
    const again = await enroll(s, { label: 'held', csr });
    expect(again.status, again.text).toBe(200);
    expect((await officer.get(`/api/requests/${item.id}`)).json).toMatchObject({ status: 'issued', serial: again.serial });
    const twice = await officer.post(`/api/requests/${item.id}/approve`, {});
    expect(twice.status).toBe(409);
    expect(twice.json.detail).toBe(`request ${item.id} is issued, not pending`);
    const audit = await admin.get('/api/audit?action=request.approve');
    expect(audit.json.items[0]).toMatchObject({ actor: 'officer@example.com', profile: 'held', detail: `request ${item.id} (CN=held-a): on the inventory` });
  });

  it('approves without a body; rejects with a reason the client is shown; a reason is required to reject', async () => {
    const [b, c] = [await makeCsr({ name: 'CN=held-b' }), await makeCsr({ name: 'CN=held-c' })];
    expect((await enroll(s, { label: 'held', csr: b })).status).toBe(202);
    expect((await enroll(s, { label: 'held', csr: c })).status).toBe(202);
    const pending = (await officer.get('/api/requests?status=pending&profile=held')).json.items as Array<{ id: number; subject: string }>;
    const idB = pending.find((r) => r.subject === 'CN=held-b')!.id;
    const idC = pending.find((r) => r.subject === 'CN=held-c')!.id;
    expect((await admin.post(`/api/requests/${idB}/approve`)).status).toBe(200);
    const noReason = await officer.post(`/api/requests/${idC}/reject`, {});
    expect(noReason.status).toBe(400);
    expect(noReason.json.errors).toEqual([{ field: 'reason', message: 'is required' }]);
    expect((await officer.post(`/api/requests/${idC}/reject`, { reason: 'unknown device' })).json).toMatchObject({ status: 'rejected', reason: 'unknown device' });
    expect((await enroll(s, { label: 'held', csr: b })).status).toBe(200);
    const refused = await enroll(s, { label: 'held', csr: c });
    expect(refused.status).toBe(403);
    expect(refused.text).toMatch(/rejected: unknown device/);
    const all = await auditor.get('/api/requests?status=all&limit=2');
    expect(all.json).toMatchObject({ total: 3, limit: 2 });
    expect(all.json.items).toHaveLength(2);
    expect((await auditor.get('/api/requests?status=rejected')).json.items.map((r: { id: number }) => r.id)).toEqual([idC]);
    expect((await officer.post('/api/requests/99999/approve', {})).status).toBe(404);
    expect((await officer.get('/api/requests?status=lost')).status).toBe(400);
  });
});

describe('certificates', () => {
  let serials: string[] = [];
  const keys = new Map<string, string>();

  it('searches by subject, SAN, serial, profile and status with paging and a total', async () => {
    serials = [];
    for (const cn of ['search-alpha', 'search-beta', 'other-gamma']) {
      const e = await enroll(s, { csr: await makeCsr({ name: `CN=${cn}`, dns: [`${cn}.plant.example`] }) });
      serials.push(e.serial!);
      keys.set(e.serial!, e.csr.keyPem);
    }
    const bySubject = await auditor.get('/api/certificates?subject=SEARCH-');
    expect(bySubject.json).toMatchObject({ total: 2, offset: 0, limit: 50 });
    expect(bySubject.json.items.map((c: { serial: string }) => c.serial)).toEqual([serials[1], serials[0]]);
    expect(bySubject.json.items[0]).toMatchObject({ subject: 'CN=search-beta', sans: ['DNS:search-beta.plant.example'], status: 'valid', profile: 'default', ca: 'default', requester: 'est@estuary.local', revokedAt: null });
    expect((await auditor.get('/api/certificates?san=gamma.plant')).json.items.map((c: { serial: string }) => c.serial)).toEqual([serials[2]]);
    const colons = serials[2]!.slice(0, 8).toUpperCase().match(/../g)!.join(':');
    expect((await auditor.get(`/api/certificates?serial=${colons}`)).json.items.map((c: { serial: string }) => c.serial)).toContain(serials[2]);
    expect((await auditor.get('/api/certificates?q=beta')).json.total).toBe(1);
    const page = await auditor.get('/api/certificates?q=plant.example&limit=1&offset=1');
    expect(page.json).toMatchObject({ total: 3, offset: 1, limit: 1 });
    expect(page.json.items.map((c: { serial: string }) => c.serial)).toEqual([serials[1]]);
    expect(page.json).toMatchObject({ totalIsLowerBound: false, next: expect.any(String) });
    // keyset paging: the next page after the cursor, the same as offset 2; the last page has no cursor
    const after = await auditor.get(`/api/certificates?q=plant.example&limit=1&after=${page.json.next}`);
    expect(after.json).toMatchObject({ total: 3, offset: 0, limit: 1 });
    expect(after.json.items.map((c: { serial: string }) => c.serial)).toEqual([serials[0]]);
    expect((await auditor.get('/api/certificates?q=plant.example&limit=5')).json).toMatchObject({ total: 3, next: null });
    const forged = await auditor.get('/api/certificates?q=plant.example&after=bm90LWEtY3Vyc29y');
    expect(forged.status).toBe(400);
    expect(forged.json.errors[0].field).toBe('after');
    expect((await auditor.get('/api/certificates?profile=held')).json.total).toBe(2);
    expect((await auditor.get('/api/certificates?expiresWithinDays=30')).json.total).toBe(0);
    expect((await auditor.get('/api/certificates?expiresWithinDays=366&q=search')).json.total).toBe(2);
    expect((await auditor.get('/api/certificates?status=expired')).json.total).toBe(0);
    for (const bad of ['status=lost', 'limit=0', 'limit=501', 'offset=-1', 'expiresWithinDays=soon', 'colour=red', 'after=a%20b']) {
      const res = await auditor.get(`/api/certificates?${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.json.errors[0].field, bad).toBe(bad.split('=')[0]);
    }
  });

  it('shows a certificate decoded, with its PEM; downloads it and its chain', async () => {
    const serial = serials[0]!;
    const res = await auditor.get(`/api/certificates/${serial}`);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ serial, subject: 'CN=search-alpha', status: 'valid' });
    const cert = new X509Certificate(res.json.pem);
    expect(cert.serialNumber.toLowerCase().replace(/^0+/, '')).toBe(serial);
    expect(res.json.fields).toMatchObject({
      subject: 'CN=search-alpha', issuer: 'CN=Estuary Issuing CA, O=Estuary', key: 'EC P-256', fingerprintSha256: cert.fingerprint256,
      subjectAltName: 'DNS:search-alpha.plant.example', keyUsage: ['digitalSignature'], extendedKeyUsage: ['serverAuth', 'clientAuth'],
    });
    expect(res.json.fields.extensions).toContainEqual({ oid: '2.5.29.19', name: 'basicConstraints', critical: true });
    expect(res.json.fields.extensions).toContainEqual({ oid: '2.5.29.17', name: 'subjectAltName', critical: false });

    const pem = await auditor.get(`/api/certificates/${serial.toUpperCase()}/pem`);
    expect(pem.status).toBe(200);
    expect(pem.headers['content-type']).toMatch(/^application\/x-pem-file/);
    expect(pem.headers['content-disposition']).toBe(`attachment; filename="${serial}.pem"`);
    expect(pem.text).toBe(res.json.pem);
    const chain = await auditor.get(`/api/certificates/${serial}/chain.pem`);
    const blocks = pemBlocks(chain.text).map((der) => new X509Certificate(der));
    expect(blocks.map((c) => c.subject.replace(/\n/g, ', '))).toEqual(['CN=search-alpha', 'CN=Estuary Issuing CA, O=Estuary', 'CN=Estuary Root CA, O=Estuary']);
    expect(blocks[0]!.verify(blocks[1]!.publicKey)).toBe(true);
    expect((await auditor.get('/api/certificates/abcdef0123')).status).toBe(404);
    expect((await auditor.get('/api/certificates/not-hex')).status).toBe(400);
  });

  it('revokes with an RFC 5280 reason: listed as revoked, in the CRL at once, no longer renewable', async () => {
    const serial = serials[1]!;
    const bad = await officer.post(`/api/certificates/${serial}/revoke`, { reason: 'stolen' });
    expect(bad.status).toBe(400);
    expect(bad.json.errors[0]).toMatchObject({ field: 'reason', message: expect.stringMatching(/^must be one of unspecified, keyCompromise/) });
    const res = await officer.post(`/api/certificates/${serial}/revoke`, { reason: 'keyCompromise' });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ serial, status: 'revoked', revocationReason: 'keyCompromise', revokedAt: expect.any(String) });
    expect((await officer.post(`/api/certificates/${serial}/revoke`, { reason: 'keyCompromise' })).status).toBe(409);
    expect((await officer.post('/api/certificates/abcdef0123/revoke', { reason: 'keyCompromise' })).status).toBe(404);
    expect((await auditor.get('/api/certificates?status=revoked')).json.items.map((c: { serial: string }) => c.serial)).toEqual([serial]);

    const crlDer = Buffer.from(await (await fetch(`${s.runtime.crlBaseUrl()}/default.crl`)).arrayBuffer());
    const crl = new x509.X509Crl(crlDer);
    const entry = crl.entries.find((e) => e.serialNumber.toLowerCase().replace(/^0+/, '') === serial);
    expect(entry, 'the CRL lists the revoked certificate').toBeDefined();
    expect(entry!.reason).toBe(x509.X509CrlReason.keyCompromise);
    const pem = (await auditor.get(`/api/certificates/${serial}/pem`)).text;
    const renew = await estRequest(`${s.base}/simplereenroll`, {
      ca: s.rootPem, clientCert: { cert: pem, key: keys.get(serial)! }, body: csrBody((await makeCsr({ name: 'CN=search-beta' })).der), contentType: 'application/pkcs10',
    });
    expect(renew.status).toBe(401);
    expect(renew.text).toMatch(/revoked/);
    const audit = await admin.get(`/api/audit?action=cert.revoke`);
    expect(audit.json.items[0]).toMatchObject({ actor: 'officer@example.com', serial, detail: 'keyCompromise', profile: 'default' });
  });
});

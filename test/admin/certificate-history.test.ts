/**
 * Certificates in the Web RA API, day two: issued date, requester and successor in the list, the
 * detail's history (approved by, revoked by, renewed by), the per-profile supersede on renewal end
 * to end, CSV and JSON export of a filtered list, and a hold released (the CRL no longer lists it,
 * checked with `openssl crl`).
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvField, EXPORT_COLUMNS } from '../../src/admin/api-certificate-export.js';
import { normalizeSerial } from '../../src/pki/certificate.js';
import { certsFrom, csrBody, estRequest } from '../helpers/est-http.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { addAccount, enroll, signedIn, type AdminClient, type Enrolled } from './admin-client.js';

let s: TestServer;
let admin: AdminClient;
let officer: AdminClient;
let auditor: AdminClient;
/** Shared by the tests below, in order: a certificate approved by an officer, and one renewed with supersede. */
let approved: Enrolled;
let first: Enrolled;

beforeAll(async () => {
  s = await startServer();
  admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
  officer = await signedIn(s, 'officer@example.com', await addAccount(admin, 'officer@example.com', 'officer'));
  auditor = await signedIn(s, 'auditor@example.com', await addAccount(admin, 'auditor@example.com', 'auditor'));
  expect((await admin.post('/api/profiles', { label: 'held', approval: 'manual', retryAfterSeconds: 5 })).status).toBe(201);
  expect((await admin.post('/api/profiles', { label: 'rotating', renewal: { supersede: true, once: false, windowPercent: 100 } })).status).toBe(201);
});
afterAll(async () => {
  await s?.runtime.close();
});

/** simplereenroll authenticated by the certificate itself (RFC 7030 §3.3.2), with a new key. */
async function renew(label: string, cert: string, key: string, cn: string): Promise<string> {
  const res = await estRequest(`${s.base}/${label}/simplereenroll`, {
    ca: s.rootPem, clientCert: { cert, key }, body: csrBody((await makeCsr({ name: `CN=${cn}` })).der), contentType: 'application/pkcs10',
  });
  expect(res.status, res.text).toBe(200);
  return normalizeSerial(new X509Certificate(certsFrom(res)[0]!).serialNumber);
}

async function crlText(): Promise<string> {
  const der = Buffer.from(await (await fetch(`${s.runtime.crlBaseUrl()}/default.crl`)).arrayBuffer());
  // the CA file: a certificate's chain (its issuing CA and the root)
  const issuing = join(s.home, 'crl-check-chain.pem');
  writeFileSync(issuing, (await auditor.get(`/api/certificates/${first.serial}/chain.pem`)).text);
  const r = spawnSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text', '-CAfile', issuing], { input: der, encoding: 'utf8' });
  expect(r.stderr).toMatch(/verify OK/);
  return r.stdout.toLowerCase();
}

describe('certificate history', () => {
  let successor: string;

  it('names the officer who approved a held request, and says when a certificate was issued without approval', async () => {
    const csr = await makeCsr({ name: 'CN=held-history' });
    expect((await enroll(s, { label: 'held', csr })).status).toBe(202);
    const id = (await officer.get('/api/requests?profile=held')).json.items[0].id;
    expect((await officer.post(`/api/requests/${id}/approve`, {})).status).toBe(200);
    approved = await enroll(s, { label: 'held', csr });
    expect(approved.status).toBe(200);
    const detail = (await auditor.get(`/api/certificates/${approved.serial}`)).json;
    expect(detail.approval).toEqual({ requestId: id, requestedAt: expect.any(String), approvedBy: ['officer@example.com'], approvedAt: expect.any(String) });
    expect(detail).toMatchObject({ requester: 'est@estuary.local', createdAt: expect.any(String), renewedBy: null, revokedBy: null });
    first = await enroll(s, { label: 'rotating', cn: 'rotating-1' });
    expect((await auditor.get(`/api/certificates/${first.serial}`)).json.approval).toBeNull();
  });

  it('supersede on renewal (per profile): the renewed certificate is revoked as superseded, names its successor, and is in the CRL', async () => {
    const pem = (await auditor.get(`/api/certificates/${first.serial}/pem`)).text;
    successor = await renew('rotating', pem, first.csr.keyPem, 'rotating-1');
    const old = (await auditor.get(`/api/certificates/${first.serial}`)).json;
    expect(old).toMatchObject({ status: 'revoked', revocationReason: 'superseded', revokedBy: null, renewedBy: successor });
    expect((await auditor.get(`/api/certificates/${successor}`)).json).toMatchObject({ status: 'valid', renews: first.serial, renewedBy: null });
    expect((await admin.get(`/api/audit?action=cert.supersede`)).json.items[0]).toMatchObject({ serial: first.serial, detail: expect.stringContaining(successor) });
    expect(await crlText()).toContain(`serial number: ${first.serial}`);
    // the list shows the successor too
    const listed = (await auditor.get(`/api/certificates?serial=${first.serial}`)).json.items[0];
    expect(listed).toMatchObject({ renewedBy: successor, requester: expect.any(String), createdAt: expect.any(String) });
  });

  it('counts a renewed certificate once on the dashboard (renewed, not valid), and shows the CA connector\'s status', async () => {
    // a renewal on the default profile (no supersede): the old one stays valid until it expires
    const plain = await enroll(s, { cn: 'plain-1' });
    const before = (await auditor.get('/api/dashboard')).json;
    const pem = (await auditor.get(`/api/certificates/${plain.serial}/pem`)).text;
    const next = await renew('default', pem, plain.csr.keyPem, 'plain-1');
    const after = (await auditor.get('/api/dashboard')).json;
    expect(after.counts).toMatchObject({ valid: before.counts.valid, renewed: before.counts.renewed + 1 });
    expect((await auditor.get(`/api/certificates/${plain.serial}`)).json).toMatchObject({ status: 'valid', renewedBy: next });
    expect(after.cas).toEqual([{ id: 'default', typeLabel: expect.any(String), healthy: true, url: null, problem: null, notAfter: expect.any(String), issuesCrls: true }]);
  });

  it('records who revoked a certificate', async () => {
    const res = await officer.post(`/api/certificates/${approved.serial}/revoke`, { reason: 'keyCompromise' });
    expect(res.json).toMatchObject({ status: 'revoked', revokedBy: 'officer@example.com' });
    expect((await auditor.get(`/api/certificates/${approved.serial}`)).json.revokedBy).toBe('officer@example.com');
  });

  it('orders by soonest expiry', async () => {
    const short = await admin.post('/api/profiles', { label: 'brief', validityDays: 3 });
    expect(short.status).toBe(201);
    const soon = await enroll(s, { label: 'brief', cn: 'brief-1' });
    const byExpiry = (await auditor.get('/api/certificates?order=expiry&limit=1')).json;
    expect(byExpiry.items[0].serial).toBe(soon.serial);
    expect((await auditor.get('/api/certificates?order=name')).status).toBe(400);
  });
});

describe('export', () => {
  it('quotes CSV fields (RFC 4180) and defuses spreadsheet formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('CN=a, O=b')).toBe('"CN=a, O=b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('=1+1')).toBe("'=1+1");
    expect(csvField(null)).toBe('');
  });

  it('downloads the filtered list as CSV and JSON, the same rows as the search, as a file', async () => {
    const list = (await auditor.get('/api/certificates?profile=rotating&limit=500')).json;
    expect(list.total).toBe(2);
    const csv = await auditor.get('/api/certificates/export?profile=rotating&format=csv');
    expect(csv.status, csv.text).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv; charset=utf-8/);
    expect(csv.headers['content-disposition']).toMatch(/^attachment; filename="certificates-\d{8}-\d{6}\.csv"$/);
    expect(csv.headers['x-export-truncated']).toBe('false');
    const lines = csv.text.split('\r\n');
    expect(lines[0]).toBe(EXPORT_COLUMNS.join(','));
    expect(lines.at(-1)).toBe('');
    expect(lines).toHaveLength(2 + 2);
    // the old one is "CN=rotating-1" (no comma): its row starts with its serial, then the subject
    const rows = lines.slice(1, -1).map((l) => l.split(','));
    expect(rows.map((r) => r[0])).toEqual(list.items.map((c: { serial: string }) => c.serial));
    const superseded = rows.find((r) => r[0] === first.serial)!;
    expect(superseded[EXPORT_COLUMNS.indexOf('status')]).toBe('revoked');
    expect(superseded[EXPORT_COLUMNS.indexOf('revocationReason')]).toBe('superseded');
    expect(superseded[EXPORT_COLUMNS.indexOf('renewedBy')]).toMatch(/^[0-9a-f]+$/);

    const json = await auditor.get('/api/certificates/export?profile=rotating&format=json');
    expect(json.headers['content-disposition']).toMatch(/\.json"$/);
    expect(JSON.parse(json.text)).toEqual(list.items);

    // a subject with a comma is one quoted field
    const multi = await enroll(s, { csr: await makeCsr({ name: 'CN=exported, O=Acme' }) });
    const one = (await auditor.get(`/api/certificates/export?serial=${multi.serial}`)).text.split('\r\n')[1]!;
    expect(one.startsWith(`${multi.serial},"CN=exported, O=Acme",`)).toBe(true);
    expect((await auditor.get('/api/certificates/export?format=xml')).status).toBe(400);
    expect((await auditor.get('/api/certificates/export?status=expired')).text).toBe(`${EXPORT_COLUMNS.join(',')}\r\n`);
  });
});

describe('certificate hold', () => {
  it('is released by an officer: valid again, audited, and the CRL no longer lists it; other revocations are final', async () => {
    const device = await enroll(s, { cn: 'on-hold' });
    const serial = device.serial!;
    expect((await officer.post(`/api/certificates/${serial}/revoke`, { reason: 'certificateHold' })).json).toMatchObject({ status: 'revoked', revocationReason: 'certificateHold' });
    expect(await crlText()).toContain(`serial number: ${serial}`);

    expect((await auditor.post(`/api/certificates/${serial}/release`, {})).status).toBe(403);
    const released = await officer.post(`/api/certificates/${serial}/release`, {});
    expect(released.status, released.text).toBe(200);
    expect(released.json).toMatchObject({ serial, status: 'valid', revokedAt: null, revocationReason: null, revokedBy: null });
    const crl = await crlText();
    expect(crl).not.toContain(`serial number: ${serial}`);
    expect(crl).toContain(`serial number: ${approved.serial}`); // the key compromise stays
    expect((await admin.get('/api/audit?action=cert.release')).json.items[0]).toMatchObject({ actor: 'officer@example.com', serial, outcome: 'success' });

    const again = await officer.post(`/api/certificates/${serial}/release`, {});
    expect(again.status).toBe(409);
    expect(again.json.detail).toBe(`certificate ${serial} is not on hold`);
    const final = await officer.post(`/api/certificates/${approved.serial}/release`, {});
    expect(final.status).toBe(409);
    expect(final.json.detail).toMatch(/keyCompromise\), which cannot be undone/);
    expect((await officer.post('/api/certificates/abcdef0123/release', {})).status).toBe(404);

    // the released certificate authenticates a renewal again
    const pem = (await auditor.get(`/api/certificates/${serial}/pem`)).text;
    expect(await renew('default', pem, device.csr.keyPem, 'on-hold')).toMatch(/^[0-9a-f]+$/);
  });
});


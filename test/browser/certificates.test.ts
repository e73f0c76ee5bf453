/**
 * The Certificates screens and the dashboard in Chromium, day two: issued date and requester
 * columns, order, CSV and JSON export of the filtered list, the detail's history (approved by,
 * renewed by, superseded on renewal), a hold released (and gone from the CRL), the renewed and CA
 * status cards. Screenshots: test-output/screenshots/certificates-NN-*.png.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { normalizeSerial } from '../../src/pki/certificate.js';
import { pemBlocks, toPem } from '../../src/pki/base64.js';
import { addAccount, AdminClient, enroll, signedIn, type Enrolled } from '../admin/admin-client.js';
import { certsFrom, csrBody, estRequest } from '../helpers/est-http.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { BOUNDS, collectPageErrors, expectStatus, launchChromium, newContext, openssl, Screenshots, signIn, textOf } from './browser-helpers.js';

let s: TestServer;
let api: AdminClient;
let browser: Browser;
let page: Page;
const shots = new Screenshots('certificates');
const pageErrors: string[] = [];
const url = (path: string): string => `${s.adminBase}${path}`;
/** What a reader sees: the rendered text, whitespace between blocks and cells kept. */
const seen = async (l: Locator): Promise<string> => (await l.innerText()).replace(/\s+/g, ' ').trim();

let approved: Enrolled;
let superseded: Enrolled;
let successor = '';
let held: Enrolled;

async function renew(label: string, e: Enrolled, cn: string): Promise<string> {
  const cert = (await api.get(`/api/certificates/${e.serial}/pem`)).text;
  const res = await estRequest(`${s.base}/${label}/simplereenroll`, {
    ca: s.rootPem, clientCert: { cert, key: e.csr.keyPem }, body: csrBody((await makeCsr({ name: `CN=${cn}` })).der), contentType: 'application/pkcs10',
  });
  expect(res.status, res.text).toBe(200);
  return normalizeSerial(new X509Certificate(certsFrom(res)[0]!).serialNumber);
}

beforeAll(async () => {
  s = await startServer();
  api = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
  const officer = await signedIn(s, 'officer@example.test', await addAccount(api, 'officer@example.test', 'officer'));
  // the fleet: a held request approved by an officer, a renewal with supersede, a renewal without, a hold
  expect((await api.post('/api/profiles', { label: 'held', approval: 'manual', retryAfterSeconds: 5 })).status).toBe(201);
  expect((await api.post('/api/profiles', { label: 'rotating', renewal: { supersede: true, once: false, windowPercent: 100 } })).status).toBe(201);
  const csr = await makeCsr({ name: 'CN=approved.example.test' });
  expect((await enroll(s, { label: 'held', csr })).status).toBe(202);
  const id = (await officer.get('/api/requests?profile=held')).json.items[0].id;
  expect((await officer.post(`/api/requests/${id}/approve`, {})).status).toBe(200);
  approved = await enroll(s, { label: 'held', csr });
  superseded = await enroll(s, { label: 'rotating', cn: 'rotating.example.test' });
  successor = await renew('rotating', superseded, 'rotating.example.test');
  const plain = await enroll(s, { cn: 'renewed.example.test' });
  await renew('default', plain, 'renewed.example.test');
  held = await enroll(s, { cn: 'held.example.test' });
  expect((await officer.post(`/api/certificates/${held.serial}/revoke`, { reason: 'certificateHold' })).status).toBe(200);

  const issuingCa = toPem('CERTIFICATE', pemBlocks(readFileSync(loadConfig(s.home, {}).tls.certificate, 'utf8'))[1]!);
  browser = await launchChromium([issuingCa]);
  const context = await newContext(browser, { viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  page = await context.newPage();
  collectPageErrors(page, pageErrors);
}, BOUNDS.launchMs + BOUNDS.navigationMs);

afterAll(async () => {
  await browser?.close();
  await s?.runtime.close();
});

describe.sequential('Certificates in Chromium', { timeout: BOUNDS.stepMs }, () => {
  it('1. the dashboard counts a renewed certificate once and shows the CA connector card', async () => {
    await signIn(page, url('/'), s.summary.adminAccount.email, s.summary.adminAccount.password);
    await page.getByTestId('dashboard-counts').waitFor();
    // valid: approved, the rotating successor, the plain renewal's successor (the hold is revoked)
    expect(Number.parseInt(await textOf(page.getByTestId('count-valid')), 10)).toBe(3);
    expect(await seen(page.getByTestId('count-renewed'))).toBe('1 Renewed, still valid');
    expect(await seen(page.getByTestId('ca-card-default'))).toMatch(/^default Healthy .*publishes CRLs.*CA certificate valid until .+ \(in \d+ days\)$/);
    await shots.take(page, 'dashboard');
  });

  it('2. lists certificates with their issued date and requester, newest first or by soonest expiry', async () => {
    await page.getByTestId('nav-certificates').click();
    const table = page.getByTestId('certificates-table');
    await table.waitFor();
    const headers = await table.locator('thead th').allTextContents();
    expect(headers.map((h) => h.trim())).toEqual(['Subject', 'SANs', 'Serial', 'Profile', 'Issued ↓', 'Requester', 'Expires', 'Status']);
    const row = page.getByTestId(`certificate-row-${approved.serial}`);
    expect(await seen(row)).toMatch(/CN=approved\.example\.test .* held \w{3} \d{1,2}, \d{4} est@estuary\.local /);
    expect(await seen(page.getByTestId(`certificate-row-${superseded.serial}`))).toMatch(/revoked renewed$/);
    await shots.take(page, 'list');
    await page.getByTestId('certificate-search').getByLabel('Order', { exact: true }).selectOption('expiry');
    await page.getByTestId('certificate-search').getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.url()).toContain('order=expiry');
    await expect.poll(async () => (await table.locator('thead th').allTextContents()).map((h) => h.trim())).toContain('Expires ↑');
  });

  it('3. exports the filtered list as CSV and JSON files', async () => {
    const search = page.getByTestId('certificate-search');
    await search.getByLabel('Status', { exact: true }).selectOption('revoked');
    await search.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.url()).toContain('status=revoked');
    await shots.take(page, 'list-revoked');
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
    expect(csv.suggestedFilename()).toMatch(/^certificates-\d{8}-\d{6}\.csv$/);
    const lines = readFileSync((await csv.path())!, 'utf8').split('\r\n').filter(Boolean);
    expect(lines[0]).toMatch(/^serial,subject,sans,profile,ca,status,issued,/);
    expect(lines.slice(1).map((l) => l.split(',')[0]).sort()).toEqual([superseded.serial!, held.serial!].sort());
    const [json] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
    expect(json.suggestedFilename()).toMatch(/\.json$/);
    const items = JSON.parse(readFileSync((await json.path())!, 'utf8')) as Array<{ serial: string; revocationReason: string }>;
    expect(items.map((c) => c.revocationReason).sort()).toEqual(['certificateHold', 'superseded']);
  });

  it('4. the detail says who approved a held request', async () => {
    await page.goto(url(`/certificates/${approved.serial}`));
    await page.getByTestId('certificate-detail').waitFor();
    expect(await textOf(page.getByTestId('certificate-approval'))).toMatch(/^officer@example\.test on .+ \(held request #\d+\)$/);
    await shots.take(page, 'detail-approved');
  });

  it('5. a certificate superseded on renewal names its successor, which names it back', async () => {
    await page.goto(url(`/certificates/${superseded.serial}`));
    await page.getByTestId('certificate-detail').waitFor();
    expect(await textOf(page.getByTestId('certificate-revoked-by'))).toBe('superseded on renewal');
    expect(await textOf(page.getByTestId('certificate-approval'))).toBe('issued without approval');
    await shots.take(page, 'detail-superseded');
    await page.getByTestId('certificate-renewed-by').getByRole('link').click();
    await expect.poll(() => page.url()).toContain(`/certificates/${successor}`);
    await expect.poll(() => seen(page.getByTestId('certificate-detail'))).toContain(`Renews ${superseded.serial}`);
  });

  it('6. releases a hold: valid again, audited, and the CRL no longer lists it', async () => {
    await page.goto(url(`/certificates/${held.serial}`));
    await page.getByTestId('certificate-detail').waitFor();
    expect(await textOf(page.getByTestId('certificate-revoked-by'))).toBe('officer@example.test');
    expect(await textOf(page.getByTestId('certificate-status'))).toMatch(/revoked/i);
    await page.getByTestId('release-hold').click();
    await page.getByTestId('release-dialog').waitFor();
    await shots.take(page, 'release-dialog');
    await page.getByTestId('release-confirm').click();
    await expectStatus(page, /released from hold: valid again, and off the next CRL/);
    await expect.poll(() => textOf(page.getByTestId('certificate-status'))).toMatch(/^valid$/i);
    expect(await page.getByTestId('release-hold').count()).toBe(0);
    await shots.take(page, 'released');

    const dir = tempDir('estuary-certificates-');
    writeFileSync(join(dir, 'crl.der'), Buffer.from(await (await fetch(`${s.runtime.crlBaseUrl()}/default.crl`)).arrayBuffer()));
    const text = (await openssl(['crl', '-inform', 'DER', '-in', 'crl.der', '-noout', '-text'], dir)).toLowerCase();
    expect(text).toContain(`serial number: ${superseded.serial}`);
    expect(text).not.toContain(`serial number: ${held.serial}`);
    expect((await api.get('/api/audit?action=cert.release')).json.items[0]).toMatchObject({ actor: s.summary.adminAccount.email, serial: held.serial });
    expect(pageErrors).toEqual([]);
  });
});

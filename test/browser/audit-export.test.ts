/**
 * The Web RA's audit screen in a real browser: each event shows the client address and request id
 * it was recorded with, and "Export CSV" / "Export JSON" download every event the filters show.
 * Screenshots under test-output/screenshots/audit-export-NN-*.png.
 */
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { pemBlocks, toPem } from '../../src/pki/base64.js';
import { enroll } from '../admin/admin-client.js';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { BOUNDS, collectPageErrors, launchChromium, newContext, Screenshots, signIn, textOf } from './browser-helpers.js';

let s: TestServer;
let browser: Browser;
let page: Page;
const shots = new Screenshots('audit-export');
const pageErrors: string[] = [];

beforeAll(async () => {
  s = await startServer();
  // the TLS listeners present server certificate + issuing CA: pin the issuing CA's key (see launchChromium)
  const issuingCa = toPem('CERTIFICATE', pemBlocks(readFileSync(loadConfig(s.home, {}).tls.certificate, 'utf8'))[1]!);
  browser = await launchChromium([issuingCa]);
  const context = await newContext(browser, { viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  collectPageErrors(page, pageErrors);
}, BOUNDS.launchMs + 60_000);
afterAll(async () => {
  await browser?.close();
  await s?.runtime.close();
});

async function download(testId: string): Promise<string> {
  const [file] = await Promise.all([page.waitForEvent('download', { timeout: BOUNDS.actionMs }), page.getByTestId(testId).click()]);
  return readFileSync((await file.path())!, 'utf8');
}

describe('audit screen', () => {
  it('shows where each event came from, and exports what the filters show as CSV and JSON', async () => {
    const csr = await makeCsr({ name: 'CN=browser-audit' });
    const res = await estRequest(`${s.base}/simpleenroll`, {
      ca: s.rootPem, basic: { user: s.summary.estAccount.email, password: s.summary.estAccount.password },
      body: csrBody(csr.der), contentType: 'application/pkcs10', headers: { 'x-request-id': 'browser-enroll-1' },
    });
    expect(res.status).toBe(200);
    expect((await enroll(s, { basic: { user: s.summary.estAccount.email, password: 'not-the-password' } })).status).toBe(401);

    await signIn(page, `${s.adminBase}/audit`, s.summary.adminAccount.email, s.summary.adminAccount.password);
    await page.goto(`${s.adminBase}/audit?action=simpleenroll`);
    const rows = page.getByTestId('audit-row');
    await expect.poll(() => rows.count(), { timeout: BOUNDS.expectMs }).toBe(2);
    const issued = rows.filter({ hasText: 'success' });
    await expect.poll(() => textOf(issued.getByTestId('audit-origin')), { timeout: BOUNDS.expectMs }).toBe('from 127.0.0.1 · request browser-enroll-1');
    await shots.take(page, 'audit-filtered-with-origin');

    const csv = await download('audit-export-csv');
    const lines = csv.trim().split('\r\n');
    expect(lines[0]).toBe('id,at,actor,action,profile,outcome,serial,detail,clientIp,requestId');
    expect(lines).toHaveLength(3); // only what the filter shows: the two enrollments
    expect(lines.find((l) => l.includes(',success,'))).toMatch(/,127\.0\.0\.1,browser-enroll-1$/);

    const json = JSON.parse(await download('audit-export-json')) as Array<{ action: string; outcome: string }>;
    expect(json.map((e) => `${e.action}:${e.outcome}`)).toEqual(['simpleenroll:unauthenticated', 'simpleenroll:success']);
    await shots.take(page, 'audit-after-export');
    expect(pageErrors).toEqual([]);
  }, BOUNDS.stepMs);
});

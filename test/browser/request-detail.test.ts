/**
 * Requests in detail and four-eyes approval in a real browser (Debian's Chromium, headless,
 * playwright-core) against the real server over real TLS: four-eyes turned on in the profile form,
 * two requests for the same subject held
 * on a four-eyes profile, the list and detail warnings, the decoded CSR and where the request came
 * from, the first approval by one officer (recorded, still pending; the same officer is offered
 * no second), and the second by another officer, after which the client's re-send is issued.
 * Screens are saved under test-output/screenshots/request-detail-NN-*.png.
 */
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { pemBlocks, toPem } from '../../src/pki/base64.js';
import { addAccount, signedIn } from '../admin/admin-client.js';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { makeCsr, type TestCsr } from '../helpers/keys.js';
import { BOUNDS, collectPageErrors, expectStatus, launchChromium, newContext, Screenshots, signIn, textOf } from './browser-helpers.js';

let s: TestServer;
let browser: Browser;
const contexts: BrowserContext[] = [];
const shots = new Screenshots('request-detail');
const pageErrors: string[] = [];
const passwords: Record<string, string> = {};
let held: TestCsr;
let heldId = 0;

async function hold(csr: TestCsr): Promise<number> {
  const basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  const res = await estRequest(`${s.base}/four/simpleenroll`, { ca: s.rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });
  return res.status;
}

async function officerPage(email: string, path: string): Promise<Page> {
  const context = await newContext(browser, { viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  collectPageErrors(page, pageErrors);
  await signIn(page, `${s.adminBase}${path}`, email, passwords[email]!);
  return page;
}

beforeAll(async () => {
  s = await startServer();
  const admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
  for (const email of ['alice@example.com', 'bob@example.com']) passwords[email] = await addAccount(admin, email, 'officer');
  passwords[s.summary.adminAccount.email] = s.summary.adminAccount.password;
  const created = await admin.post('/api/profiles', { label: 'four', approval: 'manual', retryAfterSeconds: 5 });
  expect(created.status, created.text).toBe(201);
  held = await makeCsr({ name: 'CN=boiler-3.plant.example', dns: ['boiler-3.plant.example'] });
  expect(await hold(held)).toBe(202);
  expect(await hold(await makeCsr({ name: 'CN=boiler-3.plant.example' }))).toBe(202);
  heldId = (await admin.get('/api/requests?profile=four')).json.items.at(-1).id;
  const issuingCa = toPem('CERTIFICATE', pemBlocks(readFileSync(loadConfig(s.home, {}).tls.certificate, 'utf8'))[1]!);
  browser = await launchChromium([issuingCa]);
}, BOUNDS.launchMs + 60_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await s?.runtime.close();
});

describe.sequential('request detail and four-eyes approval, in Chromium', { timeout: BOUNDS.stepMs }, () => {
  let alice: Page;

  it('an admin turns on four-eyes approval in the profile form', async () => {
    const page = await officerPage(s.summary.adminAccount.email, '/profiles/four');
    const form = page.getByTestId('profile-form');
    await form.getByLabel('Approvals needed', { exact: true }).selectOption('2');
    await shots.take(page, 'profile-four-eyes');
    await page.getByTestId('profile-save').click();
    await expectStatus(page, /Profile four saved/);
    expect((await s.runtime.store.getProfile('four'))?.approvals).toBe(2);
  });

  it('lists both requests with a same-subject warning and four-eyes progress; the detail decodes the CSR and says where it came from', async () => {
    alice = await officerPage('alice@example.com', '/requests');
    const row = alice.getByTestId(`request-row-${heldId}`);
    await row.waitFor();
    expect(await textOf(row.getByTestId('request-warnings'))).toMatch(/request \d+ for the same subject \(CN=boiler-3.plant.example\) is pending/);
    expect(await textOf(row.getByTestId('approval-progress'))).toBe('0 of 2 approvals');
    await shots.take(alice, 'list-with-warnings');

    await row.getByTestId('request-link').click();
    await alice.waitForURL(new RegExp(`/requests/${heldId}$`));
    await alice.getByTestId('request-detail').waitFor();
    expect(await textOf(alice.getByTestId('csr-key'))).toBe('EC P-256 (256 bits)');
    expect(await textOf(alice.getByTestId('csr-challenge-password'))).toBe('absent');
    expect(await textOf(alice.getByTestId('csr-extensions'))).toContain('DNS:boiler-3.plant.example');
    expect(await textOf(alice.getByTestId('request-auth'))).toBe('HTTP Basic');
    expect(await textOf(alice.getByTestId('request-address'))).toBe('127.0.0.1');
    expect(await textOf(alice.getByTestId('request-origin'))).toContain(s.summary.estAccount.email);
    expect(await textOf(alice.getByTestId('request-warnings'))).toContain('Check before approving');
    await shots.take(alice, 'detail');
  });

  it('the first officer\'s approval is recorded and the request stays pending; she is offered no second approval', async () => {
    await alice.getByTestId('approve').click();
    const dialog = alice.getByTestId('decision-dialog');
    expect(await textOf(dialog)).toContain('Four-eyes: this approval is the first of two');
    await dialog.getByLabel('Note (optional)', { exact: true }).fill('on the boiler plan');
    await shots.take(alice, 'first-approval-dialog');
    await alice.getByTestId('decision-confirm').click();
    await expectStatus(alice, new RegExp(`First approval of request ${heldId} recorded`));
    await expect.poll(() => textOf(alice.getByTestId('approval-progress')), { timeout: BOUNDS.expectMs }).toBe('1 of 2 approvals (alice@example.com)');
    expect(await textOf(alice.getByTestId('first-approval'))).toContain('alice@example.com');
    await shots.take(alice, 'after-first-approval');
    expect(await hold(held)).toBe(202);

    // the screen offers her no second approval (the API refuses it too: test/admin/request-detail.test.ts)
    expect(await alice.getByTestId('approve').count()).toBe(0);
    expect(await textOf(alice.getByTestId('awaiting-second'))).toBe('You gave the first approval; another officer gives the second.');
    await alice.getByRole('link', { name: 'Back to requests' }).click();
    await alice.getByTestId(`request-row-${heldId}`).getByTestId('awaiting-second').waitFor();
    expect(await alice.getByTestId(`request-row-${heldId}`).getByTestId('approve').count()).toBe(0);
    await shots.take(alice, 'list-awaiting-second');
  });

  it('a second officer approves it, and the client\'s re-send is issued', async () => {
    const bob = await officerPage('bob@example.com', `/requests/${heldId}`);
    await bob.getByTestId('request-detail').waitFor();
    expect(await textOf(bob.getByTestId('approval-progress'))).toBe('1 of 2 approvals (alice@example.com)');
    await bob.getByTestId('approve').click();
    expect(await textOf(bob.getByTestId('decision-dialog'))).toContain('Approved by alice@example.com; this approval is the second');
    await shots.take(bob, 'second-approval-dialog');
    await bob.getByTestId('decision-confirm').click();
    await expectStatus(bob, new RegExp(`Request ${heldId} approved`));
    await expect.poll(() => textOf(bob.getByTestId('request-status')), { timeout: BOUNDS.expectMs }).toMatch(/^approved/);
    await shots.take(bob, 'approved');
    expect(await hold(held)).toBe(200);
    expect(pageErrors).toEqual([]);
  });
});

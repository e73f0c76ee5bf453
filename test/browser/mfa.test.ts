/**
 * Two-step sign-in in a real browser (Debian's Chromium, headless, playwright-core) against the real
 * server over real TLS: an admin sets up TOTP from its account page (QR code shown, the code computed
 * here from the secret in the otpauth URI, recovery codes shown once), signs in again in two steps
 * (a wrong code refused, then the right one), requires a second factor for officers, and an officer
 * enrols at its next sign-in; the admin resets it. The server's clock is injected so a new code
 * (a later time step) does not take 30 real seconds.
 * Screens are saved under test-output/screenshots/mfa-NN-*.png.
 */
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { pemBlocks, toPem } from '../../src/pki/base64.js';
import { base32Decode, totp } from '../../src/ra/totp.js';
import { hashPassword } from '../../src/ra/password.js';
import { AdminClient } from '../admin/admin-client.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { BOUNDS, collectPageErrors, expectStatus, launchChromium, newContext, Screenshots, textOf } from './browser-helpers.js';

let s: TestServer;
let browser: Browser;
let page: Page;
let clock = Date.UTC(2026, 11, 6, 9, 0, 0);
const shots = new Screenshots('mfa');
const pageErrors: string[] = [];
const code = (secret: string) => totp(base32Decode(secret), clock);
let adminSecret = '';
let officerPassword = '';

beforeAll(async () => {
  s = await startServer(undefined, {}, { admin: { now: () => new Date(clock) } });
  const issuingCa = toPem('CERTIFICATE', pemBlocks(readFileSync(loadConfig(s.home, {}).tls.certificate, 'utf8'))[1]!);
  browser = await launchChromium([issuingCa]);
  const context = await newContext(browser, { viewport: { width: 1180, height: 860 } });
  page = await context.newPage();
  collectPageErrors(page, pageErrors);
}, BOUNDS.launchMs + BOUNDS.navigationMs);

afterAll(async () => {
  await browser?.close();
  await s?.runtime.close();
});

async function passwordStep(p: Page, email: string, password: string): Promise<void> {
  await p.goto(`${s.adminBase}/`);
  const form = p.getByTestId('sign-in-form');
  await form.getByLabel('Email address', { exact: true }).fill(email);
  await form.getByLabel('Password', { exact: true }).fill(password);
  await p.getByTestId('sign-in-submit').click();
}

async function signedInAs(p: Page, email: string): Promise<void> {
  await expect.poll(() => textOf(p.getByTestId('current-user')), { timeout: BOUNDS.expectMs }).toContain(email);
}

/** The secret of the otpauth:// URI the page offers (what an authenticator app reads from the QR code). */
async function secretOnPage(p: Page): Promise<string> {
  const uri = new URL((await p.getByTestId('mfa-uri').getAttribute('href'))!);
  expect(uri.protocol).toBe('otpauth:');
  const secret = uri.searchParams.get('secret')!;
  expect(await textOf(p.getByTestId('mfa-secret'))).toBe(secret.replace(/(.{4})(?=.)/g, '$1 '));
  // the QR code is an image the page really shows (CSP allows data: images)
  await expect.poll(() => p.getByTestId('mfa-qr').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: BOUNDS.expectMs }).toBe(true);
  return secret;
}

describe.sequential('two-step sign-in in Chromium', { timeout: BOUNDS.stepMs }, () => {
  it('an admin sets it up from its account page: QR code, a first code, ten recovery codes shown once', async () => {
    const admin = s.summary.adminAccount;
    await passwordStep(page, admin.email, admin.password);
    await signedInAs(page, admin.email);
    await page.getByTestId('own-account').click();
    expect(await textOf(page.getByTestId('own-mfa-state'))).toMatch(/^Off: your password alone signs you in\.$/);
    await page.getByTestId('mfa-set-up').click();
    const dialog = page.getByTestId('mfa-dialog');
    await dialog.getByTestId('mfa-qr').waitFor();
    adminSecret = await secretOnPage(page);
    await shots.take(page, 'enrol-qr-code');

    await dialog.getByLabel('Code', { exact: true }).fill('000000' === code(adminSecret) ? '111111' : '000000');
    await dialog.getByTestId('mfa-confirm').click();
    await expect.poll(() => textOf(dialog.getByTestId('field-code').getByTestId('field-error')), { timeout: BOUNDS.expectMs }).toMatch(/not the current code/);
    await dialog.getByLabel('Code', { exact: true }).fill(code(adminSecret));
    await dialog.getByTestId('mfa-confirm').click();
    const list = dialog.getByTestId('mfa-recovery-list');
    await list.waitFor();
    const recovery = await list.locator('li').allTextContents();
    expect(recovery).toHaveLength(10);
    for (const r of recovery) expect(r).toMatch(/^[a-z2-7]{5}-[a-z2-7]{5}$/);
    await shots.take(page, 'recovery-codes');
    await dialog.getByTestId('mfa-done').click();
    await expectStatus(page, /Two-step sign-in is on/);
    await page.reload(); // /account is a page of its own (a link or a reload lands on it)
    await expect.poll(() => textOf(page.getByTestId('own-mfa-state')), { timeout: BOUNDS.expectMs }).toMatch(/^On since .*10 of 10 recovery codes left\.$/);
    expect(await page.content()).not.toContain(adminSecret);
  });

  it('signs in with the password, then the code: a wrong code is refused, the current one signs in', async () => {
    await page.getByTestId('sign-out').click();
    clock += 30_000; // the next code
    await passwordStep(page, s.summary.adminAccount.email, s.summary.adminAccount.password);
    const form = page.getByTestId('sign-in-code-form');
    await form.waitFor();
    await shots.take(page, 'sign-in-code-step');
    const wrong = String((Number(code(adminSecret)) + 1) % 1_000_000).padStart(6, '0');
    await form.getByLabel('Code', { exact: true }).fill(wrong);
    await page.getByTestId('sign-in-code-submit').click();
    await expect.poll(() => textOf(page.getByTestId('sign-in-error')), { timeout: BOUNDS.expectMs }).toBe('The code is wrong.');
    await form.getByLabel('Code', { exact: true }).fill(code(adminSecret));
    await page.getByTestId('sign-in-code-submit').click();
    await signedInAs(page, s.summary.adminAccount.email);
    await shots.take(page, 'signed-in-after-code');

    // new recovery codes from the account page, with the next code
    clock += 30_000;
    await page.getByTestId('own-account').click();
    await page.getByTestId('mfa-new-codes').click();
    const dialog = page.getByTestId('mfa-change-dialog');
    await dialog.getByLabel('Code', { exact: true }).fill(code(adminSecret));
    await page.getByTestId('mfa-change-confirm').click();
    await dialog.getByTestId('mfa-recovery-list').waitFor();
    expect(await dialog.getByTestId('mfa-recovery-list').locator('li').count()).toBe(10);
    await shots.take(page, 'new-recovery-codes');
    await page.getByTestId('dialog-done').click();
    await page.getByTestId('nav-dashboard').click();
  });

  it('the admin requires it for officers; an officer sets it up at its next sign-in before anything else', async () => {
    // the API too: the password alone no longer signs the admin in
    const api = await new AdminClient(s).post('/api/session', { email: s.summary.adminAccount.email, password: s.summary.adminAccount.password });
    expect(api.status).toBe(202);
    await page.getByTestId('nav-accounts').click();
    await page.getByLabel('Show', { exact: true }).selectOption('operators');
    const policy = page.getByTestId('mfa-policy');
    await policy.getByLabel('Officers', { exact: true }).check();
    await page.getByTestId('mfa-policy-save').click();
    await expectStatus(page, /Two-step sign-in required for: officer/);
    expect(await textOf(page.getByTestId(`account-row-${s.summary.adminAccount.email}`).getByTestId('account-mfa'))).toBe('On');
    await shots.take(page, 'policy-officers');

    // an officer account (made in the store: the UI's account dialog is not what this test is about)
    officerPassword = 'officer-password-1';
    await s.runtime.store.createAccount({ email: 'olga@example.com', passwordHash: await hashPassword(officerPassword), role: 'officer' });
    const officer = await (await newContext(browser, { viewport: { width: 1180, height: 860 } })).newPage();
    collectPageErrors(officer, pageErrors);
    await passwordStep(officer, 'olga@example.com', officerPassword);
    const enrol = officer.getByTestId('sign-in-enrol');
    await enrol.getByTestId('mfa-qr').waitFor();
    expect(await textOf(enrol)).toContain('Your role requires two-step sign-in');
    const secret = await secretOnPage(officer);
    await shots.take(officer, 'officer-enrols-at-sign-in');
    await enrol.getByLabel('Code', { exact: true }).fill(code(secret));
    await enrol.getByTestId('mfa-confirm').click();
    await enrol.getByTestId('mfa-recovery-list').waitFor();
    expect(await enrol.getByTestId('mfa-recovery-list').locator('li').count()).toBe(10);
    await enrol.getByTestId('mfa-done').click();
    await signedInAs(officer, 'olga@example.com');
    await shots.take(officer, 'officer-signed-in');
    await officer.context().close();
  });

  it('the admin resets the officer\'s second factor from the accounts screen', async () => {
    await page.reload();
    await page.getByLabel('Show', { exact: true }).selectOption('operators');
    const row = page.getByTestId('account-row-olga@example.com');
    expect(await textOf(row.getByTestId('account-mfa'))).toBe('On');
    await row.getByTestId('account-mfa-reset').click();
    await page.getByTestId('mfa-reset-dialog').waitFor();
    await shots.take(page, 'reset-confirm');
    await page.getByTestId('mfa-reset-confirm').click();
    await expectStatus(page, /Second factor of olga@example.com reset/);
    await expect.poll(() => textOf(page.getByTestId('account-row-olga@example.com').getByTestId('account-mfa')), { timeout: BOUNDS.expectMs }).toBe('off');
    expect(pageErrors).toEqual([]);
  });
});

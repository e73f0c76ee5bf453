/**
 * Self-service in a real browser (Debian's Chromium, headless) against the real server over real
 * TLS: an admin creates an EST account with self-service from the account dialog; its holder signs
 * in, sees only its own certificates (enrolled over EST with its password), downloads one,
 * revokes one for key compromise and changes its password, which EST then takes.
 * Screens are saved under test-output/screenshots/self-service-NN-*.png.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { pemBlocks, toPem } from '../../src/pki/base64.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { enroll } from '../admin/admin-client.js';
import { BOUNDS, collectPageErrors, expectStatus, launchChromium, newContext, Screenshots, signIn, textOf } from './browser-helpers.js';

let s: TestServer;
let browser: Browser;
let page: Page;
const shots = new Screenshots('self-service');
const pageErrors: string[] = [];
const holder = { email: 'field-tech@example.com', password: 'Field-tech-pass-4410' };
const serials: string[] = [];

beforeAll(async () => {
  s = await startServer();
  const issuingCa = toPem('CERTIFICATE', pemBlocks(readFileSync(loadConfig(s.home, {}).tls.certificate, 'utf8'))[1]!);
  browser = await launchChromium([issuingCa]);
  const context = await newContext(browser, { viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  collectPageErrors(page, pageErrors);
}, BOUNDS.launchMs + BOUNDS.navigationMs);

afterAll(async () => {
  await browser?.close();
  await s?.runtime.close();
});

describe.sequential('self-service in Chromium', { timeout: BOUNDS.stepMs }, () => {
  it('an admin creates an EST account with self-service in the account dialog', async () => {
    await signIn(page, `${s.adminBase}/`, s.summary.adminAccount.email, s.summary.adminAccount.password);
    await page.getByTestId('nav-accounts').click();
    await page.getByTestId('new-account').click();
    const form = page.getByTestId('account-form');
    await form.getByLabel('Email address', { exact: true }).fill(holder.email);
    await form.getByTestId('field-selfService').locator('input').check();
    await form.getByTestId('password-set').check();
    await form.getByLabel('New password', { exact: true }).fill(holder.password);
    await shots.take(page, 'create-account-with-self-service');
    await page.getByTestId('account-create').click();
    await expectStatus(page, new RegExp(`Account ${holder.email} created`));
    await page.getByTestId('dialog-done').click();
    await expect.poll(() => textOf(page.getByTestId(`account-row-${holder.email}`)), { timeout: BOUNDS.expectMs }).toContain('Self-service');
    expect((await s.runtime.store.getAccount(holder.email))?.selfService).toBe(true);
    await shots.take(page, 'accounts-with-self-service');
    await page.getByTestId('sign-out').click();
  });

  it('its holder signs in and sees only its own certificates; downloads one', async () => {
    for (const cn of ['pump-7', 'valve-3']) {
      const r = await enroll(s, { cn, basic: { user: holder.email, password: holder.password } });
      expect(r.status, r.text).toBe(200);
      serials.push(r.serial!);
    }
    await enroll(s, { cn: 'not-theirs' });
    await signIn(page, `${s.adminBase}/`, holder.email, holder.password);
    expect(await textOf(page.getByTestId('current-user'))).toContain('self-service');
    const table = page.getByTestId('my-certificates-table');
    await expect.poll(() => textOf(table), { timeout: BOUNDS.expectMs }).toContain('CN=valve-3');
    const text = await textOf(table);
    expect(text).toContain('CN=pump-7');
    expect(text).not.toContain('not-theirs');
    expect(await page.getByTestId('nav-accounts').count()).toBe(0);
    expect(await page.getByTestId('nav-certificates').count()).toBe(0);
    await shots.take(page, 'my-certificates');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(`download-${serials[0]}`).click()]);
    const file = await download.path();
    expect(new X509Certificate(readFileSync(file!)).subject).toBe('CN=pump-7');
  });

  it('revokes one for key compromise after confirming', async () => {
    await page.getByTestId(`revoke-${serials[1]}`).click();
    await page.getByTestId('revoke-own-dialog').waitFor();
    await shots.take(page, 'revoke-confirmation');
    await page.getByTestId('revoke-own-confirm').click();
    await expectStatus(page, /revoked \(key compromise\)/);
    await expect.poll(() => textOf(page.getByTestId(`my-certificate-row-${serials[1]}`)), { timeout: BOUNDS.expectMs }).toContain('revoked');
    expect((await s.runtime.store.getCertificate(serials[1]!))?.revocationReason).toBe('keyCompromise');
    await shots.take(page, 'after-revocation');
  });

  it('changes its password; EST takes the new one and refuses the old one', async () => {
    await page.getByTestId('nav-password').click();
    const form = page.getByTestId('password-form');
    await form.getByLabel('Current password', { exact: true }).fill(holder.password);
    await form.getByLabel('New password', { exact: true }).fill('Changed-pass-7702');
    await form.getByLabel('New password again', { exact: true }).fill('Changed-pass-7702');
    await shots.take(page, 'change-password');
    await page.getByTestId('password-change').click();
    await expectStatus(page, /Password changed/);
    expect((await enroll(s, { cn: 'old', basic: { user: holder.email, password: holder.password } })).status).toBe(401);
    expect((await enroll(s, { cn: 'new', basic: { user: holder.email, password: 'Changed-pass-7702' } })).status).toBe(200);
    expect(pageErrors).toEqual([]);
  });
});

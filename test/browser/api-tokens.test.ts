/**
 * API tokens in the Web RA, in a real browser (Debian's Chromium, headless, playwright-core)
 * against the real server over real TLS: an admin creates a token, sees its secret once with a
 * copy button (the clipboard then holds it, and it works as a bearer token), the list shows it
 * without the secret, and revoking it makes the API refuse it.
 * Screens are saved under test-output/screenshots/api-tokens-NN-*.png.
 */
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { pemBlocks, toPem } from '../../src/pki/base64.js';
import { AdminClient } from '../admin/admin-client.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { BOUNDS, collectPageErrors, expectStatus, launchChromium, newContext, Screenshots, signIn, textOf } from './browser-helpers.js';

let s: TestServer;
let browser: Browser;
let page: Page;
const shots = new Screenshots('api-tokens');
const pageErrors: string[] = [];

beforeAll(async () => {
  s = await startServer();
  const issuingCa = toPem('CERTIFICATE', pemBlocks(readFileSync(loadConfig(s.home, {}).tls.certificate, 'utf8'))[1]!);
  browser = await launchChromium([issuingCa]);
  const context = await newContext(browser, { viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.adminBase });
  page = await context.newPage();
  collectPageErrors(page, pageErrors);
}, BOUNDS.launchMs + BOUNDS.navigationMs);

afterAll(async () => {
  await browser?.close();
  await s?.runtime.close();
});

const withToken = (secret: string) => new AdminClient(s).get('/api/dashboard', { headers: { authorization: `Bearer ${secret}` } });

describe.sequential('API tokens in the Web RA, in Chromium', { timeout: BOUNDS.stepMs }, () => {
  let secret = '';

  it('an admin creates a token; its secret is shown once with a copy button, and works on the API', async () => {
    await signIn(page, `${s.adminBase}/`, s.summary.adminAccount.email, s.summary.adminAccount.password);
    await page.getByTestId('nav-tokens').click();
    await expect.poll(() => textOf(page.locator('main')), { timeout: BOUNDS.expectMs }).toContain('No API tokens yet.');
    await shots.take(page, 'empty-list');

    await page.getByTestId('new-token').click();
    const form = page.getByTestId('token-form');
    // a name the API refuses: the reason is shown beside the field
    await form.getByLabel('Name', { exact: true }).fill('deploy bot');
    await page.getByTestId('token-create').click();
    await expect.poll(() => textOf(form.getByTestId('field-name').getByTestId('field-error')), { timeout: BOUNDS.expectMs }).not.toBe('');
    await form.getByLabel('Name', { exact: true }).fill('deploy-bot');
    await form.getByLabel('Role', { exact: true }).selectOption('officer');
    await form.getByLabel('Expires in', { exact: true }).fill('30');
    await shots.take(page, 'new-token-form');
    await page.getByTestId('token-create').click();

    const box = page.getByTestId('token-secret-box');
    await box.waitFor();
    secret = await page.getByTestId('token-secret').inputValue();
    expect(secret).toMatch(/^est_[A-Za-z0-9_-]{43}$/);
    expect(await textOf(box)).toMatch(/deploy-bot \(officer, expires .+\)\. It is shown only now/);
    await page.getByTestId('copy-token').click();
    await expectStatus(page, /token copied to the clipboard/);
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await shots.take(page, 'secret-shown-once');
    expect((await withToken(secret)).status).toBe(200);
  });

  it('the list shows the token without its secret, with its last use', async () => {
    await page.getByTestId('dialog-done').click();
    const row = page.getByTestId('token-row-deploy-bot-active');
    await row.waitFor();
    // the list is reloaded after the API use above on the next visit
    await page.getByTestId('nav-dashboard').click();
    await page.getByTestId('nav-tokens').click();
    await row.waitFor();
    const text = await textOf(row);
    expect(text).toContain('officer');
    expect(text).toContain('Active');
    expect(text).toContain(`${secret.slice(0, 8)}…`);
    expect(text).toContain(s.summary.adminAccount.email);
    expect(text).not.toContain('never'); // used once through the API
    expect(await page.content()).not.toContain(secret.slice(8));
    await shots.take(page, 'token-listed');
  });

  it('revoking asks first, then the API refuses the token', async () => {
    await page.getByRole('button', { name: 'Revoke the API token deploy-bot' }).click();
    const dialog = page.getByTestId('token-revoke-dialog');
    await dialog.waitFor();
    expect(await textOf(dialog)).toMatch(/refused from their next call/);
    await shots.take(page, 'revoke-confirm');
    await page.getByTestId('token-revoke-confirm').click();
    await expectStatus(page, /API token deploy-bot revoked/);
    const row = page.getByTestId('token-row-deploy-bot-revoked');
    await row.waitFor();
    expect(await textOf(row)).toContain(`Revoked by ${s.summary.adminAccount.email}`);
    expect(await row.getByRole('button').count()).toBe(0);
    await shots.take(page, 'token-revoked');
    const refused = await withToken(secret);
    expect(refused.status).toBe(401);
    expect(refused.json.detail).toMatch(/the API token deploy-bot was revoked/);
    expect(pageErrors).toEqual([]);
  });
});

/**
 * Profiles and accounts on day two, in the Web RA in a real browser (Debian's Chromium, headless,
 * playwright-core) against the real server over real TLS: the default profile marked, a profile
 * with an 8-hour validity, cloned, the clone deleted and the original retired once it issued (each
 * after a confirmation saying what happens to the certificates), and an EST account created with
 * its profile and name restrictions, then deleted. Screens: test-output/screenshots/profiles-NN-*.png.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pemBlocks, toPem } from '../../src/pki/base64.js';
import { loadConfig } from '../../src/cli/config.js';
import { readFileSync } from 'node:fs';
import { enroll } from '../admin/admin-client.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { BOUNDS, collectPageErrors, expectStatus, launchChromium, newContext, Screenshots, signIn, textOf } from './browser-helpers.js';

let s: TestServer;
let browser: Browser;
let page: Page;
const shots = new Screenshots('profiles');
const pageErrors: string[] = [];

beforeAll(async () => {
  s = await startServer();
  const issuingCa = toPem('CERTIFICATE', pemBlocks(readFileSync(loadConfig(s.home, {}).tls.certificate, 'utf8'))[1]!);
  browser = await launchChromium([issuingCa]);
  page = await (await newContext(browser, { viewport: { width: 1280, height: 900 } })).newPage();
  collectPageErrors(page, pageErrors);
}, BOUNDS.launchMs + BOUNDS.navigationMs);

afterAll(async () => {
  await browser?.close();
  await s?.runtime.close();
});

describe.sequential('profiles and accounts in the Web RA, in Chromium', { timeout: BOUNDS.stepMs }, () => {
  it('marks the default profile; a new profile takes its validity in hours (a wrong one is refused beside the field)', async () => {
    await signIn(page, `${s.adminBase}/`, s.summary.adminAccount.email, s.summary.adminAccount.password);
    await page.getByTestId('nav-profiles').click();
    const defaultRow = page.getByTestId('profile-row-default');
    await expect.poll(() => textOf(defaultRow), { timeout: BOUNDS.expectMs }).toContain('Default');
    expect(await defaultRow.locator('[title^="Also served on the unlabeled EST path"]').count()).toBe(1);
    expect(await defaultRow.getByRole('button', { name: 'Delete or retire default' }).isDisabled()).toBe(true);

    await page.getByTestId('new-profile').click();
    const form = page.getByTestId('profile-form');
    await form.getByLabel('Label', { exact: true }).fill('shifts');
    const validity = form.getByLabel('Validity', { exact: true });
    expect(await validity.inputValue()).toBe('365d');
    await validity.fill('soon');
    await page.getByTestId('profile-save').click();
    await expect.poll(() => textOf(form.getByTestId('field-validity')), { timeout: BOUNDS.expectMs }).toMatch(/expected a duration such as 30d, 8h, 90m/);
    expect(await validity.getAttribute('aria-invalid')).toBe('true');
    await validity.fill('8h');
    await shots.take(page, 'validity-in-hours');
    await page.getByTestId('profile-save').click();
    await expectStatus(page, /Profile shifts created/);
    expect((await s.runtime.store.getProfile('shifts'))?.validitySeconds).toBe(8 * 3600);
    await page.getByTestId('nav-profiles').click();
    await expect.poll(() => textOf(page.getByTestId('profile-row-shifts').getByTestId('profile-validity')), { timeout: BOUNDS.expectMs }).toBe('8h');
    await shots.take(page, 'profile-list-default-marked');
  });

  it('clones a profile under a new label, disabled for review', async () => {
    await page.getByTestId('profile-row-shifts').getByRole('button', { name: 'Clone shifts' }).click();
    const dialog = page.getByTestId('clone-dialog');
    expect(await textOf(dialog)).toContain('validity (8h)');
    await dialog.getByLabel('New label', { exact: true }).fill('shifts-night');
    await shots.take(page, 'clone-dialog');
    await page.getByTestId('clone-create').click();
    await expectStatus(page, /Profile shifts-night created from shifts/);
    await page.waitForURL(`${s.adminBase}/profiles/shifts-night`);
    expect(await page.getByTestId('profile-form').getByLabel('Validity', { exact: true }).inputValue()).toBe('8h');
    expect(await s.runtime.store.getProfile('shifts-night')).toMatchObject({ enabled: false, validitySeconds: 8 * 3600 });
  });

  it('deletes the unused clone after a confirmation, and retires the profile that issued, saying its certificates stay valid', async () => {
    await page.getByTestId('nav-profiles').click();
    await page.getByTestId('profile-row-shifts-night').getByRole('button', { name: 'Delete or retire shifts-night' }).click();
    let dialog = page.getByTestId('remove-dialog');
    await expect.poll(() => textOf(dialog.getByTestId('remove-consequence')), { timeout: BOUNDS.expectMs }).toMatch(/has issued no certificates: it is deleted/);
    await shots.take(page, 'delete-confirmation');
    await page.getByTestId('remove-confirm').click();
    await expect.poll(() => textOf(dialog.getByTestId('remove-done')), { timeout: BOUNDS.expectMs }).toMatch(/it is deleted/);
    await page.getByTestId('dialog-done').click();
    await expect.poll(() => page.getByTestId('profile-row-shifts-night').count(), { timeout: BOUNDS.expectMs }).toBe(0);

    const issued = await enroll(s, { label: 'shifts', cn: 'night-shift-device' });
    expect(issued.status, issued.text).toBe(200);
    await page.getByTestId('profile-row-shifts').getByRole('button', { name: 'Delete or retire shifts' }).click();
    dialog = page.getByTestId('remove-dialog');
    await expect.poll(() => textOf(dialog.getByTestId('remove-consequence')), { timeout: BOUNDS.expectMs }).toMatch(/has issued 1 certificate \(1 still valid\), so it is retired, not deleted/);
    expect(await textOf(dialog)).toMatch(/its certificates stay valid, listed and revocable/);
    expect(await textOf(page.getByTestId('remove-confirm'))).toBe('Retire profile');
    await shots.take(page, 'retire-confirmation');
    await page.getByTestId('remove-confirm').click();
    await expectStatus(page, /Profile shifts retired/);
    await page.getByTestId('dialog-done').click();
    await expect.poll(() => textOf(page.getByTestId('profile-row-shifts')), { timeout: BOUNDS.expectMs }).toContain('Retired');
    await shots.take(page, 'profile-retired');
    expect((await s.runtime.store.getCertificate(issued.serial!))?.status).toBe('valid');
    expect((await enroll(s, { label: 'shifts', cn: 'too-late' })).status).toBe(404);
    await page.getByTestId('profile-row-shifts').getByRole('link', { name: 'shifts' }).click();
    await expect.poll(() => textOf(page.getByTestId('profile-retired')), { timeout: BOUNDS.expectMs }).toMatch(/no longer enrols and cannot be changed/);
  });

  it('titles the accounts screen for EST and Web RA accounts; creates an EST account with profile and name restrictions, then deletes it after a confirmation', async () => {
    await page.getByTestId('nav-accounts').click();
    await expect.poll(() => textOf(page.locator('h1')), { timeout: BOUNDS.expectMs }).toBe('EST and Web RA accounts');
    await page.getByTestId('new-account').click();
    const dialog = page.getByTestId('account-dialog');
    await dialog.getByLabel('Email address', { exact: true }).fill('sensor-fleet@example.com');
    await dialog.getByLabel('Role', { exact: true }).selectOption('est');
    await dialog.getByTestId('field-allowedProfiles').getByLabel('default', { exact: true }).check();
    // a retired profile is not offered
    expect(await dialog.getByTestId('field-allowedProfiles').getByLabel('shifts', { exact: true }).count()).toBe(0);
    await dialog.getByLabel('Names this account may request', { exact: true }).fill('sensor-*.example.com\nemail:*@example.com');
    await shots.take(page, 'account-create-with-restrictions');
    await page.getByTestId('account-create').click();
    await page.getByTestId('one-time-password').waitFor();
    await page.getByTestId('dialog-done').click();
    const row = page.getByTestId('account-row-sensor-fleet@example.com');
    await expect.poll(() => textOf(row), { timeout: BOUNDS.expectMs }).toContain('sensor-*.example.com, email:*@example.com');
    expect(await s.runtime.store.getAccount('sensor-fleet@example.com')).toMatchObject({ allowedProfiles: ['default'], allowedNames: ['sensor-*.example.com', 'email:*@example.com'] });

    await row.getByRole('button', { name: 'Delete sensor-fleet@example.com' }).click();
    const confirm = page.getByTestId('delete-account-dialog');
    await expect.poll(() => textOf(confirm.getByTestId('delete-consequence')), { timeout: BOUNDS.expectMs }).toMatch(/The certificates it obtained stay valid, listed and revocable/);
    await shots.take(page, 'account-delete-confirmation');
    await page.getByTestId('delete-account-confirm').click();
    await expectStatus(page, /Account sensor-fleet@example.com deleted/);
    await expect.poll(() => row.count(), { timeout: BOUNDS.expectMs }).toBe(0);
    expect(await s.runtime.store.getAccount('sensor-fleet@example.com')).toBeUndefined();
    const actions = (await s.runtime.store.listAudit({ actor: s.summary.adminAccount.email, limit: 50 })).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['profile.create', 'profile.clone', 'profile.delete', 'profile.retire', 'account.add', 'account.delete']));
    expect(pageErrors).toEqual([]);
  });
});

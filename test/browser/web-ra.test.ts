/**
 * The Web RA in a real browser (Debian's Chromium, headless, driven by playwright-core) against the
 * real server over real TLS, with `estuary client` as the device: one operator's day, step by step.
 * Every screen is saved under test-output/screenshots/web-ra-NN-*.png.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { pemBlocks, toPem } from '../../src/pki/base64.js';
import { loadConfig } from '../../src/cli/config.js';
import { setCaConnector } from '../../src/cli/config-edit.js';
import { makeDeviceCa } from '../helpers/device-ca.js';
import { certsFrom, csrBody, estRequest } from '../helpers/est-http.js';
import { makeCsr } from '../helpers/keys.js';
import { makeHome, startServer, tempDir, type TestServer } from '../helpers/home.js';
import {
  boundWaits, BOUNDS, newContext, collectPageErrors, estuaryClient, estuaryClientInBackground, expectStatus, isFocused, launchChromium, normalSerial, openssl,
  Screenshots, signIn, textOf, type ClientRun,
} from './browser-helpers.js';

const EST_USER = 'sensor-fleet@example.test';
const AUDITOR = 'auditor@example.test';
const AUDITOR_PASSWORD = 'read-only-auditor-7';
const PROFILES = [
  { label: 'web-basic', auth: 'basic' },
  { label: 'devices-tls', auth: 'tls-client-cert' },
  { label: 'devices-both', auth: 'basic+tls-client-cert' },
] as const;

let s: TestServer;
/** An upstream Estuary the server reaches as its CA connector `upstream` (type est). */
let up: TestServer;
let dir: string;
let browser: Browser;
let admin: BrowserContext;
let page: Page;
const shots = new Screenshots('web-ra');
const pageErrors: string[] = [];
const file = (name: string): string => join(dir, name);
const url = (path: string): string => `${s.adminBase}${path}`;
const estUrls = new Map<string, string>(); // label → the EST URL the profile page showed
/** The client's --server and --label for an EST URL as the page shows it (https://host:port/.well-known/est/<label>). */
const estTarget = (label: string): string[] => {
  const estUrl = estUrls.get(label)!;
  const cut = estUrl.lastIndexOf('/');
  return ['--server', estUrl.slice(0, cut), '--label', estUrl.slice(cut + 1)];
};
/** A dashboard count tile reads "<number><caption>". */
const countOf = async (p: Page, testId: string): Promise<number> => Number.parseInt(await textOf(p.getByTestId(testId)), 10);

// state handed from step to step
let estPassword = '';
let heldClient: { done: Promise<ClientRun>; kill: () => void } | undefined;
let firstSerial = '';
let heldSerial = '';

// one flow: once a step fails, the later ones say so instead of failing for its reason
let failedStep: string | undefined;
afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failedStep ??= ctx.task.name;
});
function needPrevious(ctx: TestContext): void {
  if (failedStep) ctx.skip(`an earlier step failed: ${failedStep}`);
}

beforeAll(async () => {
  up = await startServer();
  const home = await makeHome();
  writeFileSync(join(home.home, 'upstream-root.pem'), up.rootPem);
  writeFileSync(join(home.home, 'upstream.password'), up.summary.estAccount.password, { mode: 0o600 });
  setCaConnector(home.home, 'upstream', {
    type: 'est', url: `https://127.0.0.1:${up.port}`, trustAnchors: ['upstream-root.pem'],
    auth: { basic: { user: up.summary.estAccount.email, passwordFile: 'upstream.password' } },
  });
  s = await startServer(home);
  dir = tempDir('estuary-web-ra-');
  writeFileSync(file('root.pem'), s.rootPem);
  const deviceCa = await makeDeviceCa();
  writeFileSync(file('device-ca.pem'), deviceCa.pem);
  // the TLS listeners present server certificate + issuing CA: pin the issuing CA's key (see launchChromium)
  const issuingCa = toPem('CERTIFICATE', pemBlocks(readFileSync(loadConfig(s.home, {}).tls.certificate, 'utf8'))[1]!);
  browser = await launchChromium([issuingCa]);
  admin = await newContext(browser, { viewport: { width: 1280, height: 860 } });
  page = await admin.newPage();
  collectPageErrors(page, pageErrors);
}, BOUNDS.launchMs + BOUNDS.navigationMs);

afterAll(async () => {
  heldClient?.kill();
  await browser?.close();
  await s?.runtime.close();
  await up?.runtime.close();
});

describe.sequential('Web RA in Chromium', { timeout: BOUNDS.stepMs }, () => {
  it('1. the pinned test CA is what makes Chromium accept the Web RA: without it the page is refused', async () => {
    const untrusting = await launchChromium([]);
    try {
      const p = await untrusting.newPage();
      boundWaits(p);
      await expect(p.goto(url('/'))).rejects.toThrow(/ERR_CERT_AUTHORITY_INVALID/);
    } finally {
      await untrusting.close();
    }
  });

  it('2. signs in by keyboard alone: Tab to the fields, Enter submits; a wrong password is said so', async () => {
    await page.goto(url('/'));
    const email = page.getByLabel('Email address', { exact: true });
    const password = page.getByLabel('Password', { exact: true });
    await email.waitFor();
    await shots.take(page, 'sign-in');
    for (let i = 0; i < 6 && !(await isFocused(email)); i++) await page.keyboard.press('Tab');
    expect(await isFocused(email), 'Tab reaches the email field').toBe(true);
    await page.keyboard.type(s.summary.adminAccount.email);
    await page.keyboard.press('Tab');
    expect(await isFocused(password), 'the next Tab stop is the password').toBe(true);
    await page.keyboard.type('not-the-password');
    await page.keyboard.press('Enter');
    await expect.poll(() => textOf(page.getByTestId('sign-in-error'))).toMatch(/email address or password is wrong/);
    await shots.take(page, 'sign-in-refused');
    expect(await isFocused(password), 'the keyboard stays in the password field').toBe(true);
    expect(await password.inputValue()).toBe('');
    await page.keyboard.type(s.summary.adminAccount.password);
    await page.keyboard.press('Enter');
    await expect.poll(() => textOf(page.getByTestId('current-user')), { timeout: BOUNDS.expectMs }).toContain(s.summary.adminAccount.email);
  });

  it('3. shows the dashboard: counts, the 30-day issuance chart, expiring certificates', async (ctx) => {
    needPrevious(ctx);
    await page.getByTestId('dashboard-counts').waitFor();
    expect(await countOf(page, 'count-valid')).toBe(0);
    await page.getByTestId('issuance-chart').waitFor();
    await shots.take(page, 'dashboard');
  });

  it('4. creates a profile for each authentication mechanism and shows its EST URL', async (ctx) => {
    needPrevious(ctx);
    for (const p of PROFILES) {
      await page.getByTestId('nav-profiles').click();
      await page.getByTestId('new-profile').click();
      const form = page.getByTestId('profile-form');
      await form.getByLabel('Label', { exact: true }).fill(p.label);
      await form.getByLabel('EST authentication mechanism', { exact: true }).selectOption(p.auth);
      if (p.auth !== 'basic') {
        // a TLS mechanism without a device CA is refused next to the field, and nothing is saved
        await page.getByTestId('profile-save').click();
        await expect.poll(() => textOf(form.getByTestId('field-clientTrustAnchors'))).toMatch(/trust anchor/i);
        if (p.auth === 'tls-client-cert') await shots.take(page, 'profile-needs-trust-anchor');
        expect(await s.runtime.store.getProfile(p.label)).toBeUndefined();
        await form.getByTestId('trust-anchor-file').setInputFiles(file('device-ca.pem'));
        await expect.poll(() => textOf(form.getByTestId('trust-anchor-row'))).toContain('Enterprise Device CA');
        const binding = form.getByLabel('Names bound to the TLS client certificate', { exact: true });
        expect(await binding.inputValue()).toBe('match');
        if (p.auth === 'basic+tls-client-cert') {
          // free is an explicit choice, and the screen says what it means
          await binding.selectOption('free');
          await expect.poll(() => textOf(form.getByTestId('binding-free'))).toMatch(/any name/);
        }
      } else {
        expect(await form.getByTestId('field-namePolicy.clientBinding.mode').count()).toBe(0);
      }
      await page.getByTestId('profile-save').click();
      await expectStatus(page, new RegExp(`Profile ${p.label} created`));
      await page.waitForURL(url(`/profiles/${p.label}`));
      // RFC 7030 §3.2.2: https://<server>/.well-known/est/<label>
      await expect.poll(() => page.getByTestId('est-url-input').inputValue()).toBe(`${s.base}/${p.label}`);
      estUrls.set(p.label, await page.getByTestId('est-url-input').inputValue());
      await shots.take(page, `profile-${p.label}`);
      const saved = await s.runtime.store.getProfile(p.label);
      expect(saved?.auth).toBe(p.auth);
      expect(saved?.clientTrustAnchors.length).toBe(p.auth === 'basic' ? 0 : 1);
      expect(saved?.namePolicy.clientBinding.mode).toBe(p.auth === 'basic+tls-client-cert' ? 'free' : 'match');
      expect(saved?.namePolicy.allowWildcards).toBe(false);
    }
    await page.getByTestId('nav-profiles').click();
    for (const p of PROFILES) expect(await textOf(page.getByTestId(`profile-row-${p.label}`).getByTestId('est-url'))).toBe(`${s.base}/${p.label}`);
    await shots.take(page, 'profiles');
  });

  it('5. creates an EST account whose password is shown once, and an auditor', async (ctx) => {
    needPrevious(ctx);
    await page.getByTestId('nav-accounts').click();
    await page.getByTestId('new-account').click();
    let dialog = page.getByTestId('account-dialog');
    await dialog.getByLabel('Email address', { exact: true }).fill(EST_USER);
    await dialog.getByLabel('Role', { exact: true }).selectOption('est');
    await page.getByTestId('account-create').click();
    estPassword = await page.getByTestId('one-time-password').inputValue();
    expect(estPassword.length).toBeGreaterThanOrEqual(12);
    await shots.take(page, 'account-password-once');
    await page.getByTestId('dialog-done').click();
    await page.getByTestId(`account-row-${EST_USER}`).waitFor();

    await page.getByTestId('new-account').click();
    dialog = page.getByTestId('account-dialog');
    await dialog.getByLabel('Email address', { exact: true }).fill(AUDITOR);
    await dialog.getByLabel('Role', { exact: true }).selectOption('auditor');
    await dialog.getByTestId('password-set').check();
    await dialog.getByLabel('New password', { exact: true }).fill(AUDITOR_PASSWORD);
    await page.getByTestId('account-create').click();
    await page.getByTestId('dialog-done').click();
    await shots.take(page, 'accounts');
  });

  it('6. estuary client enrolls against the Basic profile with that account', async (ctx) => {
    needPrevious(ctx);
    writeFileSync(file('est-password'), estPassword + '\n', { mode: 0o600 });
    const r = await estuaryClient(['enroll', ...estTarget('web-basic'), '--ca', file('root.pem'), '--user', EST_USER,
      '--password-file', file('est-password'), '--cn', 'web1.example.test', '--dns', 'web1.example.test', '--out-key', file('web1.key'), '--out-cert', file('web1.pem')]);
    expect(r.code, r.stderr).toBe(0);
    const cert = new X509Certificate(readFileSync(file('web1.pem')));
    expect(cert.subject).toBe('CN=web1.example.test');
    // the TLS profiles' URLs read from the page are live EST labels too
    const cacerts = await Promise.all(['devices-tls', 'devices-both'].map((label) => estuaryClient(['cacerts', ...estTarget(label), '--ca', file('root.pem')])));
    for (const c of cacerts) expect(c.code, c.stderr).toBe(0);
    firstSerial = normalSerial(cert.serialNumber);
  });

  it('7. holds a request on a manual-approval profile and shows it in the Pending requests queue', async (ctx) => {
    needPrevious(ctx);
    await page.getByTestId('nav-profiles').click();
    await page.getByTestId('profile-row-web-basic').getByRole('link', { name: 'web-basic' }).click();
    const form = page.getByTestId('profile-form');
    await form.getByLabel('Approval', { exact: true }).selectOption('manual');
    await form.getByLabel('Retry-After', { exact: true }).fill('1');
    await page.getByTestId('profile-save').click();
    await expectStatus(page, /Profile web-basic saved/);
    expect((await s.runtime.store.getProfile('web-basic'))?.approval).toBe('manual');

    heldClient = estuaryClientInBackground(['enroll', ...estTarget('web-basic'), '--ca', file('root.pem'), '--user', EST_USER,
      '--password-file', file('est-password'), '--cn', 'held-device.example.test', '--dns', 'held-device.example.test', '--max-wait', '900',
      '--out-key', file('held.key'), '--out-cert', file('held.pem')]);
    await page.getByTestId('nav-requests').click();
    const row = page.locator('[data-testid^="request-row-"]', { hasText: 'held-device.example.test' });
    await expect.poll(async () => {
      await page.getByTestId('requests-refresh').click();
      return row.count();
    }, { timeout: BOUNDS.expectMs, interval: 500 }).toBe(1);
    const text = await textOf(row);
    expect(text).toContain(EST_USER);
    expect(text).toContain('web-basic');
    await shots.take(page, 'pending-requests');
  });

  it('8. an auditor sees the queue and the certificates but no approve, reject or revoke controls', async (ctx) => {
    needPrevious(ctx);
    const auditor = await newContext(browser, { viewport: { width: 1280, height: 860 } });
    try {
      const p = await auditor.newPage();
      collectPageErrors(p, pageErrors);
      await signIn(p, url('/requests'), AUDITOR, AUDITOR_PASSWORD);
      const row = p.locator('[data-testid^="request-row-"]', { hasText: 'held-device.example.test' });
      await row.waitFor();
      expect(await p.getByTestId('approve').count()).toBe(0);
      expect(await p.getByTestId('reject').count()).toBe(0);
      expect(await p.getByRole('button', { name: /approve|reject/i }).count()).toBe(0);
      await shots.take(p, 'auditor-requests');
      await p.getByTestId('nav-certificates').click();
      await p.getByTestId(`certificate-row-${firstSerial}`).getByRole('link').click();
      await p.getByTestId('certificate-detail').waitFor();
      expect(await p.getByTestId('revoke').count()).toBe(0);
      expect(await p.getByRole('button', { name: /revoke/i }).count()).toBe(0);
      await shots.take(p, 'auditor-certificate');
      await p.getByTestId('nav-profiles').click();
      await p.getByTestId('profiles-table').waitFor();
      expect(await p.getByTestId('new-profile').count()).toBe(0);
      // the CA connectors screen is for admins and officers
      expect(await p.getByTestId('nav-cas').count()).toBe(0);
    } finally {
      await auditor.close();
    }
  });

  it("9. approves the request in the browser; the client's re-sent request gets the certificate", async (ctx) => {
    needPrevious(ctx);
    const row = page.locator('[data-testid^="request-row-"]', { hasText: 'held-device.example.test' });
    await row.getByTestId('approve').click();
    const dialog = page.getByTestId('decision-dialog');
    await dialog.getByLabel('Note (optional)', { exact: true }).fill('checked by the browser test');
    await shots.take(page, 'approve-dialog');
    await page.getByTestId('decision-confirm').click();
    await expectStatus(page, /approved/);
    const r = await heldClient!.done;
    expect(r.code, r.stderr).toBe(0);
    const cert = new X509Certificate(readFileSync(file('held.pem')));
    expect(cert.subject).toBe('CN=held-device.example.test');
    heldSerial = normalSerial(cert.serialNumber);
  });

  it('10. finds the certificate by search, opens it and revokes it with a reason', async (ctx) => {
    needPrevious(ctx);
    await page.getByTestId('nav-certificates').click();
    await page.getByTestId('certificate-search').getByLabel('Search', { exact: true }).fill('held-device');
    await page.getByTestId('certificate-search-submit').click();
    await page.waitForURL(/q=held-device/);
    const rows = page.locator('[data-testid^="certificate-row-"]');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.getAttribute('data-testid')).toBe(`certificate-row-${heldSerial}`);
    await shots.take(page, 'certificate-search');
    await rows.getByRole('link', { name: /held-device\.example\.test/ }).click();
    await page.getByTestId('certificate-detail').waitFor();
    expect(await textOf(page.getByTestId('certificate-status'))).toMatch(/valid/i);
    expect(await textOf(page.getByTestId('certificate-pem'))).toContain('BEGIN CERTIFICATE');
    await shots.take(page, 'certificate-detail');
    await page.getByTestId('revoke').click();
    await page.getByTestId('revoke-dialog').getByLabel('Reason', { exact: true }).selectOption('keyCompromise');
    await shots.take(page, 'revoke-dialog');
    await page.getByTestId('revoke-confirm').click();
    await expect.poll(() => textOf(page.getByTestId('certificate-status'))).toMatch(/revoked/i);
    await shots.take(page, 'certificate-revoked');
  });

  it('11. the CRL served by the CRL listener lists the revoked serial', async (ctx) => {
    needPrevious(ctx);
    const ca = (await s.runtime.store.getProfile('web-basic'))!.ca;
    const res = await fetch(`${s.runtime.crlBaseUrl()}/${ca}.crl`);
    expect(res.status).toBe(200);
    writeFileSync(file('ca.crl'), Buffer.from(await res.arrayBuffer()));
    const text = await openssl(['crl', '-inform', 'DER', '-in', file('ca.crl'), '-noout', '-text']);
    const listed = [...text.matchAll(/Serial Number:\s*([0-9A-Fa-f]+)/g)].map((m) => normalSerial(m[1]!));
    expect(listed).toContain(heldSerial);
    expect(listed).not.toContain(firstSerial);
    expect(text).toMatch(/Key Compromise/);
  });

  it('12. the Audit screen shows who did each of these actions', async (ctx) => {
    needPrevious(ctx);
    await page.getByTestId('nav-audit').click();
    const filter = page.getByTestId('audit-filter');
    await filter.getByLabel('Actor', { exact: true }).fill(s.summary.adminAccount.email);
    await page.getByTestId('audit-filter-submit').click();
    await page.waitForURL(/actor=/);
    await page.getByTestId('audit-table').waitFor();
    const actions = await page.getByTestId('audit-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
    for (const action of ['session.signin', 'profile.create', 'profile.update', 'account.add', 'request.approve', 'cert.revoke']) expect(actions).toContain(action);
    expect(actions.filter((a) => a === 'profile.create')).toHaveLength(3);
    expect(actions.filter((a) => a === 'account.add')).toHaveLength(2);
    await shots.take(page, 'audit-by-admin');

    await filter.getByLabel('Actor', { exact: true }).fill('');
    await filter.getByLabel('Action', { exact: true }).fill('cert.revoke');
    await page.getByTestId('audit-filter-submit').click();
    await page.waitForURL(/action=cert\.revoke/);
    const revoke = page.getByTestId('audit-row');
    await expect.poll(() => revoke.count()).toBe(1);
    const row = await textOf(revoke);
    expect(row).toContain(s.summary.adminAccount.email);
    expect(normalSerial(row)).toContain(heldSerial);
    await shots.take(page, 'audit-revoke');

    // the EST side: the enrolment by the new account, and the held one's approval by the admin
    await filter.getByLabel('Action', { exact: true }).fill('simpleenroll');
    await page.getByTestId('audit-filter-submit').click();
    await page.waitForURL(/action=simpleenroll/);
    await expect.poll(async () => (await page.getByTestId('audit-row').allTextContents()).filter((t) => t.includes(EST_USER)).length).toBeGreaterThanOrEqual(2);
  });

  it('13. the CA connectors screen shows the built-in and the upstream CA; the profile form says what the upstream decides', async (ctx) => {
    needPrevious(ctx);
    await page.getByTestId('nav-cas').click();
    const row = page.getByTestId('ca-row-upstream');
    await row.waitFor();
    expect(await textOf(row.getByTestId('ca-type'))).toBe('Upstream EST CA');
    expect(await textOf(row)).toContain(`https://127.0.0.1:${up.port}`);
    await expect.poll(() => textOf(row.getByTestId('ca-health'))).toMatch(/^Healthy/);
    expect(await textOf(page.getByTestId('ca-row-default').getByTestId('ca-type'))).toBe('Built-in CA');
    // the upstream's root, by its SHA-256 fingerprint as the page writes it
    const rootFingerprint = new X509Certificate(up.rootPem).fingerprint256;
    expect(await textOf(page.getByTestId('ca-chain-upstream'))).toContain(rootFingerprint);
    expect(await textOf(page.getByTestId('ca-no-crl-upstream'))).toMatch(/EST has no revocation operation/);
    await page.getByTestId('ca-test-upstream').click();
    await expectStatus(page, /CA connector upstream answered/);
    await shots.take(page, 'ca-connectors');

    await page.getByTestId('nav-profiles').click();
    await page.getByTestId('new-profile').click();
    const form = page.getByTestId('profile-form');
    const validity = form.getByLabel('Validity', { exact: true });
    expect(await validity.isDisabled()).toBe(false);
    expect(await form.getByTestId('upstream-ca-note').count()).toBe(0);
    await form.getByLabel('CA connector', { exact: true }).selectOption('upstream');
    await expect.poll(() => textOf(form.getByTestId('upstream-ca-note'))).toMatch(/decided by the upstream CA/);
    expect(await textOf(form.getByTestId('content-decided-by-ca'))).toMatch(/^Validity, key usage and extended key usage are decided by the upstream CA upstream/);
    expect(await validity.isDisabled()).toBe(true);
    await shots.take(page, 'profile-upstream-ca');
    await form.getByLabel('Label', { exact: true }).fill('via-upstream');
    await page.getByTestId('profile-save').click();
    await expectStatus(page, /Profile via-upstream created/);
    await page.waitForURL(url('/profiles/via-upstream'));
    expect(await textOf(page.getByTestId('upstream-ca-note'))).toMatch(/decided by the upstream CA/);
    expect((await s.runtime.store.getProfile('via-upstream'))?.ca).toBe('upstream');
  });

  it('14. a certificate of the upstream CA: revoking it says the upstream must revoke it, and no CRL is offered', async (ctx) => {
    needPrevious(ctx);
    const csr = await makeCsr({ name: 'CN=upstream-device.example.test' });
    const res = await estRequest(`${s.base}/via-upstream/simpleenroll`, {
      ca: s.rootPem, basic: { user: EST_USER, password: estPassword }, body: csrBody(csr.der), contentType: 'application/pkcs10',
    });
    expect(res.status, res.text).toBe(200);
    const serial = normalSerial(new X509Certificate(certsFrom(res)[0]!).serialNumber);
    await page.goto(url(`/certificates/${serial}`));
    await page.getByTestId('certificate-detail').waitFor();
    expect(await textOf(page.getByTestId('certificate-detail'))).toContain('upstream (no CRL published by this server)');
    await page.getByTestId('revoke').click();
    const dialog = page.getByTestId('revoke-dialog');
    expect(await textOf(dialog.getByTestId('revoke-upstream-note'))).toMatch(/^Revocation recorded here; the upstream CA upstream must revoke it — EST has no revocation operation/);
    await dialog.getByLabel('Reason', { exact: true }).selectOption('cessationOfOperation');
    await page.getByTestId('revoke-confirm').click();
    await expectStatus(page, /revoked \(cessationOfOperation\); recorded here; the upstream CA upstream must revoke it/);
    await expect.poll(() => textOf(page.getByTestId('certificate-status'))).toMatch(/revoked/i);
    expect(await textOf(page.getByTestId('revocation-notice'))).toMatch(/the upstream CA upstream must revoke it/);
    await shots.take(page, 'certificate-upstream-revoked');
    const crl = await fetch(`${s.runtime.crlBaseUrl()}/upstream.crl`);
    expect(crl.status).toBe(404);
    expect(await crl.text()).toMatch(/the upstream CA must revoke/);
  });

  it('15. the dashboard counts the valid and the revoked certificates; no page error on the way', async (ctx) => {
    needPrevious(ctx);
    await page.getByTestId('nav-dashboard').click();
    await expect.poll(() => countOf(page, 'count-revoked')).toBe(2);
    expect(await countOf(page, 'count-valid')).toBe(1);
    await shots.take(page, 'dashboard-after');
    expect(pageErrors).toEqual([]);
  });
});

/**
 * New built-in CAs from the Web RA in a real browser (Debian's Chromium, headless, playwright-core)
 * against the real server over real TLS: an issuing CA made under a configured root with the
 * "New CA" form, and a CA for an external CA: its CSR downloaded from the page, signed with openssl,
 * and the certificate uploaded as a file. Each new CA issues over EST at once.
 * Screens are saved under test-output/screenshots/ca-lifecycle-NN-*.png.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { setCaConnector } from '../../src/cli/config-edit.js';
import { pemBlocks, toPem } from '../../src/pki/base64.js';
import { certsFrom, csrBody, estRequest, pem } from '../helpers/est-http.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { BOUNDS, collectPageErrors, expectStatus, launchChromium, newContext, openssl, Screenshots, signIn, textOf } from './browser-helpers.js';

let s: TestServer;
let dir: string;
let browser: Browser;
let page: Page;
const shots = new Screenshots('ca-lifecycle');
const pageErrors: string[] = [];

beforeAll(async () => {
  s = await startServer();
  dir = tempDir('estuary-ca-lifecycle-');
  writeFileSync(join(dir, 'root.pem'), s.rootPem);
  // the root, as a configured CA, can sign new issuing CAs
  setCaConnector(s.home, 'root', { type: 'local', certificate: 'ca/root.pem', key: 'ca/root-key.pem' });
  expect(await s.runtime.reloadCas()).toContain('root');
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

/** A profile naming `ca` (through the API the UI uses) and one enrollment on it; the certificate as PEM. */
async function enrollUnder(ca: string, label: string): Promise<string> {
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label, ca });
  const csr = await makeCsr({ name: `CN=${label}-device` });
  const basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  const res = await estRequest(`${s.base}/${label}/simpleenroll`, { ca: s.rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });
  expect(res.status, res.text).toBe(200);
  return pem(certsFrom(res)[0]!);
}

describe.sequential('CA lifecycle in the Web RA, in Chromium', { timeout: BOUNDS.stepMs }, () => {
  it('an admin makes an issuing CA under the configured root with the New CA form; it is listed with its key and issues at once', async () => {
    await signIn(page, `${s.adminBase}/`, s.summary.adminAccount.email, s.summary.adminAccount.password);
    await page.getByTestId('nav-cas').click();
    await page.getByTestId('ca-card-default').waitFor();
    expect(await textOf(page.getByTestId('ca-key-default'))).toBe('Key: file ca/issuing-key.pem');

    await page.getByTestId('cas-new').click();
    const form = page.getByTestId('new-ca-form');
    await form.getByLabel('Id', { exact: true }).fill('devices');
    // a subject that is not a name: the reason is shown beside the field, nothing is made
    await form.getByLabel('Subject', { exact: true }).fill('not a name');
    await page.getByTestId('new-ca-create').click();
    await expect.poll(() => textOf(form.getByTestId('field-subject').getByTestId('field-error')), { timeout: BOUNDS.expectMs }).not.toBe('');
    expect(await form.getByLabel('Subject', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await form.getByLabel('Subject', { exact: true }).fill('CN=Browser Devices CA, O=Example');
    await form.getByLabel('Key algorithm', { exact: true }).selectOption('ec-p384');
    await form.getByTestId('ca-issuer-parent').check();
    await form.getByLabel('Signing CA', { exact: true }).selectOption('root');
    await form.getByLabel('Validity', { exact: true }).fill('3');
    await shots.take(page, 'new-ca-form');
    await page.getByTestId('new-ca-create').click();
    await expectStatus(page, /CA devices created and in service/);
    const card = page.getByTestId('ca-card-devices');
    await card.waitFor();
    expect(await textOf(page.getByTestId('ca-key-devices'))).toBe('Key: file ca/devices-key.pem');
    expect(await textOf(page.getByTestId('ca-chain-devices'))).toContain('CN=Browser Devices CA, O=Example');
    await shots.take(page, 'issuing-ca-created');

    const cert = await enrollUnder('devices', 'browser-devices');
    writeFileSync(join(dir, 'devices-ca.pem'), readFileSync(join(s.home, 'ca', 'devices.pem')));
    writeFileSync(join(dir, 'device.pem'), cert);
    expect(await openssl(['verify', '-CAfile', 'root.pem', '-untrusted', 'devices-ca.pem', 'device.pem'], dir)).toMatch(/device\.pem: OK/);
    expect(await openssl(['x509', '-in', 'devices-ca.pem', '-noout', '-text'], dir)).toMatch(/NIST CURVE: P-384|secp384r1/);
  });

  it('a CA for an external CA: the CSR is downloaded, signed with openssl, and the certificate uploaded; it issues at once', async () => {
    await page.getByTestId('cas-new').click();
    const form = page.getByTestId('new-ca-form');
    await form.getByLabel('Id', { exact: true }).fill('partner');
    await form.getByLabel('Subject', { exact: true }).fill('CN=Partner Signed CA');
    await form.getByTestId('ca-issuer-csr').check();
    await page.getByTestId('new-ca-create').click();
    await expectStatus(page, /CA partner made; its CSR waits for an external CA/);
    const dialog = page.getByTestId('new-ca-dialog');
    expect(await textOf(dialog.getByTestId('ca-csr-partner'))).toMatch(/BEGIN CERTIFICATE REQUEST/);
    await page.getByTestId('dialog-done').click();

    const waiting = page.getByTestId('ca-pending-partner');
    await waiting.waitFor();
    expect(await textOf(waiting)).toContain('Key: file ca/partner-key.pem');
    await shots.take(page, 'csr-waiting');
    const [download] = await Promise.all([page.waitForEvent('download'), waiting.getByTestId('ca-csr-download-partner').click()]);
    expect(download.suggestedFilename()).toBe('partner.csr.pem');
    await download.saveAs(join(dir, 'partner.csr'));
    expect(await openssl(['req', '-in', 'partner.csr', '-noout', '-verify', '-subject'], dir)).toMatch(/CN\s*=\s*Partner Signed CA/);

    // the external CA (here: the test root with openssl) signs
    writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    await openssl(['x509', '-req', '-in', 'partner.csr', '-CA', join(s.home, 'ca', 'root.pem'), '-CAkey', join(s.home, 'ca', 'root-key.pem'), '-days', '365', '-extfile', 'ext.cnf', '-out', 'partner.pem'], dir);

    await waiting.getByTestId('ca-upload-partner').click();
    const upload = page.getByTestId('import-ca-form');
    await upload.getByTestId('import-ca-file').setInputFiles(join(dir, 'partner.pem'));
    await expect.poll(() => upload.getByLabel('Certificate (PEM)', { exact: true }).inputValue(), { timeout: BOUNDS.expectMs }).toMatch(/BEGIN CERTIFICATE/);
    await upload.getByLabel('Its issuers up to the root (PEM, optional)', { exact: true }).fill(s.rootPem);
    await shots.take(page, 'certificate-upload');
    await page.getByTestId('import-ca-save').click();
    await expectStatus(page, /CA partner imported and in service/);
    await page.getByTestId('ca-card-partner').waitFor();
    await expect.poll(() => page.getByTestId('ca-pending-partner').count(), { timeout: BOUNDS.expectMs }).toBe(0);
    expect(await textOf(page.getByTestId('ca-chain-partner'))).toContain('CN=Partner Signed CA');
    await shots.take(page, 'partner-imported');

    const cert = await enrollUnder('partner', 'browser-partner');
    writeFileSync(join(dir, 'partner-device.pem'), cert);
    expect(await openssl(['verify', '-CAfile', 'root.pem', '-untrusted', 'partner.pem', 'partner-device.pem'], dir)).toMatch(/partner-device\.pem: OK/);
    const audit = await s.runtime.store.listAudit({ limit: 50 });
    expect(audit.filter((e) => e.actor === s.summary.adminAccount.email && e.outcome === 'success').map((e) => e.action)).toEqual(expect.arrayContaining(['ca.create', 'ca.import']));
    expect(pageErrors).toEqual([]);
  });
});

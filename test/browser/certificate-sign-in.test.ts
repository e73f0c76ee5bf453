/**
 * Signing in to the Web RA with a client certificate, in a real browser (Debian's Chromium,
 * headless, playwright-core, which presents the certificate) against the real server over real
 * TLS configured with admin.clientCertificateCa. Screens: test-output/screenshots/certificate-sign-in-NN-*.png.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { pemBlocks, toPem } from '../../src/pki/base64.js';
import { makeDeviceCa } from '../helpers/device-ca.js';
import { makeHome, startServer, type TestServer } from '../helpers/home.js';
import { BOUNDS, collectPageErrors, launchChromium, newContext, Screenshots, textOf } from './browser-helpers.js';

let s: TestServer;
let browser: Browser;
let operatorCert: { cert: string; key: string };
const shots = new Screenshots('certificate-sign-in');
const pageErrors: string[] = [];

beforeAll(async () => {
  const home = await makeHome();
  const operators = await makeDeviceCa('CN=Operators CA, O=Example');
  writeFileSync(join(home.home, 'operators-ca.pem'), operators.pem);
  const yaml = join(home.home, 'estuary.yaml');
  writeFileSync(yaml, readFileSync(yaml, 'utf8').replace(/^admin:\n/m, 'admin:\n  clientCertificateCa: operators-ca.pem\n'));
  s = await startServer(home);
  operatorCert = await operators.issue('Admin', { sans: [{ type: 'email', value: s.summary.adminAccount.email }] });
  const issuingCa = toPem('CERTIFICATE', pemBlocks(readFileSync(loadConfig(s.home, {}).tls.certificate, 'utf8'))[1]!);
  browser = await launchChromium([issuingCa]);
}, BOUNDS.launchMs + BOUNDS.navigationMs);

afterAll(async () => {
  await browser?.close();
  await s?.runtime.close();
});

describe.sequential('client certificate sign-in, in Chromium', { timeout: BOUNDS.stepMs }, () => {
  it('without a certificate the button says why it cannot sign in', async () => {
    const page = await (await newContext(browser, { viewport: { width: 1280, height: 900 } })).newPage();
    collectPageErrors(page, pageErrors);
    await page.goto(`${s.adminBase}/`);
    await page.getByTestId('certificate-sign-in').click();
    await expect.poll(() => textOf(page.getByTestId('certificate-sign-in-error')), { timeout: BOUNDS.expectMs }).toMatch(/no client certificate was presented/);
    await shots.take(page, 'no-certificate');
    await page.context().close();
  });

  it('with the operator certificate one click signs in as the account it names', async () => {
    // Playwright presents the client certificate from its own TLS proxy, which re-terminates TLS
    // towards Chromium with a certificate of its own and verifies the server only against the system
    // store: this context alone has to ignore certificate errors (the API tests verify the server).
    const context = await newContext(browser, {
      viewport: { width: 1280, height: 900 },
      ignoreHTTPSErrors: true,
      clientCertificates: [{ origin: s.adminBase, cert: Buffer.from(operatorCert.cert), key: Buffer.from(operatorCert.key) }],
    });
    const page = await context.newPage();
    collectPageErrors(page, pageErrors);
    await page.goto(`${s.adminBase}/`);
    await page.getByTestId('certificate-sign-in').waitFor();
    await shots.take(page, 'sign-in-page');
    await page.getByTestId('certificate-sign-in').click();
    await expect.poll(() => textOf(page.getByTestId('current-user')), { timeout: BOUNDS.expectMs }).toContain(s.summary.adminAccount.email);
    await shots.take(page, 'signed-in');
    const [event] = await s.runtime.store.listAudit({ action: 'session.signin', actor: s.summary.adminAccount.email });
    expect(event!.detail).toMatch(/with client certificate "CN=Admin"/);
    expect(pageErrors).toEqual([]);
    await context.close();
  });
});

/**
 * Webhooks in the Web RA, in a real browser (Chromium, headless) against the real server: an
 * admin adds an endpoint (the secret shown once), sends a test event, watches a delivery fail
 * against a real local receiver (retried, then given up), and redelivers it once the receiver is
 * back: the receiver gets the same event, signed with the secret the page showed.
 * Screens are saved under test-output/screenshots/webhooks-NN-*.png.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { pemBlocks, toPem } from '../../src/pki/base64.js';
import { verifySignature } from '../../src/notify/webhook-signature.js';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { makeHome, startServer, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { BOUNDS, collectPageErrors, expectStatus, launchChromium, newContext, Screenshots, signIn, textOf } from './browser-helpers.js';

let s: TestServer;
let browser: Browser;
let page: Page;
let receiver: Server;
let hookUrl: string;
let up = true;
const got: Array<{ body: string; signature: string; eventId: string }> = [];
const shots = new Screenshots('webhooks');
const pageErrors: string[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['estuary-signature']), eventId: String(req.headers['estuary-event-id']) });
      res.writeHead(up ? 200 : 503).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/estuary-hook`;
  const home = await makeHome();
  appendFileSync(join(home.home, 'estuary.yaml'), '\nwebhooks:\n  maxAttempts: 2\n  retrySeconds: 0.2\n  pollSeconds: 0.1\n');
  s = await startServer(home);
  const issuingCa = toPem('CERTIFICATE', pemBlocks(readFileSync(loadConfig(s.home, {}).tls.certificate, 'utf8'))[1]!);
  browser = await launchChromium([issuingCa]);
  page = await (await newContext(browser, { viewport: { width: 1280, height: 900 } })).newPage();
  collectPageErrors(page, pageErrors);
}, BOUNDS.launchMs + BOUNDS.navigationMs);

afterAll(async () => {
  await browser?.close();
  await s?.runtime.close();
  await new Promise((r) => receiver?.close(r));
});

describe.sequential('webhooks in the Web RA, in Chromium', { timeout: BOUNDS.stepMs }, () => {
  let secret: string;

  it('an admin adds a webhook: a bad URL is refused beside the field, then the secret is shown once', async () => {
    await signIn(page, `${s.adminBase}/`, s.summary.adminAccount.email, s.summary.adminAccount.password);
    await page.getByTestId('nav-webhooks').click();
    await page.getByText('No webhooks yet.').waitFor();
    await page.getByTestId('new-webhook').click();
    const form = page.getByTestId('webhook-form');
    await form.getByLabel('URL', { exact: true }).fill('http://hooks.example.com/x');
    await page.getByTestId('webhook-submit').click();
    await expect.poll(() => textOf(form.getByTestId('field-url').getByTestId('field-error')), { timeout: BOUNDS.expectMs }).toMatch(/http is allowed only to 127\.0\.0\.1/);
    await form.getByLabel('URL', { exact: true }).fill(hookUrl);
    await form.getByLabel('Description', { exact: true }).fill('SIEM');
    await shots.take(page, 'add-form');
    await page.getByTestId('webhook-submit').click();
    await expectStatus(page, /Webhook .* added/);
    secret = await page.getByTestId('webhook-secret').inputValue();
    expect(secret).toMatch(/^whsec_/);
    await shots.take(page, 'secret-once');
    await page.getByTestId('dialog-done').click();
    const row = page.getByTestId('webhooks-table').locator('tbody tr');
    await expect.poll(() => row.count(), { timeout: BOUNDS.expectMs }).toBe(1);
    expect(await textOf(row)).toContain('request.pending, cert.issued, cert.revoked');
    expect(await page.content()).not.toContain(secret);
  });

  it('sends a test event, signed with that secret', async () => {
    await page.getByRole('button', { name: `Send a test event to ${hookUrl}` }).click();
    await expectStatus(page, /answered the test event with HTTP 200/);
    const test = got.find((g) => g.body.includes('"webhook.test"'))!;
    expect(verifySignature(secret, test.signature, test.body, new Date())).toBe(true);
  });

  it('shows a delivery that failed after its attempts, and redelivers it once the receiver is back', async () => {
    up = false;
    const csr = await makeCsr({ name: 'CN=browser-hooked', dns: ['browser-hooked.example'] });
    const basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
    const res = await estRequest(`${s.base}/simpleenroll`, { ca: s.rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });
    expect(res.status).toBe(200);
    const status = page.getByTestId('deliveries-table').locator('tbody tr').first().getByTestId('delivery-status');
    await expect.poll(async () => {
      await page.getByTestId('refresh-deliveries').click();
      return (await status.count()) ? textOf(status) : '';
    }, { timeout: BOUNDS.expectMs }).toMatch(/failed/);
    const row = page.getByTestId('deliveries-table').locator('tbody tr').first();
    expect(await textOf(row.getByTestId('delivery-attempts'))).toBe('2');
    expect(await textOf(row.getByTestId('delivery-answer'))).toBe('HTTP 503');
    expect(await textOf(row)).toContain('CN=browser-hooked');
    await shots.take(page, 'delivery-failed');
    const failed = got.filter((g) => g.body.includes('CN=browser-hooked'));
    expect(failed).toHaveLength(2);

    up = true;
    await row.getByRole('button', { name: /^Redeliver evt_/ }).click();
    await expectStatus(page, /queued again/);
    await expect.poll(async () => {
      await page.getByTestId('refresh-deliveries').click();
      return textOf(status);
    }, { timeout: BOUNDS.expectMs }).toMatch(/delivered/);
    expect(await textOf(row.getByTestId('delivery-answer'))).toBe('HTTP 200');
    await shots.take(page, 'redelivered');
    const last = got.at(-1)!;
    expect(last.eventId).toBe(failed[0]!.eventId);
    expect(last.body).toBe(failed[0]!.body);
    expect(verifySignature(secret, last.signature, last.body, new Date())).toBe(true);
    const audit = await s.runtime.store.listAudit({ limit: 20 });
    expect(audit.filter((e) => e.actor === s.summary.adminAccount.email).map((e) => e.action)).toEqual(expect.arrayContaining(['webhook.add', 'webhook.redeliver']));
    expect(pageErrors).toEqual([]);
  });
});

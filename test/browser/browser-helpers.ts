/**
 * What the browser tests share: Debian's Chromium driven by playwright-core, screenshots under
 * test-output/screenshots/, signing in to the Web RA, and `estuary client` as a child process.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { estuaryClient as runClient, MAIN, type CliRun } from '../helpers/cli.js';

export const CHROMIUM = '/usr/bin/chromium';
const run = promisify(execFile);

/**
 * How long each kind of wait may take. The tests share two cores with other test files, builds and
 * other work: a Chromium launch or a first navigation can take tens of seconds when both cores are
 * busy. The bounds are generous so a slow but working step passes, and finite so a broken one
 * fails with a clear message (the timeout of the wait, not of the whole test).
 */
export const BOUNDS = {
  /** chromium.launch(): process start, profile creation, DevTools connection. */
  launchMs: 120_000,
  /** page.goto() and navigations started by clicks. */
  navigationMs: 90_000,
  /** One click, fill or waitFor (Playwright's actionability waits). */
  actionMs: 45_000,
  /** One expect.poll until the page shows what is expected. */
  expectMs: 45_000,
  /** `estuary client` as a child process. */
  clientMs: 180_000,
  /** One numbered step of a flow (several of the waits above). */
  stepMs: 300_000,
} as const;

/**
 * Chromium headless with a fresh profile (playwright-core makes a new --user-data-dir per launch and
 * removes it on close). The server is trusted by pinning the test CA's key, not by ignoring every
 * certificate error: Chromium accepts a chain only when one of its certificates has one of these
 * SPKI SHA-256 hashes (a certificate from any other issuer is still refused).
 */
export async function launchChromium(trustedCaPems: string[]): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the browser tests need Debian's chromium package (.ci/run installs it)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: BOUNDS.launchMs,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(trustedCaPems.length ? [`--ignore-certificate-errors-spki-list=${trustedCaPems.map(spkiSha256).join(',')}`] : []),
    ],
  });
}

/** A fresh browser context whose pages wait as long as BOUNDS allows. */
export async function newContext(browser: Browser, options: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  boundWaits(context);
  return context;
}

/** Playwright's default 30 s per action and navigation, replaced by BOUNDS. */
export function boundWaits(target: BrowserContext | Page): void {
  target.setDefaultTimeout(BOUNDS.actionMs);
  target.setDefaultNavigationTimeout(BOUNDS.navigationMs);
}

/** base64(SHA-256(SubjectPublicKeyInfo)), the form --ignore-certificate-errors-spki-list takes. */
export function spkiSha256(pem: string): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** Numbered full-page screenshots: test-output/screenshots/<prefix>-NN-<name>.png. */
export class Screenshots {
  private n = 0;
  readonly taken: string[] = [];
  constructor(private readonly prefix: string, readonly dir = join(process.cwd(), 'test-output', 'screenshots')) {
    mkdirSync(dir, { recursive: true });
  }

  async take(page: Page, name: string): Promise<string> {
    const file = join(this.dir, `${this.prefix}-${String(++this.n).padStart(2, '0')}-${name}.png`);
    // from the top, so the sticky header and navigation are where a reader expects them
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: file, fullPage: true });
    this.taken.push(file);
    return file;
  }
}

/** Uncaught page errors (a broken screen, a CSP refusal that throws) collected for a final check. */
export function collectPageErrors(page: Page, into: string[]): void {
  page.on('pageerror', (err) => into.push(`${page.url()}: ${err.message}`));
}

export async function textOf(locator: Locator): Promise<string> {
  return ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

/** The status region says something matching `pattern` (it is replaced by later messages). */
export async function expectStatus(page: Page, pattern: RegExp): Promise<void> {
  await expect.poll(() => textOf(page.getByTestId('status')), { timeout: BOUNDS.expectMs }).toMatch(pattern);
}

/** Sign in with the mouse-free default path: fill the labelled fields and press the button. */
export async function signIn(page: Page, url: string, email: string, password: string): Promise<void> {
  await page.goto(url);
  const form = page.getByTestId('sign-in-form');
  await form.getByLabel('Email address', { exact: true }).fill(email);
  await form.getByLabel('Password', { exact: true }).fill(password);
  await page.getByTestId('sign-in-submit').click();
  await expect.poll(() => textOf(page.getByTestId('current-user')), { timeout: BOUNDS.expectMs }).toContain(email);
}

export async function isFocused(locator: Locator): Promise<boolean> {
  return locator.evaluate((el) => el === document.activeElement);
}

export type ClientRun = CliRun;

/** `estuary client ARGS` in a child process, given up to BOUNDS.clientMs (the browser flow waits on it). */
export function estuaryClient(args: string[]): Promise<ClientRun> {
  return runClient(args, { timeoutMs: BOUNDS.clientMs });
}

/** `estuary client ARGS` started in the background; `done` settles when it exits. */
export function estuaryClientInBackground(args: string[]): { done: Promise<ClientRun>; kill: () => void } {
  const child = spawn('node', [MAIN, 'client', ...args], { env: { ...process.env, ESTUARY_PASSWORD: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<ClientRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  return { done, kill: () => child.exitCode === null && child.kill() };
}

export async function openssl(args: string[], cwd?: string): Promise<string> {
  return (await run('openssl', args, { encoding: 'utf8', cwd })).stdout;
}

/** Serial numbers compared as hex without leading zeros. */
export function normalSerial(serial: string): string {
  return serial.replace(/[:\s]/g, '').toLowerCase().replace(/^0+/, '');
}

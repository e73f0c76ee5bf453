/**
 * What an operator meets first: `estuary --version`, the EST URL init prints, a listener address
 * already in use, and `npm start` not rebuilding a current dist/ (scripts/build-stamp.mjs).
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estuary } from '../helpers/cli.js';
import { tempDir } from '../helpers/home.js';

const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

/** A TCP listener on 127.0.0.1 holding a port, as another service would. */
async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

let home: string;
let held: { server: Server; port: number };

beforeAll(async () => {
  home = join(tempDir('estuary-start-'), 'home');
  held = await holdPort();
});
afterAll(() => held?.server.close());

describe('estuary --version', () => {
  it('prints the version of package.json, as --version and -V', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await estuary([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
  });
});

describe('init prints the EST URL the server will listen on', () => {
  it('ESTUARY_EST_LISTEN applies to the banner and to --json, as it will to serve', async () => {
    const r = await estuary(['init', '--home', home], { env: { ESTUARY_EST_LISTEN: '127.0.0.1:9643' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/EST base URL: +https:\/\/127\.0\.0\.1:9643\/\.well-known\/est\n/);
    const json = await estuary(['init', '--home', join(tempDir(), 'h2'), '--json'], { env: { ESTUARY_EST_LISTEN: '0.0.0.0:9644' } });
    expect(JSON.parse(json.stdout).estUrl).toBe('https://localhost:9644/.well-known/est');
    const shown = await estuary(['profile', 'show', 'default', '--home', home], { env: { ESTUARY_EST_LISTEN: '127.0.0.1:9643' } });
    expect(shown.stdout).toContain('https://127.0.0.1:9643/.well-known/est/default');
  });
});

describe('a listener address already in use', () => {
  const noStack = (stderr: string) => {
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at /);
  };
  const free = { ESTUARY_EST_LISTEN: '127.0.0.1:0', ESTUARY_CRL_LISTEN: '127.0.0.1:0', ESTUARY_ADMIN_LISTEN: '127.0.0.1:0', ESTUARY_OPS_LISTEN: 'off' };

  it('est.listen: one line naming est.listen and ESTUARY_EST_LISTEN, exit 2', async () => {
    const r = await estuary(['serve', '--home', home], { env: { ...free, ESTUARY_EST_LISTEN: `127.0.0.1:${held.port}` } });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`estuary: est.listen: 127.0.0.1:${held.port} is already in use (another Estuary, or another service on this machine?); set est.listen in estuary.yaml (or ESTUARY_EST_LISTEN) to a free address\n`);
    noStack(r.stderr);
  });

  it('admin.listen and crl.listen say so too, and that they can be off', async () => {
    for (const [variable, setting] of [['ESTUARY_ADMIN_LISTEN', 'admin.listen'], ['ESTUARY_CRL_LISTEN', 'crl.listen']] as const) {
      const r = await estuary(['serve', '--home', home], { env: { ...free, [variable]: `127.0.0.1:${held.port}` } });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`estuary: ${setting}: 127.0.0.1:${held.port} is already in use`);
      expect(r.stderr).toContain(`(or ${variable}) to a free address, or off`);
      noStack(r.stderr);
    }
  });

  it('under --workers 2: the same line, the workers stopped, exit 2', async () => {
    const r = await estuary(['serve', '--home', home, '--workers', '2'], { env: { ...free, ESTUARY_EST_LISTEN: `127.0.0.1:${held.port}` } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`estuary: est.listen: 127.0.0.1:${held.port} is already in use`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('npm start rebuilds only when dist/ is out of date (scripts/build-stamp.mjs)', () => {
  const run = async (root: string, mode: string) => {
    try {
      const { stdout } = await promisify(execFile)('node', [join(root, 'scripts', 'build-stamp.mjs'), mode], { encoding: 'utf8' });
      return { code: 0, stdout };
    } catch (err) {
      return { code: (err as { code: number }).code, stdout: (err as { stdout: string }).stdout };
    }
  };

  it('never built: build; built: current; a source changed after: build again', async () => {
    const root = tempDir('estuary-stamp-');
    mkdirSync(join(root, 'scripts'));
    cpSync('scripts/build-stamp.mjs', join(root, 'scripts', 'build-stamp.mjs'));
    mkdirSync(join(root, 'src', 'cli'), { recursive: true });
    mkdirSync(join(root, 'dist'));
    const source = join(root, 'src', 'cli', 'main.ts');
    writeFileSync(source, 'export {};\n');
    writeFileSync(join(root, 'package.json'), '{}\n');
    const past = new Date(Date.now() - 60_000);
    utimesSync(source, past, past);
    utimesSync(join(root, 'package.json'), past, past);

    expect(await run(root, '--check')).toEqual({ code: 1, stdout: 'estuary: dist/ has not been built yet: building (npm run build)\n' });
    expect((await run(root, '--write')).code).toBe(0);
    expect(await run(root, '--check')).toEqual({ code: 0, stdout: 'estuary: dist/ is current; not rebuilding\n' });
    const later = new Date(Date.now() + 60_000);
    utimesSync(source, later, later);
    expect(await run(root, '--check')).toEqual({ code: 1, stdout: 'estuary: src/cli/main.ts changed since the last build: rebuilding (npm run build)\n' });
  });
});

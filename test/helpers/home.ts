/** A fresh Estuary home in a temp directory, and the real server on 127.0.0.1:0 over it. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/cli/config.js';
import { initHome, type InitSummary } from '../../src/cli/init.js';
import { createLogger, createRuntime, type Runtime, type RuntimeOptions } from '../../src/cli/runtime.js';
import type { KeyAlgorithm } from '../../src/ca/ca-setup.js';

export interface TestHome {
  home: string;
  summary: InitSummary;
  rootPem: string;
}

export function tempDir(prefix = 'estuary-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function makeHome(algorithm: KeyAlgorithm = 'ec-p256'): Promise<TestHome> {
  const home = join(tempDir(), 'home');
  const summary = await initHome({ home, force: false, algorithm });
  return { home, summary, rootPem: readFileSync(join(home, 'ca', 'root.pem'), 'utf8') };
}

export interface TestServer extends TestHome {
  runtime: Runtime;
  port: number;
  /** https://127.0.0.1:PORT/.well-known/est */
  base: string;
  logFile: string;
  /** The Web RA's bound port, and https://127.0.0.1:PORT (no trailing slash). */
  adminPort: number;
  adminBase: string;
}

/** Start the real server (in this process) with logs written to a file the test can read. */
export async function startServer(home?: TestHome, env: Record<string, string> = {}, options: RuntimeOptions = {}): Promise<TestServer> {
  const h = home ?? (await makeHome());
  const config = loadConfig(h.home, { ESTUARY_EST_LISTEN: '127.0.0.1:0', ESTUARY_CRL_LISTEN: '127.0.0.1:0', ESTUARY_ADMIN_LISTEN: '127.0.0.1:0', ESTUARY_OPS_LISTEN: '127.0.0.1:0', ...env });
  const logFile = join(h.home, 'server.log');
  const { createWriteStream } = await import('node:fs');
  const runtime = await createRuntime(config, createLogger('info', createWriteStream(logFile)), options);
  const port = await runtime.listen();
  const adminPort = Number(/:(\d+)\/$/.exec(runtime.adminUrl() ?? '')?.[1] ?? 0);
  return { ...h, runtime, port, base: `https://127.0.0.1:${port}/.well-known/est`, logFile, adminPort, adminBase: `https://127.0.0.1:${adminPort}` };
}

/** The SQLite file of a configuration (tests that write to it directly); fails loudly for another store. */
export function sqlitePath(config: Pick<Config, 'database'>): string {
  if (config.database.type !== 'sqlite') throw new Error(`database.type is ${config.database.type}, not sqlite`);
  return config.database.path;
}

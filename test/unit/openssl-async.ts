/** Async runs of the openssl command-line tool for the client unit tests; fails loudly when it is missing. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Run `openssl args…` with optional stdin; resolves to stdout bytes, rejects with stderr. */
export async function opensslAsync(args: string[], input?: Buffer | string): Promise<Buffer> {
  return (await opensslRun(args, input)).stdout;
}

/** Run `openssl args…`; resolves to stdout and stderr (some results, e.g. `req -verify`, go to stderr). */
export function opensslRun(args: string[], input?: Buffer | string): Promise<{ stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', args, { encoding: 'buffer', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        reject(new Error(missing ? 'openssl is required for these unit tests (Debian package openssl)' : `openssl ${args.join(' ')} failed: ${stderr.toString() || err.message}`));
      } else resolve({ stdout, stderr: stderr.toString() });
    });
    child.stdin?.end(input);
  });
}

/** A fresh scratch directory and its cleanup. */
export async function scratchDir(prefix = 'estuary-client-'): Promise<{ dir: string; path: (f: string) => string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, path: (f) => join(dir, f), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Run the openssl command-line tool for unit tests; fails loudly when it is missing. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let checked = false;

/** Throws (does not skip) when openssl is not installed. */
export function requireOpenssl(): void {
  if (checked) return;
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error('openssl is required for these unit tests (Debian package openssl)');
  }
  checked = true;
}

/** Run `openssl args…` with optional stdin; returns stdout bytes. Throws with stderr on failure. */
export function openssl(args: string[], input?: Buffer | string, cwd?: string): Buffer {
  requireOpenssl();
  try {
    return execFileSync('openssl', args, { input, cwd, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

/** A scratch directory; call the returned cleanup when done. */
export function scratch(prefix = 'estuary-unit-'): { dir: string; path: (f: string) => string; write: (f: string, data: string | Buffer) => string; read: (f: string) => Buffer; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    path: (f) => join(dir, f),
    write: (f, data) => {
      writeFileSync(join(dir, f), data);
      return join(dir, f);
    },
    read: (f) => readFileSync(join(dir, f)),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * SQLite specifics of the shared state: failure counts stay exact when two processes count on the
 * same file at once, and a lease is held by one process at a time. The other process runs the
 * built store (dist/), as `estuary serve` would.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';

/** One instant for every failure: with lockMs 0 a lock ends at its own instant, so no failure falls inside one. */
const AT = new Date('2026-06-01T10:00:00.000Z');
const DIST_STORE = join(process.cwd(), 'dist', 'store', 'sqlite-store.js');

/** Another process recording `count` failures on `key`; resolves with how many locks it set off. */
function failuresFromAnotherProcess(file: string, key: string, count: number): Promise<number> {
  const script = `
    const { openSqliteStore } = await import(process.argv[1]);
    const store = openSqliteStore(process.argv[2]);
    let locks = 0;
    for (let i = 0; i < Number(process.argv[4]); i++) {
      if (await store.recordFailure(process.argv[3], { maxFailures: 5, windowMs: 600000, lockMs: 0 }, new Date(process.argv[5]))) locks++;
      await new Promise((r) => setImmediate(r));
    }
    await store.close();
    process.stdout.write('locks=' + locks + '\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, pathToFileURL(DIST_STORE).href, file, key, String(count), AT.toISOString()], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      const m = /locks=(\d+)/.exec(out);
      if (code === 0 && m) resolve(Number(m[1]));
      else reject(new Error(`the other process exited with ${code}: ${out}`));
    });
  });
}

describe('SqliteStore shared state across processes', () => {
  let dir: string;
  let file: string;
  let store: SqliteStore;

  beforeEach(() => {
    if (!existsSync(DIST_STORE)) throw new Error(`${DIST_STORE} is missing: run npm run build first`);
    dir = mkdtempSync(join(tmpdir(), 'estuary-shared-'));
    file = join(dir, 'estuary.db');
    store = openSqliteStore(file);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts failures from two processes exactly: every fifth sets off a lock', async () => {
    const other = failuresFromAnotherProcess(file, 'ip:198.51.100.7', 100);
    let here = 0;
    for (let i = 0; i < 100; i++) {
      if (await store.recordFailure('ip:198.51.100.7', { maxFailures: 5, windowMs: 600_000, lockMs: 0 }, AT)) here++;
      await new Promise((r) => setImmediate(r));
    }
    expect(here + (await other)).toBe(40);
  });
});

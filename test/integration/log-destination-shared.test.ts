/**
 * Several processes on one standard output (`serve --workers N`): with atomicGatheredStdout every
 * line arrives whole, even when the reader is slower than the writers and the pipe is full (each
 * write is whole lines of at most PIPE_BUF bytes, one write in flight at a time).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const destination = fileURLToPath(new URL('../../dist/cli/log-destination.js', import.meta.url));
const WRITERS = 4;
const LINES = 3000;

const writer = `
  const { atomicGatheredStdout } = await import(${JSON.stringify(destination)});
  const out = atomicGatheredStdout(1);
  const pad = 'x'.repeat(250);
  let i = 0;
  const burst = () => {
    for (let k = 0; k < 200 && i < ${LINES}; k++, i++) out.write(JSON.stringify({ pid: process.pid, i, pad }) + '\\n');
    if (i < ${LINES}) setImmediate(burst);
  };
  burst();
`;

/** Reads its standard input 3,000 bytes at a time with a pause after each read, and copies it out. */
const reader = `
  import { readSync, writeSync } from 'node:fs';
  const buf = Buffer.alloc(3000);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    let n;
    try { n = readSync(0, buf); } catch (e) { if (e.code === 'EAGAIN') { Atomics.wait(pause, 0, 0, 1); continue; } throw e; }
    if (n === 0) break;
    writeSync(1, buf.subarray(0, n));
    Atomics.wait(pause, 0, 0, 1);
  }
`;

describe('log destination shared by several processes', () => {
  it('keeps every line whole and in order per process through one slow pipe', async () => {
    // one pipe for all writers (made by the shell), read by a reader slower than they write: the
    // pipe stays full and the writers queue
    const dir = mkdtempSync(join(tmpdir(), 'estuary-log-'));
    writeFileSync(join(dir, 'writer.mjs'), writer);
    writeFileSync(join(dir, 'reader.mjs'), reader);
    const node = `"${process.execPath}"`;
    const cmd = `(${Array.from({ length: WRITERS }, () => `${node} "${join(dir, 'writer.mjs')}" &`).join(' ')} wait) | ${node} "${join(dir, 'reader.mjs')}"`;
    const p = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => chunks.push(c));
    const code = await new Promise<number | null>((resolve) => p.on('close', resolve));
    expect(code).toBe(0);
    const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
    const broken = lines.filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    expect(broken.slice(0, 3)).toEqual([]);
    const byPid = new Map<number, number[]>();
    for (const l of lines) {
      const { pid, i } = JSON.parse(l) as { pid: number; i: number };
      byPid.set(pid, [...(byPid.get(pid) ?? []), i]);
    }
    expect(byPid.size).toBe(WRITERS);
    for (const seen of byPid.values()) expect(seen).toEqual(Array.from({ length: LINES }, (_, i) => i));
  }, 60_000);
});

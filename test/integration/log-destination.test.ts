/**
 * The server's gathered log destination (src/cli/log-destination.ts), in real child processes
 * with pino on top: gathered lines reach standard output on their own within the gathering
 * time, and lines still gathered when the process exits (normally or by an uncaught exception)
 * are written before it goes.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const destination = fileURLToPath(new URL('../../dist/cli/log-destination.js', import.meta.url));

/** Run `body` after `log` is a pino logger on the gathered destination; collect stdout and the exit. */
function child(body: string): Promise<{ stdout: string; code: number | null; signal: NodeJS.Signals | null }> {
  const script = `
    import { pino } from 'pino';
    const { gatheredStdout } = await import(${JSON.stringify(destination)});
    const log = pino({ base: null }, gatheredStdout());
    ${body}
  `;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('error', reject);
    p.on('close', (code, signal) => (code !== null && code > 1 ? reject(new Error(stderr)) : resolve({ stdout, code, signal })));
  });
}

const messages = (stdout: string): string[] => stdout.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg);

describe('gathered log destination', () => {
  it('writes gathered lines by itself: they are out before the process is killed outright', async () => {
    const r = await child(`
      log.info('one');
      log.info('two');
      setTimeout(() => process.kill(process.pid, 'SIGKILL'), 1000);
    `);
    expect(r.signal).toBe('SIGKILL');
    expect(messages(r.stdout)).toEqual(['one', 'two']);
  });

  it('writes the lines still gathered when the process exits', async () => {
    const r = await child(`
      log.info('before exit');
      process.exit(0);
    `);
    expect(r.code).toBe(0);
    expect(messages(r.stdout)).toEqual(['before exit']);
  });

  it('writes the lines still gathered when an uncaught exception ends the process, in order', async () => {
    const r = await child(`
      for (let i = 0; i < 2000; i++) log.info('line ' + i);
      setImmediate(() => { throw new Error('boom'); });
    `);
    expect(r.code).toBe(1);
    expect(messages(r.stdout)).toEqual(Array.from({ length: 2000 }, (_, i) => `line ${i}`));
  });

  it('flush() writes the gathered lines and then calls back', async () => {
    const r = await child(`
      log.info('flushed');
      log.flush(() => process.kill(process.pid, 'SIGKILL'));
    `);
    expect(messages(r.stdout)).toEqual(['flushed']);
  });
});

/**
 * HAProxy (Debian package `haproxy`) started by a test with a generated configuration, in the
 * foreground (-db), stopped with the test. A missing binary fails loudly.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export interface Haproxy {
  stop(): Promise<void>;
  output(): string;
}

export function requireHaproxy(): void {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
  } catch {
    throw new Error('haproxy is required for the load-balancer tests (Debian package haproxy)');
  }
}

/** Writes `config` to dir/haproxy.cfg, checks it (-c), starts HAProxy and waits until every port in `listens` accepts. */
export async function startHaproxy(dir: string, config: string, listens: number[]): Promise<Haproxy> {
  requireHaproxy();
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  try {
    execFileSync('haproxy', ['-c', '-q', '-f', file], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`haproxy refused its configuration:\n${String((err as { stderr?: Buffer }).stderr ?? err)}\n${config}`);
  }
  const c = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(c);
  let out = '';
  c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => c.once('exit', () => {
    children.delete(c);
    resolve();
  }));
  for (const port of listens) {
    let up = false;
    for (let i = 0; i < 100 && !up && c.exitCode === null; i++) {
      up = await accepts(port);
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }
    if (!up) {
      c.kill('SIGKILL');
      throw new Error(`haproxy did not listen on ${port}:\n${out}`);
    }
  }
  return {
    output: () => out,
    async stop() {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      await exited;
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

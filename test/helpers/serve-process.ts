/**
 * `estuary serve` as a separate process on a fixed set of ports: started, stopped (drained or
 * killed) and started again on the same ports, its output appended to a log file. Used for an
 * upstream CA and for several instances behind a load balancer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort } from '../../src/bench/harness.js';
import { MAIN } from './cli.js';

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export interface ServeProcess {
  running(): boolean;
  pid(): number | undefined;
  /** `estuary serve` on the same home, environment and ports; resolves once it listens. */
  start(): Promise<void>;
  /** SIGTERM (the server drains), SIGKILL after 15 s, or SIGKILL at once (a crash); resolves once the process is gone. */
  stop(how?: 'term' | 'kill'): Promise<void>;
  /** Everything every run printed so far. */
  output(): string;
}

export interface ServeProcessOptions {
  home: string;
  /** ESTUARY_* settings (listen addresses, database URL). */
  env: Record<string, string>;
  logFile: string;
  /** Further arguments to `serve` (e.g. --workers 2). */
  args?: string[];
  /** Printed once the server listens (default: the EST listening line). */
  ready?: RegExp;
}

export function serveProcess(o: ServeProcessOptions): ServeProcess {
  let child: ChildProcess | undefined;
  const ready = o.ready ?? /EST service listening on/;
  return {
    running: () => child !== undefined,
    pid: () => child?.pid,
    output: () => {
      try {
        return readFileSync(o.logFile, 'utf8');
      } catch {
        return '';
      }
    },
    async start() {
      if (child) throw new Error('the server is already running');
      const c = spawn(process.execPath, [MAIN, 'serve', '--home', o.home, ...(o.args ?? [])], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } });
      children.add(c);
      c.once('exit', () => {
        children.delete(c);
        if (child === c) child = undefined;
      });
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          c.kill('SIGKILL');
          reject(new Error(`the server did not listen within 60 s:\n${out}`));
        }, 60_000);
        const seen = (chunk: Buffer): void => {
          appendFileSync(o.logFile, chunk);
          out += chunk.toString();
          if (ready.test(out)) {
            clearTimeout(timer);
            resolve();
          }
        };
        c.stdout!.on('data', seen);
        c.stderr!.on('data', seen);
        c.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`the server exited (${code ?? signal}) before listening:\n${out}`));
        });
      });
      child = c;
    },
    async stop(how = 'term') {
      const c = child;
      if (!c) return;
      const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill(how === 'kill' ? 'SIGKILL' : 'SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/**
 * A free port that the kernel never hands out as an ephemeral port (Linux: 32768-60999 by default),
 * so that while a server is stopped no client connection or `listen(0)` takes it from the restart.
 */
export async function portBelowEphemeralRange(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: the default range's start
  }
  const from = Math.max(1024, low - 12_000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = from + Math.floor(Math.random() * (low - from));
    if (await canListen(port)) return port;
  }
  return freePort();
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

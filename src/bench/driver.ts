/**
 * The load generator. It runs in driver child processes (`bench.js --as-driver`, pinned away
 * from the server's core) and is driven over IPC: `init` hands over the CSR bodies, each
 * `run` drives one scenario and answers with the latency samples of the measured window.
 * Two engines: `native` (src/bench/native-load.ts, full TLS handshakes on an epoll loop, blocks
 * the driver process for the run) and `node` (node:https, below).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { OutgoingHttpHeaders } from 'node:http';
import { Agent, request, type RequestOptions } from 'node:https';
import { performance } from 'node:perf_hooks';
import { createSecureContext, type SecureContext } from 'node:tls';
import { nativeRunLoad } from './native-load.js';

export type Engine = 'native' | 'node';

export interface RunSpec {
  engine: Engine;
  /** An IPv4 address for the native engine. */
  host: string;
  port: number;
  method: 'GET' | 'POST';
  path: string;
  /** Persistent connections (https.Agent keepAlive, maxSockets = concurrency) or one per request. */
  keepAlive: boolean;
  concurrency: number;
  /** Wall-clock milliseconds (performance.timeOrigin + performance.now()) bounding the measured window. */
  measureStart: number;
  measureEnd: number;
  /** Value of the Authorization header, when the scenario authenticates. */
  authorization?: string;
  contentType?: string;
  /** POST one of the pooled CSR bodies, round robin starting at this offset. */
  bodyOffset?: number;
  /** PEM trust anchor: verify the server certificate. Without it the client skips verification. */
  ca?: string;
}

export interface RunResult {
  /** 200 answers completed inside the window. */
  ok: number;
  /** Non-200 answers and transport errors, whole run (warm-up included). */
  errors: number;
  errorsInWindow: number;
  /** Requests completed over the whole run, warm-up included. */
  completed: number;
  firstError?: string;
  /** Latency in ms of every 200 completed inside the window. */
  latencies: Float64Array;
  /** Native engine: TLS handshakes made (new connections), and how many resumed a session (must be 0). */
  handshakes?: number;
  resumed?: number;
}

export type ToDriver = { type: 'init'; bodies: Uint8Array[] } | { type: 'run'; spec: RunSpec } | { type: 'exit' };
export type FromDriver = { type: 'ready' } | { type: 'result'; result: RunResult } | { type: 'failed'; message: string };

export const wallNow = (): number => performance.timeOrigin + performance.now();

interface Answer {
  status: number;
  error?: string;
}

function send(spec: RunSpec, agent: Agent, secureContext: SecureContext, body: Buffer | undefined): Promise<Answer> {
  return new Promise((resolve) => {
    const headers: OutgoingHttpHeaders = {};
    if (spec.authorization) headers.authorization = spec.authorization;
    if (body) {
      headers['content-type'] = spec.contentType ?? 'application/octet-stream';
      headers['content-length'] = body.length;
    }
    // `secureContext` reaches tls.connect through the agent; @types/node does not list it.
    const options: RequestOptions & { secureContext: SecureContext } = {
      host: spec.host,
      port: spec.port,
      method: spec.method,
      path: spec.path,
      headers,
      agent,
      secureContext,
      rejectUnauthorized: spec.ca !== undefined,
    };
    const req = request(options, (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (status !== 200 && bytes <= 4096) chunks.push(c);
      });
      res.on('end', () => {
        if (status === 200) resolve(bytes > 0 ? { status } : { status, error: 'HTTP 200 with an empty body' });
        else resolve({ status, error: `HTTP ${status}: ${Buffer.concat(chunks).toString('utf8').slice(0, 500).trim()}` });
      });
      res.on('error', (e) => resolve({ status: 0, error: `response error: ${e.message}` }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ status: 0, error: `transport error: ${e.code ?? ''} ${e.message}`.trim() }));
    req.end(body);
  });
}

/** Drive `spec.concurrency` closed-loop clients until the window ends; in-flight requests then finish uncounted. */
export async function runLoad(spec: RunSpec, bodies: readonly Buffer[]): Promise<RunResult> {
  // One TLS context for every connection (tls.connect would otherwise build one per connection),
  // and no TLS session cache: every new connection is a full handshake, as a fleet of devices makes.
  const secureContext = createSecureContext(spec.ca !== undefined ? { ca: spec.ca } : {});
  const agent = spec.keepAlive
    ? new Agent({ keepAlive: true, maxSockets: spec.concurrency, maxFreeSockets: spec.concurrency, keepAliveMsecs: 10_000, maxCachedSessions: 0 })
    : new Agent({ keepAlive: false, maxSockets: Infinity, maxCachedSessions: 0 }); // sends Connection: close
  const usesBodies = spec.bodyOffset !== undefined;
  if (usesBodies && bodies.length === 0) throw new Error('the scenario posts CSRs but the driver has none');
  let next = spec.bodyOffset ?? 0;
  const latencies: number[] = [];
  const result: Omit<RunResult, 'latencies'> = { ok: 0, errors: 0, errorsInWindow: 0, completed: 0 };

  const client = async (): Promise<void> => {
    while (wallNow() < spec.measureEnd) {
      const body = usesBodies ? bodies[next++ % bodies.length] : undefined;
      const t0 = performance.now();
      const answer = await send(spec, agent, secureContext, body);
      const t1 = performance.now();
      const end = performance.timeOrigin + t1;
      const inWindow = end >= spec.measureStart && end < spec.measureEnd;
      result.completed++;
      if (answer.error === undefined) {
        if (inWindow) {
          result.ok++;
          latencies.push(t1 - t0);
        }
      } else {
        result.errors++;
        if (inWindow) result.errorsInWindow++;
        result.firstError ??= answer.error;
      }
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, client));
  agent.destroy();
  return { ...result, latencies: Float64Array.from(latencies) };
}

/** Entry point of `bench.js --as-driver`. */
export function runDriver(): void {
  if (!process.send) throw new Error('--as-driver is for the bench itself (it needs an IPC channel)');
  let bodies: Buffer[] = [];
  const reply = (m: FromDriver): void => {
    process.send!(m);
  };
  process.on('message', (m: ToDriver) => {
    switch (m.type) {
      case 'init':
        bodies = m.bodies.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength));
        reply({ type: 'ready' });
        return;
      case 'run':
        if (m.spec.engine === 'native') {
          try {
            reply({ type: 'result', result: nativeRunLoad(m.spec, bodies) });
          } catch (err) {
            reply({ type: 'failed', message: (err as Error).stack ?? String(err) });
          }
          return;
        }
        runLoad(m.spec, bodies).then(
          (result) => reply({ type: 'result', result }),
          (err: unknown) => reply({ type: 'failed', message: (err as Error).stack ?? String(err) }),
        );
        return;
      case 'exit':
        process.disconnect();
        return;
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// ---- the bench side: driver processes ----

export interface Driver {
  child: ChildProcess;
  next(): Promise<FromDriver>;
  send(m: ToDriver): void;
}

/** Start `node <benchJs> --as-driver` (through taskset when `argv0` says so) with an IPC channel. */
export function spawnDriver(cmd: string, args: string[]): Driver {
  const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  const queue: FromDriver[] = [];
  const waiting: ((m: FromDriver) => void)[] = [];
  const deliver = (m: FromDriver): void => {
    if (waiting.length) waiting.shift()!(m);
    else queue.push(m);
  };
  child.on('message', deliver);
  child.on('exit', (code, signal) => {
    const m: FromDriver = { type: 'failed', message: `driver exited (${code ?? signal})` };
    while (waiting.length) deliver(m);
    queue.push(m);
  });
  return {
    child,
    next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiting.push(r))),
    send: (m) => child.send(m),
  };
}

export async function expectFrom<T extends FromDriver['type']>(d: Driver, type: T): Promise<Extract<FromDriver, { type: T }>> {
  const m = await d.next();
  if (m.type === 'failed') throw new Error(`driver ${d.child.pid}: ${m.message}`);
  if (m.type !== type) throw new Error(`driver ${d.child.pid}: expected ${type}, got ${m.type}`);
  return m as Extract<FromDriver, { type: T }>;
}

/**
 * The reader thread, seen from the store: each read is posted to the thread and answered with a
 * promise, so the EST event loop goes on serving enrollments while a Web RA search runs. Measured
 * with 1,000,000 certificates: a synchronous search every 2 s raised keep-alive enrollment p99
 * from 17 ms to 2.7–4.0 s (npm run bench:webra).
 *
 * A time limit per read: a read not answered within `timeLimitMs` (queueing included) fails with
 * StoreTimeoutError (503 on the Web RA). better-sqlite3 cannot interrupt a running statement, so
 * the thread running it is terminated (it ends when the statement returns) and a new one takes
 * the reads still queued. The thread starts on the first read: the CLI's short runs rarely need it.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { reviveReads, type ReadCalls, type ReadName } from './sqlite-reads.js';
import { readErrorFromWire, type ReaderInit, type ReadReply, type ReadRequest } from './sqlite-reader-protocol.js';
import { StoreTimeoutError, StoreUnavailableError } from './store.js';

/** The compiled worker: beside this file in dist/, or dist/ when running from TypeScript sources. */
function workerPath(): string {
  const here = fileURLToPath(import.meta.url);
  const beside = join(dirname(here), 'sqlite-reader-worker.js');
  if (here.endsWith('.js')) return beside;
  const built = join(dirname(here), '..', '..', 'dist', 'store', 'sqlite-reader-worker.js');
  if (!existsSync(built)) throw new StoreUnavailableError(`the SQLite reader is not built (${built}); run npm run build`);
  return built;
}

interface Pending {
  request: ReadRequest;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

export interface SqliteReaderOptions extends ReaderInit {
  /** The longest a read may take, queueing included. */
  timeLimitMs: number;
}

export class SqliteReader {
  private worker: Worker | undefined;
  /** In the order sent: the thread answers them in that order, the first is the one running. */
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: SqliteReaderOptions) {}

  read<N extends ReadName>(name: N, ...args: Parameters<ReadCalls[N]>): Promise<ReturnType<ReadCalls[N]>> {
    if (this.closed) return Promise.reject(new StoreUnavailableError(`${name}: the store is closed`));
    return new Promise((resolve, reject) => {
      const request: ReadRequest = { id: this.nextId++, name, args };
      const timer = setTimeout(() => this.timeOut(request.id), this.options.timeLimitMs);
      this.pending.set(request.id, { request, resolve: (v) => resolve(reviveReads(name, v as ReturnType<ReadCalls[N]>)), reject, timer });
      try {
        this.worker ??= this.spawn();
        this.worker.postMessage(request);
      } catch (err) {
        this.settle(request.id, (p) => p.reject(err));
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const id of [...this.pending.keys()]) this.settle(id, (p) => p.reject(new StoreUnavailableError(`${p.request.name}: the store is closed`)));
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private spawn(): Worker {
    const worker = new Worker(workerPath(), { workerData: { path: this.options.path, busyTimeoutMs: this.options.busyTimeoutMs } satisfies ReaderInit });
    worker.unref(); // an idle reader never keeps the process alive; pending reads have their timers
    worker.on('message', (reply: ReadReply) => {
      if (this.worker !== worker) return; // a terminated thread's late answer
      this.settle(reply.id, (p) => (reply.error ? p.reject(readErrorFromWire(reply.error)) : p.resolve(reply.value)));
    });
    worker.on('error', (err) => this.fail(worker, err));
    worker.on('exit', (code) => this.fail(worker, new Error(`the SQLite reader thread exited (${code})`)));
    return worker;
  }

  private settle(id: number, how: (p: Pending) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    how(p);
  }

  private timeOut(id: number): void {
    const running = this.pending.keys().next().value === id;
    this.settle(id, (p) => p.reject(new StoreTimeoutError(
      `${p.request.name}: no answer within ${this.options.timeLimitMs} ms; narrow the search (a profile, a status, a longer text)`, this.options.timeLimitMs)));
    if (running) this.restart();
  }

  /** Gives up on the thread (its running read ends on its own) and hands the queued reads to a new one. */
  private restart(): void {
    const old = this.worker;
    this.worker = undefined;
    void old?.terminate();
    if (this.closed || this.pending.size === 0) return;
    try {
      this.worker = this.spawn();
      for (const p of this.pending.values()) this.worker.postMessage(p.request);
    } catch (err) {
      for (const id of [...this.pending.keys()]) this.settle(id, (p) => p.reject(err));
    }
  }

  private fail(worker: Worker, err: unknown): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    const cause = new StoreUnavailableError(`the SQLite reader thread failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    for (const id of [...this.pending.keys()]) this.settle(id, (p) => p.reject(cause));
  }
}

/**
 * Group commit through the writer thread: writes queued while a batch is being committed form
 * the next batch, so batches grow with load and the event loop never blocks on the disk.
 * Each promise settles only after its batch's COMMIT returned (durable with synchronous=FULL).
 *
 * Under concurrent load a batch is also held open for a short window before it is sent. A
 * commit costs the same CPU whether it carries one write or twenty (measured: ~120 µs of fsync
 * and journal work for one write, ~26 µs per write in batches of eight, plus a round trip of
 * thread wake-ups), and when requests arrive over new TLS connections they trickle in one at a
 * time, so without the window nearly every commit carried a single write. The window is used
 * only while there is evidence of concurrency (the previous batch held more than one write):
 * a lone client is never delayed twice in a row, and its commits go out at once.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { fromWire, type BatchReply, type WriteOp, type WriterInit } from './sqlite-writer-protocol.js';
import { StoreUnavailableError } from './store.js';

/**
 * Two batches may be in flight: while the thread commits one, the next is already on its way,
 * so requests finish in waves instead of all waiting for the same fsync.
 */
const MAX_IN_FLIGHT = 2;

/** How long a batch waits for company under concurrent load, and the size that sends it at once. */
export const COALESCE_WINDOW_MS = 8;
export const COALESCE_BATCH = 32;

interface Pending {
  op: WriteOp;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** The compiled worker: beside this file in dist/, or dist/ when running from TypeScript sources. */
function workerPath(): string {
  const here = fileURLToPath(import.meta.url);
  const beside = join(dirname(here), 'sqlite-writer-worker.js');
  if (here.endsWith('.js')) return beside;
  const built = join(dirname(here), '..', '..', 'dist', 'store', 'sqlite-writer-worker.js');
  if (!existsSync(built)) throw new StoreUnavailableError(`the SQLite writer is not built (${built}); run npm run build`);
  return built;
}

export class SqliteWriter {
  private worker: Worker | undefined;
  private queue: Pending[] = [];
  /** Batches posted to the thread and not yet answered, by id (committed in order). */
  private readonly inFlight = new Map<number, Pending[]>();
  private nextId = 1;
  private scheduled = false;
  /** The previous batch held more than one write: hold the next one open for the window. */
  private concurrent = false;
  /** The coalescing timer of the batch being collected, when one is open. */
  private window: NodeJS.Timeout | undefined;
  private sent = { batches: 0, writes: 0 };
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly init: WriterInit,
    private readonly logger?: { warn(obj: object, msg?: string): void },
    private readonly coalesceWindowMs = COALESCE_WINDOW_MS,
  ) {}

  write(op: WriteOp): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (this.concurrent && this.coalesceWindowMs > 0) {
        if (this.queue.length === 1) this.window = setTimeout(() => this.closeWindow(), this.coalesceWindowMs);
        if (this.queue.length < COALESCE_BATCH) return;
        this.closeWindow();
        return;
      }
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.inFlight.size < MAX_IN_FLIGHT && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.send());
    }
  }

  /** The batch being collected is complete: it goes as soon as a slot is free. */
  private closeWindow(): void {
    clearTimeout(this.window);
    this.window = undefined;
    this.schedule();
  }

  /** Batches and writes handed to the thread so far (their mean is the group-commit factor). */
  stats(): { batches: number; writes: number } {
    return { ...this.sent };
  }

  /** Resolves when every queued write has settled. */
  drain(): Promise<void> {
    if (this.inFlight.size === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.drain();
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private spawn(): Worker {
    const worker = new Worker(workerPath(), { workerData: this.init });
    worker.on('message', (reply: BatchReply) => this.settle(reply));
    worker.on('error', (err) => this.fail(worker, err));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.fail(worker, new Error(`the SQLite writer thread exited (${code})`));
    });
    return worker;
  }

  private send(): void {
    this.scheduled = false;
    if (this.inFlight.size >= MAX_IN_FLIGHT || this.queue.length === 0 || this.window) return;
    const writes = this.queue;
    this.queue = [];
    this.concurrent = writes.length > 1;
    this.sent.batches++;
    this.sent.writes += writes.length;
    const id = this.nextId++;
    this.inFlight.set(id, writes);
    try {
      this.worker ??= this.spawn();
      this.worker.postMessage({ id, writes: writes.map((w) => w.op) });
    } catch (err) {
      this.inFlight.delete(id);
      const error = err instanceof StoreUnavailableError ? err : new StoreUnavailableError(`group commit: ${(err as Error).message}`, { cause: err });
      for (const w of writes) w.reject(error);
      this.afterBatch();
    }
  }

  private settle(reply: BatchReply): void {
    const writes = this.inFlight.get(reply.id);
    if (!writes) return;
    this.inFlight.delete(reply.id);
    let failures = 0;
    writes.forEach((w, i) => {
      const e = reply.results[i];
      if (e) {
        failures++;
        w.reject(fromWire(e));
      } else w.resolve();
    });
    if (failures === writes.length && failures > 0) this.logger?.warn({ writes: failures }, 'group commit failed; no queued write was stored');
    this.afterBatch();
  }

  /** The thread died: everything in flight or queued fails as unavailable; the next write starts a new thread. */
  private fail(worker: Worker, err: unknown): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    const error = new StoreUnavailableError(`SQLite writer: ${(err as Error).message}`, { cause: err });
    this.logger?.warn({ err: error }, 'SQLite writer thread failed');
    const lost = [...[...this.inFlight.values()].flat(), ...this.queue];
    this.inFlight.clear();
    this.queue = [];
    clearTimeout(this.window);
    this.window = undefined;
    for (const w of lost) w.reject(error);
    this.afterBatch();
  }

  private afterBatch(): void {
    if (this.queue.length > 0) {
      this.send();
      return;
    }
    if (this.inFlight.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * Group commit through the writer thread: writes queued while a batch is being committed form
 * the next batch, so batches grow with load and the event loop never blocks on the disk.
 * Each promise settles only after its batch's COMMIT returned (durable with synchronous=FULL).
 *
 * Under load a batch is also held open for a short window before it is sent. A commit costs
 * nearly the same whether it carries one write or thirty: the fsync and journal work (~120 µs
 * for one write, ~26 µs per write in batches of eight, measured in isolation), two thread
 * wake-ups, and the read caches that every commit invalidates. Over new TLS connections requests
 * trickle in one at a time, so without the window almost every commit carried a single write.
 *
 * When to hold a window: after a batch that formed on its own (no window) with 2 or 3 writes
 * (there is concurrency, and commits are not yet shared well), and after a window that gathered
 * more than one write and ended by time or size. Not after a window that ended because the event
 * loop went idle: it is checked every WINDOW_TICK_MS, and a loop idle for half of that has
 * nothing more to write (every client may be waiting for this very commit). So a lone client,
 * a server with time to spare, or a few clients on kept-alive connections whose batches are
 * already large are never held, or held for at most a tick.
 *
 * Measured with the bench's native driver, simpleenroll, 8 s runs, req/s without → with windows:
 * a new connection per request, 32 clients: 590 → 748 (816 with no store writes at all);
 * keep-alive, 32 clients: 2,672 → 2,617; keep-alive, 16 clients: 2,414 → 2,384.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { fromWire, type BatchReply, type WriteOp, type WriteValue, type WriterInit } from './sqlite-writer-protocol.js';
import { StoreUnavailableError } from './store.js';

/**
 * Two batches may be in flight: while the thread commits one, the next is already on its way,
 * so requests finish in waves instead of all waiting for the same fsync.
 */
const MAX_IN_FLIGHT = 2;

/** How long a batch waits for company under load, and the size that sends it at once. */
export const COALESCE_WINDOW_MS = 8;
export const COALESCE_BATCH = 32;
/** A batch formed on its own with fewer writes than this shares its commit poorly: hold the next. */
export const SMALL_BATCH = 4;

const WINDOW_TICK_MS = 1;

/** Was the event loop busy (utilised at least half the time) since the previous call? */
export function eventLoopBusy(): () => boolean {
  let since = performance.eventLoopUtilization();
  return () => {
    const delta = performance.eventLoopUtilization(since);
    since = performance.eventLoopUtilization();
    return delta.utilization >= 0.5;
  };
}

export interface CoalesceOptions {
  /** The longest a batch is held open (0: never). */
  windowMs?: number;
  /** Asked every tick of an open window (and once when it opens): is the event loop still busy? */
  busy?: () => boolean;
}

interface Pending {
  op: WriteOp;
  resolve: (value: WriteValue) => void;
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
  /** Hold the next batch open (see the file comment for when). */
  private holdNext = false;
  /** The ticking check of the batch being collected, when a window is open, and when it opened. */
  private window: NodeJS.Timeout | undefined;
  private windowOpened = 0;
  /** The batch being collected had a window, and that window ended because the loop went idle. */
  private windowed = false;
  private endedIdle = false;
  private sent = { batches: 0, writes: 0 };
  private idleWaiters: Array<() => void> = [];

  private readonly windowMs: number;
  private readonly busy: () => boolean;

  constructor(
    private readonly init: WriterInit,
    private readonly logger?: { warn(obj: object, msg?: string): void },
    coalesce: CoalesceOptions = {},
    /** Told, on the event loop, the change counter before and after each committed batch. */
    private readonly onCommit?: (counter: { before: number; after: number }) => void,
  ) {
    this.windowMs = coalesce.windowMs ?? COALESCE_WINDOW_MS;
    this.busy = coalesce.busy ?? eventLoopBusy();
  }

  /** Resolves, once committed, with what the write returned (sqlite-writer-protocol.ts, WriteOp). */
  write(op: WriteOp): Promise<WriteValue> {
    return new Promise<WriteValue>((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (this.holdNext && this.windowMs > 0) {
        if (this.queue.length === 1) this.openWindow();
        else if (this.queue.length >= COALESCE_BATCH) this.closeWindow();
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

  private openWindow(): void {
    this.windowOpened = performance.now();
    this.windowed = true;
    this.endedIdle = false;
    this.busy(); // from now on
    this.window = setInterval(() => {
      if (!this.busy()) {
        this.endedIdle = true;
        this.closeWindow();
      } else if (performance.now() - this.windowOpened >= this.windowMs) this.closeWindow();
    }, WINDOW_TICK_MS);
  }

  /** The batch being collected is complete: it goes as soon as a slot is free. */
  private closeWindow(): void {
    clearInterval(this.window);
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
    this.holdNext = this.windowed ? writes.length > 1 && !this.endedIdle : writes.length > 1 && writes.length < SMALL_BATCH;
    this.windowed = false;
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
    if (reply.counter) this.onCommit?.(reply.counter);
    let failures = 0;
    writes.forEach((w, i) => {
      const e = reply.results[i];
      if (e) {
        failures++;
        w.reject(fromWire(e));
      } else w.resolve(reply.values?.[i]);
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
    clearInterval(this.window);
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

/**
 * The SQLite store's side of its webhook thread (sqlite-webhooks-worker.ts): the delivery loop's
 * writes go there, one at a time, and come back as promises. Started on first use (only a server
 * delivering webhooks needs it); an idle thread never keeps the process alive.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SqliteWebhooks } from './sqlite-webhooks.js';
import { fromWire, type WireError } from './sqlite-writer-protocol.js';
import { StoreUnavailableError } from './store.js';

/** What runs on the thread. */
export type WebhookThreadCall = 'claim' | 'finish' | 'queueExpiring' | 'purge';
export interface WebhookThreadInit { path: string; busyTimeoutMs: number }
export interface WebhookThreadRequest { id: number; name: WebhookThreadCall; args: unknown[] }
export interface WebhookThreadReply { id: number; value?: unknown; error?: WireError }

function workerPath(): string {
  const here = fileURLToPath(import.meta.url);
  const beside = join(dirname(here), 'sqlite-webhooks-worker.js');
  if (here.endsWith('.js')) return beside;
  const built = join(dirname(here), '..', '..', 'dist', 'store', 'sqlite-webhooks-worker.js');
  if (!existsSync(built)) throw new StoreUnavailableError(`the SQLite webhook thread is not built (${built}); run npm run build`);
  return built;
}

export class SqliteWebhookThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { name: string; resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly init: WebhookThreadInit) {}

  call<N extends WebhookThreadCall>(name: N, ...args: Parameters<SqliteWebhooks[N]>): Promise<ReturnType<SqliteWebhooks[N]>> {
    if (this.closed) return Promise.reject(new StoreUnavailableError(`${name}: the store is closed`));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { name, resolve: resolve as (v: unknown) => void, reject });
      try {
        if (!this.worker) this.worker = this.spawn();
        this.worker.ref(); // a call in flight keeps the process alive until it is answered
        this.worker.postMessage({ id, name, args } satisfies WebhookThreadRequest);
      } catch (err) {
        this.pending.delete(id);
        reject(err);
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    // the calls in flight are answered first (a claim or an attempt half-recorded helps nobody)
    while (this.pending.size > 0 && this.worker) await new Promise((r) => setTimeout(r, 5));
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private spawn(): Worker {
    const worker = new Worker(workerPath(), { workerData: this.init });
    worker.on('message', (reply: WebhookThreadReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (reply.error) p.reject(fromWire(reply.error));
      else p.resolve(reply.value);
    });
    const fail = (err: unknown) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      const cause = new StoreUnavailableError(`the SQLite webhook thread failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(cause);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exited (${code})`)));
    return worker;
  }
}

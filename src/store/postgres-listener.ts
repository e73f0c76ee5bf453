/**
 * The PostgreSQL store's change listener: one dedicated connection that LISTENs on the change
 * channel and hands every other instance's notices to the store's ChangeHub. Notices sent by
 * this instance (same origin) are skipped: the store emits its own changes itself, right after
 * they commit.
 *
 * When the connection drops, it reconnects with a growing delay (capped) and then emits
 * `{ kind: 'any' }`: notices sent while it was away are lost, so caches drop everything.
 */
import pg from 'pg';
import { CHANGE_CHANNEL } from './postgres-migrations.js';
import { decodeKey } from './postgres-rows.js';
import type { ChangeHub } from './change-hub.js';
import type { StoreChange } from './store.js';

/** What travels on the channel: the sending instance and the change. */
export interface PostgresNotice {
  o: string;
  c: StoreChange;
}

export interface ListenerOptions {
  config: pg.ClientConfig;
  origin: string;
  hub: ChangeHub;
  logger?: { warn(obj: object, msg?: string): void } | undefined;
  /** First reconnect delay (default 100 ms); doubles up to maxDelayMs (default 5000). */
  minDelayMs?: number;
  maxDelayMs?: number;
}

const KINDS = new Set(['profile', 'account', 'revocation', 'lock', 'session', 'crl', 'any']);

export class ChangeListener {
  private client: pg.Client | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private delay: number;
  /** How many times the connection was re-established (for tests and metrics). */
  reconnects = 0;

  constructor(private readonly o: ListenerOptions) {
    this.delay = o.minDelayMs ?? 100;
  }

  /** Connects and LISTENs; rejects when the first connection fails. */
  async start(): Promise<void> {
    await this.connect();
  }

  /** The backend process id of the listening connection (undefined while reconnecting). */
  get pid(): number | undefined {
    return (this.client as unknown as { processID?: number } | undefined)?.processID;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.o.config);
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, undefined));
    client.on('notification', (n) => {
      if (n.channel === CHANGE_CHANNEL && n.payload) this.deliver(n.payload);
    });
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (err) {
      this.client = undefined;
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) await client.end().catch(() => undefined);
  }

  private deliver(payload: string): void {
    let notice: PostgresNotice;
    try {
      notice = JSON.parse(payload) as PostgresNotice;
    } catch {
      this.o.logger?.warn({ channel: CHANGE_CHANNEL }, 'ignored a change notice that is not JSON');
      return;
    }
    if (notice.o === this.o.origin) return;
    if (!notice.c || !KINDS.has(notice.c.kind)) {
      this.o.hub.emit({ kind: 'any' });
      return;
    }
    this.o.hub.emit(notice.c.kind === 'lock' ? { kind: 'lock', key: decodeKey(notice.c.key) } : notice.c);
  }

  private lost(client: pg.Client, err: Error | undefined): void {
    if (client !== this.client) return;
    this.client = undefined;
    client.removeAllListeners('notification');
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.o.logger?.warn({ err: err?.message }, 'PostgreSQL change listener lost its connection; reconnecting');
    this.schedule();
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect().then(
        () => {
          if (this.closed) return;
          this.reconnects++;
          this.delay = this.o.minDelayMs ?? 100;
          this.o.hub.emit({ kind: 'any' }); // notices sent while away are lost
        },
        (err: unknown) => {
          this.o.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'PostgreSQL change listener cannot reconnect yet');
          this.delay = Math.min(this.delay * 2, this.o.maxDelayMs ?? 5000);
          this.schedule();
        },
      );
    }, this.delay);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }
}

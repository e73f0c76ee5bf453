/**
 * Group commit for the PostgreSQL store's durable writes on the request path (recordIssuance,
 * appendAudit). A write arriving while fewer than `maxInflight` batches are committing goes out
 * at once (alone, no added latency); writes arriving while they commit queue up and go out
 * together as the next batch, in ONE statement and ONE transaction (estuary_record_writes): one
 * round trip and one WAL flush for all of them. Each caller's promise settles after its
 * batch's COMMIT.
 *
 * A batch that fails for a reason of the request (a duplicate serial, a request no longer
 * approved, a deadlock between two batches) is repeated write by write, so only the failing
 * write fails; one that fails because the database is unreachable fails every write in it.
 */
import type pg from 'pg';
import { AUDIT_RECORD, INSERT_AUDIT, json, mapPgError } from './postgres-rows.js';


export interface QueuedWrite {
  /** The item for estuary_record_writes: { c, audit, supersede?, once?, approved?, d? } or { audit }. */
  item: Record<string, unknown>;
  der?: Buffer;
  what: string;
  conflict: string;
}

interface Entry extends QueuedWrite {
  resolve(ca: string | null): void;
  reject(err: unknown): void;
}

export interface BatchRunner {
  /** Runs the items in one statement; the CA superseded per item index (0-based) that superseded one. */
  batch(items: Array<Record<string, unknown>>, ders: Buffer[]): Promise<Map<number, string>>;
  /** Runs one write alone (its own statement and transaction); the CA it superseded, if any. */
  single(write: QueuedWrite): Promise<string | null>;
}

/** Errors after which the batch may or may not have committed, or nothing can work: never repeated. */
const CONNECTION_STATE = /^(08|57|53|58|28|3D)/;
const CONNECTION_CODE = /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE)$/;
const DRIVER_DOWN = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|Cannot use a pool after calling end/i;

function connectionLevel(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (CONNECTION_STATE.test(code) || CONNECTION_CODE.test(code))) return true;
  return DRIVER_DOWN.test(err instanceof Error ? err.message : String(err));
}

export interface BatchStats {
  /** Statements that committed several writes together. */
  batches: number;
  /** Writes committed in those statements. */
  batchedWrites: number;
  /** Batches repeated write by write because one write in them failed. */
  repeated: number;
}

export class WriteBatcher {
  readonly stats: BatchStats = { batches: 0, batchedWrites: 0, repeated: 0 };
  private queue: Entry[] = [];
  private inflight = 0;

  constructor(
    private readonly runner: BatchRunner,
    private readonly where: string,
    private readonly maxInflight = 2,
    private readonly maxBatch = 200,
  ) {}

  write(w: QueuedWrite): Promise<string | null> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...w, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inflight < this.maxInflight && this.queue.length > 0) {
      const entries = this.queue.splice(0, this.maxBatch);
      this.inflight++;
      void this.commit(entries).finally(() => {
        this.inflight--;
        this.pump();
      });
    }
  }

  private async commit(entries: Entry[]): Promise<void> {
    if (entries.length === 1) return this.alone(entries[0]!);
    const ders: Buffer[] = [];
    const items = entries.map((e) => {
      if (!e.der) return e.item;
      ders.push(e.der);
      return { ...e.item, d: ders.length }; // 1-based index into the bytea[] parameter
    });
    try {
      const superseded = await this.runner.batch(items, ders);
      this.stats.batches++;
      this.stats.batchedWrites += entries.length;
      entries.forEach((e, i) => e.resolve(superseded.get(i) ?? null));
    } catch (err) {
      if (connectionLevel(err)) {
        for (const e of entries) e.reject(mapPgError(err, e.what, this.where, e.conflict));
        return;
      }
      // one of them is at fault: each on its own, in order
      this.stats.repeated++;
      for (const e of entries) await this.alone(e);
    }
  }

  private async alone(e: Entry): Promise<void> {
    try {
      e.resolve(await this.runner.single(e));
    } catch (err) {
      e.reject(mapPgError(err, e.what, this.where, e.conflict));
    }
  }
}

/** The store's statements for group commit, on `pool`, announcing changes as `origin`. */
export function batchRunner(pool: pg.Pool, origin: string): BatchRunner {
  return {
    /** One queued write alone: its own statement and transaction. */
    async single(w: QueuedWrite): Promise<string | null> {
      const { item } = w;
      if (!item.c) {
        await pool.query({ name: 'estuary_append_audit_v2', text: `${INSERT_AUDIT} SELECT a.* FROM jsonb_to_record($1::jsonb) AS ${AUDIT_RECORD}`, values: [json(item.audit)] });
        return null;
      }
      const { rows } = await pool.query<{ ca: string | null }>({
        name: 'estuary_record_issuance',
        text: 'SELECT estuary_record_issuance($1, $2, $3, $4, $5, $6, $7) AS ca',
        values: [json(item.c), w.der, json(item.audit), item.supersede ? json(item.supersede) : null, item.once === true, item.approved ?? null, origin],
      });
      return rows[0]?.ca ?? null;
    },

    /** Queued writes together: one statement, one transaction. */
    async batch(items: Array<Record<string, unknown>>, ders: Buffer[]): Promise<Map<number, string>> {
      const { rows } = await pool.query<{ n: number; ca: string }>({
        name: 'estuary_record_writes', text: 'SELECT n, ca FROM estuary_record_writes($1, $2, $3)', values: [json(items), ders, origin],
      });
      return new Map(rows.map((r) => [r.n - 1, r.ca]));
    },
  };
}

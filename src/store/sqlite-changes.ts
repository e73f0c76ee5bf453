/**
 * The SQLite store's change signal for other processes' commits (Store.changes.poll).
 *
 * `PRAGMA data_version` moves when any other connection commits, which includes this store's own
 * writer thread recording every certificate and audit event. The change counter (migration
 * "change counter for caches") moves only on commits that touch profiles, accounts or a
 * certificate's status, and each of this store's own transactions reports the counter before and
 * after it. So a new data version with the counter where this store's own commits left it is
 * nothing to signal (the hot path: issuances), and anything else is another process's change:
 * `{ kind: 'any' }`.
 */
import type { ChangeHub } from './change-hub.js';

export interface CounterReads {
  dataVersion(): number;
  counter(): number;
}

export class SqliteChangeTracker {
  private dataVersion: number;
  /** The counter as of the last change this store signalled or made itself. */
  private seen: number;
  private fresh = false;

  constructor(private readonly reads: CounterReads, private readonly hub: ChangeHub) {
    this.dataVersion = reads.dataVersion();
    this.seen = reads.counter();
  }

  /**
   * One of this store's transactions committed, moving the counter from `before` to `after`. If
   * the counter was not where we last saw it, another process changed something first: leave
   * `seen` behind so that the next poll signals it.
   */
  own(counter: { before: number; after: number }): void {
    if (counter.before === this.seen) this.seen = counter.after;
  }

  /**
   * Reading data_version costs ~8 µs: it is read once per event-loop turn, shared by every
   * request handled in that turn; a change by another process is seen on the next turn.
   */
  poll(): void {
    if (this.fresh) return;
    this.fresh = true;
    setImmediate(() => (this.fresh = false));
    const version = this.reads.dataVersion();
    if (version === this.dataVersion) return;
    this.dataVersion = version;
    const counter = this.reads.counter();
    if (counter === this.seen) return;
    this.seen = counter;
    this.hub.emit({ kind: 'any' });
  }
}

/**
 * The SQLite store's reader thread: its own read-only connection (WAL lets it read while the
 * writer commits) runs the Web RA's searches, lists and counts (sqlite-reads.ts), one at a time,
 * so the EST event loop never waits for them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { mapSqliteError } from './sqlite-rows.js';
import { SqliteReads, type ReadCalls } from './sqlite-reads.js';
import { readErrorToWire, type ReaderInit, type ReadReply, type ReadRequest } from './sqlite-reader-protocol.js';

const init = workerData as ReaderInit;
let reads: SqliteReads | undefined;
let openError: unknown;
try {
  const db = new Database(init.path, { readonly: true, timeout: init.busyTimeoutMs });
  db.pragma(`busy_timeout = ${Math.trunc(init.busyTimeoutMs)}`);
  db.pragma('cache_size = -65536'); // 64 MiB of pages: the indexes the lists walk stay in memory
  reads = new SqliteReads(db);
} catch (err) {
  openError = mapSqliteError(err, `cannot open database ${init.path} for reading`);
}

parentPort!.on('message', (m: ReadRequest) => {
  let reply: ReadReply;
  try {
    if (!reads) throw openError;
    const fn = reads[m.name] as (...args: unknown[]) => unknown;
    reply = { id: m.id, value: fn.apply(reads, m.args as unknown[]) as ReturnType<ReadCalls[typeof m.name]> };
  } catch (err) {
    reply = { id: m.id, error: readErrorToWire(mapSqliteError(err, m.name)) };
  }
  parentPort!.postMessage(reply);
});

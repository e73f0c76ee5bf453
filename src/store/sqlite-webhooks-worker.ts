/**
 * The SQLite store's webhook thread: its own connection runs the delivery loop's writes (claims,
 * attempts, the expiry scan, the purge; sqlite-webhooks.ts), so the server's event loop never
 * waits for them, for their commit or for another writer's lock. synchronous=NORMAL (WAL): these
 * commits survive a crash of the process, not a power loss, whose worst case is a delivery made
 * again or a scan done again (both idempotent for the receiver's dedupe by event id and the store's).
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { mapSqliteError } from './sqlite-rows.js';
import { SqliteWebhooks } from './sqlite-webhooks.js';
import { toWire } from './sqlite-writer-protocol.js';
import type { WebhookThreadInit, WebhookThreadReply, WebhookThreadRequest } from './sqlite-webhook-thread.js';

const init = workerData as WebhookThreadInit;
let hooks: SqliteWebhooks | undefined;
let openError: unknown;
try {
  const db = new Database(init.path, { timeout: init.busyTimeoutMs });
  db.pragma(`busy_timeout = ${Math.trunc(init.busyTimeoutMs)}`);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  hooks = new SqliteWebhooks(db);
} catch (err) {
  openError = mapSqliteError(err, `cannot open database ${init.path} for webhooks`);
}

parentPort!.on('message', (m: WebhookThreadRequest) => {
  let reply: WebhookThreadReply;
  try {
    if (!hooks) throw openError;
    const fn = hooks[m.name] as (...args: unknown[]) => unknown;
    reply = { id: m.id, value: fn.apply(hooks, m.args) };
  } catch (err) {
    reply = { id: m.id, error: toWire(mapSqliteError(err, m.name)) };
  }
  parentPort!.postMessage(reply);
});

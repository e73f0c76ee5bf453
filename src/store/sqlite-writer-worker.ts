/**
 * The SQLite store's writer thread. It owns a second connection and commits the request path's
 * durable writes (certificates and audit events) in group transactions with synchronous=FULL,
 * so the event loop never waits for a WAL fsync or for another process's write lock.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { mapSqliteError } from './sqlite-rows.js';
import {
  FIND_RENEWAL_SQL, INSERT_AUDIT_SQL, INSERT_CERTIFICATE_SQL, MARK_PENDING_ISSUED_SQL, SUPERSEDE_SQL, toWire, type BatchReply, type BatchRequest, type WireError, type WriteOp, type WriterInit,
} from './sqlite-writer-protocol.js';
import { StoreConflictError, StoreUnavailableError } from './store.js';

const init = workerData as WriterInit;
const db = new Database(init.path, { timeout: init.busyTimeoutMs });
db.pragma(`busy_timeout = ${Math.trunc(init.busyTimeoutMs)}`);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
const insertCertificate = db.prepare(INSERT_CERTIFICATE_SQL);
const insertAudit = db.prepare(INSERT_AUDIT_SQL);
const supersede = db.prepare(SUPERSEDE_SQL);
const findRenewal = db.prepare(FIND_RENEWAL_SQL);
const markPendingIssued = db.prepare(MARK_PENDING_ISSUED_SQL);

function apply(w: WriteOp): void {
  if (w.kind === 'issuance') {
    const der = w.certificate.der as Uint8Array;
    const renews = w.certificate.renews as string | null;
    if (renews && w.renewal?.once && findRenewal.get({ serial: renews })) {
      throw new StoreConflictError(`${w.what}: certificate ${renews} has already been renewed`);
    }
    insertCertificate.run({ ...w.certificate, der: Buffer.from(der.buffer, der.byteOffset, der.byteLength) });
    if (renews && w.renewal?.supersede) {
      if (supersede.run({ serial: renews, at: w.renewal.supersede.at }).changes > 0) insertAudit.run(w.renewal.supersede.audit);
    }
    // One transaction with the certificate: a crash between the two cannot leave an approved request to be issued again.
    if (w.approvedRequestId !== undefined && markPendingIssued.run({ id: w.approvedRequestId, serial: w.certificate.serial }).changes === 0) {
      throw new StoreConflictError(`${w.what}: request ${w.approvedRequestId} is not approved or was already issued`);
    }
  }
  insertAudit.run(w.audit);
}

const savepoint = db.transaction((w: WriteOp) => apply(w));

// Fast path: every write straight into one transaction. A savepoint per write would isolate
// failures, but SQLite then copies each touched page to a sub-journal (measured: half the
// throughput), so savepoints are used only to replay a batch in which some write failed.
const batch = db.transaction((writes: WriteOp[], isolate: boolean): Array<WireError | null> =>
  writes.map((w) => {
    if (!isolate) {
      apply(w);
      return null;
    }
    try {
      savepoint(w);
      return null;
    } catch (err) {
      const mapped = mapSqliteError(err, w.what, w.conflict);
      if (mapped instanceof StoreUnavailableError) throw err; // the database itself is failing
      return toWire(mapped);
    }
  }),
);

function commit(writes: WriteOp[]): Array<WireError | null> {
  try {
    try {
      return batch.immediate(writes, false);
    } catch (err) {
      if (mapSqliteError(err, 'group commit') instanceof StoreUnavailableError) throw err;
      return batch.immediate(writes, true); // one write was at fault: the others still commit
    }
  } catch (err) {
    const mapped = mapSqliteError(err, 'group commit');
    const wire = mapped instanceof StoreUnavailableError ? toWire(mapped) : ({ type: 'unavailable', message: `group commit: ${(err as Error).message}` } as const);
    return writes.map(() => wire);
  }
}

parentPort!.on('message', (req: BatchRequest) => {
  const reply: BatchReply = { id: req.id, results: commit(req.writes) };
  parentPort!.postMessage(reply);
});

/**
 * The SQLite store's writer thread. It owns a second connection and commits the request path's
 * durable writes (certificates and audit events) in group transactions with synchronous=FULL,
 * so the event loop never waits for a WAL fsync or for another process's write lock.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { mapSqliteError } from './sqlite-rows.js';
import {
  CHANGE_COUNTER_SQL, DECIDE_PENDING_SQL, FIND_RENEWAL_SQL, INSERT_CERTIFICATE_SQL, MARK_PENDING_ISSUED_SQL, RELEASE_HOLD_SQL, REVOKE_SQL, SUPERSEDE_SQL, toWire,
  type BatchReply, type BatchRequest, type WireError, type WriteOp, type WriteValue, type WriterInit,
} from './sqlite-writer-protocol.js';
import { StoreConflictError, StoreUnavailableError } from './store.js';
import { chainedAuditInsert } from './sqlite-audit-chain.js';

const init = workerData as WriterInit;
const db = new Database(init.path, { timeout: init.busyTimeoutMs });
db.pragma(`busy_timeout = ${Math.trunc(init.busyTimeoutMs)}`);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
const insertCertificate = db.prepare(INSERT_CERTIFICATE_SQL);
const insertAudit = chainedAuditInsert(db);
const supersede = db.prepare<[Record<string, unknown>], { ca: string }>(SUPERSEDE_SQL);
const findRenewal = db.prepare(FIND_RENEWAL_SQL);
const markPendingIssued = db.prepare(MARK_PENDING_ISSUED_SQL);
const revoke = db.prepare<[Record<string, unknown>], { ca: string }>(REVOKE_SQL);
const release = db.prepare<[Record<string, unknown>], { ca: string }>(RELEASE_HOLD_SQL);
const decide = db.prepare(DECIDE_PENDING_SQL);
const changeCounter = db.prepare<[], number>(CHANGE_COUNTER_SQL).pluck();

/** One write, inside the batch's transaction; a change and its audit event always go together. */
function apply(w: WriteOp): WriteValue {
  switch (w.kind) {
    case 'issuance': {
      const der = w.certificate.der as Uint8Array;
      const renews = w.certificate.renews as string | null;
      if (renews && w.renewal?.once && findRenewal.get({ serial: renews })) {
        throw new StoreConflictError(`${w.what}: certificate ${renews} has already been renewed`);
      }
      insertCertificate.run({ ...w.certificate, der: Buffer.from(der.buffer, der.byteOffset, der.byteLength) });
      let superseded: { ca: string } | undefined;
      if (renews && w.renewal?.supersede) {
        superseded = supersede.get({ serial: renews, at: w.renewal.supersede.at });
        if (superseded) insertAudit.run(w.renewal.supersede.audit);
      }
      // One transaction with the certificate: a crash between the two cannot leave an approved request to be issued again.
      if (w.approvedRequestId !== undefined && markPendingIssued.run({ id: w.approvedRequestId, serial: w.certificate.serial }).changes === 0) {
        throw new StoreConflictError(`${w.what}: request ${w.approvedRequestId} is not approved or was already issued`);
      }
      insertAudit.run(w.audit);
      return superseded ? { supersededCa: superseded.ca } : undefined;
    }
    case 'audit':
      insertAudit.run(w.audit);
      return undefined;
    case 'revoke': {
      const row = revoke.get(w.revocation);
      if (row && w.audit) insertAudit.run(w.audit);
      return row ? row.ca : null;
    }
    case 'release': {
      const row = release.get(w.release);
      if (row && w.audit) insertAudit.run(w.audit);
      return row ? row.ca : null;
    }
    case 'decide': {
      const decided = decide.run(w.decision).changes > 0;
      if (decided && w.audit) insertAudit.run(w.audit);
      return decided;
    }
  }
}

const savepoint = db.transaction((w: WriteOp) => apply(w));

interface Committed {
  results: Array<WireError | null>;
  values: WriteValue[];
  counter: { before: number; after: number };
}

// Fast path: every write straight into one transaction. A savepoint per write would isolate
// failures, but SQLite then copies each touched page to a sub-journal (measured: half the
// throughput), so savepoints are used only to replay a batch in which some write failed.
const batch = db.transaction((writes: WriteOp[], isolate: boolean): Committed => {
  const before = changeCounter.get()!;
  const values: WriteValue[] = [];
  const results = writes.map((w): WireError | null => {
    if (!isolate) {
      values.push(apply(w));
      return null;
    }
    try {
      values.push(savepoint(w));
      return null;
    } catch (err) {
      values.push(undefined);
      const mapped = mapSqliteError(err, w.what, w.conflict);
      if (mapped instanceof StoreUnavailableError) throw err; // the database itself is failing
      return toWire(mapped);
    }
  });
  return { results, values, counter: { before, after: changeCounter.get()! } };
});

function commit(id: number, writes: WriteOp[]): BatchReply {
  try {
    let done: Committed;
    try {
      done = batch.immediate(writes, false);
    } catch (err) {
      if (mapSqliteError(err, 'group commit') instanceof StoreUnavailableError) throw err;
      done = batch.immediate(writes, true); // one write was at fault: the others still commit
    }
    const reply: BatchReply = { id, results: done.results, counter: done.counter };
    if (done.values.some((v) => v !== undefined)) reply.values = done.values;
    return reply;
  } catch (err) {
    const mapped = mapSqliteError(err, 'group commit');
    const wire = mapped instanceof StoreUnavailableError ? toWire(mapped) : ({ type: 'unavailable', message: `group commit: ${(err as Error).message}` } as const);
    return { id, results: writes.map(() => wire) };
  }
}

parentPort!.on('message', (req: BatchRequest) => {
  parentPort!.postMessage(commit(req.id, req.writes));
});

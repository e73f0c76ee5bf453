/**
 * The SQLite store's four-eyes approval and its search for requests and certificates that
 * overlap a held request (same subject or key). Run on the store's own connection: an approval
 * is one IMMEDIATE transaction (the UPDATE decides which outcome it was, the audit event follows).
 */
import type Database from 'better-sqlite3';
import type { ApprovalsRequired, CertificateRecord, PendingRequest } from '../ra/model.js';
import { distinct } from './distinct.js';
import { auditParams, iso, toCertificate, toPending, type CertificateRow, type PendingRow } from './sqlite-rows.js';
import { chainedAuditInsert } from './sqlite-audit-chain.js';
import type { ApprovalEvents, ApprovalResult, RequestOverlaps } from './store.js';

/** A first approval (four-eyes, none yet) leaves the request pending; otherwise it is approved. */
const FIRST = `@required = 2 AND first_approved_by IS NULL`;

// In SET, columns name their values before the update, so every CASE sees the same old row.
const APPROVE_SQL = `UPDATE pending_requests SET
    status = CASE WHEN ${FIRST} THEN 'pending' ELSE 'approved' END,
    first_approved_by = CASE WHEN ${FIRST} THEN @officer ELSE first_approved_by END,
    first_approved_at = CASE WHEN ${FIRST} THEN @at ELSE first_approved_at END,
    decided_by = CASE WHEN ${FIRST} THEN NULL ELSE @officer END,
    decided_at = CASE WHEN ${FIRST} THEN NULL ELSE @at END,
    reason = CASE WHEN ${FIRST} THEN reason ELSE @reason END
  WHERE id = @id AND status = 'pending' AND (@required = 1 OR first_approved_by IS NULL OR first_approved_by <> @officer)
  RETURNING status`;

const OVERLAP_LIMIT = 200;

const inList = (prefix: string, values: readonly string[]) => values.map((_, i) => `@${prefix}${i}`).join(', ') || 'NULL';
const named = (prefix: string, values: readonly string[]) => Object.fromEntries(values.map((v, i) => [`${prefix}${i}`, v]));

export class SqliteRequestApprovals {
  private readonly approve: Database.Statement<[Record<string, unknown>], { status: string }>;
  private readonly audit: { run(params: Record<string, unknown>): void };

  constructor(private readonly db: Database.Database) {
    this.approve = db.prepare(APPROVE_SQL);
    this.audit = chainedAuditInsert(db);
  }

  /** Inside the caller's transaction. */
  approveInTransaction(id: number, officer: string, required: ApprovalsRequired, reason: string | null, at: Date, now: Date, events?: ApprovalEvents): ApprovalResult | undefined {
    const row = this.approve.get({ id, officer, required, reason, at: iso(at) });
    if (!row) return undefined;
    const result: ApprovalResult = row.status === 'approved' ? 'approved' : 'first-approval';
    if (events) this.audit.run(auditParams(result === 'approved' ? events.approved : events.first, iso(now)));
    return result;
  }

  overlaps(subjects: string[], keyIds: string[], now: Date): RequestOverlaps {
    const params = { ...named('s', subjects), ...named('k', keyIds), now: iso(now), limit: OVERLAP_LIMIT };
    const s = inList('s', subjects);
    const k = inList('k', keyIds);
    // One branch per index (an OR across two would scan by status); `+` keeps the planner off the
    // status and expiry indexes, which at real size match most certificates.
    const requests = this.db.prepare<[Record<string, unknown>], PendingRow>(`SELECT * FROM pending_requests
        WHERE subject IN (${s}) AND status IN ('pending', 'approved')
      UNION ALL SELECT * FROM pending_requests WHERE key_id IN (${k}) AND status IN ('pending', 'approved')
      ORDER BY id DESC LIMIT @limit`).all(params);
    const certificates = this.db.prepare<[Record<string, unknown>], CertificateRow>(`SELECT * FROM certificates
        WHERE subject IN (${s}) AND +status = 'valid' AND +not_after >= @now
      UNION ALL SELECT * FROM certificates WHERE serial IN (SELECT serial FROM pending_requests WHERE key_id IN (${k}) AND status = 'issued')
        AND +status = 'valid' AND +not_after >= @now
      ORDER BY created_at DESC LIMIT @limit`).all(params);
    return {
      requests: distinct(requests.map(toPending), (r) => r.id) as PendingRequest[],
      certificates: distinct(certificates.map(toCertificate), (c) => c.serial) as CertificateRecord[],
    };
  }
}

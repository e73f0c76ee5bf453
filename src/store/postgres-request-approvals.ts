/**
 * The PostgreSQL store's four-eyes approval and its search for requests and certificates that
 * overlap a held request (same subject or key). An approval is one statement: the UPDATE decides
 * which outcome it was (a row lock makes a concurrent approval wait and re-check), and the audit
 * event of that outcome commits with it.
 */
import type { ApprovalsRequired, NewAuditEvent } from '../ra/model.js';
import { CERTIFICATE_COLUMNS, INSERT_AUDIT, auditParamList, auditValues } from './postgres-rows.js';
import type { ApprovalEvents } from './store.js';

const audit = auditParamList;

/** A first approval (four-eyes, none yet) leaves the request pending; otherwise it is approved. */
const FIRST = `$3::int = 2 AND first_approved_by IS NULL`;

/** $1 id, $2 officer, $3 required, $4 reason, $5 at; with events, $6.. the first's audit values and $15.. the approval's. */
export function approveStatement(id: number, officer: string, required: ApprovalsRequired, reason: string | null, at: Date, now: Date, events?: ApprovalEvents): { text: string; values: unknown[] } {
  const audits = events
    ? `, f AS (${INSERT_AUDIT} SELECT ${audit(6)} FROM d WHERE d.status = 'pending'),
       a AS (${INSERT_AUDIT} SELECT ${audit(15)} FROM d WHERE d.status = 'approved')`
    : '';
  const text = `WITH d AS (UPDATE pending_requests SET
      status = CASE WHEN ${FIRST} THEN 'pending' ELSE 'approved' END,
      first_approved_by = CASE WHEN ${FIRST} THEN $2 ELSE first_approved_by END,
      first_approved_at = CASE WHEN ${FIRST} THEN $5 ELSE first_approved_at END,
      decided_by = CASE WHEN ${FIRST} THEN NULL ELSE $2 END,
      decided_at = CASE WHEN ${FIRST} THEN NULL ELSE $5::timestamptz END,
      reason = CASE WHEN ${FIRST} THEN reason ELSE $4 END
    WHERE id = $1 AND status = 'pending' AND ($3::int = 1 OR first_approved_by IS NULL OR first_approved_by <> $2)
    RETURNING status)${audits} SELECT status FROM d`;
  const eventValues = (e: NewAuditEvent) => auditValues(e, now);
  return { text, values: [id, officer, required, reason, at, ...(events ? [...eventValues(events.first), ...eventValues(events.approved)] : [])] };
}

const OVERLAP_LIMIT = 200;

/** $1 subjects, $2 key ids. */
// One branch per index; rows found by both are listed once by the caller.
export const OVERLAPPING_REQUESTS_SQL = `SELECT * FROM pending_requests WHERE subject = ANY($1::text[]) AND status IN ('pending', 'approved')
  UNION ALL SELECT * FROM pending_requests WHERE key_id = ANY($2::text[]) AND status IN ('pending', 'approved')
  ORDER BY id DESC LIMIT ${OVERLAP_LIMIT}`;

/** $1 subjects, $2 key ids, $3 now. */
export const OVERLAPPING_CERTIFICATES_SQL = `SELECT ${CERTIFICATE_COLUMNS} FROM certificates
    WHERE subject = ANY($1::text[]) AND status = 'valid' AND not_after >= $3::timestamptz
  UNION ALL SELECT ${CERTIFICATE_COLUMNS} FROM certificates
    WHERE serial IN (SELECT serial FROM pending_requests WHERE key_id = ANY($2::text[]) AND status = 'issued') AND status = 'valid' AND not_after >= $3::timestamptz
  ORDER BY created_at DESC LIMIT ${OVERLAP_LIMIT}`;

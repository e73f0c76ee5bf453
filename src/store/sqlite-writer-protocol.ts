/** Messages between the SQLite store and its writer thread (sqlite-writer-worker.ts). */
import { StoreConflictError, StoreUnavailableError } from './store.js';

export type Params = Record<string, unknown>;

export type WriteOp =
  | {
      kind: 'issuance'; what: string; conflict: string; certificate: Params; audit: Params;
      /** Renewal: revoke the renewed certificate (`certificate.renews`) as superseded, and/or refuse a second successor. */
      renewal?: { supersede?: { at: string; audit: Params }; once?: boolean };
      /** Mark this approved pending request issued (`certificate.serial`), or fail the whole write. */
      approvedRequestId?: number;
    }
  | { kind: 'audit'; what: string; conflict: string; audit: Params }
  /** Revoke a valid certificate and record `audit` with it; the value is the certificate's CA, null when nothing was revoked. */
  | { kind: 'revoke'; what: string; conflict: string; revocation: Params; audit?: Params }
  /** Release a certificate from hold (valid again) and record `audit` with it; the value is its CA, null when it was not on hold. */
  | { kind: 'release'; what: string; conflict: string; release: Params; audit?: Params }
  /** Decide a request that is still pending and record `audit` with it; the value is whether it was. */
  | { kind: 'decide'; what: string; conflict: string; decision: Params; audit?: Params };

/** What a committed write tells its caller: an issuance that superseded a certificate, the CA of that certificate. */
export type WriteValue = { supersededCa: string } | string | boolean | null | undefined;

export interface WriterInit {
  path: string;
  busyTimeoutMs: number;
}

export interface BatchRequest {
  id: number;
  writes: WriteOp[];
}

export type WireError = { type: 'conflict' | 'unavailable' | 'other'; message: string };

/**
 * Per write: null when it committed, else why not; `values` per write when any write returned one.
 * `counter`: the change counter (migration "change counter for caches") when the batch's transaction
 * began and when it ended, so the store can tell its own commits from another process's.
 */
export interface BatchReply {
  id: number;
  results: Array<WireError | null>;
  values?: WriteValue[];
  counter?: { before: number; after: number };
}

export const INSERT_CERTIFICATE_SQL = `INSERT INTO certificates (serial, profile, ca, subject, sans, not_before, not_after, der,
  requester, renews, status, revoked_at, revocation_reason, created_at) VALUES (@serial, @profile, @ca, @subject,
  @sans, @not_before, @not_after, @der, @requester, @renews, 'valid', NULL, NULL, @now)`;

export const SUPERSEDE_SQL = `UPDATE certificates SET status = 'revoked', revoked_at = @at, revocation_reason = 'superseded'
  WHERE serial = @serial AND status = 'valid' RETURNING ca`;

export const REVOKE_SQL = `UPDATE certificates SET status = 'revoked', revoked_at = @at, revocation_reason = @reason,
  revoked_by = @actor WHERE serial = @serial AND status = 'valid' RETURNING ca`;

/** RFC 5280 §5.3.1: only a certificateHold can be undone; the certificate is valid again. */
export const RELEASE_HOLD_SQL = `UPDATE certificates SET status = 'valid', revoked_at = NULL, revocation_reason = NULL, revoked_by = NULL
  WHERE serial = @serial AND status = 'revoked' AND revocation_reason = 'certificateHold' RETURNING ca`;

export const DECIDE_PENDING_SQL = `UPDATE pending_requests SET status = @status, reason = @reason, decided_by = @officer,
  decided_at = @at WHERE id = @id AND status = 'pending'`;

export const CHANGE_COUNTER_SQL = 'SELECT n FROM change_counter WHERE id = 1';

export const MARK_PENDING_ISSUED_SQL = `UPDATE pending_requests SET status = 'issued', serial = @serial WHERE id = @id AND status = 'approved'`;

/** The request an issued certificate fulfilled (index pending_requests_serial). */
export const FIND_REQUEST_FOR_SQL = 'SELECT * FROM pending_requests WHERE serial = @serial ORDER BY id DESC LIMIT 1';

export const FIND_RENEWAL_SQL = 'SELECT serial FROM certificates WHERE renews = @serial LIMIT 1';

export function toWire(err: unknown): WireError {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof StoreConflictError) return { type: 'conflict', message };
  if (err instanceof StoreUnavailableError) return { type: 'unavailable', message };
  return { type: 'other', message };
}

export function fromWire(e: WireError): Error {
  switch (e.type) {
    case 'conflict':
      return new StoreConflictError(e.message);
    case 'unavailable':
      return new StoreUnavailableError(e.message);
    case 'other':
      return new StoreUnavailableError(`group commit: ${e.message}`);
  }
}

/** Row shapes of the SQLite schema and their conversion to and from the Store's types. */
import { auditOrigin } from '../http/request-context.js';
import { StoreConflictError, StoreUnavailableError } from './store.js';
import { DAY_SECONDS, wholeDaysOf } from '../ra/validity.js';
import { type Account, type AccountRole, type AuditEvent, type AuthMechanism, authMethodOf, type ClientCertificateSummary, type CertificateRecord, type CertificateStatus, type DeviceRevocation, type NewAuditEvent, type NewProfile, DEFAULT_DEVICE_REVOCATION, DEFAULT_RENEWAL, EMPTY_NAME_POLICY, type NamePolicy, type RenewalPolicy, type PendingRequest, type PendingStatus, type Profile } from '../ra/model.js';

export type Params = Record<string, unknown>;

export interface AccountRow {
  id: number; email: string; password_hash: string; role: string; disabled: number; allowed_names: string; allowed_profiles: string; unlocked_at: string | null; self_service: number;
  created_at: string; updated_at: string;
}
export interface ProfileRow {
  label: string; enabled: number; ca: string; auth: string; client_trust_anchors: string; validity_days: number; validity_seconds: number | null; retired_at: string | null;
  key_algorithms: string; key_usage: string; extended_key_usage: string; allowed_accounts: string; csr_attrs: string;
  approval: string; retry_after_seconds: number; pending_ttl_hours: number; pop_linking: string; name_policy: string;
  device_revocation: string; renewal: string; approvals: number;
  created_at: string; updated_at: string;
}
export interface PendingRow {
  id: number; profile: string; operation: string; requester: string; key_id: string; csr: Buffer; subject: string; sans: string;
  key_description: string; status: string; reason: string | null; created_at: string; expires_at: string;
  decided_by: string | null; decided_at: string | null; serial: string | null;
  client_address: string | null; auth_method: string | null; client_certificate: string | null;
  first_approved_by: string | null; first_approved_at: string | null;
}
export interface CertificateRow {
  serial: string; profile: string; ca: string; subject: string; sans: string; not_before: string; not_after: string;
  der: Buffer; requester: string; renews: string | null; status: string; revoked_at: string | null;
  revocation_reason: string | null; revoked_by: string | null; renewed_by: string | null; created_at: string;
}
export interface AuditRow {
  id: number; at: string; actor: string; action: string; profile: string | null; outcome: string; serial: string | null; detail: string | null;
  client_ip: string | null; request_id: string | null;
}

/** Conditions of the database, not of the request: the caller should answer 503 / retry later. */
const UNAVAILABLE_CODE = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|READONLY|FULL|PROTOCOL|CORRUPT|NOTADB)/;
const UNAVAILABLE_FS_CODE = /^(ENOENT|EACCES|EPERM|EROFS|ENOSPC|EISDIR|ENOTDIR|EIO|EMFILE|ENFILE)$/;

/**
 * Maps a driver error to the Store's typed errors; anything else (a bug, a bad argument)
 * passes through unchanged.
 */
export function mapSqliteError(err: unknown, what: string, conflict = 'already exists'): unknown {
  if (err instanceof StoreUnavailableError || err instanceof StoreConflictError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new StoreConflictError(`${what}: ${conflict}`);
  }
  if (typeof code === 'string' && (UNAVAILABLE_CODE.test(code) || UNAVAILABLE_FS_CODE.test(code))) {
    return new StoreUnavailableError(`${what}: ${message}`, { cause: err });
  }
  if (err instanceof TypeError && /database connection is not open/i.test(message)) {
    return new StoreUnavailableError(`${what}: the database is closed`, { cause: err });
  }
  return err;
}

export function iso(date: Date): string {
  return date.toISOString();
}

export function toAccount(r: AccountRow): Account {
  return {
    id: r.id,
    email: r.email,
    passwordHash: r.password_hash,
    role: r.role as AccountRole,
    disabled: r.disabled !== 0,
    allowedNames: JSON.parse(r.allowed_names) as string[],
    allowedProfiles: JSON.parse(r.allowed_profiles) as string[],
    unlockedAt: r.unlocked_at ? new Date(r.unlocked_at) : null,
    selfService: r.self_service === 1,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

export function toProfile(r: ProfileRow): Profile {
  return {
    label: r.label,
    enabled: r.enabled !== 0,
    ca: r.ca,
    auth: r.auth as AuthMechanism,
    clientTrustAnchors: JSON.parse(r.client_trust_anchors) as Profile['clientTrustAnchors'],
    // a row an older instance wrote has days only
    validitySeconds: r.validity_seconds ?? Math.round(r.validity_days * DAY_SECONDS),
    keyAlgorithms: JSON.parse(r.key_algorithms) as Profile['keyAlgorithms'],
    keyUsage: JSON.parse(r.key_usage) as Profile['keyUsage'],
    extendedKeyUsage: JSON.parse(r.extended_key_usage) as string[],
    allowedAccounts: JSON.parse(r.allowed_accounts) as string[],
    csrAttrs: JSON.parse(r.csr_attrs) as string[],
    approval: r.approval === 'manual' ? 'manual' : 'auto',
    retryAfterSeconds: r.retry_after_seconds,
    pendingTtlHours: r.pending_ttl_hours,
    popLinking: r.pop_linking === 'required' || r.pop_linking === 'optional' ? r.pop_linking : 'off',
    namePolicy: { ...EMPTY_NAME_POLICY, ...(JSON.parse(r.name_policy) as Partial<NamePolicy>) },
    deviceRevocation: { ...DEFAULT_DEVICE_REVOCATION, ...(JSON.parse(r.device_revocation) as Partial<DeviceRevocation>) },
    renewal: { ...DEFAULT_RENEWAL, ...(JSON.parse(r.renewal) as Partial<RenewalPolicy>) },
    approvals: r.approvals === 2 ? 2 : 1,
    retiredAt: r.retired_at ? new Date(r.retired_at) : null,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

export function profileParams(p: NewProfile, now: string): Params {
  return {
    label: p.label,
    enabled: p.enabled ? 1 : 0,
    ca: p.ca,
    auth: p.auth,
    client_trust_anchors: JSON.stringify(p.clientTrustAnchors),
    validity_days: wholeDaysOf(p.validitySeconds),
    validity_seconds: p.validitySeconds,
    key_algorithms: JSON.stringify(p.keyAlgorithms),
    key_usage: JSON.stringify(p.keyUsage),
    extended_key_usage: JSON.stringify(p.extendedKeyUsage),
    allowed_accounts: JSON.stringify(p.allowedAccounts),
    csr_attrs: JSON.stringify(p.csrAttrs),
    approval: p.approval,
    retry_after_seconds: p.retryAfterSeconds,
    pending_ttl_hours: p.pendingTtlHours,
    pop_linking: p.popLinking,
    name_policy: JSON.stringify(p.namePolicy),
    device_revocation: JSON.stringify(p.deviceRevocation),
    renewal: JSON.stringify(p.renewal),
    approvals: p.approvals,
    now,
  };
}

export function toPending(r: PendingRow): PendingRequest {
  return {
    id: r.id,
    profile: r.profile,
    operation: r.operation,
    requester: r.requester,
    keyId: r.key_id,
    csr: r.csr,
    subject: r.subject,
    sans: JSON.parse(r.sans) as string[],
    keyDescription: r.key_description,
    status: r.status as PendingStatus,
    reason: r.reason,
    createdAt: new Date(r.created_at),
    expiresAt: new Date(r.expires_at),
    decidedBy: r.decided_by,
    decidedAt: r.decided_at === null ? null : new Date(r.decided_at),
    serial: r.serial,
    clientAddress: r.client_address,
    authMethod: authMethodOf(r.auth_method),
    clientCertificate: r.client_certificate === null ? null : JSON.parse(r.client_certificate) as ClientCertificateSummary,
    firstApproval: r.first_approved_by && r.first_approved_at ? { by: r.first_approved_by, at: new Date(r.first_approved_at) } : null,
  };
}

export function toCertificate(r: CertificateRow): CertificateRecord {
  return {
    serial: r.serial,
    profile: r.profile,
    ca: r.ca,
    subject: r.subject,
    sans: JSON.parse(r.sans) as string[],
    notBefore: new Date(r.not_before),
    notAfter: new Date(r.not_after),
    der: r.der,
    requester: r.requester,
    renews: r.renews,
    status: r.status as CertificateStatus,
    revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at),
    revocationReason: r.revocation_reason,
    revokedBy: r.revoked_by ?? null,
    renewedBy: r.renewed_by ?? null,
    createdAt: new Date(r.created_at),
  };
}

export function toAudit(r: AuditRow): AuditEvent {
  return {
    id: r.id, at: new Date(r.at), actor: r.actor, action: r.action, profile: r.profile, outcome: r.outcome, serial: r.serial, detail: r.detail,
    clientIp: r.client_ip, requestId: r.request_id,
  };
}

export function auditParams(e: NewAuditEvent, now: string): Params {
  return {
    at: e.at ? iso(e.at) : now,
    actor: e.actor,
    action: e.action,
    profile: e.profile,
    outcome: e.outcome,
    serial: e.serial,
    detail: e.detail,
    ...originParams(e),
  };
}

/** client_ip and request_id: the event's own, else the request being served (http/request-context.ts). */
function originParams(e: NewAuditEvent): Params {
  const o = auditOrigin(e);
  return { client_ip: o.clientIp, request_id: o.requestId };
}

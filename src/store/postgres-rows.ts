/**
 * Row shapes of the PostgreSQL schema, their conversion to the Store's types, and the mapping
 * of driver errors to the Store's typed errors. The driver already returns timestamptz as Date,
 * bytea as Buffer and jsonb parsed; bigint (int8) and numeric arrive as strings.
 */
import { auditOrigin } from '../http/request-context.js';
import { StoreConflictError, StoreUnavailableError } from './store.js';
import { DAY_SECONDS, wholeDaysOf } from '../ra/validity.js';
import {
  type Account, type AccountRole, type AuditEvent, type AuthMechanism, type ClientCertificateSummary, authMethodOf, type CertificateRecord, type CertificateStatus, type DeviceRevocation,
  type NamePolicy, type NewAuditEvent, type NewProfile, type PendingRequest, type PendingStatus, type Profile, type RenewalPolicy,
  DEFAULT_DEVICE_REVOCATION, DEFAULT_RENEWAL, EMPTY_NAME_POLICY,
} from '../ra/model.js';

export interface AccountRow {
  id: number; email: string; password_hash: string; role: string; disabled: boolean; allowed_names: string[]; allowed_profiles: string[]; self_service: boolean;
  unlocked_at: Date | null; created_at: Date; updated_at: Date;
}
export interface ProfileRow {
  label: string; enabled: boolean; ca: string; auth: string; client_trust_anchors: string[]; validity_days: number; validity_seconds: number | null; retired_at: Date | null;
  key_algorithms: Profile['keyAlgorithms']; key_usage: Profile['keyUsage']; extended_key_usage: string[]; allowed_accounts: string[];
  csr_attrs: string[]; approval: string; retry_after_seconds: number; pending_ttl_hours: number; pop_linking: string;
  name_policy: Partial<NamePolicy>; device_revocation: Partial<DeviceRevocation>; renewal: Partial<RenewalPolicy>; approvals: number;
  created_at: Date; updated_at: Date;
}
export interface PendingRow {
  id: number; profile: string; operation: string; requester: string; key_id: string; csr: Buffer; subject: string; sans: string[];
  key_description: string; status: string; reason: string | null; created_at: Date; expires_at: Date;
  decided_by: string | null; decided_at: Date | null; serial: string | null;
  client_address: string | null; auth_method: string | null; client_certificate: ClientCertificateSummary | null;
  first_approved_by: string | null; first_approved_at: Date | null;
}
export interface CertificateRow {
  serial: string; profile: string; ca: string; subject: string; sans: string; not_before: Date; not_after: Date;
  der: Buffer; requester: string; renews: string | null; status: string; revoked_at: Date | null;
  revocation_reason: string | null; revoked_by: string | null; renewed_by: string | null; created_at: Date;
}
export interface AuditRow {
  id: string; at: Date; actor: string; action: string; profile: string | null; outcome: string; serial: string | null; detail: string | null;
  client_ip: string | null; request_id: string | null;
}

/** Named (prepared) statements list their columns: a later migration adding one must not break running instances. */
export const ACCOUNT_COLUMNS = 'id, email, password_hash, role, disabled, allowed_names, allowed_profiles, self_service, unlocked_at, created_at, updated_at';

export const CERTIFICATE_COLUMNS = `serial, profile, ca, subject, sans, not_before, not_after, der, requester, renews, status,
  revoked_at, revocation_reason, revoked_by, renewed_by, created_at`;

export const PROFILE_COLUMNS = `label, enabled, ca, auth, client_trust_anchors, validity_days, key_algorithms, key_usage,
  extended_key_usage, allowed_accounts, csr_attrs, approval, retry_after_seconds, pending_ttl_hours, pop_linking, name_policy,
  device_revocation, renewal, approvals, created_at, updated_at, validity_seconds, retired_at`;

/** SQLSTATE the store's own functions raise for a refused composite (not approved, renewed once). */
export const CONFLICT_STATE = 'ES409';

/**
 * SQLSTATE classes of the database's condition rather than of the request: connection failures
 * (08), resources (53), operator intervention incl. shutdown and statement timeout (57),
 * system errors (58), authentication (28), no such database (3D), serialization (40).
 */
const UNAVAILABLE_CLASS = /^(08|53|57|58|28|3D|40)/;
const NETWORK_CODE = /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|ENOENT|EACCES)$/;
const DRIVER_DOWN = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|Cannot use a pool after calling end/i;

/**
 * Maps a driver error to the Store's typed errors; anything else (a bug, a bad argument) passes
 * through unchanged. `where` names the database (host, port, database; never the password).
 */
export function mapPgError(err: unknown, what: string, where: string, conflict = 'already exists'): unknown {
  if (err instanceof StoreUnavailableError || err instanceof StoreConflictError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === '23505') return new StoreConflictError(`${what}: ${conflict}`);
  if (code === CONFLICT_STATE) return new StoreConflictError(`${what}: ${message}`);
  if ((typeof code === 'string' && (UNAVAILABLE_CLASS.test(code) || NETWORK_CODE.test(code))) || DRIVER_DOWN.test(message)) {
    return new StoreUnavailableError(`${what}: PostgreSQL at ${where}: ${message || code}`, { cause: err });
  }
  return err;
}

/** host:port/database as user, from a connection URL, without the password. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    const db = decodeURIComponent(u.pathname.replace(/^\//, '')) || '(default database)';
    const user = u.username ? ` as ${decodeURIComponent(u.username)}` : '';
    return `${host}:${u.port || '5432'}/${db}${user}`;
  } catch {
    return '(unparseable database URL)';
  }
}

/**
 * PostgreSQL text cannot hold NUL (SQLite can): a NUL in a value (a crafted subject, a client
 * certificate's name) is stored as U+FFFD, the replacement character, instead of failing the write.
 */
export function pgText(s: string): string {
  return s.includes('\0') ? s.replaceAll('\0', '\uFFFD') : s;
}

/** JSON for a jsonb parameter, with NULs replaced as in pgText (jsonb refuses \u0000). */
export function json(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'string' ? pgText(v) : v));
}

/**
 * Failure-counter keys hold NUL as a separator (`p:<address>\0<email>`): stored with NUL and
 * backslash escaped, reversibly, so notices give back the key the caller used.
 */
export function encodeKey(key: string): string {
  return key.replace(/[\\\0]/g, (c) => (c === '\0' ? '\\0' : '\\\\'));
}

export function decodeKey(stored: string): string {
  return stored.replace(/\\([\\0])/g, (_m, c: string) => (c === '0' ? '\0' : '\\'));
}

export function toAccount(r: AccountRow): Account {
  return {
    id: r.id,
    email: r.email,
    passwordHash: r.password_hash,
    role: r.role as AccountRole,
    disabled: r.disabled,
    allowedNames: r.allowed_names,
    allowedProfiles: r.allowed_profiles,
    unlockedAt: r.unlocked_at,
    selfService: r.self_service,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function toProfile(r: ProfileRow): Profile {
  return {
    label: r.label,
    enabled: r.enabled,
    ca: r.ca,
    auth: r.auth as AuthMechanism,
    clientTrustAnchors: r.client_trust_anchors,
    // a row an older instance wrote has days only
    validitySeconds: r.validity_seconds ?? r.validity_days * DAY_SECONDS,
    keyAlgorithms: r.key_algorithms,
    keyUsage: r.key_usage,
    extendedKeyUsage: r.extended_key_usage,
    allowedAccounts: r.allowed_accounts,
    csrAttrs: r.csr_attrs,
    approval: r.approval === 'manual' ? 'manual' : 'auto',
    retryAfterSeconds: r.retry_after_seconds,
    pendingTtlHours: r.pending_ttl_hours,
    popLinking: r.pop_linking === 'required' || r.pop_linking === 'optional' ? r.pop_linking : 'off',
    namePolicy: { ...EMPTY_NAME_POLICY, ...r.name_policy },
    deviceRevocation: { ...DEFAULT_DEVICE_REVOCATION, ...r.device_revocation },
    renewal: { ...DEFAULT_RENEWAL, ...r.renewal },
    approvals: r.approvals === 2 ? 2 : 1,
    retiredAt: r.retired_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** $1..$20 of the profile statements: the first 18 PROFILE_COLUMNS in order, then approvals and validity_seconds (JSON values as text). */
export function profileValues(p: NewProfile): unknown[] {
  const j = json;
  return [
    p.label, p.enabled, p.ca, p.auth, j(p.clientTrustAnchors), wholeDaysOf(p.validitySeconds), j(p.keyAlgorithms), j(p.keyUsage),
    j(p.extendedKeyUsage), j(p.allowedAccounts), j(p.csrAttrs), p.approval, p.retryAfterSeconds, p.pendingTtlHours,
    p.popLinking, j(p.namePolicy), j(p.deviceRevocation), j(p.renewal), p.approvals, p.validitySeconds,
  ];
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
    sans: r.sans,
    keyDescription: r.key_description,
    status: r.status as PendingStatus,
    reason: r.reason,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    serial: r.serial,
    clientAddress: r.client_address,
    authMethod: authMethodOf(r.auth_method),
    clientCertificate: r.client_certificate,
    firstApproval: r.first_approved_by && r.first_approved_at ? { by: r.first_approved_by, at: r.first_approved_at } : null,
  };
}

export function toCertificate(r: CertificateRow): CertificateRecord {
  return {
    serial: r.serial,
    profile: r.profile,
    ca: r.ca,
    subject: r.subject,
    sans: JSON.parse(r.sans) as string[],
    notBefore: r.not_before,
    notAfter: r.not_after,
    der: r.der,
    requester: r.requester,
    renews: r.renews,
    status: r.status as CertificateStatus,
    revokedAt: r.revoked_at,
    revocationReason: r.revocation_reason,
    revokedBy: r.revoked_by ?? null,
    renewedBy: r.renewed_by ?? null,
    createdAt: r.created_at,
  };
}

export function toAudit(r: AuditRow): AuditEvent {
  return {
    id: Number(r.id), at: r.at, actor: r.actor, action: r.action, profile: r.profile, outcome: r.outcome, serial: r.serial, detail: r.detail,
    clientIp: r.client_ip, requestId: r.request_id,
  };
}

/**
 * An audit event as the object the store's functions read from jsonb (jsonb_to_record), with
 * client_ip and request_id: the event's own, else the request being served (http/request-context.ts).
 */
export function auditObject(e: NewAuditEvent, now: Date): Record<string, unknown> {
  const o = auditOrigin(e);
  return {
    at: (e.at ?? now).toISOString(), actor: e.actor, action: e.action, profile: e.profile, outcome: e.outcome, serial: e.serial, detail: e.detail,
    client_ip: o.clientIp, request_id: o.requestId,
  };
}

/** $n.. of an audit INSERT (AUDIT_COLUMNS): at, actor, action, profile, outcome, serial, detail, client_ip, request_id. */
export function auditValues(e: NewAuditEvent, now: Date): unknown[] {
  const o = auditOrigin(e);
  return [e.at ?? now, e.actor, e.action, e.profile, e.outcome, e.serial, e.detail, o.clientIp, o.requestId];
}

/** The columns an audit INSERT names (the chain's seq, prev_hash and hash are the trigger's). */
export const INSERT_AUDIT = 'INSERT INTO audit_events (at, actor, action, profile, outcome, serial, detail, client_ip, request_id)';
/** The audit columns as typed parameters from $n on (INSERT … SELECT needs the types). */
export const auditParamList = (n: number) =>
  `$${n}::timestamptz, $${n + 1}::text, $${n + 2}::text, $${n + 3}::text, $${n + 4}::text, $${n + 5}::text, $${n + 6}::text, $${n + 7}::text, $${n + 8}::text`;
/** jsonb_to_record's column list for an audit event. */
export const AUDIT_RECORD = 'a(at timestamptz, actor text, action text, profile text, outcome text, serial text, detail text, client_ip text, request_id text)';

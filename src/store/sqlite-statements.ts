/** The SQLite store's fixed statements, prepared once per connection. */
import type Database from 'better-sqlite3';
import { MARK_PENDING_ISSUED_SQL } from './sqlite-writer-protocol.js';
import { chainedAuditInsert } from './sqlite-audit-chain.js';
import type { AccountRow, CertificateRow, Params, PendingRow, ProfileRow } from './sqlite-rows.js';

export const PROFILE_COLUMNS = `label, enabled, ca, auth, client_trust_anchors, validity_days, key_algorithms, key_usage,
  extended_key_usage, allowed_accounts, csr_attrs, approval, retry_after_seconds, pending_ttl_hours, pop_linking, name_policy, device_revocation, renewal,
  approvals, created_at, updated_at, validity_seconds, retired_at`;

export function prepareStatements(db: Database.Database) {
  const p = <R = unknown>(sql: string) => db.prepare<[Params?], R>(sql);
  return {
    insertAccount: p<AccountRow>(`INSERT INTO accounts (email, password_hash, role, disabled, created_at, updated_at)
      VALUES (@email, @password_hash, @role, 0, @now, @now) RETURNING *`),
    getAccount: p<AccountRow>('SELECT * FROM accounts WHERE email = @email'),
    listAccounts: p<AccountRow>('SELECT * FROM accounts ORDER BY id'),
    setPassword: p('UPDATE accounts SET password_hash = @password_hash, updated_at = @now WHERE email = @email'),
    setDisabled: p('UPDATE accounts SET disabled = @disabled, updated_at = @now WHERE email = @email'),
    setAllowedNames: p('UPDATE accounts SET allowed_names = @names, updated_at = @now WHERE email = @email'),
    setAllowedProfiles: p('UPDATE accounts SET allowed_profiles = @labels, updated_at = @now WHERE email = @email'),
    setSelfService: p('UPDATE accounts SET self_service = @enabled, updated_at = @now WHERE email = @email'),
    unlockAccount: p('UPDATE accounts SET unlocked_at = @at WHERE email = @email'),
    insertProfile: p(`INSERT INTO profiles (${PROFILE_COLUMNS}) VALUES (@label, @enabled, @ca, @auth, @client_trust_anchors,
      @validity_days, @key_algorithms, @key_usage, @extended_key_usage, @allowed_accounts, @csr_attrs, @approval,
      @retry_after_seconds, @pending_ttl_hours, @pop_linking, @name_policy, @device_revocation, @renewal, @approvals, @now, @now, @validity_seconds, NULL)`),
    // a retired profile stays disabled, whatever is written
    updateProfile: p(`UPDATE profiles SET enabled = CASE WHEN retired_at IS NULL THEN @enabled ELSE 0 END, ca = @ca, auth = @auth, client_trust_anchors = @client_trust_anchors,
      validity_days = @validity_days, validity_seconds = @validity_seconds, key_algorithms = @key_algorithms, key_usage = @key_usage,
      extended_key_usage = @extended_key_usage, allowed_accounts = @allowed_accounts, csr_attrs = @csr_attrs,
      approval = @approval, retry_after_seconds = @retry_after_seconds, pending_ttl_hours = @pending_ttl_hours,
      pop_linking = @pop_linking, name_policy = @name_policy, device_revocation = @device_revocation, renewal = @renewal, approvals = @approvals,
      updated_at = @now WHERE label = @label`),
    getProfile: p<ProfileRow>(`SELECT ${PROFILE_COLUMNS} FROM profiles WHERE label = @label`),
    listProfiles: p<ProfileRow>(`SELECT ${PROFILE_COLUMNS} FROM profiles ORDER BY label`),
    // only a profile nothing refers to: no certificate, no request (held or decided)
    deleteProfile: p(`DELETE FROM profiles WHERE label = @label
      AND NOT EXISTS (SELECT 1 FROM certificates WHERE profile = @label) AND NOT EXISTS (SELECT 1 FROM pending_requests WHERE profile = @label)`),
    retireProfile: p('UPDATE profiles SET retired_at = @at, enabled = 0, updated_at = @at WHERE label = @label AND retired_at IS NULL'),
    deleteAccount: p('DELETE FROM accounts WHERE email = @email'),
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    insertPending: p<PendingRow>(`INSERT INTO pending_requests (profile, operation, requester, key_id, csr, subject, sans,
      key_description, status, created_at, expires_at, client_address, auth_method, client_certificate) VALUES (@profile,
      @operation, @requester, @key_id, @csr, @subject, @sans, @key_description, 'pending', @created_at, @expires_at,
      @client_address, @auth_method, @client_certificate) RETURNING *`),
    findPending: p<PendingRow>(`SELECT * FROM pending_requests WHERE profile = @profile AND requester = @requester
      AND key_id = @key_id AND status <> 'issued' ORDER BY id DESC LIMIT 1`),
    getPending: p<PendingRow>('SELECT * FROM pending_requests WHERE id = @id'),
    issuedPending: p(MARK_PENDING_ISSUED_SQL),
    /** Appends to the audit chain: only inside a write transaction. */
    insertAudit: chainedAuditInsert(db),
    getCertificate: p<CertificateRow>('SELECT * FROM certificates WHERE serial = @serial'),
    status: p<{ status: string }>('SELECT status FROM certificates WHERE serial = @serial'),
    revoked: p<{ serial: string; revoked_at: string; revocation_reason: string; not_after: string }>(`SELECT serial, revoked_at,
      revocation_reason, not_after FROM certificates WHERE ca = @ca AND status = 'revoked' ORDER BY revoked_at, serial`),
    revokedPage: p<{ serial: string; revoked_at: string; revocation_reason: string; not_after: string }>(`SELECT serial, revoked_at,
      revocation_reason, not_after FROM certificates WHERE ca = @ca AND status = 'revoked'
      AND (revoked_at > @at OR (revoked_at = @at AND serial > @serial)) ORDER BY revoked_at, serial LIMIT @limit`),
    revocationSummary: p<{ count: number; latest: string | null; released: number }>(`SELECT revoked AS count, latest, released
      FROM revocation_counts WHERE ca = @ca`),
  };
}

export type SqliteStatements = ReturnType<typeof prepareStatements>;

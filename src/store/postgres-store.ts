/**
 * The Store on PostgreSQL, for several Estuary instances sharing one database. A bounded pool
 * (`poolSize`, default 10) with a statement timeout on every query; versioned migrations applied
 * once under an advisory lock (postgres-migrations.ts); one LISTEN connection that turns other
 * instances' NOTIFYs into `changes` (postgres-listener.ts).
 *
 * Every method is one statement, hence one round trip and one transaction, whatever it commits
 * together: data-modifying CTEs for revoke/decide/hold with their audit events, a plpgsql
 * function for recordIssuance with its renewal and approval links. Issuances and audit events
 * queued while earlier ones commit go out together (group commit, postgres-batch.ts). A call
 * resolves after its COMMIT returned (synchronous_commit: durable on the server's disk).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { ChangeHub } from './change-hub.js';
import { ChangeListener } from './postgres-listener.js';
import { CHANGE_CHANNEL, migratePostgres } from './postgres-migrations.js';
import {
  ACCOUNT_COLUMNS, CERTIFICATE_COLUMNS, PROFILE_COLUMNS, INSERT_AUDIT, auditParamList, auditObject, json, pgText, auditValues, describeUrl, mapPgError, profileValues, toAccount, toAudit,
  toCertificate, toPending, toProfile, type AccountRow, type AuditRow, type CertificateRow, type PendingRow, type ProfileRow,
} from './postgres-rows.js';
import { page } from './store-paging.js';
import { auditWhere, pendingWhere } from './postgres-search.js';
import { readAuditChainPage, readAuditChainStart } from './postgres-audit-chain.js';
import type { AuditChainLink, AuditChainStart } from './audit-chain.js';
import { PostgresReads } from './postgres-reads.js';
import { PostgresSharedState } from './postgres-shared.js';
import { approveStatement, OVERLAPPING_CERTIFICATES_SQL, OVERLAPPING_REQUESTS_SQL } from './postgres-request-approvals.js';
import { distinct } from './distinct.js';
import { PostgresMfa } from './postgres-mfa.js';
import { PostgresApiTokens } from './postgres-api-tokens.js';
import { PostgresLifecycle } from './postgres-lifecycle.js';
import { PostgresWebhooks } from './postgres-webhooks.js';
import type { ClaimedWebhookDelivery, NewWebhookEndpoint, WebhookAttempt, WebhookDelivery, WebhookDeliveryFilter, WebhookEndpoint } from './webhook-types.js';
import { batchRunner, WriteBatcher, type BatchStats } from './postgres-batch.js';
import { postgresConfig, type PostgresStoreOptions } from './postgres-connection.js';
import {
  StoreUnavailableError, type ApprovalEvents, type ApprovalResult, type AuditFilter, type CertificateCounts, type CertificateFilter, type CertificateSearch, type CrlKind, type DayCount,
  type FailureLimit, type FailureLock, type IssuanceLinks, type ProfileDeletion, type Page, type PendingFilter, type RequestOverlaps, type RevocationSummary, type RevokedCursor,
  type Store, type StoreChange, type StoredCrl, type WebSession, type AccountMfa, type SignInChallenge, type ApiToken, type NewApiToken,
} from './store.js';
import type { AdminRole } from '../ra/model.js';
import type {
  Account, ApprovalsRequired, AuditEvent, CertificateRecord, NewAccount, NewAuditEvent, NewCertificate, NewPendingRequest, NewProfile, PendingRequest, Profile,
  RevokedCertificate,
} from '../ra/model.js';

export { postgresConfig, type PostgresStoreOptions } from './postgres-connection.js';

const DEFAULT_LIMIT = 100;
const auditParams = auditParamList;

/** Connects, migrates and starts listening; StoreUnavailableError (naming host and database) when it cannot. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const where = describeUrl(url);
  const config = postgresConfig(url, options);
  const pool = new pg.Pool({ ...config, max: options.poolSize ?? 10 });
  pool.on('error', (err) => options.logger?.warn({ err: err.message, database: where }, 'an idle PostgreSQL connection failed'));
  const origin = randomUUID();
  const hub = new ChangeHub();
  const listener = new ChangeListener({ config, origin, hub, logger: options.logger });
  try {
    const client = await pool.connect();
    try {
      await migratePostgres(client, where);
    } finally {
      client.release();
    }
    await listener.start();
  } catch (err) {
    await listener.close();
    await pool.end().catch(() => undefined);
    const mapped = mapPgError(err, 'open', where);
    if (mapped instanceof StoreUnavailableError) throw mapped;
    const message = err instanceof Error ? err.message : String(err);
    throw new StoreUnavailableError(`cannot open PostgreSQL at ${where}: ${message}`, { cause: err });
  }
  return new PostgresStore(pool, listener, hub, origin, where, options);
}

export class PostgresStore implements Store {
  readonly changes: ChangeHub;
  private readonly now: () => Date;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly shared: PostgresSharedState;
  private readonly lifecycle: PostgresLifecycle;
  private readonly reads: PostgresReads;
  private readonly batcher: WriteBatcher;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    readonly listener: ChangeListener,
    hub: ChangeHub,
    private readonly origin: string,
    /** host:port/database as user (no password), for messages. */
    readonly where: string,
    options: PostgresStoreOptions = {},
  ) {
    this.changes = hub;
    this.now = options.now ?? (() => new Date());
    this.batcher = new WriteBatcher(batchRunner(pool, origin), where, options.groupCommit ?? Math.min(4, Math.max(1, (options.poolSize ?? 10) - 1)));
    this.reads = new PostgresReads((what, text, values) => this.query(what, text, values), this.now);
    const context = {
      query: <R extends pg.QueryResultRow>(what: string, text: string, values: unknown[]) => this.query<R>(what, text, values),
      origin,
      notify: (change: string) => this.notify(change),
      emit: (change: StoreChange) => this.changes.emit(change),
    };
    this.shared = new PostgresSharedState(context);
    this.lifecycle = new PostgresLifecycle(context);
  }

  /** SQL sending `change` (jsonb) on the change channel; the origin is our own UUID, safe as a literal. */
  private notify(change: string): string {
    return `pg_notify('${CHANGE_CHANNEL}', jsonb_build_object('o', '${this.origin}', 'c', ${change})::text)`;
  }

  /** Runs `fn` with the Store's error contract; close() waits for it. */
  private op<T>(what: string, fn: () => Promise<T>, conflict?: string): Promise<T> {
    if (this.closed) return Promise.reject(new StoreUnavailableError(`${what}: the store is closed`));
    let p: Promise<T>;
    try {
      p = fn().catch((err: unknown) => {
        throw mapPgError(err, what, this.where, conflict);
      });
    } catch (err) {
      return Promise.reject(err);
    }
    this.inflight.add(p);
    p.then(() => this.inflight.delete(p), () => this.inflight.delete(p));
    return p;
  }

  private query<R extends pg.QueryResultRow>(what: string, text: string, values: unknown[], conflict?: string, name?: string): Promise<{ rows: R[]; rowCount: number }> {
    return this.op(what, () => this.raw<R>(text, values, name), conflict);
  }

  /** One statement on the pool, inside an op (NUL-free text values, see pgText). */
  private async raw<R extends pg.QueryResultRow>(text: string, values: unknown[], name?: string): Promise<{ rows: R[]; rowCount: number }> {
    const safe = values.map((v) => (typeof v === 'string' ? pgText(v) : v));
    const r = await this.pool.query<R>(name ? { name, text, values: safe } : { text, values: safe });
    return { rows: r.rows, rowCount: r.rowCount ?? 0 };
  }

  private async changed(what: string, text: string, values: unknown[], change: StoreChange): Promise<boolean> {
    const { rowCount } = await this.query(what, text, values);
    if (rowCount > 0) this.changes.emit(change);
    return rowCount > 0;
  }

  async createAccount(account: NewAccount): Promise<Account> {
    const email = account.email.toLowerCase();
    const now = this.now();
    const { rows } = await this.query<AccountRow>('createAccount', `WITH i AS (INSERT INTO accounts (email, password_hash, role, created_at, updated_at)
      VALUES ($1, $2, $3, $4, $4) RETURNING *) SELECT i.*, ${this.notify(`jsonb_build_object('kind', 'account', 'email', i.email)`)} FROM i`,
    [email, account.passwordHash, account.role, now], `an account with email ${email} already exists`);
    this.changes.emit({ kind: 'account', email });
    return toAccount(rows[0]!);
  }

  async getAccount(email: string): Promise<Account | undefined> {
    const { rows } = await this.query<AccountRow>('getAccount', `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE email = $1`, [email.toLowerCase()], undefined, 'estuary_get_account');
    return rows[0] && toAccount(rows[0]);
  }

  async listAccounts(): Promise<Account[]> {
    return (await this.query<AccountRow>('listAccounts', 'SELECT * FROM accounts ORDER BY id', [])).rows.map(toAccount);
  }

  /** One UPDATE of an account by email, announced when it changed a row. */
  private updateAccount(what: string, set: string, email: string, values: unknown[]): Promise<boolean> {
    const key = email.toLowerCase();
    return this.changed(what, `WITH u AS (UPDATE accounts SET ${set} WHERE email = $1 RETURNING email)
      SELECT ${this.notify(`jsonb_build_object('kind', 'account', 'email', u.email)`)} FROM u`, [key, ...values], { kind: 'account', email: key });
  }

  setAccountPassword(email: string, passwordHash: string): Promise<boolean> {
    return this.updateAccount('setAccountPassword', 'password_hash = $2, updated_at = $3', email, [passwordHash, this.now()]);
  }

  setAccountDisabled(email: string, disabled: boolean): Promise<boolean> {
    return this.updateAccount('setAccountDisabled', 'disabled = $2, updated_at = $3', email, [disabled, this.now()]);
  }

  setAccountAllowedNames(email: string, names: string[]): Promise<boolean> {
    return this.updateAccount('setAccountAllowedNames', 'allowed_names = $2::jsonb, updated_at = $3', email, [json(names), this.now()]);
  }

  setAccountAllowedProfiles(email: string, labels: string[]): Promise<boolean> {
    return this.updateAccount('setAccountAllowedProfiles', 'allowed_profiles = $2::jsonb, updated_at = $3', email, [json(labels), this.now()]);
  }

  setAccountSelfService(email: string, enabled: boolean): Promise<boolean> {
    return this.updateAccount('setAccountSelfService', 'self_service = $2, updated_at = $3', email, [enabled, this.now()]);
  }

  unlockAccount(email: string, at: Date): Promise<boolean> {
    return this.updateAccount('unlockAccount', 'unlocked_at = $2', email, [at]);
  }

  async createProfile(profile: NewProfile): Promise<Profile> {
    const values = profileValues(profile);
    // $1..$19: label … renewal, approvals; $20 validity_seconds; $21 now (created_at, updated_at)
    const placeholders = values.slice(0, 19).map((_, i) => `$${i + 1}`).join(', ');
    const { rows } = await this.query<ProfileRow>('createProfile', `WITH i AS (INSERT INTO profiles (${PROFILE_COLUMNS})
      VALUES (${placeholders}, $21, $21, $20, NULL) RETURNING ${PROFILE_COLUMNS})
      SELECT i.*, ${this.notify(`jsonb_build_object('kind', 'profile', 'label', i.label)`)} FROM i`,
    [...values, this.now()], `a profile labelled ${profile.label} already exists`);
    this.changes.emit({ kind: 'profile', label: profile.label });
    return toProfile(rows[0]!);
  }

  updateProfile(profile: NewProfile): Promise<boolean> {
    const values = profileValues(profile);
    // a retired profile stays disabled, whatever is written; $3..$18 the settings after label and enabled, in PROFILE_COLUMNS order
    const columns = PROFILE_COLUMNS.split(',').map((c) => c.trim()).slice(2, 18);
    const set = ['enabled = CASE WHEN retired_at IS NULL THEN $2 ELSE false END', ...columns.map((c, i) => `${c} = $${i + 3}`)].join(', ');
    return this.changed('updateProfile', `WITH u AS (UPDATE profiles SET ${set}, approvals = $19, validity_seconds = $20, updated_at = $21 WHERE label = $1 RETURNING label)
      SELECT ${this.notify(`jsonb_build_object('kind', 'profile', 'label', u.label)`)} FROM u`,
    [...values, this.now()], { kind: 'profile', label: profile.label });
  }

  deleteProfile(label: string): Promise<ProfileDeletion> { return this.lifecycle.deleteProfile(label); }
  retireProfile(label: string, at: Date): Promise<boolean> { return this.lifecycle.retireProfile(label, at); }
  deleteAccount(email: string): Promise<boolean> { return this.lifecycle.deleteAccount(email, (e) => this.deleteSessionsOf(e)); }

  async getProfile(label: string): Promise<Profile | undefined> {
    const { rows } = await this.query<ProfileRow>('getProfile', `SELECT ${PROFILE_COLUMNS} FROM profiles WHERE label = $1`, [label], undefined, 'estuary_get_profile');
    return rows[0] && toProfile(rows[0]);
  }

  async listProfiles(): Promise<Profile[]> {
    return (await this.query<ProfileRow>('listProfiles', `SELECT ${PROFILE_COLUMNS} FROM profiles ORDER BY label`, [])).rows.map(toProfile);
  }

  async recordIssuance(certificate: NewCertificate, event: NewAuditEvent, links: IssuanceLinks = {}): Promise<void> {
    const now = this.now();
    const item: Record<string, unknown> = {
      c: {
        serial: certificate.serial, profile: certificate.profile, ca: certificate.ca, subject: certificate.subject,
        sans: json(certificate.sans), not_before: certificate.notBefore.toISOString(), not_after: certificate.notAfter.toISOString(),
        requester: certificate.requester, renews: certificate.renews, created_at: now.toISOString(),
      },
      audit: auditObject(event, now),
    };
    const supersede = links.renewal?.supersede;
    if (supersede) item.supersede = { at: supersede.at.toISOString(), audit: auditObject(supersede.event, now) };
    if (links.renewal?.once) item.once = true;
    if (links.approvedRequestId !== undefined) item.approved = links.approvedRequestId;
    const conflict = `a certificate with serial ${certificate.serial} already exists`;
    const ca = await this.op('recordIssuance', () => this.batcher.write({ item, der: certificate.der, what: 'recordIssuance', conflict }));
    if (ca && certificate.renews) this.changes.emit({ kind: 'revocation', ca, serial: certificate.renews });
  }

  async findRenewal(serial: string): Promise<string | undefined> {
    const { rows } = await this.query<{ serial: string }>('findRenewal', 'SELECT serial FROM certificates WHERE renews = $1 LIMIT 1', [serial]);
    return rows[0]?.serial;
  }

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    const { rows } = await this.query<CertificateRow>('getCertificate', `SELECT ${CERTIFICATE_COLUMNS} FROM certificates WHERE serial = $1`, [serial]);
    return rows[0] && toCertificate(rows[0]);
  }

  listCertificates(filter: CertificateFilter = {}): Promise<CertificateRecord[]> {
    return this.reads.listCertificates(filter);
  }

  searchCertificates(search: CertificateSearch = {}): Promise<Page<CertificateRecord>> {
    return this.reads.searchCertificates(search);
  }

  countCertificates(now: Date): Promise<CertificateCounts> {
    return this.reads.countCertificates(now);
  }

  issuedPerDay(since: Date): Promise<DayCount[]> {
    return this.reads.issuedPerDay(since);
  }

  async revokeCertificate(serial: string, reason: string, at: Date, event?: NewAuditEvent): Promise<boolean> {
    const audit = event ? `, a AS (${INSERT_AUDIT} SELECT ${auditParams(5)} FROM r)` : '';
    const { rows } = await this.query<{ ca: string }>('revokeCertificate', `WITH r AS (UPDATE certificates
        SET status = 'revoked', revoked_at = $2, revocation_reason = $3, revoked_by = $4 WHERE serial = $1 AND status = 'valid' RETURNING ca, serial)${audit}
      SELECT r.ca, ${this.notify(`jsonb_build_object('kind', 'revocation', 'ca', r.ca, 'serial', r.serial)`)} FROM r`,
    [serial, at, reason, event?.actor ?? null, ...(event ? auditValues(event, this.now()) : [])]);
    if (!rows[0]) return false;
    this.changes.emit({ kind: 'revocation', ca: rows[0].ca, serial });
    return true;
  }

  async releaseHold(serial: string, event?: NewAuditEvent): Promise<boolean> {
    const audit = event ? `, a AS (${INSERT_AUDIT} SELECT ${auditParams(2)} FROM r)` : '';
    // RFC 5280 §5.3.1: only a certificateHold can be undone
    const { rows } = await this.query<{ ca: string }>('releaseHold', `WITH r AS (UPDATE certificates
        SET status = 'valid', revoked_at = NULL, revocation_reason = NULL, revoked_by = NULL
        WHERE serial = $1 AND status = 'revoked' AND revocation_reason = 'certificateHold' RETURNING ca, serial)${audit}
      SELECT r.ca, ${this.notify(`jsonb_build_object('kind', 'revocation', 'ca', r.ca, 'serial', r.serial)`)} FROM r`,
    [serial, ...(event ? auditValues(event, this.now()) : [])]);
    if (!rows[0]) return false;
    this.changes.emit({ kind: 'revocation', ca: rows[0].ca, serial });
    return true;
  }

  async findRequestFor(serial: string): Promise<PendingRequest | undefined> {
    const { rows } = await this.query<PendingRow>('findRequestFor', 'SELECT * FROM pending_requests WHERE serial = $1 ORDER BY id DESC LIMIT 1', [serial]);
    return rows[0] && toPending(rows[0]);
  }

  async isRevoked(serial: string): Promise<boolean> {
    const { rows } = await this.query<{ status: string }>('isRevoked', 'SELECT status FROM certificates WHERE serial = $1', [serial]);
    return rows[0]?.status === 'revoked';
  }

  listRevoked(ca: string): Promise<RevokedCertificate[]> {
    return this.revoked('listRevoked', '', [ca]);
  }

  listRevokedPage(ca: string, after: RevokedCursor | undefined, limit: number): Promise<RevokedCertificate[]> {
    const n = page(limit, DEFAULT_LIMIT, 'limit');
    return after
      ? this.revoked('listRevokedPage', 'AND (revoked_at, serial) > ($3, $4) ORDER BY revoked_at, serial LIMIT $2', [ca, n, after.revokedAt, after.serial])
      : this.revoked('listRevokedPage', 'ORDER BY revoked_at, serial LIMIT $2', [ca, n]);
  }

  /** A CA's revoked certificates in CRL order (`rest`: the cursor and limit, or nothing). */
  private async revoked(what: string, rest: string, values: unknown[]): Promise<RevokedCertificate[]> {
    const { rows } = await this.query<{ serial: string; revoked_at: Date; revocation_reason: string; not_after: Date }>(what,
      `SELECT serial, revoked_at, revocation_reason, not_after FROM certificates WHERE ca = $1 AND status = 'revoked'
       ${rest || 'ORDER BY revoked_at, serial'}`, values);
    return rows.map((r) => ({ serial: r.serial, revokedAt: r.revoked_at, reason: r.revocation_reason, notAfter: r.not_after }));
  }

  async revocationSummary(ca: string): Promise<RevocationSummary> {
    const { rows } = await this.query<{ count: string; latest: Date | null; released: string }>('revocationSummary',
      'SELECT revoked AS count, latest, released FROM revocation_counts WHERE ca = $1', [ca]);
    return { count: Number(rows[0]?.count ?? 0), latest: rows[0]?.latest ?? null, released: Number(rows[0]?.released ?? 0) };
  }

  createPendingRequest(r: NewPendingRequest, event?: (held: PendingRequest) => NewAuditEvent): Promise<PendingRequest> {
    return this.op('createPendingRequest', async () => {
      // The id first, so the audit event can name it and commit in the request's statement.
      const { rows: ids } = await this.raw<{ id: string }>(`SELECT nextval(pg_get_serial_sequence('pending_requests', 'id')) AS id`, []);
      const id = Number(ids[0]!.id);
      const held: PendingRequest = {
        clientAddress: null, authMethod: null, clientCertificate: null, ...r,
        id, status: 'pending', reason: null, decidedBy: null, decidedAt: null, serial: null, firstApproval: null,
      };
      const e = event?.(held);
      const audit = e ? `, a AS (${INSERT_AUDIT} SELECT ${auditParams(15)} FROM p)` : '';
      const { rows } = await this.raw<PendingRow>(`WITH p AS (INSERT INTO pending_requests (id, profile, operation,
          requester, key_id, csr, subject, sans, key_description, status, created_at, expires_at, client_address, auth_method,
          client_certificate) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, 'pending', $10, $11, $12, $13, $14::jsonb)
          RETURNING *)${audit} SELECT * FROM p`,
      [id, r.profile, r.operation, r.requester, r.keyId, r.csr, r.subject, json(r.sans), r.keyDescription, r.createdAt, r.expiresAt,
        held.clientAddress, held.authMethod, held.clientCertificate ? json(held.clientCertificate) : null,
        ...(e ? auditValues(e, this.now()) : [])]);
      return toPending(rows[0]!);
    });
  }

  async findPendingRequest(profile: string, requester: string, keyId: string): Promise<PendingRequest | undefined> {
    const { rows } = await this.query<PendingRow>('findPendingRequest', `SELECT * FROM pending_requests WHERE profile = $1 AND requester = $2
      AND key_id = $3 AND status <> 'issued' ORDER BY id DESC LIMIT 1`, [profile, requester, keyId]);
    return rows[0] && toPending(rows[0]);
  }

  async getPendingRequest(id: number): Promise<PendingRequest | undefined> {
    const { rows } = await this.query<PendingRow>('getPendingRequest', 'SELECT * FROM pending_requests WHERE id = $1', [id]);
    return rows[0] && toPending(rows[0]);
  }

  async listPendingRequests(filter: PendingFilter = {}): Promise<PendingRequest[]> {
    const { sql, values } = pendingWhere(filter).where();
    const paging = [page(filter.limit, DEFAULT_LIMIT, 'limit'), page(filter.offset, 0, 'offset')];
    const { rows } = await this.query<PendingRow>('listPendingRequests', `SELECT * FROM pending_requests${sql} ORDER BY id DESC
      LIMIT $${values.length + 1} OFFSET $${values.length + 2}`, [...values, ...paging]);
    return rows.map(toPending);
  }

  async countPendingRequests(filter: PendingFilter = {}): Promise<number> {
    const { sql, values } = pendingWhere(filter).where();
    return (await this.query<{ n: number }>('countPendingRequests', `SELECT COUNT(*)::int AS n FROM pending_requests${sql}`, values)).rows[0]!.n;
  }

  async decidePendingRequest(id: number, decision: 'approved' | 'rejected', officer: string, reason: string | null, at: Date, event?: NewAuditEvent): Promise<boolean> {
    const audit = event ? `, a AS (${INSERT_AUDIT} SELECT ${auditParams(6)} FROM d)` : '';
    const { rowCount } = await this.query('decidePendingRequest', `WITH d AS (UPDATE pending_requests SET status = $2, reason = $3,
        decided_by = $4, decided_at = $5 WHERE id = $1 AND status = 'pending' RETURNING id)${audit} SELECT id FROM d`,
    [id, decision, reason, officer, at, ...(event ? auditValues(event, this.now()) : [])]);
    return rowCount > 0;
  }

  async markPendingIssued(id: number, serial: string): Promise<boolean> {
    const { rowCount } = await this.query('markPendingIssued', `UPDATE pending_requests SET status = 'issued', serial = $2
      WHERE id = $1 AND status = 'approved'`, [id, serial]);
    return rowCount > 0;
  }

  async approvePendingRequest(id: number, officer: string, required: ApprovalsRequired, reason: string | null, at: Date, events?: ApprovalEvents): Promise<ApprovalResult | undefined> {
    const { text, values } = approveStatement(id, officer, required, reason, at, this.now(), events);
    const { rows } = await this.query<{ status: string }>('approvePendingRequest', text, values);
    return rows[0] && (rows[0].status === 'approved' ? 'approved' : 'first-approval');
  }

  async findRequestOverlaps(subjects: string[], keyIds: string[], now: Date): Promise<RequestOverlaps> {
    const [requests, certificates] = await Promise.all([
      this.query<PendingRow>('findRequestOverlaps', OVERLAPPING_REQUESTS_SQL, [subjects, keyIds]),
      this.query<CertificateRow>('findRequestOverlaps', OVERLAPPING_CERTIFICATES_SQL, [subjects, keyIds, now]),
    ]);
    return { requests: distinct(requests.rows.map(toPending), (r) => r.id), certificates: distinct(certificates.rows.map(toCertificate), (c) => c.serial) };
  }

  async appendAudit(event: NewAuditEvent): Promise<void> {
    const item = { audit: auditObject(event, this.now()) };
    await this.op('appendAudit', () => this.batcher.write({ item, what: 'appendAudit', conflict: 'duplicate audit event' }));
  }

  async listAudit(filter: AuditFilter = {}): Promise<AuditEvent[]> {
    const { sql, values } = auditWhere(filter).where();
    const paging = [page(filter.limit, DEFAULT_LIMIT, 'limit'), page(filter.offset, 0, 'offset')];
    const { rows } = await this.query<AuditRow>('listAudit', `SELECT * FROM audit_events${sql} ORDER BY at DESC, id DESC
      LIMIT $${values.length + 1} OFFSET $${values.length + 2}`, [...values, ...paging]);
    return rows.map(toAudit);
  }

  async countAudit(filter: AuditFilter = {}): Promise<number> {
    const { sql, values } = auditWhere(filter).where();
    return (await this.query<{ n: number }>('countAudit', `SELECT COUNT(*)::int AS n FROM audit_events${sql}`, values)).rows[0]!.n;
  }

  auditChainPage(afterSeq: number, limit: number): Promise<AuditChainLink[]> {
    return readAuditChainPage((what, sql, values) => this.query(what, sql, values), afterSeq, limit);
  }

  auditChainStart(): Promise<AuditChainStart> {
    return readAuditChainStart((what, sql, values) => this.query(what, sql, values));
  }

  createSession(session: WebSession): Promise<void> { return this.shared.createSession(session); }
  getSession(id: string): Promise<WebSession | undefined> { return this.shared.getSession(id); }
  touchSession(id: string, at: Date): Promise<boolean> { return this.shared.touchSession(id, at); }
  deleteSession(id: string): Promise<void> { return this.shared.deleteSession(id); }
  deleteSessionsOf(email: string): Promise<number> { return this.shared.deleteSessionsOf(email); }
  purgeSessions(at: Date, idleMs: number): Promise<number> { return this.shared.purgeSessions(at, idleMs); }
  recordFailure(key: string, limit: FailureLimit, at: Date): Promise<FailureLock | undefined> { return this.shared.recordFailure(key, limit, at); }
  activeLock(key: string, at: Date): Promise<FailureLock | undefined> { return this.shared.activeLock(key, at); }
  clearFailures(key: string): Promise<void> { return this.shared.clearFailures(key); }
  acquireLease(name: string, holder: string, at: Date, ttlMs: number): Promise<boolean> { return this.shared.acquireLease(name, holder, at, ttlMs); }
  getCrl(ca: string, kind: CrlKind): Promise<StoredCrl | undefined> { return this.shared.getCrl(ca, kind); }
  putCrl(crl: StoredCrl): Promise<boolean> { return this.shared.putCrl(crl); }
  private readonly tokens = new PostgresApiTokens((what, text, values, conflict) => this.query(what, text, values, conflict));
  createApiToken(t: NewApiToken): Promise<ApiToken> { return this.tokens.create(t); }
  findApiToken(secretHash: string): Promise<ApiToken | undefined> { return this.tokens.find(secretHash); }
  getApiToken(id: number): Promise<ApiToken | undefined> { return this.tokens.get(id); }
  listApiTokens(): Promise<ApiToken[]> { return this.tokens.list(); }
  touchApiToken(id: number, at: Date): Promise<boolean> { return this.tokens.touch(id, at); }
  revokeApiToken(id: number, by: string, at: Date): Promise<boolean> { return this.tokens.revoke(id, by, at); }

  // ---- second factor (postgres-mfa.ts) ----
  private readonly mfa = new PostgresMfa((what, text, values) => this.query(what, text, values));
  getMfa(email: string): Promise<AccountMfa | undefined> { return this.mfa.getMfa(email); }
  listMfaEnrolled(): Promise<string[]> { return this.mfa.listMfaEnrolled(); }
  beginMfaEnrolment(email: string, secret: string, at: Date): Promise<boolean> { return this.mfa.beginMfaEnrolment(email, secret, at); }
  confirmMfa(email: string, secret: string, step: number, hashes: string[], at: Date): Promise<boolean> { return this.mfa.confirmMfa(email, secret, step, hashes, at); }
  useMfaStep(email: string, step: number): Promise<boolean> { return this.mfa.useMfaStep(email, step); }
  useRecoveryCode(email: string, hash: string, at: Date): Promise<boolean> { return this.mfa.useRecoveryCode(email, hash, at); }
  replaceRecoveryCodes(email: string, hashes: string[]): Promise<boolean> { return this.mfa.replaceRecoveryCodes(email, hashes); }
  resetMfa(email: string): Promise<boolean> { return this.mfa.resetMfa(email); }
  getMfaRequiredRoles(): Promise<AdminRole[]> { return this.mfa.getMfaRequiredRoles(); }
  setMfaRequiredRoles(roles: readonly AdminRole[]): Promise<void> { return this.mfa.setMfaRequiredRoles(roles); }
  createSignInChallenge(c: SignInChallenge): Promise<void> { return this.mfa.createSignInChallenge(c); }
  getSignInChallenge(id: string): Promise<SignInChallenge | undefined> { return this.mfa.getSignInChallenge(id); }
  deleteSignInChallenge(id: string, at: Date): Promise<boolean> { return this.mfa.deleteSignInChallenge(id, at); }

  // ---- webhooks (postgres-webhooks.ts) ----
  private readonly webhooks = new PostgresWebhooks((what, text, values) => this.query(what, text, values));
  createWebhookEndpoint(e: NewWebhookEndpoint): Promise<WebhookEndpoint> { return this.webhooks.createEndpoint(e); }
  getWebhookEndpoint(id: number): Promise<WebhookEndpoint | undefined> { return this.webhooks.getEndpoint(id); }
  listWebhookEndpoints(): Promise<WebhookEndpoint[]> { return this.webhooks.listEndpoints(); }
  deleteWebhookEndpoint(id: number): Promise<boolean> { return this.webhooks.deleteEndpoint(id); }
  queueExpiringWebhooks(at: Date): Promise<number> { return this.webhooks.queueExpiring(at); }
  claimWebhookDeliveries(holder: string, at: Date, leaseMs: number, limit: number): Promise<ClaimedWebhookDelivery[]> { return this.webhooks.claim(holder, at, leaseMs, limit); }
  finishWebhookDeliveries(holder: string, a: WebhookAttempt[]): Promise<number[]> { return this.webhooks.finish(holder, a); }
  redeliverWebhook(id: number, at: Date): Promise<boolean> { return this.webhooks.redeliver(id, at); }
  getWebhookDelivery(id: number): Promise<WebhookDelivery | undefined> { return this.webhooks.getDelivery(id); }
  purgeWebhookDeliveries(before: Date): Promise<number> { return this.webhooks.purge(before); }
  listWebhookDeliveries(f: WebhookDeliveryFilter = {}): Promise<{ items: WebhookDelivery[]; total: number }> { return this.webhooks.listDeliveries(f); }

  /** Resolves when a pooled connection answers (readiness checks); StoreUnavailableError otherwise. */
  async ping(): Promise<void> {
    await this.query('ping', 'SELECT 1', []);
  }

  /** Group commit so far (for metrics and tests). */
  writeStats(): BatchStats {
    return { ...this.batcher.stats };
  }

  /** Connections in use, idle and waited for (for metrics). */
  poolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  /** Waits for the calls already made (their writes commit or fail), then ends the listener and the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    await this.listener.close();
    await this.pool.end().catch(() => undefined);
  }
}

/**
 * The embedded Store: one SQLite file (better-sqlite3, synchronous under the hood; every method
 * still returns a promise). The server and the CLI open the same file from different processes:
 * WAL lets readers run while one writer commits, and busy_timeout makes a writer wait for the
 * other process's write lock instead of failing at once.
 *
 * Durable writes on the request path (recordIssuance, appendAudit) use group commit on a writer
 * thread (sqlite-writer.ts): everything queued while one batch commits forms the next, committed
 * in ONE transaction with synchronous=FULL, so many callers share one WAL fsync and the event
 * loop never waits for the disk. Each promise resolves only after that COMMIT returned, i.e.
 * once the write survives power loss.
 */
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { migrateSqlite } from './sqlite-migrations.js';
import { SqliteWriter } from './sqlite-writer.js';
import { SqliteReader } from './sqlite-reader.js';
import { SqliteReads, type ReadCalls, type ReadName } from './sqlite-reads.js';
import { prepareStatements, type SqliteStatements } from './sqlite-statements.js';
import { CHANGE_COUNTER_SQL, FIND_RENEWAL_SQL, FIND_REQUEST_FOR_SQL, type WriteOp, type WriteValue } from './sqlite-writer-protocol.js';
import { SqliteChangeTracker } from './sqlite-changes.js';
import {
  auditParams,
  iso,
  mapSqliteError,
  profileParams,
  toAccount,
  toCertificate,
  toPending,
  toProfile,
  type Params,
  type PendingRow,
} from './sqlite-rows.js';
import { readAuditChainPage, readAuditChainStart } from './sqlite-audit-chain.js';
import type { AuditChainLink, AuditChainStart } from './audit-chain.js';
import { StoreUnavailableError, type ApprovalEvents, type ApprovalResult, type AuditFilter, type CertificateCounts, type CertificateFilter, type CertificateSearch, type DayCount, type IssuanceLinks, type ProfileDeletion, type Page, type PendingFilter, type RequestOverlaps, type RevocationSummary, type RevokedCursor, type Store, type StoreChange, type CrlKind, type FailureLimit, type FailureLock, type StoredCrl, type WebSession, type AccountMfa, type SignInChallenge, type ApiToken, type NewApiToken } from './store.js';
import { ChangeHub } from './change-hub.js';
import { SqliteSharedState } from './sqlite-shared-state.js';
import { SqliteRequestApprovals } from './sqlite-request-approvals.js';
import { SqliteMfa } from './sqlite-mfa.js';
import { SqliteApiTokens } from './sqlite-api-tokens.js';
import type { AdminRole } from '../ra/model.js';
import { type Account, type ApprovalsRequired, type AuditEvent, type CertificateRecord, type NewAccount, type NewAuditEvent, type NewCertificate, type NewProfile, type NewPendingRequest, type PendingRequest, type Profile, type RevokedCertificate } from '../ra/model.js';
import { SqliteWebhooks } from './sqlite-webhooks.js';
import { SqliteWebhookThread, type WebhookThreadCall } from './sqlite-webhook-thread.js';
import type { ClaimedWebhookDelivery, NewWebhookEndpoint, WebhookAttempt, WebhookDelivery, WebhookDeliveryFilter, WebhookEndpoint } from './webhook-types.js';

type Counted<T> = [result: T, before: number, after: number];

export interface SqliteStoreOptions {
  logger?: { warn(obj: object, msg?: string): void };
  /** Clock for created/updated timestamps and default audit times. */
  now?: () => Date;
  /** How long a write waits for another process's lock before StoreUnavailableError (default 5000). */
  busyTimeoutMs?: number;
  /** The longest a Web RA search, list or count may take before StoreTimeoutError (default 5000). */
  readTimeLimitMs?: number;
}

export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(path, options);
}

const DEFAULT_READ_TIME_LIMIT_MS = 5000;
const inMemory = (path: string): boolean => path === '' || path === ':memory:' || (path.startsWith('file:') && /[?&]mode=memory\b|^file::memory:/.test(path));
/** Creates the file 0600 before SQLite does (SQLite gives -wal and -shm the same mode). */
function prepareFile(path: string, logger: SqliteStoreOptions['logger']): void {
  if (path === '' || path === ':memory:' || path.startsWith('file:')) return;
  try {
    closeSync(openSync(path, 'wx', 0o600));
    chmodSync(path, 0o600); // an odd umask must not leave it unreadable or wider
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw mapSqliteError(err, `cannot create database ${path}`);
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) logger?.warn({ path, mode: mode.toString(8) }, 'database file is readable by other users; expected mode 0600');
  }
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly now: () => Date;
  private readonly logger: SqliteStoreOptions['logger'];
  private readonly writer: SqliteWriter;
  private closed = false;
  private readonly tracker: SqliteChangeTracker;
  /** Runs a write in one IMMEDIATE transaction with the change counter read before and after it. */
  private readonly counted: (fn: () => unknown) => Counted<unknown>;
  private readonly filtered = new Map<string, Database.Statement>();
  private readonly stmt: SqliteStatements;
  private readonly reader: SqliteReader | undefined;
  private readonly inPlace: SqliteReads | undefined;
  private readonly busyTimeoutMs: number;

  constructor(readonly path: string, options: SqliteStoreOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.logger = options.logger;
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.busyTimeoutMs = busyTimeoutMs;
    prepareFile(path, this.logger);
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { timeout: busyTimeoutMs });
      db.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal' && path !== ':memory:' && path !== '') {
        this.logger?.warn({ path, journalMode: mode }, 'SQLite WAL mode is unavailable; concurrent CLI and server access will contend');
      }
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrateSqlite(db, path);
      this.db = db;
    } catch (err) {
      db?.close();
      throw mapSqliteError(err, `cannot open database ${path}`);
    }
    this.stmt = prepareStatements(this.db);
    const counter = this.db.prepare<[], number>(CHANGE_COUNTER_SQL).pluck();
    this.counted = this.db.transaction((fn: () => unknown): Counted<unknown> => {
      const before = counter.get()!;
      const result = fn();
      return [result, before, counter.get()!];
    }).immediate;
    this.tracker = new SqliteChangeTracker({ dataVersion: () => this.stmt.dataVersion.get()!, counter: () => counter.get()! }, this.changes);
    const poll = () => this.tracker.poll();
    this.changes.poll = () => {
      if (!this.closed) this.run('poll', poll);
    };
    this.writer = new SqliteWriter({ path, busyTimeoutMs }, this.logger, {}, (c) => this.tracker.own(c));
    if (inMemory(path)) this.inPlace = new SqliteReads(this.db);
    else this.reader = new SqliteReader({ path, busyTimeoutMs, timeLimitMs: options.readTimeLimitMs ?? DEFAULT_READ_TIME_LIMIT_MS });
  }

  /**
   * A write through this connection, committed on its own; `change` names what it changed (none:
   * nothing to tell), signalled once it committed.
   */
  private write<T>(what: string, fn: () => T, conflict?: string, change?: (result: T) => StoreChange | undefined): T {
    const [result, before, after] = this.run(what, () => this.counted(fn) as Counted<T>, conflict);
    this.tracker.own({ before, after });
    const changed = change?.(result);
    if (changed) this.changes.emit(changed);
    return result;
  }

  /** Runs a synchronous database call with the Store's error contract. */
  private run<T>(what: string, fn: () => T, conflict?: string): T {
    if (this.closed) throw new StoreUnavailableError(`${what}: the store is closed`);
    try {
      return fn();
    } catch (err) {
      throw mapSqliteError(err, what, conflict);
    }
  }

  async createAccount(account: NewAccount): Promise<Account> {
    const email = account.email.toLowerCase();
    const row = this.write('createAccount', () => this.stmt.insertAccount.get({
      email, password_hash: account.passwordHash, role: account.role, now: iso(this.now()),
    }), `an account with email ${email} already exists`, () => ({ kind: 'account', email }));
    return toAccount(row!);
  }

  async getAccount(email: string): Promise<Account | undefined> {
    const row = this.run('getAccount', () => this.stmt.getAccount.get({ email: email.toLowerCase() }));
    return row && toAccount(row);
  }

  async listAccounts(): Promise<Account[]> {
    return this.run('listAccounts', () => this.stmt.listAccounts.all()).map(toAccount);
  }

  async setAccountPassword(email: string, passwordHash: string): Promise<boolean> {
    const params = { email: email.toLowerCase(), password_hash: passwordHash, now: iso(this.now()) };
    return this.write('setAccountPassword', () => this.stmt.setPassword.run(params).changes > 0, undefined, (done) => this.accountChanged(done, params.email));
  }

  async setAccountDisabled(email: string, disabled: boolean): Promise<boolean> {
    const params = { email: email.toLowerCase(), disabled: disabled ? 1 : 0, now: iso(this.now()) };
    return this.write('setAccountDisabled', () => this.stmt.setDisabled.run(params).changes > 0, undefined, (done) => this.accountChanged(done, params.email));
  }

  async setAccountAllowedNames(email: string, names: string[]): Promise<boolean> {
    const params = { email: email.toLowerCase(), names: JSON.stringify(names), now: iso(this.now()) };
    return this.write('setAccountAllowedNames', () => this.stmt.setAllowedNames.run(params).changes > 0, undefined, (done) => this.accountChanged(done, params.email));
  }

  async setAccountAllowedProfiles(email: string, labels: string[]): Promise<boolean> {
    const params = { email: email.toLowerCase(), labels: JSON.stringify(labels), now: iso(this.now()) };
    return this.write('setAccountAllowedProfiles', () => this.stmt.setAllowedProfiles.run(params).changes > 0, undefined, (done) => this.accountChanged(done, params.email));
  }

  async setAccountSelfService(email: string, enabled: boolean): Promise<boolean> {
    const params = { email: email.toLowerCase(), enabled: enabled ? 1 : 0, now: iso(this.now()) };
    return this.write('setAccountSelfService', () => this.stmt.setSelfService.run(params).changes > 0, undefined, (done) => this.accountChanged(done, params.email));
  }

  async unlockAccount(email: string, at: Date): Promise<boolean> {
    const params = { email: email.toLowerCase(), at: iso(at) };
    return this.write('unlockAccount', () => this.stmt.unlockAccount.run(params).changes > 0, undefined, (done) => this.accountChanged(done, params.email));
  }

  private accountChanged(done: boolean, email: string): StoreChange | undefined {
    return done ? { kind: 'account', email } : undefined;
  }

  async createProfile(profile: NewProfile): Promise<Profile> {
    const now = this.now();
    const params = profileParams(profile, iso(now));
    this.write('createProfile', () => this.stmt.insertProfile.run(params), `a profile labelled ${profile.label} already exists`, () => ({ kind: 'profile', label: profile.label }));
    return { ...structuredClone(profile), retiredAt: null, createdAt: new Date(now), updatedAt: new Date(now) };
  }

  async updateProfile(profile: NewProfile): Promise<boolean> {
    const params = profileParams(profile, iso(this.now()));
    return this.write('updateProfile', () => this.stmt.updateProfile.run(params).changes > 0, undefined, (done) => (done ? { kind: 'profile', label: profile.label } : undefined));
  }

  async getProfile(label: string): Promise<Profile | undefined> {
    const row = this.run('getProfile', () => this.stmt.getProfile.get({ label }));
    return row && toProfile(row);
  }

  async listProfiles(): Promise<Profile[]> {
    return this.run('listProfiles', () => this.stmt.listProfiles.all()).map(toProfile);
  }

  async deleteProfile(label: string): Promise<ProfileDeletion> {
    return this.write('deleteProfile', (): ProfileDeletion => {
      if (!this.stmt.getProfile.get({ label })) return 'missing';
      return this.stmt.deleteProfile.run({ label }).changes > 0 ? 'deleted' : 'in-use';
    }, undefined, (r) => (r === 'deleted' ? { kind: 'profile', label } : undefined));
  }

  async retireProfile(label: string, at: Date): Promise<boolean> {
    return this.write('retireProfile', () => this.stmt.retireProfile.run({ label, at: iso(at) }).changes > 0, undefined, (done) => (done ? { kind: 'profile', label } : undefined));
  }

  async deleteAccount(email: string): Promise<boolean> {
    const key = email.toLowerCase();
    const done = this.write('deleteAccount', () => this.stmt.deleteAccount.run({ email: key }).changes > 0, undefined, (d) => this.accountChanged(d, key));
    if (done) await this.deleteSessionsOf(key);
    return done;
  }

  async recordIssuance(certificate: NewCertificate, event: NewAuditEvent, links: IssuanceLinks = {}): Promise<void> {
    const { renewal, approvedRequestId } = links;
    const now = iso(this.now());
    const cert: Params = {
      serial: certificate.serial,
      profile: certificate.profile,
      ca: certificate.ca,
      subject: certificate.subject,
      sans: JSON.stringify(certificate.sans),
      not_before: iso(certificate.notBefore),
      not_after: iso(certificate.notAfter),
      // An exact-size copy: a pooled Buffer would clone its whole 8 KiB pool to the writer thread.
      der: new Uint8Array(certificate.der),
      requester: certificate.requester,
      renews: certificate.renews,
      now,
    };
    const audit = auditParams(event, now);
    const supersede = renewal?.supersede ? { at: iso(renewal.supersede.at), audit: auditParams(renewal.supersede.event, now) } : undefined;
    const renewalOp = renewal ? { ...(supersede ? { supersede } : {}), ...(renewal.once ? { once: true } : {}) } : undefined;
    const done = await this.enqueue({
      kind: 'issuance', what: 'recordIssuance', conflict: `a certificate with serial ${certificate.serial} already exists`, certificate: cert, audit,
      ...(renewalOp ? { renewal: renewalOp } : {}),
      ...(approvedRequestId !== undefined ? { approvedRequestId } : {}),
    });
    if (typeof done === 'object' && done !== null && certificate.renews) {
      this.changes.emit({ kind: 'revocation', ca: done.supersededCa, serial: certificate.renews });
    }
  }

  async findRenewal(serial: string): Promise<string | undefined> {
    return this.run('findRenewal', () => (this.prepared(FIND_RENEWAL_SQL).get({ serial }) as { serial: string } | undefined)?.serial);
  }

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    const row = this.run('getCertificate', () => this.stmt.getCertificate.get({ serial }));
    return row && toCertificate(row);
  }

  async listCertificates(filter: CertificateFilter = {}): Promise<CertificateRecord[]> {
    return this.read('listCertificates', filter);
  }

  async searchCertificates(search: CertificateSearch = {}): Promise<Page<CertificateRecord>> {
    return this.read('searchCertificates', search, search.now ?? this.now());
  }

  async countCertificates(now: Date): Promise<CertificateCounts> {
    return this.read('countCertificates', now);
  }

  async issuedPerDay(since: Date): Promise<DayCount[]> {
    return this.read('issuedPerDay', since);
  }

  async revokeCertificate(serial: string, reason: string, at: Date, event?: NewAuditEvent): Promise<boolean> {
    const revocation = { serial, reason, at: iso(at), actor: event?.actor ?? null };
    const audit = event && auditParams(event, iso(this.now()));
    // On the writer thread: the revocation and its event in one durable transaction, off the event loop.
    const ca = await this.enqueue({ kind: 'revoke', what: 'revokeCertificate', conflict: 'duplicate audit event', revocation, ...(audit ? { audit } : {}) });
    if (typeof ca !== 'string') return false;
    this.changes.emit({ kind: 'revocation', ca, serial });
    return true;
  }

  async releaseHold(serial: string, event?: NewAuditEvent): Promise<boolean> {
    const audit = event && auditParams(event, iso(this.now()));
    const ca = await this.enqueue({ kind: 'release', what: 'releaseHold', conflict: 'duplicate audit event', release: { serial }, ...(audit ? { audit } : {}) });
    if (typeof ca !== 'string') return false;
    this.changes.emit({ kind: 'revocation', ca, serial });
    return true;
  }

  async findRequestFor(serial: string): Promise<PendingRequest | undefined> {
    const row = this.run('findRequestFor', () => this.prepared(FIND_REQUEST_FOR_SQL).get({ serial }) as PendingRow | undefined);
    return row && toPending(row);
  }

  async isRevoked(serial: string): Promise<boolean> {
    return this.run('isRevoked', () => this.stmt.status.get({ serial })?.status === 'revoked');
  }

  async listRevoked(ca: string): Promise<RevokedCertificate[]> {
    return this.run('listRevoked', () =>
      this.stmt.revoked.all({ ca }).map((r) => ({ serial: r.serial, revokedAt: new Date(r.revoked_at), reason: r.revocation_reason, notAfter: new Date(r.not_after) })),
    );
  }

  async listRevokedPage(ca: string, after: RevokedCursor | undefined, limit: number): Promise<RevokedCertificate[]> {
    return this.run('listRevokedPage', () =>
      this.stmt.revokedPage.all({ ca, at: after ? iso(after.revokedAt) : '', serial: after?.serial ?? '', limit })
        .map((r) => ({ serial: r.serial, revokedAt: new Date(r.revoked_at), reason: r.revocation_reason, notAfter: new Date(r.not_after) })),
    );
  }

  async revocationSummary(ca: string): Promise<RevocationSummary> {
    return this.run('revocationSummary', () => {
      const row = this.stmt.revocationSummary.get({ ca });
      return { count: row?.count ?? 0, latest: row?.latest ? new Date(row.latest) : null, released: row?.released ?? 0 };
    });
  }

  async createPendingRequest(r: NewPendingRequest, event?: (held: PendingRequest) => NewAuditEvent): Promise<PendingRequest> {
    // On this connection, one transaction: the event names the request's id, known only once it is inserted
    // (a function cannot go to the writer thread). Holding a request is rare next to issuing.
    const params = {
      profile: r.profile, operation: r.operation, requester: r.requester, key_id: r.keyId, csr: r.csr, subject: r.subject,
      sans: JSON.stringify(r.sans), key_description: r.keyDescription, created_at: iso(r.createdAt), expires_at: iso(r.expiresAt),
      client_address: r.clientAddress ?? null, auth_method: r.authMethod ?? null,
      client_certificate: r.clientCertificate ? JSON.stringify(r.clientCertificate) : null,
    };
    return this.write('createPendingRequest', () => {
      const held = toPending(this.stmt.insertPending.get(params)!);
      if (event) this.stmt.insertAudit.run(auditParams(event(held), iso(this.now())));
      return held;
    });
  }

  async findPendingRequest(profile: string, requester: string, keyId: string): Promise<PendingRequest | undefined> {
    const row = this.run('findPendingRequest', () => this.stmt.findPending.get({ profile, requester, key_id: keyId }));
    return row && toPending(row);
  }

  async getPendingRequest(id: number): Promise<PendingRequest | undefined> {
    const row = this.run('getPendingRequest', () => this.stmt.getPending.get({ id }));
    return row && toPending(row);
  }

  async listPendingRequests(filter: PendingFilter = {}): Promise<PendingRequest[]> {
    return this.read('listPendingRequests', filter);
  }

  async countPendingRequests(filter: PendingFilter = {}): Promise<number> {
    return this.read('countPendingRequests', filter);
  }

  async decidePendingRequest(id: number, decision: 'approved' | 'rejected', officer: string, reason: string | null, at: Date, event?: NewAuditEvent): Promise<boolean> {
    const audit = event && auditParams(event, iso(this.now()));
    const decided = await this.enqueue({
      kind: 'decide', what: 'decidePendingRequest', conflict: 'duplicate audit event', decision: { id, status: decision, officer, reason, at: iso(at) }, ...(audit ? { audit } : {}),
    });
    return decided === true;
  }

  async markPendingIssued(id: number, serial: string): Promise<boolean> {
    return this.write('markPendingIssued', () => this.stmt.issuedPending.run({ id, serial }).changes > 0);
  }

  private approvals: SqliteRequestApprovals | undefined;
  private get requestApprovals(): SqliteRequestApprovals {
    return (this.approvals ??= new SqliteRequestApprovals(this.db));
  }

  async approvePendingRequest(id: number, officer: string, required: ApprovalsRequired, reason: string | null, at: Date, events?: ApprovalEvents): Promise<ApprovalResult | undefined> {
    return this.write('approvePendingRequest', () => this.requestApprovals.approveInTransaction(id, officer, required, reason, at, this.now(), events));
  }

  async findRequestOverlaps(subjects: string[], keyIds: string[], now: Date): Promise<RequestOverlaps> {
    return this.run('findRequestOverlaps', () => this.requestApprovals.overlaps(subjects, keyIds, now));
  }

  async appendAudit(event: NewAuditEvent): Promise<void> {
    const params = auditParams(event, iso(this.now()));
    await this.enqueue({ kind: 'audit', what: 'appendAudit', conflict: 'duplicate audit event', audit: params });
  }

  async listAudit(filter: AuditFilter = {}): Promise<AuditEvent[]> {
    return this.read('listAudit', filter);
  }

  async countAudit(filter: AuditFilter = {}): Promise<number> {
    return this.read('countAudit', filter);
  }

  async auditChainPage(afterSeq: number, limit: number): Promise<AuditChainLink[]> {
    return this.run('auditChainPage', () => readAuditChainPage(this.db, afterSeq, limit));
  }

  async auditChainStart(): Promise<AuditChainStart> {
    return this.run('auditChainStart', () => readAuditChainStart(this.db));
  }

  /**
   * The Web RA's heavy reads: on the reader thread (sqlite-reader.ts) for a database file, in place
   * for an in-memory one (a second connection would see another, empty database).
   */
  private async read<N extends ReadName>(name: N, ...args: Parameters<ReadCalls[N]>): Promise<ReturnType<ReadCalls[N]>> {
    if (this.closed) throw new StoreUnavailableError(`${name}: the store is closed`);
    if (this.reader) return this.reader.read(name, ...args);
    const fn = this.inPlace![name] as (...a: Parameters<ReadCalls[N]>) => ReturnType<ReadCalls[N]>;
    return this.run(name, () => fn.apply(this.inPlace, args));
  }

  // ---- store contract v2: shared state (sqlite-shared-state.ts) ----
  readonly changes = new ChangeHub();
  private sharedState: SqliteSharedState | undefined;
  private get shared(): SqliteSharedState {
    return (this.sharedState ??= new SqliteSharedState(this.db, this.changes));
  }
  async createSession(session: WebSession): Promise<void> { this.run('createSession', () => this.shared.createSession(session), 'a session with this id already exists'); }
  async getSession(id: string): Promise<WebSession | undefined> { return this.run('getSession', () => this.shared.getSession(id)); }
  async touchSession(id: string, at: Date): Promise<boolean> { return this.run('touchSession', () => this.shared.touchSession(id, at)); }
  async deleteSession(id: string): Promise<void> { this.run('deleteSession', () => this.shared.deleteSession(id)); }
  async deleteSessionsOf(email: string): Promise<number> { return this.run('deleteSessionsOf', () => this.shared.deleteSessionsOf(email)); }
  async purgeSessions(at: Date, idleMs: number): Promise<number> { return this.run('purgeSessions', () => this.shared.purgeSessions(at, idleMs)); }
  async recordFailure(key: string, limit: FailureLimit, at: Date): Promise<FailureLock | undefined> { return this.run('recordFailure', () => this.shared.recordFailure(key, limit, at)); }
  async activeLock(key: string, at: Date): Promise<FailureLock | undefined> { return this.run('activeLock', () => this.shared.activeLock(key, at)); }
  async clearFailures(key: string): Promise<void> { this.run('clearFailures', () => this.shared.clearFailures(key)); }
  async acquireLease(name: string, holder: string, at: Date, ttlMs: number): Promise<boolean> { return this.run('acquireLease', () => this.shared.acquireLease(name, holder, at, ttlMs)); }
  async getCrl(ca: string, kind: CrlKind): Promise<StoredCrl | undefined> { return this.run('getCrl', () => this.shared.getCrl(ca, kind)); }
  async putCrl(crl: StoredCrl): Promise<boolean> { return this.run('putCrl', () => this.shared.putCrl(crl)); }

  // ---- second factor (sqlite-mfa.ts) ----
  private mfaState: SqliteMfa | undefined;
  private get mfa(): SqliteMfa {
    return (this.mfaState ??= new SqliteMfa(this.db));
  }
  async getMfa(email: string): Promise<AccountMfa | undefined> { return this.run('getMfa', () => this.mfa.getMfa(email)); }
  async listMfaEnrolled(): Promise<string[]> { return this.run('listMfaEnrolled', () => this.mfa.listMfaEnrolled()); }
  async beginMfaEnrolment(email: string, secret: string, at: Date): Promise<boolean> { return this.run('beginMfaEnrolment', () => this.mfa.beginMfaEnrolment(email, secret, at)); }
  async confirmMfa(email: string, secret: string, step: number, hashes: string[], at: Date): Promise<boolean> { return this.run('confirmMfa', () => this.mfa.confirmMfa(email, secret, step, hashes, at)); }
  async useMfaStep(email: string, step: number): Promise<boolean> { return this.run('useMfaStep', () => this.mfa.useMfaStep(email, step)); }
  async useRecoveryCode(email: string, hash: string, at: Date): Promise<boolean> { return this.run('useRecoveryCode', () => this.mfa.useRecoveryCode(email, hash, at)); }
  async replaceRecoveryCodes(email: string, hashes: string[]): Promise<boolean> { return this.run('replaceRecoveryCodes', () => this.mfa.replaceRecoveryCodes(email, hashes)); }
  async resetMfa(email: string): Promise<boolean> { return this.run('resetMfa', () => this.mfa.resetMfa(email)); }
  async getMfaRequiredRoles(): Promise<AdminRole[]> { return this.run('getMfaRequiredRoles', () => this.mfa.getMfaRequiredRoles()); }
  async setMfaRequiredRoles(roles: readonly AdminRole[]): Promise<void> { this.run('setMfaRequiredRoles', () => this.mfa.setMfaRequiredRoles(roles)); }
  async createSignInChallenge(c: SignInChallenge): Promise<void> { this.run('createSignInChallenge', () => this.mfa.createSignInChallenge(c), 'a sign-in challenge with this id already exists'); }
  async getSignInChallenge(id: string): Promise<SignInChallenge | undefined> { return this.run('getSignInChallenge', () => this.mfa.getSignInChallenge(id)); }
  async deleteSignInChallenge(id: string, at: Date): Promise<boolean> { return this.run('deleteSignInChallenge', () => this.mfa.deleteSignInChallenge(id, at)); }
  // ---- API tokens (sqlite-api-tokens.ts) ----
  private apiTokens: SqliteApiTokens | undefined;
  private get tokens(): SqliteApiTokens {
    return (this.apiTokens ??= new SqliteApiTokens(this.db));
  }
  async createApiToken(t: NewApiToken): Promise<ApiToken> { return this.run('createApiToken', () => this.tokens.create(t), `a token named ${t.name} already exists`); }
  async findApiToken(secretHash: string): Promise<ApiToken | undefined> { return this.run('findApiToken', () => this.tokens.find(secretHash)); }
  async getApiToken(id: number): Promise<ApiToken | undefined> { return this.run('getApiToken', () => this.tokens.get(id)); }
  async listApiTokens(): Promise<ApiToken[]> { return this.run('listApiTokens', () => this.tokens.list()); }
  async touchApiToken(id: number, at: Date): Promise<boolean> { return this.run('touchApiToken', () => this.tokens.touch(id, at)); }
  async revokeApiToken(id: number, by: string, at: Date): Promise<boolean> { return this.run('revokeApiToken', () => this.tokens.revoke(id, by, at)); }
  // ---- webhooks (sqlite-webhooks.ts) ----
  private webhookState: SqliteWebhooks | undefined;
  private get webhooks(): SqliteWebhooks { return (this.webhookState ??= new SqliteWebhooks(this.db)); }
  private webhookThread: SqliteWebhookThread | undefined;
  /** The delivery loop's writes: on the webhook thread for a file (sqlite-webhook-thread.ts), in place in memory. */
  private async hookWrite<N extends WebhookThreadCall>(name: N, ...args: Parameters<SqliteWebhooks[N]>): Promise<ReturnType<SqliteWebhooks[N]>> {
    if (this.closed) throw new StoreUnavailableError(`${name}: the store is closed`);
    if (!this.reader) return this.run(name, () => (this.webhooks[name] as (...a: unknown[]) => ReturnType<SqliteWebhooks[N]>)(...args));
    this.webhookThread ??= new SqliteWebhookThread({ path: this.path, busyTimeoutMs: this.busyTimeoutMs });
    return this.webhookThread.call(name, ...args);
  }
  async createWebhookEndpoint(e: NewWebhookEndpoint): Promise<WebhookEndpoint> { return this.run('createWebhookEndpoint', () => this.webhooks.createEndpoint(e)); }
  async getWebhookEndpoint(id: number): Promise<WebhookEndpoint | undefined> { return this.run('getWebhookEndpoint', () => this.webhooks.getEndpoint(id)); }
  async listWebhookEndpoints(): Promise<WebhookEndpoint[]> { return this.run('listWebhookEndpoints', () => this.webhooks.listEndpoints()); }
  async deleteWebhookEndpoint(id: number): Promise<boolean> { return this.run('deleteWebhookEndpoint', () => this.webhooks.deleteEndpoint(id)); }
  async queueExpiringWebhooks(at: Date): Promise<number> { return this.hookWrite('queueExpiring', at); }
  async claimWebhookDeliveries(holder: string, at: Date, leaseMs: number, limit: number): Promise<ClaimedWebhookDelivery[]> { return this.hookWrite('claim', holder, at, leaseMs, limit); }
  async finishWebhookDeliveries(holder: string, a: WebhookAttempt[]): Promise<number[]> { return this.hookWrite('finish', holder, a); }
  async redeliverWebhook(id: number, at: Date): Promise<boolean> { return this.run('redeliverWebhook', () => this.webhooks.redeliver(id, at)); }
  async getWebhookDelivery(id: number): Promise<WebhookDelivery | undefined> { return this.run('getWebhookDelivery', () => this.webhooks.getDelivery(id)); }
  async purgeWebhookDeliveries(before: Date): Promise<number> { return this.hookWrite('purge', before); }
  async listWebhookDeliveries(f: WebhookDeliveryFilter = {}): Promise<{ items: WebhookDelivery[]; total: number }> { return this.run('listWebhookDeliveries', () => this.webhooks.listDeliveries(f)); }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.webhookThread?.close();
    await this.reader?.close();
    await this.writer.close(); // pending durable writes commit (or fail) before the connection goes
    this.filtered.clear();
    try {
      this.db.close();
    } catch (err) {
      throw mapSqliteError(err, 'close');
    }
  }

  /** One statement per filter combination, prepared on first use and then reused. */
  private prepared(sql: string): Database.Statement {
    let s = this.filtered.get(sql);
    if (!s) this.filtered.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  private enqueue(op: WriteOp): Promise<WriteValue> {
    if (this.closed) return Promise.reject(new StoreUnavailableError(`${op.what}: the store is closed`));
    return this.writer.write(op);
  }
}

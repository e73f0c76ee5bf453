/**
 * The persistence contract. Every layer above talks to this interface; SQLite (sqlite-store.ts)
 * is the embedded default and PostgreSQL the store for several instances, both held to one
 * contract suite (test/store/store-contract.ts). The shapes it stores are the RA's domain model
 * (ra/model.ts).
 */
import type {
  Account, ApprovalsRequired, AuditEvent, CertificateRecord, CertificateStatus, NewAccount, NewAuditEvent, NewCertificate,
  NewPendingRequest, NewProfile, PendingRequest, PendingStatus, Profile, RevokedCertificate, SessionRole,
} from '../ra/model.js';
import type { ApiTokenStore } from './store-api-tokens.js';
import type { MfaStore } from './store-mfa.js';
import type { WebhookStore } from './store-webhooks.js';

export type { AccountMfa, SignInChallenge } from './store-mfa.js';
export type { ApiToken, NewApiToken } from './store-api-tokens.js';
import type { AuditChainLink, AuditChainStart } from './audit-chain.js';


export type ProfileDeletion = 'deleted' | 'in-use' | 'missing';

/** Done in the issuance's transaction when it renews a certificate (`renews` set). */
export interface RenewalRecord {
  /** Revoke the renewed certificate as superseded at this time, with this audit event. */
  supersede?: { at: Date; event: NewAuditEvent };
  /** Refuse (StoreConflictError) when the renewed certificate already has a successor. */
  once?: boolean;
}

/** Further records that commit or fail together with an issuance. */
export interface IssuanceLinks {
  /** Done in the issuance's transaction when it renews a certificate (`renews` set). */
  renewal?: RenewalRecord;
  /**
   * The approved pending request this certificate fulfils: marked issued with the certificate's
   * serial in the same transaction; StoreConflictError (nothing recorded) when it is not approved
   * any more, e.g. a concurrent re-send already issued it.
   */
  approvedRequestId?: number;
}
/** What approving a held request did: approved it, or recorded the first of two approvals. */
export type ApprovalResult = 'approved' | 'first-approval';

/** The audit event for each outcome of approvePendingRequest. */
export interface ApprovalEvents {
  first: NewAuditEvent;
  approved: NewAuditEvent;
}

export interface RequestOverlaps {
  requests: PendingRequest[];
  certificates: CertificateRecord[];
}

/** Where a page of revoked certificates ends: the next page starts after it in CRL order. */
export type RevokedCursor = Pick<RevokedCertificate, 'revokedAt' | 'serial'>;

/**
 * Enough to tell whether a CA's revoked set changed: revocation adds to it, and only a hold
 * released (certificateHold, RFC 5280 §5.3.1) takes from it, which `released` counts.
 */
export interface RevocationSummary {
  count: number;
  latest: Date | null;
  /** How many holds of this CA were ever released. */
  released: number;
}

export interface CertificateFilter {
  profile?: string;
  status?: CertificateStatus;
  limit?: number;
  offset?: number;
}

/** What a certificate search may ask for; every condition given must hold. */
export interface CertificateSearch {
  /** Case-insensitive substring of the subject, a SAN or the serial. */
  q?: string;
  /** Case-insensitive substrings of one field each. */
  subject?: string;
  san?: string;
  /** Hex, colons and case ignored. */
  serial?: string;
  profile?: string;
  /** Exactly this requester (account email or client certificate subject), e.g. a self-service account's own. */
  requester?: string;
  /** `valid`: not revoked and notAfter ≥ now; `expired`: not revoked and notAfter < now. */
  status?: CertificateStatus | 'expired';
  /** notAfter within [notAfterFrom, notAfterTo]. */
  notAfterFrom?: Date;
  notAfterTo?: Date;
  /** `issued` (default): newest first; `expiry`: soonest notAfter first. */
  order?: 'issued' | 'expiry';
  /** The time `valid` and `expired` are judged at (default: the store's clock). */
  now?: Date;
  limit?: number;
  offset?: number;
  /**
   * Keyset paging: the `next` of the previous page (same filters and order); the page starts after
   * its last item, whatever `offset` says. Cheap at any depth, where an offset reads every row it skips.
   */
  after?: string;
  /**
   * Count at most this many matches (default: all). When more match, `total` is this number and
   * `totalIsLowerBound` is true: a count over most of a million rows costs more than the page itself.
   */
  countLimit?: number;
}

/** A page of results and how many match in all. */
export interface Page<T> {
  items: T[];
  total: number;
  /** Set when the count stopped at the search's countLimit: at least `total` match. */
  totalIsLowerBound?: true;
  /** Set when the page is full: pass it as `after` for the next page. */
  next?: string;
}

/**
 * Certificates by status at a point in time (`expired`: not revoked, past notAfter). `valid`: not
 * revoked, not expired and not renewed; `renewed`: not revoked and not expired, but a successor
 * renews it (the device now uses the successor), so a renewal is not counted as valid twice.
 */
export interface CertificateCounts {
  valid: number;
  renewed: number;
  revoked: number;
  expired: number;
}

/** Issuances per UTC day (YYYY-MM-DD); days without any are left out. */
export interface DayCount {
  day: string;
  count: number;
}

export interface PendingFilter {
  status?: PendingStatus;
  profile?: string;
  requester?: string;
  /** Only requests that expire after this time (still decidable). */
  expiresAfter?: Date;
  limit?: number;
  offset?: number;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  profile?: string;
  /** Events at or after `from` and before `to`. */
  from?: Date;
  to?: Date;
  /** Keyset paging: only events after this one in the newest-first order (older, or as old with a lower id). */
  before?: { at: Date; id: number };
  limit?: number;
  offset?: number;
}

/** Raised by a store when the database cannot be reached or written. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * A read gave up after the store's time limit for one query (StoreUnavailableError: the caller
 * may retry, better with a narrower search); the store stays usable.
 */
export class StoreTimeoutError extends StoreUnavailableError {
  constructor(message: string, readonly limitMs: number) {
    super(message);
    this.name = 'StoreTimeoutError';
  }
}

/** A query argument the store cannot use, such as a paging cursor it did not make. */
export class StoreQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreQueryError';
  }
}

/** Raised on a uniqueness violation (duplicate email, label or serial). */
export class StoreConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConflictError';
  }
}

/**
 * Everything the RA persists. The Web RA's own capabilities are declared beside their code:
 * second factors (store-mfa.ts), API tokens (store-api-tokens.ts) and webhooks (store-webhooks.ts).
 */
export interface Store extends MfaStore, ApiTokenStore, WebhookStore {
  createAccount(account: NewAccount): Promise<Account>;
  getAccount(email: string): Promise<Account | undefined>;
  listAccounts(): Promise<Account[]>;
  /** Returns false when no such account exists. */
  setAccountPassword(email: string, passwordHash: string): Promise<boolean>;
  setAccountDisabled(email: string, disabled: boolean): Promise<boolean>;
  setAccountAllowedNames(email: string, names: string[]): Promise<boolean>;
  setAccountAllowedProfiles(email: string, labels: string[]): Promise<boolean>;
  /** Self-service sign-in for an EST account (Account.selfService); false when no such account. */
  setAccountSelfService(email: string, enabled: boolean): Promise<boolean>;
  /** Lift failed-attempt locks set before `at` (throttle.ts); false when no such account exists. */
  unlockAccount(email: string, at: Date): Promise<boolean>;

  /** Insert; StoreConflictError when the label exists. */
  createProfile(profile: NewProfile): Promise<Profile>;
  /** Replace an existing profile; returns false when no such label exists. */
  updateProfile(profile: NewProfile): Promise<boolean>;
  getProfile(label: string): Promise<Profile | undefined>;
  listProfiles(): Promise<Profile[]>;
  /**
   * Delete a profile no certificate and no request (of any status) refers to: `deleted`; else
   * `in-use` and nothing changes (retire it instead); `missing` when no such label exists. The
   * check and the delete are one transaction.
   */
  deleteProfile(label: string): Promise<ProfileDeletion>;
  /**
   * Retire a profile: disabled for good (updateProfile cannot enable it again), kept for the
   * certificates it issued. False when no such profile exists or it is already retired.
   */
  retireProfile(label: string, at: Date): Promise<boolean>;
  /** Delete an account (email case ignored) and end its Web RA sessions; false when no such account exists. */
  deleteAccount(email: string): Promise<boolean>;

  /**
   * Commit an issued certificate together with its audit event, atomically and durably
   * (the EST layer answers only after this resolves), with its renewal and approval links.
   */
  recordIssuance(certificate: NewCertificate, event: NewAuditEvent, links?: IssuanceLinks): Promise<void>;
  /** The serial of a certificate that renews this one, if any. */
  findRenewal(serial: string): Promise<string | undefined>;
  getCertificate(serial: string): Promise<CertificateRecord | undefined>;
  listCertificates(filter?: CertificateFilter): Promise<CertificateRecord[]>;
  /**
   * A page of the matching certificates (default limit 100), the number that match (up to
   * countLimit), and a cursor to the next page when this one is full. StoreQueryError for a cursor
   * of another order or not made by the store.
   */
  searchCertificates(search?: CertificateSearch): Promise<Page<CertificateRecord>>;
  countCertificates(now: Date): Promise<CertificateCounts>;
  /** Issuances at or after `since`, by UTC day of issuance, oldest first. */
  issuedPerDay(since: Date): Promise<DayCount[]>;
  /**
   * Revoke a valid certificate, with its audit event when given, in one transaction; false (and
   * no event) when no such certificate exists or it is already revoked. The event's actor is
   * stored as the certificate's revokedBy.
   */
  revokeCertificate(serial: string, reason: string, at: Date, event?: NewAuditEvent): Promise<boolean>;
  /**
   * Release a certificate from hold (revoked with reason certificateHold, RFC 5280 §5.3.1): valid
   * again, off the revoked set (its CA's summary counts the release), with its audit event when
   * given, in one transaction; false (and no event) when no such certificate is on hold.
   */
  releaseHold(serial: string, event?: NewAuditEvent): Promise<boolean>;
  isRevoked(serial: string): Promise<boolean>;
  /** The revoked certificates of one CA, oldest revocation first (for its CRL). */
  listRevoked(ca: string): Promise<RevokedCertificate[]>;
  /** Up to `limit` revoked certificates of one CA in the listRevoked order, after the cursor. */
  listRevokedPage(ca: string, after: RevokedCursor | undefined, limit: number): Promise<RevokedCertificate[]>;
  /** How many certificates of one CA are revoked and the latest revocation time: one row, kept up to date on every revocation. */
  revocationSummary(ca: string): Promise<RevocationSummary>;

  /** Hold a request, with its audit event when given (made from the held request, to name its id), in one transaction. */
  createPendingRequest(request: NewPendingRequest, event?: (held: PendingRequest) => NewAuditEvent): Promise<PendingRequest>;
  /** The newest request of this requester and key on this profile that has not been issued yet. */
  findPendingRequest(profile: string, requester: string, keyId: string): Promise<PendingRequest | undefined>;
  getPendingRequest(id: number): Promise<PendingRequest | undefined>;
  /** Newest first. */
  listPendingRequests(filter?: PendingFilter): Promise<PendingRequest[]>;
  /** How many requests match (limit and offset ignored). */
  countPendingRequests(filter?: PendingFilter): Promise<number>;
  /** Approve or reject a request that is still pending, with its audit event when given, in one transaction; false (and no event) otherwise. */
  decidePendingRequest(id: number, decision: 'approved' | 'rejected', officer: string, reason: string | null, at: Date, event?: NewAuditEvent): Promise<boolean>;
  /** The request an issued certificate fulfilled (held, approved, issued), if it was held. */
  findRequestFor(serial: string): Promise<PendingRequest | undefined>;
  /** Record that an approved request was issued; false when it was not approved. */
  markPendingIssued(id: number, serial: string): Promise<boolean>;
  /**
   * Approve a request that is still pending, with the audit event of what it did, in one
   * transaction. `required` 2 (four-eyes): the first approval is recorded and the request stays
   * pending; a second one by another officer approves it. undefined (and no event) when the
   * request is not pending, or when `officer` gave its first approval.
   */
  approvePendingRequest(id: number, officer: string, required: ApprovalsRequired, reason: string | null, at: Date, events?: ApprovalEvents): Promise<ApprovalResult | undefined>;
  /**
   * Other requests not yet issued nor refused (pending or approved) and valid certificates (not
   * revoked, notAfter ≥ now) with one of these subjects or keys (the SHA-256 of the SubjectPublicKeyInfo,
   * hex); a certificate is found by key when a held request with that key was issued. At most 200 of each.
   */
  findRequestOverlaps(subjects: string[], keyIds: string[], now: Date): Promise<RequestOverlaps>;

  appendAudit(event: NewAuditEvent): Promise<void>;
  /** Newest first. */
  listAudit(filter?: AuditFilter): Promise<AuditEvent[]>;
  /** How many events match (limit and offset ignored). */
  countAudit(filter?: AuditFilter): Promise<number>;
  /** The audit chain (audit-chain.ts): chained events with seq > afterSeq, in seq order, at most `limit`. */
  auditChainPage(afterSeq: number, limit: number): Promise<AuditChainLink[]>;
  /** The events from before the chain began. */
  auditChainStart(): Promise<AuditChainStart>;

  /** Web RA sessions, shared by every instance (the Web RA signs in on one and is served by any). */
  createSession(session: WebSession): Promise<void>;
  /** The session with this id (the SHA-256 of its cookie value), expired or not. */
  getSession(id: string): Promise<WebSession | undefined>;
  /** Record activity on a session (its idle timer restarts); false when it is gone. */
  touchSession(id: string, at: Date): Promise<boolean>;
  deleteSession(id: string): Promise<void>;
  /** Sign an account out everywhere (password changed, account disabled; email case ignored); returns how many sessions ended. */
  deleteSessionsOf(email: string): Promise<number>;
  /** Drop sessions past their absolute end or idle longer than `idleMs` at `at`; returns how many. */
  purgeSessions(at: Date, idleMs: number): Promise<number>;

  /**
   * Count a failed password check against `key` (an account, an address, a pair) within
   * `limit.windowMs` (a sliding window), atomically across instances; returns the lock it set off,
   * if this failure reached `limit.maxFailures` (the count then starts again). A failure while the
   * key is locked is not counted. Emits a `lock` change for the key.
   */
  recordFailure(key: string, limit: FailureLimit, at: Date): Promise<FailureLock | undefined>;
  /** The lock on `key` still in force at `at`, if any. */
  activeLock(key: string, at: Date): Promise<FailureLock | undefined>;
  /** Forget a key's failures and lock (a successful sign-in, an unlock). */
  clearFailures(key: string): Promise<void>;

  /**
   * Take (or renew) the named lease for `holder` until `at + ttlMs`: true when `holder` now holds
   * it, false while another holder's lease lasts (it is free from its end on: `end <= at`). Jobs
   * that must run on one instance at a time (signing the shared CRL) run under a lease; its holder
   * releases it by renewing with `ttlMs` 0.
   */
  acquireLease(name: string, holder: string, at: Date, ttlMs: number): Promise<boolean>;

  /** The CRL last published for a CA (complete or delta), shared by every instance. */
  getCrl(ca: string, kind: CrlKind): Promise<StoredCrl | undefined>;
  /** Publish a CRL unless one with the same or a higher number is already stored; true when stored. */
  putCrl(crl: StoredCrl): Promise<boolean>;

  /**
   * Committed changes, by this instance or any other process sharing the database, for caches
   * to drop what they hold (store/cached-store.ts).
   */
  readonly changes: StoreChanges;

  close(): Promise<void>;
}

/** A Web RA session; the cookie holds a random value whose SHA-256 (hex) is the id. */
export interface WebSession {
  id: string;
  email: string;
  role: SessionRole;
  csrfToken: string;
  createdAt: Date;
  lastSeenAt: Date;
  /** Absolute end, whatever the activity. */
  expiresAt: Date;
}

export interface FailureLimit {
  maxFailures: number;
  windowMs: number;
  lockMs: number;
}

export interface FailureLock {
  lockedAt: Date;
  lockedUntil: Date;
}

export type CrlKind = 'complete' | 'delta';

export interface StoredCrl {
  /** The CA id and, for a CA with several key generations, `<id>.g<n>` as in the CRL's URL. */
  ca: string;
  kind: CrlKind;
  number: bigint;
  der: Buffer;
  thisUpdate: Date;
  nextUpdate: Date;
  /** What the CRL was signed against (the revoked set's summary), so others can tell it is current. */
  stamp: string;
}

/**
 * What a change touched. `any`: something changed but the store cannot say what (SQLite sees
 * another process's commit only as a new data version); caches drop everything.
 */
export type StoreChange =
  | { kind: 'profile'; label: string }
  | { kind: 'account'; email: string }
  | { kind: 'revocation'; ca: string; serial: string }
  | { kind: 'lock'; key: string }
  | { kind: 'session'; id: string }
  | { kind: 'crl'; ca: string }
  | { kind: 'any' };

export interface StoreChanges {
  /** Calls `listener` after every committed change; returns the unsubscribe function. */
  subscribe(listener: (change: StoreChange) => void): () => void;
  /**
   * Look for other processes' commits now, if the store can do that cheaply and synchronously
   * (SQLite: one data_version read per event-loop turn), so a cache read right after a CLI change
   * already sees it. Stores told by the database itself (PostgreSQL LISTEN/NOTIFY) leave it out.
   */
  poll?(): void;
}

/**
 * Optional capability of a store with a connection pool (PostgreSQL): its use now, for
 * estuary_store_pool_connections. A store without it has no such samples.
 */
export interface PoolReporting {
  /** undefined: no pool behind this store after all (a cache in front of a store without one). */
  poolStats(): { total: number; idle: number; waiting: number } | undefined;
}

export function reportsPool(store: object): store is PoolReporting {
  return typeof (store as Partial<PoolReporting>).poolStats === 'function';
}

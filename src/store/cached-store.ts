/**
 * Profiles and accounts are read on every EST request and rarely change: withCache() keeps them
 * in memory in front of any Store, and drops them on the store's change signal (Store.changes):
 * the profile or account named by the change, everything on `{ kind: 'any' }`. Before serving
 * from memory it asks the store to look for other processes' commits (changes.poll), so a change
 * made with the CLI is in force for the server's next request.
 *
 * Cached objects are shared by every caller and frozen, so nobody can change them by accident.
 */
import type { Account, Profile } from '../ra/model.js';
import { reportsPool, StoreUnavailableError, type Store, type StoreChange } from './store.js';

/** A read-through cache of one kind of record, keyed by its label or lower-cased email. */
class RecordCache<T extends object> {
  /** null: known not to exist. */
  private entries = new Map<string, T | null>();
  /** Moves on every drop, so a read that raced a change does not put the old record back. */
  private generation = 0;

  constructor(private readonly load: (key: string) => Promise<T | undefined>) {}

  /** A hit costs one map lookup and no closure (every EST request makes two). */
  get(key: string): Promise<T | undefined> {
    const hit = this.entries.get(key);
    if (hit !== undefined) return Promise.resolve(hit ?? undefined);
    return this.fill(key);
  }

  private async fill(key: string): Promise<T | undefined> {
    const generation = this.generation;
    const loaded = await this.load(key);
    const record = loaded && frozen(loaded);
    if (generation === this.generation) this.entries.set(key, record ?? null);
    return record;
  }

  drop(key?: string): void {
    this.generation++;
    if (key === undefined) this.entries = new Map();
    else this.entries.delete(key);
  }
}

/** Freezes the record and the objects and arrays directly in it (as the store's cache always did). */
function frozen<T extends object>(record: T): T {
  for (const v of Object.values(record)) if (typeof v === 'object' && v !== null) Object.freeze(v);
  return Object.freeze(record);
}

class CachedStore implements Store {
  private readonly profiles: RecordCache<Profile>;
  private readonly accounts: RecordCache<Account>;
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(private readonly store: Store) {
    this.profiles = new RecordCache((label) => store.getProfile(label));
    this.accounts = new RecordCache((email) => store.getAccount(email));
    this.unsubscribe = store.changes.subscribe((change) => this.drop(change));
  }

  get changes(): Store['changes'] {
    return this.store.changes;
  }

  /** The wrapped store's pool, when it has one (PoolReporting). */
  poolStats(): { total: number; idle: number; waiting: number } | undefined {
    return reportsPool(this.store) ? this.store.poolStats() : undefined;
  }

  private drop(change: StoreChange): void {
    switch (change.kind) {
      case 'profile':
        this.profiles.drop(change.label);
        return;
      case 'account':
        this.accounts.drop(change.email.toLowerCase());
        return;
      case 'any':
        this.profiles.drop();
        this.accounts.drop();
        return;
      case 'revocation':
      case 'lock':
      case 'session':
      case 'crl':
        return; // nothing cached here depends on them
    }
  }

  /** Other processes' commits are looked for before anything is served from memory. */
  private fresh(what: string): StoreUnavailableError | undefined {
    if (this.closed) return new StoreUnavailableError(`${what}: the store is closed`);
    try {
      this.store.changes.poll?.();
    } catch (err) {
      return err instanceof StoreUnavailableError ? err : new StoreUnavailableError(`${what}: ${(err as Error).message}`, { cause: err });
    }
    return undefined;
  }

  getProfile(label: string): Promise<Profile | undefined> {
    const refused = this.fresh('getProfile');
    return refused ? Promise.reject(refused) : this.profiles.get(label);
  }

  getAccount(email: string): Promise<Account | undefined> {
    const refused = this.fresh('getAccount');
    return refused ? Promise.reject(refused) : this.accounts.get(email.toLowerCase());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    await this.store.close();
  }

  // Everything else goes straight to the store.
  createAccount: Store['createAccount'] = (a) => this.store.createAccount(a);
  listAccounts: Store['listAccounts'] = () => this.store.listAccounts();
  setAccountPassword: Store['setAccountPassword'] = (e, h) => this.store.setAccountPassword(e, h);
  setAccountDisabled: Store['setAccountDisabled'] = (e, d) => this.store.setAccountDisabled(e, d);
  setAccountAllowedNames: Store['setAccountAllowedNames'] = (e, n) => this.store.setAccountAllowedNames(e, n);
  setAccountAllowedProfiles: Store['setAccountAllowedProfiles'] = (e, l) => this.store.setAccountAllowedProfiles(e, l);
  setAccountSelfService: Store['setAccountSelfService'] = (e, on) => this.store.setAccountSelfService(e, on);
  unlockAccount: Store['unlockAccount'] = (e, at) => this.store.unlockAccount(e, at);
  createProfile: Store['createProfile'] = (p) => this.store.createProfile(p);
  updateProfile: Store['updateProfile'] = (p) => this.store.updateProfile(p);
  listProfiles: Store['listProfiles'] = () => this.store.listProfiles();
  deleteProfile: Store['deleteProfile'] = (l) => this.store.deleteProfile(l);
  retireProfile: Store['retireProfile'] = (l, at) => this.store.retireProfile(l, at);
  deleteAccount: Store['deleteAccount'] = (e) => this.store.deleteAccount(e);
  recordIssuance: Store['recordIssuance'] = (c, e, l) => this.store.recordIssuance(c, e, l);
  findRenewal: Store['findRenewal'] = (s) => this.store.findRenewal(s);
  getCertificate: Store['getCertificate'] = (s) => this.store.getCertificate(s);
  listCertificates: Store['listCertificates'] = (f) => this.store.listCertificates(f);
  searchCertificates: Store['searchCertificates'] = (s) => this.store.searchCertificates(s);
  countCertificates: Store['countCertificates'] = (n) => this.store.countCertificates(n);
  issuedPerDay: Store['issuedPerDay'] = (s) => this.store.issuedPerDay(s);
  revokeCertificate: Store['revokeCertificate'] = (s, r, at, e) => this.store.revokeCertificate(s, r, at, e);
  releaseHold: Store['releaseHold'] = (s, e) => this.store.releaseHold(s, e);
  isRevoked: Store['isRevoked'] = (s) => this.store.isRevoked(s);
  listRevoked: Store['listRevoked'] = (ca) => this.store.listRevoked(ca);
  listRevokedPage: Store['listRevokedPage'] = (ca, after, limit) => this.store.listRevokedPage(ca, after, limit);
  revocationSummary: Store['revocationSummary'] = (ca) => this.store.revocationSummary(ca);
  createPendingRequest: Store['createPendingRequest'] = (r, e) => this.store.createPendingRequest(r, e);
  findPendingRequest: Store['findPendingRequest'] = (p, r, k) => this.store.findPendingRequest(p, r, k);
  getPendingRequest: Store['getPendingRequest'] = (id) => this.store.getPendingRequest(id);
  listPendingRequests: Store['listPendingRequests'] = (f) => this.store.listPendingRequests(f);
  countPendingRequests: Store['countPendingRequests'] = (f) => this.store.countPendingRequests(f);
  decidePendingRequest: Store['decidePendingRequest'] = (id, d, o, r, at, e) => this.store.decidePendingRequest(id, d, o, r, at, e);
  findRequestFor: Store['findRequestFor'] = (s) => this.store.findRequestFor(s);
  markPendingIssued: Store['markPendingIssued'] = (id, s) => this.store.markPendingIssued(id, s);
  approvePendingRequest: Store['approvePendingRequest'] = (id, o, n, r, at, e) => this.store.approvePendingRequest(id, o, n, r, at, e);
  findRequestOverlaps: Store['findRequestOverlaps'] = (s, k, now) => this.store.findRequestOverlaps(s, k, now);
  appendAudit: Store['appendAudit'] = (e) => this.store.appendAudit(e);
  listAudit: Store['listAudit'] = (f) => this.store.listAudit(f);
  countAudit: Store['countAudit'] = (f) => this.store.countAudit(f);
  auditChainPage: Store['auditChainPage'] = (after, limit) => this.store.auditChainPage(after, limit);
  auditChainStart: Store['auditChainStart'] = () => this.store.auditChainStart();
  createSession: Store['createSession'] = (s) => this.store.createSession(s);
  getSession: Store['getSession'] = (id) => this.store.getSession(id);
  touchSession: Store['touchSession'] = (id, at) => this.store.touchSession(id, at);
  deleteSession: Store['deleteSession'] = (id) => this.store.deleteSession(id);
  deleteSessionsOf: Store['deleteSessionsOf'] = (e) => this.store.deleteSessionsOf(e);
  purgeSessions: Store['purgeSessions'] = (at, idle) => this.store.purgeSessions(at, idle);
  recordFailure: Store['recordFailure'] = (k, l, at) => this.store.recordFailure(k, l, at);
  activeLock: Store['activeLock'] = (k, at) => this.store.activeLock(k, at);
  clearFailures: Store['clearFailures'] = (k) => this.store.clearFailures(k);
  acquireLease: Store['acquireLease'] = (n, h, at, ttl) => this.store.acquireLease(n, h, at, ttl);
  getCrl: Store['getCrl'] = (ca, kind) => this.store.getCrl(ca, kind);
  putCrl: Store['putCrl'] = (crl) => this.store.putCrl(crl);
  getMfa: Store['getMfa'] = (e) => this.store.getMfa(e);
  listMfaEnrolled: Store['listMfaEnrolled'] = () => this.store.listMfaEnrolled();
  beginMfaEnrolment: Store['beginMfaEnrolment'] = (e, s, at) => this.store.beginMfaEnrolment(e, s, at);
  confirmMfa: Store['confirmMfa'] = (e, s, step, h, at) => this.store.confirmMfa(e, s, step, h, at);
  useMfaStep: Store['useMfaStep'] = (e, step) => this.store.useMfaStep(e, step);
  useRecoveryCode: Store['useRecoveryCode'] = (e, h, at) => this.store.useRecoveryCode(e, h, at);
  replaceRecoveryCodes: Store['replaceRecoveryCodes'] = (e, h) => this.store.replaceRecoveryCodes(e, h);
  resetMfa: Store['resetMfa'] = (e) => this.store.resetMfa(e);
  getMfaRequiredRoles: Store['getMfaRequiredRoles'] = () => this.store.getMfaRequiredRoles();
  setMfaRequiredRoles: Store['setMfaRequiredRoles'] = (r) => this.store.setMfaRequiredRoles(r);
  createSignInChallenge: Store['createSignInChallenge'] = (c) => this.store.createSignInChallenge(c);
  getSignInChallenge: Store['getSignInChallenge'] = (id) => this.store.getSignInChallenge(id);
  deleteSignInChallenge: Store['deleteSignInChallenge'] = (id, at) => this.store.deleteSignInChallenge(id, at);
  createApiToken: Store['createApiToken'] = (t) => this.store.createApiToken(t);
  findApiToken: Store['findApiToken'] = (h) => this.store.findApiToken(h);
  getApiToken: Store['getApiToken'] = (id) => this.store.getApiToken(id);
  listApiTokens: Store['listApiTokens'] = () => this.store.listApiTokens();
  touchApiToken: Store['touchApiToken'] = (id, at) => this.store.touchApiToken(id, at);
  revokeApiToken: Store['revokeApiToken'] = (id, by, at) => this.store.revokeApiToken(id, by, at);
  createWebhookEndpoint: Store['createWebhookEndpoint'] = (e) => this.store.createWebhookEndpoint(e);
  getWebhookEndpoint: Store['getWebhookEndpoint'] = (id) => this.store.getWebhookEndpoint(id);
  listWebhookEndpoints: Store['listWebhookEndpoints'] = () => this.store.listWebhookEndpoints();
  deleteWebhookEndpoint: Store['deleteWebhookEndpoint'] = (id) => this.store.deleteWebhookEndpoint(id);
  queueExpiringWebhooks: Store['queueExpiringWebhooks'] = (at) => this.store.queueExpiringWebhooks(at);
  claimWebhookDeliveries: Store['claimWebhookDeliveries'] = (h, at, ms, n) => this.store.claimWebhookDeliveries(h, at, ms, n);
  finishWebhookDeliveries: Store['finishWebhookDeliveries'] = (h, a) => this.store.finishWebhookDeliveries(h, a);
  redeliverWebhook: Store['redeliverWebhook'] = (id, at) => this.store.redeliverWebhook(id, at);
  getWebhookDelivery: Store['getWebhookDelivery'] = (id) => this.store.getWebhookDelivery(id);
  listWebhookDeliveries: Store['listWebhookDeliveries'] = (f) => this.store.listWebhookDeliveries(f);
  purgeWebhookDeliveries: Store['purgeWebhookDeliveries'] = (before) => this.store.purgeWebhookDeliveries(before);
}

/** The store with profiles and accounts cached in front of it (see the file comment). */
export function withCache(store: Store): Store {
  return new CachedStore(store);
}

/**
 * Web RA sign-in throttling. Failures are counted per (client address, email) pair and per client
 * address across emails: five wrong guesses from one address lock that address out of that
 * account only, so nobody can lock the admin out of the Web RA by guessing from elsewhere. An
 * address that fails on many accounts is locked as a whole. Locks expire; an admin lifts an
 * account's locks early (Web RA, `estuary account unlock`), recorded as the account's unlockedAt.
 * A successful sign-in clears its pair. Counts and locks are in the store, shared by every
 * instance (ra/throttle.ts).
 */
import { FailureThrottle } from '../ra/throttle.js';
import type { Store } from '../store/store.js';

export interface ThrottleOptions {
  /** Failures of one email from one address before that pair is locked. */
  maxFailuresPerEmail: number;
  /** Failures from one address, on any emails, before the address is locked. */
  maxFailuresPerAddress: number;
  windowMs: number;
  lockMs: number;
  now: () => number;
  store: Store;
  /** Keys remembered here beyond this many drop the oldest (memory bound). */
  maxKeys?: number;
  /**
   * Wrong second-factor codes for one account from any addresses before its code step is locked
   * (default 10): someone who has the password cannot spread guesses over many addresses.
   */
  maxCodeFailuresPerAccount?: number;
}

export const DEFAULT_THROTTLE = { maxFailuresPerEmail: 5, maxFailuresPerAddress: 20, windowMs: 15 * 60_000, lockMs: 15 * 60_000 } as const;

export type LockScope = 'email' | 'address';

export interface Lock {
  scope: LockScope;
  retryAfterSeconds: number;
}

const pairKey = (email: string, address: string): string => `p:${address}\0${email}`;
const addressKey = (address: string): string => `a:${address}`;
const codeKey = (email: string): string => `m:${email}`;

export class SignInThrottle {
  private readonly throttle: FailureThrottle;

  constructor(private readonly o: ThrottleOptions) {
    this.throttle = new FailureThrottle({ store: o.store, now: o.now, ...(o.maxKeys !== undefined ? { maxKeys: o.maxKeys } : {}) });
  }

  /** The lock that refuses this attempt, if any. A pair lock set before `unlockedAt` is void. */
  async locked(email: string, address: string, unlockedAt?: Date | null): Promise<Lock | undefined> {
    const a = await this.throttle.lockedSeconds(addressKey(address));
    if (a > 0) return { scope: 'address', retryAfterSeconds: a };
    const p = await this.throttle.lockedSeconds(pairKey(email, address), unlockedAt);
    return p > 0 ? { scope: 'email', retryAfterSeconds: p } : undefined;
  }

  /** Records a failure; returns the locks it set off (for the audit log). */
  async fail(email: string, address: string): Promise<Lock[]> {
    const { windowMs, lockMs } = this.o;
    const locks: Lock[] = [];
    const p = await this.throttle.fail(pairKey(email, address), { maxFailures: this.o.maxFailuresPerEmail, windowMs, lockMs });
    if (p > 0) locks.push({ scope: 'email', retryAfterSeconds: p });
    const a = await this.throttle.fail(addressKey(address), { maxFailures: this.o.maxFailuresPerAddress, windowMs, lockMs });
    if (a > 0) locks.push({ scope: 'address', retryAfterSeconds: a });
    return locks;
  }

  /** An address with recent failures: its password checks wait behind everyone else's. */
  suspect(address: string): boolean {
    return this.throttle.hasRecentFailures(addressKey(address), this.o.windowMs);
  }

  /** Seconds the account's second step stays locked after wrong codes from any addresses (0: not locked); void before `unlockedAt`. */
  async codeLockedSeconds(email: string, unlockedAt?: Date | null): Promise<number> {
    return this.throttle.lockedSeconds(codeKey(email), unlockedAt);
  }

  /** Records a wrong second-factor code for the account, whatever the address; the lock it set off, in seconds (0: none). */
  async failCode(email: string): Promise<number> {
    const { windowMs, lockMs } = this.o;
    return this.throttle.fail(codeKey(email), { maxFailures: this.o.maxCodeFailuresPerAccount ?? 10, windowMs, lockMs });
  }

  async succeed(email: string, address: string): Promise<void> {
    await this.throttle.clear(pairKey(email, address));
  }
}

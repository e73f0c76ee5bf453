/**
 * Failure throttling for password checks (EST HTTP Basic and Web RA sign-in): failures are
 * counted per key within a window; reaching the limit locks the key for a while. A lock is
 * refused before any password hash is paid. In memory and bounded; a restart forgets locks.
 *
 * An account lock can be lifted early by an unlock recorded in the store (`unlockedAt`): a lock
 * set before that instant no longer counts, which lets another process (the CLI) unlock.
 */

export interface FailureLimit {
  maxFailures: number;
  windowMs: number;
  lockMs: number;
}

interface Entry {
  failures: number[];
  lockedAt: number;
  lockedUntil: number;
}

export interface FailureThrottleOptions {
  now: () => number;
  /** Tracked keys beyond this many drop the oldest idle ones first (memory bound). */
  maxKeys?: number;
}

export class FailureThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly maxKeys: number;

  constructor(private readonly o: FailureThrottleOptions) {
    this.maxKeys = o.maxKeys ?? 50_000;
  }

  /** Seconds this key stays locked (0: not locked). A lock set at or before `unlockedAt` is void. */
  lockedSeconds(key: string, unlockedAt?: Date | null): number {
    const entry = this.entries.get(key);
    if (!entry) return 0;
    const now = this.o.now();
    if (unlockedAt && entry.lockedAt <= unlockedAt.getTime()) {
      this.entries.delete(key);
      return 0;
    }
    return entry.lockedUntil > now ? Math.max(1, Math.ceil((entry.lockedUntil - now) / 1000)) : 0;
  }

  /** True while this key has failures within its window or a lock (a suspect, not yet locked). */
  hasRecentFailures(key: string, windowMs: number): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    const now = this.o.now();
    return entry.lockedUntil > now || entry.failures.some((t) => now - t < windowMs);
  }

  /** Records a failure; returns the lock's seconds when this failure set one off, else 0. */
  fail(key: string, limit: FailureLimit): number {
    const now = this.o.now();
    const entry = this.entry(key);
    if (entry.lockedUntil > now) return 0;
    entry.failures = entry.failures.filter((t) => now - t < limit.windowMs);
    entry.failures.push(now);
    if (entry.failures.length < limit.maxFailures) return 0;
    entry.failures = [];
    entry.lockedAt = now;
    entry.lockedUntil = now + limit.lockMs;
    return Math.ceil(limit.lockMs / 1000);
  }

  /** Forget a key's failures and lock (a successful sign-in, an unlock). */
  clear(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private entry(key: string): Entry {
    let e = this.entries.get(key);
    if (!e) {
      if (this.entries.size >= this.maxKeys) this.prune();
      this.entries.set(key, (e = { failures: [], lockedAt: 0, lockedUntil: 0 }));
    }
    return e;
  }

  private prune(): void {
    const now = this.o.now();
    for (const [k, e] of this.entries) if (e.lockedUntil <= now && e.failures.length === 0) this.entries.delete(k);
    while (this.entries.size >= this.maxKeys) this.entries.delete(this.entries.keys().next().value!);
  }
}

/** EST HTTP Basic: failures per account (email as sent) and per client address. */
export interface BasicThrottleSettings {
  maxFailuresPerAccount: number;
  maxFailuresPerAddress: number;
  windowSeconds: number;
  lockSeconds: number;
}

export const DEFAULT_BASIC_THROTTLE: BasicThrottleSettings = { maxFailuresPerAccount: 10, maxFailuresPerAddress: 50, windowSeconds: 900, lockSeconds: 900 };

export type BasicLockScope = 'account' | 'address';

export interface BasicLock {
  scope: BasicLockScope;
  retryAfterSeconds: number;
}

export class BasicAuthThrottle {
  private readonly throttle: FailureThrottle;
  private readonly account: FailureLimit;
  private readonly address: FailureLimit;

  constructor(settings: BasicThrottleSettings, now: () => number) {
    this.throttle = new FailureThrottle({ now });
    const windowMs = settings.windowSeconds * 1000;
    const lockMs = settings.lockSeconds * 1000;
    this.account = { maxFailures: settings.maxFailuresPerAccount, windowMs, lockMs };
    this.address = { maxFailures: settings.maxFailuresPerAddress, windowMs, lockMs };
  }

  /** The lock refusing an attempt, if any: the address first, then the account. */
  locked(email: string, address: string | undefined, unlockedAt?: Date | null): BasicLock | undefined {
    if (address !== undefined) {
      const s = this.throttle.lockedSeconds(`ip:${address}`);
      if (s > 0) return { scope: 'address', retryAfterSeconds: s };
    }
    const s = this.throttle.lockedSeconds(`acct:${email}`, unlockedAt);
    return s > 0 ? { scope: 'account', retryAfterSeconds: s } : undefined;
  }

  /** A client address whose recent attempts failed: its password checks wait behind everyone else's. */
  suspect(address: string | undefined): boolean {
    return address !== undefined && this.throttle.hasRecentFailures(`ip:${address}`, this.address.windowMs);
  }

  /** Records a failed check; returns the locks it set off (each one is audited once). */
  fail(email: string, address: string | undefined): BasicLock[] {
    const locks: BasicLock[] = [];
    const a = this.throttle.fail(`acct:${email}`, this.account);
    if (a > 0) locks.push({ scope: 'account', retryAfterSeconds: a });
    if (address !== undefined) {
      const b = this.throttle.fail(`ip:${address}`, this.address);
      if (b > 0) locks.push({ scope: 'address', retryAfterSeconds: b });
    }
    return locks;
  }

  /** A correct password clears the account's failures (not the address's: it may be shared). */
  succeed(email: string): void {
    this.throttle.clear(`acct:${email}`);
  }
}

/**
 * Failure throttling for password checks (EST HTTP Basic and Web RA sign-in): failures are
 * counted per key within a window; reaching the limit locks the key for a while. A lock is
 * refused before any password hash is paid.
 *
 * Counts and locks live in the store (Store.recordFailure / activeLock / clearFailures), so every
 * instance sharing the database counts the same failures and honours the same locks. The lock
 * check is on the path of every EST enrollment, so what is known about a key (locked until when,
 * or not locked) is kept here and trusted until the store signals a change to that key (`lock`,
 * or `any`) or `maxAgeMs` passes (default 1 s: a lock set elsewhere is in force here within it,
 * even from a store that cannot signal); a key seen again costs no database read. Failures are
 * rare and each costs one write.
 *
 * An account lock can be lifted early by an unlock recorded in the store (`unlockedAt`): a lock
 * set before that instant no longer counts, which lets another process (the CLI) unlock.
 */
import type { FailureLimit, FailureLock, Store } from '../store/store.js';

export type { FailureLimit } from '../store/store.js';

export interface FailureThrottleOptions {
  store: Store;
  now: () => number;
  /** Keys whose state is remembered here beyond this many drop the oldest (memory bound). */
  maxKeys?: number;
  /** How long what is known about a key is trusted without a change signal (default 1000 ms). */
  maxAgeMs?: number;
}

interface Known {
  lock: FailureLock | undefined;
  readAt: number;
}

export class FailureThrottle {
  private readonly known = new Map<string, Known>();
  /** Keys that may have failures counted in the store, and when this instance last saw one (suspects). */
  private readonly failing = new Map<string, number>();
  /** Moves on every change signal: a read that started before one is not remembered. */
  private generation = 0;
  private readonly maxKeys: number;
  private readonly maxAgeMs: number;

  constructor(private readonly o: FailureThrottleOptions) {
    this.maxKeys = o.maxKeys ?? 50_000;
    this.maxAgeMs = o.maxAgeMs ?? 1000;
    o.store.changes.subscribe((change) => {
      if (change.kind === 'lock') {
        this.generation++;
        this.known.delete(change.key);
        if (!this.failing.has(change.key)) this.remember(this.failing, change.key, -Infinity); // not seen here
      } else if (change.kind === 'any') {
        this.generation++;
        this.known.clear();
      }
    });
  }

  /** Seconds this key stays locked (0: not locked). A lock set at or before `unlockedAt` is void. */
  async lockedSeconds(key: string, unlockedAt?: Date | null): Promise<number> {
    this.o.store.changes.poll?.();
    const now = this.o.now();
    const lock = await this.lockOf(key, now);
    if (!lock || lock.lockedUntil.getTime() <= now) return 0;
    if (unlockedAt && lock.lockedAt.getTime() <= unlockedAt.getTime()) {
      // Voided: forget it in the store too, so failures count again from zero.
      await this.o.store.clearFailures(key);
      this.known.delete(key);
      return 0;
    }
    return Math.max(1, Math.ceil((lock.lockedUntil.getTime() - now) / 1000));
  }

  /**
   * True while this key has a lock or failures within its window that this instance knows of
   * (a suspect, whose password checks wait behind everyone else's): a scheduling hint, local.
   */
  hasRecentFailures(key: string, windowMs: number): boolean {
    const now = this.o.now();
    const lock = this.known.get(key)?.lock;
    if (lock && lock.lockedUntil.getTime() > now) return true;
    const last = this.failing.get(key);
    return last !== undefined && now - last < windowMs;
  }

  /** Records a failure in the store; returns the lock's seconds when this failure set one off, else 0. */
  async fail(key: string, limit: FailureLimit): Promise<number> {
    const now = this.o.now();
    this.remember(this.failing, key, now);
    const lock = await this.o.store.recordFailure(key, limit, new Date(now));
    if (!lock) return 0;
    this.remember(this.known, key, { lock, readAt: now });
    return Math.ceil(limit.lockMs / 1000);
  }

  /**
   * Forget a key's failures and lock (a successful sign-in, an unlock). Written to the store only
   * when the key may have failures (counted here or signalled), so a success costs no write.
   */
  async clear(key: string): Promise<void> {
    if (!this.failing.has(key) && !this.known.get(key)?.lock) return;
    await this.o.store.clearFailures(key);
    this.failing.delete(key);
    this.known.delete(key);
  }

  get size(): number {
    return this.known.size;
  }

  private async lockOf(key: string, now: number): Promise<FailureLock | undefined> {
    const hit = this.known.get(key);
    if (hit && now - hit.readAt < this.maxAgeMs) return hit.lock;
    const generation = this.generation;
    const lock = await this.o.store.activeLock(key, new Date(now));
    if (generation === this.generation) this.remember(this.known, key, { lock, readAt: now });
    return lock;
  }

  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key); // re-inserted last: the oldest are dropped first
    map.set(key, value);
    while (map.size > this.maxKeys) map.delete(map.keys().next().value!);
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

  constructor(settings: BasicThrottleSettings, store: Store, now: () => number) {
    this.throttle = new FailureThrottle({ store, now });
    const windowMs = settings.windowSeconds * 1000;
    const lockMs = settings.lockSeconds * 1000;
    this.account = { maxFailures: settings.maxFailuresPerAccount, windowMs, lockMs };
    this.address = { maxFailures: settings.maxFailuresPerAddress, windowMs, lockMs };
  }

  /** The lock refusing an attempt, if any: the address first, then the account. */
  async locked(email: string, address: string | undefined, unlockedAt?: Date | null): Promise<BasicLock | undefined> {
    if (address !== undefined) {
      const s = await this.throttle.lockedSeconds(`ip:${address}`);
      if (s > 0) return { scope: 'address', retryAfterSeconds: s };
    }
    const s = await this.throttle.lockedSeconds(`acct:${email}`, unlockedAt);
    return s > 0 ? { scope: 'account', retryAfterSeconds: s } : undefined;
  }

  /** A client address whose recent attempts failed: its password checks wait behind everyone else's. */
  suspect(address: string | undefined): boolean {
    return address !== undefined && this.throttle.hasRecentFailures(`ip:${address}`, this.address.windowMs);
  }

  /** Records a failed check; returns the locks it set off (each one is audited once). */
  async fail(email: string, address: string | undefined): Promise<BasicLock[]> {
    const locks: BasicLock[] = [];
    const a = await this.throttle.fail(`acct:${email}`, this.account);
    if (a > 0) locks.push({ scope: 'account', retryAfterSeconds: a });
    if (address !== undefined) {
      const b = await this.throttle.fail(`ip:${address}`, this.address);
      if (b > 0) locks.push({ scope: 'address', retryAfterSeconds: b });
    }
    return locks;
  }

  /** A correct password clears the account's failures (not the address's: it may be shared). */
  async succeed(email: string): Promise<void> {
    await this.throttle.clear(`acct:${email}`);
  }
}

/**
 * Sign-in throttling: failures are counted per email address and per client address within a
 * window; reaching a limit locks that email (or address) for a while, correct password or not.
 * A successful sign-in clears its email's failures. In memory, bounded.
 */

export interface ThrottleOptions {
  maxFailuresPerEmail: number;
  maxFailuresPerAddress: number;
  windowMs: number;
  lockMs: number;
  now: () => number;
  /** Tracked keys beyond this many drop the oldest (memory bound). */
  maxKeys?: number;
}

export const DEFAULT_THROTTLE = { maxFailuresPerEmail: 5, maxFailuresPerAddress: 20, windowMs: 15 * 60_000, lockMs: 15 * 60_000 } as const;

export type LockScope = 'email' | 'address';

export interface Lock {
  scope: LockScope;
  retryAfterSeconds: number;
}

interface Entry {
  failures: number[];
  lockedUntil: number;
}

export class SignInThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly maxKeys: number;

  constructor(private readonly o: ThrottleOptions) {
    this.maxKeys = o.maxKeys ?? 50_000;
  }

  /** The lock that refuses this attempt, if any. */
  locked(email: string, address: string): Lock | undefined {
    const now = this.o.now();
    for (const [scope, key] of [['email', `e:${email}`], ['address', `a:${address}`]] as const) {
      const until = this.entries.get(key)?.lockedUntil ?? 0;
      if (until > now) return { scope, retryAfterSeconds: Math.max(1, Math.ceil((until - now) / 1000)) };
    }
    return undefined;
  }

  /** Records a failure; returns the locks it set off (for the audit log). */
  fail(email: string, address: string): Lock[] {
    const now = this.o.now();
    const locks: Lock[] = [];
    const limits = [['email', `e:${email}`, this.o.maxFailuresPerEmail], ['address', `a:${address}`, this.o.maxFailuresPerAddress]] as const;
    for (const [scope, key, max] of limits) {
      const entry = this.entry(key);
      entry.failures = entry.failures.filter((t) => now - t < this.o.windowMs);
      entry.failures.push(now);
      if (entry.failures.length >= max && entry.lockedUntil <= now) {
        entry.lockedUntil = now + this.o.lockMs;
        entry.failures = [];
        locks.push({ scope, retryAfterSeconds: Math.ceil(this.o.lockMs / 1000) });
      }
    }
    return locks;
  }

  succeed(email: string): void {
    this.entries.delete(`e:${email}`);
  }

  private entry(key: string): Entry {
    let e = this.entries.get(key);
    if (!e) {
      if (this.entries.size >= this.maxKeys) this.prune();
      this.entries.set(key, (e = { failures: [], lockedUntil: 0 }));
    }
    return e;
  }

  private prune(): void {
    const now = this.o.now();
    for (const [k, e] of this.entries) {
      if (e.lockedUntil <= now && e.failures.every((t) => now - t >= this.o.windowMs)) this.entries.delete(k);
    }
    while (this.entries.size >= this.maxKeys) this.entries.delete(this.entries.keys().next().value!);
  }
}

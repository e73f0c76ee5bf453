/**
 * Remembers credentials that recently passed a full scrypt check, so a client that enrolls
 * many times does not pay ~50 ms of hashing per request.
 *
 * Safety: the cache holds HMAC-SHA256(processKey, email ‖ password), never the password; the
 * key is random per process and never leaves memory. An entry is honoured only while the
 * account's stored hash is the one it was checked against (a password change or reset
 * invalidates it at once), for a bounded time, and only successes are cached (every failure
 * pays the full hash, which keeps online guessing slow).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

interface Entry {
  mac: Buffer;
  storedHash: string;
  expiresAt: number;
}

export interface CredentialCacheOptions {
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
  key?: Buffer;
}

export class CredentialCache {
  private readonly entries = new Map<string, Entry>();
  /** Full checks under way, by HMAC of the credential: concurrent identical requests share one. */
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly key: Buffer;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: CredentialCacheOptions = {}) {
    this.key = options.key ?? randomBytes(32);
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  private mac(email: string, password: string): Buffer {
    return createHmac('sha256', this.key).update(email).update('\0').update(password).digest();
  }

  /** True when this exact credential was verified against `storedHash` within the TTL. */
  has(email: string, password: string, storedHash: string): boolean {
    const entry = this.entries.get(email);
    if (!entry) return false;
    if (entry.expiresAt <= this.now() || entry.storedHash !== storedHash) {
      this.entries.delete(email);
      return false;
    }
    return timingSafeEqual(entry.mac, this.mac(email, password));
  }

  remember(email: string, password: string, storedHash: string): void {
    this.entries.delete(email);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(email, { mac: this.mac(email, password), storedHash, expiresAt: this.now() + this.ttlMs });
  }

  /**
   * Run the full check once for concurrent requests with the same credential (a client starting
   * 32 connections at once would otherwise pay 32 scrypt hashes), remembering a success.
   */
  async verify(email: string, password: string, storedHash: string, check: () => Promise<boolean>): Promise<boolean> {
    if (this.has(email, password, storedHash)) return true;
    const key = `${storedHash}\0${this.mac(email, password).toString('base64')}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = check().finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    const ok = await pending;
    if (ok) this.remember(email, password, storedHash);
    return ok;
  }

  forget(email: string): void {
    this.entries.delete(email);
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Bounds the CPU spent on full password hashes (scrypt, ~50 ms of a core each). Checks run at
 * most `concurrency` at a time; checks from suspects (client addresses with recent failures)
 * run at most `suspectConcurrency` at a time and only when no clean check is waiting, so a flood
 * of wrong passwords queues behind itself instead of in front of real clients. Cached good
 * credentials never come here (credential-cache.ts). A full suspect queue refuses at once.
 */

export interface HashGateOptions {
  /** Full hashes at once (default 2: the libuv pool would run 4 on a 2-core machine). */
  concurrency?: number;
  /** Of which at most this many for suspects (default 1). */
  suspectConcurrency?: number;
  /** Suspect checks waiting beyond this many are refused (default 32). */
  maxSuspectQueue?: number;
  /** Clean checks waiting beyond this many are refused (default 1024). */
  maxCleanQueue?: number;
}

export class HashGateFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HashGateFullError';
  }
}

type Waiter = () => void;

export class HashGate {
  private running = 0;
  private runningSuspects = 0;
  private readonly clean: Waiter[] = [];
  private readonly suspects: Waiter[] = [];
  private readonly concurrency: number;
  private readonly suspectConcurrency: number;
  private readonly maxSuspectQueue: number;
  private readonly maxCleanQueue: number;

  constructor(o: HashGateOptions = {}) {
    this.concurrency = o.concurrency ?? 2;
    this.suspectConcurrency = Math.min(o.suspectConcurrency ?? 1, this.concurrency);
    this.maxSuspectQueue = o.maxSuspectQueue ?? 32;
    this.maxCleanQueue = o.maxCleanQueue ?? 1024;
  }

  /** Run one hash; rejects with HashGateFullError when its queue is full. */
  async run<T>(suspect: boolean, fn: () => Promise<T>): Promise<T> {
    await this.acquire(suspect);
    try {
      return await fn();
    } finally {
      this.release(suspect);
    }
  }

  get waiting(): { clean: number; suspect: number } {
    return { clean: this.clean.length, suspect: this.suspects.length };
  }

  private canStart(suspect: boolean): boolean {
    if (this.running >= this.concurrency) return false;
    return !suspect || (this.runningSuspects < this.suspectConcurrency && this.clean.length === 0);
  }

  private acquire(suspect: boolean): Promise<void> {
    const queue = suspect ? this.suspects : this.clean;
    if (queue.length === 0 && this.canStart(suspect)) {
      this.start(suspect);
      return Promise.resolve();
    }
    if (queue.length >= (suspect ? this.maxSuspectQueue : this.maxCleanQueue)) {
      return Promise.reject(new HashGateFullError('too many password checks are waiting'));
    }
    return new Promise((resolve) => queue.push(resolve));
  }

  private start(suspect: boolean): void {
    this.running++;
    if (suspect) this.runningSuspects++;
  }

  private release(suspect: boolean): void {
    this.running--;
    if (suspect) this.runningSuspects--;
    while (this.running < this.concurrency) {
      if (this.clean.length > 0) {
        this.start(false);
        this.clean.shift()!();
      } else if (this.suspects.length > 0 && this.runningSuspects < this.suspectConcurrency) {
        this.start(true);
        this.suspects.shift()!();
      } else break;
    }
  }
}

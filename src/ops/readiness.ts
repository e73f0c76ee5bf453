/**
 * What /readyz asks: is the store reachable (a cheap read within a time limit), and is every CA
 * connector that can tell (HealthReporting, src/ca/ca-backend.ts) healthy. A connector's own
 * health() is passive (updated by its requests and periodic refresh); readiness probes it again
 * at most every probeIntervalMs, so an upstream that went down while idle is noticed and a load
 * balancer asking every second does not become load on the upstream.
 */
import { reportsHealth, type CaBackend, type ConnectorHealth, type HealthReporting } from '../ca/ca-backend.js';
import type { Store } from '../store/store.js';
import type { ReadyCheck } from './ops-source.js';

export interface ReadinessOptions {
  store: Store;
  /** Live: CAs added or removed by a reload are checked from the next call on. */
  cas: ReadonlyMap<string, CaBackend>;
  /** Milliseconds since some fixed point (Date.now or performance.now). */
  now: () => number;
  /** Bound on the store read and on a connector probe (default 2000). */
  timeLimitMs?: number;
  /** A connector is probed again when its last probe is older than this (default 10000; 0: every call). */
  probeIntervalMs?: number;
}

export interface Readiness {
  ready(): Promise<ReadyCheck[]>;
  /** The store check alone (for the estuary_store_up gauge). */
  storeCheck(): Promise<ReadyCheck>;
  /** Every HealthReporting connector's health() as it stands, without probing (for the metrics). */
  connectorHealth(): { id: string; health: ConnectorHealth }[];
}

export const STORE_CHECK = 'store';

export function caCheckName(id: string): string {
  return `ca:${id}`;
}

class TimeLimitError extends Error {}

/** The promise's value, or TimeLimitError after ms (the work itself goes on; its result is dropped). */
export function withTimeLimit<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new TimeLimitError(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function createReadiness(o: ReadinessOptions): Readiness {
  const timeLimitMs = o.timeLimitMs ?? 2000;
  const probeIntervalMs = o.probeIntervalMs ?? 10_000;
  /** Per connector object: when it was last probed, and the probe in flight (shared by concurrent callers). */
  const probes = new WeakMap<CaBackend, { at: number; running: Promise<ConnectorHealth> | undefined }>();

  async function storeCheck(): Promise<ReadyCheck> {
    try {
      // A read by primary key of a row that never exists: answers in microseconds when the database
      // does, and no cache in front of the store holds held requests (accounts and profiles may be cached).
      await withTimeLimit(o.store.getPendingRequest(0), timeLimitMs, 'the store');
      return { name: STORE_CHECK, ok: true };
    } catch (err) {
      return { name: STORE_CHECK, ok: false, detail: reason(err) };
    }
  }

  function probe(ca: CaBackend & HealthReporting): Promise<ConnectorHealth> {
    const now = o.now();
    let p = probes.get(ca);
    if (!p) {
      p = { at: Number.NEGATIVE_INFINITY, running: undefined };
      probes.set(ca, p);
    }
    if (p.running) return p.running;
    if (now - p.at < probeIntervalMs) return Promise.resolve(ca.health());
    const entry = p;
    entry.at = now;
    // Reachability only: the credential check sends a request the CA refuses (and may audit).
    entry.running = ca.probe({ credentials: false }).finally(() => {
      entry.running = undefined;
    });
    return entry.running;
  }

  async function caCheck(id: string, ca: CaBackend & HealthReporting): Promise<ReadyCheck> {
    const name = caCheckName(id);
    try {
      const h = await withTimeLimit(probe(ca), timeLimitMs, `CA connector "${id}"`);
      if (h.healthy) return { name, ok: true };
      const where = h.url ? ` (${h.url})` : '';
      return { name, ok: false, detail: `CA connector "${id}"${where} is unhealthy${h.lastError ? `: ${h.lastError.message}` : ''}` };
    } catch (err) {
      return { name, ok: false, detail: reason(err) };
    }
  }

  return {
    storeCheck,
    async ready() {
      // A connector that cannot tell (the built-in CA signs in this process) is ready when loaded.
      const cas = [...o.cas].map(([id, ca]) => (reportsHealth(ca) ? caCheck(id, ca) : { name: caCheckName(id), ok: true }));
      return Promise.all([storeCheck(), ...cas]);
    },
    connectorHealth() {
      const out: { id: string; health: ConnectorHealth }[] = [];
      for (const [id, ca] of o.cas) if (reportsHealth(ca)) out.push({ id, health: ca.health() });
      return out;
    },
  };
}

/**
 * The Prometheus instruments of one runtime, in a Registry of its own (never prom-client's global
 * one: two runtimes in one process, or the workers of `serve --workers N`, keep their own counts;
 * the cluster primary merges workers' getMetricsAsJSON() with AggregatorRegistry.aggregate, using
 * each metric's `aggregator`).
 *
 * Recorded as they happen: EST requests (operation, profile, status) and their latency, certificates
 * issued. Read on scrape: pending requests (from the store), store and connector health, the
 * upstream connectors' connection use, and Node's process metrics (prefix estuary_).
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { registerEstRequestMetrics, type EstRequestRecorder } from './est-request-metrics.js';
import { reportsPool, type Store } from '../store/store.js';
import { withTimeLimit, type Readiness } from './readiness.js';

export { DURATION_BUCKETS, MAX_PROFILE_LABELS, OTHER, UNKNOWN, type EstRequestRecorder } from './est-request-metrics.js';

export interface MetricsOptions {
  store: Store;
  readiness: Readiness;
  /** The profile served without a label. */
  defaultProfile: string;
  /** EST operation names (the router's endpoints). */
  operations: readonly string[];
  /** Bound on the store read of each scrape (default 2000 ms). */
  timeLimitMs?: number;
  /** Process metrics (CPU, memory, event loop lag, GC) with the prefix estuary_ (default true). */
  processMetrics?: boolean;
}


export interface RuntimeMetrics {
  registry: Registry;
  est: EstRequestRecorder;
  /** A certificate was issued for this profile by this CA connector. */
  certificateIssued(profile: string, ca: string): void;
}

export function createMetrics(o: MetricsOptions): RuntimeMetrics {
  const registry = new Registry();
  const timeLimitMs = o.timeLimitMs ?? 2000;
  if (o.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'estuary_' });

  const issued = new Counter({
    name: 'estuary_certificates_issued_total', help: 'Certificates issued, by profile and CA connector',
    labelNames: ['profile', 'ca'] as const, registers: [registry],
  });

  // Read on scrape. Shared truths (one store for every worker) aggregate with max/min, not sum.
  new Gauge({
    name: 'estuary_pending_requests', help: 'Requests held for an officer\'s approval', registers: [registry], aggregator: 'max',
    async collect() {
      try {
        this.set(await withTimeLimit(o.store.countPendingRequests({ status: 'pending' }), timeLimitMs, 'the store'));
      } catch {
        this.set(Number.NaN); // not known, rather than a stale count; estuary_store_up says why
      }
    },
  });
  new Gauge({
    name: 'estuary_store_up', help: '1 when the store answered a read within the time limit', registers: [registry], aggregator: 'min',
    async collect() {
      this.set((await o.readiness.storeCheck()).ok ? 1 : 0);
    },
  });
  new Gauge({
    name: 'estuary_ca_connector_up', help: '1 when the CA connector last reached its CA (connectors that report health)',
    labelNames: ['ca'] as const, registers: [registry], aggregator: 'min',
    collect() {
      this.reset();
      for (const { id, health } of o.readiness.connectorHealth()) this.set({ ca: id }, health.healthy ? 1 : 0);
    },
  });
  new Gauge({
    name: 'estuary_store_pool_connections', help: 'The store\'s connection pool: connections open (total), idle, and requests waiting for one',
    labelNames: ['state'] as const, registers: [registry], aggregator: 'sum',
    collect() {
      const u = reportsPool(o.store) ? o.store.poolStats() : undefined;
      if (!u) return;
      this.set({ state: 'total' }, u.total);
      this.set({ state: 'idle' }, u.idle);
      this.set({ state: 'waiting' }, u.waiting);
    },
  });
  // The upstream connectors' keep-alive pools: connections opened and requests sent over them.
  new Counter({
    name: 'estuary_ca_connector_connections_opened_total', help: 'TLS connections a CA connector opened to its CA',
    labelNames: ['ca'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const { id, health } of o.readiness.connectorHealth()) if (health.handshakes !== undefined) this.inc({ ca: id }, health.handshakes);
    },
  });
  new Counter({
    name: 'estuary_ca_connector_requests_total', help: 'Requests a CA connector sent to its CA',
    labelNames: ['ca'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const { id, health } of o.readiness.connectorHealth()) if (health.requests !== undefined) this.inc({ ca: id }, health.requests);
    },
  });

  const est = registerEstRequestMetrics(registry, { defaultProfile: o.defaultProfile, operations: o.operations });
  const issuedByProfile = new Map<string, Map<string, Counter.Internal>>();

  return {
    registry,
    est,
    certificateIssued(profile, ca) {
      let perCa = issuedByProfile.get(profile);
      if (!perCa) issuedByProfile.set(profile, (perCa = new Map()));
      let counter = perCa.get(ca);
      if (!counter) perCa.set(ca, (counter = issued.labels({ profile, ca })));
      counter.inc();
    },
  };
}

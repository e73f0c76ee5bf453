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
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from '../store/store.js';
import { withTimeLimit, type Readiness } from './readiness.js';

/** Seconds; EST answers range from a cached /cacerts (well under 1 ms) to an upstream CA's issuance (seconds). */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Distinct `profile` label values recorded per runtime; labels beyond are counted as "other". */
export const MAX_PROFILE_LABELS = 200;

/** The label of requests whose profile is not known (an unknown label answers 404, RFC 7030 §3.2.2). */
export const UNKNOWN = 'unknown';
export const OTHER = 'other';

export interface EstRequestRecorder {
  /**
   * One finished EST response. `operation` outside `operations` and `label` of a 404 answer are
   * recorded as "unknown" (both come from the URL: a client must not grow the label set at will);
   * the unlabeled path counts for the default profile.
   */
  record(operation: string, label: string, status: number, seconds: number): void;
}

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

interface ProfileEntry {
  operation: string;
  duration: Histogram.Internal<'operation' | 'profile'>;
  profile: string;
  byStatus: Map<number, Counter.Internal>;
}

export function createMetrics(o: MetricsOptions): RuntimeMetrics {
  const registry = new Registry();
  const timeLimitMs = o.timeLimitMs ?? 2000;
  if (o.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'estuary_' });

  const requests = new Counter({
    name: 'estuary_requests_total', help: 'EST requests answered, by operation, profile and HTTP status',
    labelNames: ['operation', 'profile', 'status'] as const, registers: [registry],
  });
  const duration = new Histogram({
    name: 'estuary_request_duration_seconds', help: 'Time from an EST request\'s arrival to the end of its answer',
    labelNames: ['operation', 'profile'] as const, buckets: DURATION_BUCKETS, registers: [registry],
  });
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

  // The EST hot path: children cached per (operation, label) and status, so a request costs a few
  // map lookups and prom-client's own increment, without allocating label objects.
  const operations = new Set(o.operations);
  const byOperation = new Map<string, Map<string, ProfileEntry>>();
  const unknownByOperation = new Map<string, ProfileEntry>();
  const otherByOperation = new Map<string, ProfileEntry>();
  const profiles = new Set<string>();

  function newEntry(operation: string, profile: string): ProfileEntry {
    return { operation, profile, duration: duration.labels({ operation, profile }), byStatus: new Map() };
  }

  function shared(map: Map<string, ProfileEntry>, operation: string, profile: string): ProfileEntry {
    let entry = map.get(operation);
    if (!entry) map.set(operation, (entry = newEntry(operation, profile)));
    return entry;
  }

  function entryFor(operation: string, label: string): ProfileEntry {
    let perLabel = byOperation.get(operation);
    if (!perLabel) byOperation.set(operation, (perLabel = new Map()));
    let entry = perLabel.get(label);
    if (entry) return entry;
    const profile = label === '' ? o.defaultProfile : label;
    if (!profiles.has(profile)) {
      // Beyond the bound, not cached under its own label either: the maps stay bounded too.
      if (profiles.size >= MAX_PROFILE_LABELS) return shared(otherByOperation, operation, OTHER);
      profiles.add(profile);
    }
    perLabel.set(label, (entry = newEntry(operation, profile)));
    return entry;
  }

  const issuedByProfile = new Map<string, Map<string, Counter.Internal>>();

  return {
    registry,
    est: {
      record(operation, label, status, seconds) {
        const op = operations.has(operation) ? operation : UNKNOWN;
        const entry = status === 404 || op === UNKNOWN ? shared(unknownByOperation, op, UNKNOWN) : entryFor(op, label);
        let counter = entry.byStatus.get(status);
        if (!counter) entry.byStatus.set(status, (counter = requests.labels({ operation: op, profile: entry.profile, status: String(status) })));
        counter.inc();
        entry.duration.observe(seconds);
      },
    },
    certificateIssued(profile, ca) {
      let perCa = issuedByProfile.get(profile);
      if (!perCa) issuedByProfile.set(profile, (perCa = new Map()));
      let counter = perCa.get(ca);
      if (!counter) perCa.set(ca, (counter = issued.labels({ profile, ca })));
      counter.inc();
    },
  };
}

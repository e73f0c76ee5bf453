/**
 * What the operations listener (/healthz, /readyz, /metrics) asks of a running server. One process
 * answers from its own runtime; under `serve --workers N` the cluster primary answers by asking
 * every worker and merging (metrics with prom-client's AggregatorRegistry.aggregate).
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

/** One thing /readyz depends on: the store, a CA connector, a worker. */
export interface ReadyCheck {
  name: string;
  ok: boolean;
  /** Why it is not ready, in words (never a secret). */
  detail?: string;
}

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

export interface OpsSource {
  /** Every check; ready when all are ok. */
  ready(): Promise<ReadyCheck[]>;
  /** The metrics as prom-client JSON (registry.getMetricsAsJSON()), so a primary can aggregate them. */
  metricsJson(): Promise<MetricsJson>;
}

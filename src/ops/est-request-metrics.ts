/**
 * estuary_requests_total and estuary_request_duration_seconds: recorded on every EST answer, the
 * hot path of keep-alive enrollment. prom-client's labelled children hash and validate their labels
 * on every inc() and observe() (measured at ~1-3 µs each on this machine class); here a request
 * costs a few map lookups and two additions on plain numbers, and the samples are built from them
 * when Prometheus scrapes. Both are registered in the runtime's Registry as prom-client metrics
 * (same text format, same getMetricsAsJSON shape, so AggregatorRegistry.aggregate sums them
 * across workers).
 */
import type { Metric, MetricValue, MetricValueWithName, Registry } from 'prom-client';

/** Seconds; EST answers range from a cached /cacerts (well under 1 ms) to an upstream CA's issuance (seconds). */
export const DURATION_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Distinct `profile` label values recorded per runtime; labels beyond are counted as "other". */
export const MAX_PROFILE_LABELS = 200;

/** The profile of requests whose label is not known (an unknown label answers 404, RFC 7030 §3.2.2). */
export const UNKNOWN = 'unknown';
export const OTHER = 'other';

export interface EstRequestRecorder {
  /**
   * One finished EST response. `operation` outside the router's operations and the label of a 404
   * answer are recorded as "unknown" (both come from the URL: a client must not grow the label set
   * at will); the unlabeled path counts for the default profile.
   */
  record(operation: string, label: string, status: number, seconds: number): void;
}

/** One (operation, profile): the histogram's buckets (not cumulative) and the count per status. */
interface Series {
  labels: { operation: string; profile: string };
  buckets: Float64Array;
  sum: number;
  count: number;
  byStatus: Map<number, number>;
}

const REQUESTS = 'estuary_requests_total';
const DURATION = 'estuary_request_duration_seconds';

export function registerEstRequestMetrics(registry: Registry, o: { defaultProfile: string; operations: readonly string[] }): EstRequestRecorder {
  const operations = new Set(o.operations);
  const byOperation = new Map<string, Map<string, Series>>();
  const unknownByOperation = new Map<string, Series>();
  const otherByOperation = new Map<string, Series>();
  const profiles = new Set<string>();
  const all: Series[] = [];

  function newSeries(operation: string, profile: string): Series {
    const s: Series = { labels: { operation, profile }, buckets: new Float64Array(DURATION_BUCKETS.length + 1), sum: 0, count: 0, byStatus: new Map() };
    all.push(s);
    return s;
  }

  function shared(map: Map<string, Series>, operation: string, profile: string): Series {
    let s = map.get(operation);
    if (!s) map.set(operation, (s = newSeries(operation, profile)));
    return s;
  }

  function seriesFor(operation: string, label: string): Series {
    let perLabel = byOperation.get(operation);
    if (!perLabel) byOperation.set(operation, (perLabel = new Map()));
    // the unlabeled path and the default profile's own label are one series
    const profile = label === '' ? o.defaultProfile : label;
    let s = perLabel.get(profile);
    if (s) return s;
    if (!profiles.has(profile)) {
      // Beyond the bound, not kept under its own label either: the maps stay bounded too.
      if (profiles.size >= MAX_PROFILE_LABELS) return shared(otherByOperation, operation, OTHER);
      profiles.add(profile);
    }
    perLabel.set(profile, (s = newSeries(operation, profile)));
    return s;
  }

  const requests = {
    name: REQUESTS,
    help: 'EST requests answered, by operation, profile and HTTP status',
    type: 'counter',
    aggregator: 'sum',
    get() {
      const values: MetricValue<string>[] = [];
      for (const s of all) for (const [status, n] of s.byStatus) values.push({ labels: { ...s.labels, status: String(status) }, value: n });
      return Promise.resolve({ name: REQUESTS, help: requests.help, type: 'counter', aggregator: 'sum', values });
    },
    reset(): void {
      for (const s of all) s.byStatus.clear();
    },
  };

  const duration = {
    name: DURATION,
    help: 'Time from an EST request\'s arrival to the end of its answer',
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: MetricValueWithName<string>[] = [];
      for (const s of all) {
        if (s.count === 0) continue;
        let cumulative = 0;
        for (let i = 0; i < DURATION_BUCKETS.length; i++) {
          cumulative += s.buckets[i]!;
          values.push({ metricName: `${DURATION}_bucket`, labels: { le: DURATION_BUCKETS[i]!, ...s.labels }, value: cumulative });
        }
        values.push({ metricName: `${DURATION}_bucket`, labels: { le: '+Inf', ...s.labels }, value: s.count });
        values.push({ metricName: `${DURATION}_sum`, labels: { ...s.labels }, value: s.sum });
        values.push({ metricName: `${DURATION}_count`, labels: { ...s.labels }, value: s.count });
      }
      return Promise.resolve({ name: DURATION, help: duration.help, type: 'histogram', aggregator: 'sum', values });
    },
    reset(): void {
      for (const s of all) {
        s.buckets.fill(0);
        s.sum = 0;
        s.count = 0;
      }
    },
  };

  // Not instances of prom-client's classes, but what its Registry reads of a metric: name, get(), reset().
  registry.registerMetric(requests as unknown as Metric);
  registry.registerMetric(duration as unknown as Metric);

  return {
    record(operation, label, status, seconds) {
      const op = operations.has(operation) ? operation : UNKNOWN;
      const s = status === 404 || op === UNKNOWN ? shared(unknownByOperation, op, UNKNOWN) : seriesFor(op, label);
      s.byStatus.set(status, (s.byStatus.get(status) ?? 0) + 1);
      let i = 0;
      while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
      s.buckets[i]!++;
      s.sum += seconds;
      s.count++;
    },
  };
}

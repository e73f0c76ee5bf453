/**
 * The metrics of a runtime over a real SQLite store: the EST request series (labels bounded,
 * histogram buckets), and what a cluster primary gets from AggregatorRegistry.aggregate of two
 * workers' getMetricsAsJSON().
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AggregatorRegistry } from 'prom-client';
import { createMetrics, DURATION_BUCKETS, MAX_PROFILE_LABELS, type RuntimeMetrics } from '../../src/ops/metrics.js';
import { createReadiness } from '../../src/ops/readiness.js';
import { openSqliteStore } from '../../src/store/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/home.js';
import { sampleValue } from '../helpers/prometheus-text.js';

let store: Store;

beforeAll(() => {
  store = openSqliteStore(join(tempDir(), 'estuary.db'));
});
afterAll(async () => {
  await store.close();
});

function metrics(): RuntimeMetrics {
  const readiness = createReadiness({ store, cas: new Map(), now: () => performance.now() });
  return createMetrics({ store, readiness, defaultProfile: 'default', operations: ['simpleenroll', 'cacerts'], processMetrics: false });
}

describe('EST request metrics', () => {
  it('count by operation, profile and status, the unlabeled path as the default profile', async () => {
    const m = metrics();
    m.est.record('simpleenroll', '', 200, 0.004);
    m.est.record('simpleenroll', 'default', 200, 0.006);
    m.est.record('simpleenroll', 'iot', 403, 0.002);
    m.est.record('cacerts', 'nope', 404, 0.0001);
    m.est.record('frobnicate', 'iot', 404, 0.0001);
    m.est.record('frobnicate', 'iot', 405, 0.0001);
    const text = await m.registry.metrics();
    expect(sampleValue(text, 'estuary_requests_total', { operation: 'simpleenroll', profile: 'default', status: '200' })).toBe(2);
    expect(sampleValue(text, 'estuary_requests_total', { operation: 'simpleenroll', profile: 'iot', status: '403' })).toBe(1);
    expect(sampleValue(text, 'estuary_requests_total', { operation: 'cacerts', profile: 'unknown', status: '404' })).toBe(1);
    expect(sampleValue(text, 'estuary_requests_total', { operation: 'unknown', profile: 'unknown', status: '404' })).toBe(1);
    expect(sampleValue(text, 'estuary_requests_total', { operation: 'unknown', profile: 'unknown', status: '405' })).toBe(1);
    expect(text).not.toMatch(/nope|frobnicate/);
    expect(text).toMatch(/^# TYPE estuary_requests_total counter$/m);
    expect(text).toMatch(/^# TYPE estuary_request_duration_seconds histogram$/m);
  });

  it('fills cumulative buckets, a value on a bound counted in that bucket (le: less or equal)', async () => {
    const m = metrics();
    for (const v of [0.001, 0.0011, 0.02, 45]) m.est.record('simpleenroll', '', 200, v);
    const text = await m.registry.metrics();
    const bucket = (le: string) => sampleValue(text, 'estuary_request_duration_seconds_bucket', { operation: 'simpleenroll', profile: 'default', le });
    expect(bucket('0.0005')).toBe(0);
    expect(bucket('0.001')).toBe(1);
    expect(bucket('0.0025')).toBe(2);
    expect(bucket('0.025')).toBe(3);
    expect(bucket('30')).toBe(3);
    expect(bucket('+Inf')).toBe(4);
    expect(text.split('\n').filter((l) => l.startsWith('estuary_request_duration_seconds_bucket{'))).toHaveLength(DURATION_BUCKETS.length + 1);
    expect(sampleValue(text, 'estuary_request_duration_seconds_count', { operation: 'simpleenroll', profile: 'default' })).toBe(4);
    expect(sampleValue(text, 'estuary_request_duration_seconds_sum', { operation: 'simpleenroll', profile: 'default' })).toBeCloseTo(45.0221, 6);
  });

  it('keeps at most MAX_PROFILE_LABELS profile values; the rest are "other"', async () => {
    const m = metrics();
    for (let i = 0; i < MAX_PROFILE_LABELS + 50; i++) m.est.record('simpleenroll', `p${i}`, 200, 0.01);
    const text = await m.registry.metrics();
    const profiles = new Set(text.split('\n').filter((l) => l.startsWith('estuary_requests_total{')).map((l) => /profile="([^"]+)"/.exec(l)![1]));
    expect(profiles.size).toBe(MAX_PROFILE_LABELS + 1);
    expect(sampleValue(text, 'estuary_requests_total', { operation: 'simpleenroll', profile: 'other', status: '200' })).toBe(50);
    expect(sampleValue(text, 'estuary_requests_total', { operation: 'simpleenroll', profile: 'p0', status: '200' })).toBe(1);
  });
});

describe('store pool use', () => {
  it('is reported for a store with a pool (poolStats), and absent for one without', async () => {
    expect(await metrics().registry.metrics()).not.toMatch(/^estuary_store_pool_connections\{/m);
    // the SQLite store as it is, with the capability a pooled store adds
    const pooled = Object.assign(Object.create(store) as Store, { poolStats: () => ({ total: 4, idle: 3, waiting: 0 }) });
    const readiness = createReadiness({ store: pooled, cas: new Map(), now: () => performance.now() });
    const text = await createMetrics({ store: pooled, readiness, defaultProfile: 'default', operations: [], processMetrics: false }).registry.metrics();
    expect(sampleValue(text, 'estuary_store_pool_connections', { state: 'total' })).toBe(4);
    expect(sampleValue(text, 'estuary_store_pool_connections', { state: 'idle' })).toBe(3);
    expect(sampleValue(text, 'estuary_store_pool_connections', { state: 'waiting' })).toBe(0);
  });
});

describe('aggregated across workers (AggregatorRegistry.aggregate)', () => {
  it('sums requests, histograms and certificates; the store-wide gauges are not multiplied', async () => {
    const [a, b] = [metrics(), metrics()];
    a.est.record('simpleenroll', '', 200, 0.01);
    b.est.record('simpleenroll', '', 200, 0.02);
    b.est.record('simpleenroll', '', 401, 0.001);
    a.certificateIssued('default', 'default');
    b.certificateIssued('default', 'default');
    const merged = AggregatorRegistry.aggregate([await a.registry.getMetricsAsJSON(), await b.registry.getMetricsAsJSON()]);
    const text = await merged.metrics();
    expect(sampleValue(text, 'estuary_requests_total', { operation: 'simpleenroll', profile: 'default', status: '200' })).toBe(2);
    expect(sampleValue(text, 'estuary_requests_total', { operation: 'simpleenroll', profile: 'default', status: '401' })).toBe(1);
    expect(sampleValue(text, 'estuary_request_duration_seconds_count', { operation: 'simpleenroll', profile: 'default' })).toBe(3);
    expect(sampleValue(text, 'estuary_request_duration_seconds_bucket', { operation: 'simpleenroll', profile: 'default', le: '0.01' })).toBe(2);
    expect(sampleValue(text, 'estuary_certificates_issued_total', { profile: 'default', ca: 'default' })).toBe(2);
    expect(sampleValue(text, 'estuary_store_up')).toBe(1);
    expect(sampleValue(text, 'estuary_pending_requests')).toBe(0);
  });
});

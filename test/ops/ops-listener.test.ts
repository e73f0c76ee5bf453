/**
 * The operations listener of a real server (plain HTTP on 127.0.0.1:0): /healthz, /readyz with
 * the store and CA checks, /metrics in Prometheus text format after real EST requests over TLS,
 * and what it refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register as globalRegistry } from 'prom-client';
import { csrBody, estRequest, type EstResponse } from '../helpers/est-http.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { canonicalHeaderName } from '../../src/http/canonical-headers.js';
import { rawExchange, rawRequest } from '../helpers/raw-http.js';
import { sampleValue } from '../helpers/prometheus-text.js';

let s: TestServer;
let other: TestServer;

beforeAll(async () => {
  s = await startServer();
  other = await startServer();
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'held', approval: 'manual', retryAfterSeconds: 7 });
}, 120_000);
afterAll(async () => {
  await s?.runtime.close();
  await other?.runtime.close();
});

function opsUrl(server: TestServer, path: string): string {
  const base = server.runtime.opsUrl();
  if (!base) throw new Error('the operations listener does not run');
  return `${base}${path}`;
}

async function enroll(label: string, basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password }): Promise<EstResponse> {
  const csr = await makeCsr({ name: 'CN=metrics-device' });
  return estRequest(`${s.base}${label ? `/${label}` : ''}/simpleenroll`, { ca: s.rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });
}

describe('the operations listener', () => {
  it('listens on its own plain-HTTP address, reported by the runtime', () => {
    expect(s.runtime.opsUrl()).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s.runtime.opsUrl()).not.toBe(other.runtime.opsUrl());
  });

  it('/healthz answers 200 ok, HEAD without a body', async () => {
    const res = await fetch(opsUrl(s, '/healthz'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe('ok\n');
    const head = await fetch(opsUrl(s, '/healthz'), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('3');
    expect(await head.text()).toBe('');
  });

  it('/readyz answers 200 with every check: the store and each CA connector', async () => {
    const res = await fetch(opsUrl(s, '/readyz'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ ready: true, checks: [{ name: 'store', ok: true }, { name: 'ca:default', ok: true }] });
  });

  it('refuses other methods with 405 and Allow, other paths with 404 in text', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const res = await fetch(opsUrl(s, path), { method: 'POST', body: 'x' });
      expect(res.status, path).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
    }
    for (const path of ['/', '/health', '/metrics/x', '/.well-known/est/cacerts']) {
      const res = await fetch(opsUrl(s, path));
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(await res.text()).toMatch(/^no operations resource at /);
    }
  });
});

describe('the operations listener on the wire', () => {
  it('writes header names in canonical case, and answers malformed requests like every listener', async () => {
    const port = Number(new URL(opsUrl(s, '/')).port);
    const cases: [string, number][] = [
      [rawRequest('GET', '/healthz'), 200], [rawRequest('GET', '/readyz'), 200], [rawRequest('GET', '/metrics'), 200],
      [rawRequest('DELETE', '/readyz'), 405], [rawRequest('GET', '/nothing'), 404],
      // RFC 9112 §6.1: Content-Length together with Transfer-Encoding is refused
      [rawRequest('POST', '/healthz', { 'Content-Length': 1, 'Transfer-Encoding': 'chunked' }, '0\r\n\r\n'), 400],
    ];
    for (const [request, status] of cases) {
      const res = await rawExchange(port, request, { tls: false });
      expect(res.status, res.head).toBe(status);
      for (const name of res.names) expect(name, res.head).toBe(canonicalHeaderName(name));
      expect(res.names, res.head).toContain('Content-Type');
    }
  });
});

describe('/metrics', () => {
  it('counts EST requests by operation, profile and status, with a latency histogram and the certificates issued', async () => {
    for (let i = 0; i < 3; i++) expect((await enroll('')).status).toBe(200);
    expect((await enroll('', { user: s.summary.estAccount.email, password: 'wrong' })).status).toBe(401);
    expect((await enroll('no-such-profile')).status).toBe(404);
    expect((await enroll('held')).status).toBe(202);
    expect((await estRequest(`${s.base}/cacerts`, { ca: s.rootPem })).status).toBe(200);
    expect((await estRequest(`${s.base}/frobnicate`, { ca: s.rootPem })).status).toBe(404);

    const res = await fetch(opsUrl(s, '/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const requests = (operation: string, profile: string, status: string) => sampleValue(text, 'estuary_requests_total', { operation, profile, status });
    expect(requests('simpleenroll', 'default', '200')).toBe(3);
    expect(requests('simpleenroll', 'default', '401')).toBe(1);
    expect(requests('simpleenroll', 'held', '202')).toBe(1);
    // A label the server does not know is not a label value: it comes from the URL.
    expect(requests('simpleenroll', 'unknown', '404')).toBe(1);
    expect(text).not.toMatch(/no-such-profile|frobnicate/);
    expect(requests('unknown', 'unknown', '404')).toBe(1);
    expect(requests('cacerts', 'default', '200')).toBe(1);

    const hist = (suffix: string, more: Record<string, string> = {}) =>
      sampleValue(text, `estuary_request_duration_seconds${suffix}`, { operation: 'simpleenroll', profile: 'default', ...more });
    expect(hist('_count')).toBe(4);
    expect(hist('_bucket', { le: '+Inf' })).toBe(4);
    expect(hist('_sum')).toBeGreaterThan(0);
    const buckets = text.split('\n').filter((l) => l.startsWith('estuary_request_duration_seconds_bucket{') && l.includes('operation="simpleenroll"') && l.includes('profile="default"'));
    expect(buckets.length).toBeGreaterThan(5);

    expect(sampleValue(text, 'estuary_certificates_issued_total', { profile: 'default', ca: 'default' })).toBe(3);
    expect(sampleValue(text, 'estuary_pending_requests')).toBe(1);
    expect(sampleValue(text, 'estuary_store_up')).toBe(1);
    // Process metrics carry the estuary_ prefix.
    expect(sampleValue(text, 'estuary_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(text).toMatch(/^estuary_nodejs_eventloop_lag_seconds /m);
  });

  it('keeps a registry per runtime: another server in this process counts nothing of the first one\'s', async () => {
    const text = await (await fetch(opsUrl(other, '/metrics'))).text();
    expect(sampleValue(text, 'estuary_requests_total', { operation: 'simpleenroll', profile: 'default', status: '200' })).toBeUndefined();
    expect(sampleValue(text, 'estuary_certificates_issued_total', { profile: 'default', ca: 'default' })).toBeUndefined();
    expect(await globalRegistry.getMetricsAsJSON()).toEqual([]);
  });

  it('gives the same metrics as JSON for a cluster primary to aggregate', async () => {
    const json = await s.runtime.ops.metricsJson();
    const requests = json.find((m) => m.name === 'estuary_requests_total')!;
    expect(requests.type).toBe('counter');
    expect(requests.values).toContainEqual(expect.objectContaining({ labels: { operation: 'simpleenroll', profile: 'default', status: '200' }, value: 3 }));
    expect(json.find((m) => m.name === 'estuary_pending_requests')).toMatchObject({ aggregator: 'max' });
    expect(json.find((m) => m.name === 'estuary_store_up')).toMatchObject({ aggregator: 'min' });
  });
});

describe('/readyz when the store is gone', () => {
  it('answers 503 naming the store, while /healthz still answers 200', async () => {
    await other.runtime.store.close();
    const res = await fetch(opsUrl(other, '/readyz'));
    expect(res.status).toBe(503);
    const body = (await res.json()) as { ready: boolean; checks: { name: string; ok: boolean; detail?: string }[] };
    expect(body.ready).toBe(false);
    expect(body.checks).toContainEqual({ name: 'store', ok: false, detail: expect.stringMatching(/store is closed/) });
    expect(body.checks).toContainEqual({ name: 'ca:default', ok: true });
    expect((await fetch(opsUrl(other, '/healthz'))).status).toBe(200);
    const metrics = await (await fetch(opsUrl(other, '/metrics'))).text();
    expect(sampleValue(metrics, 'estuary_store_up')).toBe(0);
    expect(sampleValue(metrics, 'estuary_pending_requests')).toBeNaN();
  });
});

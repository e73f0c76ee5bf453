/**
 * /readyz of an RA whose CA connector is another Estuary (`type: est`, a separate `estuary serve`
 * process): 200 while the upstream answers, 503 naming the connector once it is gone, 200 again
 * when it is back, without a restart. Needs dist (npm run build).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { startServer, type TestHome, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { makeRaHome, routeProfiles, startUpstream, upstreamAccount, withUpstreamStore, type Upstream } from '../helpers/upstream.js';
import { sampleValue } from '../helpers/prometheus-text.js';

let up: Upstream;
let raHome: TestHome;
let ra: TestServer;

beforeAll(async () => {
  up = await startUpstream();
  raHome = await makeRaHome(up, { corp: { basic: upstreamAccount(up), retryAfterSeconds: 5 } });
  // Probe the connector on every /readyz (the default waits 10 s between probes).
  ra = await startServer(raHome, {}, { readyProbeIntervalMs: 0 });
  await routeProfiles(ra.runtime.store, { default: { ca: 'corp' } });
}, 240_000);
afterAll(async () => {
  await ra?.runtime.close();
  await up?.stop();
});

interface Ready {
  status: number;
  body: { ready: boolean; checks: { name: string; ok: boolean; detail?: string }[] };
}

async function readyz(): Promise<Ready> {
  const res = await fetch(`${ra.runtime.opsUrl()}/readyz`);
  return { status: res.status, body: (await res.json()) as Ready['body'] };
}

async function metrics(): Promise<string> {
  return (await fetch(`${ra.runtime.opsUrl()}/metrics`)).text();
}

describe('readiness with an upstream CA connector', () => {
  it('is ready while the upstream answers, and the pool use shows in /metrics', async () => {
    const csr = await makeCsr({ name: 'CN=through-upstream' });
    const res = await estRequest(`${ra.base}/simpleenroll`, {
      ca: ra.rootPem, basic: { user: ra.summary.estAccount.email, password: ra.summary.estAccount.password }, body: csrBody(csr.der), contentType: 'application/pkcs10',
    });
    expect(res.status, res.text).toBe(200);
    const r = await readyz();
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ready: true, checks: [{ name: 'store', ok: true }, { name: 'ca:default', ok: true }, { name: 'ca:corp', ok: true }] });
    const text = await metrics();
    expect(sampleValue(text, 'estuary_ca_connector_up', { ca: 'corp' })).toBe(1);
    expect(sampleValue(text, 'estuary_ca_connector_up', { ca: 'default' })).toBeUndefined(); // the built-in CA does not report health
    expect(sampleValue(text, 'estuary_ca_connector_requests_total', { ca: 'corp' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(text, 'estuary_ca_connector_connections_opened_total', { ca: 'corp' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(text, 'estuary_certificates_issued_total', { profile: 'default', ca: 'corp' })).toBe(1);
  });

  it('probes the upstream without presenting the RA\'s credentials: no refused request in its audit log', async () => {
    const audited = () => withUpstreamStore(up, (store) => store.countAudit({}));
    const before = await audited();
    for (let i = 0; i < 3; i++) expect((await readyz()).status).toBe(200);
    expect(await audited()).toBe(before);
  });

  it('answers 503 naming the connector when the upstream is gone, and 200 again when it is back', async () => {
    await up.stop('kill');
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.body.ready).toBe(false);
    const corp = down.body.checks.find((c) => c.name === 'ca:corp');
    expect(corp?.ok).toBe(false);
    expect(corp?.detail).toContain('CA connector "corp"');
    expect(corp?.detail).toContain(up.url);
    expect(down.body.checks).toContainEqual({ name: 'store', ok: true });
    expect(sampleValue(await metrics(), 'estuary_ca_connector_up', { ca: 'corp' })).toBe(0);
    // the process itself is fine
    expect((await fetch(`${ra.runtime.opsUrl()}/healthz`)).status).toBe(200);

    await up.start();
    const back = await readyz();
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect(back.body.ready).toBe(true);
  }, 120_000);
});

/**
 * The upstream Estuary process goes away and comes back: the RA answers 503 + Retry-After with a
 * text reason for enrollments, keeps serving /cacerts from its last good copy (in memory, and from
 * <home>/ca/<id>.upstream-cacerts.pem after an RA restart), and enrolls again as soon as the
 * upstream listens again on the same port, without an RA restart (the connection pool reconnects).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pemBlocks } from '../../src/pki/base64.js';
import { certsFrom, csrBody, estRequest, type EstResponse } from '../helpers/est-http.js';
import { startServer, type TestHome, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { makeRaHome, routeProfiles, startUpstream, upstreamAccount, type Upstream } from '../helpers/upstream.js';

let up: Upstream;
let raHome: TestHome;
let ra: TestServer;
let upstreamCacerts: string[];

beforeAll(async () => {
  up = await startUpstream();
  raHome = await makeRaHome(up, {
    up: { basic: upstreamAccount(up), retryAfterSeconds: 11 },
    'up-fp': { basic: upstreamAccount(up), retryAfterSeconds: 11, bootstrap: true },
  });
  ra = await startServer(raHome);
  await routeProfiles(ra.runtime.store, { default: { ca: 'up' }, fp: { ca: 'up-fp' } });
  const res = await estRequest(`${up.base}/cacerts`, { ca: up.rootPem });
  expect(res.status).toBe(200);
  upstreamCacerts = certsFrom(res).map((d) => new X509Certificate(d).fingerprint256);
}, 240_000);
afterAll(async () => {
  await ra?.runtime.close();
  await up?.stop();
});

const basic = (): { user: string; password: string } => ({ user: ra.summary.estAccount.email, password: ra.summary.estAccount.password });

/** simpleenroll on the default profile (connector `up`, trustAnchors) or `fp` (connector `up-fp`, bootstrapFingerprint). */
async function enroll(cn: string, label = ''): Promise<EstResponse> {
  const csr = await makeCsr({ name: `CN=${cn}` });
  return estRequest(`${ra.base}${label ? `/${label}` : ''}/simpleenroll`, { ca: ra.rootPem, basic: basic(), body: csrBody(csr.der), contentType: 'application/pkcs10' });
}

function expectIssuedUpstream(res: EstResponse): void {
  expect(res.status, res.text).toBe(200);
  const cert = new X509Certificate(certsFrom(res)[0]!);
  expect(cert.verify(new X509Certificate(up.issuingPem).publicKey)).toBe(true);
}

/** The RA's /cacerts answers 200 with exactly the upstream's CA certificates. */
async function expectUpstreamCacerts(label = ''): Promise<void> {
  const res = await estRequest(`${ra.base}${label ? `/${label}` : ''}/cacerts`, { ca: ra.rootPem });
  expect(res.status, res.text).toBe(200);
  expect(certsFrom(res).map((d) => new X509Certificate(d).fingerprint256)).toEqual(upstreamCacerts);
}

async function expectUnavailable(cn: string, label = ''): Promise<void> {
  const res = await enroll(cn, label);
  expect(res.status, res.text).toBe(503);
  // the upstream said nothing (it is gone): the connector's retryAfterSeconds
  expect(res.headers['retry-after']).toBe('11');
  expect(res.headers['content-type']).toMatch(/^text\/plain/);
  expect(res.text).toMatch(new RegExp(`^CA connector "${label ? 'up-fp' : 'up'}": the upstream CA https://127\\.0\\.0\\.1:\\d+ is (unavailable|not trusted yet): .+; try again later$`, 'm'));
  expect((await ra.runtime.store.listCertificates()).map((c) => c.subject)).not.toContain(`CN=${cn}`);
  const refusal = (await ra.runtime.store.listAudit({ action: 'simpleenroll' }))[0]!;
  expect(refusal.outcome).toBe('unavailable');
}

describe('upstream outage', () => {
  it('enrolls while the upstream runs, and keeps a copy of its CA certificates on disk', async () => {
    expectIssuedUpstream(await enroll('before-outage'));
    expectIssuedUpstream(await enroll('before-outage-fp', 'fp'));
    await expectUpstreamCacerts();
    const cacheFile = join(raHome.home, 'ca', 'up.upstream-cacerts.pem');
    expect(existsSync(cacheFile)).toBe(true);
    expect(pemBlocks(readFileSync(cacheFile, 'utf8')).map((d) => new X509Certificate(d).fingerprint256)).toEqual(upstreamCacerts);
  }, 180_000);

  it('upstream killed: 503 + Retry-After with a text reason; /cacerts still 200 from the last good copy', async () => {
    const certsBefore = (await ra.runtime.store.listCertificates()).length;
    await up.stop('kill');
    await expectUnavailable('during-outage');
    // the connector is reached only after authentication: an anonymous client learns nothing of the upstream
    const anonymous = await estRequest(`${ra.base}/simpleenroll`, { ca: ra.rootPem, body: csrBody((await makeCsr({ name: 'CN=anonymous' })).der), contentType: 'application/pkcs10' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.text).not.toContain('upstream');
    await expectUpstreamCacerts();
    expect((await ra.runtime.store.listCertificates()).length).toBe(certsBefore);
  }, 180_000);

  it('upstream back on the same port: the same RA enrolls again without a restart', async () => {
    await up.start();
    expectIssuedUpstream(await enroll('after-outage'));
  }, 180_000);

  it('RA restarted while the upstream is down: /cacerts from <home>/ca/up.upstream-cacerts.pem; enrollments again once the upstream is back', async () => {
    await up.stop();
    await expectUnavailable('drained');
    await ra.runtime.close();
    ra = await startServer(raHome);
    await expectUpstreamCacerts();
    await expectUnavailable('restarted-ra');
    await expectUpstreamCacerts('fp');
    await expectUnavailable('restarted-ra-fp', 'fp');
    await up.start();
    expectIssuedUpstream(await enroll('after-ra-restart'));
    await expectUpstreamCacerts();
    // bootstrap trust is established on the first request that reaches the upstream again, not at the next refresh
    expectIssuedUpstream(await enroll('after-ra-restart-fp', 'fp'));
  }, 180_000);

  it('a new RA started before its upstream: /cacerts 503 until the upstream listens, then the RA serves without a restart', async () => {
    await up.stop();
    const fresh = await startServer(await makeRaHome(up, { up: { basic: upstreamAccount(up), retryAfterSeconds: 13 } }));
    try {
      await routeProfiles(fresh.runtime.store, { default: { ca: 'up' } });
      const none = await estRequest(`${fresh.base}/cacerts`, { ca: fresh.rootPem });
      expect(none.status, none.text).toBe(503);
      expect(none.headers['retry-after']).toBe('13');
      // /cacerts answers anyone: no upstream detail in its reason
      expect(none.text).not.toContain('127.0.0.1');
      expect(existsSync(join(fresh.home, 'ca', 'up.upstream-cacerts.pem'))).toBe(false);
      await up.start();
      const res = await estRequest(`${fresh.base}/cacerts`, { ca: fresh.rootPem });
      expect(res.status, res.text).toBe(200);
      expect(certsFrom(res).map((d) => new X509Certificate(d).fingerprint256)).toEqual(upstreamCacerts);
      const csr = await makeCsr({ name: 'CN=fresh-ra' });
      const enrolled = await estRequest(`${fresh.base}/simpleenroll`, {
        ca: fresh.rootPem, basic: { user: fresh.summary.estAccount.email, password: fresh.summary.estAccount.password }, body: csrBody(csr.der), contentType: 'application/pkcs10',
      });
      expectIssuedUpstream(enrolled);
      expect(existsSync(join(fresh.home, 'ca', 'up.upstream-cacerts.pem'))).toBe(true);
    } finally {
      await fresh.runtime.close();
    }
  }, 180_000);
});

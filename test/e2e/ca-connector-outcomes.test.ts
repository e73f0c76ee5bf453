/**
 * The RA's handling of a CA connector's answers (connector contract v2, src/ca/ca-backend.ts), over
 * real TLS with a real store: pending → 202 + the connector's Retry-After, then the re-send is
 * issued; refusals pass through (403/400); a misconfigured connector is 502 naming it; an
 * unavailable one 503 + Retry-After; nothing is recorded unless a certificate was issued.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { openCa } from '../../src/cli/runtime.js';
import { createEstServer, type EstServer } from '../../src/est/est-server.js';
import { parseCsr } from '../../src/pki/csr.js';
import { createEnrollmentService } from '../../src/ra/enrollment-service.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';
import { certsFrom, csrBody, estRequest, pem } from '../helpers/est-http.js';
import { makeHome, type TestHome, sqlitePath } from '../helpers/home.js';
import { makeCsr, type TestCsr } from '../helpers/keys.js';
import { createScriptedCa, type ScriptedCa } from '../helpers/scripted-ca.js';

let home: TestHome;
let store: SqliteStore;
let ca: ScriptedCa;
let est: EstServer;
let base: string;
let basic: { user: string; password: string };

beforeAll(async () => {
  home = await makeHome();
  const config = loadConfig(home.home, {});
  const [id, caConfig] = Object.entries(config.cas)[0]!;
  ca = createScriptedCa(openCa(id, caConfig));
  store = openSqliteStore(sqlitePath(config));
  const p = (await store.getProfile('default'))!;
  await store.createProfile({ ...p, label: 'held', approval: 'manual', retryAfterSeconds: 7 });
  const logger = pino({ enabled: false });
  const service = createEnrollmentService({ store, cas: new Map([[id, ca]]), defaultProfile: config.est.defaultProfile, now: () => new Date(), logger, unavailableRetryAfter: 30 });
  est = await createEstServer({ service, logger, tls: { key: readFileSync(config.tls.key), cert: readFileSync(config.tls.certificate) } });
  await est.listen({ host: '127.0.0.1', port: 0 });
  base = `https://127.0.0.1:${(est.server.address() as AddressInfo).port}/.well-known/est`;
  basic = { user: home.summary.estAccount.email, password: home.summary.estAccount.password };
});
afterAll(async () => {
  await est?.close();
  await store?.close();
});
beforeEach(() => {
  ca.script = [];
  ca.requests = [];
});

const enroll = (csr: TestCsr, path = '/simpleenroll') => estRequest(base + path, { ca: home.rootPem, body: csrBody(csr.der), contentType: 'application/pkcs10', basic });
const recordedFor = async (subject: string) => (await store.listCertificates()).filter((c) => c.subject === subject);

describe('CA connector outcomes through the RA', () => {
  it('pending: 202 with the connector\'s Retry-After, audited; the re-send is forwarded again and issued, recorded once', async () => {
    ca.script = [{ kind: 'pending', retryAfterSeconds: 17, reference: 'upstream-42' }];
    const csr = await makeCsr({ name: 'CN=pending-1', dns: ['pending-1.example'] });
    const first = await enroll(csr);
    expect(first.status).toBe(202);
    expect(first.headers['retry-after']).toBe('17');
    expect(await recordedFor('CN=pending-1')).toEqual([]);
    expect((await store.listAudit({ action: 'simpleenroll' })).find((e) => e.outcome === 'pending')?.detail).toMatch(/upstream-42/);

    const again = await enroll(csr);
    expect(again.status).toBe(200);
    const [cert] = certsFrom(again);
    expect(new X509Certificate(cert!).subject).toBe('CN=pending-1');
    expect(await recordedFor('CN=pending-1')).toHaveLength(1);

    // the connector saw the CSR as the client signed it and the RA's template, twice
    expect(ca.requests).toHaveLength(2);
    const [req] = ca.requests;
    expect(req!.operation).toBe('enroll');
    expect(req!.csr.equals(csr.der)).toBe(true);
    expect(req!.template.spki.equals(parseCsr(csr.der).spki)).toBe(true);
    expect(req!.template.validitySeconds).toBe(365 * 86_400);
    expect(req!.requester).toBe(basic.user);
    expect(req!.requestId).not.toBe(ca.requests[1]!.requestId);
  });

  it('reenroll: the connector gets operation reenroll and the certificate being renewed; serverkeygen: the generated key in the template', async () => {
    const csr = await makeCsr({ name: 'CN=renew-1' });
    const [first] = certsFrom(await enroll(csr));
    const renewal = await estRequest(`${base}/simplereenroll`, {
      ca: home.rootPem, body: csrBody(csr.der), contentType: 'application/pkcs10', clientCert: { cert: pem(first!), key: csr.keyPem },
    });
    expect(renewal.status).toBe(200);
    const reenroll = ca.requests[1]!;
    expect(reenroll.operation).toBe('reenroll');
    expect(reenroll.renewing?.equals(first!)).toBe(true);
    expect(reenroll.requester).toBe(basic.user);

    const keygen = await enroll(await makeCsr({ name: 'CN=keygen-1' }), '/serverkeygen');
    expect(keygen.status).toBe(200);
    const request = ca.requests[2]!;
    expect(request.operation).toBe('serverkeygen');
    expect(request.renewing).toBeUndefined();
    const [recorded] = await recordedFor('CN=keygen-1');
    const spki = Buffer.from(new X509Certificate(recorded!.der).publicKey.export({ type: 'spki', format: 'der' }));
    expect(request.template.spki.equals(spki)).toBe(true);
    expect(request.template.spki.equals(parseCsr(request.csr).spki)).toBe(false);
  });

  it('passes a refusal through with its reason: 403, or 400 when the CA says the request is malformed; nothing recorded', async () => {
    ca.script = [{ kind: 'refused', reason: 'the CA does not issue for example.org' }, { kind: 'refused', reason: 'the CA cannot parse this request', status: 400 }];
    const csr = await makeCsr({ name: 'CN=refused-1' });
    const refused = await enroll(csr);
    expect(refused.status).toBe(403);
    expect(refused.headers['content-type']).toMatch(/^text\/plain/);
    expect(refused.text).toContain('the CA does not issue for example.org');
    const malformed = await enroll(csr);
    expect(malformed.status).toBe(400);
    expect(malformed.text).toContain('the CA cannot parse this request');
    expect(await recordedFor('CN=refused-1')).toEqual([]);
  });

  it('a misconfigured connector is 502 with a text reason naming it, not the client\'s fault; nothing recorded', async () => {
    ca.script = [{ kind: 'misconfigured', reason: 'the CA refused the RA\'s credentials' }];
    const csr = await makeCsr({ name: 'CN=misconfigured-1' });
    const res = await enroll(csr);
    expect(res.status).toBe(502);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain(`CA connector "${ca.id}"`);
    expect(res.text).toContain('the CA refused the RA\'s credentials');
    expect(await recordedFor('CN=misconfigured-1')).toEqual([]);
    expect((await enroll(csr)).status).toBe(200); // the server keeps serving
  });

  it('an unavailable connector is 503 with its Retry-After, or the RA default', async () => {
    ca.script = [{ kind: 'unavailable', reason: 'connection refused', retryAfterSeconds: 9 }, { kind: 'unavailable', reason: 'timeout' }];
    const csr = await makeCsr({ name: 'CN=unavailable-1' });
    const first = await enroll(csr);
    expect(first.status).toBe(503);
    expect(first.headers['retry-after']).toBe('9');
    expect(first.text).toContain(`CA connector "${ca.id}": connection refused; try again later`);
    const second = await enroll(csr);
    expect(second.status).toBe(503);
    expect(second.headers['retry-after']).toBe('30');
    expect(await recordedFor('CN=unavailable-1')).toEqual([]);
  });

  it('an approved request the connector holds stays approved; the re-send issues it and marks it issued with the certificate', async () => {
    const csr = await makeCsr({ name: 'CN=held-ca-1' });
    expect((await enroll(csr, '/held/simpleenroll')).status).toBe(202);
    const [held] = await store.listPendingRequests({ status: 'pending' });
    expect(await store.decidePendingRequest(held!.id, 'approved', 'officer@example.com', null, new Date())).toBe(true);
    ca.script = [{ kind: 'pending', retryAfterSeconds: 11, reference: 'upstream-7' }];
    const atCa = await enroll(csr, '/held/simpleenroll');
    expect(atCa.status).toBe(202);
    expect(atCa.headers['retry-after']).toBe('11');
    expect((await store.getPendingRequest(held!.id))?.status).toBe('approved');
    expect(ca.requests[0]!.requestId).toBe(`request-${held!.id}`);
    const issued = await enroll(csr, '/held/simpleenroll');
    expect(issued.status).toBe(200);
    const [record] = await recordedFor('CN=held-ca-1');
    expect(await store.getPendingRequest(held!.id)).toMatchObject({ status: 'issued', serial: record!.serial });
  });
});

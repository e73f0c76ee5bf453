/** RFC 7030 §4.2.3 manual approval: 202 + Retry-After, approve → 200, reject → 403, expiry → 403. */
import { createHash, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsr } from '../../src/pki/csr.js';
import { certsFrom, csrBody, estRequest, pem } from '../helpers/est-http.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { makeCsr, type TestCsr } from '../helpers/keys.js';

let s: TestServer;
let basic: { user: string; password: string };

beforeAll(async () => {
  s = await startServer();
  basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'held', approval: 'manual', retryAfterSeconds: 7 });
});
afterAll(async () => {
  await s.runtime.close();
});

const send = (csr: TestCsr, path = '/held/simpleenroll', extra: Record<string, unknown> = { basic }) =>
  estRequest(s.base + path, { ca: s.rootPem, body: csrBody(csr.der), contentType: 'application/pkcs10', ...extra });

async function heldFor(csr: TestCsr) {
  const keyId = createHash('sha256').update(parseCsr(csr.der).spki).digest('hex');
  return s.runtime.store.findPendingRequest('held', basic.user, keyId);
}

describe('manual approval', () => {
  it('holds the request (202 + Retry-After), keeps one request across re-sends, and issues after approval', async () => {
    const csr = await makeCsr({ name: 'CN=held-1', dns: ['held-1.example'] });
    const first = await send(csr);
    expect(first.status).toBe(202);
    expect(first.headers['retry-after']).toBe('7');
    expect(first.text).toMatch(/pending approval/);
    const again = await send(csr);
    expect(again.status).toBe(202);
    expect(again.headers['retry-after']).toBe('7');
    const held = (await heldFor(csr))!;
    expect(held).toMatchObject({ status: 'pending', subject: 'CN=held-1', sans: ['DNS:held-1.example'], keyDescription: 'EC P-256', requester: basic.user });
    expect((await s.runtime.store.listPendingRequests({ profile: 'held' })).filter((r) => r.id === held.id)).toHaveLength(1);

    expect(await s.runtime.store.decidePendingRequest(held.id, 'approved', 'officer@example.com', null, new Date())).toBe(true);
    const done = await send(csr);
    expect(done.status, done.text).toBe(200);
    const cert = new X509Certificate(certsFrom(done)[0]!);
    expect(cert.subject).toBe('CN=held-1');
    expect((await s.runtime.store.getPendingRequest(held.id))).toMatchObject({ status: 'issued', serial: cert.serialNumber.toLowerCase() });
    const audit = await s.runtime.store.listAudit({ profile: 'held' });
    expect(audit.map((e) => e.outcome)).toEqual(expect.arrayContaining(['pending', 'success']));
    // a later request with the same key is a new request
    expect((await send(csr)).status).toBe(202);
  });

  it('issues what the officer approved, not a different subject re-sent with the same key', async () => {
    const csr = await makeCsr({ name: 'CN=approved-name' });
    expect((await send(csr)).status).toBe(202);
    await s.runtime.store.decidePendingRequest((await heldFor(csr))!.id, 'approved', 'officer@example.com', null, new Date());
    const sneaky = await makeCsr({ name: 'CN=other-name', keys: csr.keys });
    const res = await send(sneaky);
    expect(res.status, res.text).toBe(200);
    expect(new X509Certificate(certsFrom(res)[0]!).subject).toBe('CN=approved-name');
  });

  it('answers 403 with the reason after a rejection', async () => {
    const csr = await makeCsr({ name: 'CN=held-2' });
    expect((await send(csr)).status).toBe(202);
    await s.runtime.store.decidePendingRequest((await heldFor(csr))!.id, 'rejected', 'officer@example.com', 'unknown device', new Date());
    const res = await send(csr);
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/was rejected: unknown device/);
    // another key from the same account is a new request
    expect((await send(await makeCsr({ name: 'CN=held-2' }))).status).toBe(202);
  });

  it('answers 403 once a held request has expired', async () => {
    const csr = await makeCsr({ name: 'CN=held-3' });
    const parsed = parseCsr(csr.der);
    await s.runtime.store.createPendingRequest({
      profile: 'held', operation: 'simpleenroll', requester: basic.user, keyId: createHash('sha256').update(parsed.spki).digest('hex'),
      csr: csr.der, subject: 'CN=held-3', sans: [], keyDescription: 'EC P-256',
      createdAt: new Date(Date.now() - 80 * 3_600_000), expiresAt: new Date(Date.now() - 8 * 3_600_000),
    });
    const res = await send(csr);
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/expired on .* without a decision/);
  });

  it('holds a simplereenroll too, and still authenticates first', async () => {
    const csr = await makeCsr({ name: 'CN=held-4' });
    expect((await send(csr)).status).toBe(202);
    expect((await send(csr, '/held/simpleenroll', {})).status).toBe(401); // no credentials: nothing is held
    await s.runtime.store.decidePendingRequest((await heldFor(csr))!.id, 'approved', 'officer@example.com', null, new Date());
    const issued = await send(csr);
    expect(issued.status).toBe(200);
    const cert = { cert: pem(certsFrom(issued)[0]!), key: csr.keyPem };
    const re = await send(csr, '/held/simplereenroll', { clientCert: cert });
    expect(re.status, re.text).toBe(202);
    expect(re.headers['retry-after']).toBe('7');
  });
});

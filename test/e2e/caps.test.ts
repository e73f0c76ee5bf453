/** Caps: requests held for approval per requester, and the size of an issued certificate. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { makeHome, startServer, type TestServer } from '../helpers/home.js';
import { makeCsr, type TestCsr } from '../helpers/keys.js';

let s: TestServer;
let basic: { user: string; password: string };

beforeAll(async () => {
  const home = await makeHome();
  const file = join(home.home, 'estuary.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { est: Record<string, unknown> };
  doc.est.maxPendingPerRequester = 2;
  doc.est.maxCertificateBytes = 4096;
  writeFileSync(file, stringify(doc));
  s = await startServer(home);
  basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'held', approval: 'manual' });
});
afterAll(async () => {
  await s.runtime.close();
});

const enroll = (path: string, csr: TestCsr) => estRequest(s.base + path, { ca: s.rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });

describe('caps', () => {
  it('holds at most 2 requests per requester; a re-sent one still answers 202; a decision frees a place', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map((i) => makeCsr({ name: `CN=held-${i}` })));
    expect((await enroll('/held/simpleenroll', a!)).status).toBe(202);
    expect((await enroll('/held/simpleenroll', b!)).status).toBe(202);
    const third = await enroll('/held/simpleenroll', c!);
    expect(third.status).toBe(403);
    expect(third.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(third.text).toMatch(new RegExp(`${basic.user} already has 2 requests waiting for approval \\(at most 2\\)`));
    expect((await enroll('/held/simpleenroll', a!)).status).toBe(202);
    const [first] = await s.runtime.store.listPendingRequests({ status: 'pending', profile: 'held', limit: 1, offset: 1 });
    expect(await s.runtime.store.decidePendingRequest(first!.id, 'rejected', 'officer@example.com', 'no', new Date())).toBe(true);
    expect((await enroll('/held/simpleenroll', c!)).status).toBe(202);
    expect(await s.runtime.store.countPendingRequests({ status: 'pending', requester: basic.user })).toBe(2);
  });

  it('refuses a request whose certificate would exceed the size bound, and keeps serving', async () => {
    // 90 names stay within the profile's maxSans (100) but not within the 4 KiB bound
    const dns = Array.from({ length: 90 }, (_, i) => `a-rather-long-device-name-${i}.example.com`);
    const big = await enroll('/simpleenroll', await makeCsr({ name: 'CN=big', dns }));
    expect(big.status).toBe(403);
    expect(big.text).toMatch(/the certificate would be about \d+ bytes, more than this server issues \(4096\); request fewer or shorter names/);
    expect((await s.runtime.store.listCertificates()).some((c) => c.subject === 'CN=big')).toBe(false);
    expect((await enroll('/simpleenroll', await makeCsr({ name: 'CN=small', dns: ['small.example.com'] }))).status).toBe(200);
  });
});

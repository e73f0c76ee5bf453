/**
 * Server-side key generation off the event loop and within bounds: other requests are served while
 * an RSA-4096 key is being made; generations beyond est.serverKeygenConcurrency get 503 +
 * Retry-After; a profile asking for more than 4096-bit RSA is refused.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrBody, estRequest, type EstResponse } from '../helpers/est-http.js';
import { makeHome, startServer, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { decodeBase64Body } from '../../src/pki/base64.js';

let s: TestServer;
let basic: { user: string; password: string };
let csr: Buffer;

beforeAll(async () => {
  const home = await makeHome();
  const configFile = join(home.home, 'estuary.yaml');
  const yaml = readFileSync(configFile, 'utf8');
  expect(yaml).toContain('serverKeygenConcurrency: 2');
  writeFileSync(configFile, yaml.replace('serverKeygenConcurrency: 2', 'serverKeygenConcurrency: 1'));
  s = await startServer(home);
  basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'rsa4096', keyAlgorithms: [{ type: 'rsa', minBits: 4096 }] });
  await s.runtime.store.createProfile({ ...p, label: 'rsa8192', keyAlgorithms: [{ type: 'rsa', minBits: 8192 }] });
  csr = (await makeCsr({ name: 'CN=keygen-device' })).der;
});
afterAll(async () => {
  await s.runtime.close();
});

const keygen = (label: string): Promise<EstResponse> =>
  estRequest(`${s.base}${label}/serverkeygen`, { ca: s.rootPem, basic, body: csrBody(csr), contentType: 'application/pkcs10' });

describe('serverkeygen off the event loop, a bounded number at a time', () => {
  it('while an RSA-4096 key is generated, a second generation gets 503 + Retry-After and cacerts is served', async () => {
    // Two generations with room for one: the first answer is the 503 of one of them, sent while
    // the other generates (a blocking generation could answer nothing until it is done).
    const settled = new Set<number>();
    const both = [keygen('/rsa4096'), keygen('/rsa4096')];
    both.forEach((p, i) => void p.then(() => settled.add(i)));
    const first = await Promise.race(both.map((p, i) => p.then((r) => ({ i, r }))));
    expect(first.r.status, first.r.text).toBe(503);
    expect(first.r.headers['retry-after']).toBe('5');
    expect(first.r.headers['content-type']).toMatch(/^text\/plain/);
    expect(first.r.text).toContain('the server is busy generating keys (1 at a time), try again later');

    const cacerts = await estRequest(`${s.base}/cacerts`, { ca: s.rootPem });
    expect(cacerts.status).toBe(200);
    expect(settled.has(1 - first.i)).toBe(false); // the generation is still running

    const generated = await both[1 - first.i]!;
    expect(generated.status, generated.text).toBe(200);
    const keyPart = /\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--/.exec(generated.text)![1]!;
    expect(createPrivateKey({ key: decodeBase64Body(Buffer.from(keyPart)), format: 'der', type: 'pkcs8' }).asymmetricKeyDetails?.modulusLength).toBe(4096);
    // the slot is free again
    const after = await keygen('');
    expect(after.status, after.text).toBe(200);
  }, 120_000);
});

describe('serverkeygen bounds', () => {
  it('a profile that would need RSA above 4096 bits is refused with 403 (no 8192-bit generation on request)', async () => {
    const res = await estRequest(`${s.base}/rsa8192/serverkeygen`, { ca: s.rootPem, basic, body: csrBody(csr), contentType: 'application/pkcs10' });
    expect(res.status, res.text).toBe(403);
    expect(res.text).toContain('server-side key generation makes RSA keys of at most 4096 bits; profile "rsa8192" requires 8192');
  });
});

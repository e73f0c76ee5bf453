import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { setCaConnector } from '../../src/cli/config-edit.js';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { certsFrom, csrBody, estRequest } from '../helpers/est-http.js';
import { makeHome, startServer, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';

let up: TestServer;
let ra: TestServer;

beforeAll(async () => {
  up = await startServer();
  const raHome = await makeHome();
  writeFileSync(join(raHome.home, 'upstream-root.pem'), up.rootPem);
  writeFileSync(join(raHome.home, 'upstream.password'), up.summary.estAccount.password, { mode: 0o600 });
  setCaConnector(raHome.home, 'upstream', {
    type: 'est', url: `https://127.0.0.1:${up.port}`, trustAnchors: ['upstream-root.pem'],
    auth: { basic: { user: up.summary.estAccount.email, passwordFile: 'upstream.password' } },
  });
  ra = await startServer(raHome);
  const p = (await ra.runtime.store.getProfile('default'))!;
  await ra.runtime.store.updateProfile({ ...p, ca: 'upstream' });
});
afterAll(async () => {
  await ra?.runtime.close();
  await up?.runtime.close();
});

it('enrolls through the RA', async () => {
  const basic = { user: ra.summary.estAccount.email, password: ra.summary.estAccount.password };
  const cacerts = await estRequest(ra.base + '/cacerts', { ca: ra.rootPem });
  expect(cacerts.status, cacerts.text).toBe(200);
  expect(new X509Certificate(certsFrom(cacerts)[1]!).toString()).toBe(new X509Certificate(up.rootPem).toString());
  const csr = await makeCsr({ name: 'CN=device-1', dns: ['device-1.example'] });
  const res = await estRequest(ra.base + '/simpleenroll', { ca: ra.rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });
  expect(res.status, res.text).toBe(200);
  const cert = new X509Certificate(certsFrom(res)[0]!);
  expect(cert.verify(new X509Certificate(certsFrom(cacerts)[0]!).publicKey)).toBe(true);
  const kg = await estRequest(ra.base + '/serverkeygen', { ca: ra.rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });
  expect(kg.status, kg.text).toBe(200);
});

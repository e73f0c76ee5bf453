/**
 * CRLs of external device CAs (RFC 5280 §6.3): fetched from a real HTTP server on 127.0.0.1:0,
 * made with @peculiar/x509; cached until nextUpdate with an injected clock.
 */
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeviceCrlSource, type DeviceCrlOptions } from '../../src/ra/device-crl.js';
import { makeDeviceCa, type DeviceCa } from '../helpers/device-ca.js';
import { generateKeys, x509 } from '../helpers/keys.js';

/** What the server answers per path; a function may delay or misbehave. */
const routes = new Map<string, Buffer | ((res: import('node:http').ServerResponse) => void)>();
const hits = new Map<string, number>();
let server: Server;
let base: string;
let ca: DeviceCa;
let caX: X509Certificate;

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes.get(path);
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    if (typeof route === 'function') return route(res);
    res.writeHead(200, { 'Content-Type': 'application/pkix-crl' }).end(route);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ca = await makeDeviceCa('CN=CRL Test Device CA, O=Example');
  caX = new X509Certificate(ca.pem);
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const source = (o: Partial<DeviceCrlOptions> = {}) => createDeviceCrlSource({ now: () => new Date(), timeoutMs: 2000, ...o });
const device = async (cn: string): Promise<{ x: X509Certificate; serial: string }> => {
  const d = await ca.issue(cn);
  return { x: new X509Certificate(d.cert), serial: d.serial };
};

describe('device CRL source', () => {
  it('says revoked for a listed certificate and good for another (PEM accepted too)', async () => {
    const bad = await device('bad');
    const good = await device('good');
    const der = await ca.crl([bad.serial]);
    routes.set('/a.crl', der);
    routes.set('/a.pem', Buffer.from(`-----BEGIN X509 CRL-----\n${der.toString('base64')}\n-----END X509 CRL-----\n`));
    const s = source();
    expect(await s.status(bad.x, caX, `${base}/a.crl`)).toEqual({ kind: 'revoked', url: `${base}/a.crl`, reason: 'keyCompromise' });
    expect(await s.status(good.x, caX, `${base}/a.crl`)).toEqual({ kind: 'good', url: `${base}/a.crl` });
    expect((await s.status(bad.x, caX, `${base}/a.pem`)).kind).toBe('revoked');
  });

  it('is unavailable when the server is down, answers 404, or the URL is not http(s)', async () => {
    const d = await device('d');
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const downUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/down.crl`;
    await new Promise((resolve) => closed.close(resolve));
    const down = await source().status(d.x, caX, downUrl);
    expect(down).toMatchObject({ kind: 'unavailable', url: downUrl, error: expect.stringMatching(/ECONNREFUSED/) });
    expect(await source().status(d.x, caX, `${base}/missing.crl`)).toMatchObject({ kind: 'unavailable', error: 'HTTP 404' });
    expect(await source().status(d.x, caX, 'ldap://ldap.example/cn=crl')).toMatchObject({ kind: 'unavailable', error: 'only http and https URLs are fetched' });
  });

  it('treats an expired CRL, one signed by another key, one of another issuer and garbage as no CRL', async () => {
    const d = await device('d');
    routes.set('/expired.crl', await ca.crl([], { thisUpdate: new Date(Date.now() - 3 * 86_400_000), nextUpdate: new Date(Date.now() - 86_400_000) }));
    expect(await source().status(d.x, caX, `${base}/expired.crl`)).toMatchObject({ kind: 'unavailable', error: expect.stringMatching(/^the CRL expired at /) });
    const wrongKey = await generateKeys('ec-p256');
    routes.set('/forged.crl', await ca.crl([], { signingKey: wrongKey.privateKey }));
    expect(await source().status(d.x, caX, `${base}/forged.crl`)).toMatchObject({ kind: 'unavailable', error: 'the CRL signature does not verify with the issuing CA\'s key' });
    const other = await makeDeviceCa('CN=Another CA');
    routes.set('/other.crl', await other.crl([d.serial]));
    expect(await source().status(d.x, caX, `${base}/other.crl`)).toMatchObject({ kind: 'unavailable', error: 'the CRL is not issued by "CN=CRL Test Device CA, O=Example"' });
    routes.set('/garbage.crl', Buffer.from('not a crl'));
    expect((await source().status(d.x, caX, `${base}/garbage.crl`)).kind).toBe('unavailable');
  });

  it('does not use a CRL whose scope leaves out end-entity certificates, nor a delta CRL', async () => {
    const d = await device('d');
    const scoped = async (extnValue: number[], id: string): Promise<Buffer> => {
      const crl = await x509.X509CrlGenerator.create({
        issuer: ca.cert.subject, nextUpdate: new Date(Date.now() + 86_400_000), signingKey: ca.keys.privateKey,
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams, extensions: [new x509.Extension(id, true, new Uint8Array(extnValue))],
      });
      return Buffer.from(crl.rawData);
    };
    routes.set('/ca-only.crl', await scoped([0x30, 0x03, 0x82, 0x01, 0xff], '2.5.29.28')); // issuingDistributionPoint onlyContainsCACerts
    expect(await source().status(d.x, caX, `${base}/ca-only.crl`)).toMatchObject({ kind: 'unavailable', error: 'the CRL cannot be used: it covers only CA certificates (issuingDistributionPoint)' });
    routes.set('/users.crl', await scoped([0x30, 0x03, 0x81, 0x01, 0xff], '2.5.29.28')); // onlyContainsUserCerts: fine
    expect((await source().status(d.x, caX, `${base}/users.crl`)).kind).toBe('good');
    routes.set('/delta.crl', await scoped([0x02, 0x01, 0x05], '2.5.29.27'));
    expect(await source().status(d.x, caX, `${base}/delta.crl`)).toMatchObject({ kind: 'unavailable', error: 'the CRL cannot be used: it is a delta CRL' });
  });

  it('follows up to three http redirects, not more, and not to other schemes', async () => {
    const d = await device('d');
    const redirect = (to: string) => (res: import('node:http').ServerResponse) => res.writeHead(302, { Location: to }).end();
    routes.set('/moved/final.crl', await ca.crl([d.serial]));
    routes.set('/r1', redirect('/moved/final.crl'));
    routes.set('/r2', redirect(`${base}/r1`));
    routes.set('/r3', redirect('/r2'));
    routes.set('/r4', redirect('/r3'));
    expect((await source().status(d.x, caX, `${base}/r3`)).kind).toBe('revoked');
    expect(await source().status(d.x, caX, `${base}/r4`)).toMatchObject({ kind: 'unavailable', error: 'HTTP 302' });
    routes.set('/to-ldap', redirect('ldap://ldap.example/cn=crl'));
    expect(await source().status(d.x, caX, `${base}/to-ldap`)).toMatchObject({ kind: 'unavailable', error: 'redirected to ldap://ldap.example/cn=crl, which is not http or https' });
  });

  it('bounds the size and the time of a fetch', async () => {
    const d = await device('d');
    routes.set('/big.crl', Buffer.alloc(5000, 0x30));
    expect(await source({ maxBytes: 4096 }).status(d.x, caX, `${base}/big.crl`)).toMatchObject({ kind: 'unavailable', error: 'the CRL is larger than 4096 bytes' });
    routes.set('/slow.crl', (res) => res.writeHead(200).write(Buffer.from([0x30]))); // never ends
    expect(await source({ timeoutMs: 300 }).status(d.x, caX, `${base}/slow.crl`)).toMatchObject({ kind: 'unavailable', error: 'no complete answer within 300 ms' });
  });

  it('shares one fetch between concurrent look-ups and caches the CRL until it should be refreshed', async () => {
    const d = await device('d');
    routes.set('/shared.crl', await ca.crl([]));
    let now = new Date();
    const s = source({ now: () => now, maxAgeMs: 3_600_000 });
    const results = await Promise.all(Array.from({ length: 10 }, () => s.status(d.x, caX, `${base}/shared.crl`)));
    expect(results.every((r) => r.kind === 'good')).toBe(true);
    expect(hits.get('/shared.crl')).toBe(1);
    await s.status(d.x, caX, `${base}/shared.crl`);
    expect(hits.get('/shared.crl')).toBe(1);
    // an hour later the source refetches in the background, answering from the CRL it has meanwhile
    routes.set('/shared.crl', await ca.crl([d.serial]));
    now = new Date(now.getTime() + 3_600_001);
    expect((await s.status(d.x, caX, `${base}/shared.crl`)).kind).toBe('good');
    await expect.poll(() => hits.get('/shared.crl')).toBe(2);
    await expect.poll(async () => (await s.status(d.x, caX, `${base}/shared.crl`)).kind).toBe('revoked');
  });

  it('keeps a still valid CRL when a refetch fails, and fetches again only after the retry interval', async () => {
    const d = await device('d');
    routes.set('/flaky.crl', await ca.crl([]));
    let now = new Date();
    const s = source({ now: () => now, maxAgeMs: 60_000, retryAfterMs: 30_000 });
    expect((await s.status(d.x, caX, `${base}/flaky.crl`)).kind).toBe('good');
    routes.delete('/flaky.crl'); // 404 from now on
    now = new Date(now.getTime() + 61_000);
    expect((await s.status(d.x, caX, `${base}/flaky.crl`)).kind).toBe('good');
    await expect.poll(() => hits.get('/flaky.crl')).toBe(2);
    expect((await s.status(d.x, caX, `${base}/flaky.crl`)).kind).toBe('good');
    expect(hits.get('/flaky.crl')).toBe(2);
    // past nextUpdate (one day) the CRL is no longer used
    now = new Date(now.getTime() + 2 * 86_400_000);
    expect(await s.status(d.x, caX, `${base}/flaky.crl`)).toMatchObject({ kind: 'unavailable', error: 'HTTP 404' });
  });
});

/**
 * Response header names are written in canonical case on every listener (libest compares them
 * byte for byte): checked on the raw bytes of the header block, including framework answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalHeaderName } from '../../src/http/canonical-headers.js';
import { csrBody } from '../helpers/est-http.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { rawExchange, rawRequest, type RawResponse } from '../helpers/raw-http.js';

let s: TestServer;
let auth: string;
const EST = '/.well-known/est';

beforeAll(async () => {
  s = await startServer();
  auth = 'Basic ' + Buffer.from(`${s.summary.estAccount.email}:${s.summary.estAccount.password}`).toString('base64');
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'held', approval: 'manual', retryAfterSeconds: 9 });
});
afterAll(async () => {
  await s.runtime.close();
});

const est = (request: string) => rawExchange(s.port, request, { tls: { ca: s.rootPem } });

/** Every name is canonical, and the named ones are there byte for byte. */
function expectCanonical(res: RawResponse, ...required: string[]): void {
  for (const name of res.names) expect(name, res.head).toBe(canonicalHeaderName(name));
  for (const name of required) expect(res.names, res.head).toContain(name);
  expect(res.head).not.toMatch(/\r\n[a-z][a-z-]*:/);
}

async function enrollBody(cn: string): Promise<string> {
  return csrBody((await makeCsr({ name: `CN=${cn}` })).der);
}

describe('canonical header names', () => {
  it('canonicalises names generically with the usual exceptions', () => {
    expect(canonicalHeaderName('content-type')).toBe('Content-Type');
    expect(canonicalHeaderName('CONTENT-TRANSFER-ENCODING')).toBe('Content-Transfer-Encoding');
    expect(canonicalHeaderName('www-authenticate')).toBe('WWW-Authenticate');
    expect(canonicalHeaderName('x-csrf-token')).toBe('X-CSRF-Token');
    expect(canonicalHeaderName('etag')).toBe('ETag');
    expect(canonicalHeaderName('x-est-reason')).toBe('X-Est-Reason');
    expect(canonicalHeaderName('strict-transport-security')).toBe('Strict-Transport-Security');
  });

  it('cacerts 200', async () => {
    const res = await est(rawRequest('GET', `${EST}/cacerts`));
    expect(res.status).toBe(200);
    expectCanonical(res, 'Content-Type', 'Content-Length', 'Content-Transfer-Encoding');
  });

  it('simpleenroll 200', async () => {
    const res = await est(rawRequest('POST', `${EST}/simpleenroll`, { Authorization: auth, 'Content-Type': 'application/pkcs10' }, await enrollBody('case-1')));
    expect(res.status, res.body.toString()).toBe(200);
    expectCanonical(res, 'Content-Type', 'Content-Length', 'Content-Transfer-Encoding');
  });

  it('the 401 challenge', async () => {
    const res = await est(rawRequest('POST', `${EST}/simpleenroll`, { 'Content-Type': 'application/pkcs10' }, await enrollBody('case-2')));
    expect(res.status).toBe(401);
    expectCanonical(res, 'WWW-Authenticate', 'Content-Type', 'Content-Length');
  });

  it('one WWW-Authenticate field per challenge, Basic first, on a profile that wants both', async () => {
    const p = (await s.runtime.store.getProfile('default'))!;
    await s.runtime.store.createProfile({ ...p, label: 'both', auth: 'basic+tls-client-cert', clientTrustAnchors: [s.rootPem] });
    const res = await est(rawRequest('POST', `${EST}/both/simpleenroll`, { 'Content-Type': 'application/pkcs10' }, await enrollBody('case-both')));
    expect(res.status).toBe(401);
    expectCanonical(res, 'WWW-Authenticate');
    expect(res.head.match(/\r\nWWW-Authenticate: [^\r]*/g)).toEqual(['\r\nWWW-Authenticate: Basic realm="estuary both"', '\r\nWWW-Authenticate: TLS-Client-Certificate realm="estuary both"']);
  });

  it('202 with Retry-After', async () => {
    const res = await est(rawRequest('POST', `${EST}/held/simpleenroll`, { Authorization: auth, 'Content-Type': 'application/pkcs10' }, await enrollBody('case-3')));
    expect(res.status).toBe(202);
    expectCanonical(res, 'Retry-After', 'Content-Type', 'Content-Length');
    expect(res.header('Retry-After')).toBe('9');
  });

  it('405 with Allow', async () => {
    const res = await est(rawRequest('PUT', `${EST}/simpleenroll`));
    expect(res.status).toBe(405);
    expectCanonical(res, 'Allow', 'Content-Type');
  });

  it('404 from the router and from the not-found handler', async () => {
    for (const path of [`${EST}/nothing-here`, '/elsewhere']) {
      const res = await est(rawRequest('GET', path));
      expect(res.status).toBe(404);
      expectCanonical(res, 'Content-Type', 'Content-Length');
    }
  });

  it('413 from the framework body limit', async () => {
    const res = await est(rawRequest('POST', `${EST}/simpleenroll`, { Authorization: auth, 'Content-Type': 'application/pkcs10', 'Content-Length': 1_000_000 }, 'MIIB'));
    expect(res.status).toBe(413);
    expectCanonical(res, 'Content-Type', 'Content-Length');
  });

  it('a CRL answer', async () => {
    const port = Number(new URL(s.runtime.crlBaseUrl()!).port);
    for (const [path, status] of [['/crl/default.crl', 200], ['/crl/none.crl', 404]] as const) {
      const res = await rawExchange(port, rawRequest('GET', path));
      expect(res.status).toBe(status);
      expectCanonical(res, 'Content-Type');
    }
  });

  it('a Web RA JSON answer, a problem document and a static page', async () => {
    const web = (r: string) => rawExchange(s.adminPort, r, { tls: { ca: s.rootPem } });
    const json = await web(rawRequest('GET', '/api/openapi.json'));
    expect(json.status).toBe(200);
    expectCanonical(json, 'Content-Type', 'Content-Security-Policy', 'X-Content-Type-Options', 'Cache-Control');
    const denied = await web(rawRequest('GET', '/api/profiles'));
    expect(denied.status).toBe(401);
    expectCanonical(denied, 'Content-Type');
    const page = await web(rawRequest('GET', '/'));
    expect(page.status).toBe(200);
    expectCanonical(page, 'Content-Type', 'Content-Security-Policy', 'X-Frame-Options');
  });
});

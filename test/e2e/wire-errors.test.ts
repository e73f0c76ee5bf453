/**
 * TLS suites (no CBC-SHA1 on TLS 1.2, checked with openssl s_client), HSTS on the Web RA, and the
 * text/plain answers to requests node's HTTP parser refuses (bad chunking, Content-Length with
 * Transfer-Encoding, oversized headers), after which the server keeps serving.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { rawExchange, rawRequest } from '../helpers/raw-http.js';

let s: TestServer;
let caFile: string;

beforeAll(async () => {
  s = await startServer();
  caFile = join(tempDir('estuary-wire-'), 'root.pem');
  writeFileSync(caFile, s.rootPem);
});
afterAll(async () => {
  await s?.runtime.close();
});

/** openssl s_client over TLS 1.2 with one cipher list: the negotiated cipher, or undefined when refused. */
function negotiate(port: number, cipher: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-cipher', cipher, '-CAfile', caFile, '-servername', 'localhost'], { timeout: 15_000 }, (_err, stdout) => {
      const m = /Cipher is (\S+)/.exec(stdout);
      resolve(m && m[1] !== '(NONE)' ? m[1] : undefined);
    });
    child.stdin!.end('Q\n');
  });
}

describe('TLS 1.2 cipher suites', () => {
  it.each(['est', 'admin'] as const)('refuses CBC and SHA-1 suites, accepts ECDHE with AES-GCM and ChaCha20 (%s)', async (which) => {
    const port = which === 'est' ? s.port : s.adminPort;
    for (const cbc of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES128-SHA', 'ECDHE-ECDSA-AES128-SHA256', 'AES128-SHA', 'AES128-GCM-SHA256']) {
      expect(await negotiate(port, cbc), cbc).toBeUndefined();
    }
    expect(await negotiate(port, 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256')).toMatch(/^ECDHE-(ECDSA|RSA)-AES128-GCM-SHA256$/);
    expect(await negotiate(port, 'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305')).toMatch(/CHACHA20-POLY1305/);
  }, 60_000);
});

describe('HSTS', () => {
  it('the Web RA sends Strict-Transport-Security on API answers and pages', async () => {
    for (const path of ['/api/openapi.json', '/', '/api/profiles']) {
      const res = await rawExchange(s.adminPort, rawRequest('GET', path), { tls: { ca: s.rootPem } });
      expect(res.header('Strict-Transport-Security'), path).toBe('max-age=31536000');
    }
  });
});

describe('requests the HTTP parser refuses', () => {
  const cases: Array<[string, string, number, RegExp]> = [
    ['bad chunking', 'POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/pkcs10\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nMIIB\r\n0\r\n\r\n', 400, /malformed chunked request body/],
    ['Content-Length with Transfer-Encoding', 'POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/pkcs10\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nMIIB\r\n0\r\n\r\n', 400, /must not carry both Content-Length and Transfer-Encoding/],
    ['oversized headers', `GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(20_000)}\r\n\r\n`, 431, /header block is too large/],
    ['a malformed request line', 'GET\x01 / HTTP/1.1\r\nHost: x\r\n\r\n', 400, /malformed/],
  ];

  it.each(cases)('%s: a text/plain reason, then the server keeps serving (EST)', async (_name, request, status, reason) => {
    const res = await rawExchange(s.port, request, { tls: { ca: s.rootPem } });
    expect(res.status).toBe(status);
    expect(res.header('Content-Type')).toBe('text/plain; charset=utf-8');
    expect(res.header('Connection')).toBe('close');
    expect(res.body.toString()).toMatch(reason);
    const ok = await rawExchange(s.port, rawRequest('GET', '/.well-known/est/cacerts'), { tls: { ca: s.rootPem } });
    expect(ok.status).toBe(200);
  });

  it('the same on the Web RA and the CRL listener', async () => {
    const [request, status, reason] = [cases[1]![1], cases[1]![2], cases[1]![3]];
    const admin = await rawExchange(s.adminPort, request, { tls: { ca: s.rootPem } });
    expect([admin.status, admin.header('Content-Type')]).toEqual([status, 'text/plain; charset=utf-8']);
    expect(admin.body.toString()).toMatch(reason);
    const crl = await rawExchange(Number(new URL(s.runtime.crlBaseUrl()!).port), request);
    expect([crl.status, crl.header('Content-Type')]).toEqual([status, 'text/plain; charset=utf-8']);
    expect(crl.body.toString()).toMatch(reason);
  });
});

describe('refusals node would write without a body', () => {
  const noHost = 'GET /.well-known/est/cacerts HTTP/1.1\r\nConnection: close\r\n\r\n';
  const teapot = 'GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nConnection: close\r\n\r\n';

  it('an HTTP/1.1 request without Host is a 400 with the reason (RFC 9112 §3.2) on EST and CRL, a problem on the Web RA', async () => {
    const est = await rawExchange(s.port, noHost, { tls: { ca: s.rootPem } });
    expect([est.status, est.header('Content-Type')]).toEqual([400, 'text/plain; charset=utf-8']);
    expect(est.body.toString()).toMatch(/must carry a Host header/);
    const crl = await rawExchange(Number(new URL(s.runtime.crlBaseUrl()!).port), noHost.replace('/.well-known/est/cacerts', '/crl/default.crl'));
    expect([crl.status, crl.header('Content-Type')]).toEqual([400, 'text/plain; charset=utf-8']);
    const admin = await rawExchange(s.adminPort, noHost.replace('/.well-known/est/cacerts', '/api/openapi.json'), { tls: { ca: s.rootPem } });
    expect([admin.status, admin.header('Content-Type')]).toEqual([400, 'application/problem+json; charset=utf-8']);
    expect(admin.body.toString()).toMatch(/must carry a Host header/);
    // HTTP/1.0 has no Host requirement
    const old = await rawExchange(s.port, 'GET /.well-known/est/cacerts HTTP/1.0\r\n\r\n', { tls: { ca: s.rootPem } });
    expect(old.status).toBe(200);
  });

  it('an Expect other than 100-continue is a 417 with the reason (RFC 9110 §10.1.1) on every listener', async () => {
    for (const [port, tls, path] of [[s.port, true, '/.well-known/est/cacerts'], [s.adminPort, true, '/api/openapi.json'], [Number(new URL(s.runtime.crlBaseUrl()!).port), false, '/crl/default.crl']] as const) {
      const res = await rawExchange(port, teapot.replace('/.well-known/est/cacerts', path), tls ? { tls: { ca: s.rootPem } } : {});
      expect([res.status, res.header('Content-Type')], path).toEqual([417, 'text/plain; charset=utf-8']);
      expect(res.body.toString()).toMatch(/100-continue/);
    }
  });
});

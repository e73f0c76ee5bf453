/**
 * The bench's native load engine (native/load-driver/load-driver.cc through src/bench/native-load.ts) against a
 * real node:https server: every new connection is a full TLS handshake (the server's own count of
 * non-resumed `secureConnection` events equals the driver's connections), keep-alive stays within
 * `concurrency` connections, responses framed by Content-Length, chunked or close are read whole,
 * and HTTP errors, TLS verification failures and a closed port are counted as errors, not crashes.
 * And it is loaded: CI must not silently fall back to the node engine.
 *
 * runLoad blocks its thread, so the server runs in a worker thread of this process.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wallNow, type RunSpec } from '../../src/bench/driver.js';
import { buildRequests, fullHandshakes, nativeLoadError, nativeRunLoad, type NativeRunResult } from '../../src/bench/native-load.js';
import { opensslAsync, scratchDir } from '../unit/openssl-async.js';

const AUTHORIZATION = 'Basic ' + Buffer.from('bench:secret').toString('base64');
const BODIES = ['first body\n', 'second body\n', 'third body\n'].map((b) => Buffer.from(b));

// The server: counts handshakes (full or resumed) and connections, answers 200 with a body framed
// by Content-Length (any path), chunked (/chunked) or by closing (/until-close), 500 for /fail, and
// 400 for a POST whose Authorization, Content-Type or body is not what the test sent.
const SERVER = `
const { parentPort, workerData } = require('node:worker_threads');
const https = require('node:https');
const bodies = new Set(workerData.bodies);
let full = 0, resumed = 0, posted = [];
const server = https.createServer({ key: workerData.key, cert: workerData.cert, requestCert: true, rejectUnauthorized: false }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('latin1');
    if (req.method === 'POST') {
      posted.push(body);
      if (req.headers.authorization !== workerData.authorization || req.headers['content-type'] !== 'application/pkcs10' || !bodies.has(body)) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        return res.end('unexpected request');
      }
    }
    if (req.url === '/fail') {
      res.writeHead(500, { 'content-type': 'text/plain' });
      return res.end('  deliberate failure\\n');
    }
    if (req.url === '/chunked') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part one, ');
      return setImmediate(() => res.end('part two'));
    }
    if (req.url === '/until-close') {
      req.socket.end('HTTP/1.1 200 OK\\r\\ncontent-type: text/plain\\r\\n\\r\\nthe body runs until the connection closes');
      return;
    }
    const text = 'hello ' + req.url;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
});
server.on('secureConnection', (socket) => (socket.isSessionReused() ? resumed++ : full++));
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (m) => {
  if (m === 'stats') {
    parentPort.postMessage({ full, resumed, posted });
    full = resumed = 0;
    posted = [];
  } else if (m === 'close') {
    server.closeAllConnections();
    server.close(() => parentPort.close());
  }
});
`;

interface ServerStats {
  full: number;
  resumed: number;
  posted: string[];
}

let worker: Worker;
let port: number;
let certPem: string;
let otherCertPem: string;
let cleanup: () => Promise<void>;

const nextMessage = <T>(): Promise<T> => new Promise((resolve) => worker.once('message', resolve));
const serverStats = (): Promise<ServerStats> => {
  const answer = nextMessage<ServerStats>();
  worker.postMessage('stats');
  return answer;
};

async function selfSigned(dir: (f: string) => string, name: string): Promise<{ key: string; cert: string }> {
  await opensslAsync([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', dir(`${name}.key`), '-out', dir(`${name}.pem`),
    '-days', '1', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1',
  ]);
  return { key: await readFile(dir(`${name}.key`), 'utf8'), cert: await readFile(dir(`${name}.pem`), 'utf8') };
}

beforeAll(async () => {
  const tmp = await scratchDir('estuary-load-');
  cleanup = tmp.cleanup;
  const server = await selfSigned(tmp.path, 'load-server');
  certPem = server.cert;
  otherCertPem = (await selfSigned(tmp.path, 'other')).cert;
  worker = new Worker(SERVER, { eval: true, workerData: { ...server, authorization: AUTHORIZATION, bodies: BODIES.map((b) => b.toString('latin1')) } });
  port = (await nextMessage<{ port: number }>()).port;
});

afterAll(async () => {
  if (worker) {
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage('close');
    await exited;
  }
  await cleanup?.();
});

/** A run of about `ms` (the first 100 ms are warm-up, outside the window). */
function run(over: Partial<RunSpec>, ms = 600, bodies: Buffer[] = [], legacyEcDecode = true): NativeRunResult {
  const measureStart = wallNow() + 100;
  const spec: RunSpec = {
    engine: 'native', host: '127.0.0.1', port, method: 'GET', path: '/cacerts', keepAlive: false, concurrency: 4,
    measureStart, measureEnd: measureStart + ms - 100, ...over,
  };
  return nativeRunLoad(spec, bodies, { legacyEcDecode });
}

it('the native load addon is loaded (npm test builds it with npm run build:load)', () => {
  expect(nativeLoadError() ?? 'loaded').toBe('loaded');
});

describe('native load engine', () => {
  it('new connection per request: every request a full handshake, none resumed (counted by the server too)', async () => {
    const r = run({ keepAlive: false, concurrency: 4 });
    const server = await serverStats();
    expect(r.firstError).toBeUndefined();
    expect(r.errors).toBe(0);
    expect(r.ok).toBeGreaterThan(0);
    expect(r.resumed).toBe(0);
    expect(r.handshakes).toBe(r.completed);
    expect(server.resumed).toBe(0);
    expect(server.full).toBe(r.completed);
    expect(r.latencies.length).toBe(r.ok);
    expect(r.ok).toBeLessThan(r.completed); // the warm-up is outside the window
    for (const ms of r.latencies) expect(ms).toBeGreaterThan(0);
  });

  it('the same without the legacy EC key decoding; node:crypto EC keys work after either run', async () => {
    const r = run({ keepAlive: false, concurrency: 2 }, 300, [], false);
    const server = await serverStats();
    expect(r.firstError).toBeUndefined();
    expect(r.ok).toBeGreaterThan(0);
    expect(r.resumed).toBe(0);
    expect(server.resumed).toBe(0);
    expect(server.full).toBe(r.completed);
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const data = Buffer.from('after the run');
    expect(verify('sha256', data, keys.publicKey, sign('sha256', data, keys.privateKey))).toBe(true);
  });

  it('keep-alive: at most `concurrency` connections, many requests each', async () => {
    const r = run({ keepAlive: true, concurrency: 3 });
    const server = await serverStats();
    expect(r.firstError).toBeUndefined();
    expect(r.errors).toBe(0);
    expect(r.resumed).toBe(0);
    expect(r.handshakes).toBeGreaterThan(0);
    expect(r.handshakes).toBeLessThanOrEqual(3);
    expect(server.full).toBe(r.handshakes);
    expect(server.resumed).toBe(0);
    expect(r.completed).toBeGreaterThan(10 * r.handshakes);
  });

  it('POSTs the pooled bodies round robin from the offset, with Authorization, Content-Type and Content-Length', async () => {
    const spec = { method: 'POST', path: '/simpleenroll', authorization: AUTHORIZATION, contentType: 'application/pkcs10', bodyOffset: 1 } as const;
    const r = run({ ...spec, concurrency: 1, keepAlive: true }, 300, BODIES);
    const server = await serverStats();
    expect(r.firstError).toBeUndefined();
    expect(r.ok).toBeGreaterThan(0);
    expect(server.posted.length).toBe(r.completed);
    expect(server.posted.slice(0, 4)).toEqual([1, 2, 0, 1].map((i) => BODIES[i]!.toString('latin1')));
    const [first] = buildRequests({ ...spec, engine: 'native', host: '127.0.0.1', port: 1, keepAlive: false, concurrency: 1, measureStart: 0, measureEnd: 0 }, BODIES);
    expect(first!.toString('latin1')).toBe(
      `POST /simpleenroll HTTP/1.1\r\nHost: 127.0.0.1:1\r\nAuthorization: ${AUTHORIZATION}\r\nContent-Type: application/pkcs10\r\n` +
        `Content-Length: ${BODIES[0]!.length}\r\nConnection: close\r\n\r\n${BODIES[0]!.toString('latin1')}`,
    );
  });

  it.each([
    ['chunked', '/chunked', true],
    ['chunked', '/chunked', false],
    ['read until close', '/until-close', true],
  ])('a %s response (%s, keep-alive %s) is read whole', async (_what, path, keepAlive) => {
    const r = run({ path, keepAlive, concurrency: 2 }, 300);
    const server = await serverStats();
    expect(r.firstError).toBeUndefined();
    expect(r.ok).toBeGreaterThan(0);
    expect(server.resumed).toBe(0);
    expect(server.full).toBe(r.handshakes);
    // the server closes after every /until-close answer: a new connection each time, keep-alive or not
    if (path === '/until-close' || !keepAlive) expect(r.handshakes).toBe(r.completed);
    else expect(r.handshakes).toBeLessThanOrEqual(2);
  });

  it.each([true, false])('HTTP 500 answers are errors with their body (keep-alive %s)', async (keepAlive) => {
    const r = run({ path: '/fail', keepAlive }, 300);
    await serverStats();
    expect(r.ok).toBe(0);
    expect(r.errors).toBe(r.completed);
    expect(r.errors).toBeGreaterThan(0);
    expect(r.errorsInWindow).toBeGreaterThan(0);
    expect(r.errorsInWindow).toBeLessThan(r.errors);
    expect(r.firstError).toBe('HTTP 500: deliberate failure');
    expect(r.latencies.length).toBe(0);
  });

  it('with caPem the server chain and address are verified: the right CA passes, another fails the handshake', async () => {
    const good = run({ ca: certPem }, 300);
    expect(good.firstError).toBeUndefined();
    expect(good.ok).toBeGreaterThan(0);
    const bad = run({ ca: otherCertPem }, 300);
    const server = await serverStats();
    expect(bad.ok).toBe(0);
    expect(bad.errors).toBeGreaterThan(0);
    expect(bad.handshakes).toBe(0);
    expect(bad.firstError).toMatch(/^TLS error: .*certificate verify failed/);
    expect(server.full).toBe(good.handshakes);
  });

  it('a closed port gives transport errors, not a crash', async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const r = run({ port: closed }, 300);
    expect(r.ok).toBe(0);
    expect(r.handshakes).toBe(0);
    expect(r.errors).toBeGreaterThan(0);
    expect(r.errors).toBe(r.completed);
    expect(r.firstError).toMatch(/^transport error: ECONNREFUSED/);
  });

  it('refuses a bad spec with a TypeError', () => {
    expect(() => run({ host: 'localhost' })).toThrow(/spec.host: expected an IPv4 address/);
    expect(() => run({ concurrency: 0 })).toThrow(TypeError);
    expect(() => run({ ca: 'not a certificate' })).toThrow(/caPem holds no certificate/);
  });
});

describe('fullHandshakes (the bench refuses resumed sessions)', () => {
  const result = (handshakes?: number, resumed?: number) => ({ ok: 1, errors: 0, errorsInWindow: 0, completed: 1, latencies: new Float64Array(1), handshakes, resumed });
  it('sums the drivers, is undefined for the node engine and throws on any resumed handshake', () => {
    expect(fullHandshakes('x', [result(10, 0), result(5, 0)])).toEqual({ handshakes: 15, resumed: 0 });
    expect(fullHandshakes('x', [result(), result()])).toBeUndefined();
    expect(() => fullHandshakes('cacerts-newconn', [result(10, 0), result(5, 1)])).toThrow(/cacerts-newconn: 1 of 15 TLS handshakes resumed a session/);
  });
});

/**
 * Listener resource bounds (estuary.yaml `limits`), with real sockets and short configured
 * bounds: an unfinished body, an unfinished TLS handshake, the per-client connection cap, and
 * the drain deadline of a stopping server with a slow client attached.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN } from '../helpers/cli.js';
import { makeHome, startServer, type TestHome, type TestServer } from '../helpers/home.js';
import { rawExchange } from '../helpers/raw-http.js';

function setLimits(home: TestHome, limits: Record<string, number>): void {
  const file = join(home.home, 'estuary.yaml');
  let text = readFileSync(file, 'utf8');
  for (const [k, v] of Object.entries(limits)) text = text.replace(new RegExp(`(\\n  ${k}: )\\d+`), `$1${v}`);
  writeFileSync(file, text);
}

let s: TestServer;

beforeAll(async () => {
  const home = await makeHome();
  setLimits(home, { requestTimeoutSeconds: 1, handshakeTimeoutSeconds: 1, maxConnectionsPerClient: 3, drainSeconds: 1 });
  s = await startServer(home);
});
afterAll(async () => {
  await s?.runtime.close();
});

async function tlsOpen(port: number): Promise<TLSSocket> {
  const socket = tlsConnect({ host: '127.0.0.1', port, ca: s.rootPem, servername: 'localhost', checkServerIdentity: () => undefined });
  await once(socket, 'secureConnect');
  return socket;
}

describe('request bound', () => {
  it('an unfinished chunked body is answered 408 with a text reason and the connection closed', async () => {
    const head = ['POST /.well-known/est/simpleenroll HTTP/1.1', 'Host: localhost', 'Content-Type: application/pkcs10', 'Transfer-Encoding: chunked'].join('\r\n');
    const res = await rawExchange(s.port, `${head}\r\n\r\n4\r\nMIIB\r\n`, { tls: { ca: s.rootPem } });
    expect(res.status).toBe(408);
    expect(res.header('Content-Type')).toBe('text/plain; charset=utf-8');
    expect(res.body.toString()).toMatch(/the request did not arrive within 1 seconds/);
  });
});

describe('handshake bound', () => {
  it.each(['est', 'admin'] as const)('a TCP connection that never starts TLS is closed (%s)', async (which) => {
    const socket = netConnect({ host: '127.0.0.1', port: which === 'est' ? s.port : s.adminPort });
    await once(socket, 'connect');
    await once(socket, 'close');
    expect(socket.destroyed).toBe(true);
  });
});

describe('per-client connection cap', () => {
  it('closes connections over the cap at once, logs once, and serves again when connections end', async () => {
    const held = await Promise.all([tlsOpen(s.port), tlsOpen(s.port), tlsOpen(s.port)]);
    const refused = await Promise.all([1, 2, 3].map(async () => {
      const socket = netConnect({ host: '127.0.0.1', port: s.port });
      await once(socket, 'close');
      return socket.bytesRead;
    }));
    expect(refused).toEqual([0, 0, 0]);
    for (const socket of held) socket.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const res = await rawExchange(s.port, 'GET /.well-known/est/cacerts HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', { tls: { ca: s.rootPem } });
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 200)); // the logger writes asynchronously
    const lines = readFileSync(s.logFile, 'utf8').split('\n').filter((l) => l.includes('per-client connection cap'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ listener: 'est', max: 3, addresses: ['127.0.0.1'] });
  });

  it('holds on the Web RA and the CRL/OCSP listener too', async () => {
    const crlPort = Number(new URL(s.runtime.crlBaseUrl()!).port);
    for (const [port, tls] of [[s.adminPort, true], [crlPort, false]] as const) {
      const held = await Promise.all([1, 2, 3].map(async () => {
        const socket = tls ? await tlsOpen(port) : netConnect({ host: '127.0.0.1', port });
        if (!tls) await once(socket, 'connect');
        return socket;
      }));
      const refused = netConnect({ host: '127.0.0.1', port });
      await once(refused, 'close');
      expect(refused.bytesRead, String(port)).toBe(0);
      for (const socket of held) socket.destroy();
    }
  });
});

describe('drain deadline', () => {
  it('close() finishes with a stalled client attached once the deadline passes', async () => {
    const home = await makeHome();
    // a long request bound, so only the drain deadline can end the stalled request
    setLimits(home, { requestTimeoutSeconds: 600, drainSeconds: 1 });
    const server = await startServer(home);
    const socket = tlsConnect({ host: '127.0.0.1', port: server.port, ca: server.rootPem, servername: 'localhost', checkServerIdentity: () => undefined });
    await once(socket, 'secureConnect');
    socket.write('POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/pkcs10\r\nContent-Length: 1000\r\n\r\nMIIB');
    await new Promise((r) => setTimeout(r, 200));
    const closed = once(socket, 'close');
    await server.runtime.close();
    await closed;
    expect(socket.destroyed).toBe(true);
  }, 20_000);

  it('`estuary serve` exits after SIGTERM although a client never finishes its request', async () => {
    const home = await makeHome();
    setLimits(home, { requestTimeoutSeconds: 600, drainSeconds: 1 });
    const child = spawn('node', [MAIN, 'serve', '--home', home.home], {
      env: { ...process.env, ESTUARY_EST_LISTEN: '127.0.0.1:0', ESTUARY_CRL_LISTEN: 'off', ESTUARY_ADMIN_LISTEN: 'off', ESTUARY_OPS_LISTEN: 'off' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 300 && !/EST service listening on/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    const port = Number(/listening on https:\/\/127\.0\.0\.1:(\d+)\//.exec(out)?.[1]);
    expect(port, out).toBeGreaterThan(0);
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: home.rootPem, servername: 'localhost', checkServerIdentity: () => undefined });
    await once(socket, 'secureConnect');
    socket.on('error', () => undefined);
    socket.write('POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/pkcs10\r\nContent-Length: 1000\r\n\r\nMIIB');
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    socket.destroy();
  }, 30_000);
});

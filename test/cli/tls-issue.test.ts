/**
 * `estuary init --dns/--ip/--ca-name/--subject` and `estuary tls issue`: the server certificate for
 * the names clients use, from a built-in CA; a running `estuary serve` takes it up on SIGHUP while
 * an open keep-alive connection goes on with the old one; a key that does not match is refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/bench/harness.js';
import { estuary, MAIN } from '../helpers/cli.js';
import { tempDir } from '../helpers/home.js';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

let home: string;
let port: number;
let server: ChildProcess;
let out = '';

async function waitFor(text: RegExp, what: string): Promise<void> {
  for (let i = 0; i < 240 && !text.test(out); i++) await new Promise((r) => setTimeout(r, 250));
  if (!text.test(out)) throw new Error(`no ${what} in the server output:\n${out}`);
}

beforeAll(async () => {
  home = join(tempDir(), 'home');
  const init = await estuary(['init', '--home', home, '--dns', 'est.example.test', '--ip', '127.0.0.1', '--ca-name', 'Example', '--subject', 'O=Example Corp, C=DE', '--json']);
  expect(init.code, init.stderr).toBe(0);
  port = await freePort();
  server = spawn(process.execPath, [MAIN, 'serve', '--home', home], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ESTUARY_EST_LISTEN: `127.0.0.1:${port}`, ESTUARY_CRL_LISTEN: 'off', ESTUARY_ADMIN_LISTEN: 'off', ESTUARY_OPS_LISTEN: 'off' },
  });
  children.push(server);
  server.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  server.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  await waitFor(/EST service listening on/, 'listening line');
}, 120_000);

/** GET /cacerts on the agent's connection: the server certificate it presented and the socket. */
function cacerts(agent: Agent): Promise<{ fingerprint: string; socket: TLSSocket; status: number }> {
  const ca = readFileSync(join(home, 'ca', 'root.pem'));
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/.well-known/est/cacerts', ca, agent, servername: 'est.example.test' }, (res) => {
      // the socket goes back to the agent once the answer has ended
      const socket = res.socket as TLSSocket;
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () => resolve({ fingerprint, socket, status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('estuary init with names', () => {
  it('names the CAs and the server certificate as asked', () => {
    const root = new X509Certificate(readFileSync(join(home, 'ca', 'root.pem')));
    expect(root.subject).toBe('CN=Example Root CA\nO=Example Corp\nC=DE');
    const tls = new X509Certificate(readFileSync(join(home, 'tls', 'server.pem')));
    expect(tls.subjectAltName).toBe('DNS:est.example.test, IP Address:127.0.0.1');
    expect(new X509Certificate(readFileSync(join(home, 'ca', 'issuing.pem'))).subject).toBe('CN=Example Issuing CA\nO=Example Corp\nC=DE');
  });

  it('refuses bad names with one line', async () => {
    const dir = tempDir();
    const bad = await estuary(['init', '--home', join(dir, 'h'), '--dns', 'not a name']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--dns: "not a name" is not a DNS name/);
    const ip = await estuary(['init', '--home', join(dir, 'h2'), '--ip', '300.1.1.1']);
    expect(ip.stderr).toMatch(/--ip: "300\.1\.1\.1" is not an IP address/);
  });
});

describe('estuary tls issue and SIGHUP', () => {
  it('issues a new server certificate; SIGHUP serves it to new connections while an open one goes on', async () => {
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const first = await cacerts(keepAlive);
    expect(first.status).toBe(200);
    const oldFingerprint = first.fingerprint;

    const run = await estuary(['tls', 'issue', '--dns', 'est.example.test,est2.example.test', '--ip', '127.0.0.1', '--home', home]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/SIGHUP/);
    const issued = new X509Certificate(readFileSync(join(home, 'tls', 'server.pem')));
    expect(issued.subjectAltName).toBe('DNS:est.example.test, DNS:est2.example.test, IP Address:127.0.0.1');

    server.kill('SIGHUP');
    await waitFor(/server certificate reloaded/, 'reload line');
    // the open connection goes on, with the certificate it was made with
    const same = await cacerts(keepAlive);
    expect(same.socket).toBe(first.socket);
    expect(same.status).toBe(200);
    expect(same.fingerprint).toBe(oldFingerprint);
    // a new connection gets the new certificate
    const fresh = await cacerts(new Agent({ keepAlive: false }));
    expect(fresh.fingerprint).toBe(issued.fingerprint256);
    keepAlive.destroy();
  });

  it('a key that is not the certificate\'s is refused on SIGHUP and the server keeps its certificate', async () => {
    const before = await cacerts(new Agent({ keepAlive: false }));
    const keyFile = join(home, 'tls', 'server-key.pem');
    const goodKey = readFileSync(keyFile);
    writeFileSync(keyFile, readFileSync(join(home, 'ca', 'issuing-key.pem')), { mode: 0o600 });
    server.kill('SIGHUP');
    await waitFor(/server certificate not reloaded/, 'refusal line');
    expect(out).toMatch(/is not the key of/);
    const after = await cacerts(new Agent({ keepAlive: false }));
    expect(after.fingerprint).toBe(before.fingerprint);
    writeFileSync(keyFile, goodKey, { mode: 0o600 });
  });

  it('refuses a request without names, and a CA that is not a built-in one', async () => {
    const none = await estuary(['tls', 'issue', '--home', home]);
    expect(none.stderr).toMatch(/give at least one --dns or --ip/);
    const noCa = await estuary(['tls', 'issue', '--dns', 'x.example', '--ca', 'nosuch', '--home', home]);
    expect(noCa.stderr).toMatch(/--ca: cas\.nosuch: expected a built-in CA/);
  });
});

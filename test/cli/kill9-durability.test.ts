/**
 * Durability across kill -9: the built `estuary serve` in a child process under concurrent
 * simpleenroll load is killed with SIGKILL mid-load, then started again on the same home. Every
 * certificate a client received a 200 for must be in the store (by serial), and the server must
 * serve again. DURABILITY_SECONDS and DURABILITY_CONCURRENCY make a longer run by hand.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:https';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCsr, csrBody, freePort } from '../../src/bench/harness.js';
import { withStore } from '../../src/cli/context.js';
import { decodeBase64Body } from '../../src/pki/base64.js';
import { certificateFields } from '../../src/pki/certificate.js';
import { parseCertsOnly } from '../../src/pki/signed-data.js';
import { MAIN } from '../helpers/cli.js';
import { makeHome, type TestHome } from '../helpers/home.js';

const SECONDS = Number(process.env.DURABILITY_SECONDS ?? 2);
const CONCURRENCY = Number(process.env.DURABILITY_CONCURRENCY ?? 8);

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** `estuary serve` on the home, resolved once it says it listens. */
async function serve(home: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--home', home], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ESTUARY_EST_LISTEN: `127.0.0.1:${port}`, ESTUARY_CRL_LISTEN: 'off', ESTUARY_ADMIN_LISTEN: 'off', ESTUARY_OPS_LISTEN: 'off' },
  });
  children.push(child);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not listen within 60 s:\n${out}`)), 60_000);
    const seen = (c: Buffer): void => {
      out += c.toString();
      if (out.includes('EST service listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', seen);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code ?? signal}) before listening:\n${out}`));
    });
  });
  return child;
}

/** One simpleenroll on its own TLS connection: the issued serial on 200, else undefined. */
function enroll(port: number, ca: string, authorization: string, body: Buffer): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/.well-known/est/simpleenroll', method: 'POST', ca, agent: false, headers: { authorization, 'content-type': 'application/pkcs10', 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) return resolve(undefined);
          try {
            const [leaf] = parseCertsOnly(decodeBase64Body(Buffer.concat(chunks)));
            resolve(leaf ? certificateFields(leaf).serialHex : undefined);
          } catch {
            resolve(undefined); // cut off by the kill
          }
        });
        res.on('error', () => resolve(undefined));
        res.on('aborted', () => resolve(undefined));
      },
    );
    req.on('error', () => resolve(undefined));
    req.end(body);
  });
}

describe('kill -9 under enroll load', () => {
  it('keeps every certificate a client got a 200 for, and serves again after a restart', async () => {
    const home: TestHome = await makeHome();
    const authorization = `Basic ${Buffer.from(`${home.summary.estAccount.email}:${home.summary.estAccount.password}`).toString('base64')}`;
    const pool = Array.from({ length: 32 }, (_, i) => csrBody(buildCsr(`durable-${i}`)));
    const port = await freePort();
    const server = await serve(home.home, port);

    const answered: string[] = [];
    let killed = false;
    let sent = 0;
    const worker = async (w: number): Promise<void> => {
      for (let i = w; !killed; i += CONCURRENCY) {
        sent++;
        const serial = await enroll(port, home.rootPem, authorization, pool[i % pool.length]!);
        if (serial) answered.push(serial);
      }
    };
    const load = Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
    // Kill once the load has been running for SECONDS and some certificates were answered.
    const started = Date.now();
    while (Date.now() - started < SECONDS * 1000 || answered.length < 5) {
      await new Promise((r) => setTimeout(r, 50));
      if (Date.now() - started > 60_000) break;
    }
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGKILL');
    killed = true;
    await exited;
    await load;

    const again = await serve(home.home, port);
    const after = await enroll(port, home.rootPem, authorization, pool[0]!);
    const missing = await withStore({ home: home.home }, async (store) => {
      const lost: string[] = [];
      for (const serial of answered) if (!(await store.getCertificate(serial))) lost.push(serial);
      return lost;
    });
    console.log(`kill -9 durability: ${sent} requests sent by ${CONCURRENCY} clients over ${((Date.now() - started) / 1000).toFixed(1)} s; ${answered.length} certificates answered 200 before the kill, ${answered.length - missing.length} found after the restart, ${missing.length} lost`);
    again.kill('SIGTERM');
    await new Promise((resolve) => again.once('exit', resolve));

    expect(answered.length).toBeGreaterThanOrEqual(5);
    expect(missing).toEqual([]);
    expect(after, 'the restarted server issues again').toBeDefined();
    expect(new Set(answered).size).toBe(answered.length);
  }, 180_000);
});

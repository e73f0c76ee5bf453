#!/usr/bin/env node
/**
 * `node dist/bench/auth-flood.js`: what a flood of wrong HTTP Basic passwords costs real clients.
 * The server runs as a child process (not pinned); 16 keep-alive connections, each from its own
 * loopback address (127.0.0.2…), send simpleenroll with a wrong password in a closed loop, while
 * one correct, uncached sign-in (a fresh account each time, new TLS connection from 127.0.0.1)
 * is timed every second. Reports the server's CPU use, the attack's answers by status and the
 * sign-in latencies, beside a quiet baseline of the same sign-ins.
 * Options: --seconds N (default 15), --connections N (default 16), --no-throttle (lift the
 * failure limits to measure the password-hash gate alone), --main PATH (another build's
 * dist/cli/main.js, e.g. an older commit's, for a before/after comparison).
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { csrPool, cpuSeconds, f, freePort, initHome, median, startServer } from './harness.js';

const { values } = parseArgs({
  args: isMainThread ? process.argv.slice(2) : [],
  options: {
    seconds: { type: 'string', default: '15' },
    connections: { type: 'string', default: '16' },
    'no-throttle': { type: 'boolean', default: false },
    main: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const here = dirname(fileURLToPath(import.meta.url));
const mainJs = resolve(values.main ?? join(here, '..', 'cli', 'main.js'));

interface Answer {
  status: number;
  ms: number;
}

function post(url: string, body: Buffer, auth: string, ca: string, agent: Agent | false, localAddress?: string): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((res, rej) => {
    const req = request(url, {
      method: 'POST', ca, agent, ...(localAddress ? { localAddress } : {}),
      headers: { 'content-type': 'application/pkcs10', 'content-length': body.length, authorization: auth },
    }, (r) => {
      r.resume();
      r.on('end', () => res({ status: r.statusCode ?? 0, ms: performance.now() - t0 }));
      r.on('error', rej);
    });
    req.on('error', rej);
    req.end(body);
  });
}

const basic = (user: string, password: string): string => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'estuary-auth-flood-'));
  const home = join(dir, 'home');
  const init = initHome(mainJs, home);
  if (values['no-throttle']) {
    const file = join(home, 'estuary.yaml');
    const yaml = readFileSync(file, 'utf8');
    if (!yaml.includes('authThrottle:')) throw new Error('--no-throttle: this build has no est.authThrottle setting');
    writeFileSync(file, yaml.replace(/maxFailuresPerAccount: \d+/, 'maxFailuresPerAccount: 1000000').replace(/maxFailuresPerAddress: \d+/, 'maxFailuresPerAddress: 1000000'));
  }
  const samples = 2 * seconds + 4;
  const accounts: Array<{ email: string; password: string }> = [];
  for (let i = 0; i < samples; i++) {
    const r = spawnSync(process.execPath, [mainJs, 'account', 'add', `good-${i}@bench.local`, '--json', '--home', home], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`account add failed: ${r.stderr}`);
    accounts.push(JSON.parse(r.stdout) as { email: string; password: string });
  }
  const port = await freePort();
  const server = await startServer({ mainJs, home, port, core: undefined });
  const url = `https://127.0.0.1:${port}/.well-known/est/simpleenroll`;
  const ca = readFileSync(join(home, 'ca', 'root.pem'), 'utf8');
  const body = csrPool(1)[0]!;
  let next = 0;
  const signIn = async (): Promise<number> => {
    const a = accounts[next++]!;
    const r = await post(url, body, basic(a.email, a.password), ca, false);
    if (r.status !== 200) throw new Error(`a correct sign-in got ${r.status}`);
    return r.ms;
  };
  try {
    await signIn(); // warm-up
    const quiet: number[] = [];
    for (let i = 0; i < Math.min(5, seconds); i++) {
      quiet.push(await signIn());
      await sleep(300);
    }
    // The attackers run in a worker thread: their event loop does not delay the timed sign-ins.
    const attack = new Worker(new URL(import.meta.url), { workerData: { url, ca, body, email: init.estAccount.email, connections } });
    const statuses = new Promise<Map<number, number>>((res) => attack.once('message', (m: Map<number, number>) => res(m)));
    // Every connection's first attempt is unproven but not yet suspect: let that burst pass.
    await sleep(3000);
    const cpu0 = cpuSeconds(server.pid) ?? NaN;
    const t0 = performance.now();
    const loaded: number[] = [];
    while (performance.now() - t0 < seconds * 1000) {
      loaded.push(await signIn());
      await sleep(Math.max(0, 1000 - loaded.at(-1)!));
    }
    const cpu = ((cpuSeconds(server.pid) ?? NaN) - cpu0) / ((performance.now() - t0) / 1000);
    attack.postMessage('stop');
    const counts = await statuses;
    await attack.terminate();
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    console.log(`server: ${mainJs}${values['no-throttle'] ? ' (failure limits lifted)' : ''}`);
    console.log(`quiet: correct uncached sign-in median ${f(median(quiet) / 1000, 3)} s`);
    console.log(`under ${connections} connections of wrong passwords for ${seconds} s: server CPU ${f(cpu * 100, 0)}%, ` +
      `correct uncached sign-in median ${f(median(loaded) / 1000, 3)} s, max ${f(Math.max(...loaded) / 1000, 3)} s (${loaded.length} sign-ins: ${loaded.map((ms) => f(ms / 1000, 2)).join(" ")})`);
    console.log(`attack answers: ${total} (${f(total / seconds, 0)}/s) ${[...counts].map(([s, n]) => `${s}×${n}`).join(' ')}`);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The attack: closed loops of wrong passwords, each connection from its own loopback address. */
async function attacker(o: { url: string; ca: string; body: Uint8Array; email: string; connections: number }): Promise<void> {
  let running = true;
  parentPort!.once('message', () => (running = false));
  const statuses = new Map<number, number>();
  const body = Buffer.from(o.body);
  await Promise.all(Array.from({ length: o.connections }, async (_, i) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const auth = basic(o.email, `wrong-password-${i}`);
    while (running) {
      const r = await post(o.url, body, auth, o.ca, agent, `127.0.0.${2 + i}`).catch(() => ({ status: 0, ms: 0 }));
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    agent.destroy();
  }));
  parentPort!.postMessage(statuses);
}

if (!isMainThread) {
  void attacker(workerData as Parameters<typeof attacker>[0]);
} else main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

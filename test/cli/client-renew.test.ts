/**
 * The renew agent end to end: `estuary client renew` (dist/cli/main.js in child processes) against
 * Estuary's own server (in this process) over real TLS, on short-lived profiles made as an operator
 * would (`estuary profile add short --validity 5m`, `tiny --validity 2m`).
 *
 * Estuary's local CA backdates notBefore by a tenth of a short validity (at most 300 s): a 5-minute
 * certificate lives 330 s on paper, a 2-minute one 132 s, and the entries renew at a percentage of
 * that life ("11%": some seconds after issuance), as they would at 66% in production.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { createLocalCa } from '../../src/ca/local-ca.js';
import { generateKey, privateKeyPem } from '../../src/client/keys.js';
import { toPem } from '../../src/pki/base64.js';
import { encodeGeneralNames, encodeName } from '../../src/pki/names.js';
import { OID } from '../../src/pki/oids.js';
import { estuary, estuaryClient as cli, MAIN } from '../helpers/cli.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { issueTemplate } from '../helpers/issue-template.js';

interface LogLine {
  level: number;
  time: string;
  event?: string;
  entry?: string;
  [k: string]: unknown;
}

/** The agent's structured lines on stderr (pino JSON); anything else is a plain summary line. */
function logLines(stderr: string): LogLine[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
}

interface Agent {
  child: ChildProcessWithoutNullStreams;
  stderr(): string;
  lines(): LogLine[];
  /** Resolves once pred holds for the log lines so far; rejects after timeoutMs. */
  waitFor(pred: (lines: LogLine[]) => boolean, timeoutMs: number, what: string): Promise<void>;
  exited: Promise<{ code: number | null; signal: string | null }>;
}

function startAgent(args: string[]): Agent {
  const child = spawn('node', [MAIN, 'client', 'renew', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  const waiters = new Set<() => void>();
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
    for (const w of waiters) w();
  });
  child.stdout.resume();
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const agent: Agent = {
    child,
    stderr: () => err,
    lines: () => logLines(err),
    waitFor: (pred, timeoutMs, what) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          let ok = false;
          try {
            ok = pred(logLines(err));
          } catch {
            ok = false;
          }
          if (ok) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; the agent wrote:\n${err}`));
        }, timeoutMs);
        waiters.add(check);
        void exited.then(() => {
          if (waiters.has(check)) {
            check();
            if (waiters.has(check)) {
              waiters.delete(check);
              clearTimeout(timer);
              reject(new Error(`the agent exited before ${what}; it wrote:\n${err}`));
            }
          }
        });
        check();
      }),
    exited,
  };
  return agent;
}

let s: TestServer;
let server: string;
let root: string;
let caFile: string;
let passwordFile: string;
let user: string;
const agents: Agent[] = [];

const SHORT_SECONDS = 300;
const TINY_SECONDS = 120;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const serialOf = (pem: string | Buffer): string => new X509Certificate(pem).serialNumber.toLowerCase().replace(/^0+/, '');
const spkiOf = (pem: string | Buffer): Buffer => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });

/** A directory for one test, with the trust anchors and the EST password in it. */
function workDir(name: string): string {
  const d = join(root, name);
  mkdirSync(d);
  writeFileSync(join(d, 'ca.pem'), s.rootPem);
  writeFileSync(join(d, 'est.pass'), s.summary.estAccount.password + '\n', { mode: 0o600 });
  return d;
}

/** `estuary client enroll` of CN=<cn> (DNS <cn>) on a label, into <dir>/<name>.pem and .key. */
async function enroll(dir: string, name: string, label: string, cn: string, ...more: string[]): Promise<string> {
  const r = await cli(['enroll', '--server', server, '--ca', caFile, '--user', user, '--password-file', passwordFile, '--label', label,
    '--cn', cn, '--dns', cn, '--out-key', join(dir, `${name}.key`), '--out-cert', join(dir, `${name}.pem`), '--out-chain', join(dir, `${name}-chain.pem`), ...more]);
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(join(dir, `${name}.pem`), 'utf8');
}

interface EntryOpts {
  name?: string;
  serverUrl?: string;
  label?: string;
  renewAt?: string;
  extra?: string;
}

/** A renew configuration with one entry (cert <name>.pem, key <name>.key) in dir; returns its path. */
function writeConfig(dir: string, o: EntryOpts = {}, retry = ''): string {
  const name = o.name ?? 'web';
  const text = [
    retry,
    'entries:',
    `  - name: ${name}`,
    `    server: ${o.serverUrl ?? server}`,
    `    label: ${o.label ?? 'short'}`,
    '    trust: { ca: ca.pem }',
    `    cert: ${name}.pem`,
    `    key: ${name}.key`,
    `    chain: ${name}-chain.pem`,
    `    renewAt: "${o.renewAt ?? '11%'}"`,
    ...(o.extra ? o.extra.split('\n').map((l) => `    ${l}`) : []),
    '',
  ].join('\n');
  const file = join(dir, 'renew.yaml');
  writeFileSync(file, text);
  return file;
}

beforeAll(async () => {
  s = await startServer();
  server = `https://127.0.0.1:${s.port}`;
  root = tempDir('estuary-client-renew-');
  caFile = join(root, 'ca.pem');
  writeFileSync(caFile, s.rootPem);
  user = s.summary.estAccount.email;
  passwordFile = join(root, 'est.pass');
  writeFileSync(passwordFile, s.summary.estAccount.password + '\n', { mode: 0o600 });
  // real short-lived profiles, made with the CLI as an operator would
  for (const args of [['short', '--validity', '5m'], ['tiny', '--validity', '2m'], ['windowed', '--validity', '2m', '--renewal-window', '85']]) {
    const r = await estuary(['profile', 'add', ...args, '--home', s.home]);
    expect(r.code, r.stderr).toBe(0);
  }
});

afterAll(async () => {
  for (const a of agents) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
  await s.runtime.close();
});

describe('one-shot', () => {
  it('the profiles keep their validity exactly (5m, 2m), and the CA issues for it: notAfter 5 minutes after issuance, notBefore backdated by a tenth', async () => {
    expect((await s.runtime.store.getProfile('short'))!.validitySeconds).toBe(SHORT_SECONDS);
    expect((await s.runtime.store.getProfile('tiny'))!.validitySeconds).toBe(TINY_SECONDS);
    const shown = await estuary(['profile', 'show', 'tiny', '--json', '--home', s.home]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ validity: '2m' });
    const before = Math.floor(Date.now() / 1000) * 1000;
    const x = new X509Certificate(await enroll(workDir('lifetime'), 'web', 'short', 'life.renew.example'));
    const after = Date.now();
    const notBefore = new Date(x.validFrom).getTime();
    const notAfter = new Date(x.validTo).getTime();
    expect(notAfter).toBeGreaterThanOrEqual(before + SHORT_SECONDS * 1000);
    expect(notAfter).toBeLessThanOrEqual(after + SHORT_SECONDS * 1000);
    expect(notAfter - notBefore).toBe(SHORT_SECONDS * 1100);
  });

  it('leaves a certificate alone before its renewal point, then renews it once due: same names, same key, files replaced atomically, linked in the store, postRenew run', async () => {
    const dir = workDir('oneshot');
    const first = await enroll(dir, 'web', 'short', 'web.renew.example');
    const x = new X509Certificate(first);
    // 5 minutes of validity after issuance (notBefore is backdated by the CA)
    expect(new Date(x.validTo).getTime() - Date.now()).toBeLessThanOrEqual(SHORT_SECONDS * 1000);
    const config = writeConfig(dir, {
      extra: 'postRenew: echo "$ESTUARY_ENTRY|$ESTUARY_CERT|$ESTUARY_KEY|$ESTUARY_CHAIN" > marker; cp "$ESTUARY_CERT" seen.pem',
    });
    const certFile = join(dir, 'web.pem');
    const inode = statSync(certFile).ino;

    const early = await cli(['renew', '--config', config, '--json']);
    expect(early.code, early.stderr).toBe(0);
    const notDue = JSON.parse(early.stdout);
    expect(notDue.failed).toBe(false);
    expect(notDue.entries).toEqual([expect.objectContaining({ name: 'web', status: 'skipped-not-due' })]);
    // 11% of the certificate's life on paper (330 s): some seconds after issuance, not at once
    const notBefore = new Date(x.validFrom).getTime();
    expect(new Date(notDue.entries[0].renewAt).getTime()).toBe(notBefore + Math.round((new Date(x.validTo).getTime() - notBefore) * 0.11));
    expect(new Date(notDue.entries[0].renewAt).getTime()).toBeGreaterThan(Date.now());
    expect(readFileSync(certFile, 'utf8')).toBe(first);
    expect(statSync(certFile).ino).toBe(inode);
    expect(readdirSync(dir)).not.toContain('marker');
    expect(logLines(early.stderr).map((l) => l.event)).toContain('not-due');

    await sleep(Math.max(0, new Date(notDue.entries[0].renewAt).getTime() - Date.now() + 200));
    const due = await cli(['renew', '--config', config, '--json']);
    expect(due.code, due.stderr).toBe(0);
    const summary = JSON.parse(due.stdout);
    expect(summary.failed).toBe(false);
    const outcome = summary.entries[0];
    expect(outcome).toMatchObject({ name: 'web', status: 'renewed', rekeyed: false, postRenew: { ok: true, exitCode: 0 } });

    const renewed = readFileSync(certFile, 'utf8');
    const y = new X509Certificate(renewed);
    expect(y.serialNumber).not.toBe(x.serialNumber);
    expect(serialOf(renewed)).toBe(outcome.serial);
    expect(y.subject).toBe(x.subject);
    expect(y.subjectAltName).toBe(x.subjectAltName);
    expect(spkiOf(renewed).equals(spkiOf(first))).toBe(true);
    expect(y.verify(new X509Certificate(readFileSync(join(dir, 'web-chain.pem'))).publicKey)).toBe(true);
    expect(new Date(y.validTo).getTime()).toBeGreaterThan(new Date(x.validTo).getTime());
    // replaced by rename: a new inode, no temporary left behind, the key untouched
    expect(statSync(certFile).ino).not.toBe(inode);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(statSync(join(dir, 'web.key')).mode & 0o777).toBe(0o600);
    // the server links the renewal to the certificate it renews
    const record = await s.runtime.store.getCertificate(serialOf(renewed));
    expect(record?.renews).toBe(serialOf(first));
    // postRenew ran in the config's directory, after the files were replaced, with the entry in its environment
    expect(readFileSync(join(dir, 'marker'), 'utf8').trim()).toBe(`web|${certFile}|${join(dir, 'web.key')}|${join(dir, 'web-chain.pem')}`);
    expect(readFileSync(join(dir, 'seen.pem'), 'utf8')).toBe(renewed);
    expect(logLines(due.stderr).map((l) => l.event)).toEqual(['renew', 'renewed', 'post-renew']);
  });

  it('renewal.windowPercent on a 2-minute profile: a renewal before the last 85% of the life is refused saying when; the agent renewing at 15% renews as the window opens', async () => {
    const dir = workDir('window');
    const first = await enroll(dir, 'web', 'windowed', 'window.renew.example');
    const x = new X509Certificate(first);
    const [from, to] = [new Date(x.validFrom).getTime(), new Date(x.validTo).getTime()];
    const opens = to - (to - from) * 0.85; // 19.8 s into the 132-s life: 7.8 s after issuance
    const config = writeConfig(dir, { label: 'windowed', renewAt: '15%' });
    const early = await cli(['renew', '--config', config, '--force', '--json']);
    expect(early.code).toBe(1);
    const refused = JSON.parse(early.stdout).entries[0];
    expect(refused).toMatchObject({ status: 'failed' });
    expect(refused.reason).toContain(`renews a certificate only within the last 85% of its life; this one can be renewed from ${new Date(opens).toISOString()}`);
    expect(readFileSync(join(dir, 'web.pem'), 'utf8')).toBe(first);

    const notDue = JSON.parse((await cli(['renew', '--config', config, '--json'])).stdout).entries[0];
    expect(notDue.status).toBe('skipped-not-due');
    const due = new Date(notDue.renewAt).getTime();
    expect(Math.abs(due - opens)).toBeLessThanOrEqual(1);
    await sleep(Math.max(0, due - Date.now() + 200));
    const r = await cli(['renew', '--config', config, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).entries[0]).toMatchObject({ status: 'renewed' });
    expect((await s.runtime.store.getCertificate(serialOf(readFileSync(join(dir, 'web.pem')))))?.renews).toBe(serialOf(first));
  });

  it('rekey: a new key (mode 0600) and a certificate for it', async () => {
    const dir = workDir('rekey');
    const first = await enroll(dir, 'web', 'short', 'rekey.renew.example');
    const oldKey = readFileSync(join(dir, 'web.key'), 'utf8');
    const config = writeConfig(dir, { extra: 'rekey: true' });
    // --force: renew now, before the renewal point
    const r = await cli(['renew', '--config', config, '--force', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).entries[0]).toMatchObject({ status: 'renewed', rekeyed: true });
    const newKey = readFileSync(join(dir, 'web.key'), 'utf8');
    expect(newKey).not.toBe(oldKey);
    expect(newKey).toMatch(/BEGIN PRIVATE KEY/);
    expect(statSync(join(dir, 'web.key')).mode & 0o777).toBe(0o600);
    const renewed = readFileSync(join(dir, 'web.pem'), 'utf8');
    const y = new X509Certificate(renewed);
    expect(y.checkPrivateKey((await import('node:crypto')).createPrivateKey(newKey))).toBe(true);
    expect(spkiOf(renewed).equals(spkiOf(first))).toBe(false);
    expect(y.subject).toBe(new X509Certificate(first).subject);
    expect((await s.runtime.store.getCertificate(serialOf(renewed)))?.renews).toBe(serialOf(first));
  });

  it('rekey of an encrypted RSA key: the new key of the same type, encrypted with keyPasswordFile', async () => {
    const dir = workDir('rekey-enc');
    writeFileSync(join(dir, 'key.pass'), 'correct horse battery\n', { mode: 0o600 });
    const first = await enroll(dir, 'web', 'short', 'rekey-enc.renew.example', '--key-type', 'rsa-2048', '--key-password-file', join(dir, 'key.pass'));
    const config = writeConfig(dir, { extra: 'rekey: true\nkeyPasswordFile: key.pass' });
    const r = await cli(['renew', '--config', config, '--force', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const newKey = readFileSync(join(dir, 'web.key'), 'utf8');
    expect(newKey).toMatch(/BEGIN ENCRYPTED PRIVATE KEY/);
    const key = (await import('node:crypto')).createPrivateKey({ key: newKey, passphrase: 'correct horse battery' });
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const renewed = readFileSync(join(dir, 'web.pem'), 'utf8');
    expect(new X509Certificate(renewed).checkPrivateKey(key)).toBe(true);
    expect(spkiOf(renewed).equals(spkiOf(first))).toBe(false);
  });

  it('a failing postRenew makes the run fail (exit 1), but the new certificate stays', async () => {
    const dir = workDir('hookfail');
    const first = await enroll(dir, 'web', 'short', 'hook.renew.example');
    const config = writeConfig(dir, { extra: 'postRenew: echo reload failed >&2; exit 3' });
    const r = await cli(['renew', '--config', config, '--force', '--json']);
    expect(r.code).toBe(1);
    const summary = JSON.parse(r.stdout);
    expect(summary.failed).toBe(true);
    expect(summary.entries[0]).toMatchObject({ status: 'renewed', postRenew: { ok: false, exitCode: 3 } });
    expect(summary.entries[0].postRenew.output).toMatch(/reload failed/);
    const now = readFileSync(join(dir, 'web.pem'), 'utf8');
    expect(serialOf(now)).toBe(summary.entries[0].serial);
    expect(serialOf(now)).not.toBe(serialOf(first));
    expect(logLines(r.stderr).find((l) => l.event === 'post-renew')).toMatchObject({ level: 50, exitCode: 3 });
  });

  it('an expired certificate fails with a clear reason, or is replaced by a fresh enroll with Basic when enrollIfExpired allows it', async () => {
    const dir = workDir('expired');
    // An expired certificate from another CA (the fresh enrollment does not present it).
    const h = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=Old Root', issuingName: 'CN=Old CA', now: new Date(Date.now() - 10 * 86_400_000), random: randomBytes });
    const oldCa = createLocalCa({ id: 'old', key: h.issuing.key, chain: [h.issuing.der, h.root.der], now: () => new Date(Date.now() - 2 * 86_400_000), random: randomBytes });
    const key = generateKey('ec-p384');
    const spki = key.publicKey.export({ type: 'spki', format: 'der' });
    const expired = await issueTemplate(oldCa, {
      subject: encodeName('CN=expired.renew.example, O=Example'), spki,
      subjectAltName: encodeGeneralNames([{ type: 'dns', value: 'expired.renew.example' }]),
      validitySeconds: 1 * 86_400, keyUsage: ['digitalSignature'], extendedKeyUsage: [OID.serverAuth],
    });
    writeFileSync(join(dir, 'web.pem'), toPem('CERTIFICATE', expired.der));
    writeFileSync(join(dir, 'web.key'), privateKeyPem(key.privateKey), { mode: 0o600 });

    const refused = await cli(['renew', '--config', writeConfig(dir), '--json']);
    expect(refused.code).toBe(1);
    const reason = JSON.parse(refused.stdout).entries[0].reason as string;
    expect(reason).toMatch(/expired at/);
    expect(reason).toMatch(/enrollIfExpired/);
    expect(readFileSync(join(dir, 'web.pem'))).toEqual(Buffer.from(toPem('CERTIFICATE', expired.der)));

    const config = writeConfig(dir, { extra: 'enrollIfExpired: true\nauth:\n  user: ' + user + '\n  passwordFile: est.pass' });
    const r = await cli(['renew', '--config', config, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).entries[0]).toMatchObject({ status: 'enrolled', rekeyed: true });
    const fresh = readFileSync(join(dir, 'web.pem'), 'utf8');
    const y = new X509Certificate(fresh);
    expect(y.subject).toBe('CN=expired.renew.example\nO=Example');
    expect(y.subjectAltName).toBe('DNS:expired.renew.example');
    expect(y.verify(new X509Certificate(readFileSync(join(dir, 'web-chain.pem'))).publicKey)).toBe(true);
    const newKey = readFileSync(join(dir, 'web.key'), 'utf8');
    expect(statSync(join(dir, 'web.key')).mode & 0o777).toBe(0o600);
    expect(y.checkPrivateKey((await import('node:crypto')).createPrivateKey(newKey))).toBe(true);
    expect(spkiOf(fresh).equals(spki)).toBe(false);
    // the key type of the old key is kept
    expect((y.publicKey.asymmetricKeyDetails as { namedCurve?: string }).namedCurve).toBe('secp384r1');
    const record = await s.runtime.store.getCertificate(serialOf(fresh));
    expect(record?.profile).toBe('short');
    expect(record?.renews ?? null).toBe(null);
    expect(logLines(r.stderr).find((l) => l.event === 'enroll')).toMatchObject({ reason: 'expired' });
  });

  it('a bad configuration file is exit 2 and names the field', async () => {
    const dir = workDir('badconfig');
    const bad = writeConfig(dir, { renewAt: 'soon' });
    const r = await cli(['renew', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/entries\[0\] \(web\)\.renewAt/);
    writeFileSync(bad, 'entries:\n  - name: web\n    server: http://est.example.com\n    trust: { ca: ca.pem }\n    cert: a.pem\n    key: a.key\n');
    const http = await cli(['renew', '--config', bad]);
    expect(http.code).toBe(2);
    expect(http.stderr).toMatch(/entries\[0\] \(web\)\.server: .*https/);
    writeFileSync(bad, 'retry: { initialSeconds: 0 }\nentries:\n  - name: web\n    server: https://est.example.com\n    trust: { ca: ca.pem }\n    cert: a.pem\n    key: a.key\n');
    const retry = await cli(['renew', '--config', bad]);
    expect(retry.code).toBe(2);
    expect(retry.stderr).toMatch(/retry\.initialSeconds/);
    const entry = await cli(['renew', '--config', writeConfig(dir), '--entry', 'nope']);
    expect(entry.code).toBe(2);
    expect(entry.stderr).toMatch(/--entry: no entry named nope .*\(it has web\)/);
    const missing = await cli(['renew', '--config', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.yaml: cannot read: ENOENT/);
  });
});

/** A TCP pass-through to the real server, started later on a port where nothing listens yet. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function startProxy(port: number, target: number): Promise<Server> {
  const sockets = new Set<Socket>();
  const proxy = createServer((inbound) => {
    const outbound = connect(target, '127.0.0.1');
    for (const sock of [inbound, outbound]) {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  proxy.on('close', () => {
    for (const sock of sockets) sock.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    proxy.once('error', reject);
    proxy.listen(port, '127.0.0.1', () => resolve());
  });
  return proxy;
}

describe('server down', () => {
  it('one-shot fails with kind network; the daemon backs off with growing delays, then renews once the server is there', async () => {
    const dir = workDir('down');
    const first = await enroll(dir, 'web', 'short', 'down.renew.example');
    const port = await freePort();
    // due at 1% of the life, before issuance (the backdate is 10%): every attempt below is a real renewal attempt
    const config = writeConfig(dir, { serverUrl: `https://127.0.0.1:${port}`, renewAt: '1%' }, 'retry: { initialSeconds: 1, maxSeconds: 4, jitter: full }');

    const once = await cli(['renew', '--config', config, '--json']);
    expect(once.code).toBe(1);
    const failed = JSON.parse(once.stdout).entries[0];
    expect(failed).toMatchObject({ name: 'web', status: 'failed', kind: 'network' });
    expect(failed.reason).toMatch(/ECONNREFUSED|refused|connect/i);
    expect(readFileSync(join(dir, 'web.pem'), 'utf8')).toBe(first);

    // a daemon stopped while it backs off stops cleanly: exit 0, at once (the sleep is cut short)
    const stopped = startAgent(['--config', config, '--daemon']);
    agents.push(stopped);
    await stopped.waitFor((l) => l.some((x) => x.event === 'backoff'), 10_000, 'a backoff line');
    const stopAt = Date.now();
    stopped.child.kill('SIGTERM');
    expect((await stopped.exited).code).toBe(0);
    expect(Date.now() - stopAt).toBeLessThan(2000);
    expect(stopped.lines().at(-1)).toMatchObject({ event: 'stopped' });

    const agent = startAgent(['--config', config, '--daemon']);
    agents.push(agent);
    let proxy: Server | undefined;
    try {
      await agent.waitFor((l) => l.filter((x) => x.event === 'backoff').length >= 3, 15_000, 'three backoff lines');
      proxy = await startProxy(port, s.port);
      await agent.waitFor((l) => l.some((x) => x.event === 'renewed'), 10_000, 'a renewal through the restored server');
      agent.child.kill('SIGTERM');
      expect((await agent.exited).code).toBe(0);
    } finally {
      proxy?.close();
    }
    const lines = agent.lines();
    const backoffs = lines.filter((l) => l.event === 'backoff');
    const attempts = lines.filter((l) => l.event === 'renew');
    // attempt n waits at least 1 s and at most min(max, initial·2^(n-1)) s (full jitter)
    for (const [i, b] of backoffs.slice(0, 3).entries()) {
      expect(b).toMatchObject({ entry: 'web', attempt: i + 1, level: 40 });
      expect(b.seconds as number).toBeGreaterThanOrEqual(1);
      expect(b.seconds as number).toBeLessThanOrEqual(Math.min(4, 2 ** i));
      // the next attempt came no earlier than the retry time
      const next = attempts[i + 1]!;
      expect(new Date(next.time).getTime()).toBeGreaterThanOrEqual(new Date(b.retryAt as string).getTime() - 5);
    }
    const failures = lines.filter((l) => l.event === 'failed');
    expect(failures.length).toBeGreaterThanOrEqual(3);
    for (const f of failures) expect(f).toMatchObject({ kind: 'network', level: 50 });
    const renewed = readFileSync(join(dir, 'web.pem'), 'utf8');
    expect((await s.runtime.store.getCertificate(serialOf(renewed)))?.renews).toBeTruthy();
    expect(lines.at(-1)).toMatchObject({ event: 'stopped' });
  }, 40_000);
});

describe('daemon', () => {
  it('renews a 2-minute certificate on its own at its fraction of the life, again and again, logs JSON lines, and exits 0 promptly on SIGTERM', async () => {
    const dir = workDir('daemon');
    const first = await enroll(dir, 'web', 'tiny', 'daemon.renew.example');
    // 2-minute certificates (132 s on paper) renewed at 11% of their life: ~2.5 s after each issuance
    const config = writeConfig(dir, { label: 'tiny', renewAt: '11%', extra: 'postRenew: echo renewed >> hook.log' });
    const agent = startAgent(['--config', config, '--daemon']);
    agents.push(agent);
    await agent.waitFor((l) => l.filter((x) => x.event === 'renewed').length >= 2, 15_000, 'two renewals');
    const stopAt = Date.now();
    agent.child.kill('SIGTERM');
    const { code } = await agent.exited;
    expect(Date.now() - stopAt).toBeLessThan(3000);
    expect(code).toBe(0);

    const stderrLines = agent.stderr().split('\n').filter(Boolean);
    const json = agent.lines();
    // every line but the closing summary is structured JSON
    expect(json.length).toBeGreaterThanOrEqual(stderrLines.length - 1);
    for (const l of json) expect(l).toMatchObject({ time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), level: expect.any(Number), msg: expect.any(String) });
    const sleeps = json.filter((l) => l.event === 'sleep');
    const renewals = json.filter((l) => l.event === 'renewed');
    // a sleep between each two renewals; on a loaded machine the first certificate may already be
    // due when the agent starts (due 2.5 s after issuance), so the first renewal comes at once
    expect(sleeps.length).toBeGreaterThanOrEqual(renewals.length - 1);
    // it slept until the renewal point, not in a tight loop: at least ~1 s between renewals
    const gap = new Date(renewals[1]!.time).getTime() - new Date(renewals[0]!.time).getTime();
    expect(gap).toBeGreaterThanOrEqual(900);
    expect(json.some((l) => l.event === 'due-at-once')).toBe(false);
    expect(json.at(-1)).toMatchObject({ event: 'stopped' });
    expect(readFileSync(join(dir, 'hook.log'), 'utf8').trim().split('\n').length).toBe(renewals.length);
    // the last certificate's renewal point is 11% of its own life
    const last = new X509Certificate(readFileSync(join(dir, 'web.pem')));
    const [from, to] = [new Date(last.validFrom).getTime(), new Date(last.validTo).getTime()];
    expect(to - from).toBe(TINY_SECONDS * 1100);
    expect(new Date(renewals.at(-1)!.renewAt as string).getTime()).toBe(from + Math.round((to - from) * 0.11));

    // a chain of renewals in the store: each renews the one before
    let serial = serialOf(readFileSync(join(dir, 'web.pem'), 'utf8'));
    const chain: string[] = [serial];
    for (let i = 0; i < renewals.length; i++) {
      const rec = await s.runtime.store.getCertificate(serial);
      expect(rec?.renews).toBeTruthy();
      serial = rec!.renews!;
      chain.push(serial);
    }
    expect(chain.at(-1)).toBe(serialOf(first));
  }, 30_000);
});

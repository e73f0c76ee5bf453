/**
 * The renew agent with real files, real post-renew commands and real certificates from a local CA
 * (src/ca); the EST operations are a Renewer implemented here. The networked end-to-end test with
 * EstClient lives with the client tests.
 */
import { createPublicKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { createCaHierarchy } from '../../src/ca/ca-setup.js';
import { createLocalCa } from '../../src/ca/local-ca.js';
import { generateKey, keyTypeOf, loadPrivateKey, privateKeyPem, type ClientKeyType } from '../../src/client/keys.js';
import { runRenewals, type EnrollRequest, type Issued, type RenewLogger, type Renewer } from '../../src/client/renew-agent.js';
import { parseRenewConfig, type RenewConfig } from '../../src/client/renew-config.js';
import { pemBlocks, toPem } from '../../src/pki/base64.js';
import { certificateFields } from '../../src/pki/certificate.js';
import { encodeGeneralNames, encodeName } from '../../src/pki/names.js';
import { OID } from '../../src/pki/oids.js';
import { tempDir } from '../helpers/home.js';
import { issueTemplate } from '../helpers/issue-template.js';

// ---- a local CA whose clock the test may move ----

let clock: number | undefined; // undefined: the real time
const caNow = (): Date => new Date(clock ?? Date.now());
const { root, issuing } = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=Renew Test Root', issuingName: 'CN=Renew Test CA', now: new Date(Date.now() - 86_400_000), random: randomBytes });
const ca = createLocalCa({ id: 'renew', key: issuing.key, chain: [issuing.der, root.der], now: caNow, random: randomBytes, backdateSeconds: 0 });
/**
 * Backdates notBefore by 5 minutes whatever the validity, as some CAs do (Estuary's own backdates a
 * short certificate by a tenth of its validity at most): its clock runs 5 minutes behind and the
 * validity asked is 5 minutes longer.
 */
const backdatingCa = createLocalCa({ id: 'backdating', key: issuing.key, chain: [issuing.der, root.der], now: () => new Date(caNow().getTime() - 300_000), random: randomBytes, backdateSeconds: 0 });

async function issue(subject: Buffer, publicKey: KeyObject, san: Buffer | undefined, seconds: number, by = ca): Promise<Buffer> {
  const spki = (publicKey.type === 'public' ? publicKey : createPublicKey(publicKey)).export({ type: 'spki', format: 'der' });
  return (await issueTemplate(by, { subject, spki, subjectAltName: san, validitySeconds: seconds, keyUsage: ['digitalSignature'], extendedKeyUsage: [OID.clientAuth] })).der;
}

interface TestRenewer extends Renewer {
  renewCalls: number;
  enrollRequests: EnrollRequest[];
  /** Fail this many of the next calls with a network error. */
  failNext: number;
  validitySeconds: number;
  /** Issue for a different key than asked (a broken server). */
  wrongKey: boolean;
}

function testRenewer(validitySeconds: number): TestRenewer {
  const r: TestRenewer = {
    renewCalls: 0,
    enrollRequests: [],
    failNext: 0,
    validitySeconds,
    wrongKey: false,
    async renew(entry, current): Promise<Issued> {
      r.renewCalls++;
      if (r.failNext > 0) {
        r.failNext--;
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { kind: 'network' });
      }
      const fields = certificateFields(current.certDer);
      const fresh = entry.rekey ? generateKey(entry.keyType ?? (keyTypeOf(current.privateKey) as ClientKeyType)) : undefined;
      const pub = r.wrongKey ? generateKey('ec-p256').publicKey : (fresh?.publicKey ?? createPublicKey(current.privateKey));
      const certificate = await issue(fields.subject, pub, fields.subjectAltName, r.validitySeconds);
      return { certificate, chain: [issuing.der, root.der], ...(fresh ? { privateKey: fresh.privateKey } : {}) };
    },
    async enroll(entry, request): Promise<Issued> {
      r.enrollRequests.push(request);
      const key = generateKey(request.keyType ?? 'ec-p256');
      const names = [...request.sans.dns.map((value) => ({ type: 'dns' as const, value }))];
      const certificate = await issue(request.subjectDer ?? encodeName(request.subject), key.publicKey, names.length ? encodeGeneralNames(names) : undefined, r.validitySeconds);
      return { certificate, chain: [issuing.der], privateKey: key.privateKey };
    },
  };
  return r;
}

// ---- files and configuration ----

interface LogLine {
  level: string;
  msg?: string;
  [k: string]: unknown;
}

function collectingLogger(): RenewLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object, msg?: string): void => void lines.push({ level, ...obj, msg });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

let dir: string;

beforeEach(() => {
  dir = tempDir('estuary-renew-');
  clock = undefined;
});

/** A current certificate (CN=web, DNS web.example) and key in dir; returns the key. */
async function currentCert(seconds: number, opts: { name?: string; keyType?: ClientKeyType; passphrase?: string } = {}): Promise<KeyObject> {
  const name = opts.name ?? 'web';
  const key = generateKey(opts.keyType ?? 'ec-p256');
  const der = await issue(encodeName(`CN=${name}, O=Example`), key.publicKey, encodeGeneralNames([{ type: 'dns', value: `${name}.example` }]), seconds);
  writeFileSync(join(dir, `${name}.pem`), toPem('CERTIFICATE', der));
  writeFileSync(join(dir, `${name}.key`), privateKeyPem(key.privateKey, opts.passphrase), { mode: 0o600 });
  return key.privateKey;
}

function config(entryYaml: string, retry = ''): RenewConfig {
  writeFileSync(join(dir, 'ca.pem'), toPem('CERTIFICATE', root.der));
  const text = `${retry}\nentries:\n  - name: web\n    server: https://est.example.com\n    trust: { ca: ca.pem }\n    cert: web.pem\n    key: web.key\n    chain: chain.pem\n${entryYaml
    .split('\n')
    .filter(Boolean)
    .map((l) => `    ${l}`)
    .join('\n')}\n`;
  return parseRenewConfig(text, dir);
}

const certOf = (file = 'web.pem'): X509Certificate => new X509Certificate(pemBlocks(readFileSync(join(dir, file), 'utf8'))[0]!);
const mode = (file: string): number => statSync(join(dir, file)).mode & 0o777;
const marker = (): string[] => (existsSync(join(dir, 'marker')) ? readFileSync(join(dir, 'marker'), 'utf8').trim().split('\n') : []);

describe('renew agent, one-shot', () => {
  it('leaves a certificate alone before its renewal point', async () => {
    await currentCert(3600);
    const before = readFileSync(join(dir, 'web.pem'), 'utf8');
    const renewer = testRenewer(3600);
    const log = collectingLogger();
    const s = await runRenewals({ config: config("postRenew: echo renewed >> marker"), renewer, log });
    expect(s.failed).toBe(false);
    expect(s.entries).toMatchObject([{ name: 'web', status: 'skipped-not-due' }]);
    const e = s.entries[0]! as { notAfter: Date; renewAt: Date };
    expect(e.renewAt.getTime() - (e.notAfter.getTime() - 3600_000)).toBeCloseTo(2400_000, -4); // two thirds of an hour
    expect(renewer.renewCalls).toBe(0);
    expect(readFileSync(join(dir, 'web.pem'), 'utf8')).toBe(before);
    expect(marker()).toEqual([]);
    expect(log.lines).toMatchObject([{ level: 'info', entry: 'web', event: 'not-due' }]);
  });

  it('reenrolls a due certificate with the same key, replaces the files and runs postRenew with the entry in its environment', async () => {
    const key = await currentCert(90);
    const old = certOf();
    const renewer = testRenewer(3600);
    const log = collectingLogger();
    const s = await runRenewals({ config: config('postRenew: echo "renewed $ESTUARY_ENTRY $(basename $ESTUARY_CERT)" >> marker'), renewer, log, now: () => new Date(Date.now() + 61_000) });
    expect(s.failed).toBe(false);
    expect(s.entries).toMatchObject([{ name: 'web', status: 'renewed', rekeyed: false, files: [join(dir, 'web.pem'), join(dir, 'chain.pem')], postRenew: { ok: true, exitCode: 0 } }]);
    const fresh = certOf();
    expect(fresh.serialNumber).not.toBe(old.serialNumber);
    expect(fresh.subject).toBe(old.subject);
    expect(fresh.subjectAltName).toBe('DNS:web.example');
    expect(fresh.checkPrivateKey(key)).toBe(true);
    expect(fresh.verify(new X509Certificate(issuing.der).publicKey)).toBe(true);
    expect((s.entries[0] as { serial: string }).serial).toBe(fresh.serialNumber.toLowerCase().replace(/^0+/, ''));
    expect(pemBlocks(readFileSync(join(dir, 'chain.pem'), 'utf8'))).toEqual([issuing.der, root.der]);
    expect(mode('web.key')).toBe(0o600);
    expect(mode('web.pem')).toBe(0o644);
    expect(marker()).toEqual(['renewed web web.pem']);
    expect(log.lines.map((l) => l.event)).toEqual(['renew', 'renewed', 'post-renew']);
  });

  it('keeps the mode of an existing certificate file', async () => {
    await currentCert(90);
    const { chmodSync } = await import('node:fs');
    chmodSync(join(dir, 'web.pem'), 0o640);
    await runRenewals({ config: config(''), renewer: testRenewer(3600), log: collectingLogger(), force: true });
    expect(mode('web.pem')).toBe(0o640);
  });

  it('rekeys: a new key of the same type, mode 0600, encrypted with keyPasswordFile', async () => {
    writeFileSync(join(dir, 'key.pass'), 'correct horse\n');
    const oldKey = await currentCert(90, { keyType: 'ec-p384', passphrase: 'correct horse' });
    const s = await runRenewals({ config: config('rekey: true\nkeyPasswordFile: key.pass'), renewer: testRenewer(3600), log: collectingLogger(), force: true });
    expect(s.entries).toMatchObject([{ status: 'renewed', rekeyed: true, files: [join(dir, 'web.key'), join(dir, 'web.pem'), join(dir, 'chain.pem')] }]);
    const text = readFileSync(join(dir, 'web.key'), 'utf8');
    expect(text).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const { privateKey } = loadPrivateKey(text, 'correct horse');
    expect(keyTypeOf(privateKey)).toBe('ec-p384');
    expect(certOf().checkPrivateKey(privateKey)).toBe(true);
    expect(certOf().checkPrivateKey(oldKey)).toBe(false);
    expect(mode('web.key')).toBe(0o600);
  });

  it('a failing postRenew fails the entry but the new certificate stays', async () => {
    await currentCert(90);
    const old = certOf();
    const s = await runRenewals({ config: config("postRenew: echo reload failed >&2; exit 3"), renewer: testRenewer(3600), log: collectingLogger(), force: true });
    expect(s.failed).toBe(true);
    expect(s.entries).toMatchObject([{ status: 'renewed', postRenew: { ok: false, exitCode: 3, timedOut: false, output: 'reload failed\n' } }]);
    expect(certOf().serialNumber).not.toBe(old.serialNumber);
  });

  it('a postRenew that hangs is ended at its timeout, with what it started', async () => {
    await currentCert(90);
    const started = Date.now();
    const s = await runRenewals({ config: config('postRenew: sleep 30 & echo started; sleep 30\npostRenewTimeoutSeconds: 1'), renewer: testRenewer(3600), log: collectingLogger(), force: true });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(s.entries).toMatchObject([{ status: 'renewed', postRenew: { ok: false, timedOut: true, exitCode: null, signal: 'SIGKILL', output: 'started\n' } }]);
  });

  it('a server failure is reported with its kind and the files are left alone', async () => {
    await currentCert(90);
    const before = readFileSync(join(dir, 'web.pem'), 'utf8');
    const renewer = testRenewer(3600);
    renewer.failNext = 1;
    const log = collectingLogger();
    const s = await runRenewals({ config: config('postRenew: echo renewed >> marker'), renewer, log, force: true });
    expect(s).toEqual({ failed: true, entries: [{ name: 'web', status: 'failed', reason: 'connect ECONNREFUSED 127.0.0.1:1', kind: 'network' }] });
    expect(readFileSync(join(dir, 'web.pem'), 'utf8')).toBe(before);
    expect(marker()).toEqual([]);
    expect(log.lines.at(-1)).toMatchObject({ level: 'error', entry: 'web', event: 'failed', kind: 'network' });
  });

  it('refuses a certificate issued for another key, leaving the files alone', async () => {
    await currentCert(90);
    const before = readFileSync(join(dir, 'web.pem'), 'utf8');
    const renewer = testRenewer(3600);
    renewer.wrongKey = true;
    const s = await runRenewals({ config: config(''), renewer, log: collectingLogger(), force: true });
    expect(s.entries).toMatchObject([{ status: 'failed', kind: 'bad-response', reason: expect.stringMatching(/not for the key/) }]);
    expect(readFileSync(join(dir, 'web.pem'), 'utf8')).toBe(before);
  });

  it('does not renew when the key file is not the key of the certificate', async () => {
    await currentCert(90);
    writeFileSync(join(dir, 'web.key'), privateKeyPem(generateKey('ec-p256').privateKey));
    const renewer = testRenewer(3600);
    const s = await runRenewals({ config: config(''), renewer, log: collectingLogger(), force: true });
    expect(s.entries).toMatchObject([{ status: 'failed', reason: expect.stringMatching(/web.key is not the key of .*web.pem/) }]);
    expect(renewer.renewCalls).toBe(0);
  });

  it('an expired certificate: a failure naming enrollIfExpired, or a fresh enroll with the same names when allowed', async () => {
    await currentCert(2);
    clock = Date.now() + 5000;
    const renewer = testRenewer(3600);
    const refused = await runRenewals({ config: config(''), renewer, log: collectingLogger(), now: caNow });
    expect(refused.entries).toMatchObject([{ status: 'failed', reason: expect.stringMatching(/expired at .*enrollIfExpired: true/) }]);
    expect(renewer.renewCalls).toBe(0);

    writeFileSync(join(dir, 'web.pass'), 'secret');
    const s = await runRenewals({ config: config('enrollIfExpired: true\nauth: { user: web, passwordFile: web.pass }\npostRenew: echo enrolled >> marker'), renewer, log: collectingLogger(), now: caNow });
    expect(s.failed).toBe(false);
    expect(s.entries).toMatchObject([{ status: 'enrolled', rekeyed: true }]);
    expect(renewer.enrollRequests[0]).toMatchObject({ subject: 'CN=web, O=Example', sans: { dns: ['web.example'], ip: [], email: [], uri: [] }, keyType: 'ec-p256' });
    expect(renewer.enrollRequests[0]!.previous?.certDer).toBeDefined();
    const cert = certOf();
    expect(cert.subject).toBe('CN=web\nO=Example');
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(clock + 3000_000);
    expect(cert.checkPrivateKey(loadPrivateKey(readFileSync(join(dir, 'web.key'), 'utf8')).privateKey)).toBe(true);
    expect(mode('web.key')).toBe(0o600);
    expect(pemBlocks(readFileSync(join(dir, 'chain.pem'), 'utf8'))).toEqual([issuing.der]);
    expect(marker()).toEqual(['enrolled']);
  });

  it('a missing certificate is enrolled with the configured names when enrollIfExpired allows it', async () => {
    writeFileSync(join(dir, 'web.pass'), 'secret');
    const renewer = testRenewer(3600);
    const missing = await runRenewals({ config: config(''), renewer, log: collectingLogger() });
    expect(missing.entries).toMatchObject([{ status: 'failed', reason: expect.stringMatching(/web.pem does not exist/) }]);
    const s = await runRenewals({ config: config('enrollIfExpired: true\nauth: { user: web, passwordFile: web.pass }\nsubject: CN=new-web\ndns: [new-web.example]\nkeyType: ed25519'), renewer, log: collectingLogger() });
    expect(s.entries).toMatchObject([{ status: 'enrolled' }]);
    expect(renewer.enrollRequests[0]).toMatchObject({ subject: 'CN=new-web', subjectDer: undefined, keyType: 'ed25519', previous: undefined });
    expect(certOf().subjectAltName).toBe('DNS:new-web.example');
    expect(keyTypeOf(loadPrivateKey(readFileSync(join(dir, 'web.key'), 'utf8')).privateKey)).toBe('ed25519');
  });

  it('several entries: each gets its own outcome; only selects entries by name', async () => {
    await currentCert(90, { name: 'web' });
    await currentCert(3600, { name: 'api' });
    const text = `entries:
  - { name: web, server: https://est.example.com, trust: { implicit: true }, cert: web.pem, key: web.key }
  - { name: api, server: https://est.example.com, trust: { implicit: true }, cert: api.pem, key: api.key, renewAt: '1%' }
`;
    const cfg = parseRenewConfig(text, dir);
    const s = await runRenewals({ config: cfg, renewer: testRenewer(3600), log: collectingLogger(), now: () => new Date(Date.now() + 61_000) });
    expect(s.entries.map((e) => [e.name, e.status])).toEqual([['web', 'renewed'], ['api', 'renewed']]);
    const only = await runRenewals({ config: cfg, renewer: testRenewer(3600), log: collectingLogger(), only: ['api'] });
    expect(only.entries.map((e) => [e.name, e.status])).toEqual([['api', 'skipped-not-due']]);
    await expect(runRenewals({ config: cfg, renewer: testRenewer(3600), log: collectingLogger(), only: ['nope'] })).rejects.toThrow(/no entry named nope/);
  });
});

describe('renew agent, daemon', () => {
  it('sleeps until the renewal point, backs off exponentially after failures, and renews (fake clock)', async () => {
    clock = Math.floor(Date.now() / 1000) * 1000;
    await currentCert(300);
    const renewer = testRenewer(300);
    renewer.failNext = 3;
    const log = collectingLogger();
    const controller = new AbortController();
    const sleeps: number[] = [];
    const sleep = async (ms: number): Promise<void> => {
      sleeps.push(ms);
      clock! += ms;
      if (sleeps.length === 6) controller.abort();
    };
    const s = await runRenewals({
      config: config('postRenew: echo renewed >> marker\nrenewAt: 50%', 'retry: { initialSeconds: 10, maxSeconds: 30 }'),
      renewer, log, daemon: true, signal: controller.signal, now: caNow, sleep, random: () => 0.5,
    });
    // 150 s to the renewal point; failures: half of 10, 20, 30 (40 capped at 30); then renewed; 150 s to the next point, renewed again
    expect(sleeps.map((ms) => ms / 1000)).toEqual([150, 5, 10, 15, 150, 150]);
    expect(renewer.renewCalls).toBe(5);
    expect(marker()).toEqual(['renewed', 'renewed']);
    expect(log.lines.filter((l) => l.event === 'backoff').map((l) => [l.attempt, l.seconds])).toEqual([[1, 5], [2, 10], [3, 15]]);
    expect(log.lines.at(-1)).toMatchObject({ event: 'stopped' });
    expect(s.failed).toBe(false);
    expect(s.entries).toMatchObject([{ status: 'renewed' }]);
  });

  it('does not renew in a tight loop a certificate that is due the moment it is issued (short lifetime, backdated notBefore)', async () => {
    clock = Math.floor(Date.now() / 1000) * 1000;
    await currentCert(90);
    const controller = new AbortController();
    const sleeps: number[] = [];
    const log = collectingLogger();
    // 60 s of validity after a 300 s backdate: two thirds of the lifetime passed 60 s before issuance
    const renewer: Renewer = {
      renew: async (_e, c) => ({ certificate: await issue(certificateFields(c.certDer).subject, c.privateKey, undefined, 300 + 60, backdatingCa), chain: [] }),
      enroll: () => Promise.reject(new Error('not expected')),
    };
    await runRenewals({
      config: config('', 'retry: { initialSeconds: 15 }'),
      renewer, log, daemon: true, signal: controller.signal, now: caNow, random: () => 0.5,
      sleep: async (ms) => { sleeps.push(ms); clock! += ms; if (sleeps.length === 3) controller.abort(); },
    });
    expect(sleeps.map((ms) => Math.round(ms / 1000))).toEqual([60, 15, 15]);
    expect(log.lines.filter((l) => l.event === 'due-at-once')).toHaveLength(2);
  });

  it('renews seconds-lived certificates in real time, logs JSON lines through pino, stops when aborted', async () => {
    await currentCert(3);
    const out: string[] = [];
    const stream = new Writable({ write(chunk, _enc, done) { out.push(...String(chunk).split('\n').filter(Boolean)); done(); } });
    const logger = pino({ level: 'info', base: undefined }, stream);
    const controller = new AbortController();
    const renewer = testRenewer(3);
    const watching: RenewLogger = {
      info: (o, m) => { logger.info(o, m); if ((o as { event?: string }).event === 'post-renew' && marker().length >= 2) controller.abort(); },
      warn: (o, m) => logger.warn(o, m),
      error: (o, m) => logger.error(o, m),
    };
    const started = Date.now();
    const s = await runRenewals({ config: config('postRenew: echo renewed >> marker'), renewer, log: watching, daemon: true, signal: controller.signal });
    const took = Date.now() - started;
    expect(marker()).toEqual(['renewed', 'renewed']);
    expect(took).toBeGreaterThan(2500); // first renewal point 2 s in, then about 2 s more
    expect(took).toBeLessThan(15_000);
    const lines = out.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.event === 'renewed')).toHaveLength(2);
    expect(lines.find((l) => l.event === 'sleep')).toMatchObject({ level: 30, msg: 'sleeping until the next renewal point or retry' });
    expect(lines.at(-1)).toMatchObject({ event: 'stopped' });
    expect(s.failed).toBe(false);
  });

  it('an abort ends a long sleep at once', async () => {
    await currentCert(86_400);
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 200);
    const s = await runRenewals({ config: config(''), renewer: testRenewer(3600), log: collectingLogger(), daemon: true, signal: controller.signal });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(s.entries).toMatchObject([{ status: 'skipped-not-due' }]);
  });
});

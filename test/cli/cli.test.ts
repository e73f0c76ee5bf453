/** The `estuary` command as users run it: the built dist/cli/main.js in child processes. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certsFrom, csrBody, estRequest } from '../helpers/est-http.js';
import { tempDir } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { makeDeviceCa } from '../helpers/device-ca.js';
import { estuary, MAIN } from '../helpers/cli.js';

interface Served {
  child: ChildProcess;
  base: string;
  exited: Promise<number | null>;
  output: () => string;
}

async function serveHome(home: string, command = 'serve'): Promise<Served> {
  const child = spawn('node', [MAIN, command, '--home', home], { env: { ...process.env, ESTUARY_EST_LISTEN: '127.0.0.1:0', ESTUARY_CRL_LISTEN: '127.0.0.1:0', ESTUARY_ADMIN_LISTEN: '127.0.0.1:0', ESTUARY_OPS_LISTEN: '127.0.0.1:0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 30_000);
    const check = (): void => {
      const m = /EST service listening on (https:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', () => reject(new Error(`server exited:\n${out}`)));
  });
  return { child, base, exited, output: () => out };
}

let home: string;
let init: { estUrl: string; rootFingerprintSha256: string; estAccount: { email: string; password: string }; adminAccount: { email: string; password: string } };
let server: Served;
let rootPem: string;

beforeAll(async () => {
  home = join(tempDir('estuary-cli-'), 'home');
  const r = await estuary(['init', '--home', home, '--json']);
  expect(r.code, r.stderr).toBe(0);
  init = JSON.parse(r.stdout);
  rootPem = readFileSync(join(home, 'ca', 'root.pem'), 'utf8');
  server = await serveHome(home);
});
afterAll(() => {
  server?.child.kill('SIGKILL');
});

const basic = () => ({ user: init.estAccount.email, password: init.estAccount.password });
const enroll = async (path = '/simpleenroll', creds = basic()) =>
  estRequest(server.base + path, { ca: rootPem, basic: creds, body: csrBody((await makeCsr({ name: 'CN=cli-device' })).der), contentType: 'application/pkcs10' });

describe('estuary init', () => {
  it('prints exactly one JSON object and writes secrets with mode 0600', () => {
    expect(Object.keys(init).sort()).toEqual(['adminAccount', 'estAccount', 'estUrl', 'rootFingerprintSha256', 'rootKeyFile']);
    expect(init.estUrl).toBe('https://127.0.0.1:8443/.well-known/est');
    expect(init.rootFingerprintSha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(init.estAccount.password.length).toBeGreaterThanOrEqual(20);
    for (const f of ['ca/root-key.pem', 'ca/issuing-key.pem', 'tls/server-key.pem', 'estuary.db']) {
      expect((statSync(join(home, f)).mode & 0o777).toString(8), f).toBe('600');
    }
    expect(readFileSync(join(home, 'estuary.yaml'), 'utf8')).toMatch(/listen: 127.0.0.1:8443/);
  });

  it('refuses to overwrite an existing home without --force, and prints a text summary', async () => {
    const again = await estuary(['init', '--home', home]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/--force/);
    const other = join(tempDir(), 'h');
    const text = await estuary(['init', '--home', other, '--key-algorithm', 'rsa-2048']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/EST base URL: +https:\/\/127.0.0.1:8443\/.well-known\/est/);
    expect(text.stdout).toMatch(/Root CA SHA-256: +([0-9A-F]{2}:){31}/);
    const forced = await estuary(['init', '--home', other, '--force', '--json', '--key-algorithm', 'ec-p384']);
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout).rootFingerprintSha256).not.toBe(JSON.parse(JSON.stringify(init)).rootFingerprintSha256);
  });

  it('home from ESTUARY_HOME', async () => {
    const envHome = join(tempDir(), 'env-home');
    const r = await estuary(['init', '--json'], { env: { ESTUARY_HOME: envHome } });
    expect(r.code).toBe(0);
    expect(statSync(join(envHome, 'estuary.yaml')).isFile()).toBe(true);
  });
});

describe('management while the server runs', () => {
  it('enrolls, then lists and shows the certificate', async () => {
    const res = await enroll();
    expect(res.status, res.text).toBe(200);
    const list = await estuary(['cert', 'list', '--home', home, '--json']);
    const certs = JSON.parse(list.stdout) as Array<{ serial: string; subject: string; status: string }>;
    expect(certs[0]!.subject).toBe('CN=cli-device');
    const show = await estuary(['cert', 'show', certs[0]!.serial, '--home', home]);
    expect(show.stdout).toMatch(/BEGIN CERTIFICATE/);
    expect(show.stdout).toMatch(/status: valid/);
    const table = await estuary(['cert', 'list', '--home', home]);
    expect(table.stdout).toMatch(/^SERIAL +PROFILE +STATUS/);
    expect(certsFrom(res)[0]!.length).toBeGreaterThan(100);
  });

  it('accounts: add (password from a file), list, passwd, disable take effect at once', async () => {
    const pwFile = join(home, '..', 'pw.txt');
    writeFileSync(pwFile, 'device-password-1\n');
    const add = await estuary(['account', 'add', 'dev@example.com', '--password-file', pwFile, '--home', home]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).not.toMatch(/device-password-1/);
    expect((await enroll('/simpleenroll', { user: 'dev@example.com', password: 'device-password-1' })).status).toBe(200);
    const gen = await estuary(['account', 'passwd', 'dev@example.com', '--home', home]);
    const newPw = /password: (\S+)/.exec(gen.stdout)![1]!;
    expect((await enroll('/simpleenroll', { user: 'dev@example.com', password: 'device-password-1' })).status).toBe(401);
    expect((await enroll('/simpleenroll', { user: 'dev@example.com', password: newPw })).status).toBe(200);
    expect((await estuary(['account', 'disable', 'dev@example.com', '--home', home])).code).toBe(0);
    expect((await enroll('/simpleenroll', { user: 'dev@example.com', password: newPw })).status).toBe(401);
    const list = await estuary(['account', 'list', '--home', home]);
    expect(list.stdout).toMatch(/dev@example.com +est +disabled/);
    expect(list.stdout).not.toMatch(/scrypt/);
    const dup = await estuary(['account', 'add', 'dev@example.com', '--home', home]);
    expect(dup.code).toBe(2);
    for (const role of ['officer', 'auditor']) expect((await estuary(['account', 'add', `${role}@example.com`, '--role', role, '--home', home])).code).toBe(0);
    const badRole = await estuary(['account', 'add', 'root@example.com', '--role', 'root', '--home', home]);
    expect(badRole.stderr).toMatch(/--role: expected one of est, admin, officer, auditor, got "root"/);
    expect((await estuary(['account', 'list', '--home', home])).stdout).toMatch(/officer@example.com +officer +active/);
  });

  it('account add and passwd refuse a common password or the email, naming the source', async () => {
    const pwFile = join(home, '..', 'pw-common.txt');
    writeFileSync(pwFile, 'Baseball\n');
    const add = await estuary(['account', 'add', 'weak@example.com', '--password-file', pwFile, '--home', home]);
    expect(add.code).toBe(2);
    expect(add.stderr).toContain(`${pwFile}: this password is one of the most common passwords; choose another`);
    const env = await estuary(['account', 'add', 'weak@example.com', '--home', home], { env: { ESTUARY_PASSWORD: 'WEAK@example.com' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/ESTUARY_PASSWORD: a password cannot be the account's email address/);
    expect((await estuary(['account', 'list', '--home', home])).stdout).not.toMatch(/weak@example.com/);
    const passwd = await estuary(['account', 'passwd', init.estAccount.email, '--home', home], { env: { ESTUARY_PASSWORD: 'password1' } });
    expect(passwd.code).toBe(2);
    expect(passwd.stderr).toMatch(/most common passwords/);
    expect((await enroll()).status).toBe(200);
  });

  it('account unlock lifts a lock that failed HTTP Basic attempts set, in the running server', async () => {
    const pwFile = join(home, '..', 'pw-locked.txt');
    writeFileSync(pwFile, 'locked-device-password\n');
    expect((await estuary(['account', 'add', 'locked@example.com', '--password-file', pwFile, '--home', home])).code).toBe(0);
    for (let i = 0; i < 10; i++) expect((await enroll('/simpleenroll', { user: 'locked@example.com', password: `guess-${i}` })).status).toBe(401);
    const locked = await enroll('/simpleenroll', { user: 'locked@example.com', password: 'locked-device-password' });
    expect(locked.status).toBe(429);
    expect(locked.text).toMatch(/too many failed authentication attempts for account locked@example.com/);
    const unlock = await estuary(['account', 'unlock', 'locked@example.com', '--home', home]);
    expect(unlock.code, unlock.stderr).toBe(0);
    expect(unlock.stdout).toMatch(/account locked@example.com unlocked/);
    expect((await enroll('/simpleenroll', { user: 'locked@example.com', password: 'locked-device-password' })).status).toBe(200);
    expect((await estuary(['account', 'unlock', 'nobody@example.com', '--home', home])).stderr).toMatch(/no account nobody@example.com/);
  });

  it('profiles: add with TLS client auth, show its URL and anchors, disable and enable', async () => {
    const ca = await makeDeviceCa();
    const anchors = join(home, '..', 'device-ca.pem');
    writeFileSync(anchors, ca.pem);
    const reserved = await estuary(['profile', 'add', 'csrattrs', '--home', home]);
    expect(reserved.code).toBe(2);
    expect(reserved.stderr).toMatch(/"csrattrs" is an EST operation name and cannot be a label \(RFC 7030 §3\.2\.2/);
    const noAnchors = await estuary(['profile', 'add', 'devices', '--auth', 'tls-client-cert', '--home', home]);
    expect(noAnchors.code).toBe(2);
    expect(noAnchors.stderr).toMatch(/--trust-anchors/);
    const add = await estuary(['profile', 'add', 'devices', '--auth', 'tls-client-cert', '--trust-anchors', anchors, '--validity-days', '30', '--key-algorithms', 'ec:P-256', '--home', home]);
    expect(add.code, add.stderr).toBe(0);
    const show = await estuary(['profile', 'show', 'devices', '--home', home, '--json']);
    const view = JSON.parse(show.stdout);
    expect(view.estUrls).toEqual(['https://127.0.0.1:8443/.well-known/est/devices']);
    expect(view.auth).toBe('tls-client-cert');
    expect(view.clientTrustAnchors[0].subject).toMatch(/Enterprise Device CA/);
    expect(view.deviceRevocation).toEqual({ whenUnavailable: 'refuse', crlUrls: {} });
    const fp = view.clientTrustAnchors[0].sha256 as string;
    const colons = fp.toUpperCase().match(/../g)!.join(':');
    const crl = await estuary(['profile', 'set', 'devices', '--crl-unavailable', 'allow', '--anchor-crl', `${colons}=http://crl.example.com/plant.crl`, '--home', home, '--json']);
    expect(crl.code, crl.stderr).toBe(0);
    expect(JSON.parse(crl.stdout).deviceRevocation).toEqual({ whenUnavailable: 'allow', crlUrls: { [fp]: 'http://crl.example.com/plant.crl' } });
    const stray = await estuary(['profile', 'set', 'devices', '--anchor-crl', `${'0'.repeat(64)}=http://crl.example.com/x.crl`, '--home', home]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toMatch(/--anchor-crl: no client trust anchor has the SHA-256 fingerprint 0{64}/);
    expect((await estuary(['profile', 'set', 'devices', '--crl-unavailable', 'never', '--home', home])).stderr).toMatch(/--crl-unavailable: expected refuse or allow, got "never"/);
    const dev = await ca.issue('cli-sensor');
    const csr = await makeCsr({ name: 'CN=cli-sensor' });
    const res = await estRequest(server.base + '/devices/simpleenroll', { ca: rootPem, clientCert: dev, body: csrBody(csr.der), contentType: 'application/pkcs10' });
    expect(res.status, res.text).toBe(200);

    expect((await estuary(['profile', 'set', 'default', '--disable', '--home', home])).code).toBe(0);
    expect((await enroll()).status).toBe(404);
    expect((await estuary(['profile', 'set', 'default', '--enable', '--home', home])).code).toBe(0);
    expect((await enroll()).status).toBe(200);
    const bad = await estuary(['profile', 'set', 'default', '--auth', 'kerberos', '--home', home]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--auth: expected one of basic, tls-client-cert, basic\+tls-client-cert/);
    const list = await estuary(['profile', 'list', '--home', home]);
    expect(list.stdout).toMatch(/devices +enabled +tls-client-cert/);
    const text = await estuary(['profile', 'show', 'devices', '--home', home]);
    expect(text.stdout).toMatch(/^estUrls: https:\/\/127.0.0.1:8443\/.well-known\/est\/devices$/m);
    expect(text.stdout).toMatch(/^namePolicy: \{"subjectAllowed":\[\]/m);
    expect(text.stdout).toMatch(/^renewal: \{"supersede":false,"once":false,"windowPercent":0\}$/m);
    const renewal = await estuary(['profile', 'set', 'devices', '--renewal-supersede', 'on', '--renewal-once', 'on', '--renewal-window', '20', '--json', '--home', home]);
    expect(renewal.code, renewal.stderr).toBe(0);
    expect(JSON.parse(renewal.stdout).renewal).toEqual({ supersede: true, once: true, windowPercent: 20 });
    expect((await estuary(['profile', 'set', 'devices', '--renewal-window', '120', '--home', home])).stderr).toMatch(/--renewal-window: expected an integer from 0 to 100, got 120/);
    expect((await estuary(['profile', 'set', 'devices', '--renewal-once', 'yes', '--home', home])).stderr).toMatch(/--renewal-once: expected on or off, got "yes"/);
    expect(text.stdout).toContain(`deviceRevocation: {"whenUnavailable":"allow","crlUrls":{"${fp}":"http://crl.example.com/plant.crl"}}`);
    expect(text.stdout).toMatch(/^ {2}- CN=Enterprise Device CA, O=Example {2}sha256=[0-9a-f]{64}/m);
  });

  it('cert revoke: the certificate is listed as revoked, in the published CRL, and can no longer renew', async () => {
    const res = await enroll();
    expect(res.status).toBe(200);
    const serial = JSON.parse((await estuary(['cert', 'list', '--home', home, '--json'])).stdout)[0].serial as string;
    const bad = await estuary(['cert', 'revoke', serial, '--reason', 'stolen', '--home', home]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--reason: expected one of unspecified, keyCompromise/);
    const r = await estuary(['cert', 'revoke', serial, '--reason', 'keyCompromise', '--home', home]);
    expect(r.code, r.stderr).toBe(0);
    expect((await estuary(['cert', 'revoke', serial, '--reason', 'keyCompromise', '--home', home])).stderr).toMatch(/already revoked/);
    expect((await estuary(['cert', 'show', serial, '--home', home])).stdout).toMatch(/status: revoked/);
    const crlBase = /CRLs published at (http:\/\/\S+)\/<ca>\.crl/.exec(server.output())![1]!;
    const crl = Buffer.from(await (await fetch(`${crlBase}/default.crl`)).arrayBuffer());
    const text = await new Promise<string>((resolve, reject) => {
      const p = execFile('openssl', ['crl', '-inform', 'DER', '-noout', '-text'], { encoding: 'utf8' }, (err, out) => (err ? reject(err) : resolve(out)));
      p.stdin!.end(crl);
    });
    expect(text.toLowerCase()).toContain(`serial number: ${serial}`);
    const audit = await estuary(['cert', 'list', '--status', 'revoked', '--home', home, '--json']);
    expect(JSON.parse(audit.stdout).map((c: { serial: string }) => c.serial)).toContain(serial);
  });

  it('cert release: a certificateHold is undone (valid again, off the published CRL); other revocations are final', async () => {
    const res = await enroll();
    expect(res.status).toBe(200);
    const serial = JSON.parse((await estuary(['cert', 'list', '--home', home, '--json'])).stdout)[0].serial as string;
    const crlBase = /CRLs published at (http:\/\/\S+)\/<ca>\.crl/.exec(server.output())![1]!;
    const crlText = async (): Promise<string> => {
      const crl = Buffer.from(await (await fetch(`${crlBase}/default.crl`)).arrayBuffer());
      return (await new Promise<string>((resolve, reject) => {
        const p = execFile('openssl', ['crl', '-inform', 'DER', '-noout', '-text'], { encoding: 'utf8' }, (err, out) => (err ? reject(err) : resolve(out)));
        p.stdin!.end(crl);
      })).toLowerCase();
    };
    expect((await estuary(['cert', 'release', serial, '--home', home])).stderr).toMatch(/is not on hold \(not revoked\)/);
    expect((await estuary(['cert', 'revoke', serial, '--reason', 'certificateHold', '--home', home])).code).toBe(0);
    expect(await crlText()).toContain(`serial number: ${serial}`);
    const released = await estuary(['cert', 'release', serial, '--home', home]);
    expect(released.code, released.stderr).toBe(0);
    expect(released.stdout).toMatch(/released from hold: valid again/);
    const shown = JSON.parse((await estuary(['cert', 'show', serial, '--json', '--home', home])).stdout);
    expect(shown).toMatchObject({ status: 'valid', revokedAt: null, revocationReason: null, revokedBy: null });
    expect(await crlText()).not.toContain(`serial number: ${serial}`);
    const revoked = JSON.parse((await estuary(['cert', 'list', '--status', 'revoked', '--home', home, '--json'])).stdout)[0].serial as string;
    const final = await estuary(['cert', 'release', revoked, '--home', home]);
    expect(final.code).toBe(2);
    expect(final.stderr).toMatch(/revoked: keyCompromise, which cannot be undone/);
  });

  it('manual approval: profile --approval manual, request list, approve and reject', async () => {
    const add = await estuary(['profile', 'add', 'held', '--approval', 'manual', '--retry-after', '5', '--home', home]);
    expect(add.code, add.stderr).toBe(0);
    const csrA = await makeCsr({ name: 'CN=cli-held-a' });
    const csrB = await makeCsr({ name: 'CN=cli-held-b' });
    const post = (csr: { der: Buffer }) => estRequest(server.base + '/held/simpleenroll', { ca: rootPem, basic: basic(), body: csrBody(csr.der), contentType: 'application/pkcs10' });
    expect((await post(csrA)).status).toBe(202);
    const b202 = await post(csrB);
    expect(b202.status).toBe(202);
    expect(b202.headers['retry-after']).toBe('5');
    const list = JSON.parse((await estuary(['request', 'list', '--json', '--home', home])).stdout) as Array<{ id: number; subject: string; status: string }>;
    const idA = list.find((r) => r.subject === 'CN=cli-held-a')!.id;
    const idB = list.find((r) => r.subject === 'CN=cli-held-b')!.id;
    const table = await estuary(['request', 'list', '--home', home]);
    expect(table.stdout).toMatch(/CN=cli-held-a/);
    expect((await estuary(['request', 'approve', String(idA), '--officer', 'alice@example.com', '--home', home])).code).toBe(0);
    expect((await estuary(['request', 'reject', String(idB), '--reason', 'not on the inventory', '--home', home])).code).toBe(0);
    const again = await estuary(['request', 'approve', String(idA), '--home', home]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/is approved, not pending/);
    expect((await post(csrA)).status).toBe(200);
    const refused = await post(csrB);
    expect(refused.status).toBe(403);
    expect(refused.text).toMatch(/rejected: not on the inventory/);
    const shown = JSON.parse((await estuary(['request', 'show', String(idA), '--json', '--home', home])).stdout);
    expect(shown).toMatchObject({ status: 'issued', decidedBy: 'alice@example.com' });
  });

  it('name policy flags and account restrictions are validated, saved and enforced', async () => {
    const bad = await estuary(['profile', 'add', 'named', '--ip-ranges', '10.0.0.0/99', '--home', home]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/name policy: "10.0.0.0\/99" is not a CIDR range/);
    const add = await estuary(['profile', 'add', 'named', '--san-required', 'dns', '--dns-suffixes', '.devices.example.com', '--subject-pattern', 'CN=dev-[0-9]+', '--forbidden-name', 'test', '--home', home, '--json']);
    expect(add.code, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout).namePolicy).toMatchObject({ sanRequired: ['dns'], dnsSuffixes: ['.devices.example.com'], subjectPatterns: { CN: 'dev-[0-9]+' }, forbiddenNames: ['test'] });
    const post = async (name: string, dns: string[], creds = basic()) => estRequest(server.base + '/named/simpleenroll', { ca: rootPem, basic: creds, body: csrBody((await makeCsr({ name, dns })).der), contentType: 'application/pkcs10' });
    expect((await post('CN=dev-1', ['dev-1.devices.example.com'])).status).toBe(200);
    expect((await post('CN=dev-1', ['dev-1.example.com'])).status).toBe(403);
    const r = await estuary(['account', 'restrict', init.estAccount.email, '--allowed-names', 'dev-2,dev-2.devices.example.com', '--home', home]);
    expect(r.code, r.stderr).toBe(0);
    expect((await post('CN=dev-1', ['dev-1.devices.example.com'])).status).toBe(403);
    expect((await post('CN=dev-2', ['dev-2.devices.example.com'])).status).toBe(200);
    expect((await estuary(['account', 'restrict', init.estAccount.email, '--allowed-names', '', '--home', home])).code).toBe(0);
    expect((await post('CN=dev-1', ['dev-1.devices.example.com'])).status).toBe(200);
  });

  it('client binding, wildcard and cap flags are validated, saved and shown; account globs take type prefixes', async () => {
    const ca = await makeDeviceCa();
    const anchors = join(home, '..', 'binding-ca.pem');
    writeFileSync(anchors, ca.pem);
    const fp = new X509Certificate(ca.pem).fingerprint256;
    const badMode = await estuary(['profile', 'add', 'bound', '--auth', 'tls-client-cert', '--trust-anchors', anchors, '--client-binding', 'loose', '--home', home]);
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toMatch(/--client-binding: unknown client binding mode "loose"/);
    const badFp = await estuary(['profile', 'add', 'bound', '--auth', 'tls-client-cert', '--trust-anchors', anchors, '--anchor-names', 'abcd=dev-*', '--home', home]);
    expect(badFp.code).toBe(2);
    expect(badFp.stderr).toMatch(/--anchor-names: "abcd" is not a SHA-256 fingerprint/);
    const add = await estuary(['profile', 'add', 'bound', '--auth', 'tls-client-cert', '--trust-anchors', anchors, '--client-binding', 'anchor-names',
      '--anchor-names', `${fp}=dev-*,dns:*.devices.example.com`, '--anchor-subject-pattern', `${fp}/O=Example`, '--wildcards', 'on', '--max-sans', '5', '--max-rdns', '4', '--max-subject-bytes', '256', '--home', home, '--json']);
    expect(add.code, add.stderr).toBe(0);
    const view = JSON.parse(add.stdout);
    expect(view.namePolicy).toMatchObject({
      allowWildcards: true, maxSans: 5, maxRdns: 4, maxSubjectBytes: 256,
      clientBinding: { mode: 'anchor-names', attributes: [], anchors: [{ fingerprintSha256: fp.replace(/:/g, '').toLowerCase(), names: ['dev-*', 'dns:*.devices.example.com'], subjectPatterns: { O: 'Example' } }] },
    });
    expect(view.clientNameBinding).toMatch(/^anchor-names: .*\(1 configured\)/);
    const dev = await ca.issue('anyone');
    const post = async (name: string) => estRequest(server.base + '/bound/simpleenroll', { ca: rootPem, clientCert: dev, body: csrBody((await makeCsr({ name })).der), contentType: 'application/pkcs10' });
    expect((await post('CN=dev-5, O=Example')).status).toBe(200);
    expect((await post('CN=ceo-laptop')).status).toBe(403);
    expect((await estuary(['profile', 'set', 'bound', '--client-binding', 'free', '--home', home])).code).toBe(0);
    expect((await estuary(['profile', 'show', 'bound', '--home', home])).stdout).toMatch(/^clientNameBinding: free: NOT bound/m);
    expect((await post('CN=ceo-laptop')).status).toBe(200);
    const badGlob = await estuary(['account', 'restrict', init.estAccount.email, '--allowed-names', 'mail:*@example.com', '--home', home]);
    expect(badGlob.code).toBe(2);
    expect(badGlob.stderr).toMatch(/--allowed-names: "mail:\*@example.com": unknown name type prefix "mail:"/);
    expect((await estuary(['account', 'restrict', init.estAccount.email, '--allowed-names', 'dns:*.example.com,email:*@example.com', '--home', home])).code).toBe(0);
    expect((await estuary(['account', 'restrict', init.estAccount.email, '--allowed-names', '', '--home', home])).code).toBe(0);
  });

  it('every command has --help', { timeout: 300_000 }, async () => {
    for (const cmd of [[], ['init'], ['serve'], ['start'], ['account'], ['account', 'add'], ['account', 'list'], ['account', 'passwd'], ['account', 'disable'], ['account', 'restrict'], ['account', 'unlock'], ['profile'], ['profile', 'add'], ['profile', 'list'], ['profile', 'show'], ['profile', 'set'], ['cert'], ['cert', 'list'], ['cert', 'show'], ['cert', 'revoke'], ['request'], ['request', 'list'], ['request', 'show'], ['request', 'approve'], ['request', 'reject']]) {
      const r = await estuary([...cmd, '--help']);
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.stdout, cmd.join(' ')).toMatch(/^Usage: estuary/);
    }
  });
});

describe('configuration and lifecycle', () => {
  it('refuses to start on an invalid config, naming the field', async () => {
    const bad = join(tempDir(), 'bad');
    expect((await estuary(['init', '--home', bad, '--json'])).code).toBe(0);
    const file = join(bad, 'estuary.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('listen: 127.0.0.1:8443', 'listen: nowhere'));
    const r = await estuary(['serve', '--home', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/est\.listen: expected host:port/);
    writeFileSync(file, readFileSync(file, 'utf8').replace('listen: nowhere', 'listen: 127.0.0.1:0\n  colour: blue'));
    const r2 = await estuary(['serve', '--home', bad]);
    expect(r2.stderr).toMatch(/est\.colour: unknown setting/);
  });

  it('start initializes a missing home, then serves', async () => {
    const fresh = join(tempDir(), 'fresh');
    const s = await serveHome(fresh, 'start');
    expect(s.output()).toMatch(/EST account: +est@estuary.local +password: \S+/);
    const res = await estRequest(s.base + '/cacerts', { ca: readFileSync(join(fresh, 'ca', 'root.pem'), 'utf8') });
    expect(res.status).toBe(200);
    for (let i = 0; i < 50 && !/Web RA listening/.test(s.output()); i++) await new Promise((r) => setTimeout(r, 100));
    const admin = /Web RA listening on (https:\/\/127\.0\.0\.1:\d+\/)/.exec(s.output());
    expect(admin, s.output()).not.toBeNull();
    const api = await estRequest(`${admin![1]}api/openapi.json`, { ca: readFileSync(join(fresh, 'ca', 'root.pem'), 'utf8') });
    expect(JSON.parse(api.text).openapi).toBe('3.1.0');
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('SIGTERM drains an in-flight request and exits 0', async () => {
    const { request } = await import('node:https');
    const csr = await makeCsr({ name: 'CN=drain' });
    const b64 = csrBody(csr.der);
    const pending = new Promise<number>((resolve, reject) => {
      const req = request(server.base + '/simpleenroll', {
        method: 'POST',
        ca: rootPem,
        agent: false,
        headers: { 'content-type': 'application/pkcs10', authorization: 'Basic ' + Buffer.from(`${basic().user}:${basic().password}`).toString('base64') },
      }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
      req.on('error', reject);
      req.write(b64.slice(0, 40)); // the request is in flight: headers and part of the body sent
      setTimeout(() => {
        server.child.kill('SIGTERM');
        setTimeout(() => { req.write(b64.slice(40)); req.end(); }, 300);
      }, 300);
    });
    expect(await pending).toBe(200);
    expect(await server.exited).toBe(0);
    const certs = JSON.parse((await estuary(['cert', 'list', '--home', home, '--json'])).stdout) as Array<{ subject: string }>;
    expect(certs[0]!.subject).toBe('CN=drain');
  });
});

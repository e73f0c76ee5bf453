/**
 * `estuary ca add|list|show|test`, run as the built command (dist/cli/main.js) against a real
 * upstream Estuary served in this process over TLS on 127.0.0.1.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintSha256 } from '../../src/client/trust.js';
import { loadConfig } from '../../src/cli/config.js';
import { pemBlocks } from '../../src/pki/base64.js';
import { OID } from '../../src/pki/oids.js';
import { openSqliteStore } from '../../src/store/sqlite-store.js';
import { estuary, type CliRun } from '../helpers/cli.js';
import { certsFrom, csrBody, estRequest } from '../helpers/est-http.js';
import { makeHome, startServer, type TestHome, type TestServer, sqlitePath } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { makeDeviceCa } from '../helpers/device-ca.js';

let up: TestServer;
let upStopped = false;
let raHome: TestHome;
let ra: TestServer | undefined;
let upUrl: string;
let upRootSha256: string;

const CLI_TIMEOUT = 120_000;
const yamlText = (): string => readFileSync(join(raHome.home, 'estuary.yaml'), 'utf8');
const run = (args: string[], env: Record<string, string> = {}): Promise<CliRun> => estuary([...args, '--home', raHome.home], { timeoutMs: CLI_TIMEOUT, env });
const addUpstream = (id: string, more: string[]): Promise<CliRun> => run(['ca', 'add', id, '--type', 'est', '--url', upUrl, ...more]);

beforeAll(async () => {
  up = await startServer();
  upUrl = `https://127.0.0.1:${up.port}`;
  upRootSha256 = fingerprintSha256(pemBlocks(up.rootPem)[0]!);
  raHome = await makeHome();
  writeFileSync(join(raHome.home, 'upstream-root.pem'), up.rootPem);
  writeFileSync(join(raHome.home, 'upstream.password'), up.summary.estAccount.password + '\n', { mode: 0o600 });
  writeFileSync(join(raHome.home, 'wrong.password'), 'not-the-password-at-all\n', { mode: 0o600 });
  writeFileSync(join(raHome.home, 'loose.password'), up.summary.estAccount.password, { mode: 0o644 });
});

afterAll(async () => {
  await ra?.runtime.close();
  if (!upStopped) await up?.runtime.close();
});

// Each test runs several commands one after another: generous on a loaded two-core machine.
describe('estuary ca', { timeout: 300_000 }, () => {
  it('add writes an est connector into estuary.yaml, leaving every other line as it was, and audits it', async () => {
    const before = yamlText();
    expect(before).toMatch(/^ {2}# corp:\n {2}# {3}type: est$/m); // the commented example of the default configuration
    const r = await addUpstream('upstream', ['--trust-anchor', 'upstream-root.pem', '--basic-user', up.summary.estAccount.email, '--password-file', 'upstream.password']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/CA connector "upstream" \(type est\) added/);
    expect(r.stdout).toMatch(/A running server takes it up at once/);
    expect(r.stdout).toContain('estuary profile set <label> --ca upstream');
    const after = yamlText();
    // the new entry is the only difference: comments, their columns and blank lines stay byte for byte
    const entry = /^ {2}upstream:\n(?: {4}.*\n)+/m.exec(after);
    expect(entry, after).not.toBeNull();
    expect(after.replace(entry![0], '')).toBe(before);
    expect(entry![0]).not.toContain(up.summary.estAccount.password);
    const c = loadConfig(raHome.home).cas.upstream!;
    expect(c.type).toBe('est');
    expect(c.type === 'est' && c.auth.basic?.passwordFile).toBe(join(raHome.home, 'upstream.password'));
    const store = openSqliteStore(sqlitePath(loadConfig(raHome.home)));
    try {
      const events = await store.listAudit({ action: 'ca.add' });
      expect(events).toHaveLength(1);
      expect(events[0]!.actor).toMatch(/^cli:.+/);
      expect(events[0]!.detail).toBe(`upstream: type est, ${upUrl}`);
    } finally {
      await store.close();
    }
  });

  it('add refuses bad input with a message naming the problem, and leaves estuary.yaml unchanged', async () => {
    const before = yamlText();
    const email = up.summary.estAccount.email;
    const cases: Array<[string[], RegExp]> = [
      [['ca', 'add', 'bad', '--type', 'est', '--url', upUrl, '--trust-anchor', 'nope.pem', '--basic-user', email, '--password-file', 'upstream.password'], /--trust-anchor: nope\.pem \(in .*\) does not exist/],
      [['ca', 'add', 'bad', '--type', 'est', '--url', upUrl, '--trust-anchor', 'upstream-root.pem', '--bootstrap-fingerprint', upRootSha256, '--basic-user', email, '--password-file', 'upstream.password'], /either --trust-anchor FILE .* or --bootstrap-fingerprint/],
      [['ca', 'add', 'bad', '--type', 'est', '--url', upUrl, '--bootstrap-fingerprint', 'AB:CD', '--basic-user', email, '--password-file', 'upstream.password'], /--bootstrap-fingerprint: "AB:CD" is not a SHA-256 fingerprint/],
      [['ca', 'add', 'upstream', '--type', 'est', '--url', upUrl, '--trust-anchor', 'upstream-root.pem', '--basic-user', email, '--password-file', 'upstream.password'], /cas\.upstream already exists \(type est\); --force replaces it/],
      [['ca', 'add', 'bad', '--type', 'est', '--url', `http://127.0.0.1:${up.port}`, '--trust-anchor', 'upstream-root.pem', '--basic-user', email, '--password-file', 'upstream.password'], /estuary\.yaml was not changed: cas\.bad\.url: the upstream EST server must be https:\/\//],
      [['ca', 'add', 'bad', '--type', 'est', '--url', upUrl, '--trust-anchor', 'upstream-root.pem', '--basic-user', email, '--password-file', 'upstream.password', '--timeout', '0'], /was not changed: cas\.bad\.timeoutSeconds: expected a whole number from 1 to 600/],
      [['ca', 'add', 'bad', '--type', 'est', '--url', upUrl, '--trust-anchor', 'upstream-root.pem', '--basic-user', email, '--password-file', 'upstream.password', '--reenroll', 'sometimes'], /cas\.bad\.reenroll: expected one of enroll, forward/],
      [['ca', 'add', 'bad', '--type', 'est', '--url', upUrl, '--trust-anchor', 'upstream-root.pem', '--basic-user', email], /--basic-user needs exactly one of --password-file FILE and --password-env NAME/],
      [['ca', 'add', 'bad', '--type', 'est', '--url', upUrl, '--trust-anchor', 'upstream-root.pem'], /how the RA authenticates to the upstream CA is required/],
      [['ca', 'add', 'bad', '--type', 'est', '--url', upUrl, '--trust-anchor', 'upstream-root.pem', '--basic-user', email, '--password-file', 'loose.password'], /--password-file: password file .*loose\.password is accessible to group and others .*chmod 600/],
      [['ca', 'add', 'bad', '--type', 'est', '--url', upUrl, '--trust-anchor', 'upstream-root.pem', '--ra-cert', 'ca/issuing.pem', '--ra-key', 'ca/root-key.pem'], /--ra-key: ca\/root-key\.pem \(in .*\) is not the key of the certificate in ca\/issuing\.pem/],
      [['ca', 'add', 'bad', '--type', 'est', '--url', upUrl, '--trust-anchor', 'ca/root-key.pem', '--basic-user', email, '--password-file', 'upstream.password'], /--trust-anchor: ca\/root-key\.pem \(in .*\) holds no PEM certificate/],
      [['ca', 'add', 'bad', '--type', 'est', '--certificate', 'ca/issuing.pem', '--url', upUrl], /--certificate applies to --type local, not --type est/],
      [['ca', 'add', 'bad', '--type', 'local', '--certificate', 'ca/issuing.pem', '--key', 'ca/root-key.pem'], /--key: ca\/root-key\.pem \(in .*\) is not the key of the certificate in ca\/issuing\.pem/],
      [['ca', 'add', 'bad', '--type', 'pkcs11'], /--type: "pkcs11" is not a CA connector type \(known: local, est\)/],
      [['ca', 'add', 'a.b', '--type', 'est'], /"a\.b" is not a CA id/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect(r.code, `${args.join(' ')}\n${r.stdout}${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(yamlText(), args.join(' ')).toBe(before);
    }
  });

  it('the RA loads the added connector (loadConfig + createRuntime) and enrolls through it', async () => {
    ra = await startServer(raHome);
    const set = await run(['profile', 'set', 'default', '--ca', 'upstream']);
    expect(set.code, set.stderr).toBe(0);
    const csr = await makeCsr({ name: 'CN=through-the-ra' });
    const basic = { user: ra.summary.estAccount.email, password: ra.summary.estAccount.password };
    const res = await estRequest(ra.base + '/simpleenroll', { ca: ra.rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });
    expect(res.status, res.text).toBe(200);
    const cert = new X509Certificate(certsFrom(res)[0]!);
    const upIssuing = new X509Certificate(readFileSync(join(up.home, 'ca', 'issuing.pem')));
    expect(cert.verify(upIssuing.publicKey)).toBe(true);
  });

  it('list shows each connector with its type, target and profiles', async () => {
    const r = await run(['ca', 'list', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(rows).toEqual([
      { id: 'default', type: 'local', kind: 'Built-in CA', target: 'CN=Estuary Issuing CA, O=Estuary', profiles: [] },
      { id: 'upstream', type: 'est', kind: 'Upstream EST CA', target: upUrl, profiles: ['default'] },
    ]);
    const text = await run(['ca', 'list']);
    expect(text.stdout).toMatch(/^upstream +est +Upstream EST CA +https:\/\/127\.0\.0\.1:\d+ +default$/m);
  });

  it('show describes an est connector without its password: trust, auth, modes and the upstream chain kept on disk', async () => {
    const r = await run(['ca', 'show', 'upstream', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain(up.summary.estAccount.password);
    const v = JSON.parse(r.stdout) as {
      url: string; kind: string; reenroll: string; serverKeygen: string; profiles: string[];
      trust: { trustAnchors: Array<{ certificates: Array<{ sha256: string }> }> };
      auth: { mode: string; basic: { user: string; passwordFile: string } };
      upstreamChain: { file: string; certificates: Array<{ sha256: string; notAfter: string }> };
    };
    expect(v).toMatchObject({ url: upUrl, kind: 'Upstream EST CA', reenroll: 'enroll', serverKeygen: 'forward', profiles: ['default'] });
    expect(v.trust.trustAnchors[0]!.certificates[0]!.sha256).toBe(upRootSha256);
    expect(v.auth).toEqual({ mode: 'basic', basic: { user: up.summary.estAccount.email, passwordFile: join(raHome.home, 'upstream.password') } });
    // the RA fetched the upstream's /cacerts when it started and kept them
    expect(v.upstreamChain.file).toBe(join(raHome.home, 'ca', 'upstream.upstream-cacerts.pem'));
    expect(v.upstreamChain.certificates.map((c) => c.sha256)).toContain(upRootSha256);
    const text = await run(['ca', 'show', 'upstream']);
    expect(text.stdout).not.toContain(up.summary.estAccount.password);
    expect(text.stdout).toContain(`sha256: ${upRootSha256}`);
    const local = JSON.parse((await run(['ca', 'show', 'default', '--json'])).stdout) as { subject: string; chain: Array<{ certificates: Array<{ sha256: string }> }>; crl: { servedAt: string } };
    expect(local.subject).toBe('CN=Estuary Issuing CA, O=Estuary');
    expect(local.chain[0]!.certificates[0]!.sha256).toBe(fingerprintSha256(pemBlocks(raHome.rootPem)[0]!));
    expect(local.crl.servedAt).toMatch(/\/crl\/default\.crl$/);
    const missing = await run(['ca', 'show', 'nope']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no CA connector "nope" .*\(known: default, upstream\)/);
  });

  it('test reports a healthy upstream: its CA chain, the RA credentials accepted, exit 0', async () => {
    const r = await run(['ca', 'test', 'upstream']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/CA connector upstream \(type est\): OK/);
    expect(r.stdout).toContain(`CN=Estuary Root CA, O=Estuary  sha256=${upRootSha256}`);
    expect(r.stdout).toMatch(/^credentials: accepted$/m);
    expect(r.stdout).toMatch(/^TLS handshakes: [1-9]\d*/m);
    const json = JSON.parse((await run(['ca', 'test', 'upstream', '--json'])).stdout) as { ok: boolean; upstream: { credentials: string; handshakes: number } };
    expect(json.ok).toBe(true);
    expect(json.upstream.credentials).toBe('accepted');
    expect(json.upstream.handshakes).toBeGreaterThan(0);
  });

  it('test says when the upstream refuses the RA\'s password (exit 4)', async () => {
    const added = await addUpstream('wrongpw', ['--trust-anchor', 'upstream-root.pem', '--basic-user', up.summary.estAccount.email, '--password-file', 'wrong.password']);
    expect(added.code, added.stderr).toBe(0);
    const r = await run(['ca', 'test', 'wrongpw']);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^estuary: ca test wrongpw: the upstream CA ${upUrl.replace(/\./g, '\\.')} refused the RA's credentials`));
    expect(r.stdout).toMatch(/^credentials: refused$/m);
  });

  it('test says when the upstream\'s TLS certificate is not trusted (exit 3)', async () => {
    const added = await addUpstream('wrongtrust', ['--trust-anchor', 'ca/root.pem', '--basic-user', up.summary.estAccount.email, '--password-file', 'upstream.password']);
    expect(added.code, added.stderr).toBe(0);
    const r = await run(['ca', 'test', 'wrongtrust']);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`^estuary: ca test wrongtrust: the upstream CA ${upUrl.replace(/\./g, '\\.')} is not usable: .*certificate`));
  });

  it('a password from the environment: named in estuary.yaml, read when the connector opens', async () => {
    const added = await addUpstream('envpw', ['--trust-anchor', 'upstream-root.pem', '--basic-user', up.summary.estAccount.email, '--password-env', 'UPSTREAM_RA_PASSWORD']);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stderr).toMatch(/warning: --password-env: UPSTREAM_RA_PASSWORD is not set here/);
    expect(yamlText()).toMatch(/^ {8}passwordEnv: UPSTREAM_RA_PASSWORD$/m);
    const unset = await run(['ca', 'test', 'envpw']);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toMatch(/cas\.envpw\.auth\.basic\.passwordEnv: the environment variable UPSTREAM_RA_PASSWORD is not set/);
    const r = await run(['ca', 'test', 'envpw'], { UPSTREAM_RA_PASSWORD: up.summary.estAccount.password });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^credentials: accepted$/m);
  });

  it('an RA certificate (id-kp-cmcRA) as the RA\'s credential: show names its subject and EKU, test sees it accepted', async () => {
    const device = await makeDeviceCa('CN=RA Issuer, O=Example');
    const raCert = await device.issue('est-ra', { eku: [OID.clientAuth, OID.cmcRA] });
    const p = (await up.runtime.store.getProfile('default'))!;
    await up.runtime.store.createProfile({ ...p, label: 'ra-only', auth: 'tls-client-cert', clientTrustAnchors: [device.pem] });
    writeFileSync(join(raHome.home, 'ra.pem'), raCert.cert);
    writeFileSync(join(raHome.home, 'ra-key.pem'), raCert.key, { mode: 0o600 });
    const added = await addUpstream('racert', ['--label', 'ra-only', '--trust-anchor', 'upstream-root.pem', '--ra-cert', 'ra.pem', '--ra-key', 'ra-key.pem', '--reenroll', 'forward', '--server-keygen', 'local', '--timeout', '20', '--max-connections', '2']);
    expect(added.code, added.stderr).toBe(0);
    const v = JSON.parse((await run(['ca', 'show', 'racert', '--json'])).stdout) as Record<string, unknown>;
    expect(v).toMatchObject({
      label: 'ra-only', reenroll: 'forward', serverKeygen: 'local', timeoutSeconds: 20, maxConnections: 2,
      auth: { mode: 'ra-certificate', raKey: join(raHome.home, 'ra-key.pem'), raCertificate: { subject: 'CN=est-ra', issuer: 'CN=RA Issuer, O=Example', extendedKeyUsage: ['clientAuth', 'cmcRA'], cmcRA: true } },
    });
    expect(JSON.stringify(v)).not.toContain('PRIVATE KEY');
    const r = await run(['ca', 'test', 'racert']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^upstream: https:\/\/127\.0\.0\.1:\d+ \(label ra-only\)$/m);
    expect(r.stdout).toMatch(/^credentials: accepted$/m);
    // a certificate the upstream does not trust for this profile is refused
    const stranger = await (await makeDeviceCa('CN=Stranger CA')).issue('est-ra', { eku: [OID.clientAuth, OID.cmcRA] });
    writeFileSync(join(raHome.home, 'ra.pem'), stranger.cert);
    writeFileSync(join(raHome.home, 'ra-key.pem'), stranger.key, { mode: 0o600 });
    const refused = await run(['ca', 'test', 'racert']);
    expect(refused.code, refused.stdout + refused.stderr).toBe(4);
    expect(refused.stderr).toMatch(/ca test racert: the upstream CA .* \(label ra-only\) refused the RA's credentials/);
  });

  it('add --type local adds a built-in CA from existing files, and test checks its key by signing', async () => {
    const other = await makeHome();
    writeFileSync(join(raHome.home, 'other-issuing.pem'), readFileSync(join(other.home, 'ca', 'issuing.pem')));
    writeFileSync(join(raHome.home, 'other-issuing-key.pem'), readFileSync(join(other.home, 'ca', 'issuing-key.pem')), { mode: 0o600 });
    writeFileSync(join(raHome.home, 'other-root.pem'), other.rootPem);
    const r = await run(['ca', 'add', 'second', '--type', 'local', '--certificate', 'other-issuing.pem', '--key', 'other-issuing-key.pem', '--chain', 'other-root.pem']);
    expect(r.code, r.stderr).toBe(0);
    expect(yamlText()).toMatch(/^ {2}second:\n {4}type: local\n {4}certificate: other-issuing\.pem\n {4}key: other-issuing-key\.pem\n {4}chain:\n {6}- other-root\.pem\n/m);
    const t = await run(['ca', 'test', 'second']);
    expect(t.code, t.stdout + t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^\[ok\] key matches the CA certificate$/m);
    expect(t.stdout).toMatch(/^\[ok\] signs a test TBSCertificate that verifies$/m);
    // a key replaced behind the configuration's back is caught
    writeFileSync(join(raHome.home, 'other-issuing-key.pem'), readFileSync(join(other.home, 'ca', 'root-key.pem')), { mode: 0o600 });
    const bad = await run(['ca', 'test', 'second']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/^estuary: ca test second: key matches the CA certificate: failed/);
    // --force replaces the entry in place
    const replaced = await run(['ca', 'add', 'second', '--type', 'local', '--certificate', 'ca/issuing.pem', '--key', 'ca/issuing-key.pem', '--force']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stdout).toMatch(/CA connector "second" \(type local\) replaced/);
    expect(loadConfig(raHome.home).cas.second).toMatchObject({ type: 'local', certificate: join(raHome.home, 'ca', 'issuing.pem'), chain: [] });
  });

  it('test names a stopped upstream and exits non-zero, showing the chain kept on disk', async () => {
    await up.runtime.close();
    upStopped = true;
    const r = await run(['ca', 'test', 'upstream']);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^estuary: ca test upstream: the upstream CA ${upUrl.replace(/\./g, '\\.')} is not usable: .*ECONNREFUSED`));
    expect(r.stdout).toMatch(/CA certificates \(the copy kept on disk; not fetched now\):/);
    expect(r.stdout).toContain(`sha256=${upRootSha256}`);
  });

  it('is listed by estuary --help, and every ca command has --help', async () => {
    const top = await estuary(['--help']);
    expect(top.stdout).toMatch(/^ {2}ca +CA connectors/m);
    for (const cmd of [['ca'], ['ca', 'add'], ['ca', 'list'], ['ca', 'show'], ['ca', 'test']]) {
      const r = await estuary([...cmd, '--help']);
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.stdout, cmd.join(' ')).toMatch(/^Usage: estuary ca/);
    }
  });
});

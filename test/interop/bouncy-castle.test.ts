/**
 * Interop with Bouncy Castle's EST client (org.bouncycastle.est from Debian's libbcpkix-java),
 * driven by test/interop/bc/BcEstClient.java, compiled with Debian's JDK during the run.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pemBlocks } from '../../src/pki/base64.js';
import { makeDeviceCa } from '../helpers/device-ca.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { compileBcClient, runBc, type BcResult } from './bc-client.js';

let s: TestServer;
let dir: string;
let classes: string;

beforeAll(async () => {
  dir = tempDir('estuary-bc-');
  classes = join(dir, 'classes');
  await compileBcClient(classes);
  s = await startServer();
  writeFileSync(join(dir, 'trust.pem'), s.rootPem);
  const p = (await s.runtime.store.getProfile('default'))!;
  // A profile for "both": client certificates issued by our own root are the device CA here.
  await s.runtime.store.createProfile({ ...p, label: 'both', auth: 'basic+tls-client-cert', clientTrustAnchors: [s.rootPem] });
});
afterAll(async () => {
  await s?.runtime.close();
});

const f = (name: string): string => join(dir, name);
const server = (): string[] => ['--server', `https://127.0.0.1:${s.port}`, '--trust', f('trust.pem')];
const creds = (): string[] => ['--user', s.summary.estAccount.email, '--password', s.summary.estAccount.password];

async function bc(args: string[]): Promise<BcResult> {
  const r = await runBc(classes, args);
  return r;
}

function expectOk(r: BcResult): void {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
}

async function opensslVerify(certFile: string): Promise<string> {
  writeFileSync(f('issuing.pem'), readFileSync(join(s.home, 'ca', 'issuing.pem')));
  const { stdout } = await promisify(execFile)('openssl', ['verify', '-CAfile', f('trust.pem'), '-untrusted', f('issuing.pem'), certFile]);
  return stdout;
}

describe('Bouncy Castle EST client', () => {
  it.each(['1.2', '1.3'])('cacerts over TLS %s', async (tls) => {
    const r = await bc(['cacerts', ...server(), '--tls', tls, '--out', f(`chain-${tls}.pem`)]);
    expectOk(r);
    expect(r.stdout).toMatch(/cacerts ok 2/);
    expect(r.stderr).toContain(`TLSv${tls}`);
    const certs = pemBlocks(readFileSync(f(`chain-${tls}.pem`), 'utf8')).map((d) => new X509Certificate(d));
    expect(certs.map((c) => c.fingerprint256)).toContain(s.summary.rootFingerprintSha256);
  });

  it.each(['ec-p256', 'rsa-2048'])('simpleenroll with HTTP Basic (%s key)', async (key) => {
    const r = await bc(['enroll', ...server(), ...creds(), '--cn', `bc-${key}`, '--dns', `bc-${key}.example`, '--key', key, '--out-cert', f(`bc-${key}.pem`), '--out-key', f(`bc-${key}-key.pem`)]);
    expectOk(r);
    expect(await opensslVerify(f(`bc-${key}.pem`))).toMatch(/OK/);
    const serial = /enroll ok ([0-9a-f]+)/.exec(r.stdout)![1]!;
    const record = await s.runtime.store.getCertificate(serial);
    expect(record?.requester).toBe(s.summary.estAccount.email);
    expect(record?.sans).toEqual([`DNS:bc-${key}.example`]);
  });

  it('simpleenroll with a wrong password fails with 401', async () => {
    const r = await bc(['enroll', ...server(), '--user', s.summary.estAccount.email, '--password', 'not-the-password', '--cn', 'x', '--out-cert', f('x.pem'), '--out-key', f('x-key.pem')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/http-status: 401/);
  });

  it.each(['1.2', '1.3'])('simplereenroll with the TLS client certificate over TLS %s, renew and rekey', async (tls) => {
    const enrolled = await bc(['enroll', ...server(), ...creds(), '--cn', `renew-${tls}`, '--dns', `renew-${tls}.example`, '--out-cert', f(`r-${tls}.pem`), '--out-key', f(`r-${tls}-key.pem`)]);
    expectOk(enrolled);
    const oldSerial = /enroll ok ([0-9a-f]+)/.exec(enrolled.stdout)![1]!;
    const renew = await bc(['reenroll', ...server(), '--tls', tls, '--cert', f(`r-${tls}.pem`), '--key', f(`r-${tls}-key.pem`), '--out-cert', f(`r2-${tls}.pem`)]);
    expectOk(renew);
    expect(renew.stderr).toMatch(/client-cert=true/);
    const newSerial = /reenroll ok ([0-9a-f]+)/.exec(renew.stdout)![1]!;
    expect((await s.runtime.store.getCertificate(newSerial))?.renews).toBe(oldSerial);
    expect(await opensslVerify(f(`r2-${tls}.pem`))).toMatch(/OK/);

    const rekey = await bc(['reenroll', ...server(), '--tls', tls, '--cert', f(`r2-${tls}.pem`), '--key', f(`r-${tls}-key.pem`), '--rekey', '--out-cert', f(`r3-${tls}.pem`), '--out-key', f(`r3-${tls}-key.pem`)]);
    expectOk(rekey);
    const [a, b] = [f(`r2-${tls}.pem`), f(`r3-${tls}.pem`)].map((p) => new X509Certificate(readFileSync(p)));
    expect(b!.subject).toBe(a!.subject);
    expect(b!.publicKey.equals(a!.publicKey)).toBe(false);
  });

  it('simplereenroll with a ChangeSubjectName attribute (RFC 6402 §2.8) built by Bouncy Castle gets the new subject', async () => {
    expectOk(await bc(['enroll', ...server(), ...creds(), '--cn', 'rename-me', '--out-cert', f('rn.pem'), '--out-key', f('rn-key.pem')]));
    const renamed = await bc(['reenroll', ...server(), '--cert', f('rn.pem'), '--key', f('rn-key.pem'), '--change-subject', 'CN=renamed-by-bc,O=Example', '--out-cert', f('rn2.pem')]);
    expectOk(renamed);
    expect(new X509Certificate(readFileSync(f('rn2.pem'))).subject).toBe('CN=renamed-by-bc\nO=Example');
  });

  it('enrolls on a "both" profile with a client certificate and HTTP Basic', async () => {
    const r = await bc(['enroll-tls', ...server(), '--label', 'both', '--cert', f('bc-ec-p256.pem'), '--key', f('bc-ec-p256-key.pem'), '--chain', f('issuing.pem'), ...creds(), '--cn', 'bc-ec-p256', '--out-cert', f('both.pem'), '--out-key', f('both-key.pem')]);
    expectOk(r);
    const without = await bc(['enroll-tls', ...server(), '--label', 'both', '--cert', f('bc-ec-p256.pem'), '--key', f('bc-ec-p256-key.pem'), '--chain', f('issuing.pem'), '--cn', 'both-device', '--out-cert', f('both2.pem'), '--out-key', f('both2-key.pem')]);
    expect(without.code).toBe(2);
    expect(without.stderr).toMatch(/http-status: 401/);
  });

  it('reports why a "both" profile refuses valid Basic credentials without a client certificate', async () => {
    // the bare challenge names Basic and TLS-Client-Certificate; BC answers Basic and gets the reason as text
    const r = await bc(['enroll', ...server(), '--label', 'both', ...creds(), '--cn', 'no-cert', '--out-cert', f('nc.pem'), '--out-key', f('nc-key.pem')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/http-status: 401/);
    expect(r.stderr).toMatch(/http-body: HTTP Basic credentials alone are not enough: a TLS client certificate is required by this profile/);
  });

  it('reports why a TLS client certificate profile refuses a certificate it does not trust', async () => {
    const p = (await s.runtime.store.getProfile('default'))!;
    await s.runtime.store.createProfile({ ...p, label: 'devices', auth: 'tls-client-cert', clientTrustAnchors: [(await makeDeviceCa()).pem] });
    const r = await bc(['enroll-tls', ...server(), '--label', 'devices', '--cert', f('bc-ec-p256.pem'), '--key', f('bc-ec-p256-key.pem'), '--chain', f('issuing.pem'), '--cn', 'devices-1', '--out-cert', f('dev.pem'), '--out-key', f('dev-key.pem')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/http-status: 401/);
    expect(r.stderr).toMatch(/http-body: .*(chain|trust)/i);
  });

  it('enrollPop: proof-of-possession linking with tls-unique under TLS 1.2', async () => {
    const p = (await s.runtime.store.getProfile('default'))!;
    await s.runtime.store.createProfile({ ...p, label: 'pop', popLinking: 'required' });
    // BCJSSE (needed for tls-unique) works with Bouncy Castle's own PKIX trust manager, not the JDK's
    const r = await bc(['enroll-pop', ...server(), '--trust-impl', 'bc', '--label', 'pop', '--tls', '1.2', ...creds(), '--cn', 'bc-pop', '--out-cert', f('pop.pem'), '--out-key', f('pop-key.pem')]);
    expectOk(r);
    expect(r.stdout).toMatch(/enroll-pop ok [0-9a-f]+/);
    // the same client without linking is refused by the profile
    const plain = await bc(['enroll', ...server(), '--label', 'pop', '--tls', '1.2', ...creds(), '--cn', 'bc-nopop', '--out-cert', f('nopop.pem'), '--out-key', f('nopop-key.pem')]);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/http-status: 403/);
  });

  it('serverkeygen: the key Bouncy Castle receives matches the certificate', async () => {
    const r = await bc(['serverkeygen', ...server(), ...creds(), '--cn', 'bc-keygen', '--out-cert', f('keygen.pem'), '--out-key', f('keygen-key.pem')]);
    expectOk(r);
    const cert = new X509Certificate(readFileSync(f('keygen.pem')));
    expect(cert.subject).toBe('CN=bc-keygen');
    const key = createPrivateKey(readFileSync(f('keygen-key.pem')));
    expect(cert.publicKey.export({ format: 'jwk' })).toEqual(createPublicKey(key).export({ format: 'jwk' }));
  });

  it('reads csrattrs', async () => {
    const p = (await s.runtime.store.getProfile('default'))!;
    await s.runtime.store.updateProfile({ ...p, csrAttrs: ['challengePassword'] });
    const r = await bc(['csrattrs', ...server()]);
    expectOk(r);
    expect(r.stdout).toMatch(/csrattrs ok 1 1\.2\.840\.113549\.1\.9\.7/);
  });

  it('reads csrattrs that announce several curves (RFC 9908 form)', async () => {
    const p = (await s.runtime.store.getProfile('default'))!;
    await s.runtime.store.createProfile({ ...p, label: 'curves', csrAttrs: [], keyAlgorithms: [{ type: 'ec', curves: ['P-256', 'P-384'] }] });
    const r = await bc(['csrattrs', ...server(), '--label', 'curves']);
    expectOk(r);
    // id-ecPublicKey (its values are the curves), ecdsa-with-SHA384, ecdsa-with-SHA256 (BC does not keep the order)
    expect(r.stdout).toMatch(/csrattrs ok 3 /);
    for (const id of ['1.2.840.10045.2.1', '1.2.840.10045.4.3.3', '1.2.840.10045.4.3.2']) expect(r.stdout).toContain(` ${id}`);
  });
});

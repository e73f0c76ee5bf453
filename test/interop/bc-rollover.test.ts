/**
 * Bouncy Castle's EST client after a CA key rollover (RFC 7030 §4.1.3, `estuary ca rollover`):
 * /cacerts of the rolled profile, fetched and parsed by org.bouncycastle.est, carries NewWithNew,
 * OldWithNew and NewWithOld (matched by fingerprint to the files ca/<id>.g1*.pem the rollover wrote);
 * a certificate Bouncy Castle enrolls afterwards is issued under the new key and verifies (openssl)
 * for a relying party that trusts only the OLD root, through the NewWithOld that Bouncy Castle fetched.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pemBlocks } from '../../src/pki/base64.js';
import { certificateFields } from '../../src/pki/certificate.js';
import { OID } from '../../src/pki/oids.js';
import { estuary } from '../helpers/cli.js';
import { certsFrom, estRequest } from '../helpers/est-http.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { opensslIn } from '../helpers/openssl.js';
import { compileBcClient, runBc, type BcResult } from './bc-client.js';

const ID = 'rolled';
let s: TestServer;
let dir: string;
let classes: string;

async function until(ok: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`waited too long for ${what}`);
}

const cacertsCount = async (): Promise<number> => {
  const res = await estRequest(`${s.base}/${ID}/cacerts`, { ca: s.rootPem });
  return res.status === 200 ? certsFrom(res).length : -1;
};

beforeAll(async () => {
  dir = tempDir('estuary-bc-rollover-');
  classes = join(dir, 'classes');
  await compileBcClient(classes);
  s = await startServer();
  // the TLS server certificate chains to the home's root: the client's TLS trust
  writeFileSync(join(dir, 'tls-trust.pem'), s.rootPem);
  const created = await estuary(['ca', 'create', ID, '--subject', 'CN=Rolled Root, O=Example', '--self-signed', '--home', s.home]);
  expect(created.code, created.stderr).toBe(0);
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: ID, ca: ID });
  await until(async () => (await cacertsCount()) === 1, `/${ID}/cacerts with the new CA`);
}, 180_000);
afterAll(async () => {
  await s?.runtime.close();
});

const f = (name: string): string => join(dir, name);
const server = (): string[] => ['--server', `https://127.0.0.1:${s.port}`, '--trust', f('tls-trust.pem'), '--label', ID];
const creds = (): string[] => ['--user', s.summary.estAccount.email, '--password', s.summary.estAccount.password];
const expectOk = (r: BcResult): void => expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
const certFile = (name: string): X509Certificate => new X509Certificate(readFileSync(join(s.home, 'ca', name)));
const akiOf = (c: X509Certificate): string => certificateFields(c.raw).extensions.get(OID.authorityKeyIdentifier)!.subarray(4).toString('hex');
const skiOf = (c: X509Certificate): string => certificateFields(c.raw).extensions.get(OID.subjectKeyIdentifier)!.subarray(2).toString('hex');

describe('Bouncy Castle EST client after estuary ca rollover', () => {
  it('gets NewWithNew, OldWithNew and NewWithOld from /cacerts, and enrolls under the new key a certificate that verifies with the old root + NewWithOld', async () => {
    const oldRoot = certFile(`${ID}.pem`);
    writeFileSync(f('old-root.pem'), oldRoot.toString());
    // before: Bouncy Castle sees the one root
    const before = await runBc(classes, ['cacerts', ...server(), '--out', f('before.pem')]);
    expectOk(before);
    expect(before.stdout).toMatch(/cacerts ok 1/);

    const run = await estuary(['ca', 'rollover', ID, '--home', s.home]);
    expect(run.code, run.stderr).toBe(0);
    await until(async () => (await cacertsCount()) === 4, '/cacerts with the link certificates');

    const newWithNew = certFile(`${ID}.g1.pem`);
    const oldWithNew = certFile(`${ID}.g1-old-with-new.pem`);
    const newWithOld = certFile(`${ID}.g1-new-with-old.pem`);
    const r = await runBc(classes, ['cacerts', ...server(), '--out', f('after.pem')]);
    expectOk(r);
    expect(r.stdout).toMatch(/cacerts ok 4/);
    const fetched = pemBlocks(readFileSync(f('after.pem'), 'utf8')).map((d) => new X509Certificate(d));
    const prints = fetched.map((c) => c.fingerprint256);
    expect(new Set(prints)).toEqual(new Set([newWithNew, oldWithNew, newWithOld, oldRoot].map((c) => c.fingerprint256)));
    // what each of them is, on the certificates Bouncy Castle handed back
    const got = (c: X509Certificate): X509Certificate => fetched.find((x) => x.fingerprint256 === c.fingerprint256)!;
    expect(got(newWithNew).verify(newWithNew.publicKey)).toBe(true);
    expect(got(oldWithNew).publicKey.equals(oldRoot.publicKey) && got(oldWithNew).verify(newWithNew.publicKey)).toBe(true);
    expect(got(newWithOld).publicKey.equals(newWithNew.publicKey) && got(newWithOld).verify(oldRoot.publicKey)).toBe(true);
    writeFileSync(f('bc-new-with-old.pem'), got(newWithOld).toString());

    const enrolled = await runBc(classes, ['enroll', ...server(), ...creds(), '--cn', 'bc-after-rollover', '--dns', 'bc-after-rollover.example', '--out-cert', f('bc.pem'), '--out-key', f('bc-key.pem')]);
    expectOk(enrolled);
    const cert = new X509Certificate(readFileSync(f('bc.pem')));
    expect(akiOf(cert)).toBe(skiOf(newWithNew));
    expect(cert.verify(newWithNew.publicKey)).toBe(true);
    const viaLink = await opensslIn(dir, ['verify', '-CAfile', 'old-root.pem', '-untrusted', 'bc-new-with-old.pem', 'bc.pem']);
    expect(viaLink.code, viaLink.out).toBe(0);
    expect(viaLink.out).toMatch(/bc\.pem: OK/);
    // the link is what makes it verify: the old root alone does not
    const withoutLink = await opensslIn(dir, ['verify', '-CAfile', 'old-root.pem', 'bc.pem']);
    expect(withoutLink.code).not.toBe(0);
  }, 240_000);
});

/**
 * RFC 7030 §4.1.3 key rollover of a built-in root CA (`estuary ca rollover`), against a running
 * server: /cacerts serves NewWithNew, OldWithNew and NewWithOld; a certificate under the new key
 * verifies with only the OLD root plus NewWithOld (openssl), and with `estuary client`'s chain;
 * certificates of the old key renew and are revoked, and each key keeps signing its own CRL;
 * --activate-at keeps the old key issuing until then.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFields } from '../../src/pki/certificate.js';
import { OID } from '../../src/pki/oids.js';
import { estuary, estuaryClient } from '../helpers/cli.js';
import { certsFrom, csrBody, estRequest, pem } from '../helpers/est-http.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { makeCsr, type TestCsr } from '../helpers/keys.js';
import { opensslIn } from '../helpers/openssl.js';

let s: TestServer;
let dir: string;
const basic = () => ({ user: s.summary.estAccount.email, password: s.summary.estAccount.password });

beforeAll(async () => {
  s = await startServer();
  dir = tempDir();
  for (const [id, subject] of [['rootca', 'CN=Rollover Root, O=Example'], ['later', 'CN=Later Root, O=Example']] as const) {
    const created = await estuary(['ca', 'create', id, '--subject', subject, '--self-signed', '--home', s.home]);
    expect(created.code, created.stderr).toBe(0);
    const p = (await s.runtime.store.getProfile('default'))!;
    await s.runtime.store.createProfile({ ...p, label: id, ca: id });
  }
  await until(async () => (await cacerts('rootca')).length === 1 && (await cacerts('later')).length === 1);
});
afterAll(async () => {
  await s?.runtime.close();
});

async function until(ok: () => Promise<boolean>, what = 'the server to take the change up'): Promise<void> {
  for (let i = 0; i < 80; i++) {
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`waited too long for ${what}`);
}

async function cacerts(label: string): Promise<X509Certificate[]> {
  const res = await estRequest(`${s.base}/${label}/cacerts`, { ca: s.rootPem });
  if (res.status !== 200) throw new Error(`cacerts ${res.status}`);
  return certsFrom(res).map((d) => new X509Certificate(d));
}

async function enroll(label: string, name: string): Promise<{ csr: TestCsr; cert: X509Certificate; pem: string }> {
  const csr = await makeCsr({ name: `CN=${name}` });
  const res = await estRequest(`${s.base}/${label}/simpleenroll`, { ca: s.rootPem, basic: basic(), body: csrBody(csr.der), contentType: 'application/pkcs10' });
  expect(res.status, res.text).toBe(200);
  const der = certsFrom(res)[0]!;
  return { csr, cert: new X509Certificate(der), pem: pem(der) };
}

/** The keyIdentifier of the AuthorityKeyIdentifier (SEQUENCE { [0] keyId }) and of the SubjectKeyIdentifier (OCTET STRING). */
const akiOf = (c: X509Certificate): string => certificateFields(c.raw).extensions.get(OID.authorityKeyIdentifier)!.subarray(4).toString('hex');
const skiOf = (c: X509Certificate): string => certificateFields(c.raw).extensions.get(OID.subjectKeyIdentifier)!.subarray(2).toString('hex');

describe('estuary ca rollover', () => {
  it('serves the link certificates; new certificates verify with the old root and NewWithOld; old ones renew and revoke; each key signs its CRL', async () => {
    const oldRoot = new X509Certificate(readFileSync(join(s.home, 'ca', 'rootca.pem')));
    writeFileSync(join(dir, 'old-root.pem'), oldRoot.toString());
    const before = await enroll('rootca', 'before-rollover');
    expect(before.cert.verify(oldRoot.publicKey)).toBe(true);

    const run = await estuary(['ca', 'rollover', 'rootca', '--home', s.home]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/rolled over: key 1 at ca\/rootca\.g1-key\.pem issues now/);
    await until(async () => (await cacerts('rootca')).length === 4, '/cacerts with the link certificates');

    const certs = await cacerts('rootca');
    const newRoot = new X509Certificate(readFileSync(join(s.home, 'ca', 'rootca.g1.pem')));
    const oldWithNew = new X509Certificate(readFileSync(join(s.home, 'ca', 'rootca.g1-old-with-new.pem')));
    const newWithOld = new X509Certificate(readFileSync(join(s.home, 'ca', 'rootca.g1-new-with-old.pem')));
    // NewWithNew first (it issues now), then OldWithNew, NewWithOld and the old root
    expect(certs.map((c) => c.fingerprint256)).toEqual([newRoot, oldWithNew, newWithOld, oldRoot].map((c) => c.fingerprint256));
    expect(newRoot.verify(newRoot.publicKey)).toBe(true);
    expect(oldWithNew.verify(newRoot.publicKey) && oldWithNew.publicKey.equals(oldRoot.publicKey)).toBe(true);
    expect(newWithOld.verify(oldRoot.publicKey) && newWithOld.publicKey.equals(newRoot.publicKey)).toBe(true);
    for (const c of [newRoot, oldWithNew, newWithOld]) expect(c.subject).toBe(oldRoot.subject);

    // issued under the new key now; a client that trusts only the old root validates it through NewWithOld
    const after = await enroll('rootca', 'after-rollover');
    expect(akiOf(after.cert)).toBe(skiOf(newRoot));
    writeFileSync(join(dir, 'new-with-old.pem'), newWithOld.toString());
    writeFileSync(join(dir, 'old-with-new.pem'), oldWithNew.toString());
    writeFileSync(join(dir, 'new-root.pem'), newRoot.toString());
    writeFileSync(join(dir, 'after.pem'), after.pem);
    writeFileSync(join(dir, 'before.pem'), before.pem);
    const viaLink = await opensslIn(dir, ['verify', '-CAfile', 'old-root.pem', '-untrusted', 'new-with-old.pem', 'after.pem']);
    expect(viaLink.code, viaLink.out).toBe(0);
    const withoutLink = await opensslIn(dir, ['verify', '-CAfile', 'old-root.pem', 'after.pem']);
    expect(withoutLink.code).not.toBe(0);
    // and one that trusts only the new root validates the old key's certificates through OldWithNew
    const oldViaNew = await opensslIn(dir, ['verify', '-CAfile', 'new-root.pem', '-untrusted', 'old-with-new.pem', 'before.pem']);
    expect(oldViaNew.code, oldViaNew.out).toBe(0);

    // estuary client: its chain file holds what a client trusting the old root needs
    const chainFile = join(dir, 'client-chain.pem');
    const passwordFile = join(dir, 'est.password');
    writeFileSync(passwordFile, basic().password, { mode: 0o600 });
    const client = await estuaryClient(['enroll', '--server', s.base.replace('/.well-known/est', ''), '--label', 'rootca', '--ca', join(s.home, 'ca', 'root.pem'),
      '--user', basic().user, '--password-file', passwordFile, '--cn', 'client-after', '--out-key', join(dir, 'client.key'), '--out-cert', join(dir, 'client.pem'), '--out-chain', chainFile]);
    expect(client.code, client.stderr).toBe(0);
    const clientVerify = await opensslIn(dir, ['verify', '-CAfile', 'old-root.pem', '-untrusted', chainFile, 'client.pem']);
    expect(clientVerify.code, clientVerify.out).toBe(0);

    // a certificate of the old key renews (RFC 7030 §4.2.2), now under the new key
    const again = await makeCsr({ name: 'CN=before-rollover', keys: before.csr.keys });
    const renewed = await estRequest(`${s.base}/rootca/simplereenroll`, { ca: s.rootPem, body: csrBody(again.der), contentType: 'application/pkcs10', clientCert: { cert: before.pem, key: before.csr.keyPem } });
    expect(renewed.status, renewed.text).toBe(200);
    expect(akiOf(new X509Certificate(certsFrom(renewed)[0]!))).toBe(skiOf(newRoot));

    // revocation: each key signs its own CRL, and both list the CA's revoked certificates
    const serial = certificateFields(after.cert.raw).serialHex;
    expect(await s.runtime.store.revokeCertificate(serial, 'keyCompromise', new Date())).toBe(true);
    for (const [name, issuer] of [['rootca', 'old-root.pem'], ['rootca.g1', 'new-root.pem']] as const) {
      const res = await fetch(`${s.runtime.crlBaseUrl()}/${name}.crl`);
      expect(res.status, name).toBe(200);
      writeFileSync(join(dir, `${name}.crl`), Buffer.from(await res.arrayBuffer()));
      const text = await opensslIn(dir, ['crl', '-inform', 'DER', '-in', `${name}.crl`, '-CAfile', issuer, '-noout', '-text']);
      expect(text.out, name).toMatch(/verify OK/);
      expect(text.out.toLowerCase()).toContain(`serial number: ${serial}`);
    }
    expect((await fetch(`${s.runtime.crlBaseUrl()}/rootca.g2.crl`)).status).toBe(404);
    // OCSP: each key answers for its own certificates (RFC 6960 §4.2.2.2), verified up to that key's root
    const ocspUrl = `${s.runtime.crlBaseUrl()!.replace(/\/crl$/, '/ocsp')}/rootca`;
    const oldKey = await opensslIn(dir, ['ocsp', '-issuer', 'old-root.pem', '-cert', 'before.pem', '-url', ocspUrl, '-CAfile', 'old-root.pem', '-verify_other', 'old-root.pem']);
    expect(oldKey.out).toMatch(/Response verify OK/);
    expect(oldKey.out).toMatch(/before\.pem: (good|revoked)/);
    const newKey = await opensslIn(dir, ['ocsp', '-issuer', 'new-root.pem', '-cert', 'after.pem', '-url', ocspUrl, '-CAfile', 'new-root.pem', '-verify_other', 'new-root.pem']);
    expect(newKey.out).toMatch(/Response verify OK/);
    expect(newKey.out).toMatch(/after\.pem: revoked/);
    const audit = await s.runtime.store.listAudit({ limit: 50 });
    expect(audit.some((e) => e.action === 'ca.rollover' && e.detail?.startsWith('rootca: key 1'))).toBe(true);
  });

  it('--activate-at: the old key keeps issuing until then, while /cacerts already serves the new certificates', async () => {
    const oldRoot = new X509Certificate(readFileSync(join(s.home, 'ca', 'later.pem')));
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const run = await estuary(['ca', 'rollover', 'later', '--activate-at', at, '--home', s.home]);
    expect(run.code, run.stderr).toBe(0);
    await until(async () => (await cacerts('later')).length === 4, '/cacerts with the link certificates');
    const certs = await cacerts('later');
    expect(certs[0]!.fingerprint256).toBe(oldRoot.fingerprint256); // the key that issues is still the old one
    const issued = await enroll('later', 'still-old-key');
    expect(issued.cert.verify(oldRoot.publicKey)).toBe(true);
    expect(readFileSync(join(s.home, 'estuary.yaml'), 'utf8')).toContain(`activateAt: ${at}`);
  });

  it('refuses to roll over what it cannot', async () => {
    const upstreamless = await estuary(['ca', 'rollover', 'nosuch', '--home', s.home]);
    expect(upstreamless.code).not.toBe(0);
    expect(upstreamless.stderr).toMatch(/cas\.nosuch: expected a built-in CA/);
    const bad = await estuary(['ca', 'rollover', 'rootca', '--activate-at', 'tomorrow', '--home', s.home]);
    expect(bad.stderr).toMatch(/--activate-at: expected an ISO 8601 date/);
  });
});

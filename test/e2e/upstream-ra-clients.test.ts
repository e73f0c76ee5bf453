/**
 * Estuary as the RA in front of another Estuary process (connector type `est`), driven by
 * independent clients: curl + openssl (enroll, renew, rekey, serverkeygen forwarded and local) and
 * Bouncy Castle. Every certificate chains to the UPSTREAM's root; the RA records and audits each one
 * under the connector's id; the upstream issued it (its own records and audit).
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFields } from '../../src/pki/certificate.js';
import { estuary } from '../helpers/cli.js';
import { certsFrom, csrBody, estRequest } from '../helpers/est-http.js';
import { startServer, tempDir, type TestServer } from '../helpers/home.js';
import { makeRaHome, routeProfiles, startUpstream, upstreamAccount, withUpstreamStore, type Upstream } from '../helpers/upstream.js';
import { makeCsr } from '../helpers/keys.js';
import { compileBcClient, runBc } from '../interop/bc-client.js';

let up: Upstream;
let ra: TestServer;
let dir: string;
let classes: string;

/** Async on purpose: the RA runs in this process, so a blocking child would deadlock it. */
async function sh(script: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8' });
  return stdout;
}

const raEnv = (): Record<string, string> => ({ BASE: ra.base, EST_USER: ra.summary.estAccount.email, EST_PASSWORD: ra.summary.estAccount.password });

/** `openssl verify` against the upstream's root, with the upstream's issuing CA as the intermediate. */
async function verifyUpstream(file: string): Promise<string> {
  return sh(`openssl verify -CAfile up-root.pem -untrusted up-issuing.pem ${file}`);
}

async function serialOf(file: string): Promise<string> {
  return (await sh(`openssl x509 -in ${file} -noout -serial`)).trim().replace(/^serial=/, '').toLowerCase().replace(/^(00)+(?=[0-9a-f])/, '');
}

/** The RA recorded the certificate under the connector's id and audited its issuance. */
async function expectRecordedOnRa(serial: string, ca: string, action: string): Promise<void> {
  const record = await ra.runtime.store.getCertificate(serial);
  expect(record, `RA record of ${serial}`).toBeDefined();
  expect(record!.ca).toBe(ca);
  const audit = await ra.runtime.store.listAudit({ action });
  expect(audit.find((e) => e.serial === serial)?.outcome).toBe('success');
}

/** The upstream issued it, for the RA's account; `action` is what the upstream was asked. */
async function expectIssuedUpstream(serial: string, action: string): Promise<void> {
  const shown = await estuary(['cert', 'show', serial, '--json', '--home', up.home]);
  expect(shown.code, shown.stderr).toBe(0);
  expect(JSON.parse(shown.stdout).requester).toBe(up.summary.estAccount.email);
  const audit = await withUpstreamStore(up, (s) => s.listAudit({ action }));
  expect(audit.find((e) => e.serial === serial)?.outcome, `upstream audit ${action} of ${serial}`).toBe('success');
}

beforeAll(async () => {
  for (const tool of ['curl', 'openssl']) {
    try {
      execFileSync(tool, [tool === 'openssl' ? 'version' : '--version'], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is required for these tests (Debian package ${tool})`);
    }
  }
  dir = tempDir('estuary-upstream-clients-');
  classes = join(dir, 'classes');
  await compileBcClient(classes);
  up = await startUpstream({ attrs: { csrAttrs: ['challengePassword', 'extensionRequest'] } });
  const home = await makeRaHome(up, {
    up: { basic: upstreamAccount(up) },
    'up-local': { basic: upstreamAccount(up), serverKeygen: 'local' },
    'up-attrs': { basic: upstreamAccount(up), label: 'attrs' },
  });
  ra = await startServer(home);
  await routeProfiles(ra.runtime.store, { default: { ca: 'up' }, 'local-keygen': { ca: 'up-local' }, attrs: { ca: 'up-attrs', csrAttrs: ['serialNumber'] } });
  writeFileSync(join(dir, 'ra-tls.pem'), ra.rootPem); // the RA's own TLS server certificate chains to its init root
  writeFileSync(join(dir, 'up-root.pem'), up.rootPem);
  writeFileSync(join(dir, 'up-issuing.pem'), up.issuingPem);
}, 240_000);
afterAll(async () => {
  await ra?.runtime.close();
  await up?.stop();
});

describe('curl + openssl through the RA', () => {
  it('/cacerts of the RA is the upstream\'s CA certificates', async () => {
    await sh(`curl -sS --fail --cacert ra-tls.pem "$BASE/cacerts" | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out ra-cacerts.pem`, raEnv());
    await sh(`curl -sS --fail --cacert up-root.pem "$UP/cacerts" | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out up-cacerts.pem`, { UP: up.base });
    const strip = (f: string): string => readFileSync(join(dir, f), 'utf8').replace(/^(subject|issuer)=.*\n/gm, '').trim();
    expect(strip('ra-cacerts.pem')).toBe(strip('up-cacerts.pem'));
    expect(strip('ra-cacerts.pem')).toContain(up.rootPem.trim());
    expect(strip('ra-cacerts.pem')).not.toContain(ra.rootPem.trim());
  }, 180_000);

  it('/csrattrs of the RA: the profile\'s own attributes and the upstream\'s, except its challengePassword (linking is the RA\'s business)', async () => {
    const direct = await sh(`curl -sS --fail --cacert up-root.pem "$UP/attrs/csrattrs" | openssl base64 -d | openssl asn1parse -inform DER`, { UP: up.base });
    expect(direct).toMatch(/challengePassword/);
    const merged = await sh(`curl -sS --fail --cacert ra-tls.pem "$BASE/attrs/csrattrs" | openssl base64 -d | openssl asn1parse -inform DER`, raEnv());
    expect(merged).toMatch(/serialNumber/);
    expect(merged).toMatch(/Extension Request/);
    expect(merged).not.toMatch(/challengePassword/);
    // the upstream's default profile announces nothing, nor does the RA's: 204
    expect(await sh(`curl -sS --cacert ra-tls.pem -o /dev/null -w '%{http_code}' "$BASE/csrattrs"`, raEnv())).toBe('204');
  }, 180_000);

  it('simpleenroll with HTTP Basic: the certificate chains to the upstream root, the RA records it under the connector', async () => {
    await sh(
      `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -subj "/CN=ra-device" -addext "subjectAltName=DNS:ra-device.example" -outform DER | openssl base64 > csr.b64
       curl -sS --fail --cacert ra-tls.pem -u "$EST_USER:$EST_PASSWORD" -H "Content-Type: application/pkcs10" --data-binary @csr.b64 "$BASE/simpleenroll" | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out cert.pem`,
      raEnv(),
    );
    expect(await verifyUpstream('cert.pem')).toMatch(/cert.pem: OK/);
    expect(await sh('openssl x509 -in cert.pem -noout -subject -ext subjectAltName')).toMatch(/CN ?= ?ra-device[\s\S]*DNS:ra-device.example/);
    const serial = await serialOf('cert.pem');
    await expectRecordedOnRa(serial, 'up', 'simpleenroll');
    expect((await ra.runtime.store.getCertificate(serial))!.requester).toBe(ra.summary.estAccount.email);
    await expectIssuedUpstream(serial, 'simpleenroll');
  }, 180_000);

  it('simplereenroll renews (same key) with the issued certificate as the TLS client certificate to the RA', async () => {
    await sh(
      `openssl req -new -key key.pem -subj "/CN=ra-device" -addext "subjectAltName=DNS:ra-device.example" -outform DER | openssl base64 > renew.b64
       curl -sS --fail --cacert ra-tls.pem --cert cert.pem --key key.pem -H "Content-Type: application/pkcs10" --data-binary @renew.b64 "$BASE/simplereenroll" | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out renewed.pem`,
      raEnv(),
    );
    expect(await verifyUpstream('renewed.pem')).toMatch(/renewed.pem: OK/);
    const [oldSerial, newSerial] = [await serialOf('cert.pem'), await serialOf('renewed.pem')];
    expect(newSerial).not.toBe(oldSerial);
    expect(await sh('openssl x509 -in renewed.pem -noout -pubkey')).toBe(await sh('openssl x509 -in cert.pem -noout -pubkey'));
    await expectRecordedOnRa(newSerial, 'up', 'simplereenroll');
    expect((await ra.runtime.store.getCertificate(newSerial))!.renews).toBe(oldSerial);
    // reenroll: enroll (the default) forwards a renewal as a simpleenroll authenticated as the RA
    await expectIssuedUpstream(newSerial, 'simpleenroll');
  }, 180_000);

  it('simplereenroll rekeys (new key) with the renewed certificate as the TLS client certificate', async () => {
    await sh(
      `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rekey-key.pem -subj "/CN=ra-device" -addext "subjectAltName=DNS:ra-device.example" -outform DER | openssl base64 > rekey.b64
       curl -sS --fail --cacert ra-tls.pem --cert renewed.pem --key key.pem -H "Content-Type: application/pkcs10" --data-binary @rekey.b64 "$BASE/simplereenroll" | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out rekeyed.pem`,
      raEnv(),
    );
    expect(await verifyUpstream('rekeyed.pem')).toMatch(/rekeyed.pem: OK/);
    expect(await sh('openssl x509 -in rekeyed.pem -noout -pubkey')).toBe(await sh('openssl pkey -in rekey-key.pem -pubout'));
    expect(await sh('openssl x509 -in rekeyed.pem -noout -pubkey')).not.toBe(await sh('openssl x509 -in renewed.pem -noout -pubkey'));
    const serial = await serialOf('rekeyed.pem');
    await expectRecordedOnRa(serial, 'up', 'simplereenroll');
    expect((await ra.runtime.store.getCertificate(serial))!.renews).toBe(await serialOf('renewed.pem'));
  }, 180_000);

  /** serverkeygen on `label` with curl; the two parts with openssl; the key must match the certificate. */
  async function serverKeygen(label: string, cn: string): Promise<string> {
    const path = label ? `${label}/` : '';
    await sh(
      `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj "/CN=${cn}" -addext "subjectAltName=DNS:${cn}.example" -outform DER | openssl base64 > ${cn}.b64
       curl -sS --fail --cacert ra-tls.pem -u "$EST_USER:$EST_PASSWORD" -H "Content-Type: application/pkcs10" --data-binary @${cn}.b64 "$BASE/${path}serverkeygen" -o ${cn}.multipart
       tr -d '\\r' < ${cn}.multipart | awk '/^--/{n++; body=0; next} /^$/{body=1; next} body && n==1' | openssl base64 -d > ${cn}-key.der
       tr -d '\\r' < ${cn}.multipart | awk '/^--/{n++; body=0; next} /^$/{body=1; next} body && n==2' | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out ${cn}.pem`,
      raEnv(),
    );
    expect(await verifyUpstream(`${cn}.pem`)).toMatch(new RegExp(`${cn}.pem: OK`));
    const fromKey = await sh(`openssl pkey -inform DER -in ${cn}-key.der -pubout`);
    expect(fromKey).toMatch(/BEGIN PUBLIC KEY/);
    expect(await sh(`openssl x509 -in ${cn}.pem -noout -pubkey`)).toBe(fromKey);
    expect(await sh(`openssl x509 -in ${cn}.pem -noout -subject -ext subjectAltName`)).toMatch(new RegExp(`CN ?= ?${cn}[\\s\\S]*DNS:${cn}.example`));
    return serialOf(`${cn}.pem`);
  }

  it('serverkeygen forwarded (serverKeygen: forward, the default): the upstream makes the key', async () => {
    const serial = await serverKeygen('', 'fwd-keygen');
    await expectRecordedOnRa(serial, 'up', 'serverkeygen');
    await expectIssuedUpstream(serial, 'serverkeygen');
  }, 180_000);

  it('serverkeygen local (serverKeygen: local): the RA makes the key and enrolls a CSR for it upstream', async () => {
    const serial = await serverKeygen('local-keygen', 'local-keygen');
    await expectRecordedOnRa(serial, 'up-local', 'serverkeygen');
    await expectIssuedUpstream(serial, 'simpleenroll');
    const upstreamKeygens = await withUpstreamStore(up, (s) => s.listAudit({ action: 'serverkeygen' }));
    expect(upstreamKeygens.some((e) => e.serial === serial)).toBe(false);
  }, 180_000);
});

describe('many clients at once', () => {
  it('concurrent enrollments share the connector\'s bounded pool: every one is issued upstream and recorded on the RA under the connector', async () => {
    const basic = { user: ra.summary.estAccount.email, password: ra.summary.estAccount.password };
    // more than the pool's 8 connections (maxConnections default): some requests wait for a free one
    const answers = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
      const csr = await makeCsr({ name: `CN=parallel-${i}` });
      return estRequest(`${ra.base}/simpleenroll`, { ca: ra.rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });
    }));
    const serials = answers.map((res) => {
      expect(res.status, res.text).toBe(200);
      return certificateFields(certsFrom(res)[0]!).serialHex;
    });
    expect(new Set(serials).size).toBe(12);
    for (const serial of serials) expect((await ra.runtime.store.getCertificate(serial))?.ca).toBe('up');
    const upstreamSerials = await withUpstreamStore(up, async (s) => new Set((await s.listCertificates({ limit: 1000 })).map((c) => c.serial)));
    for (const serial of serials) expect(upstreamSerials.has(serial)).toBe(true);
  }, 180_000);
});

describe('Bouncy Castle through the RA', () => {
  it('simpleenroll with HTTP Basic: the certificate chains to the upstream root', async () => {
    const f = (n: string): string => join(dir, n);
    const r = await runBc(classes, [
      'enroll', '--server', `https://127.0.0.1:${ra.port}`, '--trust', f('ra-tls.pem'),
      '--user', ra.summary.estAccount.email, '--password', ra.summary.estAccount.password,
      '--cn', 'bc-through-ra', '--dns', 'bc-through-ra.example', '--out-cert', f('bc.pem'), '--out-key', f('bc-key.pem'),
    ]);
    expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
    expect(await verifyUpstream('bc.pem')).toMatch(/bc.pem: OK/);
    const serial = /enroll ok ([0-9a-f]+)/.exec(r.stdout)![1]!;
    expect(serial).toBe(await serialOf('bc.pem'));
    await expectRecordedOnRa(serial, 'up', 'simpleenroll');
    expect((await ra.runtime.store.getCertificate(serial))!.sans).toEqual(['DNS:bc-through-ra.example']);
    await expectIssuedUpstream(serial, 'simpleenroll');
  }, 180_000);
});

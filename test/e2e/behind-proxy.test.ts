/**
 * Behind a TLS-terminating proxy (est.proxy): a real HAProxy, started by the test, terminates the
 * clients' TLS, verifies their certificates against the device CA, forwards the certificate as
 * base64 DER in X-SSL-Client-Cert (deleting any client-sent header of that name) and connects to
 * Estuary over TLS from 127.0.0.2, the only trusted proxy address. curl + openssl are the clients.
 */
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { certsFrom, csrBody, estRequest } from '../helpers/est-http.js';
import { makeDeviceCa, type DeviceCa } from '../helpers/device-ca.js';
import { makeHome, startServer, tempDir, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { estuary } from '../helpers/cli.js';
import { startHaproxy, type Haproxy } from '../helpers/haproxy.js';
import { freePort } from '../../src/bench/harness.js';
import { signedIn } from '../admin/admin-client.js';

const PROXY_SOURCE = '127.0.0.2';
let s: TestServer;
let device: DeviceCa;
let dir: string;
let haproxy: Haproxy | undefined;
let proxyBase: string;

/** Async on purpose: the server runs in this process, so a blocking child would deadlock it. */
async function sh(script: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8' });
  return stdout;
}

/** curl -w: the status on the last line, the body before it. */
async function curl(args: string): Promise<{ status: number; text: string }> {
  const out = await sh(`curl -sS --cacert root.pem -w '\\n%{http_code}' ${args}`);
  const cut = out.lastIndexOf('\n');
  return { status: Number(out.slice(cut + 1)), text: out.slice(0, cut) };
}

beforeAll(async () => {
  for (const [tool, arg] of [['haproxy', '-v'], ['curl', '--version'], ['openssl', 'version']] as const) {
    try {
      execFileSync(tool, [arg], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is required for the proxy tests (Debian package ${tool})`);
    }
  }
  const home = await makeHome();
  const file = join(home.home, 'estuary.yaml');
  const doc = parse(readFileSync(file, 'utf8'));
  doc.est = { ...doc.est, proxy: { trustedProxies: [PROXY_SOURCE] }, authThrottle: { maxFailuresPerAddress: 2 } };
  writeFileSync(file, stringify(doc));
  s = await startServer(home);
  device = await makeDeviceCa();
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'devices', auth: 'tls-client-cert', clientTrustAnchors: [device.pem], popLinking: 'optional' });
  await s.runtime.store.createProfile({ ...p, label: 'popreq', auth: 'tls-client-cert', clientTrustAnchors: [device.pem], popLinking: 'required' });

  dir = tempDir('estuary-proxy-');
  const read = (f: string): string => readFileSync(join(home.home, f), 'utf8');
  writeFileSync(join(dir, 'root.pem'), s.rootPem);
  writeFileSync(join(dir, 'haproxy.pem'), read('tls/server.pem') + read('tls/server-key.pem'));
  // HAProxy verifies client certificates of the device CA and of Estuary's own CA (reenroll).
  writeFileSync(join(dir, 'clients-ca.pem'), device.pem + read('ca/issuing.pem') + s.rootPem);
  const port = await freePort();
  haproxy = await startHaproxy(dir, `global
  maxconn 64
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend est
  bind 127.0.0.1:${port} ssl crt ${dir}/haproxy.pem ca-file ${dir}/clients-ca.pem verify optional
  http-request del-header X-SSL-Client-Cert
  http-request set-header X-SSL-Client-Cert %[ssl_c_der,base64] if { ssl_c_used }
  option forwardfor
  default_backend estuary
backend estuary
  server est1 127.0.0.1:${s.port} ssl verify none source ${PROXY_SOURCE}
`, [port]);
  proxyBase = `https://127.0.0.1:${port}/.well-known/est`;
});

afterAll(async () => {
  await haproxy?.stop();
  await s?.runtime.close();
});

/** A device key, certificate and a base64 CSR for it (openssl), in files named after `name`. */
async function deviceFiles(name: string): Promise<void> {
  const d = await device.issue(name);
  writeFileSync(join(dir, `${name}.pem`), d.cert);
  writeFileSync(join(dir, `${name}-key.pem`), d.key);
  await sh(`openssl req -new -key ${name}-key.pem -subj "/CN=${name}" -outform DER | openssl base64 > ${name}.csr`);
}

const post = (label: string, op: string, extra: string): string =>
  `-H "Content-Type: application/pkcs10" ${extra} "$BASE/${label}/${op}"`;

describe('through HAProxy terminating TLS', () => {
  it('enrolls with the device certificate HAProxy forwards (200), requester from that certificate', async () => {
    await deviceFiles('proxied-1');
    const res = await curl(post('devices', 'simpleenroll', '--cert proxied-1.pem --key proxied-1-key.pem --data-binary @proxied-1.csr -o enrolled.b64').replace('$BASE', proxyBase));
    expect(res.status, res.text + (haproxy?.output() ?? '')).toBe(200);
    await sh('openssl base64 -d -in enrolled.b64 | openssl pkcs7 -inform DER -print_certs -out enrolled.pem');
    const cert = new X509Certificate(readFileSync(join(dir, 'enrolled.pem')));
    const record = await s.runtime.store.getCertificate(cert.serialNumber.toLowerCase());
    expect(record?.requester).toBe('CN=proxied-1');
  });

  it('refuses a request without a client certificate (401 with the reason)', async () => {
    const res = await curl(post('devices', 'simpleenroll', '--data-binary @proxied-1.csr').replace('$BASE', proxyBase));
    expect(res.status).toBe(401);
    expect(res.text).toMatch(/TLS client certificate is required by this profile, and none was presented/);
  });

  it('does not pass on a certificate header the client wrote (HAProxy deletes it): 401', async () => {
    const forged = new X509Certificate(readFileSync(join(dir, 'proxied-1.pem'))).raw.toString('base64');
    const res = await curl(post('devices', 'simpleenroll', `-H "X-SSL-Client-Cert: ${forged}" --data-binary @proxied-1.csr`).replace('$BASE', proxyBase));
    expect(res.status).toBe(401);
  });

  it('reenrolls with the certificate being renewed as the forwarded client certificate', async () => {
    const res = await curl(post('devices', 'simplereenroll', '--cert enrolled.pem --key proxied-1-key.pem --data-binary @proxied-1.csr -o renewed.b64').replace('$BASE', proxyBase));
    expect(res.status, res.text).toBe(200);
    await sh('openssl base64 -d -in renewed.b64 | openssl pkcs7 -inform DER -print_certs -out renewed.pem');
    const before = new X509Certificate(readFileSync(join(dir, 'enrolled.pem')));
    const after = new X509Certificate(readFileSync(join(dir, 'renewed.pem')));
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(after.subject).toBe(before.subject);
  });

  it('refuses a profile with PoP linking required, saying why (403)', async () => {
    await deviceFiles('proxied-pop');
    const res = await curl(post('popreq', 'simpleenroll', '--cert proxied-pop.pem --key proxied-pop-key.pem --data-binary @proxied-pop.csr').replace('$BASE', proxyBase));
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/proof-of-possession linking \(RFC 7030 §3\.5\) is required by this profile, and it cannot work through a TLS-terminating proxy/);
  });

  it('skips PoP linking with optional: a challengePassword that is not this side\'s binding is not held against the client', async () => {
    const d = await device.issue('proxied-cp');
    const csr = await makeCsr({ name: 'CN=proxied-cp', challengePassword: Buffer.alloc(32, 7).toString('base64') });
    const res = await estRequest(`${proxyBase}/devices/simpleenroll`, { ca: s.rootPem, body: csrBody(csr.der), contentType: 'application/pkcs10', clientCert: d });
    expect(res.status, res.text).toBe(200);
    expect(certsFrom(res)).toHaveLength(1);
  });

  it('takes the client address from X-Forwarded-For, not believing hops the client wrote', async () => {
    // maxFailuresPerAddress is 2: the lock names the address the throttle counted. The peer is
    // HAProxy (127.0.0.2); HAProxy appends the client's 127.0.0.1 to the client's forged hop.
    for (const user of ['nobody-1@example.com', 'nobody-2@example.com']) {
      const res = await curl(post('default', 'simpleenroll', `-u ${user}:wrong -H "X-Forwarded-For: 203.0.113.9" --data-binary @proxied-1.csr`).replace('$BASE', proxyBase));
      expect(res.status).toBe(401);
    }
    const audit = await s.runtime.store.listAudit({ action: 'est.lockout' });
    const details = JSON.stringify(audit);
    expect(details).toMatch(/address 127\.0\.0\.1 locked/);
    expect(details).not.toMatch(/203\.0\.113\.9|127\.0\.0\.2/);
  });
});

describe('directly to Estuary', () => {
  it('refuses a certificate header from a peer that is not a trusted proxy (400), with or without a TLS certificate', async () => {
    const forged = new X509Certificate(readFileSync(join(dir, 'proxied-1.pem'))).raw.toString('base64');
    const direct = `https://127.0.0.1:${s.port}/.well-known/est`;
    const res = await curl(post('devices', 'simpleenroll', `-H "X-SSL-Client-Cert: ${forged}" --data-binary @proxied-1.csr`).replace('$BASE', direct));
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/the x-ssl-client-cert header is accepted only from a trusted proxy \(est\.proxy\.trustedProxies\), and 127\.0\.0\.1 is not one/);
    const withCert = await curl(post('devices', 'simpleenroll', `--cert proxied-1.pem --key proxied-1-key.pem -H "X-SSL-Client-Cert: ${forged}" --data-binary @proxied-1.csr`).replace('$BASE', direct));
    expect(withCert.status).toBe(400);
  });

  it('still enrolls a client that presents its certificate in its own TLS handshake', async () => {
    const direct = `https://127.0.0.1:${s.port}/.well-known/est`;
    const res = await curl(post('devices', 'simpleenroll', '--cert proxied-1.pem --key proxied-1-key.pem --data-binary @proxied-1.csr').replace('$BASE', direct));
    expect(res.status, res.text).toBe(200);
  });

  it('reads nginx\'s URL-encoded PEM from a trusted proxy, and never the proxy\'s own TLS certificate', async () => {
    const d = await device.issue('nginx-style');
    const csr = await makeCsr({ name: 'CN=nginx-style' });
    const url = `${s.base}/devices/simpleenroll`;
    const base = { ca: s.rootPem, body: csrBody(csr.der), contentType: 'application/pkcs10', localAddress: PROXY_SOURCE };
    const ok = await estRequest(url, { ...base, headers: { 'x-ssl-client-cert': encodeURIComponent(d.cert) } });
    expect(ok.status, ok.text).toBe(200);
    expect(new X509Certificate(certsFrom(ok)[0]!).subject).toBe('CN=nginx-style');
    // the TLS certificate of a trusted peer is the proxy's: without the header there is no client certificate
    const own = await estRequest(url, { ...base, clientCert: d });
    expect(own.status).toBe(401);
    const garbage = await estRequest(url, { ...base, headers: { 'x-ssl-client-cert': 'bm90IGEgY2VydGlmaWNhdGU=' } });
    expect(garbage.status).toBe(400);
    expect(garbage.text).toMatch(/the proxy forwarded an unreadable client certificate: x-ssl-client-cert: the value is not an X\.509 certificate/);
  });
});

describe('profile views in proxy mode', () => {
  it('estuary profile show warns about PoP linking', async () => {
    const req = await estuary(['profile', 'show', 'popreq', '--home', s.home]);
    expect(req.code, req.stderr).toBe(0);
    expect(req.stdout).toMatch(/popLinking: required\n {2}WARNING: the EST listener is behind a TLS-terminating proxy \(est\.proxy\): requests through the proxy are refused/);
    const opt = await estuary(['profile', 'show', 'devices', '--home', s.home, '--json']);
    expect(JSON.parse(opt.stdout).popLinkingWarning).toMatch(/PoP linking \(RFC 7030 §3\.5\) is not checked for requests through the proxy/);
  });

  it('the Web RA profile carries the note, and a profile sent back with it saves', async () => {
    const admin = await signedIn(s, s.summary.adminAccount.email, s.summary.adminAccount.password);
    const p = await admin.get('/api/profiles/popreq');
    expect(p.json.popLinkingNote).toMatch(/requests through the proxy are refused \(403\)/);
    const saved = await admin.put('/api/profiles/popreq', { ...p.json, popLinking: 'off' });
    expect(saved.status, saved.text).toBe(200);
    expect(saved.json.popLinkingNote).toBeUndefined();
  });
});

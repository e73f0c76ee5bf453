/** simpleenroll, cacerts, csrattrs, labels and every error status, over real TLS with HTTP Basic. */
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OID } from '../../src/pki/oids.js';
import { decodeCsrAttrs } from '../../src/pki/csr-attrs.js';
import { decodeBase64Body } from '../../src/pki/base64.js';
import { hashPassword } from '../../src/ra/password.js';
import { certsFrom, csrBody, estRequest, pem } from '../helpers/est-http.js';
import { startServer, type TestServer, sqlitePath } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';

let s: TestServer;
let basic: { user: string; password: string };

beforeAll(async () => {
  s = await startServer();
  basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
});
afterAll(async () => {
  await s.runtime.close();
});

async function enroll(path = '/simpleenroll', csrDer?: Buffer) {
  const der = csrDer ?? (await makeCsr({ name: 'CN=device-1', dns: ['device-1.example'] })).der;
  return estRequest(s.base + path, { ca: s.rootPem, basic, body: csrBody(der), contentType: 'application/pkcs10' });
}

async function expectStillServing(): Promise<void> {
  const res = await enroll();
  expect(res.status).toBe(200);
}

describe('cacerts', () => {
  it('returns the issuing CA and root as certs-only SignedData, without authentication', async () => {
    const res = await estRequest(s.base + '/cacerts', { ca: s.rootPem });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/pkcs7-mime; smime-type=certs-only');
    expect(res.headers['content-transfer-encoding']).toBe('base64');
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    const certs = certsFrom(res).map((d) => new X509Certificate(d));
    expect(certs).toHaveLength(2);
    expect(certs[0]!.subject).toContain('Estuary Issuing CA');
    expect(certs[1]!.subject).toContain('Estuary Root CA');
    expect(certs[1]!.fingerprint256).toBe(s.summary.rootFingerprintSha256);
    expect(certs[0]!.verify(certs[1]!.publicKey)).toBe(true);
  });
});

describe('simpleenroll with HTTP Basic', () => {
  it('issues a certificate whose extensions come from the profile, committed before the answer', async () => {
    const csr = await makeCsr({ name: 'CN=web-1, O=Example', dns: ['web-1.example'], ips: ['10.1.2.3'] });
    const res = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });
    expect(res.status, res.text).toBe(200);
    expect(res.headers['content-type']).toBe('application/pkcs7-mime; smime-type=certs-only');
    expect(res.headers['content-transfer-encoding']).toBe('base64');
    const [der] = certsFrom(res);
    const cert = new X509Certificate(der!);
    expect(cert.subject).toBe('CN=web-1\nO=Example');
    expect(cert.subjectAltName).toBe('DNS:web-1.example, IP Address:10.1.2.3');
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual([OID.serverAuth, OID.clientAuth]);
    const [issuing] = (await s.runtime.store.listCertificates()).length ? [readFileSync(`${s.home}/ca/issuing.pem`, 'utf8')] : [''];
    expect(cert.verify(new X509Certificate(issuing!).publicKey)).toBe(true);
    // serial: positive, ≥ 64 bits
    expect(BigInt('0x' + cert.serialNumber) > 2n ** 64n).toBe(true);
    const record = await s.runtime.store.getCertificate(cert.serialNumber.toLowerCase());
    expect(record?.der.equals(der!)).toBe(true);
    expect(record?.requester).toBe(basic.user);
    expect(record?.sans).toEqual(['DNS:web-1.example', 'IP:10.1.2.3']);
    const audit = await s.runtime.store.listAudit({ action: 'simpleenroll' });
    expect(audit.some((e) => e.serial === record?.serial && e.outcome === 'success')).toBe(true);
  });

  it('reads base64 with CRLF, without line breaks, with whitespace, and chunked; ignores Content-Transfer-Encoding', async () => {
    const { der } = await makeCsr();
    const b64 = der.toString('base64');
    const bodies = [b64, b64.match(/.{1,76}/g)!.join('\r\n') + '\r\n', `\n  ${b64.match(/.{1,64}/g)!.join('\n')}  \n\n`];
    for (const body of bodies) {
      const res = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic, body, contentType: 'application/pkcs10', headers: { 'content-transfer-encoding': 'binary' } });
      expect(res.status, res.text).toBe(200);
    }
    // chunked: node sends Transfer-Encoding: chunked when there is no Content-Length and we write in pieces
    const { request } = await import('node:https');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(s.base + '/simpleenroll', {
        method: 'POST',
        ca: s.rootPem,
        agent: false,
        headers: { 'content-type': 'application/pkcs10', authorization: 'Basic ' + Buffer.from(`${basic.user}:${basic.password}`).toString('base64') },
      }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
      req.on('error', reject);
      expect(req.getHeader('content-length')).toBeUndefined();
      req.write(b64.slice(0, 50));
      setTimeout(() => { req.write(b64.slice(50)); req.end(); }, 20);
    });
    expect(status).toBe(200);
  });

  it('refuses missing and wrong credentials with 401 and a Basic challenge', async () => {
    const { der } = await makeCsr();
    const none = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, body: csrBody(der), contentType: 'application/pkcs10', headers: { 'user-agent': 'est-test' } });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Basic realm="estuary default"');
    // the bare challenge carries its reason as text, and in a header
    expect(none.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(none.text).toMatch(/HTTP Basic credentials .* are required/);
    expect(none.headers['x-est-reason']).toMatch(/HTTP Basic credentials .* are required/);
    // a client without a User-Agent (Bouncy Castle's, which fails on any unread challenge body): an empty one
    const bare = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, body: csrBody(der), contentType: 'application/pkcs10' });
    expect(bare.status).toBe(401);
    expect(bare.headers['www-authenticate']).toBe('Basic realm="estuary default"');
    expect(bare.headers['content-length']).toBe('0');
    expect(bare.headers['x-est-reason']).toMatch(/HTTP Basic credentials .* are required/);
    const wrong = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic: { user: basic.user, password: 'wrong-password' }, body: csrBody(der), contentType: 'application/pkcs10' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toMatch(/invalid EST account credentials/);
    const unknown = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic: { user: 'nobody@example.com', password: basic.password }, body: csrBody(der), contentType: 'application/pkcs10' });
    expect(unknown.status).toBe(401);
    const admin = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic: { user: s.summary.adminAccount.email, password: s.summary.adminAccount.password }, body: csrBody(der), contentType: 'application/pkcs10' });
    expect(admin.status).toBe(401);
    await expectStillServing();
  });

  it('a changed password or disabled account stops working at once (the credential cache is safe)', async () => {
    await s.runtime.store.createAccount({ email: 'cache@example.com', passwordHash: await hashPassword('first-password'), role: 'est' });
    const { der } = await makeCsr();
    const send = (password: string) => estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic: { user: 'cache@example.com', password }, body: csrBody(der), contentType: 'application/pkcs10' });
    expect((await send('first-password')).status).toBe(200);
    expect((await send('first-password')).status).toBe(200); // cached
    await s.runtime.store.setAccountPassword('cache@example.com', await hashPassword('second-password'));
    expect((await send('first-password')).status).toBe(401);
    expect((await send('second-password')).status).toBe(200);
    await s.runtime.store.setAccountDisabled('cache@example.com', true);
    expect((await send('second-password')).status).toBe(401);
  });

  it('refuses an account that the profile does not allow with 403', async () => {
    const p = (await s.runtime.store.getProfile('default'))!;
    await s.runtime.store.createProfile({ ...p, label: 'restricted', allowedAccounts: ['someone-else@example.com'] });
    const res = await enroll('/restricted/simpleenroll');
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/not allowed on profile "restricted"/);
  });
});

describe('key policy', () => {
  it.each([
    ['rsa-1024', 403, /RSA 1024 bits is not allowed/],
    ['ec-p521', 403, /EC P-521 is not allowed/],
    ['rsa-2048', 200, undefined],
    ['ec-p384', 200, undefined],
    ['ed25519', 200, undefined],
  ] as const)('%s → %i', async (type, status, reason) => {
    const { der } = await makeCsr({ type });
    const res = await enroll('/simpleenroll', der);
    expect(res.status, res.text).toBe(status);
    if (reason) expect(res.text).toMatch(reason);
    if (status === 200) {
      // keyEncipherment only for RSA keys (RFC 5480 §3); the profile has digitalSignature + keyEncipherment
      const text = (await import('node:child_process')).execFileSync('openssl', ['x509', '-inform', 'DER', '-noout', '-ext', 'keyUsage'], { input: certsFrom(res)[0]! }).toString();
      expect(text).toContain('Digital Signature');
      expect(text.includes('Key Encipherment')).toBe(type === 'rsa-2048');
    }
  });
});

describe('csrattrs and labels', () => {
  it('answers 204 when the profile has no attributes and the list when it has', async () => {
    expect((await estRequest(s.base + '/csrattrs', { ca: s.rootPem })).status).toBe(204);
    const p = (await s.runtime.store.getProfile('default'))!;
    await s.runtime.store.createProfile({ ...p, label: 'attrs', csrAttrs: ['challengePassword', 'ecdsaWithSHA256'] });
    const res = await estRequest(s.base + '/attrs/csrattrs', { ca: s.rootPem });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/csrattrs');
    expect(decodeCsrAttrs(decodeBase64Body(res.body))).toEqual([{ oid: OID.challengePassword }, { oid: OID.ecdsaWithSHA256 }]);
  });

  it('serves a labeled profile and the default profile under its own label', async () => {
    expect((await enroll('/default/simpleenroll')).status).toBe(200);
    expect((await estRequest(s.base + '/default/cacerts', { ca: s.rootPem })).status).toBe(200);
  });

  it('answers 404 for unknown and disabled labels, and for path tricks', async () => {
    const p = (await s.runtime.store.getProfile('default'))!;
    await s.runtime.store.createProfile({ ...p, label: 'off', enabled: false });
    for (const path of ['/nosuch/simpleenroll', '/off/simpleenroll', '/off/cacerts', '/../simpleenroll', '/..%2Fdefault/simpleenroll', '/a%2Fb/simpleenroll', '/%2e%2e/cacerts', '/default/extra/cacerts', '/nosuchop']) {
      const res = path.endsWith('enroll') ? await enroll(path) : await estRequest(s.base + path, { ca: s.rootPem });
      expect(res.status, path).toBe(404);
      expect(res.headers['content-type'], path).toMatch(/^text\/plain/);
    }
    await expectStillServing();
  });
});

describe('errors', () => {
  it('501 for fullcmc, 405 with Allow for a wrong method', async () => {
    const full = await estRequest(s.base + '/fullcmc', { ca: s.rootPem, basic, body: 'MAA=', contentType: 'application/pkcs7-mime' });
    expect(full.status).toBe(501);
    expect(full.text).toMatch(/fullcmc/);
    const get = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    const post = await estRequest(s.base + '/cacerts', { ca: s.rootPem, body: 'x', contentType: 'application/pkcs10' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    await expectStillServing();
  });

  it('HEAD on cacerts and csrattrs answers like GET without a body (RFC 9110 §9.3.2)', async () => {
    for (const op of ['cacerts', 'csrattrs']) {
      const get = await estRequest(s.base + '/' + op, { ca: s.rootPem });
      const head = await estRequest(s.base + '/' + op, { ca: s.rootPem, method: 'HEAD' });
      expect(head.status, op).toBe(get.status);
      expect(head.headers['content-type']).toBe(get.headers['content-type']);
      expect(head.headers['content-length']).toBe(get.headers['content-length']);
      expect(head.body.length).toBe(0);
    }
    const p = (await s.runtime.store.getProfile('default'))!;
    await s.runtime.store.createProfile({ ...p, label: 'head-attrs', csrAttrs: ['challengePassword'] });
    const head = await estRequest(s.base + '/head-attrs/csrattrs', { ca: s.rootPem, method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('application/csrattrs');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    expect(head.body.length).toBe(0);
    const enroll = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, method: 'HEAD' });
    expect(enroll.status).toBe(405);
    expect(enroll.headers.allow).toBe('POST');
  });

  it('400 for garbled or truncated base64, bad DER and a bad signature', async () => {
    const { der } = await makeCsr();
    const b64 = der.toString('base64');
    const badSig = Buffer.from(der);
    badSig[badSig.length - 5]! ^= 0x55;
    const cases: Array<[string, string, RegExp]> = [
      ['garbled base64', '!!!not base64***', /not base64/],
      ['truncated base64', b64.slice(0, 41), /base64|DER|PKCS#10/],
      ['truncated DER', der.subarray(0, der.length - 10).toString('base64'), /PKCS#10|truncated/],
      ['not a CSR', Buffer.from('hello world, this is not DER').toString('base64'), /PKCS#10/],
      ['bad signature', badSig.toString('base64'), /signature/],
      ['empty', '', /empty/],
    ];
    for (const [name, body, reason] of cases) {
      const res = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic, body, contentType: 'application/pkcs10' });
      expect(res.status, name).toBe(400);
      expect(res.text, name).toMatch(reason);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
    }
    await expectStillServing();
  });

  it('413 for a body over 64 KiB and 415 for a wrong content type', async () => {
    const big = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic, body: 'A'.repeat(70 * 1024), contentType: 'application/pkcs10' });
    expect(big.status).toBe(413);
    expect(big.text).toMatch(/larger than 65536/);
    const { der } = await makeCsr();
    for (const ct of ['application/json', 'text/plain', 'application/x-pkcs10']) {
      const res = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic, body: csrBody(der), contentType: ct });
      expect(res.status, ct).toBe(415);
      expect(res.text).toMatch(/application\/pkcs10/);
    }
    const none = await estRequest(s.base + '/simpleenroll', { ca: s.rootPem, basic, body: csrBody(der) });
    expect(none.status).toBe(415);
    await expectStillServing();
  });

  it('503 with Retry-After when the store cannot be written (another process holds the write lock)', async () => {
    const Database = (await import('better-sqlite3')).default;
    const other = new Database(sqlitePath(s.runtime.config));
    other.exec('BEGIN IMMEDIATE'); // hold the write lock past the server's busy timeout
    try {
      const res = await enroll();
      expect(res.status, res.text).toBe(503);
      expect(res.headers['retry-after']).toBe('30');
      expect(res.text).toMatch(/temporarily unavailable/);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await expectStillServing();
  });

  it('keeps serving after a client sends garbage instead of TLS', async () => {
    await new Promise<void>((resolve) => {
      const sock = connect({ host: '127.0.0.1', port: s.port, rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => {
        sock.write('GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\r\n\r\n\0\0\0garbage');
        setTimeout(() => { sock.destroy(); resolve(); }, 50);
      });
      sock.on('error', () => resolve());
    });
    await expectStillServing();
  });
});

describe('logs', () => {
  it('never contain passwords or private keys', async () => {
    const log = readFileSync(s.logFile, 'utf8');
    expect(log).toContain('certificate issued');
    expect(log).not.toContain(basic.password);
    expect(log).not.toMatch(/PRIVATE KEY/);
  });
});

export { pem };

/**
 * EstClient against the quirky test server and small servers of its own: every tolerated variant
 * of RFC 8951 (the client still succeeds), malformed answers (bad-response with a clear message),
 * connections closed or reset by the server, Basic challenges, bootstrap without credentials.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EstClient, type CsrFactory, type EstClientOptions, type WaitingInfo } from '../../src/client/est-client.js';
import { EstClientError, EXIT_CODES } from '../../src/client/errors.js';
import { decodeBase64Body, encodeBase64Body, pemBlocks } from '../../src/pki/base64.js';
import { openEnvelope } from '../../src/pki/enveloped-data.js';
import { OID } from '../../src/pki/oids.js';
import { certsOnly } from '../../src/pki/signed-data.js';
import { makeDeviceCa, type DeviceCa } from '../helpers/device-ca.js';
import { generateKeys, makeCsr, x509 } from '../helpers/keys.js';
import { startQuirkyServer, type Operation, type QuirkyServer, type Quirks } from '../helpers/quirky-est-server.js';
import { startTlsServer } from './tls-test-server.js';

const basic = { user: 'quirk-user', password: 'quirk-pass' };
let q: QuirkyServer;
let device: DeviceCa;

beforeAll(async () => {
  q = await startQuirkyServer({ auth: { basic } });
  device = await makeDeviceCa();
});
afterAll(async () => {
  await q.close();
});

const clients: EstClient[] = [];
afterAll(() => clients.forEach((c) => c.close()));

function client(extra: Partial<EstClientOptions> = {}, server: QuirkyServer = q): EstClient {
  const c = new EstClient({ server: server.url, trust: { kind: 'explicit', anchors: pemBlocks(server.caPem) }, basic, ...extra });
  clients.push(c);
  return c;
}

function factory(name = 'CN=quirky-device', link = false): { csr: CsrFactory; calls: Array<Buffer | undefined> } {
  const keys = generateKeys('ec-p256');
  const calls: Array<Buffer | undefined> = [];
  return {
    calls,
    csr: async (ctx) => {
      calls.push(ctx.channelBinding);
      return (await makeCsr({ name, keys: await keys, ...(link && ctx.channelBinding ? { challengePassword: ctx.channelBinding.toString('base64') } : {}) })).der;
    },
  };
}

async function failure(p: Promise<unknown>): Promise<EstClientError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(EstClientError);
  return err as EstClientError;
}

/** A certificate from the device CA for the key of a base64 CSR (what a real server would issue). */
async function issueFor(csrBody: Buffer, cn = 'CN=issued'): Promise<Buffer> {
  const csr = new x509.Pkcs10CertificateRequest(new Uint8Array(decodeBase64Body(csrBody)));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0a',
    subject: cn,
    issuer: device.cert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    publicKey: await csr.publicKey.export(),
    signingKey: device.keys.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
  });
  return Buffer.from(cert.rawData);
}

describe('what the client sends', () => {
  it('header names in canonical case (some deployed servers compare bytes) and a versioned User-Agent', async () => {
    const c = client();
    const before = q.requests.length;
    await c.enroll(factory().csr);
    const sent = q.requests.slice(before).filter((r) => r.operation === 'simpleenroll');
    const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
    expect(sent.length).toBeGreaterThan(0);
    for (const r of sent) {
      const names = r.rawHeaderNames.filter((n) => ['user-agent', 'content-type', 'content-length', 'authorization'].includes(n.toLowerCase()));
      expect(names.sort()).toEqual(['Authorization', 'Content-Length', 'Content-Type', 'User-Agent']);
      expect(r.headers['user-agent']).toBe(`estuary-client/${version}`);
    }
  });
});

const TOLERATED: Array<[string, Quirks]> = [
  ['base64 wrapped at 76 with CRLF', { crlfWrap: true }],
  ['base64 without line breaks', { noWrap: true }],
  ['a trailing NUL', { trailingNul: true }],
  ['stray whitespace', { extraWhitespace: true }],
  ['no Content-Transfer-Encoding', { noCte: true }],
  ['chunked transfer coding', { chunked: true }],
  ['certs-only with an empty eContent', { eContent: true }],
  ['Connection: close after each answer', { connectionClose: true }],
  ['application/pkcs7-mime without smime-type', { contentTypeVariants: 'no-smime-type' }],
  ['upper-case media types and parameters', { contentTypeVariants: 'upper-case' }],
  ['quoted parameters', { contentTypeVariants: 'quoted' }],
  ['the legacy application/x-pkcs7-mime', { contentTypeVariants: 'x-pkcs7-mime' }],
  ['multipart: quoted boundary, LF, certificate first, preamble and epilogue', { multipartVariants: true }],
  ['everything at once', { crlfWrap: true, trailingNul: true, noCte: true, chunked: true, eContent: true, connectionClose: true, contentTypeVariants: 'upper-case', multipartVariants: true }],
];

describe('tolerated answers (RFC 8951)', () => {
  it.each(TOLERATED)('%s: cacerts, csrattrs, enroll and serverkeygen succeed', async (_name, quirks) => {
    q.setQuirks(quirks);
    const c = client();
    const cas = await c.cacerts();
    expect(cas.map((d) => d.toString('hex'))).toEqual(q.caCerts.map((d) => d.toString('hex')));
    expect(await c.csrattrs()).toEqual([{ oid: OID.challengePassword }]);
    const enrolled = await c.enroll(factory('CN=tolerant').csr);
    expect(new X509Certificate(enrolled.certificate).subject).toBe('CN=tolerant');
    const keygen = await c.serverkeygen(factory('CN=tolerant-keygen').csr);
    expect(keygen.privateKey.kind).toBe('pkcs8');
    const key = createPrivateKey({ key: keygen.privateKey.der, format: 'der', type: 'pkcs8' });
    expect(createPublicKey(key).export({ format: 'jwk' })).toEqual(new X509Certificate(keygen.certificate).publicKey.export({ format: 'jwk' }));
  });

  it('csrattrs: a 200 with an empty body means no attributes, like 204', async () => {
    q.setQuirks({ emptyBody200: true, only: ['csrattrs'] });
    expect(await client().csrattrs()).toEqual([]);
  });

  it('serverkeygen: an encrypted key part is returned as enveloped, however it is labelled', async () => {
    const dev = await q.issueClientCert('CN=enc-device');
    const csr = async (): Promise<Buffer> => {
      const keys = await generateKeys('ec-p256');
      const req = await x509.Pkcs10CertificateRequestGenerator.create({
        name: 'CN=enc-device',
        keys,
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
        attributes: [new x509.Attribute(OID.asymmetricDecryptKeyIdentifier, [new Uint8Array([0x04, 0x00]).buffer])],
      });
      return Buffer.from(req.rawData);
    };
    for (const quirks of [{}, { contentTypeVariants: 'no-smime-type', multipartVariants: true }, { contentTypeVariants: 'upper-case' }] as Quirks[]) {
      q.setQuirks(quirks);
      const r = await client({ clientCert: { certPem: dev.certPem, keyPem: dev.keyPem } }).serverkeygen(csr);
      expect(r.privateKey.kind, JSON.stringify(quirks)).toBe('enveloped');
      expect(new X509Certificate(r.certificate).subject).toBe('CN=enc-device');
      const pkcs8 = await openEnvelope(r.privateKey.der, dev.der, createPrivateKey(dev.keyPem));
      expect(createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' })).toEqual(new X509Certificate(r.certificate).publicKey.export({ format: 'jwk' }));
    }
  });
});

describe('malformed answers → bad-response (exit 8) with a clear message', () => {
  const cases: Array<[Quirks, Operation, RegExp]> = [
    [{ garbledBase64: true }, 'simpleenroll', /^simpleenroll: the response is not base64 \(unexpected character\)$/],
    [{ truncatedDer: true }, 'simpleenroll', /^simpleenroll: the answer is not a certs-only PKCS#7 SignedData \(truncated DER/],
    [{ wrongContentType: true }, 'simpleenroll', /^simpleenroll: expected application\/pkcs7-mime \(certs-only\), got Content-Type text\/html; charset=utf-8 \(Please log in\)$/],
    [{ notSignedData: true }, 'cacerts', /^cacerts: the PKCS#7 answer is not SignedData \(content type 1\.2\.840\.113549\.1\.7\.1\)$/],
    [{ emptyBody200: true }, 'cacerts', /^cacerts: the response body is empty$/],
    [{ status500: true }, 'simpleenroll', /^simpleenroll: server error \(500 Internal Server Error\): internal server error \(quirk status500\)$/],
    [{ garbledBase64: true }, 'serverkeygen', /^serverkeygen part \d \(application\/(pkcs8|pkcs7-mime)\): the response is not base64 \(unexpected character\)$/],
    [{ truncatedDer: true }, 'serverkeygen', /^serverkeygen part 2 \(application\/pkcs7-mime\): the answer is not a certs-only PKCS#7 SignedData/],
    [{ wrongContentType: true }, 'serverkeygen', /^serverkeygen: expected multipart\/mixed, got Content-Type text\/html/],
    [{ garbledBase64: true }, 'csrattrs', /^csrattrs: the response is not base64/],
  ];
  it.each(cases)('%j on %s', async (quirks, op, message) => {
    q.setQuirks({ ...quirks, only: [op] });
    const c = client();
    const run = { cacerts: () => c.cacerts(), csrattrs: () => c.csrattrs(), simpleenroll: () => c.enroll(factory().csr), simplereenroll: () => c.reenroll(factory().csr), serverkeygen: () => c.serverkeygen(factory().csr) }[op];
    const err = await failure(run());
    expect(err.kind).toBe('bad-response');
    expect(EXIT_CODES[err.kind]).toBe(8);
    expect(err.message).toMatch(message);
  });
});

describe('the issued certificate', () => {
  it('is the one for the request key among several; an answer without it is a bad response', async () => {
    const tls = await device.issue('chain-server', { eku: [OID.serverAuth] });
    const srv = await startTlsServer({
      ...tls,
      handler: async (_req, res, body, i) => {
        const certs = i === 0 ? [...pemBlocks(device.pem), await issueFor(body, 'CN=mine')] : pemBlocks(device.pem);
        res.writeHead(200, { 'content-type': 'application/pkcs7-mime' }).end(encodeBase64Body(certsOnly(certs)));
      },
    });
    try {
      const c = client({ server: srv.url, trust: { kind: 'insecure' } });
      const r = await c.enroll(factory().csr);
      expect(new X509Certificate(r.certificate).subject).toBe('CN=mine');
      expect(r.extraCertificates).toEqual(pemBlocks(device.pem));
      const err = await failure(c.enroll(factory().csr));
      expect(err.kind).toBe('bad-response');
      expect(err.message).toBe('simpleenroll: no returned certificate is for the public key of the request');
    } finally {
      await srv.close();
    }
  });
});

describe('connections', () => {
  it('reuses one connection, and under Connection: close opens a new one per request with a new binding for PoP', async () => {
    const pop = await startQuirkyServer({ auth: { basic }, requirePop: true });
    try {
      const f = factory('CN=pop', true);
      const c = client({}, pop);
      await c.enroll(f.csr);
      await c.enroll(f.csr);
      const [a, b] = pop.requests.slice(-2);
      expect(a!.connectionId).toBe(b!.connectionId);
      expect(a!.csr?.popLinked && b!.csr?.popLinked).toBe(true);
      pop.setQuirks({ connectionClose: true });
      const g = factory('CN=pop-close', true);
      await c.enroll(g.csr);
      await c.enroll(g.csr);
      const [d, e] = pop.requests.slice(-2);
      expect(d!.connectionId).not.toBe(e!.connectionId);
      expect(d!.csr?.popLinked && e!.csr?.popLinked).toBe(true);
      expect(g.calls[0]!.equals(g.calls[1]!)).toBe(false);
      // 202 then success over closed connections: the factory is called again for the new connection
      pop.setQuirks({ connectionClose: true, respond202Times: 1, retryAfter: { seconds: 1 } });
      const h = factory('CN=pop-202', true);
      const r = await client({ maxWaitSeconds: 5, sleep: async () => undefined }, pop).enroll(h.csr);
      expect(new X509Certificate(r.certificate).subject).toBe('CN=pop-202');
      expect(h.calls).toHaveLength(2);
      expect(pop.requests.at(-1)!.csr?.popLinked).toBe(true);
    } finally {
      await pop.close();
    }
  });

  it('a TLS handshake failure (no common protocol version) is a tls error', async () => {
    const only13 = await startQuirkyServer({ tls: { minVersion: 'TLSv1.3' } });
    try {
      const err = await failure(client({ tls: { maxVersion: 'TLSv1.2' } }, only13).cacerts());
      expect(err.kind).toBe('tls');
      expect(EXIT_CODES[err.kind]).toBe(6);
      expect(err.message).toMatch(/^cacerts: TLS failure: .*(protocol version|alert)/i);
    } finally {
      await only13.close();
    }
  });

  it('a kept-alive connection the server drops is replaced, and the request sent again with a new binding', async () => {
    const tls = await device.issue('reset-server', { eku: [OID.serverAuth] });
    let issued: Buffer | undefined;
    const srv = await startTlsServer({
      ...tls,
      handler: async (req, res, body, i) => {
        if (i === 1) return void req.socket.destroy(); // the idle connection is reset when reused
        if (i > 0) issued = await issueFor(body);
        res.writeHead(200, { 'content-type': 'application/pkcs7-mime' }).end(encodeBase64Body(certsOnly(i === 0 ? pemBlocks(device.pem) : [issued!])));
      },
    });
    try {
      const c = client({ server: srv.url, trust: { kind: 'insecure' } });
      await c.cacerts();
      const f = factory();
      const r = await c.enroll(f.csr);
      expect(r.certificate.equals(issued!)).toBe(true);
      expect(f.calls).toHaveLength(2);
      expect(f.calls[0]!.equals(f.calls[1]!)).toBe(false);
      expect(srv.requests).toHaveLength(3);
    } finally {
      await srv.close();
    }
  });
});

describe('202 Retry-After forms', () => {
  it('reads an HTTP-date', async () => {
    q.setQuirks({ respond202Times: 1, retryAfter: { seconds: 30, form: 'http-date' } });
    const waits: WaitingInfo[] = [];
    const r = await client({ maxWaitSeconds: 60, onWaiting: (w) => waits.push(w), sleep: async () => undefined }).enroll(factory('CN=dated').csr);
    expect(new X509Certificate(r.certificate).subject).toBe('CN=dated');
    expect(waits).toHaveLength(1);
    expect(waits[0]!.seconds).toBeGreaterThanOrEqual(29);
    expect(waits[0]!.seconds).toBeLessThanOrEqual(31);
    expect(waits[0]!.until.getTime() - Date.now()).toBeGreaterThan(28_000);
  });

  it('waits a default 60 s when Retry-After is missing, and says so', async () => {
    const tls = await device.issue('no-retry-after', { eku: [OID.serverAuth] });
    let issued: Buffer | undefined;
    const srv = await startTlsServer({
      ...tls,
      handler: async (_req, res, body, i) => {
        if (i === 0 || i === 2) return void res.writeHead(202, { 'content-type': 'text/plain' }).end('queued\n');
        issued = await issueFor(body);
        res.writeHead(200, { 'content-type': 'application/pkcs7-mime' }).end(encodeBase64Body(certsOnly([issued])));
      },
    });
    try {
      const waits: WaitingInfo[] = [];
      const slept: number[] = [];
      const r = await client({ server: srv.url, trust: { kind: 'insecure' }, maxWaitSeconds: 60, onWaiting: (w) => waits.push(w), sleep: async (ms) => void slept.push(ms) }).enroll(factory().csr);
      expect(r.certificate.equals(issued!)).toBe(true);
      expect(waits).toEqual([expect.objectContaining({ seconds: 60, attempt: 1, retryAfterMissing: true, message: 'queued' })]);
      expect(slept).toEqual([60_000]);
      const err = await failure(client({ server: srv.url, trust: { kind: 'insecure' } }).enroll(factory().csr));
      expect(err.kind).toBe('pending');
      expect(err.message).toMatch(/\(202: queued\); the server gave no Retry-After \(assumed 60 s\)/);
    } finally {
      await srv.close();
    }
  });
});

describe('credentials', () => {
  it('answers one Basic challenge when not pre-emptive, and not twice', async () => {
    q.setQuirks({});
    const before = q.requests.length;
    await client({ basicPreemptive: false }).enroll(factory('CN=challenged').csr);
    const sent = q.requests.slice(before);
    expect(sent.map((r) => [r.status, r.authorization])).toEqual([[401, false], [200, true]]);
    expect(sent[1]!.headers).toMatchObject({ 'content-type': 'application/pkcs10', 'content-transfer-encoding': 'base64' });
    const wrongBefore = q.requests.length;
    const err = await failure(client({ basicPreemptive: false, basic: { ...basic, password: 'wrong' } }).enroll(factory().csr));
    expect(err.kind).toBe('auth');
    expect(q.requests.slice(wrongBefore).map((r) => r.status)).toEqual([401, 401]);
  });

  it('bootstrap: no Authorization header and no client certificate, also with a wrong fingerprint', async () => {
    const dev = await q.issueClientCert('CN=boot-device');
    const before = q.requests.length;
    const ok = client({ trust: { kind: 'bootstrap', fingerprintSha256: q.rootFingerprintSha256 }, clientCert: { certPem: dev.certPem, keyPem: dev.keyPem } });
    expect(await ok.cacerts()).toHaveLength(2);
    const bad = client({ trust: { kind: 'bootstrap', fingerprintSha256: '00'.repeat(32) }, clientCert: { certPem: dev.certPem, keyPem: dev.keyPem } });
    expect((await failure(bad.cacerts())).kind).toBe('tls');
    const sent = q.requests.slice(before);
    expect(sent).toHaveLength(2);
    expect(sent.every((r) => !r.authorization && r.clientCert === undefined)).toBe(true);
  });

  it('bootstrap: a 401 challenge on cacerts is not answered', async () => {
    const tls = await device.issue('challenging', { eku: [OID.serverAuth] });
    const srv = await startTlsServer({ ...tls, handler: (_req, res) => void res.writeHead(401, { 'www-authenticate': 'Basic realm="x"', 'content-type': 'text/plain' }).end('who are you?\n') });
    try {
      const err = await failure(client({ server: srv.url, trust: { kind: 'bootstrap', fingerprintSha256: '11'.repeat(32) } }).cacerts());
      expect(err.kind).toBe('auth');
      expect(err.message).toMatch(/cacerts: authentication refused \(401 Unauthorized\): who are you\? \(no credentials are sent while bootstrapping trust/);
      expect(srv.requests).toHaveLength(1);
      expect(srv.requests[0]!.headers.authorization).toBeUndefined();
    } finally {
      await srv.close();
    }
  });
});

describe('options and the CSR factory', () => {
  it('refuses unusable options with usage errors', () => {
    const usage = (opts: Partial<EstClientOptions>) => {
      try {
        client(opts);
      } catch (err) {
        return (err as EstClientError).kind;
      }
      return 'accepted';
    };
    expect(usage({ server: 'http://127.0.0.1:8080' })).toBe('usage');
    expect(usage({ server: 'not a url' })).toBe('usage');
    expect(usage({ label: 'a/b' })).toBe('usage');
    expect(usage({ label: '..' })).toBe('usage');
    expect(usage({ trust: { kind: 'explicit', anchors: [] } })).toBe('usage');
    expect(usage({ server: 'https://[::1]:8443/.well-known/est/', label: 'iot' })).toBe('accepted');
  });

  it('an error thrown by the CSR factory reaches the caller as it is', async () => {
    const boom = new Error('no key');
    const c = client();
    await expect(c.enroll(() => Promise.reject(boom))).rejects.toBe(boom);
    // the client is still usable afterwards
    expect((await c.enroll(factory('CN=after-boom').csr)).certificate.length).toBeGreaterThan(0);
  });
});

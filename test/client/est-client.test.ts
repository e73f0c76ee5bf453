/**
 * EstClient against Estuary's own server over real TLS: every operation, trust mode and
 * authentication combination, PoP linking under TLS 1.2 and 1.3, 202 waiting, serverkeygen.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EstClient, type CsrFactory, type EstClientOptions } from '../../src/client/est-client.js';
import { EstClientError, EXIT_CODES } from '../../src/client/errors.js';
import { pemBlocks, toPem } from '../../src/pki/base64.js';
import { openEnvelope } from '../../src/pki/enveloped-data.js';
import { OID } from '../../src/pki/oids.js';
import { makeDeviceCa, type DeviceCa } from '../helpers/device-ca.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { generateKeys, makeCsr, x509, type TestKeyType } from '../helpers/keys.js';
import { startTlsServer } from './tls-test-server.js';

let s: TestServer;
let device: DeviceCa;
let basic: { user: string; password: string };
let anchors: Buffer[];

beforeAll(async () => {
  s = await startServer();
  basic = { user: s.summary.estAccount.email, password: s.summary.estAccount.password };
  anchors = pemBlocks(s.rootPem);
  device = await makeDeviceCa();
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'devices', auth: 'tls-client-cert', clientTrustAnchors: [device.pem] });
  await s.runtime.store.createProfile({ ...p, label: 'both', auth: 'basic+tls-client-cert', clientTrustAnchors: [device.pem] });
  await s.runtime.store.createProfile({ ...p, label: 'restricted', allowedAccounts: ['someone-else@example.com'] });
  await s.runtime.store.createProfile({ ...p, label: 'pop', popLinking: 'required' });
  await s.runtime.store.createProfile({ ...p, label: 'held', approval: 'manual', retryAfterSeconds: 2 });
  await s.runtime.store.createProfile({ ...p, label: 'attrs', csrAttrs: ['challengePassword', 'ecdsaWithSHA256'] });
});
afterAll(async () => {
  await s.runtime.close();
});

const clients: EstClient[] = [];
afterAll(() => clients.forEach((c) => c.close()));

function client(extra: Partial<EstClientOptions> = {}): EstClient {
  const c = new EstClient({ server: `https://127.0.0.1:${s.port}`, trust: { kind: 'explicit', anchors }, ...extra });
  clients.push(c);
  return c;
}

interface Factory {
  csr: CsrFactory;
  calls: Array<{ channelBinding: Buffer | undefined; tlsVersion: string }>;
  keys: Promise<CryptoKeyPair>;
}

/** A CSR factory with one key for all calls; links PoP (challengePassword = base64 channel binding) when asked. */
function factory(name: string, opts: { link?: boolean; dns?: string[]; type?: TestKeyType } = {}): Factory {
  const keys = generateKeys(opts.type ?? 'ec-p256');
  const calls: Factory['calls'] = [];
  return {
    keys,
    calls,
    csr: async (ctx) => {
      calls.push(ctx);
      const challengePassword = opts.link && ctx.channelBinding ? ctx.channelBinding.toString('base64') : undefined;
      return (await makeCsr({ name, keys: await keys, ...(opts.dns ? { dns: opts.dns } : {}), ...(opts.type ? { type: opts.type } : {}), ...(challengePassword ? { challengePassword } : {}) })).der;
    },
  };
}

async function failure(p: Promise<unknown>): Promise<EstClientError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EstClientError);
  return err as EstClientError;
}

const spkiOf = (der: Buffer) => new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });

describe('cacerts and trust', () => {
  it('fetches the CA certificates under explicit trust', async () => {
    const certs = await client().cacerts();
    expect(certs.map((c) => new X509Certificate(c).subject)).toEqual([expect.stringContaining('Estuary Issuing CA'), expect.stringContaining('Estuary Root CA')]);
  });

  it('identifies the server by DNS name (https://localhost) as well as by IP address', async () => {
    const c = client({ server: `https://localhost:${s.port}/.well-known/est` });
    expect(await c.cacerts()).toHaveLength(2);
  });

  it.each([
    ['upper-case with colons', (fp: string) => fp.toUpperCase()],
    ['lower-case with colons', (fp: string) => fp.toLowerCase()],
    ['bare hex', (fp: string) => fp.replace(/:/g, '').toLowerCase()],
  ])('bootstrap: accepts cacerts whose root has the fingerprint (%s)', async (_name, form) => {
    const c = client({ trust: { kind: 'bootstrap', fingerprintSha256: form(s.summary.rootFingerprintSha256) }, basic });
    const certs = await c.cacerts();
    expect(certs.map((d) => d.toString('hex'))).toContain(anchors[0]!.toString('hex'));
    // the verified certificates then serve as explicit anchors
    const trusted = client({ trust: { kind: 'explicit', anchors: certs }, basic });
    const f = factory('CN=after-bootstrap');
    expect((await trusted.enroll(f.csr)).certificate.length).toBeGreaterThan(0);
  });

  it('bootstrap: refuses a wrong fingerprint and never sends credentials nor enrolls', async () => {
    const wrong = 'AB:'.repeat(31) + 'AB';
    const boot = await device.issue('boot');
    const c = client({ trust: { kind: 'bootstrap', fingerprintSha256: wrong }, basic, clientCert: { certPem: boot.cert, keyPem: boot.key } });
    const err = await failure(c.cacerts());
    expect(err.kind).toBe('tls');
    expect(EXIT_CODES[err.kind]).toBe(6);
    expect(err.message).toMatch(/no CA certificate has the fingerprint AB:AB/);
    expect((await failure(c.enroll(factory('CN=x').csr))).kind).toBe('usage');
    expect((await failure(c.csrattrs())).kind).toBe('usage');
    expect(() => client({ trust: { kind: 'bootstrap', fingerprintSha256: 'not-a-fingerprint' } })).toThrow(/not a SHA-256 fingerprint/);
  });

  it('refuses a server whose certificate does not chain to the explicit anchors', async () => {
    const other = await makeDeviceCa('CN=Unrelated CA');
    const err = await failure(client({ trust: { kind: 'explicit', anchors: pemBlocks(other.pem) }, basic }).cacerts());
    expect(err.kind).toBe('tls');
    expect(err.message).toMatch(/cacerts: TLS failure: .*(not issued by a trusted CA|not trusted)/);
  });

  it('insecure: talks to the server without validating it', async () => {
    expect(await client({ trust: { kind: 'insecure' } }).cacerts()).toHaveLength(2);
  });
});

describe('server identity (RFC 7030 §3.6)', () => {
  it('refuses a certificate for another host, and accepts an id-kp-cmcRA certificate under explicit trust only', async () => {
    const plain = await device.issue('other-host.example', { eku: [OID.serverAuth] });
    const ra = await device.issue('est-ra.example', { eku: [OID.serverAuth, OID.cmcRA] });
    const answer = (_req: unknown, res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/pkcs7-mime; smime-type=certs-only' }).end();
    };
    const mismatch = await startTlsServer({ ...plain, handler: answer });
    const raServer = await startTlsServer({ ...ra, handler: answer });
    try {
      const err = await failure(client({ server: mismatch.url, trust: { kind: 'explicit', anchors: pemBlocks(device.pem) }, basic }).cacerts());
      expect(err.kind).toBe('tls');
      expect(err.message).toMatch(/does not match the host.*127\.0\.0\.1/);
      expect(mismatch.requests).toHaveLength(0); // nothing, in particular no credentials, was sent
      // cmcRA: the identity check passes (the empty answer is then a bad response, not a TLS failure)
      const raErr = await failure(client({ server: raServer.url, trust: { kind: 'explicit', anchors: pemBlocks(device.pem) } }).cacerts());
      expect(raErr.kind).toBe('bad-response');
      expect(raErr.message).toBe('cacerts: the response body is empty');
      expect(raServer.requests).toHaveLength(1);
    } finally {
      await mismatch.close();
      await raServer.close();
    }
  });
});

describe('csrattrs', () => {
  it('answers [] for 204 and the attributes otherwise', async () => {
    expect(await client().csrattrs()).toEqual([]);
    expect(await client({ label: 'attrs' }).csrattrs()).toEqual([{ oid: OID.challengePassword }, { oid: OID.ecdsaWithSHA256 }]);
  });
});

describe('enroll and reenroll', () => {
  it('enrolls with HTTP Basic, reusing one connection for several requests', async () => {
    const c = client({ basic });
    await c.cacerts();
    const f = factory('CN=basic-device', { dns: ['basic-device.example'] });
    const r1 = await c.enroll(f.csr);
    const cert = new X509Certificate(r1.certificate);
    expect(cert.subject).toBe('CN=basic-device');
    expect(cert.subjectAltName).toBe('DNS:basic-device.example');
    expect(r1.extraCertificates).toEqual([]);
    expect(r1.tlsVersion).toBe('TLSv1.3');
    await c.enroll(f.csr);
    // the same kept-alive connection: the same channel binding both times
    expect(f.calls).toHaveLength(2);
    expect(f.calls[0]!.channelBinding!.equals(f.calls[1]!.channelBinding!)).toBe(true);
    const audit = await s.runtime.store.listAudit({ action: 'simpleenroll' });
    expect(audit.some((e) => e.serial === cert.serialNumber.toLowerCase() && e.outcome === 'success')).toBe(true);
  });

  it('enrolls with a TLS client certificate, and with both mechanisms', async () => {
    const dev = await device.issue('sensor-1');
    const r = await client({ label: 'devices', clientCert: { certPem: dev.cert, keyPem: dev.key } }).enroll(factory('CN=sensor-1').csr);
    expect(new X509Certificate(r.certificate).subject).toBe('CN=sensor-1');
    const gw = await device.issue('gateway-1');
    const both = await client({ label: 'both', basic, clientCert: { certPem: gw.cert, keyPem: gw.key } }).enroll(factory('CN=gateway-1').csr);
    expect(new X509Certificate(both.certificate).subject).toBe('CN=gateway-1');
    const certOnly = await failure(client({ label: 'both', clientCert: { certPem: gw.cert, keyPem: gw.key } }).enroll(factory('CN=gateway-1').csr));
    expect(certOnly.kind).toBe('auth');
  });

  it('fails with auth on a wrong password or missing credentials, with the server reason', async () => {
    const wrong = await failure(client({ basic: { ...basic, password: 'wrong-password' } }).enroll(factory('CN=x').csr));
    expect(wrong).toMatchObject({ kind: 'auth', status: 401 });
    expect(wrong.message).toMatch(/^simpleenroll: authentication refused \(401 Unauthorized\): invalid EST account credentials/);
    expect(EXIT_CODES[wrong.kind]).toBe(3);
    const none = await failure(client().enroll(factory('CN=x').csr));
    expect(none.kind).toBe('auth');
    expect(none.message).toMatch(/HTTP Basic credentials .* are required.*no credentials were given/);
  });

  it('fails with policy when the profile refuses, with the server reason', async () => {
    const refused = await failure(client({ label: 'restricted', basic }).enroll(factory('CN=x').csr));
    expect(refused).toMatchObject({ kind: 'policy', status: 403 });
    expect(refused.message).toMatch(/refused by the server \(403 Forbidden\): .*not allowed on profile "restricted"/);
    const weak = await failure(client({ basic }).enroll(factory('CN=weak', { type: 'rsa-1024' }).csr));
    expect(weak.kind).toBe('policy');
    expect(weak.message).toMatch(/RSA 1024 bits is not allowed/);
    const unknown = await failure(client({ label: 'nosuch', basic }).enroll(factory('CN=x').csr));
    expect(unknown).toMatchObject({ kind: 'policy', status: 404 });
  });

  it('reenrolls with the current certificate (same key), and rekeys', async () => {
    const f = factory('CN=renew-me', { dns: ['renew-me.example'] });
    const first = await client({ basic }).enroll(f.csr);
    const keyPem = toPem('PRIVATE KEY', Buffer.from(await crypto.subtle.exportKey('pkcs8', (await f.keys).privateKey)));
    const current = { certPem: toPem('CERTIFICATE', first.certificate), keyPem };
    const renewed = await client({ clientCert: current }).reenroll(f.csr);
    const old = new X509Certificate(first.certificate);
    const fresh = new X509Certificate(renewed.certificate);
    expect(fresh.subject).toBe(old.subject);
    expect(fresh.serialNumber).not.toBe(old.serialNumber);
    expect(spkiOf(renewed.certificate).equals(spkiOf(first.certificate))).toBe(true);
    expect((await s.runtime.store.getCertificate(fresh.serialNumber.toLowerCase()))?.renews).toBe(old.serialNumber.toLowerCase());
    const rekeyed = await client({ clientCert: current }).reenroll(factory('CN=renew-me', { dns: ['renew-me.example'] }).csr);
    expect(spkiOf(rekeyed.certificate).equals(spkiOf(first.certificate))).toBe(false);
  });
});

describe.each(['TLSv1.2', 'TLSv1.3'] as const)('proof-of-possession linking over %s', (version) => {
  it('a PoP-required profile issues when the factory puts the binding of the carrying connection in challengePassword', async () => {
    const c = client({ label: 'pop', basic, tls: { minVersion: version, maxVersion: version } });
    await c.csrattrs(); // the connection is opened (and kept) before the POST
    const f = factory('CN=pop-device', { link: true });
    const r = await c.enroll(f.csr);
    expect(r.tlsVersion).toBe(version);
    expect(f.calls[0]).toMatchObject({ tlsVersion: version });
    expect(f.calls[0]!.channelBinding).toHaveLength(version === 'TLSv1.3' ? 32 : 12);
    // without linking the same profile refuses
    const unlinked = await failure(c.enroll(factory('CN=pop-device').csr));
    expect(unlinked.kind).toBe('policy');
    expect(unlinked.message).toMatch(/proof-of-possession linking is required/);
  });

  it('each request is linked to the connection that carries it: again on the kept-alive one, another binding on a new one', async () => {
    const c = client({ label: 'pop', basic, tls: { minVersion: version, maxVersion: version } });
    const f = factory('CN=pop-again', { link: true });
    await c.enroll(f.csr);
    const again = await c.enroll(f.csr);
    expect(new X509Certificate(again.certificate).subject).toBe('CN=pop-again');
    expect(f.calls[1]!.channelBinding!.equals(f.calls[0]!.channelBinding!)).toBe(true);
    const other = client({ label: 'pop', basic, tls: { minVersion: version, maxVersion: version } });
    await other.enroll(f.csr);
    expect(f.calls).toHaveLength(3);
    expect(f.calls[2]).toMatchObject({ tlsVersion: version });
    expect(f.calls[2]!.channelBinding!.equals(f.calls[0]!.channelBinding!)).toBe(false);
    other.close();
    c.close();
  });
});

describe('202 pending (RFC 7030 §4.2.3)', () => {
  async function approveHeld(subject: string): Promise<void> {
    const held = (await s.runtime.store.listPendingRequests({ profile: 'held' })).find((r) => r.subject === subject && r.status === 'pending');
    expect(held).toBeDefined();
    expect(await s.runtime.store.decidePendingRequest(held!.id, 'approved', 'officer@example.com', null, new Date())).toBe(true);
  }

  it('waits Retry-After, re-sends the same key on each attempt, and succeeds after approval', async () => {
    const waits: unknown[] = [];
    const slept: number[] = [];
    const now = new Date('2030-01-01T00:00:00Z');
    const c = client({
      label: 'held',
      basic,
      maxWaitSeconds: 10,
      now: () => now,
      onWaiting: (w) => waits.push(w),
      sleep: async (ms) => {
        slept.push(ms);
        if (slept.length === 2) await approveHeld('CN=held-device');
      },
    });
    const f = factory('CN=held-device');
    const r = await c.enroll(f.csr);
    expect(new X509Certificate(r.certificate).subject).toBe('CN=held-device');
    expect(slept).toEqual([2000, 2000]);
    expect(waits).toEqual([
      { seconds: 2, until: new Date('2030-01-01T00:00:02Z'), attempt: 1, retryAfterMissing: false, message: expect.stringMatching(/pending approval/) },
      { seconds: 2, until: new Date('2030-01-01T00:00:02Z'), attempt: 2, retryAfterMissing: false, message: expect.stringMatching(/pending approval/) },
    ]);
    expect(f.calls).toHaveLength(3);
    // one held request for the three sends: the same key each time
    expect((await s.runtime.store.listPendingRequests({ profile: 'held' })).filter((p) => p.subject === 'CN=held-device')).toHaveLength(1);
  });

  it('gives up with pending when the next wait would pass maxWaitSeconds (default: at once)', async () => {
    const slept: number[] = [];
    const err = await failure(client({ label: 'held', basic, maxWaitSeconds: 5, sleep: async (ms) => void slept.push(ms) }).enroll(factory('CN=held-long').csr));
    expect(err).toMatchObject({ kind: 'pending', status: 202 });
    expect(err.message).toMatch(/simpleenroll: the request is pending \(202: .*pending approval.*\); the server asks to retry after 2 s .*past the maximum wait of 5 s \(waited 4 s so far\)/);
    expect(slept).toEqual([2000, 2000]);
    expect(EXIT_CODES[err.kind]).toBe(5);
    const immediate = await failure(client({ label: 'held', basic }).enroll(factory('CN=held-now').csr));
    expect(immediate.kind).toBe('pending');
    expect(immediate.message).toMatch(/waiting is not enabled/);
  });
});

/** A CSR asking for the key to be returned encrypted to the TLS client certificate (RFC 7030 §4.4.1.2). */
async function encryptedKeyCsr(name: string): Promise<Buffer> {
  const keys = await generateKeys('ec-p256');
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
    attributes: [new x509.Attribute(OID.asymmetricDecryptKeyIdentifier, [new Uint8Array([0x04, 0x00]).buffer])],
  });
  return Buffer.from(csr.rawData);
}

describe('serverkeygen (RFC 7030 §4.4)', () => {
  it('returns a PKCS#8 key and the certificate for it', async () => {
    const r = await client({ basic }).serverkeygen(factory('CN=keyless').csr);
    expect(r.privateKey.kind).toBe('pkcs8');
    const key = createPrivateKey({ key: r.privateKey.der, format: 'der', type: 'pkcs8' });
    expect(createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(spkiOf(r.certificate))).toBe(true);
    expect(new X509Certificate(r.certificate).subject).toBe('CN=keyless');
  });

  it('returns the key encrypted (EnvelopedData) to the TLS client certificate when the CSR asks', async () => {
    const dev = await device.issue('enc-device');
    const r = await client({ label: 'devices', clientCert: { certPem: dev.cert, keyPem: dev.key } }).serverkeygen(() => encryptedKeyCsr('CN=enc-device'));
    expect(r.privateKey.kind).toBe('enveloped');
    expect(new X509Certificate(r.certificate).subject).toBe('CN=enc-device');
    // openEnvelope (another module) gives back the PKCS#8 key of the issued certificate
    const pkcs8 = await openEnvelope(r.privateKey.der, pemBlocks(dev.cert)[0]!, createPrivateKey(dev.key));
    const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    expect(createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(spkiOf(r.certificate))).toBe(true);
  });
});

describe('network failures', () => {
  it('server down → network', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const err = await failure(client({ server: `https://127.0.0.1:${port}`, basic }).enroll(factory('CN=x').csr));
    expect(err.kind).toBe('network');
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(EXIT_CODES[err.kind]).toBe(7);
  });

  it('no answer within timeoutMs → network', async () => {
    const silent = await device.issue('silent', { eku: [OID.serverAuth] });
    const srv = await startTlsServer({ ...silent, handler: () => undefined });
    try {
      const err = await failure(client({ server: srv.url, trust: { kind: 'insecure' }, timeoutMs: 300 }).cacerts());
      expect(err.kind).toBe('network');
      expect(err.message).toMatch(/no answer within/);
    } finally {
      await srv.close();
    }
  });
});

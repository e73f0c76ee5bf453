/**
 * The upstream EST connector (type: est) against a non-Estuary EST server (test/helpers/quirky-est-server.ts)
 * as the upstream of an Estuary RA, over real TLS with a real store: every answer variant RFC 8951
 * asks a client to tolerate still enrolls through the RA; answers the RA must not pass on are 502
 * naming the connector and record nothing; upstream outages map to 503/202 with the right Retry-After;
 * /cacerts and /csrattrs come from the upstream; reenroll is forwarded or sent as an enroll.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setCaConnector } from '../../src/cli/config-edit.js';
import { decodeBase64Body } from '../../src/pki/base64.js';
import { decodeCsrAttrs, type AttrOrOid } from '../../src/pki/csr-attrs.js';
import { oid } from '../../src/pki/der.js';
import { parseCsr } from '../../src/pki/csr.js';
import { OID } from '../../src/pki/oids.js';
import { parseCertsOnly } from '../../src/pki/signed-data.js';
import { certsFrom, csrBody, estRequest, pem, type EstResponse } from '../helpers/est-http.js';
import { makeHome, startServer, type TestServer } from '../helpers/home.js';
import { makeCsr, type TestCsr } from '../helpers/keys.js';
import { startQuirkyServer, type QuirkyServer, type Quirks } from '../helpers/quirky-est-server.js';

const raCredentials = { user: 'estuary-ra', password: 'ra-upstream-secret' };
// what the upstream announces: challengePassword (never passed on), one the profile names too, two of its own
const UPSTREAM_ATTRS: AttrOrOid[] = [
  { oid: OID.challengePassword },
  { oid: OID.serialNumber },
  { oid: OID.ecdsaWithSHA384 },
  { type: OID.extensionRequest, values: [oid(OID.macAddress)] },
];

let q: QuirkyServer;
let ra: TestServer;
let basic: { user: string; password: string };
let cacertsAtStart: EstResponse;

beforeAll(async () => {
  // the first /cacerts the connectors fetch is an odd one: root first, CRLF-wrapped, chunked, no CTE
  q = await startQuirkyServer({
    auth: { basic: raCredentials }, csrAttrs: UPSTREAM_ATTRS, labels: ['ra'],
    quirks: { withChain: 'reversed', crlfWrap: true, chunked: true, noCte: true, contentTypeVariants: 'x-pkcs7-mime' },
  });
  const home = await makeHome();
  writeFileSync(join(home.home, 'quirky-root.pem'), q.caPem);
  writeFileSync(join(home.home, 'upstream.password'), raCredentials.password + '\n', { mode: 0o600 });
  writeFileSync(join(home.home, 'wrong.password'), 'not-the-password\n', { mode: 0o600 });
  const connector = (extra: Record<string, unknown> = {}, passwordFile = 'upstream.password'): Record<string, unknown> => ({
    type: 'est', url: q.url, trustAnchors: ['quirky-root.pem'], auth: { basic: { user: raCredentials.user, passwordFile } }, ...extra,
  });
  setCaConnector(home.home, 'upstream', connector({ retryAfterSeconds: 23 }));
  setCaConnector(home.home, 'forwarding', connector({ reenroll: 'forward', label: 'ra' }));
  setCaConnector(home.home, 'wrongpass', connector({}, 'wrong.password'));
  setCaConnector(home.home, 'wronglabel', connector({ label: 'no-such-label' }));
  setCaConnector(home.home, 'slow', connector({ timeoutSeconds: 2 }));
  setCaConnector(home.home, 'keygen-local', connector({ serverKeygen: 'local' }));
  ra = await startServer(home);
  const store = ra.runtime.store;
  const p = (await store.getProfile('default'))!;
  await store.updateProfile({ ...p, ca: 'upstream', csrAttrs: ['serialNumber', 'macAddress'] });
  for (const ca of ['forwarding', 'wrongpass', 'wronglabel', 'slow', 'keygen-local']) await store.createProfile({ ...p, label: ca, ca });
  basic = { user: ra.summary.estAccount.email, password: ra.summary.estAccount.password };
  cacertsAtStart = await estRequest(ra.base + '/cacerts', { ca: ra.rootPem });
  q.setQuirks({});
}, 60_000);
afterAll(async () => {
  await ra?.runtime.close();
  await q?.close();
});

const post = (path: string, csr: TestCsr, extra: { clientCert?: { cert: string; key: string } } = {}): Promise<EstResponse> =>
  estRequest(ra.base + path, { ca: ra.rootPem, body: csrBody(csr.der), contentType: 'application/pkcs10', ...(extra.clientCert ? extra : { basic }) });
const recordedFor = async (subject: string) => (await ra.runtime.store.listCertificates()).filter((c) => c.subject === subject);
const spkiOf = (der: Buffer): Buffer => Buffer.from(new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' }));
const jwk = (der: Buffer) => new X509Certificate(der).publicKey.export({ format: 'jwk' });

/** The parts of the RA's multipart/mixed serverkeygen answer (it writes CRLF and an unquoted boundary). */
function parts(res: EstResponse): Array<{ type: string; der: Buffer }> {
  const boundary = /boundary=([^;]+)/.exec(String(res.headers['content-type']))![1]!;
  return res.text.split(`--${boundary}`).slice(1, -1).map((p) => {
    const [head = '', body = ''] = p.split('\r\n\r\n');
    return { type: /Content-Type: *([^\r\n]+)/i.exec(head)![1]!, der: decodeBase64Body(body) };
  });
}

const lastAuditId = async (): Promise<number> => Math.max(0, ...(await ra.runtime.store.listAudit()).map((e) => e.id));

/** The upstream's last enroll-type request for a subject. */
const upstreamRequestFor = (subject: string) => q.requests.filter((r) => r.csr?.subject === subject).at(-1);

const TOLERATED: Array<[string, Quirks]> = [
  ['a sized body, the defaults', {}],
  ['chunked transfer coding', { chunked: true }],
  ['base64 wrapped at 76 with CRLF', { crlfWrap: true }],
  ['base64 without line breaks', { noWrap: true }],
  ['stray whitespace in the base64', { extraWhitespace: true }],
  ['no Content-Transfer-Encoding', { noCte: true }],
  ['a trailing NUL', { trailingNul: true }],
  ['certs-only with an empty eContent', { eContent: true }],
  ['the certificate followed by its chain', { withChain: 'leaf-first' }],
  ['the chain root first, the certificate last', { withChain: 'reversed' }],
  ['Connection: close after each answer', { connectionClose: true }],
  ['application/pkcs7-mime without smime-type', { contentTypeVariants: 'no-smime-type' }],
  ['upper-case media types and parameters', { contentTypeVariants: 'upper-case' }],
  ['quoted parameters', { contentTypeVariants: 'quoted' }],
  ['the legacy application/x-pkcs7-mime', { contentTypeVariants: 'x-pkcs7-mime' }],
  ['multipart: certificate part first', { multipartVariants: { certFirst: true } }],
  ['multipart: quoted boundary, LF, certificate first, preamble and epilogue', { multipartVariants: true }],
  ['serverkeygen key as PKCS#1 RSAPrivateKey labelled application/pkcs8', { serverKeyWrapper: 'pkcs1' }],
  ['serverkeygen key as SEC 1 ECPrivateKey labelled application/pkcs8', { serverKeyWrapper: 'sec1' }],
  ['everything at once', { crlfWrap: true, trailingNul: true, noCte: true, chunked: true, eContent: true, withChain: 'reversed', connectionClose: true, contentTypeVariants: 'upper-case', multipartVariants: true, serverKeyWrapper: 'sec1' }],
];

describe('the RA in front of a quirky upstream', () => {
  it('/cacerts of the RA is the upstream\'s CA certificates, issuing CA first, though the upstream sent them root first', () => {
    expect(cacertsAtStart.status, cacertsAtStart.text).toBe(200);
    expect(certsFrom(cacertsAtStart).map((d) => d.toString('hex'))).toEqual(q.caCerts.map((d) => d.toString('hex')));
    expect(q.requests.some((r) => r.operation === 'cacerts' && r.status === 200)).toBe(true);
  });

  it('/csrattrs of the RA merges the profile\'s attributes with the upstream\'s, without the upstream\'s challengePassword', async () => {
    const res = await estRequest(ra.base + '/csrattrs', { ca: ra.rootPem });
    expect(res.status, res.text).toBe(200);
    const items = decodeCsrAttrs(decodeBase64Body(res.body));
    expect(items).toEqual([
      { oid: OID.serialNumber },
      { oid: OID.macAddress },
      { oid: OID.ecdsaWithSHA384 },
      { type: OID.extensionRequest, values: [oid(OID.macAddress)] },
    ]);
  });

  it.each(TOLERATED)('%s: enroll and serverkeygen through the RA succeed', async (name, quirks) => {
    q.setQuirks(quirks);
    const subject = `CN=tolerant ${TOLERATED.findIndex(([n]) => n === name)}`;
    const csr = await makeCsr({ name: subject, dns: ['tolerant.example'] });
    const res = await post('/simpleenroll', csr);
    expect(res.status, res.text).toBe(200);
    const [cert, ...rest] = certsFrom(res);
    expect(rest).toEqual([]);
    expect(new X509Certificate(cert!).subject).toBe(subject);
    expect(spkiOf(cert!).equals(createPublicKey(csr.keyPem).export({ type: 'spki', format: 'der' }))).toBe(true);
    expect(q.issued.some((d) => d.equals(cert!))).toBe(true);
    expect(await recordedFor(subject)).toHaveLength(1);

    const kgSubject = `${subject} keygen`;
    const kg = await post('/serverkeygen', await makeCsr({ name: kgSubject, dns: ['tolerant.example'] }));
    expect(kg.status, kg.text).toBe(200);
    const [keyPart, certPart] = parts(kg);
    expect(keyPart!.type).toBe('application/pkcs8');
    const [kgCert] = parseCertsOnly(certPart!.der);
    const key = createPrivateKey({ key: keyPart!.der, format: 'der', type: 'pkcs8' });
    expect(key.asymmetricKeyType).toBe(quirks.serverKeyWrapper === 'pkcs1' ? 'rsa' : 'ec');
    expect(createPublicKey(key).export({ format: 'jwk' })).toEqual(jwk(kgCert!));
    expect(q.issued.some((d) => d.equals(kgCert!))).toBe(true);
    expect(upstreamRequestFor(kgSubject)?.operation).toBe('serverkeygen');
  }, 60_000);

  it('reenroll: the default (reenroll: enroll) sends simpleenroll upstream; reenroll: forward sends simplereenroll', async () => {
    q.setQuirks({});
    for (const [label, expected] of [['', 'simpleenroll'], ['/forwarding', 'simplereenroll']] as const) {
      const subject = `CN=renewing${label.replace('/', '-')}`;
      const csr = await makeCsr({ name: subject });
      const first = await post(`${label}/simpleenroll`, csr);
      expect(first.status, first.text).toBe(200);
      const [cert] = certsFrom(first);
      const renewal = await post(`${label}/simplereenroll`, csr, { clientCert: { cert: pem(cert!), key: csr.keyPem } });
      expect(renewal.status, renewal.text).toBe(200);
      const [renewed] = certsFrom(renewal);
      expect(renewed!.equals(cert!)).toBe(false);
      expect(new X509Certificate(renewed!).subject).toBe(subject);
      const sent = q.requests.filter((r) => r.csr?.subject === subject);
      expect(sent.map((r) => r.operation)).toEqual(['simpleenroll', expected]);
      expect(sent.every((r) => r.basicUser === raCredentials.user && r.label === (label ? 'ra' : undefined))).toBe(true);
    }
  }, 60_000);
});

describe('answers the RA must not pass on: 502 naming the connector, nothing recorded, the refusal audited', () => {
  const BAD: Array<[string, Quirks, RegExp]> = [
    ['a certificate for another key', { badCertificate: 'other-key' }, /sent an answer the RA cannot use on simpleenroll: simpleenroll: no returned certificate is for the public key of the request/],
    ['a certificate with a SAN the RA did not admit', { badCertificate: 'extra-san' }, /returned names the profile did not admit: dns:not-admitted\.example/i],
    ['a certificate for another subject', { badCertificate: 'other-subject' }, /returned the subject "CN=someone-else, O=Quirky" where the RA admitted "CN=bad-/],
    ['a certificate not signed by the upstream\'s /cacerts', { badCertificate: 'foreign-issuer' }, /does not chain to its \/cacerts/],
    ['garbled base64 instead of PKCS#7', { garbledBase64: true, only: ['simpleenroll'] }, /cannot use on simpleenroll: simpleenroll: the response is not base64/],
    ['a ContentInfo that is not SignedData', { notSignedData: true, only: ['simpleenroll'] }, /cannot use on simpleenroll: .*not SignedData/],
    ['truncated DER', { truncatedDer: true, only: ['simpleenroll'] }, /cannot use on simpleenroll: .*truncated DER/],
    ['an HTML page', { wrongContentType: true, only: ['simpleenroll'] }, /cannot use on simpleenroll: .*text\/html/],
  ];

  it.each(BAD)('%s', async (_name, quirks, reason) => {
    q.setQuirks(quirks);
    const subject = `CN=bad-${BAD.findIndex(([, qq]) => qq === quirks)}`;
    const since = await lastAuditId();
    const res = await post('/simpleenroll', await makeCsr({ name: subject, dns: ['bad.example'] }));
    expect(res.status, res.text).toBe(502);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('CA connector "upstream"');
    expect(res.text).toMatch(reason);
    expect(upstreamRequestFor(subject)?.status).toBe(200); // the upstream did answer
    expect(await recordedFor(subject)).toEqual([]);
    const audit = (await ra.runtime.store.listAudit()).filter((e) => e.id > since);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'simpleenroll', outcome: 'misconfigured', actor: basic.user, serial: null });
    expect(audit[0]!.detail).toMatch(reason);
  }, 60_000);
});

describe('serverkeygen answers the RA must not pass on: 502, no key to the client, nothing recorded', () => {
  const BAD_KEYGEN: Array<[string, Quirks, RegExp]> = [
    ['a certificate for another key than the one returned', { badCertificate: 'other-key', only: ['serverkeygen'] }, /cannot use on serverkeygen: serverkeygen: the returned private key does not belong to the returned certificate/],
    ['a certificate with a SAN the RA did not admit', { badCertificate: 'extra-san', only: ['serverkeygen'] }, /returned names the profile did not admit/],
    ['a certificate not signed by the upstream\'s /cacerts', { badCertificate: 'foreign-issuer', only: ['serverkeygen'] }, /does not chain to its \/cacerts/],
    ['a multipart answer whose certificate part is not SignedData', { notSignedData: true, only: ['serverkeygen'] }, /cannot use on serverkeygen/],
  ];
  it.each(BAD_KEYGEN)('%s', async (_name, quirks, reason) => {
    q.setQuirks(quirks);
    const subject = `CN=bad-keygen-${BAD_KEYGEN.findIndex(([, qq]) => qq === quirks)}`;
    const since = await lastAuditId();
    const res = await post('/serverkeygen', await makeCsr({ name: subject, dns: ['bad-keygen.example'] }));
    expect(res.status, res.text).toBe(502);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('CA connector "upstream"');
    expect(res.text).toMatch(reason);
    expect(upstreamRequestFor(subject)).toMatchObject({ operation: 'serverkeygen', status: 200 });
    expect(await recordedFor(subject)).toEqual([]);
    const audit = (await ra.runtime.store.listAudit()).filter((e) => e.id > since);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'serverkeygen', outcome: 'misconfigured', serial: null });
  }, 60_000);
});

describe('serverKeygen: local', () => {
  it('the RA makes the key and enrolls upstream with a CSR it signs with that key, the admitted subject and SAN', async () => {
    q.setQuirks({});
    const csr = await makeCsr({ name: 'CN=keygen-local', dns: ['keygen-local.example'] });
    const res = await post('/keygen-local/serverkeygen', csr);
    expect(res.status, res.text).toBe(200);
    const [keyPart, certPart] = parts(res);
    const [cert] = parseCertsOnly(certPart!.der);
    const key = createPrivateKey({ key: keyPart!.der, format: 'der', type: 'pkcs8' });
    expect(createPublicKey(key).export({ format: 'jwk' })).toEqual(jwk(cert!));
    const sent = upstreamRequestFor('CN=keygen-local')!;
    expect(sent.operation).toBe('simpleenroll');
    // not the client's CSR: one for the generated key
    expect(sent.csr!.der.equals(csr.der)).toBe(false);
    expect(parseCsr(sent.csr!.der).spki.equals(createPublicKey(key).export({ type: 'spki', format: 'der' }))).toBe(true);
    expect(new X509Certificate(cert!).subjectAltName).toBe('DNS:keygen-local.example');
    expect(await recordedFor('CN=keygen-local')).toHaveLength(1);
  }, 60_000);
});

describe('upstream failures', () => {
  const enrollAt = async (label: string, subject: string): Promise<EstResponse> => post(`${label}/simpleenroll`, await makeCsr({ name: subject }));

  it('upstream 500 → 503 with the connector\'s Retry-After; nothing recorded', async () => {
    q.setQuirks({ status500: true, only: ['simpleenroll'] });
    const res = await enrollAt('', 'CN=upstream-500');
    expect(res.status, res.text).toBe(503);
    expect(res.headers['retry-after']).toBe('23');
    expect(upstreamRequestFor('CN=upstream-500')).toBeUndefined(); // refused before the CSR was read
    expect(q.requests.at(-1)?.status).toBe(500);
    expect(await recordedFor('CN=upstream-500')).toEqual([]);
    const [event] = (await ra.runtime.store.listAudit({ action: 'simpleenroll' })).filter((e) => e.outcome === 'unavailable').slice(-1);
    expect(event?.serial).toBeNull();
  }, 60_000);

  it('upstream 503 with Retry-After: 17 → the RA passes Retry-After: 17', async () => {
    q.setQuirks({ status503: { retryAfterSeconds: 17 }, only: ['simpleenroll'] });
    const res = await enrollAt('', 'CN=upstream-503');
    expect(res.status, res.text).toBe(503);
    expect(res.headers['retry-after']).toBe('17');
    expect(await recordedFor('CN=upstream-503')).toEqual([]);
  }, 60_000);

  it('upstream 202 with Retry-After → 202 with that Retry-After; the re-send is issued and recorded once', async () => {
    q.setQuirks({ respond202Times: 1, retryAfter: { seconds: 13 } });
    const csr = await makeCsr({ name: 'CN=upstream-202' });
    const held = await post('/simpleenroll', csr);
    expect(held.status, held.text).toBe(202);
    expect(held.headers['retry-after']).toBe('13');
    expect(await recordedFor('CN=upstream-202')).toEqual([]);
    const issued = await post('/simpleenroll', csr);
    expect(issued.status, issued.text).toBe(200);
    expect(await recordedFor('CN=upstream-202')).toHaveLength(1);
    expect(q.requests.filter((r) => r.csr?.subject === 'CN=upstream-202').map((r) => r.status)).toEqual([202, 200]);
  }, 60_000);

  it('upstream 401 (the RA\'s credentials are wrong) → 502 naming the connector', async () => {
    q.setQuirks({});
    const res = await enrollAt('/wrongpass', 'CN=upstream-401');
    expect(res.status, res.text).toBe(502);
    expect(res.text).toContain('CA connector "wrongpass" is misconfigured');
    expect(res.text).toContain('refused the RA\'s credentials on simpleenroll');
    expect(q.requests.at(-1)).toMatchObject({ status: 401, basicUser: raCredentials.user });
    expect(await recordedFor('CN=upstream-401')).toEqual([]);
    expect((await ra.runtime.store.listAudit({ action: 'simpleenroll' })).some((e) => e.outcome === 'misconfigured' && e.detail?.includes('"wrongpass"'))).toBe(true);
  }, 60_000);

  it('upstream 404 (a label it does not know) → 502 naming the connector and the label', async () => {
    const res = await enrollAt('/wronglabel', 'CN=upstream-404');
    expect(res.status, res.text).toBe(502);
    expect(res.text).toContain('CA connector "wronglabel" is misconfigured');
    expect(res.text).toContain('(label no-such-label) has no cacerts here (404: no such label: no-such-label); check the connector\'s url and label');
    // the connector found out on its first /cacerts and asks again before each request while it has none
    expect(q.requests.at(-1)).toMatchObject({ status: 404, path: '/.well-known/est/no-such-label/cacerts' });
    expect(await recordedFor('CN=upstream-404')).toEqual([]);
    expect((await ra.runtime.store.listAudit({ action: 'simpleenroll' })).some((e) => e.outcome === 'misconfigured' && e.detail?.includes('"wronglabel"'))).toBe(true);
    const cacerts = await estRequest(ra.base + '/wronglabel/cacerts', { ca: ra.rootPem });
    expect(cacerts.status, cacerts.text).toBe(502);
    expect(cacerts.text).toContain('CA connector "wronglabel" is misconfigured');
  }, 60_000);

  it('an upstream that never answers (timeoutSeconds: 2) → 503 with Retry-After', async () => {
    q.setQuirks({ neverAnswer: true, only: ['simpleenroll'] });
    const res = await enrollAt('/slow', 'CN=upstream-timeout');
    expect(res.status, res.text).toBe(503);
    expect(res.headers['retry-after']).toBe('30');
    expect(upstreamRequestFor('CN=upstream-timeout')).toBeUndefined(); // the CSR was never read: no answer at all
    expect(q.requests.at(-1)).toMatchObject({ operation: 'simpleenroll', status: 0 });
    expect(await recordedFor('CN=upstream-timeout')).toEqual([]);
    const [event] = (await ra.runtime.store.listAudit({ action: 'simpleenroll' })).filter((e) => e.outcome === 'unavailable').slice(-1);
    expect(event?.actor).toBe(basic.user);
    q.setQuirks({});
  }, 60_000);
});

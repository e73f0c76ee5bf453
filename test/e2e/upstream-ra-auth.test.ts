/**
 * How the RA authenticates to an upstream Estuary process, and what the upstream's answers become
 * for the client: Basic; the RA certificate (id-kp-cmcRA, RFC 7030 §3.7) with proof-of-possession
 * linking on both sides; both; manual approval upstream (202 + the upstream's Retry-After); a wrong
 * RA password (502 naming the connector); a request the upstream refuses (403 with its reason).
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_NAME_POLICY } from '../../src/ra/model.js';
import { estuary } from '../helpers/cli.js';
import { certsFrom, csrBody, estRequest, type EstResponse } from '../helpers/est-http.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { makeCsr, type TestCsr } from '../helpers/keys.js';
import {
  enrollRaCertificate, makeRaHome, routeProfiles, startUpstream, upstreamAccount, withUpstreamStore, type RaCertificate, type Upstream,
} from '../helpers/upstream.js';

let up: Upstream;
let ra: TestServer;
let raCert: RaCertificate;
let basic: { user: string; password: string };

beforeAll(async () => {
  up = await startUpstream((h) => ({
    racert: { auth: 'tls-client-cert', clientTrustAnchors: [h.rootPem], popLinking: 'required' },
    both: { auth: 'basic+tls-client-cert', clientTrustAnchors: [h.rootPem] },
    held: { approval: 'manual', retryAfterSeconds: 7 },
    restricted: { namePolicy: { ...structuredClone(EMPTY_NAME_POLICY), dnsSuffixes: ['.allowed.example'] } },
  }));
  raCert = await enrollRaCertificate(up);
  const home = await makeRaHome(up, {
    'up-basic': { basic: upstreamAccount(up) },
    'up-cert': { label: 'racert', certificate: raCert },
    'up-both': { label: 'both', basic: upstreamAccount(up), certificate: raCert },
    'up-both-nocert': { label: 'both', basic: upstreamAccount(up) },
    'up-held': { label: 'held', basic: upstreamAccount(up) },
    'up-restricted': { label: 'restricted', basic: upstreamAccount(up) },
    'up-wrong': { basic: { user: up.summary.estAccount.email, password: 'not-the-password' } },
  });
  ra = await startServer(home);
  await routeProfiles(ra.runtime.store, {
    default: { ca: 'up-basic' },
    pop: { ca: 'up-cert', popLinking: 'required' },
    'pop-basic': { ca: 'up-basic', popLinking: 'required' },
    both: { ca: 'up-both' },
    'both-nocert': { ca: 'up-both-nocert' },
    held: { ca: 'up-held' },
    restricted: { ca: 'up-restricted' },
    wrong: { ca: 'up-wrong' },
  });
  basic = { user: ra.summary.estAccount.email, password: ra.summary.estAccount.password };
}, 240_000);
afterAll(async () => {
  await ra?.runtime.close();
  await up?.stop();
});

const enroll = (label: string, csr: TestCsr): Promise<EstResponse> =>
  estRequest(`${ra.base}${label ? `/${label}` : ''}/simpleenroll`, { ca: ra.rootPem, basic, body: csrBody(csr.der), contentType: 'application/pkcs10' });

/** The issued certificate chains to the upstream's root through its issuing CA; its serial. */
function issuedByUpstream(res: EstResponse): string {
  expect(res.status, res.text).toBe(200);
  const cert = new X509Certificate(certsFrom(res)[0]!);
  const issuing = new X509Certificate(up.issuingPem);
  expect(cert.checkIssued(issuing) && cert.verify(issuing.publicKey)).toBe(true);
  expect(issuing.verify(new X509Certificate(up.rootPem).publicKey)).toBe(true);
  return cert.serialNumber.toLowerCase().replace(/^(00)+(?=[0-9a-f])/, '');
}

async function upstreamRecord(serial: string): Promise<{ requester: string; profile: string }> {
  const shown = await estuary(['cert', 'show', serial, '--json', '--home', up.home]);
  expect(shown.code, shown.stderr).toBe(0);
  return JSON.parse(shown.stdout) as { requester: string; profile: string };
}

/** The client's view of tls-unique / tls-exporter: the same value the server computes. */
function bindingOf(socket: TLSSocket): Buffer {
  return socket.getProtocol() === 'TLSv1.3' ? socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)) : socket.getFinished()!;
}

/** One TLS connection to the RA: handshake, a CSR linked to THIS session (or not), POSTed on the same connection. */
async function linkedEnroll(label: string, cn: string, linked: boolean, version: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3'): Promise<EstResponse> {
  const socket = connect({ host: '127.0.0.1', port: ra.port, ca: ra.rootPem, servername: 'localhost', minVersion: version, maxVersion: version });
  await once(socket, 'secureConnect');
  const csr = await makeCsr({ name: `CN=${cn}`, ...(linked ? { challengePassword: bindingOf(socket).toString('base64') } : {}) });
  const body = csrBody(csr.der);
  const authorization = 'Basic ' + Buffer.from(`${basic.user}:${basic.password}`).toString('base64');
  socket.write([`POST /.well-known/est/${label}/simpleenroll HTTP/1.1`, 'Host: 127.0.0.1', 'Content-Type: application/pkcs10', `Content-Length: ${Buffer.byteLength(body)}`,
    `Authorization: ${authorization}`, 'Connection: close'].join('\r\n') + '\r\n\r\n' + body);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'end');
  socket.destroy();
  const raw = Buffer.concat(chunks);
  const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('latin1');
  const content = raw.subarray(raw.indexOf('\r\n\r\n') + 4);
  // chunked bodies are not expected for these small answers; Content-Length is sent
  const headers = Object.fromEntries(head.split('\r\n').slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), headers, body: content, text: content.toString('utf8') };
}

describe('the RA authenticates upstream', () => {
  it('by HTTP Basic: the upstream records the RA\'s account as the requester', async () => {
    const serial = issuedByUpstream(await enroll('', await makeCsr({ name: 'CN=basic-device', dns: ['basic-device.example'] })));
    expect((await ra.runtime.store.getCertificate(serial))?.ca).toBe('up-basic');
    expect(await upstreamRecord(serial)).toMatchObject({ requester: up.summary.estAccount.email, profile: 'default' });
  }, 180_000);

  it('by its RA certificate (id-kp-cmcRA), with PoP linking required on the RA and upstream: the client\'s CSR is linked to the client<->RA session', async () => {
    for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
      const res = await linkedEnroll('pop', `linked-${version}`, true, version);
      const serial = issuedByUpstream(res);
      expect((await ra.runtime.store.getCertificate(serial))?.ca).toBe('up-cert');
      // RFC 7030 §3.7: the upstream skipped linking for the RA certificate, and records the RA as the requester
      expect(await upstreamRecord(serial)).toMatchObject({ requester: 'CN=estuary-ra', profile: 'racert' });
    }
  }, 180_000);

  it('refuses an unlinked CSR on the RA itself when linking is required (nothing is forwarded)', async () => {
    const before = await withUpstreamStore(up, (s) => s.countAudit({ profile: 'racert' }));
    const res = await linkedEnroll('pop', 'unlinked', false);
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/proof-of-possession linking is required/);
    expect(await withUpstreamStore(up, (s) => s.countAudit({ profile: 'racert' }))).toBe(before);
  }, 180_000);

  it('without the RA certificate, the upstream checks the forwarded challengePassword against the RA\'s own session and refuses it', async () => {
    const res = await linkedEnroll('pop-basic', 'linked-basic', true);
    expect(res.status, res.text).toBe(403);
    expect(res.text).toMatch(/does not match this TLS session's channel binding/);
  }, 180_000);

  it('by both (upstream profile basic+tls-client-cert): Basic and the RA certificate', async () => {
    const serial = issuedByUpstream(await enroll('both', await makeCsr({ name: 'CN=both-device' })));
    expect((await ra.runtime.store.getCertificate(serial))?.ca).toBe('up-both');
    expect(await upstreamRecord(serial)).toMatchObject({ requester: up.summary.estAccount.email, profile: 'both' });
    // Basic alone is not enough upstream: the RA's own credentials are refused, not the client
    const res = await enroll('both-nocert', await makeCsr({ name: 'CN=both-nocert' }));
    expect(res.status, res.text).toBe(502);
    expect(res.text).toMatch(/CA connector "up-both-nocert"/);
  }, 180_000);
});

describe('upstream manual approval', () => {
  it('202 with the upstream\'s Retry-After; after an officer approves upstream, the same CSR through the RA gets the certificate', async () => {
    const csr = await makeCsr({ name: 'CN=held-device', dns: ['held-device.example'] });
    const first = await enroll('held', csr);
    expect(first.status, first.text).toBe(202);
    expect(first.headers['retry-after']).toBe('7');
    expect(await ra.runtime.store.listCertificates({ profile: 'held' })).toEqual([]);
    // the RA audits the hold with the upstream's reference (operation and where)
    const held = (await ra.runtime.store.listAudit({ profile: 'held' })).find((e) => e.outcome === 'pending');
    expect(held?.detail).toContain(`simpleenroll at ${up.url} (label held)`);

    const listed = await estuary(['request', 'list', '--json', '--profile', 'held', '--home', up.home]);
    expect(listed.code, listed.stderr).toBe(0);
    const pending = JSON.parse(listed.stdout) as Array<{ id: number; subject: string; requester: string }>;
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ subject: 'CN=held-device', requester: up.summary.estAccount.email });

    // still held: the re-send is 202 again and does not make a second request upstream
    const again = await enroll('held', csr);
    expect(again.status, again.text).toBe(202);
    expect(again.headers['retry-after']).toBe('7');
    const stillOne = JSON.parse((await estuary(['request', 'list', '--json', '--profile', 'held', '--home', up.home])).stdout) as unknown[];
    expect(stillOne).toHaveLength(1);

    const approved = await estuary(['request', 'approve', String(pending[0]!.id), '--officer', 'officer@example.com', '--home', up.home]);
    expect(approved.code, approved.stderr).toBe(0);
    const serial = issuedByUpstream(await enroll('held', csr));
    const record = await ra.runtime.store.getCertificate(serial);
    expect(record).toMatchObject({ ca: 'up-held', profile: 'held', subject: 'CN=held-device' });
    expect(await upstreamRecord(serial)).toMatchObject({ profile: 'held' });
    const pendingAfter = JSON.parse((await estuary(['request', 'list', '--json', '--status', 'all', '--profile', 'held', '--home', up.home])).stdout) as Array<{ status: string }>;
    expect(pendingAfter.map((p) => p.status)).toEqual(['issued']);
  }, 180_000);
});

describe('upstream rejection', () => {
  it('an officer rejects upstream: the client\'s re-send through the RA gets 403 with the officer\'s reason', async () => {
    const csr = await makeCsr({ name: 'CN=rejected-device' });
    expect((await enroll('held', csr)).status).toBe(202);
    const listed = JSON.parse((await estuary(['request', 'list', '--json', '--profile', 'held', '--home', up.home])).stdout) as Array<{ id: number; subject: string }>;
    const id = listed.find((r) => r.subject === 'CN=rejected-device')!.id;
    const rejected = await estuary(['request', 'reject', String(id), '--reason', 'not on the inventory', '--home', up.home]);
    expect(rejected.code, rejected.stderr).toBe(0);
    const res = await enroll('held', csr);
    expect(res.status, res.text).toBe(403);
    expect(res.text).toContain('not on the inventory');
    expect((await ra.runtime.store.listCertificates({ profile: 'held' })).map((c) => c.subject)).not.toContain('CN=rejected-device');
  }, 180_000);
});

describe('failures', () => {
  it('a wrong RA password upstream: 502 with a text reason naming the connector; nothing recorded on the RA; the refusal is audited', async () => {
    const res = await enroll('wrong', await makeCsr({ name: 'CN=wrong-device' }));
    expect(res.status, res.text).toBe(502);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/CA connector "up-wrong" is misconfigured/);
    expect(res.text).toMatch(/refused the RA's credentials/);
    expect(res.text).not.toContain('not-the-password');
    expect(await ra.runtime.store.listCertificates({ profile: 'wrong' })).toEqual([]);
    const audit = await ra.runtime.store.listAudit({ profile: 'wrong' });
    expect(audit.length).toBeGreaterThan(0);
    expect(audit[0]).toMatchObject({ action: 'simpleenroll', actor: basic.user, serial: null });
    expect(audit[0]!.outcome).not.toBe('success');
    expect(audit[0]!.detail).toMatch(/up-wrong/);
  }, 180_000);

  it('a request the upstream refuses (its name policy, not the RA\'s): 403 with the upstream\'s reason', async () => {
    const csr = await makeCsr({ name: 'CN=elsewhere', dns: ['device.elsewhere.example'] });
    const direct = await estRequest(`${up.base}/restricted/simpleenroll`, { ca: up.rootPem, basic: upstreamAccount(up), body: csrBody(csr.der), contentType: 'application/pkcs10' });
    expect(direct.status).toBe(403);
    const res = await enroll('restricted', csr);
    expect(res.status, res.text).toBe(403);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain(direct.text.trim());
    expect(res.text).toMatch(/upstream CA refused the request/);
    expect(await ra.runtime.store.listCertificates({ profile: 'restricted' })).toEqual([]);
    // within the upstream's policy it is issued
    issuedByUpstream(await enroll('restricted', await makeCsr({ name: 'CN=ok', dns: ['ok.allowed.example'] })));
  }, 180_000);
});

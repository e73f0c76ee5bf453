/**
 * RFC 7030 §3.5 proof-of-possession linking: the CSR's challengePassword carries the TLS channel
 * binding (tls-unique under TLS 1.2, tls-exporter under TLS 1.3), checked on the same connection.
 */
import { once } from 'node:events';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64Body } from '../../src/pki/base64.js';
import { decodeCsrAttrs } from '../../src/pki/csr-attrs.js';
import { OID } from '../../src/pki/oids.js';
import { csrBody, estRequest } from '../helpers/est-http.js';
import { makeDeviceCa, type DeviceCa } from '../helpers/device-ca.js';
import { startServer, type TestServer } from '../helpers/home.js';
import { makeCsr } from '../helpers/keys.js';
import { defaultProfile } from '../../src/ra/default-profile.js';

let s: TestServer;
let device: DeviceCa;
let basicHeader: string;

beforeAll(async () => {
  s = await startServer();
  basicHeader = 'Basic ' + Buffer.from(`${s.summary.estAccount.email}:${s.summary.estAccount.password}`).toString('base64');
  device = await makeDeviceCa();
  const p = (await s.runtime.store.getProfile('default'))!;
  await s.runtime.store.createProfile({ ...p, label: 'pop', popLinking: 'required' });
  await s.runtime.store.createProfile({ ...p, label: 'popopt', popLinking: 'optional' });
  await s.runtime.store.createProfile({ ...p, label: 'popdev', popLinking: 'required', auth: 'tls-client-cert', clientTrustAnchors: [device.pem] });
});
afterAll(async () => {
  await s.runtime.close();
});

/** The client's view of tls-unique / tls-exporter: the same value the server computes. */
function bindingOf(socket: TLSSocket): Buffer {
  return socket.getProtocol() === 'TLSv1.3' ? socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)) : socket.getFinished()!;
}

type Linking = 'match' | 'mismatch' | 'absent' | 'empty';

/** One TLS connection: handshake, build the CSR with this session's binding, POST it on the same connection. */
async function popEnroll(label: string, version: 'TLSv1.2' | 'TLSv1.3', linking: Linking, clientCert?: { cert: string; key: string }): Promise<{ status: number; text: string; protocol: string }> {
  const socket = connect({ host: '127.0.0.1', port: s.port, ca: s.rootPem, servername: 'localhost', minVersion: version, maxVersion: version, ...(clientCert ?? {}) });
  await once(socket, 'secureConnect');
  const protocol = socket.getProtocol()!;
  let challengePassword: string | undefined;
  if (linking === 'match') challengePassword = bindingOf(socket).toString('base64');
  if (linking === 'empty') challengePassword = '';
  if (linking === 'mismatch') challengePassword = Buffer.alloc(version === 'TLSv1.3' ? 32 : 12, 7).toString('base64');
  const csr = await makeCsr({ name: 'CN=pop-device', ...(challengePassword !== undefined ? { challengePassword } : {}) });
  const body = csrBody(csr.der);
  const headers = [`POST /.well-known/est/${label ? label + "/" : ""}simpleenroll HTTP/1.1`, 'Host: 127.0.0.1', 'Content-Type: application/pkcs10', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
  if (!clientCert) headers.push(`Authorization: ${basicHeader}`);
  socket.write(headers.join('\r\n') + '\r\n\r\n' + body);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'end');
  socket.destroy();
  const raw = Buffer.concat(chunks).toString('latin1');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
  return { status, text: raw.slice(raw.indexOf('\r\n\r\n') + 4), protocol };
}

describe('the default mode', () => {
  it('is optional for init\'s profile and new profiles: a challengePassword that is not the binding is refused', async () => {
    expect((await s.runtime.store.getProfile('default'))!.popLinking).toBe('optional');
    expect(defaultProfile('x', 'default').popLinking).toBe('optional');
    const bad = await popEnroll('', 'TLSv1.3', 'mismatch');
    expect(bad.status).toBe(403);
    expect(bad.text).toMatch(/does not match this TLS session's channel binding/);
    expect((await popEnroll('', 'TLSv1.3', 'match')).status).toBe(200);
    expect((await popEnroll('', 'TLSv1.2', 'absent')).status).toBe(200);
  });

  it('off never looks at the challengePassword (it may carry something else)', async () => {
    const p = (await s.runtime.store.getProfile('default'))!;
    await s.runtime.store.createProfile({ ...p, label: 'popoff', popLinking: 'off' });
    expect((await popEnroll('popoff', 'TLSv1.3', 'mismatch')).status).toBe(200);
  });
});

describe.each(['TLSv1.2', 'TLSv1.3'] as const)('proof-of-possession linking over %s', (version) => {
  it('required: a matching binding is issued, a mismatch and an absence are refused with the reason', async () => {
    const ok = await popEnroll('pop', version, 'match');
    expect(ok.protocol).toBe(version);
    expect(ok.status, ok.text).toBe(200);
    const bad = await popEnroll('pop', version, 'mismatch');
    expect(bad.status).toBe(403);
    expect(bad.text).toMatch(/does not match this TLS session's channel binding/);
    const none = await popEnroll('pop', version, 'absent');
    expect(none.status).toBe(403);
    expect(none.text).toMatch(/proof-of-possession linking is required/);
  });

  it('optional: absent or empty is accepted (not linked), present must match', async () => {
    expect((await popEnroll('popopt', version, 'absent')).status).toBe(200);
    expect((await popEnroll('popopt', version, 'empty')).status).toBe(200);
    const emptyRequired = await popEnroll('pop', version, 'empty');
    expect(emptyRequired.status).toBe(403);
    expect(emptyRequired.text).toMatch(/proof-of-possession linking is required/);
    expect((await popEnroll('popopt', version, 'match')).status).toBe(200);
    expect((await popEnroll('popopt', version, 'mismatch')).status).toBe(403);
  });

  it('an RA certificate (id-kp-cmcRA) is not asked to link; a plain device certificate is', async () => {
    const ra = await device.issue('registration-authority', { eku: [OID.clientAuth, OID.cmcRA] });
    const ok = await popEnroll('popdev', version, 'absent', ra);
    expect(ok.status, ok.text).toBe(200);
    const plain = await device.issue('pop-device'); // the name it requests: device names are bound to the certificate
    expect((await popEnroll('popdev', version, 'absent', plain)).status).toBe(403);
    expect((await popEnroll('popdev', version, 'match', plain)).status).toBe(200);
  });
});

describe('csrattrs under required linking', () => {
  it('lists challengePassword so a client that follows it links', async () => {
    const res = await estRequest(s.base + '/pop/csrattrs', { ca: s.rootPem });
    expect(res.status).toBe(200);
    expect(decodeCsrAttrs(decodeBase64Body(res.body))).toContainEqual({ oid: OID.challengePassword });
    expect((await estRequest(s.base + '/popopt/csrattrs', { ca: s.rootPem })).status).toBe(204);
  });
});

/**
 * Which CRL speaks for a device certificate and what the profile's policy makes of its answer;
 * the CRLs come from a real HTTP server on 127.0.0.1:0.
 */
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultProfile } from '../../src/ra/default-profile.js';
import { createDeviceCrlSource } from '../../src/ra/device-crl.js';
import { anchorFingerprint, crlUrlsFor, deviceRevocationStatus } from '../../src/ra/device-revocation.js';
import { normalizeFingerprint } from '../../src/ra/name-policy.js';
import type { Profile } from '../../src/ra/model.js';
import { makeDeviceCa, type DeviceCa } from '../helpers/device-ca.js';

const crls = new Map<string, Buffer>();
let server: Server;
let base: string;
let ca: DeviceCa;
let caX: X509Certificate;

beforeAll(async () => {
  server = createServer((req, res) => {
    const body = crls.get(req.url ?? '');
    if (body) res.writeHead(200).end(body);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ca = await makeDeviceCa('CN=Policy Test CA');
  caX = new X509Certificate(ca.pem);
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const profile = (deviceRevocation: Profile['deviceRevocation']): Profile => ({
  ...defaultProfile('devices', 'default'), clientTrustAnchors: [ca.pem], deviceRevocation, createdAt: new Date(), updatedAt: new Date(),
});
const source = () => createDeviceCrlSource({ now: () => new Date() });

async function twoPointCert(cn: string, first: string, second: string): Promise<{ x: X509Certificate; serial: string }> {
  const issued = await ca.issue(cn, { crlUrl: [first, second] });
  return { x: new X509Certificate(issued.cert), serial: issued.serial };
}

describe('device revocation policy', () => {
  it('reads the certificate’s http distribution points, or the URL configured for its anchor instead', async () => {
    const d = await twoPointCert('dp', `${base}/one.crl`, `${base}/two.crl`);
    const open = profile({ whenUnavailable: 'refuse', crlUrls: {} });
    expect(crlUrlsFor(open, d.x, caX)).toEqual([`${base}/one.crl`, `${base}/two.crl`]);
    const configured = profile({ whenUnavailable: 'refuse', crlUrls: { [anchorFingerprint(caX)]: `${base}/anchor.crl` } });
    expect(crlUrlsFor(configured, d.x, caX)).toEqual([`${base}/anchor.crl`]);
    expect(normalizeFingerprint(' AB:cd:EF ')).toBe('abcdef');
  });

  it('takes the answer of any distribution point that has a fresh CRL; refuses or allows per policy when none has', async () => {
    const d = await twoPointCert('dp2', `${base}/down-a.crl`, `${base}/up-b.crl`);
    crls.set('/up-b.crl', await ca.crl([]));
    expect(await deviceRevocationStatus(source(), profile({ whenUnavailable: 'refuse', crlUrls: {} }), [d.x, caX])).toEqual({ kind: 'good' });
    crls.set('/up-b.crl', await ca.crl([d.serial]));
    const revoked = await deviceRevocationStatus(source(), profile({ whenUnavailable: 'allow', crlUrls: {} }), [d.x, caX]);
    expect(revoked).toEqual({ kind: 'revoked', reason: `the client certificate has been revoked (CRL ${base}/up-b.crl, reason keyCompromise)` });
    crls.delete('/up-b.crl');
    const refused = await deviceRevocationStatus(source(), profile({ whenUnavailable: 'refuse', crlUrls: {} }), [d.x, caX]);
    expect(refused).toEqual({
      kind: 'unavailable', allowed: false,
      detail: `the revocation status of the client certificate is unknown (no fresh CRL from ${base}/down-a.crl: HTTP 503; ${base}/up-b.crl: HTTP 503); refused by the profile's revocation policy`,
    });
    const allowed = await deviceRevocationStatus(source(), profile({ whenUnavailable: 'allow', crlUrls: {} }), [d.x, caX]);
    expect(allowed).toMatchObject({ kind: 'unavailable', allowed: true, detail: expect.stringMatching(/allowed by the profile's revocation policy$/) });
  });

  it('checks the device CA’s intermediates too: a revoked issuing CA refuses its certificates', async () => {
    const sub = await makeDeviceCa('CN=Policy Test Issuing CA', { parent: ca, serial: '7a', crlUrl: `${base}/root.crl` });
    const subX = new X509Certificate(sub.pem);
    const leaf = new X509Certificate((await sub.issue('under-sub', { crlUrl: `${base}/sub.crl` })).cert);
    crls.set('/sub.crl', await sub.crl([]));
    crls.set('/root.crl', await ca.crl([]));
    const open = profile({ whenUnavailable: 'refuse', crlUrls: {} });
    expect(await deviceRevocationStatus(source(), open, [leaf, subX, caX])).toEqual({ kind: 'good' });
    crls.set('/root.crl', await ca.crl(['7a']));
    expect(await deviceRevocationStatus(source(), open, [leaf, subX, caX])).toEqual({
      kind: 'revoked', reason: `the CA certificate "CN=Policy Test Issuing CA" on its path has been revoked (CRL ${base}/root.crl, reason keyCompromise)`,
    });
    crls.delete('/root.crl');
    expect(await deviceRevocationStatus(source(), open, [leaf, subX, caX])).toMatchObject({ kind: 'unavailable', allowed: false, detail: expect.stringContaining(`${base}/root.crl: HTTP 503`) });
  });

  it('does not check a certificate that names no CRL under an anchor without one', async () => {
    const plain = new X509Certificate((await ca.issue('plain')).cert);
    expect(await deviceRevocationStatus(source(), profile({ whenUnavailable: 'refuse', crlUrls: {} }), [plain, caX])).toEqual({ kind: 'good' });
  });
});

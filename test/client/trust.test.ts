/** Bootstrap acceptance of /cacerts (RFC 7030 §4.1.1) and the TLS options of each trust mode. */
import { randomBytes } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { createCaHierarchy, createTlsServerCertificate } from '../../src/ca/ca-setup.js';
import { EstClientError } from '../../src/client/errors.js';
import { fingerprintSha256, formatFingerprint, normalizeFingerprint, serverIdentityCheck, tlsTrustOptions, verifyBootstrapBag } from '../../src/client/trust.js';
import { OID } from '../../src/pki/oids.js';

const now = new Date();
const random = randomBytes;
const a = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=Root A', issuingName: 'CN=Issuing A', now, random });
const b = createCaHierarchy({ algorithm: 'ec-p256', rootName: 'CN=Root B', issuingName: 'CN=Issuing B', now, random });
const leaf = createTlsServerCertificate({ issuer: a.issuing, hosts: ['est.example'], algorithm: 'ec-p256', days: 1, now, random });
const fpRoot = fingerprintSha256(a.root.der);

function kind(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EstClientError);
    return (err as EstClientError).kind;
  }
  return 'accepted';
}

describe('normalizeFingerprint', () => {
  it('accepts hex with or without colons, any case, an optional sha256 prefix', () => {
    for (const form of [fpRoot, fpRoot.toUpperCase(), formatFingerprint(fpRoot), formatFingerprint(fpRoot).toLowerCase(), `SHA256:${fpRoot}`, `sha256 Fingerprint=${formatFingerprint(fpRoot)}`, `SHA256=${fpRoot}`]) {
      expect(normalizeFingerprint(form)).toBe(fpRoot);
    }
    expect(kind(() => normalizeFingerprint('abc'))).toBe('usage');
    expect(kind(() => normalizeFingerprint(fpRoot.slice(2)))).toBe('usage');
  });
});

describe('verifyBootstrapBag', () => {
  it('accepts a bag that chains to the fingerprinted CA, in any order, anchored at the root or the issuing CA', () => {
    expect(verifyBootstrapBag([a.issuing.der, a.root.der], fpRoot)).toEqual([a.issuing.der, a.root.der]);
    expect(kind(() => verifyBootstrapBag([a.root.der, a.issuing.der], formatFingerprint(fpRoot)))).toBe('accepted');
    expect(kind(() => verifyBootstrapBag([a.issuing.der], fingerprintSha256(a.issuing.der)))).toBe('accepted');
  });

  it('refuses a bag without the fingerprint, with a stray or forged certificate, or anchored at a non-CA', () => {
    expect(kind(() => verifyBootstrapBag([a.issuing.der, a.root.der], fingerprintSha256(b.root.der)))).toBe('tls');
    expect(kind(() => verifyBootstrapBag([a.issuing.der, a.root.der, b.issuing.der], fpRoot))).toBe('tls');
    // the issuing CA of another root is not vouched for by ours, even with both roots present
    expect(kind(() => verifyBootstrapBag([a.root.der, b.root.der], fpRoot))).toBe('tls');
    const forged = Buffer.from(a.issuing.der);
    forged[forged.length - 3]! ^= 0x01; // signature no longer verifies
    expect(kind(() => verifyBootstrapBag([forged, a.root.der], fpRoot))).toBe('tls');
    // the issuing CA (pathLen 0) chains to the root, but a leaf cannot anchor a bag
    expect(kind(() => verifyBootstrapBag([leaf.der, a.issuing.der, a.root.der], fingerprintSha256(leaf.der)))).toBe('tls');
    expect(kind(() => verifyBootstrapBag([], fpRoot))).toBe('bad-response');
  });

  it('accepts a leaf inside the bag when it chains (signed by a CA of the bag)', () => {
    expect(kind(() => verifyBootstrapBag([leaf.der, a.issuing.der, a.root.der], fpRoot))).toBe('accepted');
  });
});

describe('tlsTrustOptions', () => {
  it('explicit: only the given anchors, verified; bootstrap and insecure: not verified during the handshake', () => {
    const explicit = tlsTrustOptions({ kind: 'explicit', anchors: [a.root.der] });
    expect(explicit.rejectUnauthorized).toBe(true);
    expect(explicit.ca).toEqual([expect.stringContaining('-----BEGIN CERTIFICATE-----')]);
    expect(tlsTrustOptions({ kind: 'implicit' })).toMatchObject({ rejectUnauthorized: true, ca: expect.arrayContaining([expect.any(String)]) });
    expect(tlsTrustOptions({ kind: 'bootstrap', fingerprintSha256: fpRoot }).rejectUnauthorized).toBe(false);
    expect(tlsTrustOptions({ kind: 'insecure' }).rejectUnauthorized).toBe(false);
    expect(kind(() => tlsTrustOptions({ kind: 'explicit', anchors: [] }))).toBe('usage');
  });

  it('server identity: RFC 6125 names, or id-kp-cmcRA under explicit trust only', () => {
    const cert = (eku: string[]) => ({ subject: { CN: 'ra' }, subjectaltname: 'DNS:est.example', ext_key_usage: eku }) as unknown as PeerCertificate;
    const explicit = serverIdentityCheck({ kind: 'explicit', anchors: [a.root.der] });
    const implicit = serverIdentityCheck({ kind: 'implicit' });
    expect(explicit('est.example', cert([OID.serverAuth]))).toBeUndefined();
    expect(explicit('other.example', cert([OID.serverAuth]))).toBeInstanceOf(Error);
    expect(explicit('other.example', cert([OID.serverAuth, OID.cmcRA]))).toBeUndefined();
    expect(implicit('other.example', cert([OID.serverAuth, OID.cmcRA]))).toBeInstanceOf(Error);
  });
});

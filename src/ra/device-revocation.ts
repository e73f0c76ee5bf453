/**
 * Which CRL speaks for a client certificate from an external device CA, and what its answer
 * means under the profile's revocation policy (RFC 5280 §6.3). The fetching and caching is
 * device-crl.ts; certificates our own CAs issued are judged from the store instead.
 */
import { createHash, type X509Certificate } from 'node:crypto';
import { pemBlocks } from '../pki/base64.js';
import { certificateFields } from '../pki/certificate.js';
import { crlDistributionUrls } from '../pki/crl-reader.js';
import { OID } from '../pki/oids.js';
import type { Profile } from './model.js';
import type { DeviceCrlSource } from './device-crl.js';
import { subjectOf } from './client-cert.js';

export type DeviceRevocationOutcome =
  /** Not revoked, or no CRL is known for it (the certificate names none and none is configured). */
  | { kind: 'good' }
  | { kind: 'revoked'; reason: string }
  /** No fresh CRL could be had: `allowed` says what the profile's policy made of it. */
  | { kind: 'unavailable'; allowed: boolean; detail: string };

/** The SHA-256 fingerprint of a certificate as profiles key it: lower-case hex without colons. */
export const anchorFingerprint = (cert: X509Certificate): string => createHash('sha256').update(cert.raw).digest('hex');

/** A fingerprint as people paste it ("AB:CD:…", any case) in the form profiles key it. */

/** The CRL configured for the issuing anchor, else the certificate's own http(s) distribution points. */
export function crlUrlsFor(profile: Profile, cert: X509Certificate, issuer: X509Certificate): string[] {
  const configured = profile.deviceRevocation.crlUrls[anchorFingerprint(issuer)];
  if (configured) return [configured];
  return crlDistributionUrls(certificateFields(Buffer.from(cert.raw)).extensions.get(OID.cRLDistributionPoints));
}

type CertificateOutcome = { kind: 'good' } | { kind: 'revoked'; reason: string } | { kind: 'unavailable'; failures: string[] };

/** One certificate of the path against its issuer's CRL. */
async function certificateStatus(source: DeviceCrlSource, profile: Profile, cert: X509Certificate, issuer: X509Certificate, what: string): Promise<CertificateOutcome> {
  const failures: string[] = [];
  // Distribution points are alternatives, asked at once (so the wait is one timeout): the first
  // in the certificate's order that answers decides.
  const statuses = await Promise.all(crlUrlsFor(profile, cert, issuer).map((url) => source.status(cert, issuer, url)));
  for (const status of statuses) {
    switch (status.kind) {
      case 'good':
        return { kind: 'good' };
      case 'revoked':
        return { kind: 'revoked', reason: `${what} has been revoked (CRL ${status.url}${status.reason ? `, reason ${status.reason}` : ''})` };
      case 'unavailable':
        failures.push(`${status.url}: ${status.error}`);
    }
  }
  return failures.length === 0 ? { kind: 'good' } : { kind: 'unavailable', failures };
}

/**
 * RFC 5280 §6.3: every certificate of the validated `path` (leaf first, ending with the trust
 * anchor, which is trusted as configured) against its issuer's CRL, all at once.
 */
export async function deviceRevocationStatus(source: DeviceCrlSource, profile: Profile, path: readonly X509Certificate[]): Promise<DeviceRevocationOutcome> {
  const checks = path.slice(0, -1).map((cert, i) => {
    const what = i === 0 ? 'the client certificate' : `the CA certificate "${subjectOf(cert)}" on its path`;
    return certificateStatus(source, profile, cert, path[i + 1]!, what);
  });
  const outcomes = await Promise.all(checks);
  const revoked = outcomes.find((o) => o.kind === 'revoked');
  if (revoked) return revoked;
  const failures = outcomes.flatMap((o) => (o.kind === 'unavailable' ? o.failures : []));
  if (failures.length === 0) return { kind: 'good' };
  const allowed = profile.deviceRevocation.whenUnavailable === 'allow';
  return {
    kind: 'unavailable',
    allowed,
    detail: `the revocation status of the client certificate is unknown (no fresh CRL from ${failures.join('; ')}); ${allowed ? 'allowed' : 'refused'} by the profile's revocation policy`,
  };
}

/** The profile rules of deviceRevocation, as profile-validation.ts reports them. */
export function deviceRevocationErrors(p: Pick<Profile, 'deviceRevocation' | 'clientTrustAnchors'>): Array<{ field: string; message: string }> {
  const errors: Array<{ field: string; message: string }> = [];
  const r = p.deviceRevocation;
  if (r.whenUnavailable !== 'refuse' && r.whenUnavailable !== 'allow') {
    errors.push({ field: 'deviceRevocation.whenUnavailable', message: `expected refuse or allow, got "${String(r.whenUnavailable)}"` });
  }
  const anchors = fingerprintsOf(p.clientTrustAnchors);
  for (const [fingerprint, url] of Object.entries(r.crlUrls)) {
    const field = 'deviceRevocation.crlUrls';
    if (!/^[0-9a-f]{64}$/.test(fingerprint)) errors.push({ field, message: `"${fingerprint}" is not a SHA-256 fingerprint (64 hex digits)` });
    else if (!anchors.has(fingerprint)) errors.push({ field, message: `no client trust anchor has the SHA-256 fingerprint ${fingerprint}` });
    if (typeof url !== 'string' || !/^https?:\/\/[^\s/]+/i.test(url) || !URL.canParse(url)) errors.push({ field, message: `${JSON.stringify(url)} is not an http or https URL` });
  }
  return errors;
}

function fingerprintsOf(pems: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const pem of pems) {
    try {
      for (const der of pemBlocks(pem)) out.add(createHash('sha256').update(der).digest('hex'));
    } catch {
      // unreadable: the profile rules name it
    }
  }
  return out;
}

type RevocationSettings = Pick<Profile, 'deviceRevocation' | 'clientTrustAnchors'>;

/**
 * `p` without the CRL URLs that `previous` had for anchors `p` no longer has: removing an anchor
 * takes its URL along. A URL given anew (not in `previous`) stays, for the profile rules to judge.
 */
export function dropRemovedAnchorCrls<P extends RevocationSettings>(p: P, previous: RevocationSettings): P {
  const before = fingerprintsOf(previous.clientTrustAnchors);
  const now = fingerprintsOf(p.clientTrustAnchors);
  const removed = (fp: string, url: string): boolean => before.has(fp) && !now.has(fp) && previous.deviceRevocation.crlUrls[fp] === url;
  const crlUrls = Object.fromEntries(Object.entries(p.deviceRevocation.crlUrls).filter(([fp, url]) => !removed(fp, url)));
  return { ...p, deviceRevocation: { ...p.deviceRevocation, crlUrls } };
}

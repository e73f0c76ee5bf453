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
import type { Profile } from '../store/store.js';
import type { DeviceCrlSource } from './device-crl.js';

export type DeviceRevocationOutcome =
  /** Not revoked, or no CRL is known for it (the certificate names none and none is configured). */
  | { kind: 'good' }
  | { kind: 'revoked'; reason: string }
  /** No fresh CRL could be had: `allowed` says what the profile's policy made of it. */
  | { kind: 'unavailable'; allowed: boolean; detail: string };

/** The SHA-256 fingerprint of a certificate as profiles key it: lower-case hex without colons. */
export const anchorFingerprint = (cert: X509Certificate): string => createHash('sha256').update(cert.raw).digest('hex');

/** A fingerprint as people paste it ("AB:CD:…", any case) in the form profiles key it. */
export const normalizeFingerprint = (text: string): string => text.trim().toLowerCase().replace(/:/g, '');

/** The CRL configured for the issuing anchor, else the certificate's own http(s) distribution points. */
export function crlUrlsFor(profile: Profile, leaf: X509Certificate, issuer: X509Certificate): string[] {
  const configured = profile.deviceRevocation.crlUrls[anchorFingerprint(issuer)];
  if (configured) return [configured];
  return crlDistributionUrls(certificateFields(Buffer.from(leaf.raw)).extensions.get(OID.cRLDistributionPoints));
}

export async function deviceRevocationStatus(source: DeviceCrlSource, profile: Profile, leaf: X509Certificate, issuer: X509Certificate): Promise<DeviceRevocationOutcome> {
  const failures: string[] = [];
  // Distribution points are alternatives, asked at once (so the wait is one timeout): the first
  // in the certificate's order that answers decides.
  const urls = crlUrlsFor(profile, leaf, issuer);
  const statuses = await Promise.all(urls.map((url) => source.status(leaf, issuer, url)));
  for (const status of statuses) {
    const url = status.url;
    switch (status.kind) {
      case 'good':
        return { kind: 'good' };
      case 'revoked':
        return { kind: 'revoked', reason: `the client certificate has been revoked (CRL ${url}${status.reason ? `, reason ${status.reason}` : ''})` };
      case 'unavailable':
        failures.push(`${url}: ${status.error}`);
    }
  }
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
  const anchors = new Set<string>();
  for (const pem of p.clientTrustAnchors) {
    for (const der of pemBlocks(pem)) anchors.add(createHash('sha256').update(der).digest('hex'));
  }
  for (const [fingerprint, url] of Object.entries(r.crlUrls)) {
    const field = 'deviceRevocation.crlUrls';
    if (!/^[0-9a-f]{64}$/.test(fingerprint)) errors.push({ field, message: `"${fingerprint}" is not a SHA-256 fingerprint (64 hex digits)` });
    else if (!anchors.has(fingerprint)) errors.push({ field, message: `no client trust anchor has the SHA-256 fingerprint ${fingerprint}` });
    if (typeof url !== 'string' || !/^https?:\/\/[^\s/]+/i.test(url) || !URL.canParse(url)) errors.push({ field, message: `${JSON.stringify(url)} is not an http or https URL` });
  }
  return errors;
}

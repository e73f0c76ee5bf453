/**
 * Revoking an issued certificate (RFC 5280 §5.3.1 reasons): it can no longer authenticate or be
 * renewed, and its CA's next CRL lists it. Shared by `estuary cert revoke` and the Web RA.
 */
import type { CrlReason } from '../pki/crl.js';
import type { CertificateRecord, Store } from '../store/store.js';

export interface RevokeRequest {
  /** Canonical serial (pki/certificate.ts normalizeSerial). */
  serial: string;
  reason: CrlReason;
  /** Who revokes, for the audit log. */
  actor: string;
  now: Date;
}

export type RevocationOutcome =
  | { kind: 'revoked'; certificate: CertificateRecord }
  | { kind: 'not-found'; serial: string }
  | { kind: 'already-revoked'; certificate: CertificateRecord };

export async function revokeCertificate(store: Store, r: RevokeRequest): Promise<RevocationOutcome> {
  const c = await store.getCertificate(r.serial);
  if (!c) return { kind: 'not-found', serial: r.serial };
  if (!(await store.revokeCertificate(r.serial, r.reason, r.now))) return { kind: 'already-revoked', certificate: c };
  await store.appendAudit({ actor: r.actor, action: 'cert.revoke', profile: c.profile, outcome: 'success', serial: r.serial, detail: r.reason });
  return { kind: 'revoked', certificate: { ...c, status: 'revoked', revokedAt: r.now, revocationReason: r.reason } };
}

/**
 * Revoking an issued certificate (RFC 5280 §5.3.1 reasons): it can no longer authenticate or be
 * renewed, and its CA's next CRL lists it. Shared by `estuary cert revoke` and the Web RA.
 *
 * A certificate issued through an upstream CA (connector type `est`) is revoked here too — the RA
 * refuses it for authentication and renewal from now on — but nothing is published: EST
 * (RFC 7030) has no revocation operation, so the upstream CA must revoke it itself. The outcome
 * carries that notice, and the audit event says so.
 */
import type { CrlReason } from '../pki/crl.js';
import type { Store } from '../store/store.js';
import type { CertificateRecord } from './model.js';

export interface RevokeRequest {
  /** Canonical serial (pki/certificate.ts normalizeSerial). */
  serial: string;
  reason: CrlReason;
  /** Who revokes, for the audit log. */
  actor: string;
  now: Date;
  /**
   * Whether this RA publishes CRLs for a CA id (its connector issues CRLs). False: the revocation
   * is recorded here only and the outcome says the upstream CA must revoke. Unset: every CA does.
   */
  publishesCrl?: (caId: string) => boolean;
}

export type RevocationOutcome =
  | {
      kind: 'revoked';
      certificate: CertificateRecord;
      /** Set when no CRL of this RA lists it: what the operator must still do. */
      notice: string | undefined;
    }
  | { kind: 'not-found'; serial: string }
  | { kind: 'already-revoked'; certificate: CertificateRecord };

/** What to tell the operator after revoking a certificate of an upstream CA. */
export function upstreamRevocationNotice(caId: string): string {
  return `recorded here; the upstream CA ${caId} must revoke it — EST has no revocation operation (no CRL of this server lists it)`;
}

export async function revokeCertificate(store: Store, r: RevokeRequest): Promise<RevocationOutcome> {
  const c = await store.getCertificate(r.serial);
  if (!c) return { kind: 'not-found', serial: r.serial };
  const notice = r.publishesCrl && !r.publishesCrl(c.ca) ? upstreamRevocationNotice(c.ca) : undefined;
  const event = { actor: r.actor, action: 'cert.revoke', profile: c.profile, outcome: 'success', serial: r.serial, detail: notice ? `${r.reason}; ${notice}` : r.reason };
  if (!(await store.revokeCertificate(r.serial, r.reason, r.now, event))) return { kind: 'already-revoked', certificate: c };
  return { kind: 'revoked', certificate: { ...c, status: 'revoked', revokedAt: r.now, revocationReason: r.reason, revokedBy: r.actor }, notice };
}

export interface ReleaseRequest {
  /** Canonical serial (pki/certificate.ts normalizeSerial). */
  serial: string;
  /** Who releases it, for the audit log. */
  actor: string;
  now: Date;
}

export type ReleaseOutcome =
  | { kind: 'released'; certificate: CertificateRecord }
  | { kind: 'not-found'; serial: string }
  /** Not revoked, or revoked for a reason that cannot be undone (only certificateHold can). */
  | { kind: 'not-on-hold'; certificate: CertificateRecord };

/**
 * Release a certificate from hold (RFC 5280 §5.3.1 certificateHold): valid again, in no CRL from
 * the next one on (a delta CRL lists it with removeFromCRL while the complete CRL still does).
 * Any other revocation is final.
 */
export async function releaseHold(store: Store, r: ReleaseRequest): Promise<ReleaseOutcome> {
  const c = await store.getCertificate(r.serial);
  if (!c) return { kind: 'not-found', serial: r.serial };
  if (c.status !== 'revoked' || c.revocationReason !== 'certificateHold') return { kind: 'not-on-hold', certificate: c };
  const event = { actor: r.actor, action: 'cert.release', profile: c.profile, outcome: 'success', serial: r.serial, detail: `hold of ${c.revokedAt?.toISOString() ?? 'unknown time'} released` };
  if (!(await store.releaseHold(r.serial, event))) return { kind: 'not-on-hold', certificate: c };
  return { kind: 'released', certificate: { ...c, status: 'valid', revokedAt: null, revocationReason: null, revokedBy: null } };
}

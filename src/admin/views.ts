/** Store records as the API shows them: ISO dates, no secrets, derived fields spelled out. */
import { X509Certificate } from 'node:crypto';
import { toPem } from '../pki/base64.js';
import { certificateExtensions } from '../pki/extensions.js';
import { OID, oidName } from '../pki/oids.js';
import { describeTrustAnchor } from '../ra/profile-validation.js';
import { DAY_SECONDS, formatValidity } from '../ra/validity.js';
import { popLinkingThroughProxy } from '../ra/pop-linking.js';
import type { Account, AuditEvent, CertificateRecord, PendingRequest, Profile } from '../ra/model.js';

const isoOrNull = (d: Date | null): string | null => d?.toISOString() ?? null;

/** `behindProxy`: the EST listener is in proxy mode (est.proxy), and the view says what that means for PoP linking. */
export function profileView(p: Profile, estUrl: string, behindProxy = false) {
  const { createdAt, updatedAt, ...settings } = p;
  const popNote = behindProxy ? popLinkingThroughProxy(p.popLinking) : undefined;
  return {
    ...settings,
    validity: formatValidity(p.validitySeconds),
    validityDays: p.validitySeconds / DAY_SECONDS,
    retiredAt: p.retiredAt?.toISOString() ?? null,
    estUrl,
    ...(popNote ? { popLinkingNote: popNote } : {}),
    trustAnchors: p.clientTrustAnchors.map((pem) => {
      try {
        return describeTrustAnchor(pem);
      } catch {
        return { subject: '(unreadable certificate)', fingerprintSha256: '', notAfter: new Date(0).toISOString() };
      }
    }),
    createdAt: createdAt.toISOString(),
    updatedAt: updatedAt.toISOString(),
  };
}

export function accountView(a: Account) {
  return {
    email: a.email,
    role: a.role,
    disabled: a.disabled,
    allowedNames: a.allowedNames,
    allowedProfiles: a.allowedProfiles,
    selfService: a.selfService,
    createdAt: a.createdAt.toISOString(),
    updatedAt: a.updatedAt.toISOString(),
  };
}

export function requestView(r: PendingRequest, now: Date) {
  return {
    id: r.id,
    profile: r.profile,
    operation: r.operation,
    requester: r.requester,
    subject: r.subject,
    sans: r.sans,
    keyDescription: r.keyDescription,
    status: r.status,
    reason: r.reason,
    createdAt: r.createdAt.toISOString(),
    expiresAt: r.expiresAt.toISOString(),
    decidedBy: r.decidedBy,
    decidedAt: isoOrNull(r.decidedAt),
    serial: r.serial,
    ageSeconds: Math.max(0, Math.floor((now.getTime() - r.createdAt.getTime()) / 1000)),
    expired: r.status === 'pending' && now > r.expiresAt,
  };
}

/** The held request a certificate fulfilled, as its detail shows it: who approved it and when. */
export function approvalView(r: PendingRequest) {
  // four-eyes: the first officer, then the one whose approval issued it
  const approvedBy = [...(r.firstApproval ? [r.firstApproval.by] : []), ...(r.decidedBy ? [r.decidedBy] : [])];
  return { requestId: r.id, requestedAt: r.createdAt.toISOString(), approvedBy, approvedAt: isoOrNull(r.decidedAt) };
}

/** `expired`: not revoked, and past notAfter. */
export function certificateStatus(c: CertificateRecord, now: Date): 'valid' | 'revoked' | 'expired' {
  if (c.status === 'revoked') return 'revoked';
  return c.notAfter < now ? 'expired' : 'valid';
}

/** A certificate record with ISO dates and its stored status (valid or revoked); the CLI prints this. */
export function certificateRecordView(c: CertificateRecord) {
  return {
    serial: c.serial,
    profile: c.profile,
    ca: c.ca,
    subject: c.subject,
    sans: c.sans,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    status: c.status,
    revokedAt: isoOrNull(c.revokedAt),
    revocationReason: c.revocationReason,
    revokedBy: c.revokedBy,
    requester: c.requester,
    renews: c.renews,
    renewedBy: c.renewedBy,
    createdAt: c.createdAt.toISOString(),
  };
}

/** The API's view: the status says `expired` too. */
export function certificateView(c: CertificateRecord, now: Date) {
  return { ...certificateRecordView(c), status: certificateStatus(c, now) };
}

function describeKey(cert: X509Certificate): string {
  const key = cert.publicKey;
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      return `EC ${({ prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' } as Record<string, string>)[d.namedCurve ?? ''] ?? d.namedCurve}`;
    case 'rsa':
      return `RSA ${d.modulusLength} bits`;
    case 'ed25519':
      return 'Ed25519';
    default:
      return String(key.asymmetricKeyType);
  }
}

const KEY_USAGE_NAMES = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

/** RFC 5280 §4.2.1.3 KeyUsage BIT STRING contents → names. */
function keyUsageNames(extnValue: Buffer | undefined): string[] {
  if (!extnValue || extnValue[0] !== 0x03) return [];
  const bytes = extnValue.subarray(3, 3 + extnValue[1]! - 1);
  return KEY_USAGE_NAMES.filter((_, i) => ((bytes[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0);
}

/** The decoded fields a detail view shows. */
export function certificateDetail(c: CertificateRecord, now: Date) {
  const cert = new X509Certificate(c.der);
  const extensions = certificateExtensions(c.der);
  return {
    ...certificateView(c, now),
    fields: {
      subject: cert.subject.replace(/\n/g, ', '),
      issuer: cert.issuer.replace(/\n/g, ', '),
      serialNumber: cert.serialNumber,
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      key: describeKey(cert),
      fingerprintSha256: cert.fingerprint256,
      fingerprintSha1: cert.fingerprint,
      subjectAltName: cert.subjectAltName ?? null,
      keyUsage: keyUsageNames(extensions.find((e) => e.oid === OID.keyUsage)?.value),
      extendedKeyUsage: (cert.keyUsage ?? []).map(oidName),
      extensions: extensions.map((e) => ({ oid: e.oid, name: oidName(e.oid), critical: e.critical })),
    },
    pem: toPem('CERTIFICATE', c.der),
  };
}

export function auditView(e: AuditEvent) {
  return {
    id: e.id, at: e.at.toISOString(), actor: e.actor, action: e.action, profile: e.profile, outcome: e.outcome, serial: e.serial, detail: e.detail,
    clientIp: e.clientIp ?? null, requestId: e.requestId ?? null,
  };
}

/** The Web RA JSON API as the UI sees it (see /api/openapi.json; dates are ISO strings). */

// Shapes the API passes through unchanged are the domain model's own definitions.
import type { AccountRole, AdminRole, NewProfile } from '../ra/model';

export type { AccountRole, AuthMechanism, ClientBinding, ClientBindingMode, KeyAlgorithmRule, NamePolicy, SanType } from '../ra/model';
export type Role = AdminRole;

export interface Session {
  email: string;
  role: Role;
  csrfToken: string;
  idleTimeoutSeconds: number;
  expiresAt: string;
}

export interface Page<T> {
  items: T[];
  total: number;
  /** Certificate searches count up to a bound: at least `total` match. */
  totalIsLowerBound?: boolean;
  offset: number;
  limit: number;
}

export interface FieldError {
  field: string;
  message: string;
}

export interface Dashboard {
  counts: { valid: number; revoked: number; expired: number; pendingRequests: number };
  issuedPerDay: Array<{ day: string; count: number }>;
  expiringSoon: Array<{ serial: string; subject: string; profile: string; notAfter: string }>;
}

export interface ConnectorHealth {
  healthy: boolean;
  url?: string;
  lastError: { message: string; at: string } | null;
  lastSuccessAt: string | null;
  chainFetchedAt: string | null;
  handshakes?: number;
  requests?: number;
  credentials?: 'accepted' | 'refused' | 'unknown';
}

export interface CaCertificate {
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  fingerprintSha256: string;
}

export interface CaConnector {
  id: string;
  type: string;
  /** e.g. "Built-in CA", "Upstream EST CA". */
  typeLabel: string;
  /** False: the CA decides key usage, EKU and validity, not the profile. */
  profileSetsCertificateContent: boolean;
  /** False: this server publishes no CRL for it (an upstream CA revokes on its own). */
  issuesCrls: boolean;
  url: string | null;
  subject: string | null;
  notAfter: string | null;
  chain: CaCertificate[];
  chainError: string | null;
  health: ConnectorHealth;
  profiles: string[];
  /** Where a built-in CA's key is (never the key); null for other types. */
  keyLocation: KeyLocation | null;
}

export type KeyLocation = { kind: 'file'; path: string } | { kind: 'pkcs11'; uri: string };

/** A built-in CA whose CSR waits for an external CA's certificate. */
export interface PendingCa {
  id: string;
  subject: string;
  keyLocation: KeyLocation;
  csrPem: string | null;
}

export interface CaList {
  items: CaConnector[];
  pending: PendingCa[];
}

export interface TrustAnchorInfo {
  subject: string;
  fingerprintSha256: string;
  notAfter: string;
}

/** What the UI sends: the store's profile without timestamps. */
export type ProfileInput = NewProfile;

export interface Profile extends ProfileInput {
  estUrl: string;
  /** Set when the EST listener is behind a TLS-terminating proxy: what that means for PoP linking. */
  popLinkingNote?: string;
  trustAnchors: TrustAnchorInfo[];
  createdAt: string;
  updatedAt: string;
}

export interface Account {
  email: string;
  role: AccountRole;
  disabled: boolean;
  allowedNames: string[];
  allowedProfiles: string[];
  createdAt: string;
}

export type RequestStatus = 'pending' | 'approved' | 'rejected' | 'issued';

export interface PendingRequest {
  id: number;
  profile: string;
  requester: string;
  subject: string;
  sans: string[];
  keyDescription: string;
  status: RequestStatus;
  reason: string | null;
  createdAt: string;
  expiresAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  serial: string | null;
  ageSeconds: number;
  /** Pending past expiresAt: it can no longer be approved. */
  expired?: boolean;
}

export type CertStatus = 'valid' | 'revoked' | 'expired';

export interface Certificate {
  serial: string;
  profile: string;
  ca: string;
  subject: string;
  sans: string[];
  notBefore: string;
  notAfter: string;
  status: CertStatus;
  requester: string;
  renews: string | null;
  revokedAt: string | null;
  revocationReason: string | null;
}

export interface CertificateFields {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  key: string;
  fingerprintSha256: string;
  fingerprintSha1: string;
  subjectAltName: string | null;
  keyUsage: string[];
  extendedKeyUsage: string[];
  extensions: Array<{ oid: string; name: string; critical: boolean }>;
}

export interface CertificateDetail extends Certificate {
  fields: Partial<CertificateFields> & Record<string, unknown>;
  pem: string;
  /** This server publishes the CRL of the certificate's CA. */
  caPublishesCrl: boolean;
  /** An upstream CA's certificate: revoking here records it only; the upstream must revoke it. */
  revocationNotice: string | null;
}

export interface AuditEvent {
  id: number;
  at: string;
  actor: string;
  action: string;
  profile: string | null;
  outcome: string;
  serial: string | null;
  detail: string | null;
  /** The client address and id of the request that recorded it; null for the CLI and background jobs. */
  clientIp: string | null;
  requestId: string | null;
}

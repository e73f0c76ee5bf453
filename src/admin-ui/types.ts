/** The Web RA JSON API as the UI sees it (see /api/openapi.json; dates are ISO strings). */

// Shapes the API passes through unchanged are the domain model's own definitions.
import type { AccountRole, AuthMechanism, NewProfile, SessionRole } from '../ra/model';

export type { AccountRole, AuthMechanism, ClientBinding, ClientBindingMode, KeyAlgorithmRule, NamePolicy, SanType } from '../ra/model';
/** Web RA roles, and `est` for an EST account signed in for self-service. */
export type Role = SessionRole;

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

/** A CA connector's card on the dashboard. */
export interface CaStatus {
  id: string;
  typeLabel: string;
  healthy: boolean;
  url: string | null;
  problem: string | null;
  notAfter: string | null;
  issuesCrls: boolean;
}

export interface Dashboard {
  counts: { valid: number; renewed: number; revoked: number; expired: number; pendingRequests: number };
  cas: CaStatus[];
  issuedPerDay: Array<{ day: string; count: number }>;
  expiringSoon: Array<{ serial: string; subject: string; profile: string; notAfter: string; renewedBy: string | null }>;
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

/** The profile the form edits: the store's profile without timestamps, and its validity as text ("8h"). */
export type ProfileInput = NewProfile & { validity?: string };

export interface Profile extends ProfileInput {
  /** e.g. 30d, 8h, 90m. */
  validity: string;
  /** The default profile (est.defaultProfile). */
  default: boolean;
  /** Set when retired: it no longer enrolls; its certificates stay valid and revocable. */
  retiredAt: string | null;
  estUrl: string;
  /** Set when the EST listener is behind a TLS-terminating proxy: what that means for PoP linking. */
  popLinkingNote?: string;
  trustAnchors: TrustAnchorInfo[];
  createdAt: string;
  updatedAt: string;
}

export interface ProfileUse {
  certificates: number;
  validCertificates: number;
  openRequests: number;
  requests: number;
}

/** GET /api/profiles/:label/removal */
export interface ProfileRemovalPlan {
  action: 'delete' | 'retire' | 'refused';
  consequence?: string;
  reason?: string;
  use: ProfileUse;
}

/** GET /api/accounts/:email/removal */
export interface AccountRemovalPlan {
  action: 'delete' | 'refused';
  consequence?: string;
  reason?: string;
}

export interface Account {
  email: string;
  role: AccountRole;
  disabled: boolean;
  allowedNames: string[];
  allowedProfiles: string[];
  /** EST accounts: the holder may sign in here for its own certificates and password. */
  selfService: boolean;
  createdAt: string;
  /** A confirmed second factor (TOTP). */
  mfa?: boolean;
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
  operation: string;
  /** 2: four-eyes, two different officers approve. */
  approvalsRequired: 1 | 2;
  firstApproval: { by: string; at: string } | null;
  /** Another request or a valid certificate with the same subject or key. */
  warnings: RequestWarning[];
}

export interface RequestWarning {
  kind: 'pending-subject' | 'pending-key' | 'valid-subject' | 'valid-key';
  message: string;
  requestId?: number;
  serial?: string;
}

export interface DecodedCsr {
  subject?: string;
  sans?: string[];
  key?: { algorithm: string; bits: number; curve: string | null; description: string };
  signatureAlgorithm?: string;
  extensions?: Array<{ oid: string; name: string; values: string[] }>;
  attributes?: string[];
  challengePassword?: boolean;
  error: string | null;
}

export interface PendingRequestDetail extends PendingRequest {
  clientAddress: string | null;
  authMethod: AuthMechanism | null;
  clientCertificate: { subject: string; issuer: string; serial: string; fingerprintSha256: string } | null;
  account: string | null;
  csr: DecodedCsr;
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
  /** The latest certificate that renews this one. */
  renewedBy: string | null;
  revokedAt: string | null;
  revocationReason: string | null;
  /** Who revoked it; null when superseded on renewal or not recorded. */
  revokedBy: string | null;
  /** When it was issued. */
  createdAt: string;
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
  /** The held request it fulfilled and who approved it; null: issued without approval. */
  approval: { requestId: number; requestedAt: string; approvedBy: string[]; approvedAt: string | null } | null;
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

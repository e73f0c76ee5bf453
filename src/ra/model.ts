/**
 * The RA's domain model: accounts, certification profiles and their policies, held requests,
 * issued certificates and audit events. Every store (store/) persists these shapes; nothing here
 * knows how.
 */

export type AuthMechanism = 'basic' | 'tls-client-cert' | 'basic+tls-client-cert';
export const AUTH_MECHANISMS: readonly AuthMechanism[] = ['basic', 'tls-client-cert', 'basic+tls-client-cert'];
/** A stored mechanism name read back (null: none recorded, or one this version does not know). */
export const authMethodOf = (text: string | null): AuthMechanism | null => (AUTH_MECHANISMS as readonly (string | null)[]).includes(text) ? text as AuthMechanism : null;

export type AccountRole = 'est' | 'admin' | 'officer' | 'auditor';
export const ACCOUNT_ROLES: readonly AccountRole[] = ['est', 'admin', 'officer', 'auditor'];
/** The roles that sign in to the Web RA; `est` accounts authenticate only on EST. */
export type AdminRole = Exclude<AccountRole, 'est'>;
export const ADMIN_ROLES: readonly AdminRole[] = ['admin', 'officer', 'auditor'];
/** Who holds a Web RA session: a Web RA role, or an EST account with self-service (Account.selfService). */
export type SessionRole = AdminRole | 'est';

export interface Account {
  id: number;
  email: string;
  /** Encoded password hash (see ra/password.ts); never logged. */
  passwordHash: string;
  role: AccountRole;
  disabled: boolean;
  /**
   * Names this EST account may request (`*` matches within one label, e.g. `sensor-17.*.example.com`);
   * every subject CN and SAN value must match one. Empty: any name the profile allows.
   */
  allowedNames: string[];
  /** Profiles (labels) this EST account may use; empty: every profile that allows it. */
  allowedProfiles: string[];
  /** The last unlock: failed-attempt locks set before it no longer count (null: never unlocked). */
  unlockedAt: Date | null;
  /**
   * EST accounts: the holder may sign in to the Web RA to see only the certificates requested with
   * this account, download them, revoke one (key compromise) and change the password.
   */
  selfService: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewAccount {
  email: string;
  passwordHash: string;
  role: AccountRole;
}

/** One allowed key algorithm of a profile. */
export type KeyAlgorithmRule =
  | { type: 'ec'; curves: Array<'P-256' | 'P-384' | 'P-521'> }
  /** maxBits: default 8192; minExponent: the smallest public exponent certified, default 65537 (FIPS 186-5 §5.4). */
  | { type: 'rsa'; minBits: number; maxBits?: number; minExponent?: number }
  | { type: 'ed25519' };

export type SanType = 'dns' | 'ip' | 'email' | 'uri';

/** Which names a profile issues. Every list empty (the default) allows any supported name. */
export interface NamePolicy {
  /** Subject attributes that may appear (CN, O, OU, C, L, ST, emailAddress, serialNumber or dotted OIDs); empty: any. */
  subjectAllowed: string[];
  /** Subject attributes that must appear. */
  subjectRequired: string[];
  /** A regular expression the whole value of a subject attribute must match, by attribute. */
  subjectPatterns: Record<string, string>;
  /** SAN types that may appear; empty: DNS, IP, email and URI. */
  sanTypes: SanType[];
  /** SAN types that must appear at least once. */
  sanRequired: SanType[];
  /** DNS names (and a CN that looks like one) must equal or end with one of these, e.g. ".example.com"; empty: any. */
  dnsSuffixes: string[];
  /** IP SANs must fall in one of these CIDR ranges; empty: any. */
  ipRanges: string[];
  /** Regular expressions that no CN, DNS, email or URI name may match. */
  forbiddenNames: string[];
  /** Wildcard DNS names ("*.example.com", as SAN or CN) may be issued; off by default. */
  allowWildcards: boolean;
  /** Most subjectAltName entries in one certificate. */
  maxSans: number;
  /** Most RDNs in a subject. */
  maxRdns: number;
  /** Most bytes of the DER subject. */
  maxSubjectBytes: number;
  /** How the names a TLS client certificate may request bind to that certificate (tls-client-cert, basic+tls-client-cert). */
  clientBinding: ClientBinding;
}

/**
 * `match`: the requested subject (or the listed attributes) and every SAN are the client
 * certificate's own; `anchor-names`: the names are within those configured for the trust anchor
 * the client certificate chains to; `free`: any name the rest of the policy allows.
 */
export type ClientBindingMode = 'match' | 'anchor-names' | 'free';
export const CLIENT_BINDING_MODES: readonly ClientBindingMode[] = ['match', 'anchor-names', 'free'];

export interface ClientBinding {
  mode: ClientBindingMode;
  /** match: subject attributes (CN, serialNumber, … or dotted OIDs) that must equal the certificate's; empty: the whole subject. */
  attributes: string[];
  /** anchor-names: the names each trust anchor's certificates may request. */
  anchors: AnchorNames[];
}

export interface AnchorNames {
  /** SHA-256 fingerprint of the trust anchor certificate, hex (colons optional). */
  fingerprintSha256: string;
  /** Name globs as for EST accounts: bare (CN, DNS, IP), or prefixed dns:, ip:, email:, uri:. */
  names: string[];
  /** Attribute → regular expression the whole value must match, for subject attributes other than CN. */
  subjectPatterns: Record<string, string>;
}

export const DEFAULT_CLIENT_BINDING: ClientBinding = { mode: 'match', attributes: [], anchors: [] };

export const EMPTY_NAME_POLICY: NamePolicy = {
  subjectAllowed: [], subjectRequired: [], subjectPatterns: {}, sanTypes: [], sanRequired: [], dnsSuffixes: [], ipRanges: [], forbiddenNames: [],
  allowWildcards: false, maxSans: 100, maxRdns: 32, maxSubjectBytes: 1024, clientBinding: DEFAULT_CLIENT_BINDING,
};

/** Revocation checking of TLS client certificates from external device CAs (RFC 5280 §6.3). */
export interface DeviceRevocation {
  /**
   * A certificate that names a CRL (or whose anchor has one configured) when no fresh, verifiable
   * CRL can be had: `refuse` it (401), or `allow` it; either way the audit log records URL and error.
   */
  whenUnavailable: 'refuse' | 'allow';
  /**
   * A CRL URL per trust anchor, keyed by the anchor certificate's SHA-256 fingerprint (lower-case
   * hex): used for the certificates that anchor issued, instead of their CRL distribution points.
   */
  crlUrls: Record<string, string>;
}

export const DEFAULT_DEVICE_REVOCATION: DeviceRevocation = { whenUnavailable: 'refuse', crlUrls: {} };

export type KeyUsageName =
  | 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment'
  | 'keyAgreement' | 'keyCertSign' | 'cRLSign';

/** A certification profile: one EST label. */
export interface Profile {
  label: string;
  enabled: boolean;
  /** Id of the CA connector that issues for this profile. */
  ca: string;
  auth: AuthMechanism;
  /** PEM certificates that TLS client certificates must chain to (the device CA bundle). */
  clientTrustAnchors: string[];
  /** Validity of issued certificates in seconds (ra/validity.ts: given as 30d, 8h, 90m); clamped to the CA's own. */
  validitySeconds: number;
  keyAlgorithms: KeyAlgorithmRule[];
  keyUsage: KeyUsageName[];
  /** Extended key usage names (pki/oids.ts EKU names) or dotted OIDs. */
  extendedKeyUsage: string[];
  /** EST account emails allowed to use the profile; empty = every EST account. */
  allowedAccounts: string[];
  /** Attribute OIDs (names from pki/oids.ts or dotted) returned by /csrattrs; empty = 204. */
  csrAttrs: string[];
  /** RFC 7030 §4.2.3: `manual` holds requests for an officer (202 + Retry-After). */
  approval: 'auto' | 'manual';
  /** Retry-After of a 202, in seconds. */
  retryAfterSeconds: number;
  /** A held request not decided within this time expires. */
  pendingTtlHours: number;
  /**
   * Officers who must approve a held request: 1, or 2 (four-eyes: two different officers; the
   * first approval is recorded and the request stays pending until the second).
   */
  approvals: ApprovalsRequired;
  /**
   * RFC 7030 §3.5 proof-of-possession linking: the CSR's challengePassword carries the TLS channel
   * binding. `optional`: checked when present; `required`: must be present.
   */
  popLinking: 'off' | 'optional' | 'required';
  namePolicy: NamePolicy;
  deviceRevocation: DeviceRevocation;
  renewal: RenewalPolicy;
  /**
   * When the profile was retired (absent or null: in service). A retired profile no longer enrolls (it is
   * disabled and cannot be enabled again); it stays for the certificates it issued.
   */
  retiredAt?: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What a profile allows on simplereenroll (RFC 7030 §4.2.2), beyond today's enrollment rules. */
export interface RenewalPolicy {
  /** Revoke the renewed certificate (reason superseded) when its successor is issued. */
  supersede: boolean;
  /** A certificate can be renewed once; its successor renews further. */
  once: boolean;
  /** Renewal only within the last N% of the certificate's life (0: any time). */
  windowPercent: number;
}

export const DEFAULT_RENEWAL: RenewalPolicy = { supersede: false, once: false, windowPercent: 0 };

export type NewProfile = Omit<Profile, 'createdAt' | 'updatedAt' | 'retiredAt'>;

export type PendingStatus = 'pending' | 'approved' | 'rejected' | 'issued';

export type ApprovalsRequired = 1 | 2;

/** The TLS client certificate a held request came with, as the officer sees it. */
export interface ClientCertificateSummary {
  subject: string;
  issuer: string;
  /** Lower-case hex. */
  serial: string;
  /** SHA-256 of the DER, lower-case hex with colons. */
  fingerprintSha256: string;
}

/** The first of two approvals on a four-eyes profile. */
export interface FirstApproval {
  by: string;
  at: Date;
}

/** An enrollment held for an officer; the client re-sends the same CSR to collect the result. */
export interface PendingRequest {
  id: number;
  profile: string;
  operation: string;
  requester: string;
  /** SHA-256 of the CSR's SubjectPublicKeyInfo, hex: with the requester it identifies a re-sent request. */
  keyId: string;
  csr: Buffer;
  subject: string;
  sans: string[];
  keyDescription: string;
  status: PendingStatus;
  reason: string | null;
  createdAt: Date;
  expiresAt: Date;
  decidedBy: string | null;
  decidedAt: Date | null;
  serial: string | null;
  /** The client's network address (from the socket, or as a trusted proxy reports it); null when not recorded. */
  clientAddress: string | null;
  /** The authentication the request passed; null for requests held before it was recorded. */
  authMethod: AuthMechanism | null;
  /** The TLS client certificate that authenticated it, if one did. */
  clientCertificate: ClientCertificateSummary | null;
  /** Four-eyes profiles: the first approval, while the request waits for the second. */
  firstApproval: FirstApproval | null;
}

type RecordedOrigin = 'clientAddress' | 'authMethod' | 'clientCertificate';
export type NewPendingRequest = Omit<PendingRequest, 'id' | 'status' | 'reason' | 'decidedBy' | 'decidedAt' | 'serial' | 'firstApproval' | RecordedOrigin>
  & Partial<Pick<PendingRequest, RecordedOrigin>>;

export type CertificateStatus = 'valid' | 'revoked';

export interface CertificateRecord {
  /** Lower-case hex, no leading zeros beyond what DER needs. */
  serial: string;
  profile: string;
  ca: string;
  subject: string;
  /** Human-readable SANs, e.g. ["DNS:a.example", "IP:10.0.0.1"]. */
  sans: string[];
  notBefore: Date;
  notAfter: Date;
  der: Buffer;
  /** Who asked: account email or client certificate subject. */
  requester: string;
  /** Serial of the certificate this one renews (simplereenroll), if any. */
  renews: string | null;
  status: CertificateStatus;
  revokedAt: Date | null;
  revocationReason: string | null;
  /** Who revoked it (the revocation's audit actor); null when valid, or revoked as superseded on renewal. */
  revokedBy: string | null;
  /** Serial of the latest certificate that renews this one (its successor), if any. */
  renewedBy: string | null;
  createdAt: Date;
}

export type NewCertificate = Omit<CertificateRecord, 'status' | 'revokedAt' | 'revocationReason' | 'revokedBy' | 'renewedBy' | 'createdAt'>;

export interface RevokedCertificate {
  serial: string;
  revokedAt: Date;
  reason: string;
  notAfter: Date;
}

export interface AuditEvent {
  id: number;
  at: Date;
  /** Account email, client certificate subject, `cli:<os user>` (cli/cli-actor.ts) or 'anonymous'. */
  actor: string;
  /** e.g. 'simpleenroll', 'simplereenroll', 'account.add', 'profile.set', 'cert.revoke'. */
  action: string;
  profile: string | null;
  /** 'success' or the failure code (e.g. 'unauthenticated', 'forbidden'). */
  outcome: string;
  serial: string | null;
  detail: string | null;
  /** The client's address when the event was written while serving a request (EST or Web RA), else null. */
  clientIp?: string | null;
  /** The id of that request (its X-Request-Id answer header and log lines), else null. */
  requestId?: string | null;
}

/**
 * What a caller records. `clientIp` and `requestId` may be left out: events written while a request
 * is served get them from the request (http/request-context.ts) when the store records them.
 */
export type NewAuditEvent = Omit<AuditEvent, 'id' | 'at' | 'clientIp' | 'requestId'> & { at?: Date; clientIp?: string | null; requestId?: string | null };

/**
 * Every JSON schema of the Web RA API, in one place. Input schemas are handed to fastify, which
 * validates requests against them (unknown properties and wrong types are refused, nothing is
 * coerced in bodies); all of them, inputs and outputs, make up /api/openapi.json (OpenAPI 3.1,
 * JSON Schema 2020-12). `named()` marks a schema that the document lists under components.
 */
import { KEY_ALGORITHMS } from '../ca/ca-setup.js';
import { CRL_REASONS } from '../pki/crl.js';
import { CA_ID_PATTERN } from './ca-lifecycle.js';
import { EC_CURVES, KEY_USAGES, LIMITS } from '../ra/profile-validation.js';
import { VALIDITY_HINT } from '../ra/validity.js';
import { NAME_CAP_RANGE } from '../ra/name-policy.js';
import { ACCOUNT_ROLES, ADMIN_ROLES, AUTH_MECHANISMS, CLIENT_BINDING_MODES } from '../ra/model.js';
import { EMAIL_PATTERN, LABEL_PATTERN } from '../ra/patterns.js';

const NAMES = new WeakMap<object, string>();

/** The component name of a schema, if it has one. */
export function schemaName(schema: object): string | undefined {
  return NAMES.get(schema);
}

export function named<T extends object>(name: string, schema: T): T {
  NAMES.set(schema, name);
  return schema;
}

const str = (extra: object = {}) => ({ type: 'string', ...extra });
const dateTime = (description?: string) => ({ type: 'string', format: 'date-time', ...(description ? { description } : {}) });
const nullable = (schema: object) => ({ anyOf: [schema, { type: 'null' }] });
const strings = (extra: object = {}, max = 200) => ({ type: 'array', maxItems: max, items: { type: 'string', maxLength: 1000, ...extra } });
const obj = (properties: Record<string, object>, required: string[] = [], extra: object = {}) => ({
  type: 'object', additionalProperties: false, properties, ...(required.length ? { required } : {}), ...extra,
});
const int = (min: number, max: number, extra: object = {}) => ({ type: 'integer', minimum: min, maximum: max, ...extra });

export { EMAIL_PATTERN, LABEL_PATTERN };
const email = (extra: object = {}) => str({ pattern: EMAIL_PATTERN, maxLength: 254, ...extra });

// ── problems ──────────────────────────────────────────────────────────────────────────────────
export const FieldError = named('FieldError', obj({ field: str(), message: str() }, ['field', 'message']));
export const Problem = named('Problem', obj({
  type: str({ description: 'urn:estuary:problem:<kind>, e.g. validation, unauthenticated, forbidden, csrf, not-found, conflict, locked' }),
  title: str(), status: { type: 'integer' }, detail: str(),
  errors: { type: 'array', items: FieldError, description: 'validation problems: which field, and what is wrong with it' },
}, ['type', 'title', 'status', 'detail']));

// ── session ───────────────────────────────────────────────────────────────────────────────────
export const SignIn = named('SignIn', obj({ email: str({ minLength: 1, maxLength: 254 }), password: str({ minLength: 1, maxLength: 1024 }) }, ['email', 'password']));
export const SessionInfo = named('Session', obj({
  email: str(), role: { enum: [...ADMIN_ROLES, 'est'], description: 'est: an EST account signed in for self-service (its own certificates only)' },
  csrfToken: str({ description: 'send it as X-CSRF-Token on every POST, PUT, PATCH and DELETE' }),
  idleTimeoutSeconds: { type: 'integer' }, expiresAt: dateTime('absolute end of the session'),
}, ['email', 'role', 'csrfToken', 'idleTimeoutSeconds', 'expiresAt']));

// ── profiles ──────────────────────────────────────────────────────────────────────────────────
export const KeyAlgorithmRule = named('KeyAlgorithmRule', {
  type: 'object',
  discriminator: { propertyName: 'type' },
  required: ['type'],
  oneOf: [
    obj({ type: { const: 'ec' }, curves: { type: 'array', minItems: 1, maxItems: 3, uniqueItems: true, items: { enum: EC_CURVES } } }, ['type', 'curves']),
    obj({
      type: { const: 'rsa' }, minBits: int(LIMITS.rsaMinBits.min, LIMITS.rsaMinBits.max),
      maxBits: int(LIMITS.rsaMinBits.min, LIMITS.rsaMinBits.max, { description: 'largest modulus certified; default 8192' }),
      minExponent: int(LIMITS.rsaMinExponent.min, LIMITS.rsaMinExponent.max, { description: 'smallest (odd) public exponent certified; default 65537' }),
    }, ['type', 'minBits']),
    obj({ type: { const: 'ed25519' } }, ['type']),
  ],
});
const sanType = { enum: ['dns', 'ip', 'email', 'uri'] };
export const NamePolicy = named('NamePolicy', obj({
  subjectAllowed: strings({}, 50), subjectRequired: strings({}, 50),
  subjectPatterns: { type: 'object', maxProperties: 50, additionalProperties: str({ maxLength: 1000 }), description: 'attribute → regular expression the whole value must match' },
  sanTypes: { type: 'array', items: sanType, uniqueItems: true }, sanRequired: { type: 'array', items: sanType, uniqueItems: true },
  dnsSuffixes: strings(), ipRanges: strings(), forbiddenNames: strings(),
  allowWildcards: { type: 'boolean', description: 'wildcard DNS names (*.example.com) may be issued, as SAN or CN' },
  maxSans: int(NAME_CAP_RANGE.maxSans[0], NAME_CAP_RANGE.maxSans[1], { description: 'most subjectAltName entries per certificate' }),
  maxRdns: int(NAME_CAP_RANGE.maxRdns[0], NAME_CAP_RANGE.maxRdns[1], { description: 'most RDNs in a subject' }),
  maxSubjectBytes: int(NAME_CAP_RANGE.maxSubjectBytes[0], NAME_CAP_RANGE.maxSubjectBytes[1], { description: 'most bytes of the DER subject' }),
  clientBinding: named('ClientBinding', obj({
    mode: { enum: CLIENT_BINDING_MODES, description: 'match: the subject (or the listed attributes) and SANs must be the TLS client certificate\'s; anchor-names: within the names set per trust anchor; free: not bound' },
    attributes: strings({}, 20),
    anchors: {
      type: 'array', maxItems: 50,
      items: obj({
        fingerprintSha256: str({ pattern: '^[0-9A-Fa-f:]{64,95}$', description: 'SHA-256 of the trust anchor certificate' }),
        names: strings({}, 200),
        subjectPatterns: { type: 'object', maxProperties: 50, additionalProperties: str({ maxLength: 1000 }) },
      }, ['fingerprintSha256', 'names']),
    },
  }, ['mode'], { description: 'tls-client-cert and basic+tls-client-cert profiles: how requested names bind to the client certificate' })),
}, [], { description: 'which names the profile issues; every list empty allows any supported name' }));
export const RenewalPolicy = named('RenewalPolicy', obj({
  supersede: { type: 'boolean', description: 'revoke the renewed certificate (reason superseded) when its successor is issued' },
  once: { type: 'boolean', description: 'a certificate can be renewed once; its successor renews further' },
  windowPercent: { ...int(0, 100), description: 'simplereenroll only within the last N% of the certificate\'s life; 0: any time' },
}, [], { description: 'simplereenroll rules beyond RFC 7030 §4.2.2; settings left out keep their values' }));
export const DeviceRevocation = named('DeviceRevocation', obj({
  whenUnavailable: { enum: ['refuse', 'allow'], description: 'a device certificate whose CRL cannot be had fresh: refuse it (401) or allow it; either is audited with the URL and error' },
  crlUrls: {
    type: 'object', maxProperties: 50, propertyNames: { pattern: '^[0-9a-f]{64}$' }, additionalProperties: str({ maxLength: 2000 }),
    description: 'trust anchor SHA-256 fingerprint (lower-case hex) → http(s) URL of its CRL, used instead of the certificates\' CRL distribution points',
  },
}, [], { description: 'revocation checking of TLS client certificates from external device CAs (RFC 5280 §6.3)' }));
export const TrustAnchor = named('TrustAnchor', obj({ subject: str(), fingerprintSha256: str(), notAfter: dateTime() }, ['subject', 'fingerprintSha256', 'notAfter']));

/** The settings of a profile, all optional here: a create starts from defaults, an update from the current profile. */
const profileSettings = {
  enabled: { type: 'boolean', description: 'Enable Enrolment over Secure Transport (EST) on this profile' },
  ca: str({ maxLength: 64, description: 'id of the CA connector (GET /api/cas)' }),
  auth: { enum: AUTH_MECHANISMS, description: 'basic: an EST account\'s email and password; tls-client-cert: a client certificate validated against clientTrustAnchors; basic+tls-client-cert: both, certificate first' },
  clientTrustAnchors: { type: 'array', maxItems: 50, items: str({ maxLength: 65_536 }), description: 'PEM certificates of the device CA; a PEM bundle is split into one entry per certificate' },
  validity: str({ maxLength: 32, description: `validity of issued certificates: ${VALIDITY_HINT}; clamped to the CA's own` }),
  validityDays: int(LIMITS.validityDays.min, LIMITS.validityDays.max, { description: 'validity in whole days (as validity "Nd"); a profile whose validity is not whole days reads as a fraction' }),
  keyAlgorithms: { type: 'array', maxItems: 10, items: KeyAlgorithmRule },
  keyUsage: { type: 'array', items: { enum: KEY_USAGES }, uniqueItems: true },
  extendedKeyUsage: strings({}, 20),
  allowedAccounts: { type: 'array', maxItems: 1000, items: email(), description: 'EST accounts allowed on the profile; empty: every EST account' },
  csrAttrs: strings({}, 20),
  approval: { enum: ['auto', 'manual'], description: 'manual: requests wait (202) for an officer' },
  approvals: { enum: [1, 2], description: 'officers who must approve a held request: 2 is four-eyes (two different officers; the first approval is recorded, the request stays pending until the second; one rejection is final)' },
  retryAfterSeconds: int(LIMITS.retryAfterSeconds.min, LIMITS.retryAfterSeconds.max),
  pendingTtlHours: int(LIMITS.pendingTtlHours.min, LIMITS.pendingTtlHours.max),
  popLinking: { enum: ['off', 'optional', 'required'], description: 'RFC 7030 §3.5 proof-of-possession linking' },
  namePolicy: NamePolicy,
  renewal: RenewalPolicy,
  deviceRevocation: DeviceRevocation,
};
/** Read-only properties a client may send back unchanged; they are ignored. */
const profileReadOnly = {
  validitySeconds: { type: 'integer', readOnly: true }, retiredAt: { readOnly: true }, default: { type: 'boolean', readOnly: true },
  estUrl: str({ readOnly: true }), popLinkingNote: str({ readOnly: true }), trustAnchors: { type: 'array', readOnly: true }, createdAt: str({ readOnly: true }), updatedAt: str({ readOnly: true }),
};
export const Profile = named('Profile', obj({
  label: str(), ...profileSettings,
  validityDays: { type: 'number', description: 'validity in days, a fraction when it is not whole days (validity and validitySeconds are exact)' },
  validitySeconds: { type: 'integer', readOnly: true, description: 'validity of issued certificates in seconds' },
  retiredAt: nullable(dateTime('when the profile was retired: it no longer enrolls and cannot be enabled again; its certificates stay valid and revocable')),
  default: { type: 'boolean', readOnly: true, description: 'the default profile (est.defaultProfile), served on the unlabeled EST path' },
  estUrl: str({ readOnly: true, description: 'the URL EST clients use' }),
  popLinkingNote: str({ readOnly: true, description: 'present when the EST listener is behind a TLS-terminating proxy (est.proxy): what that means for popLinking' }),
  trustAnchors: { type: 'array', items: TrustAnchor, readOnly: true, description: 'clientTrustAnchors described' },
  createdAt: dateTime(), updatedAt: dateTime(),
}, ['label', ...Object.keys(profileSettings), 'validitySeconds', 'retiredAt', 'default', 'estUrl', 'trustAnchors', 'createdAt', 'updatedAt']));
export const ProfileClone = named('ProfileClone', obj({
  label: str({ pattern: LABEL_PATTERN, description: 'the new profile\'s label' }),
  enabled: { type: 'boolean', description: 'enable EST on the clone at once (default false: review it first)' },
}, ['label']));
const ProfileUseSchema = obj({
  certificates: { type: 'integer' }, validCertificates: { type: 'integer', description: 'not revoked, not expired' },
  openRequests: { type: 'integer', description: 'pending or approved, not yet collected' }, requests: { type: 'integer' },
}, ['certificates', 'validCertificates', 'openRequests', 'requests']);
export const ProfileRemovalPlan = named('ProfileRemovalPlan', obj({
  action: { enum: ['delete', 'retire', 'refused'], description: 'delete: never issued, removed for good; retire: kept for its certificates, stops enrolling; refused: see reason' },
  consequence: str({ description: 'what happens, to show before confirming' }), reason: str({ description: 'why it cannot be removed' }), use: ProfileUseSchema,
}, ['action', 'use']));
export const ProfileRemoved = named('ProfileRemoved', obj({
  label: str(), outcome: { enum: ['deleted', 'retired'] }, consequence: str(), use: ProfileUseSchema,
}, ['label', 'outcome', 'consequence', 'use']));
export const AccountRemovalPlan = named('AccountRemovalPlan', obj({
  action: { enum: ['delete', 'refused'] }, consequence: str({ description: 'what happens, to show before confirming' }), reason: str(),
}, ['action']));
export const ProfileCreate = named('ProfileCreate', obj({ label: str({ pattern: LABEL_PATTERN }), ...profileSettings, ...profileReadOnly }, ['label'], {
  description: 'settings left out take the defaults of `estuary profile add`',
}));
export const ProfileUpdate = named('ProfileUpdate', obj({ label: str(), ...profileSettings, ...profileReadOnly }, [], {
  description: 'settings left out keep their current values; the label cannot change',
}));

// ── CA connectors ─────────────────────────────────────────────────────────────────────────────
export const CaCertificateInfo = named('CaCertificate', obj({
  subject: str(), issuer: str(), notBefore: dateTime(), notAfter: dateTime(), fingerprintSha256: str({ description: 'lower-case hex' }),
}, ['subject', 'issuer', 'notBefore', 'notAfter', 'fingerprintSha256']));
export const ConnectorHealth = named('ConnectorHealth', obj({
  healthy: { type: 'boolean', description: 'the CA can be reached (always true for the built-in CA)' },
  url: str({ description: 'where an upstream CA is reached' }),
  lastError: nullable(obj({ message: str(), at: dateTime() }, ['message', 'at'])),
  lastSuccessAt: nullable(dateTime('the last successful exchange with the CA')),
  chainFetchedAt: nullable(dateTime('when the CA certificates were last fetched')),
  handshakes: { type: 'integer', description: 'TLS connections opened to an upstream CA so far' },
  requests: { type: 'integer', description: 'requests sent to an upstream CA so far' },
  credentials: { enum: ['accepted', 'refused', 'unknown'], description: 'whether the upstream CA accepted the RA\'s credentials at the last test' },
}, ['healthy', 'lastError', 'lastSuccessAt', 'chainFetchedAt']));
export const KeyLocationInfo = named('KeyLocation', {
  oneOf: [obj({ kind: { const: 'file' }, path: str({ description: 'relative to the data directory when under it' }) }, ['kind', 'path']), obj({ kind: { const: 'pkcs11' }, uri: str({ description: 'RFC 7512 PKCS#11 URI' }) }, ['kind', 'uri'])],
  description: 'where a built-in CA\'s private key is (never the key itself)',
});
export const CaConnectorInfo = named('CaConnector', obj({
  id: str(), type: str({ description: 'the connector type of cas.<id> in estuary.yaml (local, est)' }), typeLabel: str({ description: 'e.g. Built-in CA, Upstream EST CA' }),
  profileSetsCertificateContent: { type: 'boolean', description: 'false: the CA decides key usage, EKU and validity, not the profile' },
  issuesCrls: { type: 'boolean', description: 'this server publishes the CA\'s CRL at /crl/<id>.crl; false for an upstream CA, which revokes and publishes itself' },
  url: nullable(str({ description: 'the upstream EST server (est connectors)' })),
  subject: nullable(str({ description: 'the issuing CA certificate\'s subject; null when no certificate of the CA is known yet' })), notAfter: nullable(dateTime()),
  chain: { type: 'array', items: CaCertificateInfo, description: 'the issuing CA certificate first, up to the root; empty when an upstream CA cannot be reached and no copy is kept' },
  chainError: nullable(str({ description: 'why the chain is empty' })),
  health: ConnectorHealth,
  profiles: strings({}, 10_000),
  keyLocation: nullable(KeyLocationInfo),
}, ['id', 'type', 'typeLabel', 'profileSetsCertificateContent', 'issuesCrls', 'url', 'subject', 'notAfter', 'chain', 'chainError', 'health', 'profiles', 'keyLocation']));
export const caParams = obj({ id: str({ maxLength: 64 }) }, ['id']);
export const PendingCaInfo = named('PendingCa', obj({
  id: str(), subject: str(), keyLocation: KeyLocationInfo,
  csrPem: nullable(str({ description: 'the CSR to have signed (null when it was written outside the data directory by the CLI)' })),
}, ['id', 'subject', 'keyLocation', 'csrPem'], { description: 'a built-in CA whose key is made and whose certificate an external CA has yet to sign' }));
export const CaConnectorList = named('CaConnectorList', obj({
  items: { type: 'array', items: CaConnectorInfo },
  pending: { type: 'array', items: PendingCaInfo, description: 'CAs waiting for their certificate (POST /api/cas/{id}/certificate)' },
}, ['items', 'pending']));
const caIssuer = {
  oneOf: [
    obj({ parent: str({ minLength: 1, maxLength: 64, description: 'id of a configured built-in CA that signs the new CA' }) }, ['parent']),
    obj({ selfSigned: { const: true, description: 'a new root' } }, ['selfSigned']),
    obj({ csr: { const: true, description: 'a CSR for an external or offline CA; then POST /api/cas/{id}/certificate' } }, ['csr']),
  ],
};
export const CaCreate = named('CaCreate', obj({
  id: str({ pattern: CA_ID_PATTERN, description: 'the connector id (cas.<id> in estuary.yaml)' }),
  subject: str({ minLength: 1, maxLength: 1000, description: 'e.g. CN=Devices CA, O=Example' }),
  keyAlgorithm: { enum: KEY_ALGORITHMS, default: 'ec-p256' },
  issuer: caIssuer,
  validityYears: int(1, 50, { default: 10 }),
  pathLen: int(0, 8, { description: 'basicConstraints pathLenConstraint (default: none for a root, 0 under a parent)' }),
  pkcs11: obj({
    uri: str({ minLength: 1, maxLength: 2000, description: 'RFC 7512 URI of the key to make, e.g. pkcs11:token=ca;object=devices;type=private' }),
    module: str({ minLength: 1, maxLength: 1000, description: 'absolute path of the PKCS#11 module' }),
    pinFile: str({ minLength: 1, maxLength: 1000, description: 'file holding the token PIN, relative to the data directory' }),
    pinEnv: str({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$', description: 'environment variable of the server holding the token PIN' }),
  }, ['uri', 'module'], { description: 'make the key in a token instead of a file under the data directory' }),
}, ['id', 'subject', 'issuer']));
export const CaCertificateImport = named('CaCertificateImport', obj({
  certificate: str({ minLength: 1, maxLength: 65_536, description: 'the signed CA certificate (PEM)' }),
  chain: { type: 'array', maxItems: 10, items: str({ minLength: 1, maxLength: 65_536 }), description: 'its issuers up to and including the root (PEM), issuer first' },
}, ['certificate']));

// ── accounts ──────────────────────────────────────────────────────────────────────────────────
const selfService = { type: 'boolean', description: 'EST accounts: the holder may sign in to the Web RA to see, download and revoke (key compromise) its own certificates and change its password' };
export const Account = named('Account', obj({
  email: str(), role: { enum: ACCOUNT_ROLES }, disabled: { type: 'boolean' },
  allowedNames: strings(), allowedProfiles: strings(), selfService,
  createdAt: dateTime(), updatedAt: dateTime(),
  mfa: { type: 'boolean', description: 'has a confirmed second factor (TOTP); in the list and the single account' },
}, ['email', 'role', 'disabled', 'allowedNames', 'allowedProfiles', 'selfService', 'createdAt', 'updatedAt']));
const password = str({ minLength: 8, maxLength: 1024, writeOnly: true });
const allowedNames = strings({ minLength: 1 }, 200);
const allowedProfiles = { type: 'array', maxItems: 200, uniqueItems: true, items: str({ pattern: LABEL_PATTERN }) };
export const AccountCreate = named('AccountCreate', obj({
  email: email(), role: { enum: ACCOUNT_ROLES }, password: { ...password, description: 'generated and returned once when left out' },
  allowedNames, allowedProfiles, selfService,
}, ['email', 'role']));
export const AccountCreated = named('AccountCreated', obj({ email: str(), role: { enum: ACCOUNT_ROLES }, password: str({ description: 'only when generated' }) }, ['email', 'role']));
export const AccountPatch = named('AccountPatch', obj({ disabled: { type: 'boolean' }, allowedNames, allowedProfiles, selfService }, [], { minProperties: 1 }));
export const PasswordReset = named('PasswordReset', obj({ password: { ...password, description: 'generated and returned once when left out' } }));
export const PasswordResult = named('PasswordResult', obj({ email: str(), password: str({ description: 'only when generated' }) }, ['email']));
export const PasswordChange = named('PasswordChange', obj({
  currentPassword: str({ minLength: 1, maxLength: 1024, writeOnly: true }), newPassword: password,
}, ['currentPassword', 'newPassword']));
export const AccountProfiles = named('AccountProfiles', obj({ profiles: allowedProfiles }, ['profiles'], { description: 'the profiles an EST account may use; empty: every profile that allows it' }));

// ── requests ──────────────────────────────────────────────────────────────────────────────────
const requestStatus = { enum: ['pending', 'approved', 'rejected', 'issued'] };
export const RequestWarning = named('RequestWarning', obj({
  kind: { enum: ['pending-subject', 'pending-key', 'valid-subject', 'valid-key'], description: 'another request (pending, or approved and not collected) or a valid certificate with the same subject or key' },
  message: str(), requestId: { type: 'integer', description: 'the other request' }, serial: str({ description: 'the valid certificate' }),
}, ['kind', 'message']));
const pendingRequestProps = {
  id: { type: 'integer' }, profile: str(), operation: str(), requester: str({ description: 'the EST account, or the client certificate\'s subject' }), subject: str(), sans: strings(), keyDescription: str(),
  status: requestStatus, reason: nullable(str()), createdAt: dateTime(), expiresAt: dateTime('when the hold expires undecided'), decidedBy: nullable(str()),
  decidedAt: nullable(dateTime()), serial: nullable(str()), ageSeconds: { type: 'integer' },
  expired: { type: 'boolean', description: 'pending past expiresAt: it can no longer be approved' },
  approvalsRequired: { enum: [1, 2], description: 'the profile\'s approvals: 2 is four-eyes' },
  firstApproval: nullable(obj({ by: str(), at: dateTime() }, ['by', 'at'], { description: 'four-eyes: the first approval, while the request waits for a second officer' })),
  warnings: { type: 'array', items: RequestWarning, description: 'pending requests only; empty when nothing overlaps' },
};
const pendingRequestRequired = ['id', 'profile', 'requester', 'subject', 'sans', 'keyDescription', 'status', 'createdAt', 'expiresAt', 'ageSeconds', 'approvalsRequired', 'firstApproval', 'warnings'];
export const PendingRequest = named('PendingRequest', obj(pendingRequestProps, pendingRequestRequired));
export const DecodedCsr = named('DecodedCsr', obj({
  subject: str(), sans: strings(),
  key: obj({ algorithm: { enum: ['ec', 'rsa', 'ed25519'] }, bits: { type: 'integer' }, curve: nullable(str()), description: str() }, ['algorithm', 'bits', 'curve', 'description']),
  signatureAlgorithm: str(),
  extensions: { type: 'array', items: obj({ oid: str(), name: str(), values: strings() }, ['oid', 'name', 'values']), description: 'every extension requested (extensionRequest), decoded where known' },
  attributes: strings({}, 100),
  challengePassword: { type: 'boolean', description: 'a challengePassword attribute is present (its value is never shown)' },
  error: nullable(str({ description: 'set when the stored CSR cannot be decoded; the other fields are then absent' })),
}, ['error'], { description: 'the CSR as the client sent it (RFC 2986)' }));
export const ClientCertificateSummary = named('ClientCertificateSummary', obj({
  subject: str(), issuer: str(), serial: str({ description: 'lower-case hex' }), fingerprintSha256: str(),
}, ['subject', 'issuer', 'serial', 'fingerprintSha256']));
export const PendingRequestDetail = named('PendingRequestDetail', obj({
  ...pendingRequestProps,
  clientAddress: nullable(str({ description: 'the client\'s address (from the socket, or as a trusted proxy reports it)' })),
  authMethod: nullable({ enum: AUTH_MECHANISMS, description: 'the authentication the request passed; null for requests held before it was recorded' }),
  clientCertificate: nullable(ClientCertificateSummary),
  account: nullable(str({ description: 'the EST account, when HTTP Basic authenticated the request' })),
  csr: DecodedCsr,
}, [...pendingRequestRequired, 'clientAddress', 'authMethod', 'clientCertificate', 'account', 'csr']));
export const Approval = named('Approval', obj({ reason: str({ maxLength: 1000, description: 'a note for the audit log' }) }));
export const Rejection = named('Rejection', obj({ reason: str({ minLength: 1, maxLength: 1000, description: 'shown to the client' }) }, ['reason']));

// ── certificates ──────────────────────────────────────────────────────────────────────────────
const certStatus = { enum: ['valid', 'revoked', 'expired'] };
const certificateProps = {
  serial: str({ description: 'lower-case hex' }), profile: str(), ca: str(), subject: str(), sans: strings(), notBefore: dateTime(), notAfter: dateTime(),
  status: certStatus, requester: str(), renews: nullable(str()), revokedAt: nullable(dateTime()), revocationReason: nullable(str()),
  revokedBy: nullable(str({ description: 'who revoked it (Web RA account, API token, cli); null when revoked as superseded on renewal (see renewedBy) or before this was recorded' })),
  renewedBy: nullable(str({ description: 'serial of the latest certificate that renews this one (its successor)' })),
  createdAt: dateTime('when it was issued'),
};
export const Certificate = named('Certificate', obj(certificateProps, Object.keys(certificateProps)));
export const CertificateFields = named('CertificateFields', obj({
  subject: str(), issuer: str(), serialNumber: str(), notBefore: dateTime(), notAfter: dateTime(), key: str({ description: 'e.g. EC P-256' }),
  fingerprintSha256: str(), fingerprintSha1: str(), subjectAltName: nullable(str()), keyUsage: strings(), extendedKeyUsage: strings(),
  extensions: { type: 'array', items: obj({ oid: str(), name: str(), critical: { type: 'boolean' } }, ['oid', 'name', 'critical']) },
}));
const revocationProps = {
  caPublishesCrl: { type: 'boolean', description: 'this server publishes the CRL of the certificate\'s CA (/crl/<ca>.crl); false for an upstream CA' },
  revocationNotice: nullable(str({ description: 'for an upstream CA: a revocation is recorded here only, and the upstream CA must revoke the certificate itself (EST has no revocation operation)' })),
};
const approvalProps = {
  approval: nullable(obj({
    requestId: { type: 'integer' }, requestedAt: dateTime(), approvedBy: strings({}, 10), approvedAt: nullable(dateTime()),
  }, ['requestId', 'requestedAt', 'approvedBy', 'approvedAt'], { description: 'the held request this certificate fulfilled and the officer(s) who approved it; null: issued without approval' })),
};
export const CertificateDetail = named('CertificateDetail', obj({ ...certificateProps, fields: CertificateFields, pem: str(), ...revocationProps, ...approvalProps },
  [...Object.keys(certificateProps), 'fields', 'pem', ...Object.keys(revocationProps), ...Object.keys(approvalProps)]));
export const Revocation = named('Revocation', obj({ reason: { enum: Object.keys(CRL_REASONS), description: 'RFC 5280 §5.3.1 reason' } }, ['reason']));

// ── audit and dashboard ───────────────────────────────────────────────────────────────────────
export const AuditEvent = named('AuditEvent', obj({
  id: { type: 'integer' }, at: dateTime(), actor: str(), action: str(), profile: nullable(str()), outcome: str(), serial: nullable(str()), detail: nullable(str()),
  clientIp: nullable(str({ description: 'the client address of the request that recorded it (EST or Web RA); null for the CLI and background jobs' })),
  requestId: nullable(str({ description: 'that request\'s id: its X-Request-Id answer header and the reqId of its log lines' })),
}, ['id', 'at', 'actor', 'action', 'profile', 'outcome', 'serial', 'detail', 'clientIp', 'requestId']));
export const CaStatus = named('CaStatus', obj({
  id: str(), typeLabel: str(), healthy: { type: 'boolean' }, url: nullable(str()), problem: nullable(str({ description: 'the last failure, when unhealthy' })),
  notAfter: nullable(dateTime('the CA certificate\'s end (null: not known yet)')), issuesCrls: { type: 'boolean' },
}, ['id', 'typeLabel', 'healthy', 'url', 'problem', 'notAfter', 'issuesCrls']));
export const Dashboard = named('Dashboard', obj({
  counts: obj({
    valid: { type: 'integer', description: 'not revoked, not expired and not renewed' },
    renewed: { type: 'integer', description: 'not revoked and not expired, but renewed by a successor (counted there as valid)' },
    revoked: { type: 'integer' }, expired: { type: 'integer' }, pendingRequests: { type: 'integer' },
  }, ['valid', 'renewed', 'revoked', 'expired', 'pendingRequests']),
  cas: { type: 'array', items: CaStatus, description: 'every CA connector, healthy or not, as /readyz sees it' },
  issuedPerDay: { type: 'array', minItems: 30, maxItems: 30, items: obj({ day: str({ format: 'date' }), count: { type: 'integer' } }, ['day', 'count']), description: 'oldest first, today last (UTC days)' },
  expiringSoon: { type: 'array', maxItems: 20, items: obj({ serial: str(), subject: str(), profile: str(), notAfter: dateTime(), renewedBy: nullable(str({ description: 'already renewed by this successor' })) }, ['serial', 'subject', 'profile', 'notAfter', 'renewedBy']), description: 'valid certificates expiring in the next 30 days, soonest first' },
}, ['counts', 'cas', 'issuedPerDay', 'expiringSoon']));

// ── lists, parameters, queries ────────────────────────────────────────────────────────────────
export const itemsOf = (items: object) => obj({ items: { type: 'array', items } }, ['items']);
export const pageOf = (items: object) => obj({
  items: { type: 'array', items }, total: { type: 'integer', description: 'how many match in all' }, offset: { type: 'integer' }, limit: { type: 'integer' },
}, ['items', 'total', 'offset', 'limit']);
const paging = { offset: int(0, 1_000_000, { default: 0 }), limit: int(1, 500, { default: 50 }) };
/** A certificate search's page: the count may stop at a bound, and a cursor leads to the next page. */
export const certificatePageOf = (items: object) => obj({
  items: { type: 'array', items },
  total: { type: 'integer', description: 'how many match in all, or at least this many when totalIsLowerBound' },
  totalIsLowerBound: { type: 'boolean', description: 'the count stopped at 10,000: more than that match' },
  next: { type: ['string', 'null'], description: 'pass as `after` for the page after this one (null: this page is not full, nothing follows)' },
  offset: { type: 'integer' }, limit: { type: 'integer' },
}, ['items', 'total', 'totalIsLowerBound', 'next', 'offset', 'limit']);

export const labelParams = obj({ label: str({ maxLength: 64 }) }, ['label']);
export const emailParams = obj({ email: str({ maxLength: 254 }) }, ['email']);
export const idParams = obj({ id: int(1, Number.MAX_SAFE_INTEGER) }, ['id']);
export const serialParams = obj({ serial: str({ pattern: '^[0-9A-Fa-f:]{1,100}$', description: 'hex, colons allowed' }) }, ['serial']);

export const requestQuery = obj({ status: { enum: ['pending', 'approved', 'rejected', 'issued', 'all'], default: 'pending' }, profile: str({ maxLength: 64 }), ...paging });
export const ownCertificateQuery = obj({
  q: str({ maxLength: 200, description: 'substring of the subject, a SAN or the serial' }), status: certStatus,
  after: str({ maxLength: 200, pattern: '^[A-Za-z0-9_-]+$', description: 'the `next` of the previous page' }),
  ...paging,
});
export const certificateQuery = obj({
  q: str({ maxLength: 200, description: 'substring of the subject, a SAN or the serial' }), subject: str({ maxLength: 200 }), san: str({ maxLength: 200 }),
  serial: str({ maxLength: 100 }), profile: str({ maxLength: 64 }), status: certStatus,
  order: { enum: ['issued', 'expiry'], default: 'issued', description: 'issued: newest issued first; expiry: soonest notAfter first' },
  expiresWithinDays: int(0, 3650, { description: 'valid until at most this many days from now (and not yet expired)' }),
  after: str({ maxLength: 200, pattern: '^[A-Za-z0-9_-]+$', description: 'the `next` of the previous page (same filters): keyset paging, cheap at any depth; offset is then ignored' }),
  ...paging,
});
const auditFilters = {
  actor: str({ maxLength: 254 }), action: str({ maxLength: 100 }), profile: str({ maxLength: 64 }),
  from: dateTime('events at or after'), to: dateTime('events before'),
};
export const auditQuery = obj({ ...auditFilters, ...paging });
/** The audit list's filters, for an export of every match. */
export const auditExportQuery = obj(auditFilters);

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'invalid input; `errors` names each field and what is wrong with it',
  401: 'not signed in, or the session expired',
  403: 'the CSRF token is missing or wrong, or the role may not do this',
  404: 'no such resource',
  409: 'conflicts with the current state',
  429: 'sign-in locked after repeated failures; see Retry-After',
  503: 'the database is unavailable, or the search took longer than the time limit for one query; see Retry-After',
};

/** Problem responses of an operation, for the OpenAPI document. */
export function problemResponses(...codes: number[]): Record<number, { description: string; schema: object; contentType: string }> {
  return Object.fromEntries(codes.map((c) => [c, { description: PROBLEM_DESCRIPTIONS[c] ?? 'problem', schema: Problem, contentType: 'application/problem+json' }]));
}

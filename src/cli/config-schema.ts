/**
 * The schema of estuary.yaml (TypeBox, i.e. JSON Schema): every setting with its type, bounds,
 * default and description. config.ts validates with it (src/schema/check.ts) and then applies what
 * a schema cannot say (host:port syntax, URL schemes, the environment overrides, one setting bounded
 * by another); `npm run docs:config` writes the README's configuration reference from it.
 *
 * Sections that an owner module parses itself are described here and marked `ownParser`:
 * `database` (store/database-config.ts, keys depend on the type), `est.proxy`
 * (est/proxy-trust.ts) and each `cas.<id>` (the connector type's module, ca/registry.ts).
 */
import { Type, type TSchema, type TUnsafe } from '@sinclair/typebox';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const KEY_FILE_PERMISSIONS = ['refuse', 'warn'] as const;

const text = (description: string, extra: object = {}) => Type.String({ minLength: 1, pattern: '\\S', description, ...extra });
const int = (min: number, max: number, def: number | undefined, description: string) =>
  Type.Integer({ minimum: min, maximum: max, ...(def !== undefined ? { default: def } : {}), description });
const section = <T extends Record<string, TSchema>>(properties: T, description: string) =>
  Type.Object(properties, { additionalProperties: false, default: {}, description });
const oneOf = <T extends string>(values: readonly T[], def: T, description: string): TUnsafe<T> =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], default: def, description });
const listen = (def: string, env: string, off: boolean, what: string) =>
  text(`${what}: host:port${off ? ', or off to disable it' : ''}`, { default: def, envOverride: env });
/** A section another module validates; the schema documents it. */
const ownParser = <T extends TSchema>(schema: T, module: string): T => ({ ...schema, ownParser: module });

const authThrottle = section({
  maxFailuresPerAccount: int(1, 1_000_000, 10, 'failed HTTP Basic attempts for one account within windowMinutes before it is locked (429 with Retry-After)'),
  maxFailuresPerAddress: int(1, 1_000_000, 50, 'failed HTTP Basic attempts from one client address within windowMinutes before it is locked'),
  windowMinutes: int(1, 24 * 60, 15, 'the window in which failures are counted'),
  lockMinutes: int(1, 24 * 60, 15, 'how long a lock lasts; a device whose password was verified recently keeps working'),
}, 'HTTP Basic lockout: further attempts get 429 with Retry-After, without a password check');

export const ProxySchema = ownParser(Type.Object({
  clientCertHeader: text('header carrying the client certificate: URL-encoded PEM (nginx), PEM, or base64 DER (HAProxy)', { default: 'X-SSL-Client-Cert' }),
  trustedProxies: Type.Array(Type.String(), { minItems: 1, description: 'addresses or CIDR ranges of the proxies allowed to send the header', example: ['127.0.0.1', '10.0.0.0/8'] }),
  forwardedFor: Type.Boolean({ default: true, description: 'take the client address from X-Forwarded-For of a trusted proxy' }),
}, { additionalProperties: false, description: 'behind a TLS-terminating proxy: client certificates from a header of trusted proxies (README "Behind a TLS-terminating proxy"); PoP linking cannot work through it. Left out: off' }), 'est/proxy-trust.ts');

const est = section({
  listen: listen('127.0.0.1:8443', 'ESTUARY_EST_LISTEN', false, 'address of the EST HTTPS listener'),
  defaultProfile: text('profile served on /.well-known/est/ without a label', { default: 'default' }),
  publicUrl: Type.Optional(text('https:// base URL clients use, when it differs from the listen address (e.g. behind a load balancer)', { example: 'https://est.example.com' })),
  authThrottle,
  maxPendingPerRequester: int(1, 100_000, 10, 'requests one requester may have held for approval at once'),
  maxCertificateBytes: int(1024, 1024 * 1024, 16 * 1024, 'refuse a request whose certificate would be larger'),
  serverKeygenConcurrency: int(1, 64, 2, 'server-side key generations (serverkeygen) at once; more are answered 503 with Retry-After'),
  proxy: Type.Optional(ProxySchema),
}, 'the EST listener (RFC 7030)');

const tls = section({
  certificate: text('EST (and Web RA) server certificate followed by its chain (PEM)', { default: 'tls/server.pem' }),
  key: text('its private key (PEM)', { default: 'tls/server-key.pem' }),
}, 'the TLS server certificate; relative paths are relative to the data directory');

export const DatabaseSchema = ownParser(Type.Object({
  type: oneOf(['sqlite', 'postgres'] as const, 'sqlite', 'sqlite: embedded, one machine; postgres: several instances sharing one database (ESTUARY_DATABASE_URL selects it)'),
  path: text('sqlite: the database file', { default: 'estuary.db' }),
  url: Type.Optional(text('postgres: postgres://user@host:port/database (the password may be in it)', { envOverride: 'ESTUARY_DATABASE_URL', example: 'postgres://estuary@db.example.net:5432/estuary' })),
  passwordFile: Type.Optional(text('postgres: file holding the password (first line)')),
  passwordEnv: Type.Optional(text('postgres: environment variable holding the password')),
  poolSize: int(1, 1000, 10, 'postgres: connections per instance'),
  statementTimeoutSeconds: int(1, 3600, 10, 'postgres: a query running longer fails (503 to the client)'),
}, { additionalProperties: false, default: {}, description: 'where the state is kept; the password is never logged' }), 'store/database-config.ts');

const files = (description: string, extra: object = {}) => Type.Array(Type.String(), { description, ...extra });
const pkcs11 = Type.Object({
  module: text('absolute path of the PKCS#11 module'),
  pinFile: Type.Optional(text('file holding the token PIN (or pinEnv)')),
  pinEnv: Type.Optional(text('environment variable holding the token PIN (or pinFile)')),
  sessions: int(1, 64, 2, 'sessions on the token: signatures that run at once'),
  rsaSignature: oneOf(['pkcs1', 'pss'] as const, 'pkcs1', 'RSA keys: PKCS#1 v1.5 or RSASSA-PSS signatures'),
}, { additionalProperties: false, description: 'local, key a PKCS#11 URI (RFC 7512): the token' });

/** Documents the settings of both connector types; ca/connectors/local.ts and est.ts validate them. */
export const CaConnectorSchema = ownParser(Type.Object({
  type: oneOf(['local', 'est'] as const, 'local', 'local: the built-in CA; est: an upstream CA reached over EST (RFC 7030), this server being the RA in front of it'),
  certificate: Type.Optional(text('local: issuing CA certificate (PEM)', { example: 'ca/issuing.pem' })),
  key: Type.Optional(text('local: its private key (PEM file, mode 0600) or a PKCS#11 URI (RFC 7512)', { example: 'ca/issuing-key.pem' })),
  chain: Type.Optional(files('local: the further certificates up to and including the root (PEM files)', { example: ['ca/root.pem'] })),
  pkcs11: Type.Optional(pkcs11),
  previous: Type.Optional(Type.Array(Type.Object({
    certificate: text('certificate of the earlier key'), key: text('the earlier key (file or PKCS#11 URI)'), pkcs11: Type.Optional(pkcs11),
  }, { additionalProperties: false }), { description: 'local, RFC 7030 §4.1.3 rollover: the CA\'s earlier keys, oldest first (estuary ca rollover writes them)' })),
  activateAt: Type.Optional(text('local: the current key issues from this ISO 8601 time; before it, the newest previous key does')),
  links: Type.Optional(files('local: link certificates served on /cacerts (NewWithNew, OldWithNew, NewWithOld), PEM files')),
  url: Type.Optional(text('est: the upstream EST server, https://host:port or https://host/.well-known/est/<label>', { example: 'https://ca.example.net:8443' })),
  label: Type.Optional(text('est: EST label at the upstream')),
  trustAnchors: Type.Optional(files('est: the upstream\'s trust anchors (PEM files); or bootstrapFingerprint')),
  bootstrapFingerprint: Type.Optional(text('est: SHA-256 of an upstream CA certificate, instead of trustAnchors')),
  auth: Type.Optional(Type.Object({
    basic: Type.Optional(Type.Object({
      user: text('HTTP Basic user at the upstream'), passwordFile: Type.Optional(text('file holding its password')), passwordEnv: Type.Optional(text('or the environment variable holding it')),
    }, { additionalProperties: false, description: 'HTTP Basic' })),
    certificate: Type.Optional(text('RA certificate (id-kp-cmcRA) and its chain, PEM')),
    key: Type.Optional(text('its private key (mode 0600)')),
  }, { additionalProperties: false, description: 'est: how the RA authenticates upstream: basic, certificate + key, or both' })),
  reenroll: Type.Optional(oneOf(['enroll', 'forward'] as const, 'enroll', 'est: a reenroll goes upstream as an enroll, or is forwarded as simplereenroll')),
  serverKeygen: Type.Optional(oneOf(['forward', 'local'] as const, 'forward', 'est: serverkeygen forwarded upstream, or the key generated by this RA')),
  timeoutSeconds: Type.Optional(int(1, 600, 30, 'est: timeout of one upstream request')),
  maxConnections: Type.Optional(int(1, 256, 8, 'est: kept-alive TLS connections to the upstream')),
  refreshMinutes: Type.Optional(int(1, 7 * 24 * 60, 60, 'est: how often /cacerts and /csrattrs are fetched again')),
  retryAfterSeconds: Type.Optional(int(1, 86_400, 30, 'est: Retry-After for clients while the upstream is down')),
}, { additionalProperties: false, description: 'a CA connector; settings marked local or est apply to that type (validated by ca/connectors/local.ts and est.ts)' }), 'ca/registry.ts');

/** The id of a CA connector under cas: in estuary.yaml. */
export const CONFIG_CA_ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

const cas = Type.Record(Type.String({ pattern: CONFIG_CA_ID_PATTERN }), CaConnectorSchema, {
  default: {}, description: 'CA connectors by id (letters, digits, _ and -); profiles name the connector that issues for them. At least one',
});

const crl = section({
  listen: listen('127.0.0.1:8080', 'ESTUARY_CRL_LISTEN', true, 'plain HTTP listener of /crl/<ca>.crl and OCSP'),
  publicUrl: Type.Optional(text('http(s) base URL relying parties use; issued certificates then carry <publicUrl>/<ca>.crl as CRL distribution point', { example: 'http://pki.example.com/crl' })),
  validityHours: int(1, 24 * 31, 24, 'nextUpdate; a CRL is re-signed after half of it, and on every revocation'),
  omitExpired: Type.Boolean({ default: false, description: 'leave out certificates expired for longer than validityHours (RFC 5280 §3.3)' }),
  deltaValidityHours: Type.Optional(int(1, 24 * 31, undefined, 'delta CRLs (RFC 5280 §5.2.4) at /crl/<ca>-delta.crl valid this long, at most validityHours; the complete CRL then carries freshestCRL. Left out: none')),
}, 'certificate revocation lists, one per CA');

const ocsp = section({
  publicUrl: Type.Optional(text('http(s) base URL relying parties use; issued certificates then carry <publicUrl>/<ca> in Authority Information Access', { example: 'http://pki.example.com/ocsp' })),
  signer: oneOf(['delegated', 'ca'] as const, 'delegated', 'delegated: an OCSP signing certificate the CA issues at startup; ca: the CA key'),
  validityMinutes: int(1, 7 * 24 * 60, 60, 'nextUpdate of responses'),
}, 'the OCSP responder (RFC 6960) on the CRL listener: /ocsp/<ca>, GET and POST');

const admin = section({
  listen: listen('127.0.0.1:8444', 'ESTUARY_ADMIN_LISTEN', true, 'HTTPS listener of the Web RA (UI and JSON API, OpenAPI at /api/openapi.json)'),
  sessionIdleMinutes: int(1, 24 * 60, 30, 'a session ends after this long without a request'),
  sessionAbsoluteHours: int(1, 24 * 30, 12, 'and this long after sign-in, whatever happens'),
  clientCertificateCa: Type.Optional(text('a PEM bundle of CA certificates: operators may also sign in with a client certificate issued under them (its email names the account)', { example: 'operators-ca.pem' })),
}, 'the Web RA, with the TLS certificate above');

const ops = section({
  listen: listen('127.0.0.1:9090', 'ESTUARY_OPS_LISTEN', true, 'plain HTTP listener of /healthz, /readyz and /metrics (keep it on a private address)'),
}, 'the operations listener, for load balancers and Prometheus');

const log = section({
  level: oneOf(LOG_LEVELS, 'info', 'logs never hold passwords or keys'),
}, 'logging');

const limits = section({
  requestTimeoutSeconds: int(1, 3600, 30, 'a request\'s headers and body must arrive within this (else 408)'),
  handshakeTimeoutSeconds: int(1, 300, 10, 'a connection that has not finished TLS by then is closed'),
  maxConnectionsPerClient: int(0, 100_000, 64, 'open connections per client address on each listener (EST, CRL/OCSP, Web RA); 0: no cap'),
  drainSeconds: int(0, 3600, 10, 'on SIGTERM, in-flight requests get this long; then connections are closed'),
}, 'resource bounds of the listeners');

/** webhooks: parsed by notify/webhook-config.ts (the trust anchors file is read there). */
export const WebhooksSchema = ownParser(Type.Object({
  maxAttempts: int(1, 100, 8, 'attempts of one delivery before it is marked failed'),
  timeoutSeconds: Type.Number({ minimum: 0.1, maximum: 300, default: 10, description: 'per attempt (connect, send, response head)' }),
  retrySeconds: Type.Number({ minimum: 0.1, maximum: 86_400, default: 30, description: 'delay before the 2nd attempt; doubles on each further failure' }),
  retryMaxSeconds: Type.Number({ minimum: 0.1, maximum: 7 * 86_400, default: 3600, description: 'the delay stops growing here' }),
  pollSeconds: Type.Number({ minimum: 0.05, maximum: 3600, default: 2, description: 'how often an instance looks for due deliveries' }),
  scanMinutes: Type.Number({ minimum: 0.01, maximum: 24 * 60, default: 60, description: 'how often expiring certificates are looked for (and old deliveries forgotten)' }),
  retentionDays: int(1, 3650, 30, 'delivered and failed deliveries are kept this long'),
  expiringDays: Type.Array(Type.Integer({ minimum: 1, maximum: 365 }), { minItems: 1, default: [30, 7], description: 'cert.expiring thresholds of endpoints added without their own' }),
  trustAnchors: Type.Optional(text('extra PEM CA certificates for https endpoints (besides the system\'s)')),
  secretKeyFile: text('the key that seals the endpoints\' secrets (AES-256-GCM)', { default: 'webhooks.key' }),
}, { additionalProperties: false, default: {}, description: 'webhook delivery (README "Webhooks")' }), 'notify/webhook-config.ts');

/** estuary.yaml. */
export const ConfigSchema = Type.Object({
  est, tls, database: DatabaseSchema, cas, crl, ocsp, admin, ops, log, limits,
  keyFilePermissions: oneOf(KEY_FILE_PERMISSIONS, 'refuse', 'a CA or TLS private key file readable by group or others: refuse (stop with the chmod to run) or warn (log it and start)'),
  webhooks: WebhooksSchema,
}, { additionalProperties: false, description: 'estuary.yaml in the data directory' });

/**
 * estuary.yaml: read, validated against its schema (config-schema.ts) with errors that name the
 * field, paths resolved against the data directory. Environment overrides: ESTUARY_EST_LISTEN,
 * ESTUARY_CRL_LISTEN, ESTUARY_ADMIN_LISTEN and ESTUARY_OPS_LISTEN (host:port, or off for the CRL,
 * Web RA and operations listeners), ESTUARY_DATABASE_URL (postgres://…, selects PostgreSQL).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Static } from '@sinclair/typebox';
import { parse } from 'yaml';
import { ConnectorConfigError } from '../ca/connectors/config-fields.js';
import { parseConnectorConfig, type CaConfig } from '../ca/registry.js';
import { parseProxySettings, ProxySettingsError, type ProxySettings } from '../est/proxy-trust.js';
import { checkSchema, SchemaError, withoutNullNumbers, withoutOwnParsers } from '../schema/check.js';
import { DatabaseConfigError, parseDatabaseConfig, type DatabaseConfig } from '../store/database-config.js';
import { CONFIG_CA_ID_PATTERN, ConfigSchema } from './config-schema.js';
import { parseWebhookConfig, type WebhookConfig } from '../notify/webhook-config.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export type { CaConfig } from '../ca/registry.js';
export type { DatabaseConfig, PostgresDatabaseConfig, SqliteDatabaseConfig } from '../store/database-config.js';
export type { LocalCaConfig } from '../ca/connectors/local.js';

export interface Config {
  home: string;
  est: {
    listen: ListenAddress;
    defaultProfile: string;
    publicUrl: string | undefined;
    /** Failed HTTP Basic attempts before an account or client address is locked (429). */
    authThrottle: { maxFailuresPerAccount: number; maxFailuresPerAddress: number; windowMinutes: number; lockMinutes: number };
    /** Requests one requester may have held for approval at once. */
    maxPendingPerRequester: number;
    /** Refuse a request whose certificate would be larger than this. */
    maxCertificateBytes: number;
    /** Server-side key generations (serverkeygen) running at once; more get 503. */
    serverKeygenConcurrency: number;
    /** Behind a TLS-terminating proxy: client certificates from a header of trusted proxies; undefined: off. */
    proxy: ProxySettings | undefined;
  };
  /** `refuse` (default): a private key file readable by group or others stops the server; `warn`: it is logged. */
  keyFilePermissions: 'refuse' | 'warn';
  tls: { certificate: string; key: string };
  /** SQLite (path) or PostgreSQL (url, password source, pool): store/database-config.ts. */
  database: DatabaseConfig;
  cas: Record<string, CaConfig>;
  crl: {
    listen: ListenAddress | undefined; publicUrl: string | undefined; validityHours: number;
    /** RFC 5280 §3.3: leave out entries of certificates expired for longer than one CRL validity. */
    omitExpired: boolean;
    /** Delta CRLs (RFC 5280 §5.2.4) at /crl/<ca>-delta.crl valid this long; undefined: none. */
    deltaValidityHours: number | undefined;
  };
  /** The OCSP responder (RFC 6960) on the CRL listener at /ocsp/<ca>. */
  ocsp: { publicUrl: string | undefined; signer: 'delegated' | 'ca'; validityMinutes: number };
  /** The Web RA (UI and JSON API) on its own HTTPS listener; listen undefined: off. */
  admin: {
    listen: ListenAddress | undefined;
    sessionIdleMinutes: number;
    sessionAbsoluteHours: number;
    /** A PEM bundle of CAs whose client certificates may sign in to the Web RA (api-session-certificate.ts). */
    clientCertificateCa?: string;
  };
  /** The operations listener (plain HTTP: /healthz, /readyz, /metrics); listen undefined: off. */
  ops: { listen: ListenAddress | undefined };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  /** Resource bounds of the listeners, and how long SIGTERM waits for in-flight requests. */
  limits: { requestTimeoutSeconds: number; handshakeTimeoutSeconds: number; maxConnectionsPerClient: number; drainSeconds: number };
  /** Webhook delivery (notify/webhook-config.ts). */
  webhooks: WebhookConfig;
}

export const CONFIG_FILE = 'estuary.yaml';

export class ConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

export function parseListen(text: string, field: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`${field}: expected host:port (e.g. 127.0.0.1:8443), got "${text}"`);
  return { host: m[1] ?? m[2]!, port };
}

type Obj = Record<string, unknown>;

function section(parent: Obj, key: string, path: string): Obj {
  const v = parent[key];
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${path}: expected a mapping`);
  return v as Obj;
}

/** estuary.yaml as the schema admits it, defaults filled in (the parts with their own parser as written). */
type Checked = Static<typeof ConfigSchema>;

const VALIDATED = withoutOwnParsers(ConfigSchema);
const CA_ID = new RegExp(CONFIG_CA_ID_PATTERN);

/** Validate a parsed YAML document. `env` supplies the overrides. */
export function validateConfig(doc: unknown, home: string, env: NodeJS.ProcessEnv = {}): Config {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ConfigError('the configuration must be a YAML mapping');
  let c: Checked;
  try {
    c = checkSchema<Checked>(VALIDATED, withoutNullNumbers(VALIDATED, doc));
  } catch (err) {
    if (err instanceof SchemaError) throw new ConfigError(err.message);
    throw err;
  }
  const root = c as unknown as Obj;
  const resolve = (p: string): string => (isAbsolute(p) ? p : join(home, p));
  const listenOf = (text: string, field: string, envName: string, offable: boolean): ListenAddress | undefined => {
    const value = env[envName] || text;
    if (offable && value === 'off') return undefined;
    return parseListen(value, env[envName] ? envName : field);
  };

  const { est } = c;
  const listen = listenOf(est.listen, 'est.listen', 'ESTUARY_EST_LISTEN', false)!;
  if (est.publicUrl && !/^https:\/\/[^/]+/.test(est.publicUrl)) throw new ConfigError(`est.publicUrl: expected an https:// URL, got "${est.publicUrl}"`);
  let proxy: ProxySettings | undefined;
  try {
    proxy = parseProxySettings(est.proxy, 'est.proxy');
  } catch (err) {
    if (err instanceof ProxySettingsError) throw new ConfigError(err.message);
    throw err;
  }

  let database: DatabaseConfig;
  try {
    database = parseDatabaseConfig(section(root, 'database', 'database'), resolve, env);
  } catch (err) {
    if (err instanceof DatabaseConfigError) throw new ConfigError(err.message);
    throw err;
  }

  const casRaw = section(root, 'cas', 'cas');
  const cas: Record<string, CaConfig> = {};
  for (const id of Object.keys(casRaw)) {
    const path = `cas.${id}`;
    if (!CA_ID.test(id)) throw new ConfigError(`${path}: a CA id is letters, digits, _ and - only`);
    const ca = section(casRaw, id, path);
    // The connector type's module validates its own settings (src/ca/registry.ts).
    try {
      cas[id] = parseConnectorConfig(ca, path, resolve);
    } catch (err) {
      if (err instanceof ConnectorConfigError) throw new ConfigError(err.message);
      throw err;
    }
  }
  if (Object.keys(cas).length === 0) throw new ConfigError('cas: at least one CA connector is required');

  const { crl, ocsp, admin, limits } = c;
  if (crl.publicUrl && !/^https?:\/\/[^/]+/.test(crl.publicUrl)) throw new ConfigError(`crl.publicUrl: expected an http:// URL, got "${crl.publicUrl}"`);
  if (crl.deltaValidityHours !== undefined && crl.deltaValidityHours > crl.validityHours) {
    throw new ConfigError(`crl.deltaValidityHours: expected an integer from 1 to ${crl.validityHours}, got ${crl.deltaValidityHours}`);
  }
  if (ocsp.publicUrl && !/^https?:\/\/[^/]+/.test(ocsp.publicUrl)) throw new ConfigError(`ocsp.publicUrl: expected an http:// URL, got "${ocsp.publicUrl}"`);

  return {
    home,
    est: {
      listen, defaultProfile: est.defaultProfile, publicUrl: est.publicUrl, authThrottle: est.authThrottle, maxPendingPerRequester: est.maxPendingPerRequester,
      maxCertificateBytes: est.maxCertificateBytes, serverKeygenConcurrency: est.serverKeygenConcurrency, proxy,
    },
    keyFilePermissions: c.keyFilePermissions,
    tls: { certificate: resolve(c.tls.certificate), key: resolve(c.tls.key) },
    database,
    cas,
    crl: {
      listen: listenOf(crl.listen, 'crl.listen', 'ESTUARY_CRL_LISTEN', true), publicUrl: crl.publicUrl?.replace(/\/+$/, ''), validityHours: crl.validityHours,
      omitExpired: crl.omitExpired, deltaValidityHours: crl.deltaValidityHours,
    },
    ocsp: { publicUrl: ocsp.publicUrl?.replace(/\/+$/, ''), signer: ocsp.signer, validityMinutes: ocsp.validityMinutes },
    admin: {
      listen: listenOf(admin.listen, 'admin.listen', 'ESTUARY_ADMIN_LISTEN', true), sessionIdleMinutes: admin.sessionIdleMinutes, sessionAbsoluteHours: admin.sessionAbsoluteHours,
      ...(admin.clientCertificateCa ? { clientCertificateCa: resolve(admin.clientCertificateCa) } : {}),
    },
    ops: { listen: listenOf(c.ops.listen, 'ops.listen', 'ESTUARY_OPS_LISTEN', true) },
    log: { level: c.log.level },
    limits: {
      requestTimeoutSeconds: limits.requestTimeoutSeconds, handshakeTimeoutSeconds: limits.handshakeTimeoutSeconds,
      maxConnectionsPerClient: limits.maxConnectionsPerClient, drainSeconds: limits.drainSeconds,
    },
    webhooks: parseWebhookConfig(section(root, 'webhooks', 'webhooks'), resolve, (m) => new ConfigError(m)),
  };
}

export function loadConfig(home: string, env: NodeJS.ProcessEnv = process.env): Config {
  const file = join(home, CONFIG_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(`${file} not found: run "estuary init" first (or pass --home)`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message}`);
  }
  try {
    return validateConfig(doc, home, env);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${file}: ${err.message}`);
    throw err;
  }
}

/** A host as it stands in a URL: IPv6 addresses in brackets. */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** https://host:port/ of the Web RA; a wildcard listen address is shown as localhost. */
export function adminBaseUrl(address: ListenAddress, port = address.port): string {
  const host = address.host === '0.0.0.0' || address.host === '::' ? 'localhost' : address.host;
  return `https://${urlHost(host)}:${port}/`;
}

/** http://host:port of the operations listener (no trailing slash); a wildcard listen address is shown as localhost. */
export function opsBaseUrl(address: ListenAddress, port = address.port): string {
  const host = address.host === '0.0.0.0' || address.host === '::' ? 'localhost' : address.host;
  return `http://${urlHost(host)}:${port}`;
}

/** The base URL clients use; labels are appended as /<label>. */
export function estBaseUrl(config: Config, port = config.est.listen.port): string {
  if (config.est.publicUrl) return config.est.publicUrl.replace(/\/+$/, '') + '/.well-known/est';
  const host = config.est.listen.host === '0.0.0.0' || config.est.listen.host === '::' ? 'localhost' : config.est.listen.host;
  return `https://${urlHost(host)}:${port}/.well-known/est`;
}

export const DEFAULT_CONFIG_YAML = `# Estuary configuration. Relative paths are relative to this directory.
# Validated at start: an unknown or malformed setting stops the server with its name.

est:
  # Address of the EST HTTPS listener (env ESTUARY_EST_LISTEN=host:port overrides).
  listen: 127.0.0.1:8443
  # Profile served on /.well-known/est/ without a label.
  defaultProfile: default
  # Base URL clients use, when it differs from the listen address (e.g. behind a load balancer).
  # publicUrl: https://est.example.com
  # Failed HTTP Basic attempts: after this many for one account (or from one client address)
  # within windowMinutes, further attempts get 429 with Retry-After for lockMinutes, without
  # a password check. A device whose password was verified recently keeps working.
  authThrottle:
    maxFailuresPerAccount: 10
    maxFailuresPerAddress: 50
    windowMinutes: 15
    lockMinutes: 15
  maxPendingPerRequester: 10       # requests one requester may have held for approval at once
  maxCertificateBytes: 16384       # refuse a request whose certificate would be larger
  # Server-side key generations (serverkeygen) running at once; more are answered 503 + Retry-After.
  serverKeygenConcurrency: 2
  # Behind a TLS-terminating proxy (Kubernetes ingress, a load balancer) that connects to this
  # listener over TLS and forwards the client certificate in a header (README: "Behind a
  # TLS-terminating proxy"). Only connections from trustedProxies may send the header; from
  # them, the header is the client certificate (none when empty), X-Forwarded-For the client
  # address. PoP linking cannot work through the proxy (popLinking required refuses).
  # proxy:
  #   clientCertHeader: X-SSL-Client-Cert   # URL-encoded PEM (nginx), PEM, or base64 DER (HAProxy)
  #   trustedProxies: [127.0.0.1, 10.0.0.0/8]
  #   forwardedFor: true

tls:
  # EST server certificate followed by its chain, and its private key (PEM).
  certificate: tls/server.pem
  key: tls/server-key.pem

database:
  # Embedded SQLite (WAL), the default for one machine.
  type: sqlite
  path: estuary.db
  # PostgreSQL, for several Estuary instances sharing one database (env ESTUARY_DATABASE_URL
  # overrides the URL and selects it). The password goes in the URL, in a file or in an
  # environment variable; it is never logged.
  # type: postgres
  # url: postgres://estuary@db.example.net:5432/estuary
  # passwordFile: secrets/db.password     # or passwordEnv: ESTUARY_DB_PASSWORD
  # poolSize: 10                          # connections per instance
  # statementTimeoutSeconds: 10           # a query running longer fails (503 to the client)

# CA connectors, by id. Profiles name the connector that issues for them.
cas:
  default:
    type: local                    # the built-in CA: a key under this directory
    certificate: ca/issuing.pem    # issuing CA certificate
    key: ca/issuing-key.pem        # its private key (mode 0600)
    chain: [ca/root.pem]           # up to and including the root
  # An upstream CA reached over EST (RFC 7030): Estuary is the RA in front of it and forwards
  # the requests its profiles admit ("estuary ca add ID --type est ..." writes such an entry;
  # "estuary ca test ID" checks it). Paths are relative to this directory.
  # corp:
  #   type: est
  #   url: https://ca.example.net:8443         # or https://host/.well-known/est/<label>
  #   label: servers                           # optional EST label at the upstream
  #   trustAnchors: [upstream/root.pem]        # or bootstrapFingerprint: <SHA-256 of an upstream CA cert>
  #   auth:                                    # basic, certificate + key, or both
  #     basic: { user: ra@example.net, passwordFile: upstream/ra.password }   # or passwordEnv: NAME
  #     certificate: upstream/ra.pem           # RA certificate (id-kp-cmcRA) and its chain
  #     key: upstream/ra-key.pem               # its private key (mode 0600)
  #   reenroll: enroll                         # or forward (simplereenroll upstream)
  #   serverKeygen: forward                    # or local (the RA generates the key)
  #   timeoutSeconds: 30
  #   maxConnections: 8                        # kept-alive TLS connections to the upstream
  #   refreshMinutes: 60                       # how often /cacerts and /csrattrs are fetched again
  #   retryAfterSeconds: 30                    # Retry-After for clients while the upstream is down

# Certificate revocation lists, one per CA, served over plain HTTP at /crl/<ca>.crl.
crl:
  listen: 127.0.0.1:8080           # "off" disables; env ESTUARY_CRL_LISTEN=host:port overrides
  # Base URL relying parties use; when set, issued certificates carry <publicUrl>/<ca>.crl
  # as their CRL distribution point.
  # publicUrl: http://pki.example.com/crl
  validityHours: 24                # nextUpdate; a CRL is re-signed after half of it, and on every revocation
  omitExpired: false               # true: leave out certificates expired for longer than validityHours
  # Delta CRLs at /crl/<ca>-delta.crl, valid this many hours; with them the complete CRL is
  # re-signed on its schedule only and carries freshestCRL <publicUrl>/<ca>-delta.crl.
  # deltaValidityHours: 1

# OCSP responder (RFC 6960) on the CRL listener: /ocsp/<ca>, GET and POST.
ocsp:
  # Base URL relying parties use; when set, issued certificates carry <publicUrl>/<ca> in
  # their Authority Information Access extension.
  # publicUrl: http://pki.example.com/ocsp
  signer: delegated                # delegated: an OCSP signing certificate the CA issues at startup; ca: the CA key
  validityMinutes: 60              # nextUpdate of responses

# The Web RA: the operators' browser interface and its JSON API (OpenAPI at /api/openapi.json),
# on its own HTTPS listener with the TLS certificate above. Sign in with an admin, officer or
# auditor account ("estuary account add EMAIL --role officer"); EST accounts only with self-service.
admin:
  listen: 127.0.0.1:8444           # "off" disables; env ESTUARY_ADMIN_LISTEN=host:port overrides
  sessionIdleMinutes: 30           # a session ends after this long without a request
  sessionAbsoluteHours: 12         # and this long after sign-in, whatever happens
  # clientCertificateCa: operators-ca.pem   # also sign in with a client certificate issued under this CA bundle (its email = the account)

# The operations listener, plain HTTP for load balancers and Prometheus (keep it on a private
# address): GET /healthz (200 while the process runs), /readyz (200, or 503 with a JSON body naming
# the store or CA connector that is not ready) and /metrics (Prometheus text format).
ops:
  listen: 127.0.0.1:9090           # "off" disables; env ESTUARY_OPS_LISTEN=host:port overrides

# A CA or TLS private key file readable by group or others: refuse (stop with the chmod to
# run) or warn (log it and start).
keyFilePermissions: refuse

log:
  # fatal, error, warn, info, debug, trace or silent. Logs never hold passwords or keys.
  level: info

# Resource bounds of the listeners.
limits:
  requestTimeoutSeconds: 30        # a request's headers and body must arrive within this (else 408)
  handshakeTimeoutSeconds: 10      # a connection that has not finished TLS by then is closed
  maxConnectionsPerClient: 64      # open connections per client address on each listener (EST, CRL/OCSP, Web RA); 0: no cap
  drainSeconds: 10                 # on SIGTERM, in-flight requests get this long; then connections are closed
`;

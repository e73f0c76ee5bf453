/**
 * The renew agent's configuration (`estuary client renew --config FILE`): YAML, validated against
 * RenewConfigSchema (renew-config-schema.ts) with errors that name the field; relative paths are relative to the configuration file's directory.
 *
 *   retry:                       # backoff after a failed attempt (exponential, with jitter)
 *     initialSeconds: 30         # default 30
 *     maxSeconds: 3600           # default 3600
 *     jitter: full               # full (default) | decorrelated
 *   entries:
 *     - name: web                # unique; letters, digits, . _ -
 *       server: https://est.example.com:8443
 *       label: servers           # optional: /.well-known/est/servers/...
 *       trust: { ca: ca.pem }    # explicit trust anchors (PEM); or { implicit: true } for the system store
 *       auth:
 *         useCertificate: true   # reenroll authenticates with the current certificate (default true)
 *         user: web01            # HTTP Basic, the password from passwordFile (never inline)
 *         passwordFile: web.pass
 *         clientCert: boot.pem   # another TLS client certificate (e.g. for a fresh enroll) and its key
 *         clientKey: boot-key.pem
 *       cert: /etc/ssl/web.pem   # the certificate kept alive (replaced atomically, mode 0644)
 *       key: /etc/ssl/web.key    # its private key (PKCS#8 PEM, mode 0600)
 *       chain: /etc/ssl/web-chain.pem   # optional: the CA chain, written on each renewal
 *       renewAt: 66%             # % of the lifetime elapsed, or a duration before expiry: 30d, 12h, 15m, 90s
 *                                # (default: two thirds of the lifetime)
 *       rekey: false             # a new key on each renewal (default false: same key, RFC 7030 §4.2.2)
 *       keyType: ec-p256         # key type for rekey and fresh enrollments (default: that of the current key)
 *       keyPasswordFile: key.pass      # the key file is (to be) encrypted with this passphrase
 *       postRenew: systemctl reload nginx   # run with sh -c after the files are replaced
 *       postRenewTimeoutSeconds: 300    # default 300
 *       maxWaitSeconds: 300      # how long to wait on 202 + Retry-After (default 300)
 *       enrollIfExpired: false   # an expired (or missing) certificate is enrolled afresh (/simpleenroll)
 *                                # with auth.user or auth.clientCert (default false)
 *       subject: CN=web01.example.com   # names of the fresh enrollment (default: those of the current certificate)
 *       dns: [web01.example.com]
 *       ip: []
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import type { Static } from '@sinclair/typebox';
import { parse } from 'yaml';
import { checkSchema, SchemaError } from '../schema/check.js';
import type { ClientKeyType } from './keys.js';
import { RENEW_ENTRY_NAME_PATTERN, RenewConfigSchema, RenewEntrySchema } from './renew-config-schema.js';
import { DEFAULT_RENEW_AT, parseRenewAt, type BackoffPolicy, type RenewAt } from './renew-schedule.js';

export interface RenewEntry {
  name: string;
  server: string;
  label: string | undefined;
  /** Absolute path of the explicit trust anchors, or the system store. */
  trust: { kind: 'explicit'; caFile: string } | { kind: 'implicit' };
  auth: {
    user: string | undefined;
    passwordFile: string | undefined;
    /** Reenroll with the current certificate and key as the TLS client certificate. */
    useCertificate: boolean;
    clientCert: string | undefined;
    clientKey: string | undefined;
  };
  cert: string;
  key: string;
  chain: string | undefined;
  renewAt: RenewAt;
  rekey: boolean;
  keyType: ClientKeyType | undefined;
  keyPasswordFile: string | undefined;
  postRenew: string | undefined;
  postRenewTimeoutSeconds: number;
  maxWaitSeconds: number;
  enrollIfExpired: boolean;
  subject: string | undefined;
  sans: { dns: string[]; ip: string[]; email: string[]; uri: string[] } | undefined;
}

export interface RenewConfig {
  /** The configuration file's directory: relative paths were resolved against it; postRenew runs in it. */
  baseDir: string;
  retry: Required<BackoffPolicy>;
  entries: RenewEntry[];
}

export class RenewConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RenewConfigError';
  }
}

type Obj = Record<string, unknown>;
type CheckedEntry = Static<typeof RenewEntrySchema>;
type Checked = Static<typeof RenewConfigSchema>;

const isMapping = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A setting written without a value (`rekey:`) is left out; a section without one (`auth:`) is not. */
function withoutNulls(v: Obj, keep: readonly string[]): Obj {
  return Object.fromEntries(Object.entries(v).filter(([k, x]) => x !== null || keep.includes(k)));
}

function prepare(doc: Obj): Obj {
  const out = { ...doc };
  if (Array.isArray(doc.entries)) out.entries = doc.entries.map((e) => (isMapping(e) ? withoutNulls(e, ['trust', 'auth']) : e));
  if (isMapping(doc.retry)) out.retry = withoutNulls(doc.retry, []);
  return out;
}

/**
 * The schema's error, with an entry named as `entries[0] (web)` once its name is known (not for
 * its name itself, nor for an unknown setting: those are read before the name).
 */
function schemaError(err: SchemaError, doc: Obj): RenewConfigError {
  const m = /^entries\[(\d+)\](.*)$/.exec(err.field);
  if (!m) return new RenewConfigError(err.message);
  const raw = (doc.entries as unknown[])[Number(m[1])];
  const name = isMapping(raw) ? raw.name : undefined;
  const unknownSetting = / unknown setting /.test(err.message) && !m[2]!.slice(1).includes('.');
  if (m[2] === '.name' || unknownSetting || typeof name !== 'string' || !new RegExp(RENEW_ENTRY_NAME_PATTERN).test(name)) return new RenewConfigError(err.message);
  return new RenewConfigError(err.message.replace(`entries[${m[1]}]`, `entries[${m[1]}] (${name})`));
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : typeof v === 'string' ? [v] : v);

function entry(e: CheckedEntry, path: string, file: (p: string) => string): RenewEntry {
  const name = e.name;
  const at = `${path} (${name})`;

  const server = e.server;
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new RenewConfigError(`${at}.server: not a URL: "${server}"`);
  }
  if (url.protocol !== 'https:') throw new RenewConfigError(`${at}.server: EST runs over HTTPS (RFC 7030 §3.3): expected an https:// URL, got "${server}"`);
  const label = e.label;
  if (label !== undefined && !/^[A-Za-z0-9._~-]+$/.test(label)) throw new RenewConfigError(`${at}.label: one path segment (letters, digits, . _ ~ -), got "${label}"`);

  const caFile = e.trust.ca;
  const implicit = e.trust.implicit ?? false;
  if ((caFile === undefined) === !implicit) throw new RenewConfigError(`${at}.trust: give exactly one of ca: FILE (explicit trust anchors) or implicit: true (the system store)`);
  const trust: RenewEntry['trust'] = caFile !== undefined ? { kind: 'explicit', caFile: file(caFile) } : { kind: 'implicit' };

  const { user, passwordFile, clientCert, clientKey, useCertificate } = e.auth;
  if ((user === undefined) !== (passwordFile === undefined)) throw new RenewConfigError(`${at}.auth: user and passwordFile go together (the password is never written in the configuration)`);
  if ((clientCert === undefined) !== (clientKey === undefined)) throw new RenewConfigError(`${at}.auth: clientCert and clientKey go together`);
  if (!useCertificate && user === undefined && clientCert === undefined) {
    throw new RenewConfigError(`${at}.auth: no credential for reenroll: keep useCertificate, or give user/passwordFile or clientCert/clientKey`);
  }

  let renewAt = DEFAULT_RENEW_AT;
  if (e.renewAt !== undefined) {
    try {
      renewAt = parseRenewAt(e.renewAt);
    } catch (err) {
      throw new RenewConfigError(`${at}.renewAt: ${(err as Error).message}`);
    }
  }

  if (e.enrollIfExpired && user === undefined && clientCert === undefined) {
    throw new RenewConfigError(`${at}.enrollIfExpired: a fresh enrollment cannot use the expired certificate: give auth.user/passwordFile or auth.clientCert/clientKey`);
  }
  const names = { dns: list(e.dns), ip: list(e.ip), email: list(e.email), uri: list(e.uri) };
  const hasNames = Object.values(names).some((l) => l.length > 0);

  const cert = file(e.cert);
  const key = file(e.key);
  if (cert === key) throw new RenewConfigError(`${at}: cert and key must be different files`);

  return {
    name,
    server: server.replace(/\/+$/, ''),
    label,
    trust,
    auth: {
      user,
      passwordFile: passwordFile === undefined ? undefined : file(passwordFile),
      useCertificate,
      clientCert: clientCert === undefined ? undefined : file(clientCert),
      clientKey: clientKey === undefined ? undefined : file(clientKey),
    },
    cert,
    key,
    chain: e.chain === undefined ? undefined : file(e.chain),
    renewAt,
    rekey: e.rekey,
    keyType: e.keyType,
    keyPasswordFile: e.keyPasswordFile === undefined ? undefined : file(e.keyPasswordFile),
    postRenew: e.postRenew,
    postRenewTimeoutSeconds: e.postRenewTimeoutSeconds,
    maxWaitSeconds: e.maxWaitSeconds,
    enrollIfExpired: e.enrollIfExpired,
    subject: e.subject,
    sans: hasNames ? names : undefined,
  };
}

/** Validate a parsed YAML document (against RenewConfigSchema); relative paths are resolved against baseDir. */
export function validateRenewConfig(doc: unknown, baseDir: string): RenewConfig {
  if (!isMapping(doc)) throw new RenewConfigError('the configuration must be a YAML mapping with "entries"');
  let c: Checked;
  try {
    c = checkSchema<Checked>(RenewConfigSchema, prepare(doc));
  } catch (err) {
    if (err instanceof SchemaError) throw schemaError(err, doc);
    throw err;
  }
  const file = (p: string): string => (isAbsolute(p) ? p : resolvePath(baseDir, p));

  const { initialSeconds, maxSeconds, jitter } = c.retry;
  if (maxSeconds < initialSeconds) throw new RenewConfigError(`retry.maxSeconds: must not be less than retry.initialSeconds (${initialSeconds})`);

  if (c.entries === undefined) throw new RenewConfigError('entries: expected a list of at least one certificate to keep renewed');
  const entries = c.entries.map((raw, i) => entry(raw, `entries[${i}]`, file));
  const seen = new Map<string, string>();
  for (const [i, e] of entries.entries()) {
    for (const [what, value] of [['name', e.name], ['cert', e.cert], ['key', e.key]] as const) {
      const k = `${what}:${value}`;
      if (seen.has(k)) throw new RenewConfigError(`entries[${i}].${what}: "${value}" is already used by ${seen.get(k)}`);
      seen.set(k, `entries[${i}] (${e.name})`);
    }
  }
  return { baseDir, retry: { initialSeconds, maxSeconds, jitter }, entries };
}

/** Parse YAML text of a configuration file. */
export function parseRenewConfig(text: string, baseDir: string, source = 'the configuration'): RenewConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new RenewConfigError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  try {
    return validateRenewConfig(doc, baseDir);
  } catch (err) {
    if (err instanceof RenewConfigError) throw new RenewConfigError(`${source}: ${err.message}`);
    throw err;
  }
}

/** Read and validate a configuration file; relative paths are relative to its directory. */
export function loadRenewConfig(file: string): RenewConfig {
  const abs = resolvePath(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new RenewConfigError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseRenewConfig(text, dirname(abs), file);
}

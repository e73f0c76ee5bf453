/**
 * The renew agent's configuration (`estuary client renew --config FILE`): YAML, validated with
 * errors that name the field; relative paths are relative to the configuration file's directory.
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
import { parse } from 'yaml';
import { CLIENT_KEY_TYPES, isClientKeyType, type ClientKeyType } from './keys.js';
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

function mapping(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RenewConfigError(`${path}: expected a mapping`);
  return v as Obj;
}

function onlyKeys(obj: Obj, keys: readonly string[], path: string): void {
  for (const k of Object.keys(obj)) {
    if (!keys.includes(k)) throw new RenewConfigError(`${path ? path + '.' : ''}${k}: unknown setting (allowed: ${keys.join(', ')})`);
  }
}

function optStr(obj: Obj, key: string, path: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new RenewConfigError(`${path}.${key}: expected a non-empty string`);
  return v;
}

function str(obj: Obj, key: string, path: string): string {
  const v = optStr(obj, key, path);
  if (v === undefined) throw new RenewConfigError(`${path}.${key}: required`);
  return v;
}

function bool(obj: Obj, key: string, path: string, fallback: boolean): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new RenewConfigError(`${path}.${key}: expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

function seconds(obj: Obj, key: string, path: string, fallback: number, min = 0): number {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new RenewConfigError(`${path}.${key}: expected a number of seconds ≥ ${min}, got ${JSON.stringify(v)}`);
  return v;
}

function strList(obj: Obj, key: string, path: string): string[] {
  const v = obj[key];
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string' || x.trim() === '')) throw new RenewConfigError(`${path}.${key}: expected a list of strings`);
  return list as string[];
}

function entry(raw: unknown, path: string, file: (p: string) => string): RenewEntry {
  const e = mapping(raw, path);
  onlyKeys(e, ['name', 'server', 'label', 'trust', 'auth', 'cert', 'key', 'chain', 'renewAt', 'rekey', 'keyType', 'keyPasswordFile',
    'postRenew', 'postRenewTimeoutSeconds', 'maxWaitSeconds', 'enrollIfExpired', 'subject', 'dns', 'ip', 'email', 'uri'], path);
  const name = str(e, 'name', path);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new RenewConfigError(`${path}.name: letters, digits, ".", "_" and "-" only (at most 64), got "${name}"`);
  const at = `${path} (${name})`;

  const server = str(e, 'server', at);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new RenewConfigError(`${at}.server: not a URL: "${server}"`);
  }
  if (url.protocol !== 'https:') throw new RenewConfigError(`${at}.server: EST runs over HTTPS (RFC 7030 §3.3): expected an https:// URL, got "${server}"`);
  const label = optStr(e, 'label', at);
  if (label !== undefined && !/^[A-Za-z0-9._~-]+$/.test(label)) throw new RenewConfigError(`${at}.label: one path segment (letters, digits, . _ ~ -), got "${label}"`);

  if (e.trust === undefined) throw new RenewConfigError(`${at}.trust: required: { ca: FILE } (explicit trust anchors) or { implicit: true }`);
  const t = mapping(e.trust, `${at}.trust`);
  onlyKeys(t, ['ca', 'implicit'], `${at}.trust`);
  const caFile = optStr(t, 'ca', `${at}.trust`);
  const implicit = bool(t, 'implicit', `${at}.trust`, false);
  if ((caFile === undefined) === !implicit) throw new RenewConfigError(`${at}.trust: give exactly one of ca: FILE (explicit trust anchors) or implicit: true (the system store)`);
  const trust: RenewEntry['trust'] = caFile !== undefined ? { kind: 'explicit', caFile: file(caFile) } : { kind: 'implicit' };

  const a = e.auth === undefined ? {} : mapping(e.auth, `${at}.auth`);
  onlyKeys(a, ['user', 'passwordFile', 'useCertificate', 'clientCert', 'clientKey'], `${at}.auth`);
  const user = optStr(a, 'user', `${at}.auth`);
  const passwordFile = optStr(a, 'passwordFile', `${at}.auth`);
  if ((user === undefined) !== (passwordFile === undefined)) throw new RenewConfigError(`${at}.auth: user and passwordFile go together (the password is never written in the configuration)`);
  const clientCert = optStr(a, 'clientCert', `${at}.auth`);
  const clientKey = optStr(a, 'clientKey', `${at}.auth`);
  if ((clientCert === undefined) !== (clientKey === undefined)) throw new RenewConfigError(`${at}.auth: clientCert and clientKey go together`);
  const useCertificate = bool(a, 'useCertificate', `${at}.auth`, true);
  if (!useCertificate && user === undefined && clientCert === undefined) {
    throw new RenewConfigError(`${at}.auth: no credential for reenroll: keep useCertificate, or give user/passwordFile or clientCert/clientKey`);
  }

  const renewAtText = e.renewAt;
  let renewAt = DEFAULT_RENEW_AT;
  if (renewAtText !== undefined && renewAtText !== null) {
    if (typeof renewAtText !== 'string') throw new RenewConfigError(`${at}.renewAt: expected a string such as "66%" or "30d", got ${JSON.stringify(renewAtText)}`);
    try {
      renewAt = parseRenewAt(renewAtText);
    } catch (err) {
      throw new RenewConfigError(`${at}.renewAt: ${(err as Error).message}`);
    }
  }

  const keyType = optStr(e, 'keyType', at);
  if (keyType !== undefined && !isClientKeyType(keyType)) throw new RenewConfigError(`${at}.keyType: expected one of ${CLIENT_KEY_TYPES.join(', ')}, got "${keyType}"`);

  const enrollIfExpired = bool(e, 'enrollIfExpired', at, false);
  if (enrollIfExpired && user === undefined && clientCert === undefined) {
    throw new RenewConfigError(`${at}.enrollIfExpired: a fresh enrollment cannot use the expired certificate: give auth.user/passwordFile or auth.clientCert/clientKey`);
  }
  const subject = optStr(e, 'subject', at);
  const names = { dns: strList(e, 'dns', at), ip: strList(e, 'ip', at), email: strList(e, 'email', at), uri: strList(e, 'uri', at) };
  const hasNames = Object.values(names).some((l) => l.length > 0);

  const cert = file(str(e, 'cert', at));
  const key = file(str(e, 'key', at));
  const chain = optStr(e, 'chain', at);
  const keyPasswordFile = optStr(e, 'keyPasswordFile', at);
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
    chain: chain === undefined ? undefined : file(chain),
    renewAt,
    rekey: bool(e, 'rekey', at, false),
    keyType: keyType as ClientKeyType | undefined,
    keyPasswordFile: keyPasswordFile === undefined ? undefined : file(keyPasswordFile),
    postRenew: optStr(e, 'postRenew', at),
    postRenewTimeoutSeconds: seconds(e, 'postRenewTimeoutSeconds', at, 300, 1),
    maxWaitSeconds: seconds(e, 'maxWaitSeconds', at, 300),
    enrollIfExpired,
    subject,
    sans: hasNames ? names : undefined,
  };
}

/** Validate a parsed YAML document; relative paths are resolved against baseDir. */
export function validateRenewConfig(doc: unknown, baseDir: string): RenewConfig {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new RenewConfigError('the configuration must be a YAML mapping with "entries"');
  const root = doc as Obj;
  onlyKeys(root, ['entries', 'retry'], '');
  const file = (p: string): string => (isAbsolute(p) ? p : resolvePath(baseDir, p));

  const r = root.retry === undefined ? {} : mapping(root.retry, 'retry');
  onlyKeys(r, ['initialSeconds', 'maxSeconds', 'jitter'], 'retry');
  const initialSeconds = seconds(r, 'initialSeconds', 'retry', 30, 1);
  const maxSeconds = seconds(r, 'maxSeconds', 'retry', 3600, 1);
  if (maxSeconds < initialSeconds) throw new RenewConfigError(`retry.maxSeconds: must not be less than retry.initialSeconds (${initialSeconds})`);
  const jitter = optStr(r, 'jitter', 'retry') ?? 'full';
  if (jitter !== 'full' && jitter !== 'decorrelated') throw new RenewConfigError(`retry.jitter: expected full or decorrelated, got "${jitter}"`);

  if (!Array.isArray(root.entries) || root.entries.length === 0) throw new RenewConfigError('entries: expected a list of at least one certificate to keep renewed');
  const entries = root.entries.map((raw, i) => entry(raw, `entries[${i}]`, file));
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

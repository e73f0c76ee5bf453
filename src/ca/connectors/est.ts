/**
 * The `est` connector type: an upstream CA reached over EST (src/ca/upstream-ca.ts), with the RA
 * authenticating by HTTP Basic, by its RA certificate (id-kp-cmcRA, RFC 7030 §3.7), or both.
 *
 *   cas:
 *     corp:
 *       type: est
 *       url: https://ca.example.net:8443          # or …/.well-known/est/<label>
 *       label: servers                            # optional
 *       trustAnchors: [upstream/root.pem]         # or bootstrapFingerprint: <SHA-256 of an upstream CA certificate>
 *       auth:
 *         basic: { user: ra@example.net, passwordFile: upstream/ra.password }   # or passwordEnv: NAME
 *         certificate: upstream/ra.pem            # the RA certificate (and its chain)
 *         key: upstream/ra.key
 *       reenroll: enroll                          # or forward (simplereenroll upstream)
 *       serverKeygen: forward                     # or local (the RA makes the key)
 *       timeoutSeconds: 30
 *       maxConnections: 8
 *       refreshMinutes: 60
 *       retryAfterSeconds: 30
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { normalizeFingerprint } from '../../client/trust.js';
import { pemBlocks, toPem } from '../../pki/base64.js';
import { createUpstreamCa } from '../upstream-ca.js';
import { ConnectorConfigError, filePaths, onlyKeys, readSecret, requiredString, type Settings } from './config-fields.js';
import type { ConnectorType } from './connector-type.js';

export interface EstCaConfig {
  type: 'est';
  url: string;
  label: string | undefined;
  /** PEM files whose certificates are trusted for the upstream's TLS server certificate. */
  trustAnchors: string[];
  /** Or: the SHA-256 fingerprint of one of the upstream's CA certificates (RFC 7030 §4.1.1 bootstrap). */
  bootstrapFingerprint: string | undefined;
  auth: EstAuthConfig;
  reenroll: 'forward' | 'enroll';
  serverKeygen: 'forward' | 'local';
  timeoutSeconds: number;
  maxConnections: number;
  refreshMinutes: number;
  retryAfterSeconds: number;
  /** Where the last good /cacerts of the upstream is kept (under the data directory). */
  cacheFile: string;
}

/** How the RA authenticates to the upstream CA. */
export interface EstAuthConfig {
  basic: { user: string; passwordFile: string | undefined; passwordEnv: string | undefined } | undefined;
  /** The RA certificate (PEM, with its chain) and its key, for TLS client authentication. */
  certificate: string | undefined;
  key: string | undefined;
}

const KEYS = ['type', 'url', 'label', 'trustAnchors', 'bootstrapFingerprint', 'auth', 'reenroll', 'serverKeygen', 'timeoutSeconds', 'maxConnections', 'refreshMinutes', 'retryAfterSeconds'];

function optionalString(obj: Settings, key: string, path: string): string | undefined {
  return obj[key] === undefined ? undefined : requiredString(obj, key, path);
}

function integer(obj: Settings, key: string, path: string, min: number, max: number, fallback: number): number {
  const v = obj[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConnectorConfigError(`${path}.${key}: expected a whole number from ${min} to ${max}`);
  return v;
}

function oneOf<T extends string>(obj: Settings, key: string, path: string, values: readonly T[], fallback: T): T {
  const v = obj[key] ?? fallback;
  if (typeof v !== 'string' || !values.includes(v as T)) throw new ConnectorConfigError(`${path}.${key}: expected one of ${values.join(', ')}`);
  return v as T;
}

function parseUrl(text: string, path: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConnectorConfigError(`${path}.url: "${text}" is not a URL (expected https://host[:port])`);
  }
  // RFC 7030 §3.3: EST runs over HTTPS only.
  if (url.protocol !== 'https:') throw new ConnectorConfigError(`${path}.url: the upstream EST server must be https:// (got ${url.protocol}//)`);
  if (url.search || url.hash || url.username || url.password) throw new ConnectorConfigError(`${path}.url: no query, fragment or credentials in the URL (credentials go under auth)`);
  return text;
}

export function parseEstAuth(raw: unknown, path: string, resolve: (file: string) => string): EstAuthConfig {
  if (raw === undefined) throw new ConnectorConfigError(`${path}.auth: how the RA authenticates to the upstream CA is required (basic, certificate + key, or both)`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConnectorConfigError(`${path}.auth: expected a mapping`);
  const auth = raw as Settings;
  onlyKeys(auth, ['basic', 'certificate', 'key'], `${path}.auth`);
  let basic: EstAuthConfig['basic'];
  if (auth.basic !== undefined) {
    if (typeof auth.basic !== 'object' || auth.basic === null) throw new ConnectorConfigError(`${path}.auth.basic: expected a mapping with user and passwordFile or passwordEnv`);
    const b = auth.basic as Settings;
    const at = `${path}.auth.basic`;
    onlyKeys(b, ['user', 'passwordFile', 'passwordEnv'], at);
    const passwordFile = optionalString(b, 'passwordFile', at);
    const passwordEnv = optionalString(b, 'passwordEnv', at);
    // never in the YAML itself
    if ((passwordFile === undefined) === (passwordEnv === undefined)) throw new ConnectorConfigError(`${at}: give exactly one of passwordFile and passwordEnv`);
    basic = { user: requiredString(b, 'user', at), passwordFile: passwordFile === undefined ? undefined : resolve(passwordFile), passwordEnv };
  }
  const certificate = optionalString(auth, 'certificate', `${path}.auth`);
  const key = optionalString(auth, 'key', `${path}.auth`);
  if ((certificate === undefined) !== (key === undefined)) throw new ConnectorConfigError(`${path}.auth: certificate and key go together (the RA certificate and its private key)`);
  if (!basic && !certificate) throw new ConnectorConfigError(`${path}.auth: give basic, certificate + key, or both`);
  return { basic, certificate: certificate === undefined ? undefined : resolve(certificate), key: key === undefined ? undefined : resolve(key) };
}

function readPassword(c: EstCaConfig, id: string, env: NodeJS.ProcessEnv): string | undefined {
  const b = c.auth.basic;
  if (!b) return undefined;
  const at = `cas.${id}.auth.basic`;
  return readSecret({ file: b.passwordFile, env: b.passwordEnv }, `${at}.passwordFile`, `${at}.passwordEnv`, env);
}

function readPem(file: string, setting: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConnectorConfigError(`${setting}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

export const estConnector: ConnectorType<EstCaConfig> = {
  type: 'est',
  parseConfig(settings, path, resolve) {
    onlyKeys(settings, KEYS, path);
    const trustAnchors = filePaths(settings, 'trustAnchors', path).map(resolve);
    const fingerprint = optionalString(settings, 'bootstrapFingerprint', path);
    if ((trustAnchors.length > 0) === (fingerprint !== undefined)) {
      throw new ConnectorConfigError(`${path}: give either trustAnchors (files with the upstream's CA certificates) or bootstrapFingerprint, to trust the upstream's TLS server certificate`);
    }
    if (fingerprint !== undefined) {
      try {
        normalizeFingerprint(fingerprint);
      } catch (err) {
        throw new ConnectorConfigError(`${path}.bootstrapFingerprint: ${(err as Error).message}`);
      }
    }
    const id = path.replace(/^cas\./, '');
    return {
      type: 'est',
      url: parseUrl(requiredString(settings, 'url', path), path),
      label: optionalString(settings, 'label', path),
      trustAnchors,
      bootstrapFingerprint: fingerprint,
      auth: parseEstAuth(settings.auth, path, resolve),
      reenroll: oneOf(settings, 'reenroll', path, ['enroll', 'forward'], 'enroll'),
      serverKeygen: oneOf(settings, 'serverKeygen', path, ['forward', 'local'], 'forward'),
      timeoutSeconds: integer(settings, 'timeoutSeconds', path, 1, 600, 30),
      maxConnections: integer(settings, 'maxConnections', path, 1, 256, 8),
      refreshMinutes: integer(settings, 'refreshMinutes', path, 1, 7 * 24 * 60, 60),
      retryAfterSeconds: integer(settings, 'retryAfterSeconds', path, 1, 86_400, 30),
      cacheFile: resolve(`ca/${id}.upstream-cacerts.pem`),
    };
  },
  keyFiles: ({ auth }) => [...(auth.key ? [auth.key] : []), ...(auth.basic?.passwordFile ? [auth.basic.passwordFile] : [])],
  open(id, config, context) {
    const anchors = config.trustAnchors.flatMap((f) => pemBlocks(readPem(f, `cas.${id}.trustAnchors`)));
    if (config.bootstrapFingerprint === undefined && anchors.length === 0) throw new ConnectorConfigError(`cas.${id}.trustAnchors: no certificate found in ${config.trustAnchors.join(', ')}`);
    const password = readPassword(config, id, context.env ?? process.env);
    return createUpstreamCa({
      id,
      url: config.url,
      label: config.label,
      trust: config.bootstrapFingerprint !== undefined ? { kind: 'bootstrap', fingerprintSha256: config.bootstrapFingerprint } : { kind: 'explicit', anchors },
      basic: config.auth.basic ? { user: config.auth.basic.user, password: password! } : undefined,
      clientCert: config.auth.certificate && config.auth.key
        ? { certPem: readPem(config.auth.certificate, `cas.${id}.auth.certificate`), keyPem: readPem(config.auth.key, `cas.${id}.auth.key`) }
        : undefined,
      reenroll: config.reenroll,
      serverKeygen: config.serverKeygen,
      timeoutSeconds: config.timeoutSeconds,
      maxConnections: config.maxConnections,
      refreshMinutes: config.refreshMinutes,
      retryAfterSeconds: config.retryAfterSeconds,
      cache: {
        read: () => (existsSync(config.cacheFile) ? pemBlocks(readFileSync(config.cacheFile, 'utf8')) : undefined),
        write(certs) {
          try {
            mkdirSync(dirname(config.cacheFile), { recursive: true });
            writeFileSync(config.cacheFile, certs.map((c) => toPem('CERTIFICATE', c)).join(''));
          } catch (err) {
            context.logger?.warn({ ca: id, file: config.cacheFile, err }, 'could not keep a copy of the upstream CA certificates');
          }
        },
      },
    }, { now: context.now, logger: context.logger });
  },
  admin: {
    label: 'Upstream EST CA',
    profileSetsCertificateContent: false,
    publishesCrls: false,
  },
};

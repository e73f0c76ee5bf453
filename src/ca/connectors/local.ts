/**
 * The `local` connector type: the built-in CA, signing through a Signer chosen here: a software key
 * under the data directory, or a key in a PKCS#11 token (`key: pkcs11:token=...;object=...`, with
 * the module and the PIN under `pkcs11:`; the PIN comes from a file or an environment variable).
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pemBlocks } from '../../pki/base64.js';
import { certificateFields } from '../../pki/certificate.js';
import { createLocalCa } from '../local-ca.js';
import { openPkcs11Signer, Pkcs11SetupError } from '../signers/pkcs11-signer.js';
import { isPkcs11Uri, parsePkcs11Uri, Pkcs11UriError } from '../signers/pkcs11-uri.js';
import type { Signer } from '../signers/signer.js';
import { softwareSigner } from '../signers/software-signer.js';
import { ConnectorConfigError, filePaths, onlyKeys, readSecret, requiredString, type Settings } from './config-fields.js';
import type { ConnectorContext, ConnectorType } from './connector-type.js';

/** Where a token-held key is reached. */
export interface Pkcs11KeyConfig {
  module: string;
  pinFile: string | undefined;
  pinEnv: string | undefined;
  /** Sessions on the token: signatures that run at once. */
  sessions: number;
  /** RSA keys: PKCS#1 v1.5 or RSASSA-PSS signatures. */
  rsaSignature: 'pkcs1' | 'pss';
}

export interface LocalCaConfig {
  type: 'local';
  /** Issuing CA certificate (PEM; the first certificate is used). */
  certificate: string;
  /** Its private key: a PEM file, or a PKCS#11 URI (RFC 7512). */
  key: string;
  /** Set when key is a PKCS#11 URI. */
  pkcs11?: Pkcs11KeyConfig | undefined;
  /** Further certificates up to and including the root (PEM files). */
  chain: string[];
  /** RFC 7030 §4.1.3 rollover: the CA's earlier keys (oldest first) with their certificates. */
  previous?: PreviousKeyConfig[];
  /** The current key issues from this moment (ISO 8601); before it, the newest previous key does. */
  activateAt?: Date | undefined;
  /** Link certificates served on /cacerts (NewWithNew, OldWithNew, NewWithOld), PEM files. */
  links?: string[];
}

/** An earlier key of a CA rolled over: it verifies its certificates and signs its own CRL. */
export interface PreviousKeyConfig {
  certificate: string;
  key: string;
  pkcs11?: Pkcs11KeyConfig | undefined;
}

function readChain(files: readonly string[]): Buffer[] {
  return files.flatMap((f) => pemBlocks(readFileSync(f, 'utf8')));
}

function parsePkcs11(raw: unknown, path: string, resolve: (file: string) => string): Pkcs11KeyConfig {
  const at = `${path}.pkcs11`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConnectorConfigError(`${at}: a key in a token needs module and pinFile or pinEnv here`);
  const s = raw as Settings;
  onlyKeys(s, ['module', 'pinFile', 'pinEnv', 'sessions', 'rsaSignature'], at);
  const pinFile = s.pinFile === undefined ? undefined : resolve(requiredString(s, 'pinFile', at));
  const pinEnv = s.pinEnv === undefined ? undefined : requiredString(s, 'pinEnv', at);
  // never the PIN itself in the YAML
  if ((pinFile === undefined) === (pinEnv === undefined)) throw new ConnectorConfigError(`${at}: give exactly one of pinFile and pinEnv`);
  const sessions = s.sessions ?? 2;
  if (typeof sessions !== 'number' || !Number.isInteger(sessions) || sessions < 1 || sessions > 64) throw new ConnectorConfigError(`${at}.sessions: expected a whole number from 1 to 64`);
  const rsaSignature = s.rsaSignature ?? 'pkcs1';
  if (rsaSignature !== 'pkcs1' && rsaSignature !== 'pss') throw new ConnectorConfigError(`${at}.rsaSignature: expected pkcs1 or pss`);
  return { module: requiredString(s, 'module', at), pinFile, pinEnv, sessions, rsaSignature };
}

function readPin(c: Pkcs11KeyConfig, at: string, env: NodeJS.ProcessEnv): string {
  return readSecret({ file: c.pinFile, env: c.pinEnv }, `${at}.pinFile`, `${at}.pinEnv`, env);
}

function tokenSigner(id: string, config: LocalCaConfig & { pkcs11: Pkcs11KeyConfig }, issuing: Buffer, context: Pick<ConnectorContext, 'env'>): Signer {
  try {
    return openPkcs11Signer({
      modulePath: config.pkcs11.module, uri: parsePkcs11Uri(config.key), pin: readPin(config.pkcs11, `cas.${id}.pkcs11`, context.env ?? process.env),
      publicKey: certificateFields(issuing).spki, rsaScheme: config.pkcs11.rsaSignature, sessions: config.pkcs11.sessions, setting: `cas.${id}.key`,
    });
  } catch (err) {
    // one line at startup, naming the setting, the token and the object
    if (err instanceof Pkcs11SetupError) throw new ConnectorConfigError(err.message);
    if (err instanceof Pkcs11UriError) throw new ConnectorConfigError(`cas.${id}.key: ${err.message}`);
    throw err;
  }
}

/** The signer of a built-in CA as configured (its software key, or its key in a token); checks the key is the certificate's. */
export function openLocalSigner(id: string, config: LocalCaConfig, certificate: Buffer, context: Pick<ConnectorContext, 'native' | 'env'>): Signer {
  if (config.pkcs11) return tokenSigner(id, { ...config, pkcs11: config.pkcs11 }, certificate, context);
  return softwareSigner(createPrivateKey(readFileSync(config.key)), context.native);
}

/** The certificates of a built-in CA as configured: its own first, then its chain. */
export function localChain(config: LocalCaConfig): Buffer[] {
  return [...readChain([config.certificate]).slice(0, 1), ...readChain(config.chain)];
}

/** A certificate and its key (a file or a PKCS#11 URI with `pkcs11:`), as `cas.<id>` and each `previous` entry hold them. */
function parseKeyPair(settings: Settings, path: string, resolve: (file: string) => string): PreviousKeyConfig {
  const key = requiredString(settings, 'key', path);
    const inToken = isPkcs11Uri(key);
    if (inToken) {
      try {
        parsePkcs11Uri(key);
      } catch (err) {
        throw new ConnectorConfigError(`${path}.key: ${(err as Error).message}`);
      }
    } else if (settings.pkcs11 !== undefined) {
      throw new ConnectorConfigError(`${path}.pkcs11: only for a key given as a PKCS#11 URI (pkcs11:token=...;object=...)`);
    }
    return { certificate: resolve(requiredString(settings, 'certificate', path)), key: inToken ? key : resolve(key), pkcs11: inToken ? parsePkcs11(settings.pkcs11, path, resolve) : undefined };
}

// the PIN file of a token is as secret as a key file
const secretFiles = (k: PreviousKeyConfig): string[] => (k.pkcs11 ? (k.pkcs11.pinFile ? [k.pkcs11.pinFile] : []) : [k.key]);

export const localConnector: ConnectorType<LocalCaConfig> = {
  type: 'local',
  parseConfig(settings, path, resolve) {
    onlyKeys(settings, ['type', 'certificate', 'key', 'chain', 'pkcs11', 'previous', 'activateAt', 'links'], path);
    const chain = filePaths(settings, 'chain', path);
    const own = parseKeyPair(settings, path, resolve);
    const rawPrevious = settings.previous ?? [];
    if (!Array.isArray(rawPrevious) || rawPrevious.some((p) => typeof p !== 'object' || p === null || Array.isArray(p))) {
      throw new ConnectorConfigError(`${path}.previous: expected a list of {certificate, key} (the CA's earlier keys, oldest first)`);
    }
    const previous = (rawPrevious as Settings[]).map((p, i) => {
      onlyKeys(p, ['certificate', 'key', 'pkcs11'], `${path}.previous[${i}]`);
      return parseKeyPair(p, `${path}.previous[${i}]`, resolve);
    });
    let activateAt: Date | undefined;
    if (settings.activateAt !== undefined) {
      const raw = settings.activateAt instanceof Date ? settings.activateAt.toISOString() : settings.activateAt;
      activateAt = typeof raw === 'string' ? new Date(raw) : undefined;
      if (!activateAt || Number.isNaN(activateAt.getTime())) throw new ConnectorConfigError(`${path}.activateAt: expected an ISO 8601 date and time (e.g. 2027-01-01T00:00:00Z)`);
      if (previous.length === 0) throw new ConnectorConfigError(`${path}.activateAt: only for a CA with previous keys (after estuary ca rollover)`);
    }
    return {
      type: 'local', certificate: own.certificate, key: own.key, pkcs11: own.pkcs11, chain: chain.map(resolve),
      ...(previous.length > 0 ? { previous } : {}), ...(activateAt ? { activateAt } : {}),
      ...(settings.links !== undefined ? { links: filePaths(settings, 'links', path).map(resolve) } : {}),
    };
  },
  keyFiles: (config) => [...secretFiles(config), ...(config.previous ?? []).flatMap(secretFiles)],
  open(id, config, context) {
    const chain = localChain(config);
    // a token, or the native P-256/P-384 fast path when the composition root hands in the loaded addon, else node:crypto
    const signer = openLocalSigner(id, config, chain[0]!, context);
    const previous = (config.previous ?? []).map((p, i) => {
      const certificate = readChain([p.certificate])[0]!;
      return { signer: openLocalSigner(`${id}.previous[${i}]`, { ...config, ...p }, certificate, context), certificate };
    });
    const crlUrl = context.crlPublicUrl ? `${context.crlPublicUrl}/${id}.crl` : undefined;
    const ocspUrl = context.ocsp?.publicUrl ? `${context.ocsp.publicUrl}/${id}` : undefined;
    return createLocalCa({
      id, signer, softwareSigner: (k) => softwareSigner(k, context.native), chain,
      ...(previous.length > 0 ? { previous } : {}), ...(config.activateAt ? { activateAt: config.activateAt } : {}),
      ...(config.links ? { links: readChain(config.links) } : {}),
      ...(context.crlPublicUrl ? { crlUrlOf: (n: number) => `${context.crlPublicUrl}/${id}.g${n}.crl` } : {}),
      now: context.now, random: randomBytes, ...(crlUrl ? { crlUrl } : {}), ...(ocspUrl ? { ocspUrl } : {}),
      ...(context.ocsp ? { ocspSigner: context.ocsp.signer } : {}),
    });
  },
  admin: {
    label: 'Built-in CA',
    profileSetsCertificateContent: true,
    publishesCrls: true,
  },
};

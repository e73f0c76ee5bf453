/**
 * `estuary ca add`: the command-line flags of a CA connector turned into its `cas.<id>` settings,
 * with the files they name checked first (they exist, hold what they should, keys match their
 * certificates), so that a connector written to estuary.yaml also opens when the server starts.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { keyFileExposure } from '../ca/ca-setup.js';
import { CONNECTOR_TYPE_NAMES } from '../ca/registry.js';
import { normalizeFingerprint } from '../client/trust.js';
import { pemBlocks } from '../pki/base64.js';
import type { Config } from './config.js';
import { CONFIG_CA_ID_PATTERN } from './config-schema.js';
import { CliError } from './context.js';

export interface CaAddFlags {
  type: string;
  url?: string;
  label?: string;
  trustAnchor: string[];
  bootstrapFingerprint?: string;
  basicUser?: string;
  passwordFile?: string;
  passwordEnv?: string;
  raCert?: string;
  raKey?: string;
  reenroll?: string;
  serverKeygen?: string;
  timeout?: string;
  maxConnections?: string;
  refreshMinutes?: string;
  retryAfter?: string;
  certificate?: string;
  key?: string;
  chain: string[];
  force?: boolean;
}

/** Flags that belong to one connector type only, by the type's name. */
const TYPE_FLAGS: Record<string, Array<[keyof CaAddFlags, string]>> = {
  est: [['url', '--url'], ['label', '--label'], ['trustAnchor', '--trust-anchor'], ['bootstrapFingerprint', '--bootstrap-fingerprint'],
    ['basicUser', '--basic-user'], ['passwordFile', '--password-file'], ['passwordEnv', '--password-env'], ['raCert', '--ra-cert'], ['raKey', '--ra-key'],
    ['reenroll', '--reenroll'], ['serverKeygen', '--server-keygen'], ['timeout', '--timeout'], ['maxConnections', '--max-connections'],
    ['refreshMinutes', '--refresh-minutes'], ['retryAfter', '--retry-after']],
  local: [['certificate', '--certificate'], ['key', '--key'], ['chain', '--chain']],
};

/** A CA id as estuary.yaml accepts it (config-schema.ts). */
export const CA_ID = new RegExp(CONFIG_CA_ID_PATTERN);

/** Files named on the command line: stored as given, read relative to the data directory. */
export class HomeFiles {
  constructor(readonly home: string) {}

  path(file: string): string {
    return isAbsolute(file) ? file : join(this.home, file);
  }

  /** The file's path for messages: as given, and where that is when it is relative. */
  shown(file: string): string {
    return isAbsolute(file) ? file : `${file} (in ${this.home})`;
  }

  read(flag: string, file: string): Buffer {
    const at = this.path(file);
    if (!existsSync(at)) throw new CliError(`${flag}: ${this.shown(file)} does not exist (relative paths are relative to the data directory)`);
    if (!statSync(at).isFile()) throw new CliError(`${flag}: ${this.shown(file)} is not a file`);
    try {
      return readFileSync(at);
    } catch (err) {
      throw new CliError(`${flag}: cannot read ${this.shown(file)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }

  certificates(flag: string, file: string): X509Certificate[] {
    const blocks = pemBlocks(this.read(flag, file).toString('utf8'));
    if (blocks.length === 0) throw new CliError(`${flag}: ${this.shown(file)} holds no PEM certificate`);
    return blocks.map((der, i) => {
      try {
        return new X509Certificate(der);
      } catch (err) {
        throw new CliError(`${flag}: certificate ${i + 1} in ${this.shown(file)} is not a valid X.509 certificate (${(err as Error).message})`);
      }
    });
  }

  privateKey(flag: string, file: string): KeyObject {
    try {
      return createPrivateKey(this.read(flag, file));
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`${flag}: ${this.shown(file)} is not a PEM private key (${(err as Error).message})`);
    }
  }
}

function whole(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim())) throw new CliError(`${flag}: expected a whole number, got "${text}"`);
  return Number(text.trim());
}

function samePublicKey(key: KeyObject, cert: X509Certificate): boolean {
  const a = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return a.equals(cert.publicKey.export({ type: 'spki', format: 'der' }));
}

function given(flags: CaAddFlags, key: keyof CaAddFlags): boolean {
  const v = flags[key];
  return Array.isArray(v) ? v.length > 0 : v !== undefined;
}

/** A private key (or password) file readable by others stops the server: say so now. */
function checkSecretFile(files: HomeFiles, config: Config, flag: string, file: string, warnings: string[]): void {
  const found = keyFileExposure(files.path(file));
  if (!found) return;
  const exposure = flag === '--password-file' ? found.replace(/^private key file /, 'password file ') : found;
  if (config.keyFilePermissions === 'refuse') throw new CliError(`${flag}: ${exposure}; the server would refuse to start (keyFilePermissions: refuse)`);
  warnings.push(`${flag}: ${exposure}`);
}

function estSettings(flags: CaAddFlags, files: HomeFiles, config: Config, warnings: string[]): Record<string, unknown> {
  if (!flags.url) throw new CliError('--url: the upstream EST server\'s URL is required with --type est (https://host[:port][/.well-known/est/<label>])');
  const anchors = flags.trustAnchor;
  if ((anchors.length > 0) === (flags.bootstrapFingerprint !== undefined)) {
    throw new CliError('give either --trust-anchor FILE (the upstream\'s CA certificates, repeatable) or --bootstrap-fingerprint SHA256, to trust the upstream\'s TLS server certificate');
  }
  for (const file of anchors) files.certificates('--trust-anchor', file);
  if (flags.bootstrapFingerprint !== undefined) {
    try {
      normalizeFingerprint(flags.bootstrapFingerprint);
    } catch (err) {
      throw new CliError(`--bootstrap-fingerprint: ${(err as Error).message}`);
    }
  }
  let basic: Record<string, string> | undefined;
  if (flags.basicUser !== undefined) {
    if ((flags.passwordFile === undefined) === (flags.passwordEnv === undefined)) {
      throw new CliError('--basic-user needs exactly one of --password-file FILE and --password-env NAME (a password is never written into estuary.yaml)');
    }
    if (flags.passwordFile !== undefined) {
      if (files.read('--password-file', flags.passwordFile).toString('utf8').replace(/\r?\n$/, '') === '') throw new CliError(`--password-file: ${files.shown(flags.passwordFile)} is empty`);
      checkSecretFile(files, config, '--password-file', flags.passwordFile, warnings);
      basic = { user: flags.basicUser, passwordFile: flags.passwordFile };
    } else {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(flags.passwordEnv!)) throw new CliError(`--password-env: "${flags.passwordEnv}" is not an environment variable name`);
      if (!process.env[flags.passwordEnv!]) warnings.push(`--password-env: ${flags.passwordEnv} is not set here; the server reads it when it starts`);
      basic = { user: flags.basicUser, passwordEnv: flags.passwordEnv! };
    }
  } else if (flags.passwordFile !== undefined || flags.passwordEnv !== undefined) {
    throw new CliError('--password-file and --password-env go with --basic-user EMAIL');
  }
  if ((flags.raCert === undefined) !== (flags.raKey === undefined)) throw new CliError('--ra-cert and --ra-key go together (the RA certificate and its private key)');
  if (flags.raCert !== undefined) {
    const [cert] = files.certificates('--ra-cert', flags.raCert);
    const key = files.privateKey('--ra-key', flags.raKey!);
    if (!samePublicKey(key, cert!)) throw new CliError(`--ra-key: ${files.shown(flags.raKey!)} is not the key of the certificate in ${files.shown(flags.raCert)}`);
    checkSecretFile(files, config, '--ra-key', flags.raKey!, warnings);
  }
  if (!basic && flags.raCert === undefined) {
    throw new CliError('how the RA authenticates to the upstream CA is required: --basic-user EMAIL with --password-file/--password-env, --ra-cert FILE --ra-key FILE, or both');
  }
  const settings: Record<string, unknown> = {
    type: 'est',
    url: flags.url,
    ...(flags.label !== undefined ? { label: flags.label } : {}),
    ...(anchors.length > 0 ? { trustAnchors: anchors } : { bootstrapFingerprint: flags.bootstrapFingerprint }),
    auth: { ...(basic ? { basic } : {}), ...(flags.raCert !== undefined ? { certificate: flags.raCert, key: flags.raKey } : {}) },
  };
  const optional: Array<[string, unknown]> = [
    ['reenroll', flags.reenroll], ['serverKeygen', flags.serverKeygen],
    ['timeoutSeconds', whole('--timeout', flags.timeout)], ['maxConnections', whole('--max-connections', flags.maxConnections)],
    ['refreshMinutes', whole('--refresh-minutes', flags.refreshMinutes)], ['retryAfterSeconds', whole('--retry-after', flags.retryAfter)],
  ];
  for (const [k, v] of optional) if (v !== undefined) settings[k] = v;
  return settings;
}

function localSettings(flags: CaAddFlags, files: HomeFiles, config: Config, warnings: string[]): Record<string, unknown> {
  if (flags.certificate === undefined || flags.key === undefined) throw new CliError('--type local needs --certificate FILE (the issuing CA certificate) and --key FILE (its private key)');
  const [cert] = files.certificates('--certificate', flags.certificate);
  if (!cert!.ca) throw new CliError(`--certificate: ${files.shown(flags.certificate)} is not a CA certificate (basicConstraints cA is not set)`);
  const key = files.privateKey('--key', flags.key);
  if (!samePublicKey(key, cert!)) throw new CliError(`--key: ${files.shown(flags.key)} is not the key of the certificate in ${files.shown(flags.certificate)}`);
  checkSecretFile(files, config, '--key', flags.key, warnings);
  for (const file of flags.chain) files.certificates('--chain', file);
  return { type: 'local', certificate: flags.certificate, key: flags.key, ...(flags.chain.length > 0 ? { chain: flags.chain } : {}) };
}

/** The `cas.<id>` settings the flags describe; CliError naming the flag when they do not hold together. */
export function connectorSettings(id: string, flags: CaAddFlags, config: Config, warnings: string[]): Record<string, unknown> {
  if (!CA_ID.test(id)) throw new CliError(`"${id}" is not a CA id: letters, digits, _ and - only (at most 64)`);
  if (!CONNECTOR_TYPE_NAMES.includes(flags.type)) throw new CliError(`--type: "${flags.type}" is not a CA connector type (known: ${CONNECTOR_TYPE_NAMES.join(', ')})`);
  const existing = config.cas[id];
  if (existing && !flags.force) throw new CliError(`cas.${id} already exists (type ${existing.type}); --force replaces it`);
  for (const [type, list] of Object.entries(TYPE_FLAGS)) {
    if (type === flags.type) continue;
    const stray = list.find(([k]) => given(flags, k));
    if (stray) throw new CliError(`${stray[1]} applies to --type ${type}, not --type ${flags.type}`);
  }
  const files = new HomeFiles(config.home);
  switch (flags.type) {
    case 'est':
      return estSettings(flags, files, config, warnings);
    case 'local':
      return localSettings(flags, files, config, warnings);
    default:
      throw new CliError(`--type ${flags.type}: "estuary ca add" cannot write this type; edit cas.${id} in estuary.yaml`);
  }
}

/** `estuary init`: a complete, working data directory on the embedded defaults. */
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signCaCertificate } from '../ca/ca-certificate.js';
import { createCaHierarchy, createTlsServerCertificate, generateKey, type KeyAlgorithm, type KeyAndCert } from '../ca/ca-setup.js';
import { generateTokenKey } from '../ca/signers/pkcs11-keygen.js';
import { openPkcs11Signer } from '../ca/signers/pkcs11-signer.js';
import { parsePkcs11Uri } from '../ca/signers/pkcs11-uri.js';
import { encodeName } from '../pki/names.js';
import { toPem } from '../pki/base64.js';
import { defaultProfile } from '../ra/default-profile.js';
import { generatePassword, hashPassword } from '../ra/password.js';
import { describeDatabase } from '../store/database-config.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { localCaConfig } from '../ca/registry.js';
import { CONFIG_FILE, DEFAULT_CONFIG_YAML, estBaseUrl, loadConfig, type Config } from './config.js';
import { cliActor } from './cli-actor.js';

export interface InitOptions {
  home: string;
  force: boolean;
  algorithm: KeyAlgorithm;
  now?: Date;
  /** Keep the root key out of the home: written to this directory (removable media, an offline machine). */
  offlineRoot?: string;
  /** Or: generate the root key inside a PKCS#11 token (it never leaves it; the server never loads it). */
  rootToken?: { uri: string; module: string; pin: string };
  /** Names of the TLS server certificate (DNS names and IP addresses); default localhost, 127.0.0.1, ::1. */
  hosts?: readonly string[];
  /** The CAs are "<caName> Root CA" and "<caName> Issuing CA" (default Estuary). */
  caName?: string;
  /** The rest of every subject after the CN (default "O=Estuary"), e.g. "O=Example Corp, C=DE". */
  subject?: string;
  /**
   * A PostgreSQL database (postgres://…) instead of the embedded SQLite file: written to estuary.yaml
   * (which is then 0600 if the URL holds a password) and given the accounts and profile. It must
   * hold no Estuary accounts yet: further instances copy the first one's home instead.
   */
  databaseUrl?: string;
  /**
   * The environment the server will run with: the EST URL printed is the one it will listen on
   * (ESTUARY_EST_LISTEN and the rest override estuary.yaml). Default: none.
   */
  env?: NodeJS.ProcessEnv;
}

/** The configuration as `serve` will see it with `env`; the file's own when env holds a setting that does not parse (serve will say so). */
function shownConfig(home: string, env: NodeJS.ProcessEnv, fallback: Config): Config {
  try {
    return loadConfig(home, env);
  } catch {
    return fallback;
  }
}

/** The default estuary.yaml with its database section set to PostgreSQL at `url`. */
export function postgresConfigYaml(url: string): string {
  const sqlite = '  type: sqlite\n  path: estuary.db\n';
  if (!DEFAULT_CONFIG_YAML.includes(sqlite)) throw new Error('the default estuary.yaml has no SQLite database section to replace');
  return DEFAULT_CONFIG_YAML.replace(sqlite, `  type: postgres\n  url: ${JSON.stringify(url)}\n`);
}

export interface InitSummary {
  estUrl: string;
  /** Where the root CA key was written (the running server never loads it). */
  rootKeyFile: string;
  rootFingerprintSha256: string;
  estAccount: { email: string; password: string };
  adminAccount: { email: string; password: string };
}

export class InitRefusedError extends Error {}

const SECRET = 0o600;

function writeFile(path: string, content: string, mode = 0o644): void {
  writeFileSync(path, content, { mode });
  chmodSync(path, mode); // the umask must not widen or narrow what we asked for
}

export function keyPem(key: import('node:crypto').KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export function fingerprintSha256(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

/** A root whose key is generated in a token (20 years) and a software issuing CA under it (10 years, pathLen 0). */
async function tokenRootHierarchy(t: NonNullable<InitOptions['rootToken']>, algorithm: KeyAlgorithm, names: { rootName: string; issuingName: string }, now: Date): Promise<{ root: { der: Buffer }; issuing: KeyAndCert }> {
  const uri = parsePkcs11Uri(t.uri);
  const rootSpki = generateTokenKey({ modulePath: t.module, uri, pin: t.pin, algorithm, setting: '--root-pkcs11' });
  const signer = openPkcs11Signer({ modulePath: t.module, uri, pin: t.pin, publicKey: rootSpki, setting: '--root-pkcs11' });
  try {
    const year = 365 * 86_400_000;
    const notBefore = new Date(now.getTime() - 3600_000);
    const rootSubject = encodeName(names.rootName);
    const rootDer = await signCaCertificate({ subject: rootSubject, spki: rootSpki, signer, pathLen: undefined, notBefore, notAfter: new Date(now.getTime() + 20 * year), random: randomBytes });
    const key = generateKey(algorithm);
    const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    const der = await signCaCertificate({ subject: encodeName(names.issuingName), spki, issuer: { subject: rootSubject, spki: rootSpki }, signer, pathLen: 0, notBefore, notAfter: new Date(now.getTime() + 10 * year), random: randomBytes });
    return { root: { der: rootDer }, issuing: { key, der } };
  } finally {
    signer.close();
  }
}

export async function initHome(o: InitOptions): Promise<InitSummary> {
  const now = o.now ?? new Date();
  if (existsSync(join(o.home, CONFIG_FILE)) || (existsSync(o.home) && readdirSync(o.home).length > 0)) {
    if (!o.force) throw new InitRefusedError(`${o.home} already holds an Estuary home; use --force to replace it (this destroys its CA keys and database)`);
    rmSync(o.home, { recursive: true, force: true });
  }
  mkdirSync(join(o.home, 'ca'), { recursive: true, mode: 0o700 });
  mkdirSync(join(o.home, 'tls'), { recursive: true, mode: 0o700 });
  chmodSync(o.home, 0o700);

  if (o.databaseUrl) writeFile(join(o.home, CONFIG_FILE), postgresConfigYaml(o.databaseUrl), new URL(o.databaseUrl).password ? SECRET : undefined);
  else writeFile(join(o.home, CONFIG_FILE), DEFAULT_CONFIG_YAML);
  let config: Config;
  let store: Store;
  try {
    config = loadConfig(o.home, {});
    // The database first: a PostgreSQL one that cannot be reached or is already in use stops init before any key is made.
    store = await openStore(config.database);
  } catch (err) {
    rmSync(o.home, { recursive: true, force: true }); // no half-made home
    throw err;
  }
  if ((await store.listAccounts()).length > 0) {
    await store.close();
    rmSync(o.home, { recursive: true, force: true });
    throw new InitRefusedError(`the database ${describeDatabase(config.database)} already holds Estuary accounts: start further instances with a copy of the first instance's home instead of a new one`);
  }
  try {
    const caConfig = localCaConfig(config.cas.default, 'default');

    const names = {
      rootName: `CN=${o.caName ?? 'Estuary'} Root CA, ${o.subject ?? 'O=Estuary'}`,
      issuingName: `CN=${o.caName ?? 'Estuary'} Issuing CA, ${o.subject ?? 'O=Estuary'}`,
    };
    let root: { der: Buffer };
    let issuing: KeyAndCert;
    let rootKeyFile: string;
    if (o.rootToken) {
      try {
        ({ root, issuing } = await tokenRootHierarchy(o.rootToken, o.algorithm, names, now));
      } catch (err) {
        rmSync(o.home, { recursive: true, force: true }); // no half-made home
        throw err;
      }
      rootKeyFile = o.rootToken.uri;
    } else {
      const made = createCaHierarchy({ algorithm: o.algorithm, ...names, now, random: randomBytes });
      ({ root, issuing } = made);
      // the server loads only the issuing CA's key; the root key signs new issuing CAs (estuary ca create, or offline with openssl)
      rootKeyFile = join(o.offlineRoot ?? join(o.home, 'ca'), 'root-key.pem');
      if (o.offlineRoot) {
        mkdirSync(o.offlineRoot, { recursive: true, mode: 0o700 });
        if (existsSync(rootKeyFile)) throw new InitRefusedError(`${rootKeyFile} exists already; choose an empty directory for the offline root key`);
      }
      writeFile(rootKeyFile, keyPem(made.root.key), SECRET);
    }
    writeFile(join(o.home, 'ca', 'root.pem'), toPem('CERTIFICATE', root.der));
    writeFile(caConfig.certificate, toPem('CERTIFICATE', issuing.der));
    writeFile(caConfig.key, keyPem(issuing.key), SECRET);

    const hosts = o.hosts && o.hosts.length > 0 ? o.hosts : ['localhost', '127.0.0.1', '::1'];
    const tls = createTlsServerCertificate({ issuer: issuing, hosts, algorithm: 'ec-p256', days: 397, now, random: randomBytes, ...(o.subject ? { organization: o.subject } : {}) });
    writeFile(config.tls.certificate, toPem('CERTIFICATE', tls.der) + toPem('CERTIFICATE', issuing.der));
    writeFile(config.tls.key, keyPem(tls.key), SECRET);

    const estAccount = { email: 'est@estuary.local', password: generatePassword() };
    const adminAccount = { email: 'admin@estuary.local', password: generatePassword() };
    await store.createAccount({ email: estAccount.email, passwordHash: await hashPassword(estAccount.password), role: 'est' });
    await store.createAccount({ email: adminAccount.email, passwordHash: await hashPassword(adminAccount.password), role: 'admin' });
    await store.createProfile(defaultProfile(config.est.defaultProfile, 'default'));
    await store.appendAudit({ actor: cliActor(), action: 'init', profile: null, outcome: 'success', serial: null, detail: `home ${o.home}` });
    return { estUrl: estBaseUrl(shownConfig(o.home, o.env ?? {}, config)), rootKeyFile, rootFingerprintSha256: fingerprintSha256(root.der), estAccount, adminAccount };
  } finally {
    await store.close();
  }
}

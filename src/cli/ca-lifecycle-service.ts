/**
 * The Web RA's CA lifecycle (src/admin/ca-lifecycle.ts) over the same tools as `estuary ca create|import`:
 * createCa / importCa (src/ca/ca-create.ts), setCaConnector (estuary.yaml, comments kept) and the
 * running server's CA reload, so a new CA is usable as soon as the answer comes.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { CA_ID_PATTERN, type CaCreated, type CaLifecycle, type KeyLocation, type NewCaRequest, type PendingCa } from '../admin/ca-lifecycle.js';
import { CaCreateError, createCa, importCa, type NewIssuer, type NewKey } from '../ca/ca-create.js';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../ca/ca-setup.js';
import { ConnectorConfigError } from '../ca/connectors/config-fields.js';
import { localCaConfig } from '../ca/registry.js';
import { clearOpenSslErrors } from '../ca/signers/openssl-errors.js';
import { Pkcs11SetupError } from '../ca/signers/pkcs11-signer.js';
import { Pkcs11UriError } from '../ca/signers/pkcs11-uri.js';
import { pemBlocks, toPem } from '../pki/base64.js';
import { certificateFields } from '../pki/certificate.js';
import { children, readTop, slice } from '../pki/der.js';
import { RaError } from '../ra/errors.js';
import { setCaConnector } from './config-edit.js';
import { ConfigError, loadConfig, type Config } from './config.js';

export interface CaLifecycleOptions {
  home: string;
  env: NodeJS.ProcessEnv;
  /** Read estuary.yaml again; resolves to the ids opened, reopened or closed (runtime.reloadCas). */
  reload(): Promise<string[]>;
  /** Whether a connector of this id is in service now. */
  inService(id: string): boolean;
  now: () => Date;
}

/** The CLI's option names in ca-create.ts messages, as the API's fields. */
const FIELD_NAMES: Array<[RegExp, string]> = [
  [/--subject\b/g, 'subject'], [/--certificate\b/g, 'certificate'], [/--pkcs11\b/g, 'pkcs11.uri'],
  [/--pin-file\b/g, 'pkcs11.pinFile'], [/--pin-env\b/g, 'pkcs11.pinEnv'], [/--parent\b/g, 'issuer.parent'],
  [/"estuary ca create ([^"]*)--csr FILE"/g, 'a CA create with issuer csr'],
];
const apiWords = (message: string): string => FIELD_NAMES.reduce((m, [re, to]) => m.replace(re, to), message);

const bad = (message: string): RaError => new RaError('bad-request', apiWords(message));

/** Errors the caller can fix become 400 with their message; anything else stays a server error. */
async function fixable<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    // a token call that failed may have left OpenSSL errors that would fail the next TLS read (openssl-errors.ts)
    clearOpenSslErrors();
    if (err instanceof CaCreateError || err instanceof Pkcs11SetupError || err instanceof Pkcs11UriError || err instanceof ConfigError || err instanceof ConnectorConfigError) {
      throw bad(err.message);
    }
    throw err;
  }
}

/** A file named in a request must stay under the home (the Web RA names no other file of the server). */
function underHome(file: string, field: string): string {
  if (isAbsolute(file) || file.split(/[\\/]/).includes('..')) throw bad(`${field}: a path relative to the data directory, without ".."`);
  return file;
}

const oneLine = (name: string): string => name.replace(/\n/g, ', ');

/** RFC 2986 §4.1: CertificationRequestInfo ::= SEQUENCE { version, subject, subjectPKInfo, attributes }; the SPKI as it is encoded. */
function csrSpki(der: Buffer): Buffer {
  const [info] = children(der, readTop(der));
  return slice(der, children(der, info!)[2]!);
}

export function caLifecycleService(o: CaLifecycleOptions): CaLifecycle {
  const caDir = join(o.home, 'ca');
  // One change at a time: the checks (id free, nothing pending) hold until the files are written.
  let queue: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };
  const rel = (file: string): string => (file.startsWith(o.home) ? relative(o.home, file) : file);
  const config = (): Config => {
    try {
      return loadConfig(o.home, o.env);
    } catch (err) {
      if (err instanceof ConfigError) throw bad(err.message);
      throw err;
    }
  };

  /** The reload after cas.<id> was written; a connector that does not open is a misconfiguration (the log says why). */
  async function openConnector(id: string): Promise<void> {
    // A reload already running may have read estuary.yaml before this change; the next one reads it.
    for (let attempt = 0; attempt < 2 && !o.inService(id); attempt++) await o.reload();
    if (!o.inService(id)) throw new RaError('misconfigured', `cas.${id} was added to estuary.yaml but could not be opened; the server log says why`);
  }

  function pendingOf(id: string): PendingCa | undefined {
    const file = join(caDir, `${id}.pending.json`);
    let p: { subject: string; key: { file: string } | { uri: string } };
    try {
      p = JSON.parse(readFileSync(file, 'utf8')) as typeof p;
    } catch {
      return undefined;
    }
    const csrFile = join(caDir, `${id}.csr.pem`);
    return {
      id, subject: p.subject,
      keyLocation: 'uri' in p.key ? { kind: 'pkcs11', uri: p.key.uri } : { kind: 'file', path: p.key.file },
      csrPem: existsSync(csrFile) ? readFileSync(csrFile, 'utf8') : null,
    };
  }

  async function create(r: NewCaRequest): Promise<CaCreated> {
    if (!new RegExp(CA_ID_PATTERN).test(r.id)) throw bad(`id: "${r.id}" is not a CA id (letters, digits, - and _)`);
    if (!(KEY_ALGORITHMS as readonly string[]).includes(r.keyAlgorithm)) throw bad(`keyAlgorithm: expected one of ${KEY_ALGORITHMS.join(', ')}`);
    const current = config();
    if (current.cas[r.id]) throw bad(`id: cas.${r.id} exists already`);
    if (existsSync(join(caDir, `${r.id}.pending.json`))) throw bad(`id: a CA "${r.id}" is waiting for its certificate already`);
    let key: NewKey = { kind: 'file' };
    if (r.pkcs11) {
      const p = r.pkcs11;
      if ((p.pinFile === undefined) === (p.pinEnv === undefined)) throw bad('pkcs11: give exactly one of pinFile and pinEnv');
      if (!isAbsolute(p.module) || !existsSync(p.module)) throw bad(`pkcs11.module: ${p.module} is not an existing file (an absolute path, e.g. /usr/lib/softhsm/libsofthsm2.so)`);
      if (p.pinFile !== undefined && !existsSync(join(o.home, underHome(p.pinFile, 'pkcs11.pinFile')))) throw bad(`pkcs11.pinFile: ${p.pinFile} does not exist under the data directory`);
      key = { kind: 'pkcs11', uri: p.uri, module: p.module, ...(p.pinFile !== undefined ? { pinFile: p.pinFile } : {}), ...(p.pinEnv !== undefined ? { pinEnv: p.pinEnv } : {}) };
    }
    let issuer: NewIssuer;
    if ('parent' in r.issuer) {
      const parentId = r.issuer.parent;
      try {
        issuer = { kind: 'parent', id: parentId, config: localCaConfig(current.cas[parentId], parentId) };
      } catch (err) {
        throw bad(`issuer.parent: ${(err as Error).message}`);
      }
    } else if ('selfSigned' in r.issuer) issuer = { kind: 'self-signed' };
    else issuer = { kind: 'csr', out: join(caDir, `${r.id}.csr.pem`) };

    // What this request writes under ca/ (createCa refuses an id whose files exist), removed again when
    // it fails before estuary.yaml names the CA, so the id can be used again. A key made in a token stays there.
    const written = [`${r.id}-key.pem`, `${r.id}.pem`, `${r.id}.csr.pem`, `${r.id}.pending.json`].map((f) => join(caDir, f)).filter((f) => !existsSync(f));
    let created;
    try {
      created = await fixable(() => createCa({
        home: o.home, id: r.id, subject: r.subject, algorithm: r.keyAlgorithm as KeyAlgorithm, key, issuer,
        validityYears: r.validityYears, pathLen: r.pathLen, now: o.now(), env: o.env,
      }));
      if (created.settings) await fixable(() => setCaConnector(o.home, r.id, created!.settings!));
    } catch (err) {
      for (const f of written) rmSync(f, { force: true });
      throw err;
    }
    if (created.settings) await openConnector(r.id);
    const keyLocation: KeyLocation = key.kind === 'pkcs11' ? { kind: 'pkcs11', uri: key.uri } : { kind: 'file', path: created.keyLocation };
    const how = issuer.kind === 'csr' ? `CSR written to ${rel(created.csrFile!)}` : issuer.kind === 'parent' ? `signed by ${issuer.id}` : 'self-signed';
    return { keyLocation, csrPem: created.csrFile ? readFileSync(created.csrFile, 'utf8') : undefined, how };
  }

  async function importCertificate(id: string, certificatePem: string, chainPems: readonly string[]): Promise<{ subject: string; issuer: string }> {
    if (!new RegExp(CA_ID_PATTERN).test(id)) throw bad(`"${id}" is not a CA id`);
    if (config().cas[id]) throw bad(`cas.${id} exists already`);
    const [der] = pemBlocks(certificatePem);
    if (!der) throw bad('certificate: no PEM certificate found');
    const parse = (bytes: Buffer, field: string): X509Certificate => {
      try {
        return new X509Certificate(bytes);
      } catch (err) {
        throw bad(`${field}: not an X.509 certificate (${(err as Error).message})`);
      }
    };
    const cert = parse(der, 'certificate');
    const chain = chainPems.flatMap((p, i) => {
      const blocks = pemBlocks(p);
      if (blocks.length === 0) throw bad(`chain.${i}: no PEM certificate found`);
      return blocks.map((b) => parse(b, `chain.${i}`));
    });
    // RFC 5280 §6.1: each certificate of the path is signed by the next one
    const path = [cert, ...chain];
    for (let i = 0; i + 1 < path.length; i++) {
      if (!path[i]!.checkIssued(path[i + 1]!) || !path[i]!.verify(path[i + 1]!.publicKey)) {
        throw bad(`${i === 0 ? 'certificate' : `chain.${i - 1}`}: not signed by the next certificate of the chain (${oneLine(path[i + 1]!.subject)})`);
      }
    }
    // The CSR kept here names the key: a certificate for another key is refused before the token is
    // asked (a token asked to sign for a key of another type may fail in its own way).
    const csrPem = pendingOf(id)?.csrPem;
    const [csrDer] = csrPem ? pemBlocks(csrPem, 'CERTIFICATE REQUEST') : [];
    if (csrDer && !csrSpki(csrDer).equals(certificateFields(der).spki)) {
      throw bad(`certificate: it is for another key than the one made for "${id}" (compare its public key with the CSR's)`);
    }
    const chainFile = join(caDir, `${id}-chain.pem`);
    const pendingFile = join(caDir, `${id}.pending.json`);
    const pending = existsSync(pendingFile) ? readFileSync(pendingFile) : undefined;
    const imported = await fixable(() => importCa(o.home, id, certificatePem, chain.length ? [chainFile] : [], o.env));
    try {
      if (chain.length) writeFileSync(chainFile, chain.map((c) => toPem('CERTIFICATE', c.raw)).join(''));
      await fixable(() => setCaConnector(o.home, id, imported.settings));
    } catch (err) {
      // estuary.yaml does not name it: the CA waits for its certificate again
      if (pending) writeFileSync(pendingFile, pending);
      for (const f of [chainFile, join(caDir, `${id}.pem`)]) rmSync(f, { force: true });
      throw err;
    }
    await openConnector(id);
    return { subject: oneLine(cert.subject), issuer: oneLine(cert.issuer) };
  }

  return {
    create: (r) => oneAtATime(() => create(r)),
    importCertificate: (id, certificatePem, chainPems) => oneAtATime(() => importCertificate(id, certificatePem, chainPems)),

    keyLocations() {
      const out = new Map<string, KeyLocation>();
      let cas: Config['cas'];
      try {
        cas = loadConfig(o.home, o.env).cas;
      } catch {
        return out; // the server logs a configuration that does not load
      }
      for (const [id, c] of Object.entries(cas)) {
        if (c.type !== 'local') continue;
        out.set(id, c.pkcs11 ? { kind: 'pkcs11', uri: c.key } : { kind: 'file', path: rel(c.key) });
      }
      return out;
    },

    pending() {
      let files: string[];
      try {
        files = readdirSync(caDir);
      } catch {
        return [];
      }
      return files.filter((f) => f.endsWith('.pending.json')).sort().flatMap((f) => pendingOf(f.slice(0, -'.pending.json'.length)) ?? []);
    },
  };
}

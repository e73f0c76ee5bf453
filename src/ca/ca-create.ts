/**
 * A new built-in CA without hand-made files (`estuary ca create` / `ca import`): the key is made in
 * software under the data directory or inside a PKCS#11 token; the certificate is self-signed (a new
 * root), signed by a CA already configured, or left to an offline or external CA through a CSR
 * (the key location waits in `ca/<id>.pending.json` until `ca import` brings the certificate).
 * The result is a `cas.<id>` entry of type local, which a running server takes up without a restart.
 */
import { createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pemBlocks, toPem } from '../pki/base64.js';
import { certificateFields } from '../pki/certificate.js';
import { bitString, seq, smallInteger, tlvOf } from '../pki/der.js';
import { encodeName } from '../pki/names.js';
import { signCaCertificate } from './ca-certificate.js';
import { generateKey, type KeyAlgorithm } from './ca-setup.js';
import { localChain, openLocalSigner, type LocalCaConfig } from './connectors/local.js';
import { generateTokenKey } from './signers/pkcs11-keygen.js';
import { openPkcs11Signer } from './signers/pkcs11-signer.js';
import { parsePkcs11Uri } from './signers/pkcs11-uri.js';
import type { Signer } from './signers/signer.js';
import { softwareSigner } from './signers/software-signer.js';

export class CaCreateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaCreateError';
  }
}

export type NewKey = { kind: 'file' } | { kind: 'pkcs11'; uri: string; module: string; pinFile?: string; pinEnv?: string };
export type NewIssuer = { kind: 'parent'; id: string; config: LocalCaConfig } | { kind: 'self-signed' } | { kind: 'csr'; out: string };

export interface CreateCaInput {
  home: string;
  id: string;
  /** "CN=..., O=..." */
  subject: string;
  algorithm: KeyAlgorithm;
  key: NewKey;
  issuer: NewIssuer;
  validityYears: number;
  /** basicConstraints pathLenConstraint (default: none for a root, 0 under a parent). */
  pathLen?: number | undefined;
  now: Date;
  env: NodeJS.ProcessEnv;
}

/** What `cas.<id>` gets, with paths relative to the home; undefined when a CSR waits for its certificate. */
export interface CreatedCa {
  settings: Record<string, unknown> | undefined;
  certificate: Buffer | undefined;
  csrFile: string | undefined;
  keyLocation: string;
}

interface Pending {
  subject: string;
  key: { file: string } | { uri: string; module: string; pinFile?: string; pinEnv?: string };
  pathLen: number | undefined;
}

/** A path as estuary.yaml holds it: relative to the home when under it. */
export const rel = (home: string, file: string): string => (file.startsWith(home) ? relative(home, file) : file);

export function pinOf(k: { pinFile?: string; pinEnv?: string }, home: string, env: NodeJS.ProcessEnv): string {
  if (k.pinEnv) {
    const v = env[k.pinEnv];
    if (!v) throw new CaCreateError(`the environment variable ${k.pinEnv} (the token PIN) is not set`);
    return v;
  }
  if (!k.pinFile) throw new CaCreateError('a key in a token needs --pin-file or --pin-env');
  return readFileSync(join(home, k.pinFile), 'utf8').replace(/\r?\n$/, '');
}

function pkcs11Settings(k: { uri: string; module: string; pinFile?: string; pinEnv?: string }): Record<string, unknown> {
  return { module: k.module, ...(k.pinFile ? { pinFile: k.pinFile } : {}), ...(k.pinEnv ? { pinEnv: k.pinEnv } : {}) };
}

/** RFC 2986: a PKCS#10 request for the CA's key, signed by it (for an external or offline CA to sign). */
async function caCsr(subject: Buffer, spki: Buffer, signer: Signer): Promise<Buffer> {
  const info = seq(smallInteger(0), subject, spki, tlvOf(0xa0, []));
  return seq(info, signer.algorithmIdentifier, bitString(await signer.sign(info)));
}

export async function createCa(i: CreateCaInput): Promise<CreatedCa> {
  // the signers opened for this one task (a token's sessions) are released after it
  const opened: Signer[] = [];
  try {
    return await createCaWith(i, opened);
  } finally {
    for (const s of opened) s.close?.();
  }
}

async function createCaWith(i: CreateCaInput, opened: Signer[]): Promise<CreatedCa> {
  const certFile = join(i.home, 'ca', `${i.id}.pem`);
  const keyFile = join(i.home, 'ca', `${i.id}-key.pem`);
  if (existsSync(certFile) || existsSync(keyFile)) throw new CaCreateError(`ca/${i.id}.pem or ca/${i.id}-key.pem exists already: choose another id`);
  let subject: Buffer;
  try {
    subject = encodeName(i.subject);
  } catch (err) {
    throw new CaCreateError(`--subject: ${(err as Error).message}`);
  }

  // 1. the key, and a signer for it
  let spki: Buffer;
  let ownSigner: Signer;
  let keySetting: string;
  let pkcs11: Record<string, unknown> | undefined;
  if (i.key.kind === 'pkcs11') {
    const uri = parsePkcs11Uri(i.key.uri);
    const pin = pinOf(i.key, i.home, i.env);
    spki = generateTokenKey({ modulePath: i.key.module, uri, pin, algorithm: i.algorithm, setting: '--pkcs11' });
    ownSigner = openPkcs11Signer({ modulePath: i.key.module, uri, pin, publicKey: spki, setting: '--pkcs11' });
    opened.push(ownSigner);
    keySetting = i.key.uri;
    pkcs11 = pkcs11Settings(i.key);
  } else {
    const key = generateKey(i.algorithm);
    writeFileSync(keyFile, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    ownSigner = softwareSigner(key);
    keySetting = rel(i.home, keyFile);
  }

  // 2. the certificate, or a CSR for someone else to sign
  const validity = { notBefore: new Date(i.now.getTime() - 3600_000), notAfter: new Date(i.now.getTime() + i.validityYears * 365 * 86_400_000) };
  if (i.issuer.kind === 'csr') {
    const csr = await caCsr(subject, spki, ownSigner);
    writeFileSync(i.issuer.out, toPem('CERTIFICATE REQUEST', csr));
    const pending: Pending = { subject: i.subject, key: i.key.kind === 'pkcs11' ? { uri: i.key.uri, ...pkcs11Settings(i.key) } as Pending['key'] : { file: keySetting }, pathLen: i.pathLen };
    writeFileSync(join(i.home, 'ca', `${i.id}.pending.json`), JSON.stringify(pending, null, 2) + '\n');
    return { settings: undefined, certificate: undefined, csrFile: i.issuer.out, keyLocation: keySetting };
  }
  let der: Buffer;
  let chain: string[];
  if (i.issuer.kind === 'self-signed') {
    der = await signCaCertificate({ subject, spki, signer: ownSigner, pathLen: i.pathLen, ...validity, random: randomBytes });
    chain = [];
  } else {
    const parentChain = localChain(i.issuer.config);
    const parent = parentChain[0]!;
    const parentCert = new X509Certificate(parent);
    if (!parentCert.ca) throw new CaCreateError(`--parent ${i.issuer.id}: its certificate is not a CA certificate`);
    const signer = openLocalSigner(i.issuer.id, i.issuer.config, parent, { env: i.env, native: undefined });
    opened.push(signer);
    const fields = certificateFields(parent);
    // RFC 5280 §4.1.2.5: no longer than the parent
    const notAfter = validity.notAfter > new Date(parentCert.validTo) ? new Date(parentCert.validTo) : validity.notAfter;
    der = await signCaCertificate({ subject, spki, issuer: { subject: fields.subject, spki: fields.spki }, signer, pathLen: i.pathLen ?? 0, notBefore: validity.notBefore, notAfter, random: randomBytes });
    chain = [i.issuer.config.certificate, ...i.issuer.config.chain].map((f) => rel(i.home, f));
  }
  writeFileSync(certFile, toPem('CERTIFICATE', der));
  return { settings: { type: 'local', certificate: rel(i.home, certFile), key: keySetting, chain, ...(pkcs11 ? { pkcs11 } : {}) }, certificate: der, csrFile: undefined, keyLocation: keySetting };
}

/** `ca import`: the certificate an external CA signed for a pending `ca create --csr`; it must be for the pending key. */
export function importCa(home: string, id: string, certificatePem: string, chainFiles: readonly string[], env: NodeJS.ProcessEnv): { settings: Record<string, unknown>; certificate: Buffer } {
  const pendingFile = join(home, 'ca', `${id}.pending.json`);
  if (!existsSync(pendingFile)) throw new CaCreateError(`no CA "${id}" is waiting for its certificate (run "estuary ca create ${id} ... --csr FILE" first)`);
  const pending = JSON.parse(readFileSync(pendingFile, 'utf8')) as Pending;
  const [der] = pemBlocks(certificatePem);
  if (!der) throw new CaCreateError('--certificate: no PEM certificate found');
  const cert = new X509Certificate(der);
  if (!cert.ca) throw new CaCreateError('--certificate: not a CA certificate (basicConstraints cA is not set)');
  const expected = 'file' in pending.key
    ? createPublicKey(readFileSync(join(home, pending.key.file))).export({ type: 'spki', format: 'der' })
    : undefined;
  const spki = certificateFields(der).spki;
  if (expected && !expected.equals(spki)) throw new CaCreateError(`--certificate: it is for another key than the one made for "${id}"`);
  if ('uri' in pending.key) {
    // the token signs once and the signature is checked with the certificate's key
    const signer = openPkcs11Signer({ modulePath: pending.key.module, uri: parsePkcs11Uri(pending.key.uri), pin: pinOf(pending.key, home, env), publicKey: spki, setting: '--certificate' });
    signer.close();
  }
  const certFile = join(home, 'ca', `${id}.pem`);
  writeFileSync(certFile, toPem('CERTIFICATE', der));
  rmSync(pendingFile);
  const key = 'file' in pending.key ? { key: pending.key.file } : { key: pending.key.uri, pkcs11: { module: pending.key.module, ...(pending.key.pinFile ? { pinFile: pending.key.pinFile } : {}), ...(pending.key.pinEnv ? { pinEnv: pending.key.pinEnv } : {}) } };
  return { settings: { type: 'local', certificate: rel(home, certFile), ...key, chain: chainFiles.map((f) => rel(home, f)) }, certificate: der };
}

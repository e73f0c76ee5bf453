/**
 * CA key rollover (RFC 7030 §4.1.3, after the CMP model of RFC 4210 §4.4): `estuary ca rollover <id>`
 * makes a new key for a built-in CA and its certificate (NewWithNew for a root; for a subordinate CA,
 * a certificate from its configured parent), and the two link certificates: OldWithNew (the old
 * public key certified by the new key) and NewWithOld (the new public key certified by the old key),
 * so that a client trusting the old root validates certificates under the new key. The old key becomes
 * `previous`: certificates issued under it stay valid, renewable and revocable, and it keeps signing
 * its own CRL (/crl/<id>.crl for the first key, /crl/<id>.g<n>.crl for key n).
 */
import { createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toPem } from '../pki/base64.js';
import { certificateFields, isSelfSigned, issuedBy } from '../pki/certificate.js';
import { children, readTop, TAG, value } from '../pki/der.js';
import { OID } from '../pki/oids.js';
import { signCaCertificate } from './ca-certificate.js';
import { CaCreateError, pinOf, rel, type NewKey } from './ca-create.js';
import { generateKey, type KeyAlgorithm } from './ca-setup.js';
import { localChain, openLocalSigner, type LocalCaConfig, type Pkcs11KeyConfig, type PreviousKeyConfig } from './connectors/local.js';
import { generateTokenKey } from './signers/pkcs11-keygen.js';
import { openPkcs11Signer } from './signers/pkcs11-signer.js';
import { parsePkcs11Uri } from './signers/pkcs11-uri.js';
import type { Signer } from './signers/signer.js';
import { softwareSigner } from './signers/software-signer.js';

export interface RolloverInput {
  home: string;
  id: string;
  config: LocalCaConfig;
  /** Every configured built-in CA: a subordinate CA's new certificate comes from the one that issued it. */
  cas: Record<string, LocalCaConfig>;
  /** Default: the algorithm of the current key. */
  algorithm?: KeyAlgorithm | undefined;
  /** Where the new key is made (default: where the current one is: a file, or the same token). */
  key?: NewKey | undefined;
  /** When the new key starts issuing (default now). */
  activateAt?: Date | undefined;
  validityYears?: number | undefined;
  now: Date;
  env: NodeJS.ProcessEnv;
}

export interface RolloverResult {
  /** The new `cas.<id>` settings, paths relative to the home. */
  settings: Record<string, unknown>;
  generation: number;
  newCertificate: Buffer;
  oldWithNew: Buffer;
  newWithOld: Buffer;
  keyLocation: string;
}

/** The algorithm of a SubjectPublicKeyInfo, in `estuary init` terms. */
function algorithmOf(spki: Buffer): KeyAlgorithm {
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  if (key.asymmetricKeyType === 'ec') return key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'ec-p384' : 'ec-p256';
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 2048;
    return bits >= 4096 ? 'rsa-4096' : bits >= 3072 ? 'rsa-3072' : 'rsa-2048';
  }
  throw new CaCreateError(`a ${key.asymmetricKeyType} CA key cannot be rolled over here`);
}

/** RFC 5280 §4.2.1.9: pathLenConstraint of a CA certificate, if it has one. */
function pathLenOf(der: Buffer): number | undefined {
  const bc = certificateFields(der).extensions.get(OID.basicConstraints);
  if (!bc) return undefined;
  const parts = children(bc, readTop(bc));
  const n = parts.find((p) => p.tag === TAG.INTEGER);
  return n ? value(bc, n).readUIntBE(0, value(bc, n).length) : undefined;
}

function pkcs11Settings(home: string, p: Pkcs11KeyConfig): Record<string, unknown> {
  return {
    module: p.module, ...(p.pinFile ? { pinFile: rel(home, p.pinFile) } : {}), ...(p.pinEnv ? { pinEnv: p.pinEnv } : {}),
    ...(p.sessions !== 2 ? { sessions: p.sessions } : {}), ...(p.rsaSignature !== 'pkcs1' ? { rsaSignature: p.rsaSignature } : {}),
  };
}

function keySettings(home: string, k: PreviousKeyConfig): Record<string, unknown> {
  return { certificate: rel(home, k.certificate), key: k.pkcs11 ? k.key : rel(home, k.key), ...(k.pkcs11 ? { pkcs11: pkcs11Settings(home, k.pkcs11) } : {}) };
}

/** The next key of a token-held CA: the same token, the object label with `-g<n>` added. */
function nextTokenUri(uri: string, n: number): string {
  const u = uri.replace(/;id=[^;?]*/, '');
  return /object=([^;?]*)/.test(u) ? u.replace(/object=([^;?]*)/, (_m, o: string) => `object=${o}-g${n}`) : `${u};object=ca-g${n}`;
}

export async function rolloverCa(i: RolloverInput): Promise<RolloverResult> {
  // the signers opened for this one task (a token's sessions) are released after it
  const opened: Signer[] = [];
  try {
    return await rolloverWith(i, opened);
  } finally {
    for (const s of opened) s.close?.();
  }
}

async function rolloverWith(i: RolloverInput, opened: Signer[]): Promise<RolloverResult> {
  const oldDer = localChain(i.config)[0]!;
  const oldCert = new X509Certificate(oldDer);
  const old = certificateFields(oldDer);
  const oldSigner = openLocalSigner(i.id, i.config, oldDer, { env: i.env, native: undefined });
  opened.push(oldSigner);
  const n = (i.config.previous?.length ?? 0) + 1;
  const certFile = join(i.home, 'ca', `${i.id}.g${n}.pem`);
  if (existsSync(certFile)) throw new CaCreateError(`ca/${i.id}.g${n}.pem exists already`);
  const algorithm = i.algorithm ?? algorithmOf(old.spki);

  // 1. the new key, where the current one is unless told otherwise
  let spki: Buffer;
  let newSigner: Signer;
  let keySetting: string;
  let pkcs11: Record<string, unknown> | undefined;
  const key: NewKey = i.key ?? (i.config.pkcs11
    ? { kind: 'pkcs11', uri: nextTokenUri(i.config.key, n), module: i.config.pkcs11.module, ...(i.config.pkcs11.pinFile ? { pinFile: rel(i.home, i.config.pkcs11.pinFile) } : {}), ...(i.config.pkcs11.pinEnv ? { pinEnv: i.config.pkcs11.pinEnv } : {}) }
    : { kind: 'file' });
  if (key.kind === 'pkcs11') {
    const uri = parsePkcs11Uri(key.uri);
    const pin = pinOf(key, i.home, i.env);
    spki = generateTokenKey({ modulePath: key.module, uri, pin, algorithm, setting: '--pkcs11' });
    newSigner = openPkcs11Signer({ modulePath: key.module, uri, pin, publicKey: spki, setting: '--pkcs11' });
    opened.push(newSigner);
    keySetting = key.uri;
    pkcs11 = { module: key.module, ...(key.pinFile ? { pinFile: key.pinFile } : {}), ...(key.pinEnv ? { pinEnv: key.pinEnv } : {}) };
  } else {
    const k = generateKey(algorithm);
    const keyFile = join(i.home, 'ca', `${i.id}.g${n}-key.pem`);
    writeFileSync(keyFile, k.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    spki = createPublicKey(k).export({ type: 'spki', format: 'der' });
    newSigner = softwareSigner(k);
    keySetting = rel(i.home, keyFile);
  }

  // 2. the new certificate: self-signed for a root (NewWithNew), else from the CA that issued the old one
  const years = i.validityYears ?? Math.max(1, Math.round((new Date(oldCert.validTo).getTime() - new Date(oldCert.validFrom).getTime()) / (365 * 86_400_000)));
  const notBefore = new Date(i.now.getTime() - 3600_000);
  const selfSigned = isSelfSigned(oldCert);
  let newDer: Buffer;
  if (selfSigned) {
    newDer = await signCaCertificate({ subject: old.subject, spki, signer: newSigner, pathLen: pathLenOf(oldDer), notBefore, notAfter: new Date(i.now.getTime() + years * 365 * 86_400_000), random: randomBytes });
  } else {
    const parent = Object.entries(i.cas).find(([id, c]) => id !== i.id && (() => {
      const p = new X509Certificate(localChain(c)[0]!);
      return issuedBy(oldCert, p);
    })());
    if (!parent) throw new CaCreateError(`the CA that issued "${i.id}" (${oldCert.issuer.replace(/\n/g, ', ')}) is not configured as a built-in CA here: add it (e.g. estuary ca add root --type local ...) to roll "${i.id}" over`);
    const [parentId, parentConfig] = parent;
    const parentDer = localChain(parentConfig)[0]!;
    const pf = certificateFields(parentDer);
    const parentNotAfter = new Date(new X509Certificate(parentDer).validTo);
    const wanted = new Date(i.now.getTime() + years * 365 * 86_400_000);
    const parentSigner = openLocalSigner(parentId, parentConfig, parentDer, { env: i.env, native: undefined });
    opened.push(parentSigner);
    newDer = await signCaCertificate({
      subject: old.subject, spki, issuer: { subject: pf.subject, spki: pf.spki }, signer: parentSigner,
      pathLen: pathLenOf(oldDer), notBefore, notAfter: wanted > parentNotAfter ? parentNotAfter : wanted, random: randomBytes,
    });
  }

  // 3. the link certificates, valid while the old key's certificates may be
  const linkValidity = { notBefore, notAfter: new Date(oldCert.validTo) };
  const oldWithNew = await signCaCertificate({ subject: old.subject, spki: old.spki, issuer: { subject: old.subject, spki }, signer: newSigner, pathLen: pathLenOf(oldDer), ...linkValidity, random: randomBytes });
  const newWithOld = await signCaCertificate({ subject: old.subject, spki, issuer: { subject: old.subject, spki: old.spki }, signer: oldSigner, pathLen: pathLenOf(oldDer), ...linkValidity, random: randomBytes });
  const oldWithNewFile = join(i.home, 'ca', `${i.id}.g${n}-old-with-new.pem`);
  const newWithOldFile = join(i.home, 'ca', `${i.id}.g${n}-new-with-old.pem`);
  writeFileSync(certFile, toPem('CERTIFICATE', newDer));
  writeFileSync(oldWithNewFile, toPem('CERTIFICATE', oldWithNew));
  writeFileSync(newWithOldFile, toPem('CERTIFICATE', newWithOld));

  const previous = [...(i.config.previous ?? []), { certificate: i.config.certificate, key: i.config.key, pkcs11: i.config.pkcs11 }];
  const links = [...(i.config.links ?? []), oldWithNewFile, newWithOldFile].map((f) => rel(i.home, f));
  return {
    settings: {
      type: 'local', certificate: rel(i.home, certFile), key: keySetting, ...(pkcs11 ? { pkcs11 } : {}),
      chain: i.config.chain.map((f) => rel(i.home, f)), previous: previous.map((p) => keySettings(i.home, p)), links,
      ...(i.activateAt ? { activateAt: i.activateAt.toISOString() } : {}),
    },
    generation: n, newCertificate: newDer, oldWithNew, newWithOld, keyLocation: keySetting,
  };
}

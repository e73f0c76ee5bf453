/**
 * CMS EnvelopedData (RFC 5652 §6) to one recipient certificate, with pkijs: key transport with
 * RSA-OAEP (SHA-256) for RSA keys, ephemeral-static ECDH with a SHA-256 KDF and AES key wrap for
 * EC keys; the content is encrypted with AES-256-CBC. Used for encrypted server-generated keys.
 * The client side opens such envelopes (openEnvelope), from our server or any other sender.
 */
import {
  constants, createDecipheriv, createHash, createPublicKey, diffieHellman, privateDecrypt, webcrypto, type KeyObject,
} from 'node:crypto';
import * as pkijs from 'pkijs';
import { certificateFields, serialToHex } from './certificate.js';
import { bitString, children, decodeOid, DER_NULL, explicit, octets, oid, readTop, seq, TAG, value } from './der.js';
import { OID, oidName } from './oids.js';

export type AesBits = 128 | 192 | 256;

export interface EnvelopeOptions {
  /** encryptedContentInfo.contentType (RFC 5652 §6.1); default id-data. */
  contentType?: string;
  /** AES-CBC key size for the content; default 256. */
  contentBits?: AesBits;
  /** AES key wrap size for key agreement recipients (RFC 5753); default 256. */
  wrapBits?: AesBits;
}

const AES_CBC_BITS: Record<string, AesBits> = { [OID.aes128CBC]: 128, [OID.aes192CBC]: 192, [OID.aes256CBC]: 256 };
const AES_WRAP_BITS: Record<string, AesBits> = { [OID.aes128Wrap]: 128, [OID.aes192Wrap]: 192, [OID.aes256Wrap]: 256 };

/**
 * RFC 8551 §2.7.1: the sender uses the first algorithm of the recipient's SMIMECapabilities that
 * it supports; otherwise AES-256 (RFC 8551 §2.7: AES-128 CBC MUST, AES-256 SHOULD be supported).
 * The key wrap follows the first listed wrap, else the content cipher's size.
 */
export function algorithmsFromCapabilities(capabilities: readonly string[] | undefined): { contentBits: AesBits; wrapBits: AesBits } {
  const content = capabilities?.map((c) => AES_CBC_BITS[c]).find((b) => b !== undefined) ?? 256;
  const wrap = capabilities?.map((c) => AES_WRAP_BITS[c]).find((b) => b !== undefined) ?? content;
  return { contentBits: content, wrapBits: wrap };
}

/** A ContentInfo (DER) holding EnvelopedData of `content` for the holder of `recipientCertDer`. */
export async function envelopeFor(recipientCertDer: Buffer, content: Buffer, options: EnvelopeOptions = {}): Promise<Buffer> {
  const engine = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as pkijs.CryptoEngineParameters['crypto'] });
  // only bytes cross into pkijs (it brings its own asn1js; @peculiar/x509 in the tests another major)
  const cert = pkijs.Certificate.fromBER(new Uint8Array(recipientCertDer));
  const enveloped = new pkijs.EnvelopedData();
  const ec = cert.subjectPublicKeyInfo.algorithm.algorithmId === OID.ecPublicKey;
  const added = ec
    ? enveloped.addRecipientByCertificate(cert, { kdfAlgorithm: 'SHA-256', kekEncryptionLength: options.wrapBits ?? 256 }, 2, engine)
    : enveloped.addRecipientByCertificate(cert, { oaepHashAlgorithm: 'SHA-256' }, 1, engine);
  if (!added) throw new Error('cannot encrypt to this certificate');
  const plain = new Uint8Array(content);
  await enveloped.encrypt({ name: 'AES-CBC', length: options.contentBits ?? 256 } as Parameters<pkijs.EnvelopedData['encrypt']>[0], plain.buffer.slice(plain.byteOffset, plain.byteOffset + plain.byteLength) as ArrayBuffer, engine);
  if (options.contentType) enveloped.encryptedContentInfo.contentType = options.contentType;
  const info = new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.ENVELOPED_DATA, content: enveloped.toSchema() });
  return Buffer.from(info.toSchema().toBER(false));
}

// ---- opening (the EST client side of RFC 7030 §4.4.2 encrypted key return) ----
//
// pkijs parses the (possibly BER, e.g. Bouncy Castle's indefinite lengths) CMS structure; the
// cryptography is node:crypto, because WebCrypto has neither RSAES-PKCS1-v1_5 key transport nor
// triple-DES, and both are what `openssl cms -encrypt` produces by default.

export class EnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

const CONTENT_CIPHERS: Record<string, { name: string; keyLength: number }> = {
  [OID.aes128CBC]: { name: 'aes-128-cbc', keyLength: 16 },
  [OID.aes192CBC]: { name: 'aes-192-cbc', keyLength: 24 },
  [OID.aes256CBC]: { name: 'aes-256-cbc', keyLength: 32 },
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', keyLength: 24 },
};

/** RFC 3394 AES key wrap (default IV A6…A6) and RFC 3217 triple-DES key wrap (IV inside the wrapped key). */
const AES_WRAP_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');
const KEY_WRAPS: Record<string, { name: string; keyLength: number; iv: Buffer | null }> = {
  [OID.aes128Wrap]: { name: 'id-aes128-wrap', keyLength: 16, iv: AES_WRAP_IV },
  [OID.aes192Wrap]: { name: 'id-aes192-wrap', keyLength: 24, iv: AES_WRAP_IV },
  [OID.aes256Wrap]: { name: 'id-aes256-wrap', keyLength: 32, iv: AES_WRAP_IV },
  '1.2.840.113549.1.9.16.3.6': { name: 'id-smime-alg-CMS3DESwrap', keyLength: 24, iv: null },
};

/** RFC 5753 §7.1.4 / SEC 1: ECDH key agreement schemes and the hash of their X9.63 KDF (cofactor 1 on P-curves: same computation). */
const ECDH_KDF_HASH: Record<string, string> = {
  '1.3.133.16.840.63.0.2': 'sha1', '1.3.133.16.840.63.0.3': 'sha1',
  '1.3.132.1.11.0': 'sha224', '1.3.132.1.11.1': 'sha256', '1.3.132.1.11.2': 'sha384', '1.3.132.1.11.3': 'sha512',
  '1.3.132.1.14.0': 'sha224', '1.3.132.1.14.1': 'sha256', '1.3.132.1.14.2': 'sha384', '1.3.132.1.14.3': 'sha512',
};

const HASH_BY_OID: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1', '2.16.840.1.101.3.4.2.4': 'sha224', [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512',
};

const RSAES_OAEP = '1.2.840.113549.1.1.7';
const MGF1 = '1.2.840.113549.1.1.8';

const bytesOf = (o: { toSchema(): { toBER(sizeOnly?: boolean): ArrayBuffer } }): Buffer => Buffer.from(o.toSchema().toBER(false));
const viewOf = (v: { valueBlock: { valueHexView: Uint8Array } }): Buffer => Buffer.from(v.valueBlock.valueHexView);

/** A small DER walk over RSAES-OAEP-params (RFC 4055 §4.1): the hash, the MGF1 hash and the label. */
function oaepParams(params: Buffer | undefined): { hash: string; mgfHash: string; label: Buffer } {
  const out = { hash: 'sha1', mgfHash: 'sha1', label: Buffer.alloc(0) };
  if (!params || params.length === 0 || params[0] === TAG.NULL) return out;
  for (const field of children(params, readTop(params))) {
    const [alg] = children(params, field);
    const [id, param] = children(params, alg!);
    const algOid = decodeOid(value(params, id!));
    if (field.tag === 0xa0) out.hash = HASH_BY_OID[algOid] ?? algOid;
    if (field.tag === 0xa1) {
      if (algOid !== MGF1) throw new EnvelopeError(`unsupported OAEP mask generation ${algOid}`);
      const [hashId] = children(params, param!);
      const h = decodeOid(value(params, hashId!));
      out.mgfHash = HASH_BY_OID[h] ?? h;
    }
    if (field.tag === 0xa2 && param) out.label = Buffer.from(value(params, param));
  }
  return out;
}

/** Key transport (RFC 5652 §6.2.1): RSA-OAEP or RSAES-PKCS1-v1_5. */
function keyTransport(ri: pkijs.KeyTransRecipientInfo, key: KeyObject, cekLength: number): Buffer {
  const alg = ri.keyEncryptionAlgorithm.algorithmId;
  const encrypted = viewOf(ri.encryptedKey);
  if (alg === RSAES_OAEP) {
    const p = oaepParams(ri.keyEncryptionAlgorithm.algorithmParams ? Buffer.from(ri.keyEncryptionAlgorithm.algorithmParams.toBER(false)) : undefined);
    if (p.mgfHash !== p.hash) throw new EnvelopeError(`RSA-OAEP with MGF1-${p.mgfHash} and ${p.hash} is not supported`);
    return privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: p.hash, ...(p.label.length ? { oaepLabel: p.label } : {}) }, encrypted);
  }
  if (alg !== OID.rsaEncryption) throw new EnvelopeError(`unsupported key transport algorithm ${oidName(alg)}`);
  // RSAES-PKCS1-v1_5 (RFC 8017 §7.2.2; Node 20 refuses this padding for decryption because of
  // CVE-2023-46809): raw RSA, then 00 02 PS(≥8 nonzero octets) 00 CEK checked here. A client opening
  // one answer from its server is no padding oracle, so a bad padding is reported at once (which
  // also lets the next recipient be tried instead of decrypting the content with a random key).
  const em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, encrypted);
  const sep = em.indexOf(0, 2);
  if (em[0] !== 0 || em[1] !== 2 || sep < 10 || em.length - sep - 1 !== cekLength) {
    throw new EnvelopeError('the key transport does not decrypt with this key');
  }
  return Buffer.from(em.subarray(sep + 1));
}

/** Ephemeral-static ECDH (RFC 5753 §3.1.2 / RFC 5652 §6.2.2) with the X9.63 KDF and AES key wrap. */
function keyAgreement(ri: pkijs.KeyAgreeRecipientInfo, encryptedKey: Buffer, key: KeyObject, curveOid: string | undefined): Buffer {
  if (!curveOid) throw new EnvelopeError('the recipient certificate has no named curve');
  if (ri.originator.variant !== 3) throw new EnvelopeError('key agreement with a static originator key is not supported');
  const originator = ri.originator.value as pkijs.OriginatorPublicKey;
  const point = viewOf(originator.publicKey);
  const ephemeral = createPublicKey({ key: seq(seq(oid(OID.ecPublicKey), oid(curveOid)), bitString(point)), format: 'der', type: 'spki' });
  const z = diffieHellman({ privateKey: key, publicKey: ephemeral });
  const kdfHash = ECDH_KDF_HASH[ri.keyEncryptionAlgorithm.algorithmId];
  if (!kdfHash) throw new EnvelopeError(`unsupported key agreement algorithm ${ri.keyEncryptionAlgorithm.algorithmId}`);
  const wrapAlg = new pkijs.AlgorithmIdentifier({ schema: ri.keyEncryptionAlgorithm.algorithmParams });
  const wrap = KEY_WRAPS[wrapAlg.algorithmId];
  if (!wrap) throw new EnvelopeError(`unsupported key wrap algorithm ${wrapAlg.algorithmId}`);
  const ukm = ri.ukm ? viewOf(ri.ukm) : undefined;
  const bits = Buffer.alloc(4);
  bits.writeUInt32BE(wrap.keyLength * 8);
  // ECC-CMS-SharedInfo (RFC 5753 §7.2); keyInfo without parameters, but some senders add NULL: try both
  for (const keyInfo of [seq(oid(wrapAlg.algorithmId)), seq(oid(wrapAlg.algorithmId), DER_NULL)]) {
    const sharedInfo = seq(keyInfo, ...(ukm ? [explicit(0, octets(ukm))] : []), explicit(2, octets(bits)));
    const kek = x963Kdf(kdfHash, z, sharedInfo, wrap.keyLength);
    try {
      const d = createDecipheriv(wrap.name, kek, wrap.iv);
      return Buffer.concat([d.update(encryptedKey), d.final()]);
    } catch {
      // integrity check failed: try the other keyInfo encoding
    }
  }
  throw new EnvelopeError('cannot unwrap the content-encryption key: the message was not encrypted to this key');
}

/** ANSI X9.63 KDF (SEC 1 §3.6.1): Hash(Z || counter || SharedInfo), counter from 1. */
function x963Kdf(hash: string, z: Buffer, sharedInfo: Buffer, length: number): Buffer {
  const parts: Buffer[] = [];
  for (let counter = 1, have = 0; have < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(z).update(c).update(sharedInfo).digest();
    parts.push(block);
    have += block.length;
  }
  return Buffer.concat(parts).subarray(0, length);
}

/** The namedCurve parameter of an EC SubjectPublicKeyInfo. */
function spkiCurve(spki: Buffer): string | undefined {
  const [alg] = children(spki, readTop(spki));
  const [, param] = children(spki, alg!);
  return param?.tag === TAG.OID ? decodeOid(value(spki, param)) : undefined;
}

function sameIssuerSerial(ias: pkijs.IssuerAndSerialNumber, issuer: Buffer, serialHex: string): boolean {
  return bytesOf(ias.issuer).equals(issuer) && serialToHex(viewOf(ias.serialNumber)) === serialHex;
}

/**
 * Decrypt a CMS EnvelopedData (a ContentInfo, or a bare EnvelopedData) for the holder of
 * `recipientCertDer` / `recipientKey`; returns the content type and the decrypted content.
 */
export async function decryptEnvelope(envelopedDer: Buffer, recipientCertDer: Buffer, recipientKey: KeyObject): Promise<{ contentType: string; content: Buffer }> {
  let env: pkijs.EnvelopedData;
  try {
    const ci = pkijs.ContentInfo.fromBER(new Uint8Array(envelopedDer));
    if (ci.contentType !== OID.envelopedData) throw new EnvelopeError(`expected CMS EnvelopedData, got content type ${oidName(ci.contentType)}`);
    env = new pkijs.EnvelopedData({ schema: ci.content });
  } catch (err) {
    if (err instanceof EnvelopeError) throw err;
    try {
      env = pkijs.EnvelopedData.fromBER(new Uint8Array(envelopedDer));
    } catch {
      throw new EnvelopeError(`not a CMS EnvelopedData: ${(err as Error).message}`);
    }
  }
  const cert = certificateFields(recipientCertDer);
  const ski = cert.extensions.get(OID.subjectKeyIdentifier);
  const keyId = ski ? value(ski, readTop(ski)) : undefined;
  const eci = env.encryptedContentInfo;
  const cipher = CONTENT_CIPHERS[eci.contentEncryptionAlgorithm.algorithmId];
  if (!cipher) throw new EnvelopeError(`unsupported content encryption ${eci.contentEncryptionAlgorithm.algorithmId}`);
  const ivParam = eci.contentEncryptionAlgorithm.algorithmParams as { valueBlock?: { valueHexView?: Uint8Array } } | undefined;
  const iv = Buffer.from(ivParam?.valueBlock?.valueHexView ?? []);
  const encrypted = Buffer.from(eci.getEncryptedContent());
  const isRsa = recipientKey.asymmetricKeyType === 'rsa';
  const curveOid = spkiCurve(cert.spki);

  // Candidates: recipients addressed to this certificate first, then any of the right kind.
  type Attempt = () => Buffer;
  const addressed: Attempt[] = [];
  const others: Attempt[] = [];
  for (const ri of env.recipientInfos) {
    if (ri.variant === 1 && isRsa) {
      const kt = ri.value as pkijs.KeyTransRecipientInfo;
      const rid = kt.rid;
      const mine = rid instanceof pkijs.IssuerAndSerialNumber ? sameIssuerSerial(rid, cert.issuer, cert.serialHex) : !!keyId && viewOf(rid as never).equals(keyId);
      (mine ? addressed : others).push(() => keyTransport(kt, recipientKey, cipher.keyLength));
    } else if (ri.variant === 2 && recipientKey.asymmetricKeyType === 'ec') {
      const ka = ri.value as pkijs.KeyAgreeRecipientInfo;
      for (const rek of ka.recipientEncryptedKeys.encryptedKeys) {
        const rid = rek.rid;
        const mine = rid.variant === 1
          ? sameIssuerSerial(rid.value as pkijs.IssuerAndSerialNumber, cert.issuer, cert.serialHex)
          : !!keyId && viewOf((rid.value as pkijs.RecipientKeyIdentifier).subjectKeyIdentifier).equals(keyId);
        (mine ? addressed : others).push(() => keyAgreement(ka, viewOf(rek.encryptedKey), recipientKey, curveOid));
      }
    }
  }
  if (addressed.length + others.length === 0) {
    throw new EnvelopeError(`no recipient in the EnvelopedData can be opened with this ${recipientKey.asymmetricKeyType ?? ''} key`);
  }
  let firstError: unknown;
  for (const attempt of [...addressed, ...others]) {
    try {
      const cek = attempt();
      if (cek.length !== cipher.keyLength) throw new EnvelopeError('the content-encryption key has the wrong length');
      const d = createDecipheriv(cipher.name, cek, iv);
      return { contentType: eci.contentType, content: Buffer.concat([d.update(encrypted), d.final()]) };
    } catch (err) {
      firstError ??= err;
    }
  }
  const why = firstError instanceof EnvelopeError ? firstError.message : 'wrong key or damaged message';
  throw new EnvelopeError(`cannot decrypt the EnvelopedData: ${why}`);
}

/** The first OneAsymmetricKey of an AsymmetricKeyPackage, or the content itself when it is one key. */
export function firstKeyOfPackage(content: Buffer): Buffer | undefined {
  try {
    const top = readTop(content);
    const [first] = children(content, top);
    if (top.tag === TAG.SEQUENCE && first?.tag === TAG.INTEGER) return content;
    if (top.tag === TAG.SEQUENCE && first?.tag === TAG.SEQUENCE) {
      const inner = children(content, first)[0];
      if (inner?.tag === TAG.INTEGER) return Buffer.from(content.subarray(first.start, first.end));
    }
  } catch {
    // not DER
  }
  return undefined;
}

/**
 * RFC 7030 §4.4.2 / RFC 5958: the private key in a decrypted server-keygen content, as PKCS#8
 * (OneAsymmetricKey) DER. Accepts a bare OneAsymmetricKey, an AsymmetricKeyPackage (its first
 * key), or either inside a SignedData (whose signature is not checked here). Undefined otherwise.
 */
export function privateKeyFromContent(content: Buffer): Buffer | undefined {
  const key = firstKeyOfPackage(content);
  if (key) return key;
  try {
    const ci = pkijs.ContentInfo.fromBER(new Uint8Array(content));
    if (ci.contentType !== OID.signedData) return undefined;
    const signed = new pkijs.SignedData({ schema: ci.content });
    const e = signed.encapContentInfo.eContent;
    return e ? privateKeyFromContent(Buffer.from(e.getValue())) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Open an encrypted server-generated key (RFC 7030 §4.4.2): decrypt the EnvelopedData for the
 * holder of `recipientCertDer` and return the private key as PKCS#8 DER (see privateKeyFromContent);
 * content that is not a key is returned as it is.
 */
export async function openEnvelope(envelopedDer: Buffer, recipientCertDer: Buffer, recipientKey: KeyObject): Promise<Buffer> {
  const { content } = await decryptEnvelope(envelopedDer, recipientCertDer, recipientKey);
  return privateKeyFromContent(content) ?? content;
}

/**
 * RFC 7030 §4.4.2 / RFC 5958 §4: a server-generated private key returned encrypted is an
 * AsymmetricKeyPackage (a SEQUENCE OF OneAsymmetricKey; PKCS#8 PrivateKeyInfo is its version 1)
 * inside a CMS SignedData signed by the party that generated the key, inside an EnvelopedData.
 *
 * The server signs with its TLS key (RFC 7030 §4.4.2: "signed by the party that generated the
 * private key", here the EST server; the CA key signs certificates and CRLs only) and includes
 * its certificate chain. The client checks the signature (pkijs, tolerant of BER and of other
 * servers' encodings) and decides whether it trusts the signer.
 */
import { createHash, sign as cryptoSign, webcrypto, type KeyObject } from 'node:crypto';
import * as pkijs from 'pkijs';
import { signatureSchemeFor } from './certificate.js';
import { children, explicit, expectTag, octets, oid, readTop, seq, setOf, slice, smallInteger, TAG, time, tlv, value } from './der.js';
import { decryptEnvelope, firstKeyOfPackage } from './enveloped-data.js';
import { OID, oidName } from './oids.js';

export interface KeyPackageSigner {
  key: KeyObject;
  /** The signer's certificate first, then its chain (DER). */
  certificates: Buffer[];
}

const DIGEST_OID: Record<string, string> = { sha256: OID.sha256, sha384: OID.sha384, sha512: OID.sha512 };

/** issuerAndSerialNumber (RFC 5652 §10.2.4) of a certificate, byte for byte. */
function issuerAndSerial(cert: Buffer): Buffer {
  const [tbs] = children(cert, expectTag(readTop(cert), TAG.SEQUENCE, 'Certificate'));
  const parts = children(cert, expectTag(tbs, TAG.SEQUENCE, 'TBSCertificate'));
  const i = parts[0]?.tag === 0xa0 ? 1 : 0;
  return seq(slice(cert, expectTag(parts[i + 2], TAG.SEQUENCE, 'issuer')), slice(cert, expectTag(parts[i], TAG.INTEGER, 'serialNumber')));
}

/** RFC 5958 §2: AsymmetricKeyPackage of one PKCS#8 key. */
export function asymmetricKeyPackage(pkcs8: Buffer): Buffer {
  return seq(pkcs8);
}

/**
 * ContentInfo(SignedData) over the AsymmetricKeyPackage of `pkcs8` (eContentType
 * id-ct-KP-aKeyPackage, RFC 5958 §4), signed with signed attributes (RFC 5652 §5.3: content
 * type, message digest, signing time) and carrying the signer's certificates.
 */
export function signKeyPackage(pkcs8: Buffer, signer: KeyPackageSigner, now: Date): Buffer {
  const leaf = signer.certificates[0];
  if (!leaf) throw new Error('signKeyPackage: the signer certificate is missing');
  const content = asymmetricKeyPackage(pkcs8);
  const scheme = signatureSchemeFor(signer.key);
  // RFC 8419 §3: Ed25519 with signed attributes uses SHA-512 for the message digest
  const hash = scheme.hash ?? 'sha512';
  const digestAlgorithm = seq(oid(DIGEST_OID[hash]!));
  const attrs = [
    seq(oid(OID.contentType), setOf([oid(OID.aKeyPackage)])),
    seq(oid(OID.signingTime), setOf([time(now)])),
    seq(oid(OID.messageDigest), setOf([octets(createHash(hash).update(content).digest())])),
  ];
  // RFC 5652 §5.4: the signature is over the DER of the SET OF attributes (tag 0x31)
  const signedAttrs = setOf(attrs);
  const signature = cryptoSign(scheme.hash, signedAttrs, { key: signer.key, dsaEncoding: 'der' });
  const signerInfo = seq(
    smallInteger(1),
    issuerAndSerial(leaf),
    digestAlgorithm,
    tlv(0xa0, value(signedAttrs, readTop(signedAttrs))), // [0] IMPLICIT SET OF Attribute
    scheme.algorithmIdentifier,
    octets(signature),
  );
  const signedData = seq(
    smallInteger(3), // RFC 5652 §5.1: eContentType other than id-data
    setOf([digestAlgorithm]),
    seq(oid(OID.aKeyPackage), explicit(0, octets(content))),
    tlv(0xa0, ...signer.certificates),
    setOf([signerInfo]),
  );
  return seq(oid(OID.signedData), explicit(0, signedData));
}

export class KeyPackageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyPackageError';
  }
}

export interface VerifiedKeyPackage {
  /** The first key of the package, PKCS#8 (OneAsymmetricKey) DER. */
  pkcs8: Buffer;
  /** The certificate whose key made the (verified) signature. */
  signerCertificate: Buffer;
  /** Every certificate in the SignedData. */
  certificates: Buffer[];
  contentType: string;
}

/**
 * Verify a ContentInfo(SignedData) holding a key package: the signature (signed attributes and
 * message digest, RFC 5652 §5.6) by a certificate the SignedData carries. Whether that signer is
 * trusted is the caller's decision.
 */
export async function verifyKeyPackage(der: Buffer): Promise<VerifiedKeyPackage> {
  let signed: pkijs.SignedData;
  try {
    const ci = pkijs.ContentInfo.fromBER(new Uint8Array(der));
    if (ci.contentType !== OID.signedData) throw new KeyPackageError(`expected SignedData, got content type ${oidName(ci.contentType)}`);
    signed = new pkijs.SignedData({ schema: ci.content });
  } catch (err) {
    if (err instanceof KeyPackageError) throw err;
    throw new KeyPackageError(`not a CMS SignedData: ${(err as Error).message}`);
  }
  const eContent = signed.encapContentInfo.eContent;
  if (!eContent) throw new KeyPackageError('the SignedData has no content');
  const content = Buffer.from(eContent.getValue());
  if (signed.signerInfos.length === 0) throw new KeyPackageError('the SignedData has no signature');
  const certificates = (signed.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
  const engine = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as pkijs.CryptoEngineParameters['crypto'] });
  let result: pkijs.SignedDataVerifyResult;
  try {
    result = await signed.verify({ signer: 0, checkChain: false, extendedMode: true }, engine);
  } catch (err) {
    const e = err as { message?: string; code?: number } & Partial<pkijs.SignedDataVerifyResult>;
    throw new KeyPackageError(`the key package signature does not verify: ${e.message ?? (e as { date?: unknown }).toString()}`);
  }
  if (!result.signatureVerified || !result.signerCertificate) throw new KeyPackageError('the key package signature does not verify');
  const pkcs8 = firstKeyOfPackage(content);
  if (!pkcs8) throw new KeyPackageError('the signed content is not an AsymmetricKeyPackage');
  return {
    pkcs8,
    signerCertificate: Buffer.from(result.signerCertificate.toSchema().toBER(false)),
    certificates: certificates.map((c) => Buffer.from(c.toSchema().toBER(false))),
    contentType: signed.encapContentInfo.eContentType,
  };
}

/** What came out of an encrypted server-generated key. */
export interface OpenedServerKey {
  /** PKCS#8 (OneAsymmetricKey) DER. */
  pkcs8: Buffer;
  /** The verified SignedData around it (RFC 7030 §4.4.2); undefined for a bare key (older servers). */
  signed: VerifiedKeyPackage | undefined;
}

/** ContentInfo wrapping for a bare SignedData (RFC 5652 §6.1 allows the content without it). */
const asContentInfo = (signedData: Buffer): Buffer => seq(oid(OID.signedData), explicit(0, signedData));

/**
 * Decrypt an encrypted server-generated key and, when it is signed (the RFC 7030 §4.4.2 form),
 * verify the signature. The encrypted content may be the SignedData as a ContentInfo or bare
 * (encryptedContentInfo contentType id-signedData), or the key itself: an AsymmetricKeyPackage or
 * one OneAsymmetricKey, as servers before RFC 5958 nesting send it.
 */
export async function openServerGeneratedKey(envelopedDer: Buffer, recipientCertDer: Buffer, recipientKey: KeyObject): Promise<OpenedServerKey> {
  const { contentType, content } = await decryptEnvelope(envelopedDer, recipientCertDer, recipientKey);
  const key = contentType === OID.signedData ? undefined : firstKeyOfPackage(content);
  if (key) return { pkcs8: key, signed: undefined };
  const bareSignedData = contentType === OID.signedData && !startsWithOid(content);
  const signed = await verifyKeyPackage(bareSignedData ? asContentInfo(content) : content);
  return { pkcs8: signed.pkcs8, signed };
}

/** Whether BER starts SEQUENCE { OID …: a ContentInfo rather than a SignedData (which starts with its version). */
function startsWithOid(ber: Buffer): boolean {
  if (ber[0] !== TAG.SEQUENCE || ber.length < 3) return false;
  const len = ber[1]!;
  const first = len <= 0x80 ? 2 : 2 + (len & 0x7f);
  return ber[first] === TAG.OID;
}

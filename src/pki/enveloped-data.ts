/**
 * CMS EnvelopedData (RFC 5652 §6) to one recipient certificate, with pkijs: key transport with
 * RSA-OAEP (SHA-256) for RSA keys, ephemeral-static ECDH with a SHA-256 KDF and AES key wrap for
 * EC keys; the content is encrypted with AES-256-CBC. Used for encrypted server-generated keys.
 */
import { webcrypto } from 'node:crypto';
import * as pkijs from 'pkijs';
import { OID } from './oids.js';

/** A ContentInfo (DER) holding EnvelopedData of `content` for the holder of `recipientCertDer`. */
export async function envelopeFor(recipientCertDer: Buffer, content: Buffer): Promise<Buffer> {
  const engine = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as pkijs.CryptoEngineParameters['crypto'] });
  // pkijs and @peculiar/* use different asn1js majors: only bytes cross between them.
  const cert = pkijs.Certificate.fromBER(new Uint8Array(recipientCertDer));
  const enveloped = new pkijs.EnvelopedData();
  const ec = cert.subjectPublicKeyInfo.algorithm.algorithmId === OID.ecPublicKey;
  const added = ec
    ? enveloped.addRecipientByCertificate(cert, { kdfAlgorithm: 'SHA-256', kekEncryptionLength: 256 }, 2, engine)
    : enveloped.addRecipientByCertificate(cert, { oaepHashAlgorithm: 'SHA-256' }, 1, engine);
  if (!added) throw new Error('cannot encrypt to this certificate');
  const plain = new Uint8Array(content);
  await enveloped.encrypt({ name: 'AES-CBC', length: 256 } as Parameters<pkijs.EnvelopedData['encrypt']>[0], plain.buffer.slice(plain.byteOffset, plain.byteOffset + plain.byteLength) as ArrayBuffer, engine);
  const info = new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.ENVELOPED_DATA, content: enveloped.toSchema() });
  return Buffer.from(info.toSchema().toBER(false));
}

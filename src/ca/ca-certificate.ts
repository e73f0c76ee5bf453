/**
 * CA certificates signed through a Signer (a software key or a PKCS#11 token): new roots and
 * subordinate CAs of `estuary ca create`, and the link certificates of a key rollover.
 */
import { authorityKeyIdentifierValue, extension, keyIdentifier, keyUsageValue, signCertificateWith } from '../pki/certificate.js';
import { DER_TRUE, octets, seq, smallInteger } from '../pki/der.js';
import { OID } from '../pki/oids.js';
import { randomSerial } from './local-ca.js';
import type { Signer } from './signers/signer.js';

export interface CaCertificateInput {
  /** DER Name of the new CA. */
  subject: Buffer;
  /** Its SubjectPublicKeyInfo (DER). */
  spki: Buffer;
  /** The issuing CA's name and key; absent for a self-signed certificate. */
  issuer?: { subject: Buffer; spki: Buffer };
  /** Makes the signature: the issuer's key, or the new key for a self-signed certificate. */
  signer: Signer;
  /** RFC 5280 §4.2.1.9 pathLenConstraint; undefined: none. */
  pathLen: number | undefined;
  notBefore: Date;
  notAfter: Date;
  random: (n: number) => Buffer;
}

/** RFC 5280 §4.2.1.9/§4.2.1.3: a CA certificate with basicConstraints cA, keyCertSign and cRLSign, and key identifiers. */
export function signCaCertificate(i: CaCertificateInput): Promise<Buffer> {
  const issuer = i.issuer ?? { subject: i.subject, spki: i.spki };
  const bc = i.pathLen === undefined ? seq(DER_TRUE) : seq(DER_TRUE, smallInteger(i.pathLen));
  const extensions = [
    extension(OID.basicConstraints, true, bc),
    extension(OID.keyUsage, true, keyUsageValue(['digitalSignature', 'keyCertSign', 'cRLSign'])),
    extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(i.spki))),
    extension(OID.authorityKeyIdentifier, false, authorityKeyIdentifierValue(keyIdentifier(issuer.spki))),
  ];
  return signCertificateWith({ serial: randomSerial(i.random), issuer: issuer.subject, notBefore: i.notBefore, notAfter: i.notAfter, subject: i.subject, spki: i.spki, extensions }, i.signer);
}

/** The contract between the RA and whatever signs: the built-in CA now, HSM and upstream EST later. */
import type { KeyUsageBit } from '../pki/certificate.js';
import type { RevokedEntry } from '../pki/crl.js';

export interface IssueRequest {
  /** DER Name, used as is. */
  subject: Buffer;
  /** DER SubjectPublicKeyInfo, used as is. */
  spki: Buffer;
  /** subjectAltName extnValue (GeneralNames DER), when the certificate carries one. */
  subjectAltName: Buffer | undefined;
  validityDays: number;
  keyUsage: readonly KeyUsageBit[];
  /** Dotted OIDs. */
  extendedKeyUsage: readonly string[];
}

export interface IssuedCertificate {
  der: Buffer;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
}

export interface CaBackend {
  readonly id: string;
  issue(request: IssueRequest): Promise<IssuedCertificate>;
  /** The issuing CA certificate first, then up to and including the root (DER). */
  chain(): readonly Buffer[];
  /** True when this CA signed the given certificate (name match and signature verified). */
  issued(certificateDer: Buffer): boolean;
}

/** The CA cannot sign right now (maps to 503 with Retry-After). */
export class CaUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CaUnavailableError';
  }
}

/** Optional capability: a CA that signs its own CRL (RFC 5280 §5). */
export interface CrlRequest {
  revoked: readonly RevokedEntry[];
  thisUpdate: Date;
  nextUpdate: Date;
  /** A delta CRL against the complete CRL with this cRLNumber (RFC 5280 §5.2.4). */
  deltaOf?: bigint;
  /** freshestCRL of a complete CRL (RFC 5280 §5.2.6). */
  freshestCrlUrl?: string;
}

export interface IssuedCrl {
  der: Buffer;
  /** Its cRLNumber; complete and delta CRLs share one increasing sequence. */
  number: bigint;
}

export interface CrlIssuer {
  /** Large CRLs are encoded without holding the event loop for the whole list. */
  issueCrl(request: CrlRequest): Promise<IssuedCrl>;
}

export function issuesCrls(ca: CaBackend): ca is CaBackend & CrlIssuer {
  return typeof (ca as Partial<CrlIssuer>).issueCrl === 'function';
}

/** Who signs OCSP responses for a CA (RFC 6960 §4.2.2.2): the CA itself or its delegated responder. */
export interface OcspResponder {
  /** SHA-1 of the signing public key (ResponderID byKey). */
  keyHash: Buffer;
  /** Sent in the response: the delegated responder's certificate; none when the CA signs. */
  certificates: readonly Buffer[];
  signatureAlgorithm: Buffer;
  /** Through a Signer (src/ca/signers/), so an HSM-held key can answer too. */
  sign(data: Buffer): Promise<Buffer>;
}

/** Optional capability: a CA whose certificate status an OCSP responder may sign for. */
export interface OcspSigner {
  ocspResponder(now: Date): OcspResponder;
}

export function signsOcsp(ca: CaBackend): ca is CaBackend & OcspSigner {
  return typeof (ca as Partial<OcspSigner>).ocspResponder === 'function';
}

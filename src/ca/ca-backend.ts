/**
 * The connector contract (v2) between the RA and whatever issues: the built-in CA now, an HSM-held
 * key and an upstream EST CA next. The RA hands over the client's CSR as signed **and** the
 * template its policy decided; the connector answers issued or pending, or throws a typed error.
 */
import type { KeyUsageBit } from '../pki/certificate.js';
import type { RevokedEntry } from '../pki/crl.js';
import type { AttrOrOid } from '../pki/csr-attrs.js';

/** The EST operation behind an issuance (RFC 7030 §4.2.1, §4.2.2, §4.4). */
export type IssueOperation = 'enroll' | 'reenroll' | 'serverkeygen';

/** What the profile decided the certificate holds. */
export interface IssuanceTemplate {
  /** DER Name, used as is. */
  subject: Buffer;
  /** DER SubjectPublicKeyInfo, used as is. */
  spki: Buffer;
  /** subjectAltName extnValue (GeneralNames DER), when the certificate carries one. */
  subjectAltName: Buffer | undefined;
  validitySeconds: number;
  keyUsage: readonly KeyUsageBit[];
  /** Dotted OIDs. */
  extendedKeyUsage: readonly string[];
}

export interface IssueRequest {
  operation: IssueOperation;
  /** The PKCS#10 request as the client signed it (DER); for serverkeygen its key is not the certificate's. */
  csr: Buffer;
  /** Subject, SAN, key usage, EKU, validity and SPKI (the generated key's for serverkeygen) as the RA admitted them. */
  template: IssuanceTemplate;
  /** The certificate being renewed (DER), for reenroll. */
  renewing?: Buffer;
  /** The RA's identifier of this request (an approved request's id, or a fresh one), for the CA's logs and references. */
  requestId: string;
  /** Who asked: the authenticated account or certificate-bound requester. */
  requester: string;
  /**
   * serverkeygen, when the RA generated the key (PKCS#8 DER; never stored or logged): a connector
   * that must send the CA a request signed by the certificate's key builds it with this key.
   */
  generatedKey?: Buffer;
}

export interface IssuedCertificate {
  der: Buffer;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
}

/** Expected outcomes are values: issued now, or held by the CA (RFC 7030 §4.2.3: 202 + Retry-After). */
export type IssueResult =
  | {
      status: 'issued';
      certificate: IssuedCertificate;
      chain: readonly Buffer[];
      /** serverkeygen by a KeyGeneratingCa: the key the CA generated (PKCS#8 DER), for the RA to hand to the client. */
      privateKey?: Buffer;
    }
  | { status: 'pending'; retryAfterSeconds: number; reference: string };

export interface CaBackend {
  readonly id: string;
  issue(request: IssueRequest): Promise<IssueResult>;
  /** The issuing CA certificate first, then up to and including the root (DER); a connector may fetch and cache it. */
  chain(): Promise<readonly Buffer[]>;
  /** True when this CA signed the given certificate (name match and signature verified). */
  issued(certificateDer: Buffer): boolean;
}

/** The CA answered with something the RA must not pass on (a certificate for another key or other names): 502. */
export class CaBadAnswerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CaBadAnswerError';
  }
}

/** The CA cannot sign right now (maps to 503 with Retry-After: the given seconds, or the RA's default). */
export class CaUnavailableError extends Error {
  readonly retryAfterSeconds: number | undefined;

  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options);
    this.name = 'CaUnavailableError';
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** The CA refused this request; its reason is passed to the client (403, or 400 for a malformed request). */
export class CaRefusedError extends Error {
  readonly status: 400 | 403;

  constructor(reason: string, options?: { cause?: unknown; status?: 400 | 403 }) {
    super(reason, options);
    this.name = 'CaRefusedError';
    this.status = options?.status ?? 403;
  }
}

/** The connector itself is wrong (e.g. its credentials at the CA): not the client's fault, 502 with a text reason. */
export class CaMisconfiguredError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CaMisconfiguredError';
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
  /** Which of the CA's keys signs it (a CA rolled over keeps a CRL per key, RFC 7030 §4.1.3); default the current one. */
  generation?: number;
  /**
   * The highest cRLNumber already published for this CA (by any instance sharing the store): the
   * new one must be higher (RFC 5280 §5.2.3: monotonically increasing).
   */
  after?: bigint;
}

export interface IssuedCrl {
  der: Buffer;
  /** Its cRLNumber; complete and delta CRLs share one increasing sequence. */
  number: bigint;
}

export interface CrlIssuer {
  /** Large CRLs are encoded without holding the event loop for the whole list. */
  issueCrl(request: CrlRequest): Promise<IssuedCrl>;
  /**
   * Optional: the CA's keys that sign a CRL of their own, oldest first (0 is the CA's first key, whose
   * CRL is /crl/<id>.crl; key n's is /crl/<id>.g<n>.crl). Absent: one key.
   */
  crlGenerations?(): readonly number[];
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
  /** The current responder; a delegated responder's certificate is issued (signed by the CA, possibly in a token) when first asked and at half its life. */
  ocspResponder(now: Date, issuerSpki?: Buffer): Promise<OcspResponder>;
  /** Optional: every key the CA has signed certificates with (a CA rolled over has several); default its chain's first certificate. */
  ocspIssuers?(): { name: Buffer; spki: Buffer }[];
}

export function signsOcsp(ca: CaBackend): ca is CaBackend & OcspSigner {
  return typeof (ca as Partial<OcspSigner>).ocspResponder === 'function';
}

/** Optional capability: the CA generates server-side keys itself (RFC 7030 §4.4); the RA then does not. */
export interface KeyGeneratingCa {
  /** serverkeygen results carry the CA's key in `privateKey`. */
  readonly generatesServerKeys: true;
}

export function generatesServerKeys(ca: CaBackend): ca is CaBackend & KeyGeneratingCa {
  return (ca as Partial<KeyGeneratingCa>).generatesServerKeys === true;
}

/** What a connector reports about its CA, for the Web RA, the CLI and readiness probes. */
export interface ConnectorHealth {
  healthy: boolean;
  /** Where the CA is reached (an upstream's URL). */
  url?: string;
  /** The last failure talking to the CA, and when it happened. */
  lastError?: { message: string; at: Date };
  /** The last successful exchange with the CA. */
  lastSuccessAt?: Date;
  /** When the CA certificates served were last fetched. */
  chainFetchedAt?: Date;
  /** TLS connections opened to the CA so far (an upstream's keep-alive pool), and requests sent over them. */
  handshakes?: number;
  requests?: number;
  /** Whether the CA accepted the RA's own credentials at the last probe. */
  credentials?: 'accepted' | 'refused' | 'unknown';
}

/** Optional capability: a connector that can tell whether its CA is reachable (a remote CA). */
export interface HealthReporting {
  health(): ConnectorHealth;
  /**
   * Check the CA now: fetch its certificates again, and (unless `credentials: false`) see that the
   * RA's credentials are accepted. Readiness probes leave the credentials out: that check sends a
   * request the CA refuses, and a CA may log every refusal.
   */
  probe(options?: { credentials?: boolean }): Promise<ConnectorHealth>;
}

export function reportsHealth(ca: CaBackend): ca is CaBackend & HealthReporting {
  return typeof (ca as Partial<HealthReporting>).health === 'function';
}

/** Optional capability: the CA announces CSR attributes of its own (RFC 7030 §4.5), merged into the profile's. */
export interface CsrAttrsSource {
  /** DER-decoded CsrAttrs items of the CA (its last good answer; [] when it has none). */
  csrAttributes(): Promise<readonly AttrOrOid[]>;
}

export function hasCsrAttributes(ca: CaBackend): ca is CaBackend & CsrAttrsSource {
  return typeof (ca as Partial<CsrAttrsSource>).csrAttributes === 'function';
}

/** Optional capability: a connector that holds resources (connections, timers) to release at shutdown. */
export interface Closable {
  close(): Promise<void> | void;
}

export function closable(ca: CaBackend): ca is CaBackend & Closable {
  return typeof (ca as Partial<Closable>).close === 'function';
}

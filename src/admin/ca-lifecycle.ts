/**
 * What the Web RA needs to make and import built-in CAs. The Web RA owns this interface; the
 * composition root (src/cli/ca-lifecycle-service.ts) implements it with src/ca/ca-create.ts, the
 * estuary.yaml editor and the CA reload, so that src/admin never touches keys or the configuration file.
 * Failures the caller can fix are RaError 'bad-request' (400); a connector written but not opened
 * is RaError 'misconfigured' (502).
 */

/** The id of a CA connector (cas.<id>) made here. */
export const CA_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';

/** Where a built-in CA's key is: a file (path relative to the home when under it) or a PKCS#11 token. Never key material. */
export type KeyLocation = { kind: 'file'; path: string } | { kind: 'pkcs11'; uri: string };

export interface NewCaRequest {
  id: string;
  /** "CN=..., O=..." */
  subject: string;
  keyAlgorithm: string;
  issuer: { parent: string } | { selfSigned: true } | { csr: true };
  validityYears: number;
  pathLen?: number | undefined;
  pkcs11?: { uri: string; module: string; pinFile?: string | undefined; pinEnv?: string | undefined } | undefined;
}

/** A CA whose key is made and whose CSR waits for an external CA's certificate (ca/<id>.pending.json). */
export interface PendingCa {
  id: string;
  subject: string;
  keyLocation: KeyLocation;
  /** The CSR when it is kept under the home (ca/<id>.csr.pem), else null (written elsewhere by the CLI). */
  csrPem: string | null;
}

export interface CaCreated {
  keyLocation: KeyLocation;
  /** Set for issuer.csr: the CSR to have signed. */
  csrPem: string | undefined;
  /** For the audit log, e.g. "signed by root". */
  how: string;
}

export interface CaLifecycle {
  /** Make the CA; unless it waits for a certificate, add cas.<id> and have the server open it before answering. */
  create(request: NewCaRequest): Promise<CaCreated>;
  /** The signed certificate (and its issuers) for a pending CA; adds cas.<id> and opens it. */
  importCertificate(id: string, certificatePem: string, chainPems: readonly string[]): Promise<{ subject: string; issuer: string }>;
  /** Key locations of the configured built-in CAs, by id. */
  keyLocations(): Map<string, KeyLocation>;
  /** CAs waiting for their certificate. */
  pending(): PendingCa[];
}

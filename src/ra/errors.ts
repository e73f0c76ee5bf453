/**
 * Typed RA errors. The RA says *what* went wrong; each surface (est/, admin/) maps the code to
 * its own status and body in one table.
 */
export type RaErrorCode =
  | 'bad-request' // malformed input: base64, DER, CSR signature
  | 'unauthenticated' // missing or wrong credentials
  | 'forbidden' // authenticated, but policy refuses
  | 'not-found' // unknown or disabled label
  | 'throttled' // too many failed attempts, or too many checks waiting: retry after retryAfterSeconds
  | 'unavailable' // store or CA cannot be reached
  | 'misconfigured' // the CA connector is set up wrong (e.g. the CA refuses the RA's own credentials): not the client's fault
  | 'not-implemented'; // a protocol option this server does not offer

export class RaError extends Error {
  readonly code: RaErrorCode;
  /** For 'unauthenticated': the Basic realm to challenge with, when the profile accepts Basic. */
  readonly basicRealm: string | undefined;
  /** For 'unauthenticated': the realm of a TLS client certificate challenge, when a certificate would help. */
  readonly certificateRealm: string | undefined;
  /** For 'unavailable' and 'throttled': seconds the client should wait. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: RaErrorCode, message: string, extra: { basicRealm?: string; certificateRealm?: string; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, { cause: extra.cause });
    this.name = 'RaError';
    this.code = code;
    this.basicRealm = extra.basicRealm;
    this.certificateRealm = extra.certificateRealm;
    this.retryAfterSeconds = extra.retryAfterSeconds;
  }
}

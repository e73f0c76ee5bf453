/**
 * The EST client's failures, one kind per exit code of `estuary client` (issue 4: distinct exit
 * codes for authentication refused, policy refused, still pending, TLS or trust, network, bad response).
 */

export type ClientErrorKind = 'usage' | 'auth' | 'policy' | 'pending' | 'tls' | 'network' | 'bad-response';

export const EXIT_CODES: Record<ClientErrorKind, number> = {
  usage: 2,
  auth: 3,
  policy: 4,
  pending: 5,
  tls: 6,
  network: 7,
  'bad-response': 8,
};

/** What the server said with an error status, for callers that pass it on (the RA's upstream connector). */
export interface ServerAnswer {
  /** The server's text/plain reason, one line (may be empty). */
  reason: string;
  /** Its Retry-After in seconds, when it sent a readable one. */
  retryAfterSeconds?: number | undefined;
}

export class EstClientError extends Error {
  constructor(
    readonly kind: ClientErrorKind,
    message: string,
    readonly status?: number,
    readonly answer?: ServerAnswer,
  ) {
    super(message);
    this.name = 'EstClientError';
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

/**
 * The kind of failure an HTTP status stands for (RFC 7030 §4.2.3: 4xx refusals, 5xx server
 * errors; 503 with Retry-After is "try later", i.e. the service is not reachable right now).
 */
export function kindForStatus(status: number): ClientErrorKind {
  if (status === 401 || status === 407) return 'auth';
  if (status === 503) return 'network';
  if (status >= 400 && status < 500) return 'policy';
  return 'bad-response';
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN',
  'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EPIPE', 'EADDRNOTAVAIL', 'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ERR_SOCKET_CLOSED', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE',
]);

/** OpenSSL X509_V_ERR_* names as node reports them on a failed verification. */
const VERIFY_CODES = /^(UNABLE_TO_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|INVALID_(CA|PURPOSE|CALL|NON_CA)|PATH_LENGTH_|HOSTNAME_MISMATCH|ERROR_IN_CERT|KEYUSAGE_NO|OUT_OF_MEM)/;

/** Whether a node error code is a TLS handshake, certificate or identity failure. */
export function isTlsErrorCode(code: string | undefined): boolean {
  if (!code) return false;
  return code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO' || code === 'ECONNRESET_TLS' || VERIFY_CODES.test(code);
}

const DESCRIBE_VERIFY: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server certificate is not issued by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the server certificate is not issued by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT: 'the server certificate is not issued by a trusted CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'the server certificate chains to a CA that is not trusted',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed and not trusted',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  CERT_NOT_YET_VALID: 'the server certificate is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server certificate does not match the host',
};

/** Turn any failure of a request into an EstClientError; `what` names the operation. */
export function classifyError(err: unknown, what: string): EstClientError {
  if (err instanceof EstClientError) return err;
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = e?.code;
  const detail = e?.message ?? String(err);
  if (isTlsErrorCode(code)) {
    const described = code ? DESCRIBE_VERIFY[code] : undefined;
    return new EstClientError('tls', `${what}: TLS failure: ${described ? `${described} (${detail})` : detail}`);
  }
  if (code && NETWORK_CODES.has(code)) return new EstClientError('network', `${what}: network failure: ${detail}${code && !detail.includes(code) ? ` (${code})` : ''}`);
  if (/socket hang up|timed out|timeout/i.test(detail)) return new EstClientError('network', `${what}: network failure: ${detail}`);
  return new EstClientError('network', `${what}: ${detail}${code ? ` (${code})` : ''}`);
}

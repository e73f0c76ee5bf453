/** The one table mapping RA error codes to EST HTTP answers (text/plain bodies, RFC 7030 §4.2.3). */
import type { RaErrorCode } from '../ra/errors.js';

export const STATUS_BY_CODE: Record<RaErrorCode, number> = {
  'bad-request': 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  // RFC 6585 §4: 429 Too Many Requests, with Retry-After.
  throttled: 429,
  unavailable: 503,
  // RFC 9110 §15.6.3: 502 Bad Gateway, the CA behind the RA answered unusably; the body names the connector.
  misconfigured: 502,
  'not-implemented': 501,
};

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
  'not-implemented': 501,
};

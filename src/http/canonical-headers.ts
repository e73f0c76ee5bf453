/**
 * Response header names in canonical case on every listener. HTTP field names are
 * case-insensitive (RFC 9110 §5.1), but EST clients deployed in network equipment (libest among
 * them) compare them byte for byte and miss `content-type` or `www-authenticate`; Fastify and
 * node write whatever case they were given (Fastify: lower case). The fix sits at the node
 * `ServerResponse` level, so framework answers (404, 413, 503 on close, errors) are covered too:
 * every server is created with `ServerResponse: CanonicalServerResponse`.
 */
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';

/** Names whose conventional spelling is not Title-Case of each dash-separated word. */
const EXCEPTIONS: Readonly<Record<string, string>> = {
  'www-authenticate': 'WWW-Authenticate',
  'proxy-authenticate': 'Proxy-Authenticate',
  'x-csrf-token': 'X-CSRF-Token',
  etag: 'ETag',
  te: 'TE',
  dnt: 'DNT',
  'content-md5': 'Content-MD5',
  'x-xss-protection': 'X-XSS-Protection',
};

function titleCase(lower: string): string {
  let out = '';
  let upper = true;
  for (let i = 0; i < lower.length; i++) {
    const c = lower[i]!;
    out += upper ? c.toUpperCase() : c;
    upper = c === '-';
  }
  return out;
}

/** Header names are few and fixed per server; the cap only guards against names built from input. */
const CACHE_LIMIT = 512;
const cache = new Map<string, string>(Object.entries(EXCEPTIONS));

/** `content-type` → `Content-Type`, `www-authenticate` → `WWW-Authenticate`, any case in. */
export function canonicalHeaderName(name: string): string {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  const lower = name.toLowerCase();
  const canonical = EXCEPTIONS[lower] ?? titleCase(lower);
  if (cache.size < CACHE_LIMIT) cache.set(name, canonical);
  return canonical;
}

type HeaderArg = OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined;

function canonicalHeaders(headers: HeaderArg): HeaderArg {
  if (!headers) return headers;
  if (Array.isArray(headers)) {
    // [[name, value], ...] or the flat [name, value, name, value, ...] form.
    if (headers.length > 0 && Array.isArray(headers[0])) {
      return (headers as unknown as [string, OutgoingHttpHeader][]).map(([k, v]) => [canonicalHeaderName(k), v]) as unknown as OutgoingHttpHeader[];
    }
    return headers.map((v, i) => (i % 2 === 0 ? canonicalHeaderName(String(v)) : v)) as OutgoingHttpHeader[];
  }
  const out: OutgoingHttpHeaders = {};
  for (const k in headers) out[canonicalHeaderName(k)] = headers[k];
  return out;
}

/** A node ServerResponse that writes every header name in canonical case, however it was set. */
export class CanonicalServerResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  override setHeader(name: string, value: number | string | readonly string[]): this {
    return super.setHeader(canonicalHeaderName(name), value);
  }

  override appendHeader(name: string, value: string | readonly string[]): this {
    return super.appendHeader(canonicalHeaderName(name), value);
  }

  override writeHead(statusCode: number, reasonOrHeaders?: string | HeaderArg, headers?: HeaderArg): this {
    if (typeof reasonOrHeaders === 'string') return super.writeHead(statusCode, reasonOrHeaders, canonicalHeaders(headers));
    return super.writeHead(statusCode, canonicalHeaders(reasonOrHeaders));
  }
}

/**
 * OCSP over HTTP (RFC 6960 Appendix A) on the CRL listener: POST /ocsp/<ca> with an
 * application/ocsp-request body, or GET /ocsp/<ca>/<url-encoded base64 of the request>.
 * Requests that are not OCSP at all (wrong media type, no body, bad base64, too large) get a
 * text/plain 4xx; a DER body that is not a valid OCSPRequest gets an OCSP malformedRequest.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { errorResponse } from '../pki/ocsp.js';
import type { OcspService } from '../ra/ocsp-service.js';

const OCSP_PATH = /^\/ocsp\/([A-Za-z0-9_-]{1,64})(?:\/(.*))?$/;
/** A request for a few certificates with a nonce is a few hundred bytes. */
const MAX_REQUEST = 16 * 1024;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** Handles /ocsp/... and returns true, or returns false for other paths. */
export function handleOcsp(req: IncomingMessage, res: ServerResponse, ocsp: OcspService, logger: Logger): boolean {
  const m = OCSP_PATH.exec((req.url ?? '').split('?')[0]!);
  if (!m) return false;
  const caId = m[1]!;
  const text = (status: number, body: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers }).end(body + '\n');
  };
  const answer = (requestDer: Buffer): void => {
    ocsp.respond(caId, requestDer).then(
      (der) => (der ? send(res, der) : text(404, `no OCSP responder for CA "${caId}"`)),
      (err: unknown) => {
        logger.error({ err }, 'OCSP response failed');
        send(res, errorResponse('internalError'));
      },
    );
  };
  if (!ocsp.has(caId)) {
    req.resume();
    text(404, `no OCSP responder for CA "${caId}"`);
    return true;
  }
  if (req.method === 'GET' && m[2] !== undefined) {
    let der: Buffer;
    try {
      const b64 = decodeURIComponent(m[2]);
      if (b64.length > MAX_REQUEST || !BASE64.test(b64)) throw new Error('not base64');
      der = Buffer.from(b64, /[-_]/.test(b64) ? 'base64url' : 'base64');
    } catch {
      text(400, 'the OCSP request in the path is not URL-encoded base64 (RFC 6960 Appendix A.1)');
      return true;
    }
    answer(der);
    return true;
  }
  if (req.method !== 'POST') {
    req.resume();
    text(req.method === 'GET' ? 400 : 405, 'OCSP requests are POSTed as application/ocsp-request, or sent as GET /ocsp/<ca>/<base64 request>', { Allow: 'GET, POST' });
    return true;
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/ocsp-request') {
    req.resume();
    text(415, 'an OCSP request is sent as application/ocsp-request');
    return true;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_REQUEST) {
      if (!refused) text(413, `an OCSP request is at most ${MAX_REQUEST} bytes`, { Connection: 'close' });
      refused = true;
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (refused) return;
    if (size === 0) return text(400, 'the OCSP request body is empty');
    answer(Buffer.concat(chunks));
  });
  req.on('error', () => res.destroy());
  return true;
}

function send(res: ServerResponse, der: Buffer): void {
  // Responses carry the client's nonce and a fresh producedAt: not for shared caches.
  res.writeHead(200, { 'Content-Type': 'application/ocsp-response', 'Content-Length': der.length, 'Cache-Control': 'no-cache' }).end(der);
}

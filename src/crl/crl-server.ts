/**
 * CRL publication over plain HTTP (RFC 5280 §4.2.1.13 distribution points are http URIs):
 * GET /crl/<ca>.crl answers the CA's current DER CRL as application/pkix-crl, /crl/<ca>-delta.crl
 * its delta CRL when those are on; /ocsp/<ca> is the OCSP responder (ocsp-http.ts).
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { clientErrorHandler } from '../http/client-error.js';
import { answerUnmetExpectations, refuseMissingHost } from '../http/http-semantics.js';
import { DEFAULT_LIMITS, httpServerOptions, type ListenerLimits } from '../http/listener-limits.js';
import type { CrlService } from '../ra/crl-service.js';
import type { OcspService } from '../ra/ocsp-service.js';
import { handleOcsp } from './ocsp-http.js';

// <ca>.crl, <ca>.g<n>.crl (key n of a CA rolled over), <ca>-delta.crl
const PATH = /^\/crl\/([A-Za-z0-9_-]{1,64}(?:\.g\d{1,3})?)\.crl$/;

/** `ocsp`: the OCSP responder served at /ocsp/<ca>; `limits`: the listener's timeouts. */
export function createCrlServer(crls: CrlService, logger: Logger, options: { ocsp?: OcspService; limits?: ListenerLimits } = {}): Server {
  const { ocsp, limits = DEFAULT_LIMITS } = options;
  const server = createServer(httpServerOptions(limits), (req, res) => {
    if (refuseMissingHost(req, res)) return;
    if (ocsp && handleOcsp(req, res, ocsp, logger)) return;
    const text = (status: number, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(body + '\n');
    };
    const m = PATH.exec((req.url ?? '').split('?')[0]!);
    if (!m) return text(404, 'no CRL here; CRLs are at /crl/<ca>.crl');
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'CRLs are fetched with GET', { allow: 'GET, HEAD' });
    // RFC 5280 §5.2.4: /crl/<ca>-delta.crl is the CA's delta CRL (a CA id ending in -delta keeps its complete CRL).
    const name = m[1]!;
    const delta = /-delta$/.test(name) && !crls.has(name);
    (delta ? crls.currentDelta(name.slice(0, -'-delta'.length)) : crls.current(name)).then(
      (der) => {
        if (!der) return text(404, crls.whyNone(delta ? name.slice(0, -'-delta'.length) : name));
        res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': der.length, 'cache-control': 'max-age=300' });
        res.end(req.method === 'HEAD' ? undefined : der);
      },
      (err: unknown) => {
        logger.error({ err }, 'CRL generation failed');
        text(503, 'the CRL cannot be produced right now', { 'retry-after': '30' });
      },
    );
  });
  server.on('clientError', clientErrorHandler(limits.requestTimeoutMs));
  answerUnmetExpectations(server);
  return server;
}

/**
 * CRL publication over plain HTTP (RFC 5280 §4.2.1.13 distribution points are http URIs):
 * GET /crl/<ca>.crl answers the CA's current DER CRL as application/pkix-crl.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { clientErrorHandler } from '../http/client-error.js';
import { DEFAULT_LIMITS, httpServerOptions, type ListenerLimits } from '../http/listener-limits.js';
import type { CrlService } from '../ra/crl-service.js';

const PATH = /^\/crl\/([A-Za-z0-9_-]{1,64})\.crl$/;

export function createCrlServer(crls: CrlService, logger: Logger, limits: ListenerLimits = DEFAULT_LIMITS): Server {
  const server = createServer(httpServerOptions(limits), (req, res) => {
    const text = (status: number, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(body + '\n');
    };
    const m = PATH.exec((req.url ?? '').split('?')[0]!);
    if (!m) return text(404, 'no CRL here; CRLs are at /crl/<ca>.crl');
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'CRLs are fetched with GET', { allow: 'GET, HEAD' });
    crls.current(m[1]!).then(
      (der) => {
        if (!der) return text(404, `no CRL for CA "${m[1]}"`);
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
  return server;
}

/**
 * The operations listener: plain HTTP for load balancers and Prometheus, on its own address
 * (ops.listen, 127.0.0.1:9090 by default) so that neither the EST port nor the Web RA answers
 * probes. It takes functions, not a runtime: one process answers from its own runtime, the
 * cluster primary of `serve --workers N` by asking every worker.
 *
 *   GET /healthz  200 "ok": the process is alive and its event loop turns
 *   GET /readyz   200 or 503, JSON { ready, checks: [{ name, ok, detail? }] }
 *   GET /metrics  Prometheus text format
 *
 * GET and HEAD only (RFC 9110 §9.3.2: HEAD answers like GET without the body); anything else is 405.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { clientErrorHandler } from '../http/client-error.js';
import { answerUnmetExpectations } from '../http/http-semantics.js';
import { DEFAULT_LIMITS, httpServerOptions, type ListenerLimits } from '../http/listener-limits.js';
import type { ReadyCheck } from './ops-source.js';

export interface OpsServerOptions {
  ready: () => Promise<ReadyCheck[]>;
  metrics: () => Promise<{ contentType: string; body: string }>;
  logger: Logger;
  /** The request bound of every listener (limits.requestTimeoutSeconds). */
  limits?: ListenerLimits;
}

export interface OpsServer {
  server: Server;
  /** Resolves to the bound port. EADDRINUSE is an OpsListenError naming the setting (default ops.listen). */
  listen(address: { host: string; port: number }, setting?: string): Promise<number>;
  /** Stop listening and close every connection (probes and scrapes are short: nothing to drain). */
  close(): Promise<void>;
}

/** The ops listener could not bind: says which setting to change. */
export class OpsListenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OpsListenError';
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'content-type': contentType, 'content-length': bytes.length, 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : bytes);
}

const TEXT = 'text/plain; charset=utf-8';

export function createOpsServer(o: OpsServerOptions): OpsServer {
  const logger = o.logger.child({ listener: 'ops' });

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const known = path === '/healthz' || path === '/readyz' || path === '/metrics';
    if (!known) return send(res, 404, TEXT, `no operations resource at ${path} (try /healthz, /readyz or /metrics)\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, TEXT, `${path} accepts only GET, HEAD\n`, { allow: 'GET, HEAD' });
    switch (path) {
      case '/healthz':
        return send(res, 200, TEXT, 'ok\n');
      case '/readyz': {
        const checks = await o.ready();
        const ready = checks.every((c) => c.ok);
        if (!ready) logger.debug({ checks: checks.filter((c) => !c.ok) }, 'not ready');
        return send(res, ready ? 200 : 503, 'application/json', `${JSON.stringify({ ready, checks })}\n`);
      }
      default: {
        const { contentType, body } = await o.metrics();
        return send(res, 200, contentType, body);
      }
    }
  }

  const limits = o.limits ?? DEFAULT_LIMITS;
  // Canonical header names and the same answers to malformed requests as every other listener.
  const server = createServer(httpServerOptions(limits), (req, res) => {
    // A request body is never read: drain it so the connection can be reused.
    req.resume();
    answer(req, res).catch((err: unknown) => {
      logger.error({ err, path: req.url }, 'operations request failed');
      if (!res.headersSent) send(res, 500, TEXT, 'internal error\n');
      else res.destroy();
    });
  });

  server.on('clientError', clientErrorHandler(limits.requestTimeoutMs));
  answerUnmetExpectations(server);

  return {
    server,
    listen(address, setting = 'ops.listen') {
      return new Promise<number>((resolve, reject) => {
        const failed = (err: NodeJS.ErrnoException): void => {
          const where = `${address.host}:${address.port}`;
          if (err.code === 'EADDRINUSE') reject(new OpsListenError(`${setting}: ${where} is already in use (another Estuary on this machine?); set ${setting} (or ESTUARY_OPS_LISTEN) to a free address, or off`, { cause: err }));
          else reject(new OpsListenError(`${setting}: cannot listen on ${where}: ${err.message}`, { cause: err }));
        };
        server.once('error', failed);
        server.listen(address.port, address.host, () => {
          server.off('error', failed);
          const bound = server.address();
          resolve(typeof bound === 'object' && bound ? bound.port : address.port);
        });
      });
    },
    close() {
      if (!server.listening) return Promise.resolve();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/**
 * The EST HTTPS listener: label routing under /.well-known/est/ (RFC 7030 §3.2.2), body
 * handling, and the single place where errors become HTTP answers.
 */
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { EnrollmentService } from '../ra/enrollment-service.js';
import { RaError } from '../ra/errors.js';
import { cacertsEndpoint } from './cacerts.js';
import { csrattrsEndpoint } from './csrattrs.js';
import type { Endpoint } from './endpoint.js';
import { serverkeygenEndpoint, simpleenrollEndpoint, simplereenrollEndpoint } from './enroll.js';
import { clientErrorHandler } from '../http/client-error.js';
import { answerUnmetExpectations, lacksHost, MISSING_HOST } from '../http/http-semantics.js';
import { DEFAULT_LIMITS, httpsServerOptions, type ListenerLimits } from '../http/listener-limits.js';
import type { EstRequestRecorder } from '../ops/est-request-metrics.js';
import { STATUS_BY_CODE } from './errors-to-http.js';
import { fullcmcEndpoint } from './unsupported.js';
import { classifyRequest, proxiedRequest, proxyMode } from './proxied-request.js';
import { normaliseAddress, type ProxySettings } from './proxy-trust.js';
import { sendText } from './wire.js';
import { lazyChildLogger } from '../http/lazy-child-logger.js';
import { genRequestId, installRequestContext } from '../http/request-hooks.js';

export const EST_PREFIX = '/.well-known/est';
export const MAX_BODY_BYTES = 64 * 1024;

const ENDPOINTS: ReadonlyMap<string, Endpoint> = new Map(
  [cacertsEndpoint, simpleenrollEndpoint, simplereenrollEndpoint, csrattrsEndpoint, fullcmcEndpoint, serverkeygenEndpoint].map((e) => [e.operation, e]),
);

/** The operations the router knows (metrics label values). */
export const EST_OPERATIONS: readonly string[] = [...ENDPOINTS.keys()];

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

export interface EstServerOptions {
  service: EnrollmentService;
  logger: Logger;
  tls: { key: string | Buffer; cert: string | Buffer };
  limits?: ListenerLimits;
  /** Proxy mode (est.proxy): client certificates forwarded by trusted TLS-terminating proxies. */
  proxy?: ProxySettings | undefined;
  /** Every answered request, with its operation, label, status and duration. */
  metrics?: EstRequestRecorder;
}

/**
 * RFC 9110 §15.5.2 / §11.6.1: every 401 carries at least one challenge. Basic where the profile
 * accepts a password; otherwise `TLS-Client-Certificate realm="..."`, a scheme no HTTP client
 * answers with a password (none is registered for TLS client authentication), so a device is
 * not invited to send credentials the profile would refuse.
 */
export const CERTIFICATE_SCHEME = 'TLS-Client-Certificate';

/**
 * One header field per challenge, Basic first: Bouncy Castle's client reads only the first field
 * and cannot parse two challenges in one ("Expecting assign: '='").
 */
function challenges(err: RaError): string | string[] {
  const list: string[] = [];
  if (err.basicRealm) list.push(`Basic realm="${err.basicRealm}"`);
  if (err.certificateRealm || list.length === 0) list.push(`${CERTIFICATE_SCHEME} realm="${err.certificateRealm ?? 'estuary'}"`);
  return list.length === 1 ? list[0]! : list;
}

function sendError(request: FastifyRequest, reply: FastifyReply, err: RaError): FastifyReply {
  const status = STATUS_BY_CODE[err.code];
  if (err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds));
  if (status === 401) {
    reply.header('www-authenticate', challenges(err));
    if (!request.headers.authorization) {
      // A header value is Latin-1 without controls: anything else in the reason becomes '?'.
      reply.header('x-est-reason', err.message.replace(/[^\x20-\x7e]/g, '?'));
      // Bouncy Castle's EST client (HttpAuth, 1.72 and later) closes a Basic challenge without
      // reading it, and its ESTResponse refuses to close a body it has not read ("Stream closed
      // before limit fully read" whenever Content-Length >= 2): the Basic flow fails on any body.
      // It sends no User-Agent; clients that do (curl, libest, browsers, Estuary's own) get the
      // reason as text like every other error.
      if (err.basicRealm && request.headers['user-agent'] === undefined) {
        return reply.code(status).header('content-type', 'text/plain; charset=utf-8').header('content-length', 0).send();
      }
    }
  }
  return sendText(reply, status, err.message);
}

/** Framework errors (body limits, parse failures) as EST text answers. */
function frameworkStatus(err: { statusCode?: number; code?: string }): { status: number; text: string } {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, text: `the request body is larger than ${MAX_BODY_BYTES} bytes` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, text: 'unsupported Content-Type' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, text: 'malformed request body' };
    default:
      if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return { status: err.statusCode, text: 'bad request' };
      return { status: 500, text: 'internal server error' };
  }
}

export async function createEstServer(options: EstServerOptions) {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
    // Requests are not logged: the per-request child logger is made only if a request logs (an error).
    childLoggerFactory: lazyChildLogger,
    genReqId: genRequestId,
    bodyLimit: MAX_BODY_BYTES,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // The router's own refusals (a path that is not valid percent-encoding, a label longer than
    // maxParamLength) answer in text/plain like every other EST error, not in Fastify's JSON.
    frameworkErrors: (err, _request, reply) => {
      if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendText(reply, 414, 'the request path has a segment that is too long');
      if (err.code === 'FST_ERR_BAD_URL') return sendText(reply, 400, 'the request path is not valid percent-encoding (RFC 3986 §2.1)');
      return sendText(reply, 400, 'bad request');
    },
    // Fastify sets the server's requestTimeout from its own option: the same bound.
    requestTimeout: limits.requestTimeoutMs,
    clientErrorHandler: clientErrorHandler(limits.requestTimeoutMs),
    https: {
      ...httpsServerOptions(options.tls, limits),
      // Client certificates are requested from everyone and judged per profile by the RA.
      requestCert: true,
      rejectUnauthorized: false,
    },
  });

  // First: every answer, even a refusal by the hooks below, names the request's id.
  installRequestContext(app, (raw) => proxiedRequest(raw)?.address ?? normaliseAddress(raw.socket.remoteAddress ?? ''));
  app.removeAllContentTypeParsers();
  // Every body arrives as raw bytes; endpoints check the media type and say why they refuse.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof RaError) return sendError(request, reply, err);
    const { status, text } = frameworkStatus(err as { statusCode?: number; code?: string });
    if (status >= 500) request.log.error({ err }, 'request failed');
    return sendText(reply, status, text);
  });
  app.addHook('onRequest', async (request, reply) => {
    if (lacksHost(request.raw)) return sendText(reply, 400, MISSING_HOST);
  });
  if (options.proxy) {
    const mode = proxyMode(options.proxy);
    const { clientCertHeader, trustedProxies, forwardedFor } = options.proxy;
    options.logger.info({ clientCertHeader, trustedProxies, forwardedFor }, 'proxy mode: client certificates of requests from trusted proxies are read from the header; PoP linking cannot work through them');
    // A RaError thrown here (a forged or unreadable certificate header) is a 400 from the error handler.
    app.addHook('onRequest', async (request) => classifyRequest(mode, request.raw));
  }
  const metrics = options.metrics;
  if (metrics) {
    // The one place every EST answer ends (errors and 404s included). A callback hook: no promise per request.
    app.addHook('onResponse', (request, reply, done) => {
      const params = request.params as { label?: string; op?: string } | undefined;
      metrics.record(params?.op ?? '', params?.label ?? '', reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }
  answerUnmetExpectations(app.server);
  app.setNotFoundHandler((request, reply) => sendText(reply, 404, `no EST resource at ${request.url.split('?')[0]}`));

  const route = async (request: FastifyRequest<{ Params: { label?: string; op: string } }>, reply: FastifyReply): Promise<FastifyReply> => {
    const { label = '', op } = request.params;
    const endpoint = ENDPOINTS.get(op);
    if (!endpoint) return sendText(reply, 404, `unknown EST operation "${op}"`);
    // RFC 9110 §9.3.2: HEAD answers like GET without the body (node drops the body of a HEAD answer).
    const allowed = endpoint.method === 'GET' ? 'GET, HEAD' : endpoint.method;
    if (request.method !== endpoint.method && !(request.method === 'HEAD' && endpoint.method === 'GET')) {
      reply.header('allow', allowed);
      return sendText(reply, 405, `${op} accepts only ${allowed}`);
    }
    return endpoint.handle({ label, request, reply, service: options.service });
  };

  app.route({ method: [...ALL_METHODS], url: `${EST_PREFIX}/:op`, handler: route });
  app.route({ method: [...ALL_METHODS], url: `${EST_PREFIX}/:label/:op`, handler: route });
  return app;
}
export type EstServer = Awaited<ReturnType<typeof createEstServer>>;

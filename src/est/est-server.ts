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
import { STATUS_BY_CODE } from './errors-to-http.js';
import { fullcmcEndpoint } from './unsupported.js';
import { sendText } from './wire.js';

export const EST_PREFIX = '/.well-known/est';
export const MAX_BODY_BYTES = 64 * 1024;

const ENDPOINTS: ReadonlyMap<string, Endpoint> = new Map(
  [cacertsEndpoint, simpleenrollEndpoint, simplereenrollEndpoint, csrattrsEndpoint, fullcmcEndpoint, serverkeygenEndpoint].map((e) => [e.operation, e]),
);

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

export interface EstServerOptions {
  service: EnrollmentService;
  logger: Logger;
  tls: { key: string | Buffer; cert: string | Buffer };
}

function sendError(request: FastifyRequest, reply: FastifyReply, err: RaError): FastifyReply {
  const status = STATUS_BY_CODE[err.code];
  if (err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds));
  if (err.basicRealm) {
    reply.header('www-authenticate', `Basic realm="${err.basicRealm}"`);
    // The first leg of HTTP authentication (no credentials sent yet) is a bare challenge:
    // Bouncy Castle's EST client (1.72) fails on a 401 challenge that carries a body.
    // Every 401 that answers presented credentials carries its reason as text.
    if (!request.headers.authorization) {
      reply.header('x-est-reason', err.message);
      return reply.code(status).header('content-type', 'text/plain; charset=utf-8').header('content-length', 0).send();
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
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
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
    https: {
      key: options.tls.key,
      cert: options.tls.cert,
      minVersion: 'TLSv1.2',
      // Client certificates are requested from everyone and judged per profile by the RA.
      requestCert: true,
      rejectUnauthorized: false,
    },
  });

  app.removeAllContentTypeParsers();
  // Every body arrives as raw bytes; endpoints check the media type and say why they refuse.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof RaError) return sendError(request, reply, err);
    const { status, text } = frameworkStatus(err as { statusCode?: number; code?: string });
    if (status >= 500) request.log.error({ err }, 'request failed');
    return sendText(reply, status, text);
  });
  app.setNotFoundHandler((request, reply) => sendText(reply, 404, `no EST resource at ${request.url.split('?')[0]}`));

  const route = async (request: FastifyRequest<{ Params: { label?: string; op: string } }>, reply: FastifyReply): Promise<FastifyReply> => {
    const { label = '', op } = request.params;
    const endpoint = ENDPOINTS.get(op);
    if (!endpoint) return sendText(reply, 404, `unknown EST operation "${op}"`);
    if (request.method !== endpoint.method) {
      reply.header('allow', endpoint.method);
      return sendText(reply, 405, `${op} accepts only ${endpoint.method}`);
    }
    return endpoint.handle({ label, request, reply, service: options.service });
  };

  app.route({ method: [...ALL_METHODS], url: `${EST_PREFIX}/:op`, handler: route });
  app.route({ method: [...ALL_METHODS], url: `${EST_PREFIX}/:label/:op`, handler: route });
  return app;
}
export type EstServer = Awaited<ReturnType<typeof createEstServer>>;

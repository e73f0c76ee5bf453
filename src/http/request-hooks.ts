/**
 * The request id on a listener (EST, Web RA): taken from a sane X-Request-Id or made (Fastify's
 * genReqId), sent back in the X-Request-Id answer header, and the request's context
 * (request-context.ts) set for its hooks and its handler, so the lines it logs and the audit
 * events it records carry the id and the client's address.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import { requestIdOf, runInRequest } from './request-context.js';

/** For Fastify's `genReqId` option. */
export function genRequestId(raw: IncomingMessage): string {
  return requestIdOf(raw.headers);
}

/**
 * `clientIp` says who the client is (through a trusted proxy: the forwarded client); it is asked
 * once the request's own hooks ran. The context is set twice: at the start, and again before the
 * handler, since reading the body continues outside the context set at the start.
 */
export function installRequestContext<L extends FastifyBaseLogger>(
  app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, L>,
  clientIp: (raw: IncomingMessage) => string | null): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-Id', request.id);
    runInRequest({ requestId: request.id, clientIp: null }, done);
  });
  app.addHook('preHandler', (request, _reply, done) => {
    runInRequest({ requestId: request.id, clientIp: clientIp(request.raw) }, done);
  });
}

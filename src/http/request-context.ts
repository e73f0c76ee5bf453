/**
 * The request being served, for what is written on its behalf far from the HTTP layer: every log
 * line (the `reqId` of the logger's mixin, cli/runtime.ts) and every audit event (its client
 * address and request id, filled in by the stores) carry it without each call passing it down.
 *
 * A deliberate exception to "no ambient state": the request id must reach lines logged and events
 * recorded by the RA, the CA connectors and the stores, including code other features add later,
 * and threading it through every signature would miss some. It is request-scoped
 * (AsyncLocalStorage), never a mutable global, and code outside a request sees none.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { symbols } from 'pino';

export interface RequestOrigin {
  requestId: string;
  /** The client's address (through a trusted proxy: the forwarded client), once known. */
  clientIp: string | null;
}

const storage = new AsyncLocalStorage<RequestOrigin>();

/** The request served in this async context, if any. */
export function currentRequest(): RequestOrigin | undefined {
  return storage.getStore();
}

/** Runs `fn` (and everything it starts) as part of serving `origin`. */
export function runInRequest<T>(origin: RequestOrigin, fn: () => T): T {
  return storage.run(origin, fn);
}

/** An incoming X-Request-Id we repeat: 1-128 visible characters safe in a header, a log and a CSV. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * The request's id: the client's (or its proxy's) X-Request-Id when it is sane, so one id follows
 * the request through the load balancer and our logs; otherwise a new UUID.
 */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const given = headers['x-request-id'];
  if (typeof given === 'string' && SANE_REQUEST_ID.test(given)) return given;
  return randomUUID();
}

/**
 * The logger mixin (pino `mixin`): the request id as `reqId` on every line logged while serving a
 * request, by whatever logger, except by Fastify's request logger, which carries it already.
 */
export function requestLogMixin(_obj: object, _level: number, logger?: object): Record<string, unknown> {
  const origin = storage.getStore();
  // a new object each time: pino merges the line's fields into it
  if (!origin) return {};
  const bound = logger ? (logger as Record<symbol, unknown>)[symbols.chindingsSym] : undefined;
  if (typeof bound === 'string' && bound.includes('"reqId":')) return {};
  return { reqId: origin.requestId };
}

/** An audit event's origin fields: the caller's when given, else the current request's. */
export function auditOrigin(e: { clientIp?: string | null; requestId?: string | null }): { clientIp: string | null; requestId: string | null } {
  const origin = storage.getStore();
  return { clientIp: e.clientIp ?? origin?.clientIp ?? null, requestId: e.requestId ?? origin?.requestId ?? null };
}

/**
 * The Web RA listener: HTTPS (the EST server's certificate), the JSON API under /api/ with its
 * OpenAPI document, and the single-page UI at /. It shares the store with the EST service, so
 * a change made here applies to the very next EST request.
 */
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { genRequestId, installRequestContext } from '../http/request-hooks.js';
import { normaliseAddress } from '../est/proxy-trust.js';
import type { Logger } from 'pino';
import { clientErrorHandler } from '../http/client-error.js';
import { answerUnmetExpectations, lacksHost, MISSING_HOST } from '../http/http-semantics.js';
import { DEFAULT_LIMITS, httpsServerOptions, type ListenerLimits } from '../http/listener-limits.js';
import type { Store } from '../store/store.js';
import { accountRoutes } from './api-accounts.js';
import { mfaRoutes } from './api-mfa.js';
import { auditRoutes } from './api-audit.js';
import { caLifecycleRoutes } from './api-ca-lifecycle.js';
import { caRoutes } from './api-cas.js';
import type { CaLifecycle } from './ca-lifecycle.js';
import { certificateRoutes } from './api-certificates.js';
import { certificateExportRoutes } from './api-certificate-export.js';
import { dashboardRoutes } from './api-dashboard.js';
import { profileRoutes } from './api-profiles.js';
import { requestRoutes } from './api-requests.js';
import { selfRoutes } from './api-self.js';
import { webhookRoutes } from './api-webhooks.js';
import type { WebhookService } from '../notify/webhook-service.js';
import { sessionRoutes } from './api-session.js';
import { certificateSessionRoutes, clientCertificateRequest } from './api-session-certificate.js';
import { isTokenPrincipal, type TokenPrincipal } from './api-tokens-auth.js';
import { tokenRoutes } from './api-tokens.js';
import { authorize } from './guard.js';
import { buildOpenApi } from './openapi.js';
import { adminErrorHandler, problem } from './problem.js';
import type { AdminContext, ApiRoute, CaConnector } from './route.js';
import { SessionManager, type Session } from './sessions.js';
import { DEFAULT_THROTTLE, SignInThrottle, type ThrottleOptions } from './sign-in-throttle.js';
import { HashGate } from '../ra/hash-gate.js';
import { parseAnchors } from '../ra/client-cert.js';
import { registerUi } from './static-ui.js';

export const ADMIN_BODY_LIMIT = 1024 * 1024;
const SESSION_PURGE_MS = 10 * 60_000;

const CSP = "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'; img-src 'self' data:";

const openApiRoute: ApiRoute = {
  method: 'GET', url: '/api/openapi.json', operationId: 'getOpenApi', tag: 'meta', summary: 'This document', access: 'public', schema: {},
  responses: { 200: { description: 'OpenAPI 3.1', schema: { type: 'object' } } },
  async handler() {
    return OPENAPI;
  },
};

/** Every API route; the OpenAPI document describes exactly these. */
export const API_ROUTES: readonly ApiRoute[] = [
  ...sessionRoutes, ...certificateSessionRoutes, ...dashboardRoutes, ...caRoutes, ...caLifecycleRoutes, ...profileRoutes, ...accountRoutes, ...mfaRoutes, ...requestRoutes, ...certificateRoutes, ...certificateExportRoutes, ...auditRoutes, ...tokenRoutes, ...webhookRoutes, ...selfRoutes, openApiRoute,
];

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

const OPENAPI = buildOpenApi(API_ROUTES, packageVersion());

export interface AdminServerOptions {
  store: Store;
  cas: readonly CaConnector[];
  /** Making and importing built-in CAs from the Web RA (admins only); left out: those routes answer 501. */
  caLifecycle?: CaLifecycle;
  estUrl(label: string): string;
  /** The EST listener takes client certificates from a TLS-terminating proxy (est.proxy); profile views say what that means. */
  estBehindProxy?: boolean;
  /** The label the unlabeled EST path serves (est.defaultProfile): marked in lists, never removed. Default `default`. */
  defaultProfile?: string;
  logger: Logger;
  tls: { key: string | Buffer; cert: string | Buffer };
  sessionIdleMinutes: number;
  sessionAbsoluteHours: number;
  /** The built UI (dist/admin-ui); undefined or missing: a page says it is not built. */
  uiDir: string | undefined;
  now?: () => Date;
  throttle?: Partial<Omit<ThrottleOptions, 'now' | 'store'>>;
  limits?: ListenerLimits;
  /** Bounds the full password hashes of sign-ins (shared with EST at the composition root). */
  gate?: HashGate;
  /** CA certificates (PEM) whose client certificates may sign in; the listener then asks for one (api-session-certificate.ts). */
  clientCertificateAnchors?: readonly string[];
  /** Webhooks (notify/webhook-service.ts); left out: those routes answer 501. */
  webhooks?: WebhookService;
}

/** Query strings and path parameters arrive as text: numbers and booleans the schema asks for are converted (bodies never are). */
function coerce(values: unknown, schema: object | undefined): void {
  const props = (schema as { properties?: Record<string, { type?: string }> } | undefined)?.properties;
  if (!props || typeof values !== 'object' || values === null) return;
  const v = values as Record<string, unknown>;
  for (const [key, prop] of Object.entries(props)) {
    const text = v[key];
    if (typeof text !== 'string') continue;
    if ((prop.type === 'integer' || prop.type === 'number') && /^-?\d+(\.\d+)?$/.test(text)) v[key] = Number(text);
    else if (prop.type === 'boolean' && (text === 'true' || text === 'false')) v[key] = text === 'true';
  }
}

function securityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('content-security-policy', CSP);
  // RFC 6797: browsers keep to HTTPS for this host (the Web RA has no plain-HTTP listener to fall back to).
  reply.header('strict-transport-security', 'max-age=31536000');
  reply.header('x-frame-options', 'DENY');
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('cross-origin-opener-policy', 'same-origin');
  reply.header('cross-origin-resource-policy', 'same-origin');
  if (request.url === '/api' || request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
}

export async function createAdminServer(o: AdminServerOptions) {
  const now = o.now ?? (() => new Date());
  const limits = o.limits ?? DEFAULT_LIMITS;
  const ctx: AdminContext = {
    store: o.store,
    cas: o.cas,
    caLifecycle: o.caLifecycle,
    estUrl: o.estUrl,
    estBehindProxy: o.estBehindProxy ?? false,
    defaultProfile: o.defaultProfile ?? 'default',
    now,
    logger: o.logger,
    sessions: new SessionManager({ store: o.store, idleMs: o.sessionIdleMinutes * 60_000, absoluteMs: o.sessionAbsoluteHours * 3_600_000, now: () => now().getTime() }),
    throttle: new SignInThrottle({ ...DEFAULT_THROTTLE, ...o.throttle, store: o.store, now: () => now().getTime() }),
    gate: o.gate ?? new HashGate(),
    clientCertificateAnchors: parseAnchors(o.clientCertificateAnchors ?? []),
    webhooks: o.webhooks,
  };
  const app = Fastify({
    loggerInstance: o.logger.child({ listener: 'admin' }),
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: genRequestId,
    bodyLimit: ADMIN_BODY_LIMIT,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    requestTimeout: limits.requestTimeoutMs,
    clientErrorHandler: clientErrorHandler(limits.requestTimeoutMs),
    https: { ...httpsServerOptions(o.tls, limits), ...clientCertificateRequest(o.clientCertificateAnchors) },
    // Bodies are validated as sent: no coercion, and an unknown property is an error, not dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false, discriminator: true } },
  });

  installRequestContext(app, (raw) => normaliseAddress(raw.socket.remoteAddress ?? ''));
  // JSON only (form posts cannot reach the API); an empty JSON body reads as no body.
  app.removeAllContentTypeParsers();
  const json = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    json(request, body as string, done);
  });

  app.setErrorHandler(adminErrorHandler);
  app.addHook('onRequest', async (request) => {
    if (lacksHost(request.raw)) throw problem.field('Host', MISSING_HOST);
  });
  answerUnmetExpectations(app.server);
  app.setNotFoundHandler(async (request) => {
    throw problem.notFound(`no resource at ${request.method} ${request.url.split('?')[0]}`);
  });
  app.addHook('onSend', async (request, reply, payload) => {
    securityHeaders(request, reply);
    return payload;
  });

  const principals = new WeakMap<FastifyRequest, Session | TokenPrincipal>();
  for (const route of API_ROUTES) {
    app.route({
      method: route.method,
      url: route.url,
      schema: route.schema,
      // Who may call comes first: an anonymous caller gets 401 whatever the input.
      onRequest: async (request, reply) => {
        const principal = await authorize(ctx, request, reply, route.access);
        if (principal) principals.set(request, principal);
      },
      preValidation: async (request) => {
        coerce(request.params, route.schema.params);
        coerce(request.query, route.schema.querystring);
        if (route.schema.body && request.body === undefined) request.body = {};
      },
      handler: async (request, reply) => {
        const principal = principals.get(request);
        const token = isTokenPrincipal(principal) ? principal : undefined;
        const session = token ? undefined : (principal as Session | undefined);
        return route.handler({
          request, reply, params: request.params, query: request.query, body: request.body, session, ...(token ? { token } : {}), actor: token?.actor ?? session?.email ?? 'anonymous',
        }, ctx);
      },
    });
  }
  registerUi(app, o.uiDir);
  // Expired sessions are refused at lookup anyway; this only keeps the table small. Deleting is
  // idempotent, so every instance may run it without coordination.
  const purge = setInterval(() => {
    ctx.sessions.purge().catch((err: unknown) => o.logger.warn({ err }, 'purging expired Web RA sessions failed'));
  }, SESSION_PURGE_MS);
  purge.unref();
  app.addHook('onClose', async () => clearInterval(purge));
  return app;
}
export type AdminServer = Awaited<ReturnType<typeof createAdminServer>>;

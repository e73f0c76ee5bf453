/**
 * API tokens on the JSON API (RFC 6750): `Authorization: Bearer est_…`. A bearer call carries no
 * cookie and needs no CSRF token (a browser never adds an Authorization header to a cross-site
 * request by itself, and the API answers no CORS preflight); the route's roles apply to the
 * token's role as they do to a session's. An expired, revoked or unknown token is a 401 with
 * `WWW-Authenticate: Bearer … error="invalid_token"` (RFC 6750 §3) and the reason as text.
 *
 * Each use with a valid token updates its "last used" (at most once a minute per token); state
 * changes are audited by their routes with the actor `token:<name>`. A refused use of a revoked
 * or expired token is an audit event (`token.refused`, at most one per token a minute), for a
 * token still in use somewhere after it was withdrawn is worth an operator's attention.
 * The session API (/api/session) is for the browser: a token gets 403 there.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AdminRole } from '../ra/model.js';
import type { ApiToken } from '../store/store.js';
import { problem } from './problem.js';
import type { Access, AdminContext } from './route.js';
import { TOKEN_FORMAT, tokenActor, tokenHash, tokenStatus } from './api-tokens-secret.js';

/** Who is calling with a valid API token. */
export interface TokenPrincipal {
  kind: 'token';
  token: ApiToken;
  role: AdminRole;
  /** The audit actor: `token:<name>`. */
  actor: string;
}

export const isTokenPrincipal = (p: unknown): p is TokenPrincipal => (p as { kind?: unknown } | undefined)?.kind === 'token';

/** "Last used" is written at most this often per token. */
export const TOUCH_EVERY_MS = 60_000;
/** A refused use of a known token is audited at most this often per token. */
const REFUSAL_AUDIT_EVERY_MS = 60_000;

// RFC 9110 §11.1: the scheme is case-insensitive; RFC 6750 §2.1: b64token.
const BEARER = /^bearer(?:\s+(\S*))?\s*$/i;

/** True when the request authenticates with `Authorization: Bearer` (other schemes are left to the cookie, e.g. a proxy's Basic). */
export function hasBearer(request: FastifyRequest): boolean {
  const h = request.headers.authorization;
  return typeof h === 'string' && /^bearer(\s|$)/i.test(h);
}

/** Per admin context: when a refusal of each token was last audited. */
const refusalsAudited = new WeakMap<AdminContext, Map<number, number>>();

function challenge(reply: FastifyReply, error: 'invalid_request' | 'invalid_token' | 'insufficient_scope', description: string): void {
  // RFC 6750 §3: error_description is quoted ASCII without '"' or '\'.
  const text = description.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?');
  reply.header('WWW-Authenticate', `Bearer realm="estuary", error="${error}", error_description="${text}"`);
}

function refuse(reply: FastifyReply, error: 'invalid_request' | 'invalid_token', reason: string): never {
  challenge(reply, error, reason);
  throw problem.unauthenticated(reason);
}

async function auditRefusal(ctx: AdminContext, request: FastifyRequest, token: ApiToken, why: string, now: Date): Promise<void> {
  let last = refusalsAudited.get(ctx);
  if (!last) refusalsAudited.set(ctx, (last = new Map()));
  const before = last.get(token.id);
  if (before !== undefined && now.getTime() - before < REFUSAL_AUDIT_EVERY_MS) return;
  last.set(token.id, now.getTime());
  await ctx.store.appendAudit({
    actor: tokenActor(token), action: 'token.refused', profile: null, outcome: 'unauthenticated', serial: null,
    detail: `${why}; ${request.method} ${request.url.split('?')[0]} from ${request.ip}`,
  });
}

/** The caller behind `Authorization: Bearer`, allowed on this route, or a 401/403 problem. */
export async function bearerPrincipal(ctx: AdminContext, request: FastifyRequest, reply: FastifyReply, access: Access): Promise<TokenPrincipal> {
  const m = BEARER.exec(request.headers.authorization ?? '');
  const secret = m?.[1];
  if (!secret) refuse(reply, 'invalid_request', 'Authorization: Bearer needs an API token');
  if (!TOKEN_FORMAT.test(secret)) refuse(reply, 'invalid_token', 'this is not an Estuary API token (est_ followed by 43 characters)');
  const token = await ctx.store.findApiToken(tokenHash(secret));
  if (!token) refuse(reply, 'invalid_token', 'unknown API token');
  const now = ctx.now();
  const status = tokenStatus(token, now);
  if (status !== 'active') {
    const why = status === 'revoked'
      ? `the API token ${token.name} was revoked at ${token.revokedAt!.toISOString()}`
      : `the API token ${token.name} expired at ${token.expiresAt.toISOString()}`;
    await auditRefusal(ctx, request, token, why, now);
    refuse(reply, 'invalid_token', why);
  }
  const path = request.url.split('?')[0]!;
  if (path === '/api/session' || path.startsWith('/api/session/')) {
    throw problem.forbidden('an API token has no session: /api/session is for signing in to the Web RA');
  }
  // a caller's own certificates, password and second factor belong to an account, not to a token
  if (access === 'account' || path === '/api/mfa' || (path.startsWith('/api/mfa/') && path !== '/api/mfa/policy')) {
    throw problem.forbidden('an API token has no certificates, password or second factor of its own: these calls are for a signed-in account');
  }
  if (access !== 'signed-in' && access !== 'public' && !access.includes(token.role)) {
    challenge(reply, 'insufficient_scope', `the ${token.role} role may not do this`);
    throw problem.forbidden(`the ${token.role} role may not do this (needed: ${access.join(' or ')})`);
  }
  if (!token.lastUsedAt || now.getTime() - token.lastUsedAt.getTime() >= TOUCH_EVERY_MS) {
    await ctx.store.touchApiToken(token.id, now);
    token.lastUsedAt = now;
  }
  return { kind: 'token', token, role: token.role, actor: tokenActor(token) };
}

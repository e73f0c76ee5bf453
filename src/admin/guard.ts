/**
 * Who is calling: the session cookie (its session read from the store, shared by every instance), the account behind it (read again on every request, so
 * disabling an account or changing its role takes effect at once), the CSRF token on every
 * state change, and the route's roles. 401 when not signed in, 403 for CSRF and roles.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ADMIN_ROLES, type AdminRole } from '../ra/model.js';
import { bearerPrincipal, hasBearer, type TokenPrincipal } from './api-tokens-auth.js';
import { problem, ProblemError } from './problem.js';
import { isStateChanging, type Access, type AdminContext } from './route.js';
import { SessionManager, type Session } from './sessions.js';

export const SESSION_COOKIE = 'estuary_session';
export const CSRF_HEADER = 'x-csrf-token';

/** The value of one cookie in a Cookie header (RFC 6265 §5.4). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Host-only, HTTPS-only, invisible to scripts, never sent on cross-site requests. */
export function sessionCookie(value: string, clear = false): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; Secure; SameSite=Strict${clear ? '; Max-Age=0' : ''}`;
}

const isAdminRole = (role: string): role is AdminRole => (ADMIN_ROLES as readonly string[]).includes(role);

/** Resolves the caller's session (or API token) and enforces the route's access rule; returns it (undefined on public routes). */
export async function authorize(ctx: AdminContext, request: FastifyRequest, reply: FastifyReply, access: Access): Promise<Session | TokenPrincipal | undefined> {
  if (access === 'public') return undefined;
  // RFC 6750 §2.1: an API token instead of the cookie; no CSRF token (api-tokens-auth.ts).
  if (hasBearer(request)) return bearerPrincipal(ctx, request, reply, access);
  const id = cookieValue(request.headers.cookie, SESSION_COOKIE);
  const found = await ctx.sessions.lookup(id);
  if (found.kind !== 'active') {
    if (id) reply.header('set-cookie', sessionCookie('', true));
    throw problem.unauthenticated(found.kind === 'expired' ? 'your session has expired; sign in again' : 'sign in first');
  }
  const session = found.session;
  const account = await ctx.store.getAccount(session.email);
  const selfService = account?.role === 'est' && account.selfService;
  if (!account || account.disabled || !(isAdminRole(account.role) || selfService)) {
    await ctx.sessions.end(session);
    reply.header('set-cookie', sessionCookie('', true));
    throw problem.unauthenticated('this account can no longer sign in');
  }
  session.role = account.role;
  if (isStateChanging(request.method)) {
    const token = request.headers[CSRF_HEADER];
    if (!SessionManager.csrfMatches(session, typeof token === 'string' ? token : undefined)) {
      throw new ProblemError('csrf', 'CSRF token missing or wrong: send the csrfToken of your session as X-CSRF-Token');
    }
  }
  if (access === 'account') return session;
  if (session.role === 'est') throw problem.forbidden('a self-service account sees only its own certificates (the /api/self/ calls)');
  if (access !== 'signed-in' && !access.includes(session.role)) {
    throw problem.forbidden(`the ${session.role} role may not do this (needed: ${access.join(' or ')})`);
  }
  return session;
}

export function sessionInfo(session: Session, sessions: SessionManager) {
  return {
    email: session.email,
    role: session.role,
    csrfToken: session.csrfToken,
    idleTimeoutSeconds: sessions.idleTimeoutSeconds,
    expiresAt: new Date(session.expiresAt).toISOString(),
  };
}

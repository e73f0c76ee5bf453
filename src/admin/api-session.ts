/**
 * Sign-in and sign-out. Admin, officer and auditor accounts sign in, and EST accounts with
 * self-service (to their own certificates only); other EST accounts, unknown
 * emails, disabled accounts and wrong passwords all get the same 401 after the same scrypt work.
 * Failures are throttled per (client address, email) and per client address (sign-in-throttle.ts); every sign-in,
 * failure and lockout is an audit event. An account with a second factor (or whose role requires
 * one) gets no session from the password alone: a 202 names the next step (api-mfa.ts), and the
 * failure count of its email is cleared only once that step succeeds.
 */
import { HashGateFullError } from '../ra/hash-gate.js';
import { verifyPassword, dummyPasswordHash } from '../ra/password.js';
import { ADMIN_ROLES, type Account, type SessionRole } from '../ra/model.js';
import type { FastifyReply } from 'fastify';
import { challengeCookie, createChallenge, secondStep } from './mfa.js';
import { SignInNextStep } from './mfa-schemas.js';
import { sessionCookie, sessionInfo, cookieValue, SESSION_COOKIE } from './guard.js';
import { problem, ProblemError } from './problem.js';
import { ANY_ACCOUNT, type AdminContext, type ApiRoute } from './route.js';
import { problemResponses, SessionInfo, SignIn } from './schemas.js';

async function audit(ctx: AdminContext, actor: string, action: string, outcome: string, detail: string): Promise<void> {
  await ctx.store.appendAudit({ actor, action, profile: null, outcome, serial: null, detail });
}

const signIn: ApiRoute<unknown, unknown, { email: string; password: string }> = {
  method: 'POST',
  url: '/api/session',
  operationId: 'signIn',
  tag: 'session',
  summary: 'Sign in with an admin, officer or auditor account, or an EST account with self-service',
  description: 'Sets the HttpOnly session cookie; or, for an account with a second factor or whose role requires one, answers 202 with the next step (and a short-lived sign-in cookie). After 5 failures for one email from one client address (or 20 from one address on any emails) within 15 minutes, that email from that address (or the whole address) is locked for 15 minutes (429 with Retry-After); an admin can unlock an account early.',
  access: 'public',
  schema: { body: SignIn },
  responses: { 200: { description: 'signed in', schema: SessionInfo }, 202: { description: 'password accepted; the second step is next', schema: SignInNextStep }, ...problemResponses(400, 401, 429) },
  async handler({ body, request, reply }, ctx) {
    const email = body.email.trim().toLowerCase();
    const address = request.ip;
    const account = await ctx.store.getAccount(email);
    const lock = await ctx.throttle.locked(email, address, account?.unlockedAt);
    if (lock) {
      await audit(ctx, email, 'session.signin', 'locked', `refused: ${lock.scope === 'email' ? `this email from ${address}` : `address ${address}`} is locked for ${lock.retryAfterSeconds} s`);
      throw new ProblemError('locked', 'too many failed sign-ins; try again later', { retryAfterSeconds: lock.retryAfterSeconds });
    }
    const role = account?.role;
    // EST accounts sign in only with self-service on (their own certificates, api-self.ts)
    const usable = account && !account.disabled && ((ADMIN_ROLES as readonly string[]).includes(role!) || (role === 'est' && account.selfService));
    // Hash even when the account cannot sign in, so timing does not tell which emails exist.
    const hash = usable ? account.passwordHash : await dummyPasswordHash();
    let verified: boolean;
    try {
      verified = await ctx.gate.run(ctx.throttle.suspect(address), () => verifyPassword(body.password, hash));
    } catch (err) {
      if (err instanceof HashGateFullError) throw new ProblemError('locked', 'too many sign-ins are being checked; try again shortly', { retryAfterSeconds: 5 });
      throw err;
    }
    const ok = usable && verified;
    if (!ok) {
      const why = !account ? 'unknown account' : account.disabled ? 'account disabled' : !usable ? `a ${role} account cannot sign in to the Web RA` : 'wrong password';
      await audit(ctx, email, 'session.signin', 'unauthenticated', `${why}, from ${address}`);
      await recordFailure(ctx, email, address);
      throw problem.unauthenticated('wrong email or password');
    }
    const next = await secondStep(ctx, account!);
    if (next) {
      const { cookie, challenge } = await createChallenge(ctx, account!.email, next);
      await audit(ctx, email, 'session.signin', 'pending', `password accepted, from ${address}; ${next === 'code' ? 'waiting for the second factor' : 'the role requires a second factor: enrolment first'}`);
      reply.code(202).header('set-cookie', challengeCookie(cookie));
      return { next, expiresAt: challenge.expiresAt.toISOString() };
    }
    return openSession(ctx, account!, address, reply, []);
  },
};

/** Counts a failed sign-in step against the email from this address and audits the locks it sets off. */
export async function recordFailure(ctx: AdminContext, email: string, address: string): Promise<void> {
  for (const l of await ctx.throttle.fail(email, address)) {
    const where = l.scope === 'email' ? `email ${email} locked for ${l.retryAfterSeconds} s from address ${address}` : `address ${address} locked for ${l.retryAfterSeconds} s on every email`;
    await audit(ctx, l.scope === 'email' ? email : address, 'session.lockout', 'locked', `${where} after repeated failed sign-ins`);
  }
}

/** The end of a successful sign-in: the failure count cleared, a session, its cookie (and `cookies` to set as well), the audit event. */
export async function openSession(ctx: AdminContext, account: Account, address: string, reply: FastifyReply, cookies: string[], how = '') {
  await ctx.throttle.succeed(account.email, address);
  const { session, cookie } = await ctx.sessions.create(account.email, account.role as SessionRole);
  await audit(ctx, session.email, 'session.signin', 'success', `${session.role}, from ${address}${how}`);
  reply.header('set-cookie', [sessionCookie(cookie), ...cookies]);
  return sessionInfo(session, ctx.sessions);
}

const current: ApiRoute = {
  method: 'GET',
  url: '/api/session',
  operationId: 'getSession',
  tag: 'session',
  summary: 'The signed-in account, its role and CSRF token',
  access: ANY_ACCOUNT,
  schema: {},
  responses: { 200: { description: 'the session', schema: SessionInfo }, ...problemResponses(401) },
  async handler({ session }, ctx) {
    return sessionInfo(session!, ctx.sessions);
  },
};

const signOut: ApiRoute = {
  method: 'DELETE',
  url: '/api/session',
  operationId: 'signOut',
  tag: 'session',
  summary: 'Sign out',
  access: ANY_ACCOUNT,
  schema: {},
  responses: { 204: { description: 'signed out; the cookie is cleared' }, ...problemResponses(401, 403) },
  async handler({ session, request, reply }, ctx) {
    const id = cookieValue(request.headers.cookie, SESSION_COOKIE);
    if (id) await ctx.sessions.destroy(id);
    await audit(ctx, session!.email, 'session.signout', 'success', session!.role);
    reply.header('set-cookie', sessionCookie('', true));
    return reply.code(204).send();
  },
};

export const sessionRoutes: ApiRoute[] = [signIn, current, signOut];

/**
 * Second factor routes (mfa.ts): the sign-in's second step (a code, or enrolment first when the
 * role requires a second factor), enrolment from one's own account, the roles that require it,
 * and an admin's reset. The TOTP secret is in the answer that starts an enrolment and nowhere else.
 */
import { ADMIN_ROLES, type Account, type AdminRole } from '../ra/model.js';
import { openSession, recordFailure } from './api-session.js';
import {
  beginEnrolment, challengeCookie, checkCode, completeChallenge, confirmEnrolment, currentChallenge, replaceRecoveryCodes, requireCurrentCode,
} from './mfa.js';
import { MfaConfirmed, MfaEnrolment, MfaPolicy, MfaStatus, SecondFactorCode, SignedInWithEnrolment, TotpCode } from './mfa-schemas.js';
import { problem, ProblemError } from './problem.js';
import { ADMIN_ONLY, ANY_ROLE, type AdminContext, type ApiRoute } from './route.js';
import { emailParams, problemResponses, SessionInfo } from './schemas.js';

const audit = (ctx: AdminContext, actor: string, action: string, outcome: string, detail: string) =>
  ctx.store.appendAudit({ actor, action, profile: null, outcome, serial: null, detail });

/** The challenge's account, if it may still sign in (it may have been disabled meanwhile). */
async function usableAccount(ctx: AdminContext, email: string): Promise<Account> {
  const account = await ctx.store.getAccount(email);
  if (!account || account.disabled || !(ADMIN_ROLES as readonly string[]).includes(account.role)) {
    throw problem.unauthenticated('this account can no longer sign in');
  }
  return account;
}

const signInCode: ApiRoute<unknown, unknown, { code: string }> = {
  method: 'POST', url: '/api/session/code', operationId: 'signInCode', tag: 'session',
  summary: 'Second sign-in step: the authenticator code or a recovery code',
  description: 'After POST /api/session answered 202 with `next: code`. A TOTP code is accepted once (a code already used, or older than the last one used, is refused); a recovery code once. Wrong codes count as failed sign-ins (the same locks as wrong passwords, 429 with Retry-After), and 10 wrong codes for one account from any addresses within 15 minutes lock its code step for 15 minutes (unlocking the account lifts it). Sets the session cookie.',
  access: 'public', schema: { body: SecondFactorCode },
  responses: { 200: { description: 'signed in', schema: SessionInfo }, ...problemResponses(400, 401, 429) },
  async handler({ body, request, reply }, ctx) {
    const challenge = await currentChallenge(ctx, request, 'code');
    const address = request.ip;
    const account = await usableAccount(ctx, challenge.email);
    const lock = await ctx.throttle.locked(account.email, address, account.unlockedAt);
    if (lock) {
      await audit(ctx, account.email, 'session.signin', 'locked', `second step refused: ${lock.scope === 'email' ? `this email from ${address}` : `address ${address}`} is locked for ${lock.retryAfterSeconds} s`);
      throw new ProblemError('locked', 'too many failed sign-ins; try again later', { retryAfterSeconds: lock.retryAfterSeconds });
    }
    const codeLock = await ctx.throttle.codeLockedSeconds(account.email, account.unlockedAt);
    if (codeLock > 0) {
      await audit(ctx, account.email, 'session.signin', 'locked', `second step refused from ${address}: the account's code step is locked for ${codeLock} s`);
      throw new ProblemError('locked', 'too many wrong codes for this account; try again later', { retryAfterSeconds: codeLock });
    }
    const check = await checkCode(ctx, account.email, body.code);
    if (!check.ok) {
      await audit(ctx, account.email, 'session.signin', 'unauthenticated', `second factor: ${check.why}, from ${address}`);
      await recordFailure(ctx, account.email, address);
      const locked = await ctx.throttle.failCode(account.email);
      if (locked > 0) await audit(ctx, account.email, 'session.lockout', 'locked', `the code step of ${account.email} locked for ${locked} s on every address after repeated wrong codes`);
      throw problem.unauthenticated(check.why === 'code already used' ? 'this code was already used; wait for the next one' : 'wrong code');
    }
    await completeChallenge(ctx, challenge);
    let how = `, second factor: ${check.used}`;
    if (check.used === 'recovery code') how += ` (${(await ctx.store.getMfa(account.email))?.recoveryCodesLeft ?? 0} left)`;
    return openSession(ctx, account, address, reply, [challengeCookie('', true)], how);
  },
};

const signInEnrol: ApiRoute = {
  method: 'POST', url: '/api/session/enrolment', operationId: 'signInEnrol', tag: 'session',
  summary: 'Second sign-in step when the role requires a second factor: start enrolment',
  description: 'After POST /api/session answered 202 with `next: enrol`. Answers the TOTP secret, its otpauth URI and QR code (shown this once); calling it again starts over with a new secret.',
  access: 'public', schema: {},
  responses: { 200: { description: 'scan or type it, then confirm with a code', schema: MfaEnrolment }, ...problemResponses(401, 409) },
  async handler({ request }, ctx) {
    const challenge = await currentChallenge(ctx, request, 'enrol');
    await usableAccount(ctx, challenge.email);
    return beginEnrolment(ctx, challenge.email);
  },
};

const signInEnrolConfirm: ApiRoute<unknown, unknown, { code: string }> = {
  method: 'POST', url: '/api/session/enrolment/confirm', operationId: 'signInEnrolConfirm', tag: 'session',
  summary: 'Confirm the enrolment with a current code and sign in',
  description: 'Sets the session cookie and answers the session with the 10 recovery codes, shown this once.',
  access: 'public', schema: { body: TotpCode },
  responses: { 200: { description: 'enrolled and signed in', schema: SignedInWithEnrolment }, ...problemResponses(400, 401, 409) },
  async handler({ body, request, reply }, ctx) {
    const challenge = await currentChallenge(ctx, request, 'enrol');
    const account = await usableAccount(ctx, challenge.email);
    const recoveryCodes = await confirmEnrolment(ctx, account.email, body.code);
    await completeChallenge(ctx, challenge);
    const session = await openSession(ctx, account, request.ip, reply, [challengeCookie('', true)], ', second factor enrolled');
    return { ...session, recoveryCodes };
  },
};

const status: ApiRoute = {
  method: 'GET', url: '/api/mfa', operationId: 'getMfa', tag: 'mfa', summary: 'The signed-in account\'s second factor',
  access: ANY_ROLE, schema: {}, responses: { 200: { description: 'its state (never the secret)', schema: MfaStatus }, ...problemResponses(401) },
  async handler({ session }, ctx) {
    const [mfa, required] = await Promise.all([ctx.store.getMfa(session!.email), ctx.store.getMfaRequiredRoles()]);
    return {
      enrolled: Boolean(mfa?.confirmedAt), required: (required as readonly string[]).includes(session!.role),
      confirmedAt: mfa?.confirmedAt?.toISOString() ?? null, recoveryCodesLeft: mfa?.confirmedAt ? mfa.recoveryCodesLeft : 0,
    };
  },
};

const enrol: ApiRoute = {
  method: 'POST', url: '/api/mfa', operationId: 'startMfaEnrolment', tag: 'mfa', summary: 'Start enrolling a second factor (TOTP)',
  description: 'Answers the secret, its otpauth URI and QR code, shown this once; confirm with POST /api/mfa/confirm. 409 when the account already has one.',
  access: ANY_ROLE, schema: {}, responses: { 200: { description: 'scan or type it, then confirm', schema: MfaEnrolment }, ...problemResponses(401, 403, 409) },
  async handler({ session }, ctx) {
    return beginEnrolment(ctx, session!.email);
  },
};

const confirm: ApiRoute<unknown, unknown, { code: string }> = {
  method: 'POST', url: '/api/mfa/confirm', operationId: 'confirmMfaEnrolment', tag: 'mfa', summary: 'Confirm the enrolment with a current code',
  description: 'Answers the 10 recovery codes, shown this once. From the next sign-in on, the code is asked after the password.',
  access: ANY_ROLE, schema: { body: TotpCode }, responses: { 200: { description: 'enrolled', schema: MfaConfirmed }, ...problemResponses(400, 401, 403, 409) },
  async handler({ session, body }, ctx) {
    return { recoveryCodes: await confirmEnrolment(ctx, session!.email, body.code) };
  },
};

const recoveryCodes: ApiRoute<unknown, unknown, { code: string }> = {
  method: 'POST', url: '/api/mfa/recovery-codes', operationId: 'newRecoveryCodes', tag: 'mfa', summary: 'Replace one\'s recovery codes',
  description: 'With a current code of the authenticator app: 10 new recovery codes, shown this once; the old ones no longer work.',
  access: ANY_ROLE, schema: { body: TotpCode }, responses: { 200: { description: 'the new codes', schema: MfaConfirmed }, ...problemResponses(400, 401, 403, 409, 429) },
  async handler({ session, body }, ctx) {
    const account = await usableAccount(ctx, session!.email);
    await requireCurrentCode(ctx, account, body.code);
    const codes = await replaceRecoveryCodes(ctx, account.email);
    await audit(ctx, account.email, 'account.mfa.recovery-codes', 'success', `${account.email}: ${codes.length} new recovery codes, the old ones void`);
    return { recoveryCodes: codes };
  },
};

const disable: ApiRoute<unknown, unknown, { code: string }> = {
  method: 'POST', url: '/api/mfa/disable', operationId: 'disableMfa', tag: 'mfa', summary: 'Turn off one\'s second factor',
  description: 'With a current code of the authenticator app. 409 when the account\'s role requires a second factor (an admin can reset it instead).',
  access: ANY_ROLE, schema: { body: TotpCode }, responses: { 204: { description: 'turned off' }, ...problemResponses(400, 401, 403, 409, 429) },
  async handler({ session, body, reply }, ctx) {
    const account = await usableAccount(ctx, session!.email);
    if (((await ctx.store.getMfaRequiredRoles()) as readonly string[]).includes(session!.role)) throw problem.conflict(`the ${session!.role} role requires a second factor; an admin can reset it`);
    await requireCurrentCode(ctx, account, body.code);
    await ctx.store.resetMfa(account.email);
    await audit(ctx, account.email, 'account.mfa.disable', 'success', `${account.email}: second factor turned off by its owner`);
    return reply.code(204).send();
  },
};

const policy: ApiRoute = {
  method: 'GET', url: '/api/mfa/policy', operationId: 'getMfaPolicy', tag: 'mfa', summary: 'The roles that require a second factor',
  access: ANY_ROLE, schema: {}, responses: { 200: { description: 'the policy', schema: MfaPolicy }, ...problemResponses(401) },
  async handler(_call, ctx) {
    return { requiredRoles: await ctx.store.getMfaRequiredRoles() };
  },
};

const setPolicy: ApiRoute<unknown, unknown, { requiredRoles: AdminRole[] }> = {
  method: 'PUT', url: '/api/mfa/policy', operationId: 'setMfaPolicy', tag: 'mfa', summary: 'Require a second factor per role',
  description: 'Accounts of a listed role without a second factor must enrol one at their next sign-in before they can do anything else (sessions already open stay open).',
  access: ADMIN_ONLY, schema: { body: MfaPolicy }, responses: { 200: { description: 'the policy as saved', schema: MfaPolicy }, ...problemResponses(400, 401, 403) },
  async handler({ body, actor }, ctx) {
    const before = await ctx.store.getMfaRequiredRoles();
    await ctx.store.setMfaRequiredRoles(body.requiredRoles);
    const after = await ctx.store.getMfaRequiredRoles();
    await audit(ctx, actor, 'mfa.policy', 'success', `second factor required for: ${after.join(', ') || '(no role)'} (was: ${before.join(', ') || '(no role)'})`);
    return { requiredRoles: after };
  },
};

const reset: ApiRoute<{ email: string }> = {
  method: 'DELETE', url: '/api/accounts/:email/mfa', operationId: 'resetAccountMfa', tag: 'accounts', summary: 'Reset an account\'s second factor',
  description: 'Removes its TOTP secret and recovery codes (a lost device) and ends its Web RA sessions (yours stays open if it is your own). It enrols again at its next sign-in if its role requires a second factor, or from its account page.',
  access: ADMIN_ONLY, schema: { params: emailParams }, responses: { 204: { description: 'reset' }, ...problemResponses(401, 403, 404, 409) },
  async handler({ params, actor, session, reply }, ctx) {
    const email = params.email.toLowerCase();
    if (!(await ctx.store.getAccount(email))) throw problem.notFound(`no account ${email}`);
    if (!(await ctx.store.resetMfa(email))) throw problem.conflict(`${email} has no second factor`);
    await ctx.sessions.destroyFor(email, session);
    await audit(ctx, actor, 'account.mfa.reset', 'success', `${email}: second factor and recovery codes removed, sessions ended`);
    return reply.code(204).send();
  },
};

export const mfaRoutes: ApiRoute[] = [signInCode, signInEnrol, signInEnrolConfirm, status, enrol, confirm, recoveryCodes, disable, policy, setPolicy, reset];

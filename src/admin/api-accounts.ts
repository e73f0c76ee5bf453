/**
 * Accounts: EST accounts (HTTP Basic on EST, optionally restricted to names and profiles) and
 * the Web RA's admin, officer and auditor accounts. Password hashes never leave the store; a
 * generated password is shown once, in the answer that created it.
 */
import { nameGlobProblem } from '../ra/name-globs.js';
import { generatePassword, hashPassword } from '../ra/password.js';
import { passwordRefusal } from '../ra/password-policy.js';
import type { Store } from '../store/store.js';
import type { Account, AccountRole } from '../ra/model.js';
import { problem } from './problem.js';
import { ADMIN_ONLY, ANY_ROLE, type AdminContext, type ApiRoute } from './route.js';
import {
  Account as AccountSchema, AccountCreate, AccountRemovalPlan, AccountCreated, AccountPatch, AccountProfiles, emailParams, itemsOf, PasswordReset, PasswordResult, problemResponses,
} from './schemas.js';
import { accountView } from './views.js';
import { planAccountRemoval } from '../ra/lifecycle.js';

async function mustExist(store: Store, email: string): Promise<Account> {
  const account = await store.getAccount(email.toLowerCase());
  if (!account) throw problem.notFound(`no account ${email.toLowerCase()}`);
  return account;
}

/** Every label must name an existing profile. */
async function checkProfiles(store: Store, labels: readonly string[], field: string): Promise<void> {
  const known = new Set((await store.listProfiles()).map((p) => p.label));
  const missing = labels.filter((l) => !known.has(l));
  if (missing.length) throw problem.field(field, `no profile ${missing.map((l) => `"${l}"`).join(', ')}`);
}

/** A chosen password must pass the password policy (generated ones are random). */
function checkPassword(password: string | undefined, email: string): void {
  const refusal = password === undefined ? undefined : passwordRefusal(password, email);
  if (refusal) throw problem.field('password', refusal);
}

const audit = (ctx: AdminContext, actor: string, action: string, detail: string) =>
  ctx.store.appendAudit({ actor, action, profile: null, outcome: 'success', serial: null, detail });

const list: ApiRoute = {
  method: 'GET', url: '/api/accounts', operationId: 'listAccounts', tag: 'accounts', summary: 'Every account, EST and Web RA',
  access: ANY_ROLE, schema: {}, responses: { 200: { description: 'accounts', schema: itemsOf(AccountSchema) }, ...problemResponses(401) },
  async handler(_call, ctx) {
    const [accounts, mfa] = await Promise.all([ctx.store.listAccounts(), ctx.store.listMfaEnrolled()]);
    const enrolled = new Set(mfa);
    return { items: accounts.map((a) => ({ ...accountView(a), mfa: enrolled.has(a.email) })) };
  },
};

const get: ApiRoute<{ email: string }> = {
  method: 'GET', url: '/api/accounts/:email', operationId: 'getAccount', tag: 'accounts', summary: 'One account',
  access: ANY_ROLE, schema: { params: emailParams }, responses: { 200: { description: 'the account', schema: AccountSchema }, ...problemResponses(401, 404) },
  async handler({ params }, ctx) {
    const account = await mustExist(ctx.store, params.email);
    return { ...accountView(account), mfa: Boolean((await ctx.store.getMfa(account.email))?.confirmedAt) };
  },
};

/** Account name globs (src/ra/name-globs.ts): an unknown `type:` prefix is a 400 naming the entry. */
function checkNameGlobs(globs: readonly string[] | undefined): void {
  for (const [i, g] of (globs ?? []).entries()) {
    const bad = nameGlobProblem(g);
    if (bad) throw problem.field(`allowedNames.${i}`, bad);
  }
}

interface CreateBody {
  email: string;
  role: AccountRole;
  password?: string;
  selfService?: boolean;
  allowedNames?: string[];
  allowedProfiles?: string[];
}

const create: ApiRoute<unknown, unknown, CreateBody> = {
  method: 'POST', url: '/api/accounts', operationId: 'createAccount', tag: 'accounts', summary: 'Create an account',
  description: 'Without a password one is generated and returned once.',
  access: ADMIN_ONLY, schema: { body: AccountCreate },
  responses: { 201: { description: 'created', schema: AccountCreated }, ...problemResponses(400, 401, 403, 409) },
  async handler({ body, reply, actor }, ctx) {
    const email = body.email.trim().toLowerCase();
    if (body.allowedProfiles?.length) await checkProfiles(ctx.store, body.allowedProfiles, 'allowedProfiles');
    checkNameGlobs(body.allowedNames);
    if (body.selfService && body.role !== 'est') throw problem.field('selfService', 'self-service is for EST accounts (Web RA roles sign in anyway)');
    if (await ctx.store.getAccount(email)) throw problem.conflict(`an account with email ${email} already exists`);
    checkPassword(body.password, email);
    const password = body.password ?? generatePassword();
    const created = await ctx.store.createAccount({ email, passwordHash: await hashPassword(password), role: body.role });
    if (body.allowedNames?.length) await ctx.store.setAccountAllowedNames(email, body.allowedNames);
    if (body.allowedProfiles?.length) await ctx.store.setAccountAllowedProfiles(email, body.allowedProfiles);
    if (body.selfService) await ctx.store.setAccountSelfService(email, true);
    await audit(ctx, actor, 'account.add', `${created.email} (${created.role}${body.selfService ? ', self-service' : ''})`);
    reply.code(201).header('location', `/api/accounts/${encodeURIComponent(email)}`);
    return { email: created.email, role: created.role, ...(body.password === undefined ? { password } : {}) };
  },
};

const patch: ApiRoute<{ email: string }, unknown, { disabled?: boolean; allowedNames?: string[]; allowedProfiles?: string[]; selfService?: boolean }> = {
  method: 'PATCH', url: '/api/accounts/:email', operationId: 'updateAccount', tag: 'accounts', summary: 'Disable or enable an account, restrict its names and profiles, or turn self-service on or off',
  access: ADMIN_ONLY, schema: { params: emailParams, body: AccountPatch },
  responses: { 200: { description: 'the account as saved', schema: AccountSchema }, ...problemResponses(400, 401, 403, 404) },
  async handler({ params, body, actor, session }, ctx) {
    const account = await mustExist(ctx.store, params.email);
    if (body.disabled === true && account.email === session?.email) throw problem.field('disabled', 'you cannot disable the account you are signed in with');
    if (body.allowedProfiles?.length) await checkProfiles(ctx.store, body.allowedProfiles, 'allowedProfiles');
    checkNameGlobs(body.allowedNames);
    if (body.selfService === true && account.role !== 'est') throw problem.field('selfService', 'self-service is for EST accounts (Web RA roles sign in anyway)');
    if (body.selfService !== undefined && body.selfService !== account.selfService) {
      await ctx.store.setAccountSelfService(account.email, body.selfService);
      if (!body.selfService) await ctx.sessions.destroyFor(account.email);
      await audit(ctx, actor, body.selfService ? 'account.self-service.on' : 'account.self-service.off', account.email);
    }
    if (body.disabled !== undefined && body.disabled !== account.disabled) {
      await ctx.store.setAccountDisabled(account.email, body.disabled);
      if (body.disabled) await ctx.sessions.destroyFor(account.email);
      await audit(ctx, actor, body.disabled ? 'account.disable' : 'account.enable', account.email);
    }
    if (body.allowedNames !== undefined) {
      await ctx.store.setAccountAllowedNames(account.email, body.allowedNames);
      await audit(ctx, actor, 'account.restrict', `${account.email}: names ${body.allowedNames.join(', ') || '(any)'}`);
    }
    if (body.allowedProfiles !== undefined) {
      await ctx.store.setAccountAllowedProfiles(account.email, body.allowedProfiles);
      await audit(ctx, actor, 'account.restrict', `${account.email}: profiles ${body.allowedProfiles.join(', ') || '(any)'}`);
    }
    return accountView(await mustExist(ctx.store, account.email));
  },
};

const password: ApiRoute<{ email: string }, unknown, { password?: string }> = {
  method: 'POST', url: '/api/accounts/:email/password', operationId: 'resetPassword', tag: 'accounts', summary: 'Set or generate a new password',
  description: 'Without a password one is generated and returned once. The account\'s other Web RA sessions end.',
  access: ADMIN_ONLY, schema: { params: emailParams, body: PasswordReset },
  responses: { 200: { description: 'changed', schema: PasswordResult }, ...problemResponses(400, 401, 403, 404) },
  async handler({ params, body, actor, session }, ctx) {
    const account = await mustExist(ctx.store, params.email);
    checkPassword(body.password, account.email);
    const pw = body.password ?? generatePassword();
    await ctx.store.setAccountPassword(account.email, await hashPassword(pw));
    await ctx.sessions.destroyFor(account.email, session);
    await audit(ctx, actor, 'account.passwd', account.email);
    return { email: account.email, ...(body.password === undefined ? { password: pw } : {}) };
  },
};

const unlock: ApiRoute<{ email: string }> = {
  method: 'POST', url: '/api/accounts/:email/unlock', operationId: 'unlockAccount', tag: 'accounts', summary: 'Lift the account\'s failed-sign-in locks',
  description: 'Locks set by failed Web RA sign-ins or failed EST HTTP Basic attempts before now no longer apply to the account (locks of whole client addresses stay until they expire).',
  access: ADMIN_ONLY, schema: { params: emailParams },
  responses: { 200: { description: 'the account', schema: AccountSchema }, ...problemResponses(401, 403, 404) },
  async handler({ params, actor }, ctx) {
    const account = await mustExist(ctx.store, params.email);
    await ctx.store.unlockAccount(account.email, ctx.now());
    await audit(ctx, actor, 'account.unlock', account.email);
    return accountView(await mustExist(ctx.store, account.email));
  },
};

const profiles: ApiRoute<{ email: string }, unknown, { profiles: string[] }> = {
  method: 'PUT', url: '/api/accounts/:email/profiles', operationId: 'restrictAccountProfiles', tag: 'accounts', summary: 'Restrict an EST account to profiles',
  description: 'An empty list lifts the restriction. A profile\'s own allowedAccounts still applies.',
  access: ADMIN_ONLY, schema: { params: emailParams, body: AccountProfiles },
  responses: { 200: { description: 'the account as saved', schema: AccountSchema }, ...problemResponses(400, 401, 403, 404) },
  async handler({ params, body, actor }, ctx) {
    const account = await mustExist(ctx.store, params.email);
    await checkProfiles(ctx.store, body.profiles, 'profiles');
    await ctx.store.setAccountAllowedProfiles(account.email, body.profiles);
    await audit(ctx, actor, 'account.restrict', `${account.email}: profiles ${body.profiles.join(', ') || '(any)'}`);
    return accountView(await mustExist(ctx.store, account.email));
  },
};

async function accountRemoval(ctx: AdminContext, email: string, actor: string) {
  const accounts = await ctx.store.listAccounts();
  const target = accounts.find((a) => a.email === email.toLowerCase());
  if (!target) throw problem.notFound(`no account ${email.toLowerCase()}`);
  return { target, plan: planAccountRemoval(target, accounts, actor, await ctx.store.listProfiles()) };
}

const removal: ApiRoute<{ email: string }> = {
  method: 'GET', url: '/api/accounts/:email/removal', operationId: 'accountRemovalPlan', tag: 'accounts', summary: 'What deleting this account would do',
  access: ANY_ROLE, schema: { params: emailParams }, responses: { 200: { description: 'the plan', schema: AccountRemovalPlan }, ...problemResponses(401, 404) },
  handler: async ({ params, actor }, ctx) => (await accountRemoval(ctx, params.email, actor)).plan,
};

const remove: ApiRoute<{ email: string }> = {
  method: 'DELETE', url: '/api/accounts/:email', operationId: 'deleteAccount', tag: 'accounts', summary: 'Delete an account',
  description: 'The certificates it obtained stay valid, listed and revocable; its Web RA sessions end. Your own account and the last enabled admin are refused (409).',
  access: ADMIN_ONLY, schema: { params: emailParams },
  responses: { 200: { description: 'deleted', schema: AccountRemovalPlan }, ...problemResponses(401, 403, 404, 409) },
  async handler({ params, actor }, ctx) {
    const { target, plan } = await accountRemoval(ctx, params.email, actor);
    if (plan.action === 'refused') throw problem.conflict(plan.reason);
    if (!(await ctx.store.deleteAccount(target.email))) throw problem.notFound(`no account ${target.email}`);
    await ctx.store.resetMfa(target.email); // a new account with this email must not inherit the second factor
    await ctx.sessions.destroyFor(target.email);
    await audit(ctx, actor, 'account.delete', `${target.email} (${target.role})`);
    return plan;
  },
};

export const accountRoutes: ApiRoute[] = [list, get, create, patch, password, unlock, profiles, removal, remove];

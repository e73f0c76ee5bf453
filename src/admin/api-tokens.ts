/**
 * API tokens for automation (admins only): create (the secret is in that answer only), list,
 * revoke. A token is used as `Authorization: Bearer <secret>` (api-tokens-auth.ts) with the role
 * it was given. An admin token may manage tokens too, but a token it creates cannot outlive it,
 * so a leaked token cannot extend its own life through a successor.
 */
import { ADMIN_ROLES, type AdminRole } from '../ra/model.js';
import type { ApiToken } from '../store/store.js';
import { DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, mintApiToken, TOKEN_NAME_PATTERN, tokenStatus } from './api-tokens-secret.js';
import { problem } from './problem.js';
import { ADMIN_ONLY, type AdminContext, type ApiRoute } from './route.js';
import { idParams, itemsOf, named, problemResponses } from './schemas.js';

const dateTime = { type: 'string', format: 'date-time' };
const nullableDate = { anyOf: [dateTime, { type: 'null' }] };

export const ApiTokenSchema = named('ApiToken', {
  type: 'object', additionalProperties: false,
  properties: {
    id: { type: 'integer' },
    name: { type: 'string', description: 'audit events of its calls name the actor token:<name>' },
    hint: { type: 'string', description: 'the first characters of the secret, to recognise a leaked token' },
    role: { enum: ADMIN_ROLES },
    status: { enum: ['active', 'expired', 'revoked'] },
    createdBy: { type: 'string', description: 'the admin, token:<name>, or cli (estuary token create)' },
    createdAt: dateTime, expiresAt: dateTime,
    lastUsedAt: { ...nullableDate, description: 'updated at most once a minute' },
    revokedAt: nullableDate, revokedBy: { anyOf: [{ type: 'string' }, { type: 'null' }] },
  },
  required: ['id', 'name', 'hint', 'role', 'status', 'createdBy', 'createdAt', 'expiresAt', 'lastUsedAt', 'revokedAt', 'revokedBy'],
});

export const ApiTokenCreate = named('ApiTokenCreate', {
  type: 'object', additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: TOKEN_NAME_PATTERN, description: 'unique among the tokens not revoked' },
    role: { enum: ADMIN_ROLES, description: 'what the token may do, as for a Web RA account of that role' },
    expiresInDays: { type: 'integer', minimum: 1, maximum: MAX_TOKEN_DAYS, default: DEFAULT_TOKEN_DAYS },
  },
  required: ['name', 'role'],
});

export const ApiTokenCreated = named('ApiTokenCreated', {
  type: 'object', additionalProperties: false,
  properties: { token: ApiTokenSchema, secret: { type: 'string', description: 'send as Authorization: Bearer <secret>; shown only in this answer, never stored' } },
  required: ['token', 'secret'],
});

export function tokenView(t: ApiToken, now: Date) {
  return {
    id: t.id, name: t.name, hint: t.hint, role: t.role, status: tokenStatus(t, now), createdBy: t.createdBy,
    createdAt: t.createdAt.toISOString(), expiresAt: t.expiresAt.toISOString(), lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null, revokedBy: t.revokedBy,
  };
}

const audit = (ctx: AdminContext, actor: string, action: string, detail: string) =>
  ctx.store.appendAudit({ actor, action, profile: null, outcome: 'success', serial: null, detail });

const list: ApiRoute = {
  method: 'GET', url: '/api/tokens', operationId: 'listApiTokens', tag: 'tokens', summary: 'Every API token, newest first (never a secret)',
  access: ADMIN_ONLY, schema: {}, responses: { 200: { description: 'tokens', schema: itemsOf(ApiTokenSchema) }, ...problemResponses(401, 403) },
  async handler(_call, ctx) {
    const now = ctx.now();
    return { items: (await ctx.store.listApiTokens()).map((t) => tokenView(t, now)) };
  },
};

const create: ApiRoute<unknown, unknown, { name: string; role: AdminRole; expiresInDays: number }> = {
  method: 'POST', url: '/api/tokens', operationId: 'createApiToken', tag: 'tokens', summary: 'Create an API token; its secret is returned once',
  description: `Every token expires (default ${DEFAULT_TOKEN_DAYS} days, at most ${MAX_TOKEN_DAYS}). A token created with another token cannot expire after it.`,
  access: ADMIN_ONLY, schema: { body: ApiTokenCreate },
  responses: { 201: { description: 'created', schema: ApiTokenCreated }, ...problemResponses(400, 401, 403, 409) },
  async handler({ body, reply, actor, token }, ctx) {
    const now = ctx.now();
    const minted = mintApiToken({ name: body.name, role: body.role, expiresInDays: body.expiresInDays ?? DEFAULT_TOKEN_DAYS, createdBy: actor, now });
    if (token && minted.record.expiresAt > token.token.expiresAt) {
      throw problem.field('expiresInDays', `a token cannot outlive the token that creates it (${token.token.name} expires ${token.token.expiresAt.toISOString()})`);
    }
    const created = await ctx.store.createApiToken(minted.record);
    await audit(ctx, actor, 'token.create', `${created.name} (${created.role}, id ${created.id}), expires ${created.expiresAt.toISOString()}`);
    reply.code(201);
    return { token: tokenView(created, now), secret: minted.secret };
  },
};

const revoke: ApiRoute<{ id: number }> = {
  method: 'DELETE', url: '/api/tokens/:id', operationId: 'revokeApiToken', tag: 'tokens', summary: 'Revoke an API token',
  description: 'Its next use is refused (401). The token stays listed, as revoked.',
  access: ADMIN_ONLY, schema: { params: idParams },
  responses: { 200: { description: 'the revoked token', schema: ApiTokenSchema }, ...problemResponses(401, 403, 404, 409) },
  async handler({ params, actor }, ctx) {
    const found = await ctx.store.getApiToken(params.id);
    if (!found) throw problem.notFound(`no API token ${params.id}`);
    const now = ctx.now();
    if (!(await ctx.store.revokeApiToken(found.id, actor, now))) {
      throw problem.conflict(`the API token ${found.name} is already revoked`);
    }
    await audit(ctx, actor, 'token.revoke', `${found.name} (${found.role}, id ${found.id})`);
    return tokenView((await ctx.store.getApiToken(found.id))!, now);
  },
};

export const tokenRoutes: ApiRoute[] = [list, create, revoke];

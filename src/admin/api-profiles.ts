/**
 * Certification profiles and the CA connectors they can name. Changes go through the shared
 * profile rules (src/ra/profile-validation.ts) and are saved whole or not at all; the EST
 * service reads the profile on its next request (the store's cache follows its own writes).
 */
import { defaultProfile } from '../ra/default-profile.js';
import { dropRemovedAnchorCrls } from '../ra/device-revocation.js';
import { newLabelError, splitTrustAnchors, validateProfile } from '../ra/profile-validation.js';
import { DEFAULT_CLIENT_BINDING, DEFAULT_RENEWAL, EMPTY_NAME_POLICY, type ClientBinding, type NewProfile, type Profile } from '../ra/model.js';
import { problem } from './problem.js';
import { ADMIN_ONLY, ANY_ROLE, type AdminContext, type ApiRoute } from './route.js';
import { itemsOf, labelParams, problemResponses, Profile as ProfileSchema, ProfileCreate, ProfileUpdate } from './schemas.js';
import { profileView } from './views.js';

type ProfileInput = Partial<NewProfile> & { estUrl?: unknown; popLinkingNote?: unknown; trustAnchors?: unknown; createdAt?: unknown; updatedAt?: unknown };

const view = (ctx: AdminContext, p: Profile) => profileView(p, ctx.estUrl(p.label), ctx.estBehindProxy);

/** The input laid over a base profile; read-only properties are dropped, lists normalised. */
function merge(base: NewProfile, input: ProfileInput): NewProfile {
  const { estUrl: _u, popLinkingNote: _n, trustAnchors: _t, createdAt: _c, updatedAt: _m, namePolicy, renewal, deviceRevocation, ...settings } = input;
  const p: NewProfile = {
    ...base, ...settings,
    namePolicy: { ...EMPTY_NAME_POLICY, ...base.namePolicy, ...namePolicy },
    renewal: { ...DEFAULT_RENEWAL, ...base.renewal, ...renewal },
    deviceRevocation: { ...base.deviceRevocation, ...deviceRevocation },
  };
  const binding: Partial<ClientBinding> = namePolicy?.clientBinding ?? {};
  p.namePolicy.clientBinding = {
    ...DEFAULT_CLIENT_BINDING, ...base.namePolicy.clientBinding, ...binding,
    anchors: (binding.anchors ?? base.namePolicy.clientBinding.anchors).map((a) => ({ ...a, subjectPatterns: a.subjectPatterns ?? {} })),
  };
  p.clientTrustAnchors = splitTrustAnchors(p.clientTrustAnchors);
  p.allowedAccounts = p.allowedAccounts.map((a) => a.toLowerCase());
  // a removed anchor takes its CRL URL along (the form sends the URLs back unchanged)
  p.deviceRevocation = dropRemovedAnchorCrls(p, base).deviceRevocation;
  return p;
}

function check(ctx: AdminContext, p: NewProfile): void {
  const errors = validateProfile(p, { knownCas: ctx.cas.map((c) => c.id) });
  if (errors.length > 0) throw problem.validation(`${errors[0]!.field}: ${errors[0]!.message}`, errors);
}

/** Top-level settings whose value changed, for the audit log. */
function changed(before: NewProfile, after: NewProfile): string[] {
  return (Object.keys(after) as Array<keyof NewProfile>).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

function settingsOf(p: Profile): NewProfile {
  const { createdAt: _c, updatedAt: _u, ...settings } = structuredClone(p);
  return settings;
}

const list: ApiRoute = {
  method: 'GET', url: '/api/profiles', operationId: 'listProfiles', tag: 'profiles', summary: 'Certification profiles (EST labels)',
  access: ANY_ROLE, schema: {}, responses: { 200: { description: 'every profile', schema: itemsOf(ProfileSchema) }, ...problemResponses(401) },
  async handler(_call, ctx) {
    return { items: (await ctx.store.listProfiles()).map((p) => view(ctx, p)) };
  },
};

const get: ApiRoute<{ label: string }> = {
  method: 'GET', url: '/api/profiles/:label', operationId: 'getProfile', tag: 'profiles', summary: 'One certification profile',
  access: ANY_ROLE, schema: { params: labelParams }, responses: { 200: { description: 'the profile', schema: ProfileSchema }, ...problemResponses(401, 404) },
  async handler({ params }, ctx) {
    const p = await ctx.store.getProfile(params.label);
    if (!p) throw problem.notFound(`no profile "${params.label}"`);
    return view(ctx, p);
  },
};

const create: ApiRoute<unknown, unknown, ProfileInput & { label: string }> = {
  method: 'POST', url: '/api/profiles', operationId: 'createProfile', tag: 'profiles', summary: 'Create a certification profile',
  description: 'Settings left out take the defaults of `estuary profile add`. Invalid settings: 400 naming each field; nothing is saved.',
  access: ADMIN_ONLY, schema: { body: ProfileCreate },
  responses: { 201: { description: 'created', schema: ProfileSchema }, ...problemResponses(400, 401, 403, 409) },
  async handler({ body, reply, actor }, ctx) {
    const labelProblem = newLabelError(body.label);
    if (labelProblem) throw problem.field('label', labelProblem);
    const p = merge(defaultProfile(body.label, ctx.cas[0]!.id), body);
    check(ctx, p);
    if (await ctx.store.getProfile(p.label)) throw problem.conflict(`a profile labelled ${p.label} already exists`);
    const created = await ctx.store.createProfile(p);
    await ctx.store.appendAudit({ actor, action: 'profile.create', profile: p.label, outcome: 'success', serial: null, detail: `${p.auth}, ${p.enabled ? 'enabled' : 'disabled'}` });
    reply.code(201).header('location', `/api/profiles/${encodeURIComponent(p.label)}`);
    return view(ctx, created);
  },
};

const update: ApiRoute<{ label: string }, unknown, ProfileInput> = {
  method: 'PUT', url: '/api/profiles/:label', operationId: 'updateProfile', tag: 'profiles', summary: 'Change a certification profile',
  description: 'Settings left out keep their values. The running EST service uses the new settings from its next request.',
  access: ADMIN_ONLY, schema: { params: labelParams, body: ProfileUpdate },
  responses: { 200: { description: 'the profile as saved', schema: ProfileSchema }, ...problemResponses(400, 401, 403, 404) },
  async handler({ params, body, actor }, ctx) {
    const current = await ctx.store.getProfile(params.label);
    if (!current) throw problem.notFound(`no profile "${params.label}"`);
    if (body.label !== undefined && body.label !== current.label) throw problem.field('label', 'the label of a profile cannot change');
    const before = settingsOf(current);
    const next = merge(before, { ...body, label: current.label });
    check(ctx, next);
    if (!(await ctx.store.updateProfile(next))) throw problem.notFound(`no profile "${params.label}"`);
    const fields = changed(before, next);
    await ctx.store.appendAudit({ actor, action: 'profile.update', profile: next.label, outcome: 'success', serial: null, detail: fields.length ? `changed: ${fields.join(', ')}` : 'no change' });
    return view(ctx, (await ctx.store.getProfile(next.label))!);
  },
};

export const profileRoutes: ApiRoute[] = [list, get, create, update];

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
import { itemsOf, labelParams, problemResponses, Profile as ProfileSchema, ProfileClone, ProfileCreate, ProfileRemovalPlan, ProfileRemoved, ProfileUpdate } from './schemas.js';
import { cloneProfile, describeUse, planProfileRemoval, profileUse, removeProfile } from '../ra/lifecycle.js';
import { DAY_SECONDS, parseValidity, VALIDITY_HINT } from '../ra/validity.js';
import { profileView } from './views.js';

type ProfileInput = Partial<NewProfile> & {
  validity?: string; validityDays?: number;
  validitySeconds?: unknown; retiredAt?: unknown; default?: unknown; estUrl?: unknown; popLinkingNote?: unknown; trustAnchors?: unknown; createdAt?: unknown; updatedAt?: unknown;
};

const view = (ctx: AdminContext, p: Profile) => ({ ...profileView(p, ctx.estUrl(p.label), ctx.estBehindProxy), default: p.label === ctx.defaultProfile });

/**
 * The validity the input asks for: `validity` ("8h") or `validityDays`; a client sending a whole
 * profile back carries both, and the one that differs from the current value is the change.
 */
function validityOf(current: number, input: ProfileInput): number {
  const asked: Array<[string, number]> = [];
  if (input.validity !== undefined) {
    const seconds = parseValidity(input.validity);
    if (seconds === undefined) throw problem.field('validity', `expected ${VALIDITY_HINT}, got "${input.validity}"`);
    asked.push(['validity', seconds]);
  }
  if (input.validityDays !== undefined) asked.push(['validityDays', input.validityDays * DAY_SECONDS]);
  const changes = asked.filter(([, v]) => v !== current);
  if (changes.length > 1 && changes[0]![1] !== changes[1]![1]) throw problem.field('validity', 'validity and validityDays disagree: give the validity once');
  return changes[0]?.[1] ?? current;
}

/** The input laid over a base profile; read-only properties are dropped, lists normalised. */
function merge(base: NewProfile, input: ProfileInput): NewProfile {
  const {
    estUrl: _u, popLinkingNote: _n, trustAnchors: _t, createdAt: _c, updatedAt: _m, validitySeconds: _s, retiredAt: _r, default: _d,
    validity: _v, validityDays: _vd, namePolicy, renewal, deviceRevocation, ...settings
  } = input;
  const p: NewProfile = {
    ...base, ...settings, validitySeconds: validityOf(base.validitySeconds, input),
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
    if (current.retiredAt) throw problem.conflict(`profile "${current.label}" is retired and cannot be changed; clone it to issue under new settings`);
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

const clone: ApiRoute<{ label: string }, unknown, { label: string; enabled?: boolean }> = {
  method: 'POST', url: '/api/profiles/:label/clone', operationId: 'cloneProfile', tag: 'profiles', summary: 'Create a profile with every setting of this one',
  description: 'A retired profile can be cloned too. The clone starts disabled unless `enabled` is true.',
  access: ADMIN_ONLY, schema: { params: labelParams, body: ProfileClone },
  responses: { 201: { description: 'the new profile', schema: ProfileSchema }, ...problemResponses(400, 401, 403, 404, 409) },
  async handler({ params, body, reply, actor }, ctx) {
    const source = await ctx.store.getProfile(params.label);
    if (!source) throw problem.notFound(`no profile "${params.label}"`);
    const labelProblem = newLabelError(body.label);
    if (labelProblem) throw problem.field('label', labelProblem);
    if (await ctx.store.getProfile(body.label)) throw problem.conflict(`a profile labelled ${body.label} already exists`);
    const created = await ctx.store.createProfile(cloneProfile(source, body.label, body.enabled ?? false));
    await ctx.store.appendAudit({ actor, action: 'profile.clone', profile: body.label, outcome: 'success', serial: null, detail: `from ${source.label}` });
    reply.code(201).header('location', `/api/profiles/${encodeURIComponent(body.label)}`);
    return view(ctx, created);
  },
};

async function removalPlan(ctx: AdminContext, label: string) {
  const p = await ctx.store.getProfile(label);
  if (!p) throw problem.notFound(`no profile "${label}"`);
  return planProfileRemoval(p, await profileUse(ctx.store, label, ctx.now()), ctx.defaultProfile);
}

const removal: ApiRoute<{ label: string }> = {
  method: 'GET', url: '/api/profiles/:label/removal', operationId: 'profileRemovalPlan', tag: 'profiles', summary: 'What removing this profile would do',
  description: 'delete (it never issued), retire (it issued: it stops enrolling, its certificates stay valid and revocable) or refused, with the text to confirm.',
  access: ANY_ROLE, schema: { params: labelParams }, responses: { 200: { description: 'the plan', schema: ProfileRemovalPlan }, ...problemResponses(401, 404) },
  handler: ({ params }, ctx) => removalPlan(ctx, params.label),
};

const remove: ApiRoute<{ label: string }> = {
  method: 'DELETE', url: '/api/profiles/:label', operationId: 'removeProfile', tag: 'profiles', summary: 'Delete a profile, or retire it when it has issued',
  description: 'As GET /api/profiles/{label}/removal says: a profile that never issued nor held a request is deleted; one that did is retired. '
    + 'The default profile and a profile with requests waiting are refused (409).',
  access: ADMIN_ONLY, schema: { params: labelParams },
  responses: { 200: { description: 'deleted or retired', schema: ProfileRemoved }, ...problemResponses(401, 403, 404, 409) },
  async handler({ params, actor }, ctx) {
    const plan = await removalPlan(ctx, params.label);
    if (plan.action === 'refused') throw problem.conflict(plan.reason);
    const outcome = await removeProfile(ctx.store, params.label, plan.action, ctx.now());
    if (outcome === 'missing') throw problem.notFound(`no profile "${params.label}" in service`);
    const detail = describeUse(plan.use);
    await ctx.store.appendAudit({ actor, action: outcome === 'deleted' ? 'profile.delete' : 'profile.retire', profile: params.label, outcome: 'success', serial: null, detail });
    const consequence = plan.action === 'delete' && outcome === 'retired'
      ? `Profile "${params.label}" came to be used while it was being deleted, so it was retired instead: it stops enrolling; its certificates stay valid and revocable.`
      : plan.consequence;
    return { label: params.label, outcome, consequence, use: plan.use };
  },
};

export const profileRoutes: ApiRoute[] = [list, get, create, update, clone, removal, remove];

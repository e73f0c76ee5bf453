/**
 * Requests held under manual approval (RFC 7030 §4.2.3). Approving or rejecting goes through
 * the same decision as `estuary request approve|reject` (src/ra/request-decisions.ts): on a
 * four-eyes profile the first approval is recorded and the request stays pending until another
 * officer approves; nobody approves their own request. The client's next re-send of the CSR
 * collects the certificate or a 403 with the reason.
 */
import { decideRequest, decisionRefusal, type Decision } from '../ra/request-decisions.js';
import type { ApprovalsRequired, PendingRequest, PendingStatus } from '../ra/model.js';
import { requestWarnings } from '../ra/request-overlaps.js';
import { problem } from './problem.js';
import { requestDetailView, requestItemView } from './request-views.js';
import { ANY_ROLE, OFFICERS, type AdminContext, type ApiRoute } from './route.js';
import { Approval, idParams, pageOf, PendingRequest as PendingRequestSchema, PendingRequestDetail, problemResponses, Rejection, requestQuery } from './schemas.js';

interface RequestQuery {
  status: PendingStatus | 'all';
  profile?: string;
  offset: number;
  limit: number;
}

/** Approvals each request's profile requires now (a deleted profile: 1). */
async function approvalsOf(ctx: AdminContext, requests: readonly PendingRequest[]): Promise<(r: PendingRequest) => ApprovalsRequired> {
  const labels = new Set(requests.map((r) => r.profile));
  const profiles = await Promise.all([...labels].map((l) => ctx.store.getProfile(l)));
  const required = new Map(profiles.filter((p) => p !== undefined).map((p) => [p.label, p.approvals]));
  return (r) => required.get(r.profile) ?? 1;
}

const list: ApiRoute<unknown, RequestQuery> = {
  method: 'GET', url: '/api/requests', operationId: 'listRequests', tag: 'requests', summary: 'Held requests, newest first (default: pending)',
  description: 'Each pending request carries `warnings` when another request for the same subject or key is waiting, or a valid certificate has that subject or key.',
  access: ANY_ROLE, schema: { querystring: requestQuery },
  responses: { 200: { description: 'a page of requests', schema: pageOf(PendingRequestSchema) }, ...problemResponses(400, 401) },
  async handler({ query }, ctx) {
    const filter = { ...(query.status !== 'all' ? { status: query.status } : {}), ...(query.profile ? { profile: query.profile } : {}) };
    const [items, total] = await Promise.all([
      ctx.store.listPendingRequests({ ...filter, offset: query.offset, limit: query.limit }),
      ctx.store.countPendingRequests(filter),
    ]);
    const now = ctx.now();
    const [approvals, warnings] = await Promise.all([approvalsOf(ctx, items), requestWarnings(ctx.store, items, now)]);
    return { items: items.map((r) => requestItemView(r, now, approvals(r), warnings.get(r.id) ?? [])), total, offset: query.offset, limit: query.limit };
  },
};

const get: ApiRoute<{ id: number }> = {
  method: 'GET', url: '/api/requests/:id', operationId: 'getRequest', tag: 'requests', summary: 'One held request in detail: the decoded CSR, where it came from, approvals and warnings',
  access: ANY_ROLE, schema: { params: idParams }, responses: { 200: { description: 'the request', schema: PendingRequestDetail }, ...problemResponses(400, 401, 404) },
  async handler({ params }, ctx) {
    const r = await ctx.store.getPendingRequest(params.id);
    if (!r) throw problem.notFound(`no request ${params.id}`);
    const now = ctx.now();
    const [approvals, warnings] = await Promise.all([approvalsOf(ctx, [r]), requestWarnings(ctx.store, [r], now)]);
    return requestDetailView(r, now, approvals(r), warnings.get(r.id) ?? []);
  },
};

function decide(name: 'approve' | 'reject', decision: Decision): ApiRoute<{ id: number }, unknown, { reason?: string }> {
  return {
    method: 'POST', url: `/api/requests/:id/${name}`, operationId: `${name}Request`, tag: 'requests',
    summary: decision === 'approved'
      ? 'Approve a pending request: the client\'s next re-send gets the certificate (four-eyes profiles: the first approval is recorded, the request stays pending until another officer approves)'
      : 'Reject a pending request: the client\'s next re-send gets 403 with the reason (final, also after a first approval)',
    ...(decision === 'approved' ? { description: '403 when the officer made the request or it names them, or when they gave the first of two approvals.' } : {}),
    access: OFFICERS, schema: { params: idParams, body: decision === 'approved' ? Approval : Rejection },
    responses: { 200: { description: 'decided, or the first of two approvals recorded (status still pending)', schema: PendingRequestSchema }, ...problemResponses(400, 401, 403, 404, 409) },
    async handler({ params, body, actor }, ctx) {
      const now = ctx.now();
      const outcome = await decideRequest(ctx.store, { id: params.id, decision, officer: actor, reason: body.reason?.trim() || null, now });
      switch (outcome.kind) {
        case 'decided':
        case 'first-approval': {
          const r = outcome.request;
          ctx.logger.info({ officer: actor, request: r.id, profile: r.profile, subject: r.subject, decision: outcome.kind === 'first-approval' ? 'first approval' : decision, reason: r.reason }, `request ${outcome.kind === 'first-approval' ? 'approved once (four eyes: one more approval needed)' : decision} in the Web RA`);
          const approvals = await approvalsOf(ctx, [r]);
          return requestItemView(r, now, approvals(r), []);
        }
        case 'not-found':
          throw problem.notFound(decisionRefusal(outcome));
        case 'own-request':
        case 'second-approval-needed':
          throw problem.forbidden(decisionRefusal(outcome));
        case 'not-pending':
        case 'expired':
        case 'raced':
          throw problem.conflict(decisionRefusal(outcome));
      }
    },
  };
}

export const requestRoutes: ApiRoute[] = [list, get, decide('approve', 'approved'), decide('reject', 'rejected')];

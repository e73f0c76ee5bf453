/**
 * Requests held under manual approval (RFC 7030 §4.2.3). Approving or rejecting goes through
 * the same decision as `estuary request approve|reject` (src/ra/request-decisions.ts); the
 * client's next re-send of the CSR collects the certificate or a 403 with the reason.
 */
import { decideRequest, decisionRefusal, type Decision } from '../ra/request-decisions.js';
import type { PendingStatus } from '../ra/model.js';
import { problem } from './problem.js';
import { ANY_ROLE, OFFICERS, type ApiRoute } from './route.js';
import { Approval, idParams, pageOf, PendingRequest, problemResponses, Rejection, requestQuery } from './schemas.js';
import { requestView } from './views.js';

interface RequestQuery {
  status: PendingStatus | 'all';
  profile?: string;
  offset: number;
  limit: number;
}

const list: ApiRoute<unknown, RequestQuery> = {
  method: 'GET', url: '/api/requests', operationId: 'listRequests', tag: 'requests', summary: 'Held requests, newest first (default: pending)',
  access: ANY_ROLE, schema: { querystring: requestQuery },
  responses: { 200: { description: 'a page of requests', schema: pageOf(PendingRequest) }, ...problemResponses(400, 401) },
  async handler({ query }, ctx) {
    const filter = { ...(query.status !== 'all' ? { status: query.status } : {}), ...(query.profile ? { profile: query.profile } : {}) };
    const [items, total] = await Promise.all([
      ctx.store.listPendingRequests({ ...filter, offset: query.offset, limit: query.limit }),
      ctx.store.countPendingRequests(filter),
    ]);
    const now = ctx.now();
    return { items: items.map((r) => requestView(r, now)), total, offset: query.offset, limit: query.limit };
  },
};

const get: ApiRoute<{ id: number }> = {
  method: 'GET', url: '/api/requests/:id', operationId: 'getRequest', tag: 'requests', summary: 'One held request',
  access: ANY_ROLE, schema: { params: idParams }, responses: { 200: { description: 'the request', schema: PendingRequest }, ...problemResponses(400, 401, 404) },
  async handler({ params }, ctx) {
    const r = await ctx.store.getPendingRequest(params.id);
    if (!r) throw problem.notFound(`no request ${params.id}`);
    return requestView(r, ctx.now());
  },
};

function decide(name: 'approve' | 'reject', decision: Decision): ApiRoute<{ id: number }, unknown, { reason?: string }> {
  return {
    method: 'POST', url: `/api/requests/:id/${name}`, operationId: `${name}Request`, tag: 'requests',
    summary: decision === 'approved' ? 'Approve a pending request: the client\'s next re-send gets the certificate' : 'Reject a pending request: the client\'s next re-send gets 403 with the reason',
    access: OFFICERS, schema: { params: idParams, body: decision === 'approved' ? Approval : Rejection },
    responses: { 200: { description: 'decided', schema: PendingRequest }, ...problemResponses(400, 401, 403, 404, 409) },
    async handler({ params, body, actor }, ctx) {
      const now = ctx.now();
      const outcome = await decideRequest(ctx.store, { id: params.id, decision, officer: actor, reason: body.reason?.trim() || null, now });
      switch (outcome.kind) {
        case 'decided': {
          const r = outcome.request;
          ctx.logger.info({ officer: actor, request: r.id, profile: r.profile, subject: r.subject, decision, reason: r.reason }, `request ${decision} in the Web RA`);
          return requestView(r, now);
        }
        case 'not-found':
          throw problem.notFound(decisionRefusal(outcome));
        case 'not-pending':
        case 'expired':
        case 'raced':
          throw problem.conflict(decisionRefusal(outcome));
      }
    },
  };
}

export const requestRoutes: ApiRoute[] = [list, get, decide('approve', 'approved'), decide('reject', 'rejected')];

/** The audit log: every EST issuance and refusal, every change made by the CLI or the Web RA. */
import type { AuditFilter } from '../store/store.js';
import { ANY_ROLE, type ApiRoute } from './route.js';
import { auditQuery, AuditEvent, pageOf, problemResponses } from './schemas.js';
import { auditView } from './views.js';

interface AuditQuery {
  actor?: string;
  action?: string;
  profile?: string;
  from?: string;
  to?: string;
  offset: number;
  limit: number;
}

const list: ApiRoute<unknown, AuditQuery> = {
  method: 'GET', url: '/api/audit', operationId: 'listAudit', tag: 'audit', summary: 'Audit events, newest first',
  description: 'actor, action and profile match exactly; from is inclusive, to exclusive.',
  access: ANY_ROLE, schema: { querystring: auditQuery },
  responses: { 200: { description: 'a page of events', schema: pageOf(AuditEvent) }, ...problemResponses(400, 401) },
  async handler({ query }, ctx) {
    const filter: AuditFilter = {};
    if (query.actor) filter.actor = query.actor.trim();
    if (query.action) filter.action = query.action.trim();
    if (query.profile) filter.profile = query.profile.trim();
    if (query.from) filter.from = new Date(query.from);
    if (query.to) filter.to = new Date(query.to);
    const [items, total] = await Promise.all([
      ctx.store.listAudit({ ...filter, offset: query.offset, limit: query.limit }),
      ctx.store.countAudit(filter),
    ]);
    return { items: items.map(auditView), total, offset: query.offset, limit: query.limit };
  },
};

export const auditRoutes: ApiRoute[] = [list];

/** The audit log: every EST issuance and refusal, every change made by the CLI or the Web RA. */
import { Readable } from 'node:stream';
import type { AuditEvent as AuditRecord } from '../ra/model.js';
import type { AuditFilter, Store } from '../store/store.js';
import { ANY_ROLE, type ApiRoute } from './route.js';
import { auditExportQuery, auditQuery, AuditEvent, pageOf, problemResponses } from './schemas.js';
import { auditView } from './views.js';

interface AuditFilterQuery {
  actor?: string;
  action?: string;
  profile?: string;
  from?: string;
  to?: string;
}

interface AuditQuery extends AuditFilterQuery {
  offset: number;
  limit: number;
}

function filterOf(query: AuditFilterQuery): AuditFilter {
  const filter: AuditFilter = {};
  if (query.actor) filter.actor = query.actor.trim();
  if (query.action) filter.action = query.action.trim();
  if (query.profile) filter.profile = query.profile.trim();
  if (query.from) filter.from = new Date(query.from);
  if (query.to) filter.to = new Date(query.to);
  return filter;
}

const list: ApiRoute<unknown, AuditQuery> = {
  method: 'GET', url: '/api/audit', operationId: 'listAudit', tag: 'audit', summary: 'Audit events, newest first',
  description: 'actor, action and profile match exactly; from is inclusive, to exclusive.',
  access: ANY_ROLE, schema: { querystring: auditQuery },
  responses: { 200: { description: 'a page of events', schema: pageOf(AuditEvent) }, ...problemResponses(400, 401) },
  async handler({ query }, ctx) {
    const filter = filterOf(query);
    const [items, total] = await Promise.all([
      ctx.store.listAudit({ ...filter, offset: query.offset, limit: query.limit }),
      ctx.store.countAudit(filter),
    ]);
    return { items: items.map(auditView), total, offset: query.offset, limit: query.limit };
  },
};

/** Events read for an export per query: keyset pages, so a deep export costs no more per page than the first. */
const EXPORT_PAGE = 1000;

/** Every event matching `filter`, newest first, a page at a time. */
async function* matching(store: Store, filter: AuditFilter): AsyncGenerator<AuditRecord> {
  let before: AuditFilter['before'];
  for (;;) {
    const page = await store.listAudit({ ...filter, ...(before ? { before } : {}), limit: EXPORT_PAGE });
    yield* page;
    if (page.length < EXPORT_PAGE) return;
    const last = page[page.length - 1]!;
    before = { at: last.at, id: last.id };
  }
}

export const CSV_COLUMNS = ['id', 'at', 'actor', 'action', 'profile', 'outcome', 'serial', 'detail', 'clientIp', 'requestId'] as const;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. A text starting
 * with = + - @ or a control character is prefixed with ' so a spreadsheet shows it instead of
 * running it as a formula (OWASP "CSV injection"): actors, details and request ids come from clients.
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  let s = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

async function* csv(events: AsyncGenerator<AuditRecord>): AsyncGenerator<string> {
  yield CSV_COLUMNS.join(',') + '\r\n';
  for await (const e of events) {
    const v = auditView(e);
    yield CSV_COLUMNS.map((c) => csvField(v[c])).join(',') + '\r\n';
  }
}

async function* jsonArray(events: AsyncGenerator<AuditRecord>): AsyncGenerator<string> {
  let first = true;
  yield '[';
  for await (const e of events) {
    yield (first ? '\n' : ',\n') + JSON.stringify(auditView(e));
    first = false;
  }
  yield '\n]\n';
}

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

function exportRoute(format: 'csv' | 'json'): ApiRoute<unknown, AuditFilterQuery> {
  const type = format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8';
  return {
    method: 'GET', url: `/api/audit/export.${format}`, operationId: format === 'csv' ? 'exportAuditCsv' : 'exportAuditJson', tag: 'audit',
    summary: `Every audit event matching the filters, newest first, as ${format === 'csv' ? 'CSV' : 'a JSON array'} (a download)`,
    description: format === 'csv'
      ? `RFC 4180 CSV with a header row: ${CSV_COLUMNS.join(', ')}. Fields starting with = + - @ are prefixed with ' (spreadsheet formula injection). Streamed: any number of events.`
      : 'A JSON array of AuditEvent. Streamed: any number of events.',
    access: ANY_ROLE, schema: { querystring: auditExportQuery },
    responses: {
      200: format === 'csv'
        ? { description: 'the events', contentType: 'text/csv', schema: { type: 'string' } }
        : { description: 'the events', schema: { type: 'array', items: AuditEvent } },
      ...problemResponses(400, 401),
    },
    async handler({ query, reply, actor }, ctx) {
      const events = matching(ctx.store, filterOf(query));
      const body = Readable.from(format === 'csv' ? csv(events) : jsonArray(events));
      body.on('error', (err) => ctx.logger.warn({ err: err.message, actor }, 'audit export stopped: the store failed'));
      ctx.logger.info({ actor, format, filter: query }, 'audit exported');
      return reply.type(type).header('content-disposition', `attachment; filename="audit-${stamp(ctx.now())}.${format}"`).send(body);
    },
  };
}

export const auditRoutes: ApiRoute[] = [list, exportRoute('csv'), exportRoute('json')];

/**
 * GET /api/certificates/export: the certificate list with the list's filters and order, as CSV
 * (RFC 4180) or JSON, downloaded as a file. The answer is streamed a page at a time through the
 * store's keyset cursor (each page a read the event loop waits for, never the whole list in
 * memory), up to EXPORT_LIMIT certificates; `X-Export-Truncated: true` says more matched.
 */
import { Readable } from 'node:stream';
import type { CertificateRecord } from '../ra/model.js';
import type { CertificateSearch } from '../store/store.js';
import { searchOf, type CertificateFilters } from './api-certificates.js';
import { ANY_ROLE, type ApiRoute } from './route.js';
import { certificateQuery, problemResponses } from './schemas.js';
import { certificateView } from './views.js';

/** At most this many certificates in one export (a million-row fleet exports by profile or status). */
export const EXPORT_LIMIT = 100_000;
/** Certificates read from the store per page. */
const EXPORT_PAGE = 250;

export const EXPORT_COLUMNS = [
  'serial', 'subject', 'sans', 'profile', 'ca', 'status', 'issued', 'notBefore', 'notAfter', 'requester',
  'renews', 'renewedBy', 'revokedAt', 'revocationReason', 'revokedBy',
] as const;

/**
 * One CSV field (RFC 4180 §2): quoted when it holds a comma, a quote, CR or LF, quotes doubled.
 * A field a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading
 * apostrophe (OWASP "CSV injection"); no certificate field starts so unless crafted.
 */
export function csvField(value: string | null): string {
  if (value === null) return '';
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function csvRow(c: CertificateRecord, now: Date): string {
  const v = certificateView(c, now);
  const cells: Record<(typeof EXPORT_COLUMNS)[number], string | null> = {
    serial: v.serial, subject: v.subject, sans: v.sans.join('; '), profile: v.profile, ca: v.ca, status: v.status, issued: v.createdAt,
    notBefore: v.notBefore, notAfter: v.notAfter, requester: v.requester, renews: v.renews, renewedBy: v.renewedBy,
    revokedAt: v.revokedAt, revocationReason: v.revocationReason, revokedBy: v.revokedBy,
  };
  return `${EXPORT_COLUMNS.map((k) => csvField(cells[k])).join(',')}\r\n`;
}

/** The matching certificates, a page at a time (one chunk of the answer each), at most `limit`. */
async function* pages(search: CertificateSearch, read: (s: CertificateSearch) => Promise<{ items: CertificateRecord[]; next?: string }>, limit: number): AsyncGenerator<CertificateRecord[]> {
  let after: string | undefined;
  let sent = 0;
  while (sent < limit) {
    const page = await read({ ...search, limit: Math.min(EXPORT_PAGE, limit - sent), countLimit: 0, ...(after ? { after } : {}) });
    if (page.items.length > 0) yield page.items;
    sent += page.items.length;
    if (!page.next) return;
    after = page.next;
  }
}

interface ExportQuery extends CertificateFilters {
  format: 'csv' | 'json';
}

const { offset: _offset, limit: _limit, after: _after, ...filterProps } = certificateQuery.properties;
const exportQuery = { ...certificateQuery, properties: { ...filterProps, format: { enum: ['csv', 'json'], default: 'csv', description: 'csv (RFC 4180, header row, CRLF) or json (an array)' } } };

const exportRoute: ApiRoute<unknown, ExportQuery> = {
  method: 'GET', url: '/api/certificates/export', operationId: 'exportCertificates', tag: 'certificates',
  summary: 'Download the certificate list (same filters and order as the search) as CSV or JSON',
  description: `Streamed a page at a time, at most ${EXPORT_LIMIT.toLocaleString('en')} certificates; X-Export-Truncated: true when more match `
    + `(narrow the filters). CSV columns: ${EXPORT_COLUMNS.join(', ')} (SANs joined with "; "). JSON: an array of Certificate.`,
  access: ANY_ROLE, schema: { querystring: exportQuery },
  responses: {
    200: { description: 'the file (Content-Disposition: attachment)', contentType: 'text/csv', schema: { type: 'string' } },
    ...problemResponses(400, 401, 503),
  },
  async handler({ query, reply }, ctx) {
    const now = ctx.now();
    const search = searchOf(query, now);
    // whether more than the limit match: a count bounded by the limit, once
    const first = await ctx.store.searchCertificates({ ...search, limit: 1, countLimit: EXPORT_LIMIT });
    const truncated = first.totalIsLowerBound === true;
    const rows = pages(search, (s) => ctx.store.searchCertificates(s), EXPORT_LIMIT);
    const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
    async function* body(): AsyncGenerator<string> {
      if (query.format === 'json') {
        let first = true;
        yield '[';
        for await (const page of rows) {
          yield `${first ? '' : ','}\n${page.map((c) => JSON.stringify(certificateView(c, now))).join(',\n')}`;
          first = false;
        }
        yield '\n]\n';
        return;
      }
      yield `${EXPORT_COLUMNS.join(',')}\r\n`;
      for await (const page of rows) yield page.map((c) => csvRow(c, now)).join('');
    }
    const json = query.format === 'json';
    return reply
      .type(json ? 'application/json; charset=utf-8' : 'text/csv; charset=utf-8; header=present')
      .header('content-disposition', `attachment; filename="certificates-${stamp}.${json ? 'json' : 'csv'}"`)
      .header('X-Export-Truncated', String(truncated))
      .header('cache-control', 'no-store')
      .send(Readable.from(body()));
  },
};

export const certificateExportRoutes: ApiRoute[] = [exportRoute];

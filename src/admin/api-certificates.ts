/**
 * Issued certificates: search, detail, PEM and chain downloads, and revocation through the
 * same path as `estuary cert revoke` (src/ra/revocation.ts); the CA's CRL lists a revoked
 * certificate from its next fetch (the CRL service follows the store). A certificate of an
 * upstream CA (no CRLs here) is revoked here only, and the answer says the upstream must revoke it.
 */
import { issuesCrls } from '../ca/ca-backend.js';
import { toPem } from '../pki/base64.js';
import { normalizeSerial } from '../pki/certificate.js';
import type { CrlReason } from '../pki/crl.js';
import { releaseHold, revokeCertificate, upstreamRevocationNotice } from '../ra/revocation.js';
import type { FastifyReply } from 'fastify';
import type { CertificateSearch, Page } from '../store/store.js';
import type { CertificateRecord } from '../ra/model.js';
import { problem } from './problem.js';
import { ANY_ROLE, OFFICERS, type AdminContext, type ApiRoute } from './route.js';
import { Certificate, certificatePageOf, certificateQuery, CertificateDetail, problemResponses, Revocation, serialParams } from './schemas.js';
import { approvalView, certificateDetail, certificateView } from './views.js';

const DAY_MS = 86_400_000;
/**
 * Counting every match of a broad search over a million certificates costs more than the page:
 * the count stops here and the answer says "at least" (totalIsLowerBound).
 */
export const COUNT_LIMIT = 10_000;

/** The list's filters (the export takes the same). */
export interface CertificateFilters {
  q?: string;
  subject?: string;
  san?: string;
  serial?: string;
  profile?: string;
  status?: 'valid' | 'revoked' | 'expired';
  expiresWithinDays?: number;
  order?: 'issued' | 'expiry';
}

interface CertificateQuery extends CertificateFilters {
  after?: string;
  offset: number;
  limit: number;
}

/** The store search for the list's filters at `now` (no paging). */
export function searchOf(query: CertificateFilters, now: Date): CertificateSearch {
  const search: CertificateSearch = { now, order: query.order ?? 'issued' };
  for (const k of ['q', 'subject', 'san', 'serial', 'profile', 'status'] as const) {
    const v = query[k]?.trim();
    if (v) (search as Record<string, unknown>)[k] = v;
  }
  if (query.expiresWithinDays !== undefined) {
    search.notAfterFrom = now;
    search.notAfterTo = new Date(now.getTime() + query.expiresWithinDays * DAY_MS);
  }
  return search;
}

/** A configured connector whose CA keeps its own revocation list (an upstream CA): no CRL here lists its certificates. */
export function upstreamOnly(ctx: AdminContext, caId: string): boolean {
  const ca = ctx.cas.find((c) => c.id === caId);
  return ca !== undefined && !issuesCrls(ca.backend);
}

/** The detail view, with what revoking it means where it was issued, and who approved it when it was held. */
export async function detail(ctx: AdminContext, c: CertificateRecord, now: Date) {
  const ca = ctx.cas.find((x) => x.id === c.ca);
  const request = await ctx.store.findRequestFor(c.serial);
  return {
    ...certificateDetail(c, now), caPublishesCrl: ca !== undefined && issuesCrls(ca.backend), revocationNotice: upstreamOnly(ctx, c.ca) ? upstreamRevocationNotice(c.ca) : null,
    approval: request ? approvalView(request) : null,
  };
}

async function mustExist(ctx: AdminContext, serial: string): Promise<CertificateRecord> {
  const c = await ctx.store.getCertificate(normalizeSerial(serial));
  if (!c) throw problem.notFound(`no certificate with serial ${serial}`);
  return c;
}

const list: ApiRoute<unknown, CertificateQuery> = {
  method: 'GET', url: '/api/certificates', operationId: 'searchCertificates', tag: 'certificates',
  summary: 'Search issued certificates, newest issued or soonest expiry first',
  description: 'Every filter given must match. expiresWithinDays: not yet expired and notAfter within that many days. ' +
    `q, subject, san and serial match substrings, case-insensitively. The total is counted up to ${COUNT_LIMIT.toLocaleString('en')} ` +
    '(totalIsLowerBound: more match). Page with offset, or with after = the previous page\'s next (any depth at the same cost).',
  access: ANY_ROLE, schema: { querystring: certificateQuery },
  responses: { 200: { description: 'a page of certificates', schema: certificatePageOf(Certificate) }, ...problemResponses(400, 401, 503) },
  async handler({ query }, ctx) {
    const now = ctx.now();
    const search: CertificateSearch = { ...searchOf(query, now), offset: query.offset, limit: query.limit, countLimit: COUNT_LIMIT, ...(query.after ? { after: query.after } : {}) };
    return pageView(await ctx.store.searchCertificates(search), query, now);
  },
};

/** A page of the store's search as the API answers it (the certificate list and the self-service one). */
export function pageView(page: Page<CertificateRecord>, query: { after?: string; offset: number; limit: number }, now: Date) {
  return {
    items: page.items.map((c) => certificateView(c, now)), total: page.total, totalIsLowerBound: page.totalIsLowerBound === true, next: page.next ?? null,
    offset: query.after ? 0 : query.offset, limit: query.limit,
  };
}

/** A certificate (`pem`) or it and its CA chain up to the root (`chain.pem`) as a PEM file download. */
export async function sendPem(ctx: AdminContext, reply: FastifyReply, c: CertificateRecord, name: 'pem' | 'chain.pem'): Promise<FastifyReply> {
  const chain = name === 'pem' ? [] : ((await ctx.cas.find((ca) => ca.id === c.ca)?.backend.chain()) ?? []);
  const pem = [c.der, ...chain].map((der) => toPem('CERTIFICATE', der)).join('');
  const file = name === 'pem' ? `${c.serial}.pem` : `${c.serial}-chain.pem`;
  return reply.type('application/x-pem-file').header('content-disposition', `attachment; filename="${file}"`).send(pem);
}

const get: ApiRoute<{ serial: string }> = {
  method: 'GET', url: '/api/certificates/:serial', operationId: 'getCertificate', tag: 'certificates', summary: 'One certificate, decoded, with its PEM',
  access: ANY_ROLE, schema: { params: serialParams },
  responses: { 200: { description: 'the certificate', schema: CertificateDetail }, ...problemResponses(400, 401, 404) },
  async handler({ params }, ctx) {
    return detail(ctx, await mustExist(ctx, params.serial), ctx.now());
  },
};

function download(name: 'pem' | 'chain.pem'): ApiRoute<{ serial: string }> {
  return {
    method: 'GET', url: `/api/certificates/:serial/${name}`, operationId: name === 'pem' ? 'downloadCertificate' : 'downloadChain', tag: 'certificates',
    summary: name === 'pem' ? 'The certificate as a PEM file' : 'The certificate followed by its CA chain, up to the root, as a PEM file',
    access: ANY_ROLE, schema: { params: serialParams },
    responses: { 200: { description: 'PEM', contentType: 'application/x-pem-file', schema: { type: 'string' } }, ...problemResponses(400, 401, 404) },
    async handler({ params, reply }, ctx) {
      return sendPem(ctx, reply, await mustExist(ctx, params.serial), name);
    },
  };
}

const revoke: ApiRoute<{ serial: string }, unknown, { reason: CrlReason }> = {
  method: 'POST', url: '/api/certificates/:serial/revoke', operationId: 'revokeCertificate', tag: 'certificates',
  summary: 'Revoke a certificate: it can no longer authenticate or renew, and the next CRL lists it',
  description: 'A certificate issued through an upstream CA (caPublishesCrl false) is revoked here only: no CRL of this server lists it, and `revocationNotice` says the upstream CA must revoke it (EST has no revocation operation).',
  access: OFFICERS, schema: { params: serialParams, body: Revocation },
  responses: { 200: { description: 'revoked', schema: CertificateDetail }, ...problemResponses(400, 401, 403, 404, 409) },
  async handler({ params, body, actor }, ctx) {
    const now = ctx.now();
    const outcome = await revokeCertificate(ctx.store, { serial: normalizeSerial(params.serial), reason: body.reason, actor, now, publishesCrl: (id) => !upstreamOnly(ctx, id) });
    switch (outcome.kind) {
      case 'revoked': {
        const c = outcome.certificate;
        ctx.logger.info({ officer: actor, serial: c.serial, profile: c.profile, subject: c.subject, reason: body.reason }, 'certificate revoked in the Web RA');
        return detail(ctx, c, now);
      }
      case 'not-found':
        throw problem.notFound(`no certificate with serial ${params.serial}`);
      case 'already-revoked':
        throw problem.conflict(`certificate ${outcome.certificate.serial} is already revoked`);
    }
  },
};

const release: ApiRoute<{ serial: string }> = {
  method: 'POST', url: '/api/certificates/:serial/release', operationId: 'releaseCertificateHold', tag: 'certificates',
  summary: 'Release a certificate from hold (revoked with reason certificateHold): valid again, and off the CA\'s next CRL',
  description: 'RFC 5280 §5.3.1: only certificateHold can be undone; any other revocation is final (409). The next complete CRL no longer lists it; '
    + 'with delta CRLs on, the next delta CRL lists it with reason removeFromCRL until the complete CRL is re-signed. Audited as cert.release.',
  access: OFFICERS, schema: { params: serialParams },
  responses: { 200: { description: 'released: valid again', schema: CertificateDetail }, ...problemResponses(400, 401, 403, 404, 409) },
  async handler({ params, actor }, ctx) {
    const now = ctx.now();
    const outcome = await releaseHold(ctx.store, { serial: normalizeSerial(params.serial), actor, now });
    switch (outcome.kind) {
      case 'released':
        ctx.logger.info({ serial: outcome.certificate.serial, actor }, 'certificate released from hold');
        return detail(ctx, outcome.certificate, now);
      case 'not-found':
        throw problem.notFound(`no certificate with serial ${params.serial}`);
      case 'not-on-hold': {
        const c = outcome.certificate;
        throw problem.conflict(c.status === 'revoked'
          ? `certificate ${c.serial} is revoked (${c.revocationReason}), which cannot be undone: only certificateHold can be released`
          : `certificate ${c.serial} is not on hold`);
      }
    }
  },
};

export const certificateRoutes: ApiRoute[] = [list, get, download('pem'), download('chain.pem'), revoke, release];

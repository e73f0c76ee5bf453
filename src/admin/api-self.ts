/**
 * Self-service: what a signed-in account may do with its own certificates and password. An EST
 * account with self-service on (Account.selfService) signs in to the Web RA and reaches only these
 * calls and its session: the certificates requested with its email, their PEM files, revoking one
 * (key compromise, the one reason a holder knows first-hand) and changing its password. Any other
 * account's certificate is answered 404, as if it did not exist. Web RA accounts may use them too.
 */
import { normalizeSerial } from '../pki/certificate.js';
import { HashGateFullError } from '../ra/hash-gate.js';
import type { CertificateRecord } from '../ra/model.js';
import { passwordRefusal } from '../ra/password-policy.js';
import { hashPassword, verifyPassword } from '../ra/password.js';
import { revokeCertificate } from '../ra/revocation.js';
import type { CertificateSearch } from '../store/store.js';
import { problem, ProblemError } from './problem.js';
import { ANY_ACCOUNT, type AdminContext, type ApiRoute } from './route.js';
import { Certificate, certificatePageOf, CertificateDetail, ownCertificateQuery, PasswordChange, problemResponses, serialParams } from './schemas.js';
import { pageView, sendPem, upstreamOnly } from './api-certificates.js';
import { certificateDetail } from './views.js';

const TAG = 'self-service';

/** The caller's certificate, or 404 (also for another account's: its existence is not disclosed). */
async function own(ctx: AdminContext, email: string, serial: string): Promise<CertificateRecord> {
  const c = await ctx.store.getCertificate(normalizeSerial(serial));
  if (!c || c.requester.toLowerCase() !== email.toLowerCase()) throw problem.notFound(`you have no certificate with serial ${serial}`);
  return c;
}

/** Its detail: no notice about an upstream CA's revocation (the holder cannot act on it) and no approvers. */
function ownDetail(ctx: AdminContext, c: CertificateRecord, now: Date) {
  return { ...certificateDetail(c, now), caPublishesCrl: !upstreamOnly(ctx, c.ca), revocationNotice: null };
}

const list: ApiRoute<unknown, { q?: string; status?: 'valid' | 'revoked' | 'expired'; after?: string; offset: number; limit: number }> = {
  method: 'GET', url: '/api/self/certificates', operationId: 'listOwnCertificates', tag: TAG,
  summary: 'The certificates requested with the signed-in account, newest first',
  access: ANY_ACCOUNT, schema: { querystring: ownCertificateQuery },
  responses: { 200: { description: 'a page of certificates', schema: certificatePageOf(Certificate) }, ...problemResponses(400, 401) },
  async handler({ query, session }, ctx) {
    const now = ctx.now();
    const search: CertificateSearch = { now, requester: session!.email, offset: query.offset, limit: query.limit, countLimit: 10_000, ...(query.after ? { after: query.after } : {}) };
    if (query.q?.trim()) search.q = query.q.trim();
    if (query.status) search.status = query.status;
    return pageView(await ctx.store.searchCertificates(search), query, now);
  },
};

const get: ApiRoute<{ serial: string }> = {
  method: 'GET', url: '/api/self/certificates/:serial', operationId: 'getOwnCertificate', tag: TAG, summary: 'One of your certificates, decoded, with its PEM',
  access: ANY_ACCOUNT, schema: { params: serialParams },
  responses: { 200: { description: 'the certificate', schema: CertificateDetail }, ...problemResponses(400, 401, 404) },
  async handler({ params, session }, ctx) {
    return ownDetail(ctx, await own(ctx, session!.email, params.serial), ctx.now());
  },
};

function download(name: 'pem' | 'chain.pem'): ApiRoute<{ serial: string }> {
  return {
    method: 'GET', url: `/api/self/certificates/:serial/${name}`, operationId: name === 'pem' ? 'downloadOwnCertificate' : 'downloadOwnChain', tag: TAG,
    summary: name === 'pem' ? 'One of your certificates as a PEM file' : 'One of your certificates followed by its CA chain, as a PEM file',
    access: ANY_ACCOUNT, schema: { params: serialParams },
    responses: { 200: { description: 'PEM', contentType: 'application/x-pem-file', schema: { type: 'string' } }, ...problemResponses(400, 401, 404) },
    async handler({ params, session, reply }, ctx) {
      return sendPem(ctx, reply, await own(ctx, session!.email, params.serial), name);
    },
  };
}

const revoke: ApiRoute<{ serial: string }> = {
  method: 'POST', url: '/api/self/certificates/:serial/revoke', operationId: 'revokeOwnCertificate', tag: TAG,
  summary: 'Revoke one of your certificates because its key is compromised (RFC 5280 §5.3.1 keyCompromise)',
  description: 'It can no longer authenticate or renew, and the next CRL lists it. Other reasons are for an officer.',
  access: ANY_ACCOUNT, schema: { params: serialParams },
  responses: { 200: { description: 'revoked', schema: CertificateDetail }, ...problemResponses(400, 401, 403, 404, 409) },
  async handler({ params, session, actor }, ctx) {
    const mine = await own(ctx, session!.email, params.serial);
    const now = ctx.now();
    const outcome = await revokeCertificate(ctx.store, { serial: mine.serial, reason: 'keyCompromise', actor, now, publishesCrl: (id) => !upstreamOnly(ctx, id) });
    switch (outcome.kind) {
      case 'revoked':
        ctx.logger.info({ serial: mine.serial, actor, reason: 'keyCompromise' }, 'certificate revoked by its holder (self-service)');
        return ownDetail(ctx, outcome.certificate, now);
      case 'not-found':
        throw problem.notFound(`you have no certificate with serial ${params.serial}`);
      case 'already-revoked':
        throw problem.conflict(`certificate ${outcome.certificate.serial} is already revoked`);
    }
  },
};

const changePassword: ApiRoute<unknown, unknown, { currentPassword: string; newPassword: string }> = {
  method: 'POST', url: '/api/self/password', operationId: 'changeOwnPassword', tag: TAG,
  summary: 'Change your own password',
  description: 'The current password is checked first. Your other sessions end; this one goes on. For an EST account it is also the HTTP Basic password of its devices.',
  access: ANY_ACCOUNT, schema: { body: PasswordChange },
  responses: { 204: { description: 'changed' }, ...problemResponses(400, 401, 403, 429) },
  async handler({ body, session, reply, request }, ctx) {
    const account = await ctx.store.getAccount(session!.email);
    if (!account) throw problem.unauthenticated('this account no longer exists');
    let verified: boolean;
    try {
      verified = await ctx.gate.run(ctx.throttle.suspect(request.ip), () => verifyPassword(body.currentPassword, account.passwordHash));
    } catch (err) {
      if (err instanceof HashGateFullError) throw new ProblemError('locked', 'too many passwords are being checked; try again shortly', { retryAfterSeconds: 5 });
      throw err;
    }
    if (!verified) {
      await ctx.store.appendAudit({ actor: account.email, action: 'account.passwd', profile: null, outcome: 'unauthenticated', serial: null, detail: `self-service: wrong current password, from ${request.ip}` });
      throw problem.field('currentPassword', 'the current password is wrong');
    }
    const refusal = passwordRefusal(body.newPassword, account.email);
    if (refusal) throw problem.field('newPassword', refusal);
    await ctx.store.setAccountPassword(account.email, await hashPassword(body.newPassword));
    await ctx.sessions.destroyFor(account.email, session);
    await ctx.store.appendAudit({ actor: account.email, action: 'account.passwd', profile: null, outcome: 'success', serial: null, detail: 'self-service: own password changed' });
    return reply.code(204).send();
  },
};

export const selfRoutes: ApiRoute[] = [list, get, download('pem'), download('chain.pem'), revoke, changePassword];

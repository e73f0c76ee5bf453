/**
 * Sign-in with a TLS client certificate (admin.clientCertificateCa): the Web RA listener then asks
 * every client for a certificate during the handshake (a browser offers the ones issued under the
 * configured CAs; a client without one just goes on), and POST /api/session/certificate turns a
 * certificate into a session. The certificate must chain to a configured CA (RFC 5280 §6, as for
 * EST clients: ra/client-cert.ts), allow clientAuth, and name the account by email (a
 * subjectAltName rfc822Name, else the subject's emailAddress); the account must be an enabled
 * admin, officer or auditor. A certificate our own CA issued and revoked is refused; certificates
 * of another CA are not checked for revocation: disable the account to stop one.
 */
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { peerChain } from '../est/tls-credentials.js';
import { normalizeSerial } from '../pki/certificate.js';
import { subjectOf, validateClientChain } from '../ra/client-cert.js';
import { ADMIN_ROLES, type AdminRole } from '../ra/model.js';
import { sessionCookie, sessionInfo } from './guard.js';
import { problem, ProblemError } from './problem.js';
import type { AdminContext, ApiRoute } from './route.js';
import { named, problemResponses, SessionInfo } from './schemas.js';

/** HTTPS options of the listener: ask for a client certificate, judged by the route, not by TLS. */
export function clientCertificateRequest(anchors: readonly string[] | undefined) {
  if (!anchors?.length) return {};
  // `ca` names the acceptable issuers in the CertificateRequest (RFC 8446 §4.2.4), so browsers offer only those.
  return { requestCert: true, rejectUnauthorized: false, ca: [...anchors] };
}

/** Emails a certificate names: rfc822Name SANs first, then the subject's emailAddress attributes. */
export function certificateEmails(cert: X509Certificate): string[] {
  const sans = [...(cert.subjectAltName ?? '').matchAll(/(?:^|, )email:("(?:[^"\\]|\\.)*"|[^,]+)/g)].map((m) => m[1]!.replace(/^"|"$/g, ''));
  const subject = [...cert.subject.matchAll(/^emailAddress=(.+)$/gm)].map((m) => m[1]!);
  return [...sans, ...subject].map((e) => e.trim().toLowerCase());
}

async function audit(ctx: AdminContext, actor: string, outcome: string, detail: string): Promise<void> {
  await ctx.store.appendAudit({ actor, action: 'session.signin', profile: null, outcome, serial: null, detail });
}

const CertificateSignInInfo = named('CertificateSignIn', {
  type: 'object', additionalProperties: false, required: ['enabled'],
  properties: { enabled: { type: 'boolean', description: 'admin.clientCertificateCa is set: the listener asks for a client certificate' } },
});

const available: ApiRoute = {
  method: 'GET', url: '/api/session/certificate', operationId: 'certificateSignInAvailable', tag: 'session',
  summary: 'Whether signing in with a client certificate is configured', access: 'public', schema: {},
  responses: { 200: { description: 'configured or not', schema: CertificateSignInInfo } },
  async handler(_call, ctx) {
    return { enabled: ctx.clientCertificateAnchors.length > 0 };
  },
};

const signIn: ApiRoute = {
  method: 'POST', url: '/api/session/certificate', operationId: 'signInWithCertificate', tag: 'session',
  summary: 'Sign in with the TLS client certificate of this connection',
  description: 'Sets the session cookie as POST /api/session does. The certificate must chain to admin.clientCertificateCa and name the account by email (rfc822Name SAN or emailAddress).',
  access: 'public', schema: {},
  responses: { 200: { description: 'signed in', schema: SessionInfo }, ...problemResponses(401, 501) },
  async handler({ request, reply }, ctx) {
    if (ctx.clientCertificateAnchors.length === 0) throw new ProblemError('not-implemented', 'signing in with a client certificate is not configured (admin.clientCertificateCa)');
    const address = request.ip;
    const chain = peerChain(request.raw.socket as TLSSocket);
    if (chain.length === 0) throw problem.unauthenticated('no client certificate was presented on this connection');
    const now = ctx.now();
    const result = validateClientChain(chain, ctx.clientCertificateAnchors, now);
    const leaf = new X509Certificate(chain[0]!);
    const who = `client certificate "${subjectOf(leaf)}" (SHA-256 ${leaf.fingerprint256})`;
    const refuse = async (actor: string, why: string): Promise<never> => {
      await audit(ctx, actor, 'unauthenticated', `${who}: ${why}, from ${address}`);
      throw problem.unauthenticated(`the client certificate cannot sign in: ${why}`);
    };
    if (!result.ok) return refuse(address, result.reason);
    const emails = certificateEmails(leaf);
    if (emails.length === 0) return refuse(address, 'it names no email address (rfc822Name or emailAddress)');
    const ours = await ctx.store.getCertificate(normalizeSerial(leaf.serialNumber));
    if (ours && ours.der.equals(leaf.raw) && ours.status === 'revoked') return refuse(emails[0]!, 'it is revoked');
    for (const email of emails) {
      const account = await ctx.store.getAccount(email);
      if (!account) continue;
      if (account.disabled) return refuse(email, 'the account is disabled');
      if (!(ADMIN_ROLES as readonly string[]).includes(account.role)) return refuse(email, `a ${account.role} account cannot sign in to the Web RA`);
      const { session, cookie } = await ctx.sessions.create(account.email, account.role as AdminRole);
      await audit(ctx, session.email, 'success', `${session.role}, with ${who}, from ${address}`);
      reply.header('set-cookie', sessionCookie(cookie));
      return sessionInfo(session, ctx.sessions);
    }
    return refuse(emails[0]!, `no Web RA account ${emails.join(' or ')}`);
  },
};

export const certificateSessionRoutes: ApiRoute[] = [available, signIn];

/** Pipeline stage 1, authenticate: who is asking, by the profile's mechanism or by the certificate being renewed. */
import { X509Certificate } from 'node:crypto';
import type { CaBackend } from '../ca/ca-backend.js';
import { certificateFields, type CertificateFields } from '../pki/certificate.js';
import type { Store } from '../store/store.js';
import type { Account, Profile } from './model.js';
import {
  authenticateBasic, authenticateEnroll, basicRealm, type AuthContext, type Credentials, type Principal,
} from './authenticators.js';
import { RaError } from './errors.js';
import { checkRenewalRules, renewingAccount } from './renewal-rules.js';

/** The authenticated requester; for a renewal also the certificate renewed and the account that obtained it. */
export type EnrollPrincipal = Principal & { renewing?: CertificateFields; owner?: Account };

export interface AuthenticationDeps {
  store: Store;
  now: () => Date;
  auth: AuthContext;
}

/** RFC 7030 §4.2.2: reenroll is authenticated by the certificate being renewed. */
export async function authenticateReenroll(d: AuthenticationDeps, p: Profile, ca: CaBackend, creds: Credentials): Promise<EnrollPrincipal & { renewing: CertificateFields }> {
  // Only a certificate can authenticate a reenroll, so certificate failures challenge for a certificate, not Basic.
  const certRefused = (message: string): RaError => new RaError('unauthenticated', message, { certificateRealm: basicRealm(p) });
  const leafDer = creds.clientChain?.[0];
  if (!leafDer) throw certRefused('simplereenroll requires the certificate being renewed as the TLS client certificate');
  const cert = new X509Certificate(leafDer);
  if (!ca.issued(leafDer)) throw certRefused('the client certificate was not issued by this profile\'s CA');
  const now = d.now();
  if (now > new Date(cert.validTo) || now < new Date(cert.validFrom)) throw certRefused('the certificate being renewed is not within its validity period');
  const renewing = certificateFields(leafDer);
  const record = await d.store.getCertificate(renewing.serialHex);
  if (!record) throw certRefused('the certificate being renewed is not known to this RA');
  if (record.status === 'revoked') throw certRefused('the certificate being renewed has been revoked');
  if (record.profile !== p.label) throw new RaError('forbidden', `the certificate being renewed belongs to profile "${record.profile}", not "${p.label}"`);
  await checkRenewalRules(d.store, p, record, now);
  // A certificate obtained with an EST account renews only while that account may still enroll.
  const owner = p.auth === 'tls-client-cert' ? undefined : await renewingAccount(d.store, p, record.requester);
  if (p.auth === 'basic+tls-client-cert') {
    const account = await authenticateBasic(d.auth, p, creds);
    return { actor: account.email, account, certificate: cert, renewing, ...(owner ? { owner } : {}) };
  }
  return { actor: record.requester, ...(owner ? { account: owner, owner } : {}), certificate: cert, renewing };
}

export async function authenticateRequest(d: AuthenticationDeps, p: Profile, ca: CaBackend, renewal: boolean, creds: Credentials): Promise<EnrollPrincipal> {
  return renewal ? authenticateReenroll(d, p, ca, creds) : authenticateEnroll(d.auth, p, creds);
}

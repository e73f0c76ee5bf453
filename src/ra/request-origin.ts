/**
 * What a held request records about where it came from, for the officer who decides it: the
 * client's address, the authentication it passed, and the TLS client certificate that did.
 */
import type { X509Certificate } from 'node:crypto';
import { normalizeSerial } from '../pki/certificate.js';
import type { Credentials } from './authenticators.js';
import { subjectOf } from './client-cert.js';
import type { EnrollPrincipal } from './enroll-authentication.js';
import type { AuthMechanism, ClientCertificateSummary, NewPendingRequest, Profile } from './model.js';

export type RequestOrigin = Required<Pick<NewPendingRequest, 'clientAddress' | 'authMethod' | 'clientCertificate'>>;

export function certificateSummary(cert: X509Certificate): ClientCertificateSummary {
  return { subject: subjectOf(cert), issuer: cert.issuer.replace(/\n/g, ', '), serial: normalizeSerial(cert.serialNumber), fingerprintSha256: cert.fingerprint256 };
}

/**
 * The mechanism a request passed: the profile's on simpleenroll and serverkeygen; on
 * simplereenroll (RFC 7030 §4.2.2) the certificate being renewed, with Basic too when the profile
 * asks for both.
 */
export function authenticationUsed(p: Profile, renewal: boolean): AuthMechanism {
  if (!renewal) return p.auth;
  return p.auth === 'basic+tls-client-cert' ? 'basic+tls-client-cert' : 'tls-client-cert';
}

export function requestOrigin(p: Profile, principal: EnrollPrincipal, renewal: boolean, creds: Credentials): RequestOrigin {
  return {
    clientAddress: creds.address ?? null,
    authMethod: authenticationUsed(p, renewal),
    clientCertificate: principal.certificate ? certificateSummary(principal.certificate) : null,
  };
}

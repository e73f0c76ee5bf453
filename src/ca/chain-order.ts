/**
 * CA certificates in chain order: the issuing CA first, then each issuer up to the root (RFC 7030
 * §4.1.3 leaves the order of /cacerts open; the RA serves and shows them in this order). Any
 * certificate outside that one path (rollover link certificates, other roots) follows, in the order given.
 */
import { X509Certificate } from 'node:crypto';
import { issuedBy } from '../pki/certificate.js';

export function orderChain(certs: readonly Buffer[]): Buffer[] {
  const parsed = certs.map((der) => ({ der, cert: new X509Certificate(der) }));
  const signs = (issuer: X509Certificate, subject: X509Certificate): boolean => issuer !== subject && issuedBy(subject, issuer);
  // the start: a certificate that issued none of the others (the issuing CA)
  const start = parsed.find((p) => !parsed.some((o) => o !== p && signs(p.cert, o.cert))) ?? parsed[0];
  if (!start) return [];
  const path = [start];
  for (let current = start; path.length < parsed.length; ) {
    const next = parsed.find((p) => !path.includes(p) && signs(p.cert, current.cert));
    if (!next) break;
    path.push(next);
    current = next;
  }
  return [...path, ...parsed.filter((p) => !path.includes(p))].map((p) => p.der);
}

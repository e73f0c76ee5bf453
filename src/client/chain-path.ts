/**
 * The CA certificates stored beside an issued certificate, in the order of a path from it: the
 * issuer first, then the issuer's issuer, up to a self-signed root; the rest after. After a CA key
 * rollover (RFC 7030 §4.1.3) /cacerts holds NewWithNew, OldWithNew and NewWithOld: for a certificate
 * under the new key the path goes through NewWithOld to the old root, which the client already
 * trusts (a verifier that takes the first matching issuer, as openssl does, then finds that path).
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { isSelfSigned, issuedBy } from '../pki/certificate.js';


export function pathFirst(leaf: Buffer, certs: readonly Buffer[]): Buffer[] {
  const parsed = certs.map((der) => ({ der, cert: new X509Certificate(der) }));
  const used = new Set<(typeof parsed)[number]>();
  const keys: KeyObject[] = [];
  const path: Buffer[] = [];
  let current = new X509Certificate(leaf);
  for (let depth = 0; depth < 8; depth++) {
    const candidates = parsed.filter((p) => !used.has(p) && issuedBy(current, p.cert));
    if (candidates.length === 0) break;
    keys.push(candidates[0]!.cert.publicKey);
    // a link to a key not met yet, else the self-signed certificate of this key
    const next = candidates.find((p) => !isSelfSigned(p.cert) && !keys.some((k) => p.cert.verify(k)))
      ?? candidates.find((p) => isSelfSigned(p.cert)) ?? candidates[0]!;
    used.add(next);
    path.push(next.der);
    if (isSelfSigned(next.cert)) break;
    current = next.cert;
  }
  return [...path, ...parsed.filter((p) => !used.has(p)).map((p) => p.der)];
}

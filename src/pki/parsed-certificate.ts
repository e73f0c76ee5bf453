/**
 * One node:crypto parse per certificate buffer. `new X509Certificate(der)` costs Node 20 with
 * OpenSSL 3 some 150–300 µs (the subject public key is imported through OpenSSL's decoders while
 * the certificate is read), more than every other check on an answer together. An answer read by
 * the EST client (src/client/responses.ts, which checks every certificate parses) and then checked
 * by the RA's upstream connector (src/ca/upstream-ca.ts) passes the same Buffer along, so the
 * second reader gets the first one's object instead of parsing again.
 *
 * Keyed by the Buffer object itself (a WeakMap: the entry goes with the buffer); a hit is used
 * only while the buffer still holds the bytes that were parsed, so a buffer written to since is
 * parsed again.
 */
import { X509Certificate } from 'node:crypto';

const parsed = new WeakMap<Buffer, X509Certificate>();

/** The certificate in `der`, parsed by node:crypto (throws as `new X509Certificate(der)` does). */
export function parsedCertificate(der: Buffer): X509Certificate {
  const known = parsed.get(der);
  if (known && known.raw.equals(der)) return known;
  const cert = new X509Certificate(der);
  parsed.set(der, cert);
  return cert;
}

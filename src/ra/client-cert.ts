/**
 * TLS client certificate path validation (RFC 5280 §6, the parts an RA needs): the chain the
 * client presented must lead, by name and signature, to one of the profile's trust anchors;
 * every certificate on it must be within validity; intermediates must be CAs.
 */
import { X509Certificate } from 'node:crypto';
import { pemBlocks } from '../pki/base64.js';
import { certificateFields } from '../pki/certificate.js';
import { children, readTop, TAG, value } from '../pki/der.js';
import { OID } from '../pki/oids.js';

/** `anchor`: the trust anchor the path ends at (its names may bind what the leaf requests). */
export type ChainResult = { ok: true; leaf: X509Certificate; anchor: X509Certificate } | { ok: false; reason: string };

const MAX_DEPTH = 8;

export function parseAnchors(pems: readonly string[]): X509Certificate[] {
  return pems.flatMap((pem) => pemBlocks(pem)).map((der) => new X509Certificate(der));
}

function withinValidity(cert: X509Certificate, now: Date): string | undefined {
  if (now < new Date(cert.validFrom)) return `certificate "${cert.subject}" is not yet valid`;
  if (now > new Date(cert.validTo)) return `certificate "${cert.subject}" has expired`;
  return undefined;
}

/** pathLenConstraint of a CA certificate's basicConstraints, if any. */
function pathLen(cert: X509Certificate): number | undefined {
  const bc = certificateFields(Buffer.from(cert.raw)).extensions.get(OID.basicConstraints);
  if (!bc) return undefined;
  const n = children(bc, readTop(bc)).find((t) => t.tag === TAG.INTEGER);
  return n ? value(bc, n).readUIntBE(0, Math.min(6, n.end - n.valueStart)) : undefined;
}

/** RFC 5280 §6.1.4 (m): a CA may be followed by at most pathLen intermediates. `path` is leaf first. */
function pathLengthViolation(path: readonly X509Certificate[]): string | undefined {
  for (let i = 1; i < path.length; i++) {
    const limit = pathLen(path[i]!);
    if (limit !== undefined && i - 1 > limit) return `the path violates the path length constraint of "${path[i]!.subject}"`;
  }
  return undefined;
}

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * Validate `presented` (leaf first, then any intermediates the client sent, DER) against
 * `anchors`. Anchors are trusted as configured; their own validity is still checked.
 * `known` intermediates (our own CAs' chains) complete paths whose intermediates the client did
 * not send: a resumed TLS session keeps only the peer's leaf certificate.
 */
export function validateClientChain(presented: readonly Buffer[], anchors: readonly X509Certificate[], now: Date, known: readonly X509Certificate[] = []): ChainResult {
  const [leafDer, ...rest] = presented;
  if (!leafDer) return { ok: false, reason: 'no client certificate was presented' };
  const leaf = new X509Certificate(leafDer);
  const eku = leaf.keyUsage;
  if (eku && eku.length > 0 && !eku.includes(OID.clientAuth) && !eku.includes(OID.cmcRA)) {
    return { ok: false, reason: 'the client certificate is not valid for TLS client authentication (extended key usage)' };
  }
  const intermediates = [...rest.map((d) => new X509Certificate(d)), ...known];
  let current = leaf;
  const path = [leaf];
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const invalid = withinValidity(current, now);
    if (invalid) return { ok: false, reason: invalid };
    const itself = anchors.find((a) => a.raw.equals(current.raw));
    if (itself) return { ok: true, leaf, anchor: itself };
    const anchor = anchors.find((a) => signedBy(current, a));
    if (anchor) {
      const problem = withinValidity(anchor, now) ?? pathLengthViolation([...path, anchor]);
      return problem ? { ok: false, reason: problem } : { ok: true, leaf, anchor };
    }
    const next = intermediates.find((i) => i.ca && !path.includes(i) && signedBy(current, i));
    if (!next) break;
    path.push(next);
    current = next;
  }
  return { ok: false, reason: 'the client certificate does not chain to the trust anchors of this profile' };
}

/**
 * TLS client certificate path validation (RFC 5280 §6, the parts an RA needs): the chain the
 * client presented must lead, by name and signature, to one of the profile's trust anchors;
 * every certificate on it must be within validity; intermediates must be CAs; path length and
 * name constraints hold; no certificate below the anchor carries a critical extension we do
 * not process; the client certificate's key usage allows signing. Certificate policies are not processed (any policy is acceptable), so the
 * policy-restricting extensions count as unrecognised when critical.
 */
import { X509Certificate } from 'node:crypto';
import { pemBlocks } from '../pki/base64.js';
import { certificateFields, keyUsageBits, type CertificateFields } from '../pki/certificate.js';
import { children, readTop, TAG, value } from '../pki/der.js';
import { constrainedNamesOf, nameConstraintViolation, parseNameConstraints } from '../pki/name-constraints.js';
import { OID, oidName } from '../pki/oids.js';

/**
 * `path`: the validated path, leaf first, ending with the trust anchor (just the leaf when it is one);
 * `anchor`: the trust anchor the path ends at (its names may bind what the leaf requests).
 */
export type ChainResult = { ok: true; leaf: X509Certificate; path: X509Certificate[]; anchor: X509Certificate } | { ok: false; reason: string };

const MAX_DEPTH = 8;

export function parseAnchors(pems: readonly string[]): X509Certificate[] {
  return pems.flatMap((pem) => pemBlocks(pem)).map((der) => new X509Certificate(der));
}

/** A certificate's subject on one line (node:crypto separates RDNs with newlines). */
export const subjectOf = (cert: X509Certificate): string => cert.subject.replace(/\n/g, ', ');

function withinValidity(cert: X509Certificate, now: Date): string | undefined {
  if (now < new Date(cert.validFrom)) return `certificate "${subjectOf(cert)}" is not yet valid`;
  if (now > new Date(cert.validTo)) return `certificate "${subjectOf(cert)}" has expired`;
  return undefined;
}

/** pathLenConstraint of a CA certificate's basicConstraints, if any. */
function pathLen(fields: CertificateFields): number | undefined {
  const bc = fields.extensions.get(OID.basicConstraints);
  if (!bc) return undefined;
  const n = children(bc, readTop(bc)).find((t) => t.tag === TAG.INTEGER);
  return n ? value(bc, n).readUIntBE(0, Math.min(6, n.end - n.valueStart)) : undefined;
}

/** The extensions whose meaning this validator (or the TLS layer) applies, RFC 5280 §4.2. */
const RECOGNISED = new Set<string>([
  OID.basicConstraints, OID.keyUsage, OID.extKeyUsage, OID.subjectAltName, OID.issuerAltName, OID.nameConstraints,
  OID.subjectKeyIdentifier, OID.authorityKeyIdentifier, OID.cRLDistributionPoints, OID.freshestCRL,
  OID.authorityInfoAccess, OID.certificatePolicies,
]);

const isSelfIssued = (c: X509Certificate): boolean => c.subject === c.issuer;

/** The key usage bits a certificate asserts, undefined without the extension. */
function keyUsage(fields: CertificateFields): Set<string> | undefined {
  const ku = fields.extensions.get(OID.keyUsage);
  return ku ? keyUsageBits(ku) : undefined;
}

/**
 * Why `ca` may not issue the certificate below it, RFC 5280 §6.1.4 (k): it must be a CA
 * (basicConstraints cA), and (n): with a key usage extension, keyCertSign must be set.
 */
function notAnIssuer(ca: X509Certificate): string | undefined {
  let fields;
  try {
    fields = certificateFields(Buffer.from(ca.raw));
  } catch (err) {
    return `certificate "${subjectOf(ca)}" cannot be read (${(err as Error).message})`;
  }
  const usage = keyUsage(fields);
  if (usage && !usage.has('keyCertSign')) return `certificate "${subjectOf(ca)}" issued a certificate of the path but its key usage does not allow certificate signing (keyCertSign)`;
  // node's `ca` is OpenSSL's X509_check_ca: basicConstraints cA (and keyCertSign, checked above)
  if (!ca.ca) return `certificate "${subjectOf(ca)}" issued a certificate of the path but is not a CA (basicConstraints)`;
  return undefined;
}

/**
 * The path-wide checks, `path` leaf first and ending with the anchor (trusted as configured:
 * its own extensions are not judged, but its constraints bind the certificates below it).
 */
function pathChecks(path: readonly X509Certificate[]): string | undefined {
  const fields = path.map((c) => certificateFields(Buffer.from(c.raw)));
  // RFC 5280 §4.2.1.3: TLS client authentication is a signature (RFC 8446 §4.4.3, RFC 5246
  // §7.4.8), so a client certificate whose key usage is restricted must allow digitalSignature.
  const leafUsage = keyUsage(fields[0]!);
  if (leafUsage && !leafUsage.has('digitalSignature')) {
    return `certificate "${subjectOf(path[0]!)}" is not valid for TLS client authentication (key usage without digitalSignature)`;
  }
  // RFC 5280 §4.2: a certificate with a critical extension we do not recognise MUST be rejected.
  for (let i = 0; i < path.length - 1; i++) {
    for (const id of fields[i]!.critical) {
      if (!RECOGNISED.has(id)) return `certificate "${subjectOf(path[i]!)}" has an unrecognised critical extension (${oidName(id)})`;
    }
  }
  for (let i = 1; i < path.length; i++) {
    // RFC 5280 §6.1.4 (l), (m): a CA may be followed by at most pathLen intermediates that are
    // not self-issued (a self-issued one, e.g. a key rollover certificate, does not count).
    const limit = pathLen(fields[i]!);
    if (limit !== undefined && path.slice(1, i).filter((c) => !isSelfIssued(c)).length > limit) return `the path violates the path length constraint of "${subjectOf(path[i]!)}"`;
    // RFC 5280 §6.1.4 (g) and §6.1.3 (b)/(c): a CA's name constraints bind every certificate
    // below it; self-issued intermediates are exempt, the leaf never is.
    const nc = fields[i]!.extensions.get(OID.nameConstraints);
    if (!nc) continue;
    let constraints;
    try {
      constraints = parseNameConstraints(nc);
    } catch {
      return `the name constraints of "${subjectOf(path[i]!)}" cannot be read`;
    }
    for (let j = 0; j < i; j++) {
      if (j > 0 && isSelfIssued(path[j]!)) continue;
      const problem = nameConstraintViolation(constraints, constrainedNamesOf(fields[j]!, j === 0), subjectOf(path[i]!));
      if (problem) return `certificate "${subjectOf(path[j]!)}": ${problem}`;
    }
  }
  return undefined;
}

function signatureBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Issued by `issuer`: names, key identifiers and key usage (OpenSSL's X509_check_issued), and the signature. */
function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** pathChecks, with DER our reader cannot follow (where OpenSSL could) as a refusal, not a crash. */
function pathProblem(path: readonly X509Certificate[]): string | undefined {
  try {
    return pathChecks(path);
  } catch (err) {
    return `a certificate of the path cannot be read (${(err as Error).message})`;
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
    if (itself) {
      const problem = pathProblem(path);
      return problem ? { ok: false, reason: problem } : { ok: true, leaf, path, anchor: itself };
    }
    const anchor = anchors.find((a) => signedBy(current, a));
    if (anchor) {
      const full = [...path, anchor];
      const problem = withinValidity(anchor, now) ?? pathProblem(full);
      return problem ? { ok: false, reason: problem } : { ok: true, leaf, path: full, anchor };
    }
    const next = intermediates.find((i) => i.ca && !path.includes(i) && signedBy(current, i));
    if (!next) {
      // an issuer by name and signature that is not allowed to issue: say why, not just "no chain"
      const unfit = intermediates.find((i) => !path.includes(i) && current.issuer === i.subject && signatureBy(current, i));
      const why = unfit && notAnIssuer(unfit);
      if (why) return { ok: false, reason: why };
      break;
    }
    const why = notAnIssuer(next);
    if (why) return { ok: false, reason: why };
    path.push(next);
    current = next;
  }
  return { ok: false, reason: 'the client certificate does not chain to the trust anchors of this profile' };
}

/**
 * Which names a TLS client certificate may request (profiles with tls-client-cert or
 * basic+tls-client-cert): holding a device certificate proves an identity, and the request is
 * bound to it. Modes (namePolicy.clientBinding):
 *  - match (default): the requested subject equals the certificate's (RFC 5280 §7.1 matching),
 *    or, when attributes are listed, those attributes do; every requested SAN is one of the
 *    certificate's SANs.
 *  - anchor-names: every requested name is within the names configured for the trust anchor
 *    the certificate chains to (globs as for EST accounts; other subject attributes by pattern).
 *  - free: no binding; only the rest of the name policy applies.
 * RFC 7030 §3.7: a certificate with id-kp-cmcRA is an RA requesting for others, so its names
 * cannot be the requester's: it is exempt from `match`, but not from `anchor-names`, which
 * bounds what anything under that anchor may request.
 */
import type { X509Certificate } from 'node:crypto';
import { certificateFields } from '../pki/certificate.js';
import { foldNameValue, generalNameKey, namesMatch } from '../pki/name-compare.js';
import { attributeTypeOid, generalNameToString, nameAttributes, nameToString, parseGeneralNames, type GeneralName } from '../pki/names.js';
import { OID, resolveOid } from '../pki/oids.js';
import type { Profile } from './model.js';
import { globAdmits } from './name-globs.js';
import { matchesWhole, normalizeFingerprint, requestedNameList } from './name-policy.js';
import { subjectOf } from './client-cert.js';

export interface ClientIdentity {
  certificate: X509Certificate;
  /** The trust anchor the certificate chained to. */
  anchor: X509Certificate | undefined;
}

function attributeOid(name: string): string {
  return attributeTypeOid(name) ?? resolveOid(name) ?? name;
}

/** Undefined when the request's names are within what the client certificate may ask for; otherwise why not. */
export function checkClientBinding(profile: Profile, identity: ClientIdentity | undefined, subject: Buffer, sans: readonly GeneralName[]): string | undefined {
  if (profile.auth === 'basic' || !identity) return undefined;
  const binding = profile.namePolicy.clientBinding;
  const isRa = identity.certificate.keyUsage?.includes(OID.cmcRA) ?? false;
  switch (binding.mode) {
    case 'free':
      return undefined;
    case 'match':
      if (isRa) return undefined;
      try {
        return matchCertificate(profile, identity.certificate, subject, sans);
      } catch {
        // the chain validated, but its leaf's Name or SAN is not DER we can read: nothing to match
        return `profile "${profile.label}" binds requested names to the TLS client certificate, whose names cannot be read`;
      }
    case 'anchor-names':
      return withinAnchorNames(profile, identity.anchor, subject, sans);
  }
}

function matchCertificate(profile: Profile, cert: X509Certificate, subject: Buffer, sans: readonly GeneralName[]): string | undefined {
  const why = `profile "${profile.label}" binds requested names to the TLS client certificate`;
  const own = certificateFields(Buffer.from(cert.raw));
  const attributes = profile.namePolicy.clientBinding.attributes;
  if (attributes.length === 0) {
    if (!namesMatch(subject, own.subject)) return `${why}: the requested subject "${nameToString(subject)}" is not the certificate's "${nameToString(own.subject)}"`;
  } else {
    const requested = nameAttributes(subject);
    const held = nameAttributes(own.subject);
    for (const name of attributes) {
      const type = attributeOid(name);
      const values = (list: typeof held): string => list.filter((a) => a.type === type).map((a) => foldNameValue(a.value)).sort().join('\u0000');
      if (values(requested) !== values(held)) {
        const shown = held.filter((a) => a.type === type).map((a) => a.value).join(', ') || '(none)';
        return `${why}: the requested subject ${name} differs from the certificate's (${shown})`;
      }
    }
  }
  const ownSans = new Set(own.subjectAltName ? parseGeneralNames(own.subjectAltName).map(generalNameKey) : []);
  const foreign = sans.find((n) => !ownSans.has(generalNameKey(n)));
  if (foreign) return `${why}: ${generalNameToString(foreign)} is not among the certificate's subjectAltNames`;
  return undefined;
}

function withinAnchorNames(profile: Profile, anchor: X509Certificate | undefined, subject: Buffer, sans: readonly GeneralName[]): string | undefined {
  const why = `profile "${profile.label}" limits requested names per trust anchor`;
  if (!anchor) return `${why}, and the client certificate's anchor is unknown`;
  const fp = normalizeFingerprint(anchor.fingerprint256);
  const entry = profile.namePolicy.clientBinding.anchors.find((a) => normalizeFingerprint(a.fingerprintSha256) === fp);
  const anchorName = subjectOf(anchor);
  if (!entry) return `${why}: no names are configured for trust anchor "${anchorName}"`;
  const attrs = nameAttributes(subject);
  for (const n of requestedNameList(attrs, sans)) {
    if (!entry.names.some((g) => globAdmits(g, n))) return `${why}: trust anchor "${anchorName}" does not allow the name "${n.value}" (allowed: ${entry.names.join(', ') || 'none'})`;
  }
  for (const a of attrs) {
    const pattern = Object.entries(entry.subjectPatterns).find(([k]) => attributeOid(k) === a.type)?.[1];
    const byGlob = a.type === OID.commonName || a.type === OID.emailAddress;
    if (pattern === undefined && byGlob) continue;
    if (pattern === undefined) return `${why}: trust anchor "${anchorName}" allows no subject attribute ${a.short}`;
    if (!matchesWhole(pattern, a.value)) return `${why}: subject ${a.short}="${a.value}" does not match ${pattern} for trust anchor "${anchorName}"`;
  }
  return undefined;
}

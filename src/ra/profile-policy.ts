/** Issuance policy decisions of a certification profile: pure functions over parsed requests. */
import type { ParsedCsr, PublicKeyInfo } from '../pki/csr.js';
import { parseGeneralNames, type GeneralName } from '../pki/names.js';
import { OID, resolveOid } from '../pki/oids.js';
import type { KeyAlgorithmRule, KeyUsageName, Profile } from '../store/store.js';

export function describeKeyRule(rule: KeyAlgorithmRule): string {
  switch (rule.type) {
    case 'ec':
      return `EC ${rule.curves.join('/')}`;
    case 'rsa':
      return `RSA ≥ ${rule.minBits} bits`;
    case 'ed25519':
      return 'Ed25519';
  }
}

export function describeKey(key: PublicKeyInfo): string {
  switch (key.type) {
    case 'ec':
      return `EC ${key.curve}`;
    case 'rsa':
      return `RSA ${key.bits} bits`;
    case 'ed25519':
      return 'Ed25519';
  }
}

/** Undefined when the key is allowed; otherwise the reason it is refused. */
export function checkKey(profile: Profile, key: PublicKeyInfo): string | undefined {
  const allowed = profile.keyAlgorithms.some((rule) => {
    switch (rule.type) {
      case 'ec':
        return key.type === 'ec' && rule.curves.includes(key.curve);
      case 'rsa':
        return key.type === 'rsa' && key.bits >= rule.minBits;
      case 'ed25519':
        return key.type === 'ed25519';
    }
  });
  if (allowed) return undefined;
  const rules = profile.keyAlgorithms.map(describeKeyRule).join(', ') || 'none';
  return `key ${describeKey(key)} is not allowed by profile "${profile.label}" (allowed: ${rules})`;
}

export interface RequestedNames {
  /** The subjectAltName extnValue to put in the certificate, as requested. */
  subjectAltName: Buffer | undefined;
  names: GeneralName[];
}

const SUPPORTED_SAN = new Set(['dns', 'ip', 'email', 'uri']);

/** Subject and SAN come from the CSR, within what the profile can issue. Throws a reason string. */
export function requestedNames(csr: ParsedCsr): RequestedNames | string {
  const san = csr.requestedExtensions.get(OID.subjectAltName);
  let names: GeneralName[] = [];
  if (san) {
    try {
      names = parseGeneralNames(san);
    } catch {
      return 'the requested subjectAltName is not valid DER';
    }
    const unsupported = names.find((n) => !SUPPORTED_SAN.has(n.type));
    if (unsupported) return 'the requested subjectAltName has a name type that is not allowed (allowed: DNS, IP, email, URI)';
    if (names.length === 0) return 'the requested subjectAltName is empty';
  }
  const emptySubject = csr.subject.length === 2;
  if (emptySubject && names.length === 0) return 'the request has neither a subject nor a subjectAltName';
  return { subjectAltName: san, names };
}

/** The dotted OIDs of the profile's extended key usages. */
export function extendedKeyUsageOids(profile: Profile): string[] {
  return profile.extendedKeyUsage.map((name) => {
    const oid = resolveOid(name);
    if (!oid) throw new Error(`profile "${profile.label}": unknown extended key usage "${name}"`);
    return oid;
  });
}

/**
 * The profile's key usage as it applies to this key: encipherment is meaningful only for RSA
 * (RFC 5480 §3, RFC 8813), key agreement not for Ed25519 (RFC 8410 §5). Undefined when
 * nothing is left.
 */
export function keyUsageFor(profile: Profile, key: PublicKeyInfo): KeyUsageName[] | undefined {
  const usages = profile.keyUsage.filter((u) => {
    if (key.type === 'rsa') return u !== 'keyAgreement';
    if (u === 'keyEncipherment' || u === 'dataEncipherment') return false;
    return !(key.type === 'ed25519' && u === 'keyAgreement');
  });
  return usages.length > 0 ? usages : undefined;
}

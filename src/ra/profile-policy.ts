/** Issuance policy decisions of a certification profile: pure functions over parsed requests. */
import type { ParsedCsr, PublicKeyInfo } from '../pki/csr.js';
import { parseGeneralNames, type GeneralName } from '../pki/names.js';
import { DEFAULT_MAX_RSA_BITS, DEFAULT_MIN_RSA_EXPONENT, rsaKeyProblem, rsaPublicNumbersOfSpki, type TaskGate } from '../pki/key-checks.js';
import { OID, resolveOid } from '../pki/oids.js';
import type { KeyAlgorithmRule, KeyUsageName, Profile } from './model.js';

export function describeKeyRule(rule: KeyAlgorithmRule): string {
  switch (rule.type) {
    case 'ec':
      return `EC ${rule.curves.join('/')}`;
    case 'rsa': {
      const exponent = rule.minExponent !== undefined && rule.minExponent !== DEFAULT_MIN_RSA_EXPONENT ? `, e ≥ ${rule.minExponent}` : '';
      return `RSA ${rule.minBits}–${rule.maxBits ?? DEFAULT_MAX_RSA_BITS} bits${exponent}`;
    }
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

/** The RSA rules of a profile a key of this size falls within. */
function rsaRulesFor(profile: Profile, bits: number): Extract<KeyAlgorithmRule, { type: 'rsa' }>[] {
  return profile.keyAlgorithms.filter((r): r is Extract<KeyAlgorithmRule, { type: 'rsa' }> =>
    r.type === 'rsa' && bits >= r.minBits && bits <= (r.maxBits ?? DEFAULT_MAX_RSA_BITS));
}

/**
 * Undefined when the key is allowed; otherwise the reason it is refused. With the SPKI, an RSA
 * key's numbers are checked too (pki/key-checks.ts): exponent (the most lenient matching rule's
 * minimum), small factors, perfect powers, and a prime modulus.
 */
export async function checkKey(profile: Profile, key: PublicKeyInfo, spki?: Buffer, primalityGate?: TaskGate): Promise<string | undefined> {
  const allowed = profile.keyAlgorithms.some((rule) => {
    switch (rule.type) {
      case 'ec':
        return key.type === 'ec' && rule.curves.includes(key.curve);
      case 'rsa':
        return key.type === 'rsa' && key.bits >= rule.minBits && key.bits <= (rule.maxBits ?? DEFAULT_MAX_RSA_BITS);
      case 'ed25519':
        return key.type === 'ed25519';
    }
  });
  if (!allowed) {
    const rules = profile.keyAlgorithms.map(describeKeyRule).join(', ') || 'none';
    return `key ${describeKey(key)} is not allowed by profile "${profile.label}" (allowed: ${rules})`;
  }
  if (key.type !== 'rsa' || !spki) return undefined;
  const minExponent = Math.min(...rsaRulesFor(profile, key.bits).map((r) => r.minExponent ?? DEFAULT_MIN_RSA_EXPONENT));
  const problem = await rsaKeyProblem(rsaPublicNumbersOfSpki(spki), { minExponent, ...(primalityGate ? { gate: primalityGate } : {}) });
  return problem && `key refused: ${problem}`;
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

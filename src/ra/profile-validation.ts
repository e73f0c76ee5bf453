/**
 * The rules a certification profile must satisfy before it is saved, one list of
 * `{field, message}` for every surface: the CLI names the flag, the Web RA the form field.
 * Messages do not name the surface's spelling of the field.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { pemBlocks, toPem } from '../pki/base64.js';
import { resolveOid } from '../pki/oids.js';
import { AUTH_MECHANISMS, type KeyAlgorithmRule, type KeyUsageName, type NewProfile } from './model.js';
import { deviceRevocationErrors } from './device-revocation.js';
import { namePolicyErrors } from './name-policy.js';
import { validityError } from './validity.js';
import { EMAIL, LABEL } from './patterns.js';

export interface FieldError {
  /** The profile property, dotted below the top level (e.g. `namePolicy.ipRanges`, `keyAlgorithms.1`). */
  field: string;
  message: string;
}

/** The profile label pattern (ra/patterns.ts). */
export const PROFILE_LABEL = LABEL;
/** The operation path segments of RFC 7030 §3.2.2 (and RFC 8951). */
export const EST_OPERATIONS = ['cacerts', 'simpleenroll', 'simplereenroll', 'fullcmc', 'serverkeygen', 'csrattrs'] as const;

/**
 * Why a label cannot name a new profile, or undefined. RFC 7030 §3.2.2: a label MUST NOT be
 * one of the operation path segments (compared without case: some clients do).
 */
export function newLabelError(label: string): string | undefined {
  if (!PROFILE_LABEL.test(label)) return `"${label}" is not a valid label (letters, digits, . _ -; up to 64)`;
  if ((EST_OPERATIONS as readonly string[]).includes(label.toLowerCase())) {
    return `"${label}" is an EST operation name and cannot be a label (RFC 7030 §3.2.2; reserved: ${EST_OPERATIONS.join(', ')})`;
  }
  return undefined;
}
export const KEY_USAGES: readonly KeyUsageName[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign'];
export const EC_CURVES = ['P-256', 'P-384', 'P-521'] as const;
export const LIMITS = {
  /** Whole days, as `validityDays` (API) and `--validity-days` take them; `validity` is ra/validity.ts. */
  validityDays: { min: 1, max: 3650 },
  retryAfterSeconds: { min: 1, max: 86_400 },
  pendingTtlHours: { min: 1, max: 24 * 90 },
  rsaMinBits: { min: 1024, max: 16_384 },
  rsaMinExponent: { min: 3, max: 65_537 },
} as const;


export interface ProfileRules {
  /** Ids of the configured CA connectors. */
  knownCas: readonly string[];
}

function integerIn(value: unknown, limits: { min: number; max: number }): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= limits.min && value <= limits.max) return undefined;
  return `expected an integer from ${limits.min} to ${limits.max}, got ${JSON.stringify(value) ?? String(value)}`;
}

function keyRuleError(rule: KeyAlgorithmRule): string | undefined {
  switch (rule.type) {
    case 'ec': {
      if (!Array.isArray(rule.curves) || rule.curves.length === 0) return 'an EC rule needs at least one curve';
      const bad = rule.curves.find((c) => !(EC_CURVES as readonly string[]).includes(c));
      return bad === undefined ? undefined : `unknown curve "${bad}" (known: ${EC_CURVES.join(', ')})`;
    }
    case 'rsa': {
      const { min, max } = LIMITS.rsaMinBits;
      if (integerIn(rule.minBits, LIMITS.rsaMinBits)) return `rsa minimum must be an integer from ${min} to ${max}, got ${String(rule.minBits)}`;
      if (rule.maxBits !== undefined && integerIn(rule.maxBits, { min: rule.minBits, max })) {
        return `rsa maximum must be an integer from the minimum (${rule.minBits}) to ${max}, got ${String(rule.maxBits)}`;
      }
      // FIPS 186-5 §5.4: e is odd; below 65537 only for devices that cannot do better
      const e = rule.minExponent;
      if (e !== undefined && (integerIn(e, LIMITS.rsaMinExponent) || e % 2 === 0)) {
        return `rsa minimum exponent must be an odd integer from ${LIMITS.rsaMinExponent.min} to ${LIMITS.rsaMinExponent.max}, got ${String(e)}`;
      }
      return undefined;
    }
    case 'ed25519':
      return undefined;
    default:
      return `unknown algorithm "${(rule as { type: unknown }).type}" (known: ec, rsa, ed25519)`;
  }
}

/** Every rule the profile breaks; empty when it may be saved. */
export function validateProfile(p: NewProfile, rules: ProfileRules): FieldError[] {
  const errors: FieldError[] = [];
  const add = (field: string, message: string | undefined): void => {
    if (message) errors.push({ field, message });
  };
  if (!PROFILE_LABEL.test(p.label)) add('label', `"${p.label}" is not a valid label (letters, digits, . _ -; up to 64)`);
  if (!rules.knownCas.includes(p.ca)) add('ca', `no CA connector "${p.ca}" is configured (configured: ${rules.knownCas.join(', ')})`);
  if (!(AUTH_MECHANISMS as readonly string[]).includes(p.auth)) add('auth', `expected one of ${AUTH_MECHANISMS.join(', ')}, got "${p.auth}"`);
  p.clientTrustAnchors.forEach((pem, i) => add(`clientTrustAnchors.${i}`, trustAnchorError(pem)));
  if ((p.auth === 'tls-client-cert' || p.auth === 'basic+tls-client-cert') && p.clientTrustAnchors.length === 0) {
    add('clientTrustAnchors', 'a TLS client authentication mechanism needs at least one trust anchor (the device CA certificate)');
  }
  add('validity', validityError(p.validitySeconds));
  if (p.keyAlgorithms.length === 0) add('keyAlgorithms', 'at least one algorithm is required');
  p.keyAlgorithms.forEach((rule, i) => add(`keyAlgorithms.${i}`, keyRuleError(rule)));
  const badUsage = p.keyUsage.find((u) => !KEY_USAGES.includes(u));
  if (badUsage !== undefined) add('keyUsage', `unknown key usage "${badUsage}" (known: ${KEY_USAGES.join(', ')})`);
  else if (p.keyUsage.includes('keyCertSign') || p.keyUsage.includes('cRLSign')) add('keyUsage', 'end-entity profiles cannot issue keyCertSign or cRLSign');
  else if (p.keyUsage.length === 0) add('keyUsage', 'at least one key usage is required');
  const badEku = p.extendedKeyUsage.find((e) => !resolveOid(e));
  if (badEku !== undefined) add('extendedKeyUsage', `unknown extended key usage "${badEku}" (use a name like serverAuth, clientAuth or a dotted OID)`);
  const badAccount = p.allowedAccounts.find((a) => !EMAIL.test(a));
  if (badAccount !== undefined) add('allowedAccounts', `"${badAccount}" is not an email address`);
  const badAttr = p.csrAttrs.find((a) => !resolveOid(a));
  if (badAttr !== undefined) add('csrAttrs', `unknown attribute "${badAttr}" (use a name like challengePassword or a dotted OID)`);
  if (p.approval !== 'auto' && p.approval !== 'manual') add('approval', `expected auto or manual, got "${String(p.approval)}"`);
  if (p.approvals !== 1 && p.approvals !== 2) add('approvals', `expected 1 or 2 (four-eyes), got "${String(p.approvals)}"`);
  add('retryAfterSeconds', integerIn(p.retryAfterSeconds, LIMITS.retryAfterSeconds));
  add('pendingTtlHours', integerIn(p.pendingTtlHours, LIMITS.pendingTtlHours));
  if (p.popLinking !== 'off' && p.popLinking !== 'optional' && p.popLinking !== 'required') {
    add('popLinking', `expected off, optional or required, got "${String(p.popLinking)}"`);
  }
  if (typeof p.renewal?.supersede !== 'boolean') add('renewal.supersede', 'expected true or false');
  if (typeof p.renewal?.once !== 'boolean') add('renewal.once', 'expected true or false');
  add('renewal.windowPercent', integerIn(p.renewal?.windowPercent, { min: 0, max: 100 }));
  errors.push(...namePolicyErrors(p.namePolicy));
  // trust anchors that do not parse are reported above; their fingerprints are judged once they do
  if (!errors.some((e) => e.field.startsWith('clientTrustAnchors'))) errors.push(...deviceRevocationErrors(p));
  return errors;
}

/** Undefined when the text is exactly one parseable PEM certificate. */
function trustAnchorError(pem: string): string | undefined {
  let ders: Buffer[];
  try {
    ders = pemBlocks(pem);
  } catch {
    return 'not a PEM certificate (bad base64)';
  }
  if (ders.length !== 1) return ders.length === 0 ? 'not a PEM certificate' : 'one certificate per entry';
  try {
    new X509Certificate(ders[0]!);
  } catch {
    return 'the certificate cannot be parsed';
  }
  return undefined;
}

/**
 * Trust anchors as given (PEM texts, each possibly a bundle of several) split into one PEM
 * certificate each, re-encoded canonically, duplicates dropped. Texts that hold no certificate
 * or cannot be decoded are kept as they are, for validateProfile to name.
 */
export function splitTrustAnchors(texts: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const text of texts) {
    let ders: Buffer[];
    try {
      ders = pemBlocks(text);
    } catch {
      ders = [];
    }
    if (ders.length === 0) {
      out.push(text);
      continue;
    }
    for (const der of ders) {
      const pem = toPem('CERTIFICATE', der);
      if (!seen.has(pem)) out.push(pem);
      seen.add(pem);
    }
  }
  return out;
}

export interface TrustAnchorSummary {
  subject: string;
  /** Lower-case hex SHA-256 of the DER certificate. */
  fingerprintSha256: string;
  notAfter: string;
}

/** What an operator needs to recognise a trust anchor. */
export function describeTrustAnchor(pem: string): TrustAnchorSummary {
  const der = pemBlocks(pem)[0]!;
  const cert = new X509Certificate(der);
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    fingerprintSha256: createHash('sha256').update(der).digest('hex'),
    notAfter: new Date(cert.validTo).toISOString(),
  };
}

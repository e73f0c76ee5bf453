/** Parsing and validating certification profile settings given on the command line. */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pemBlocks, toPem } from '../pki/base64.js';
import { resolveOid } from '../pki/oids.js';
import { validateNamePolicy } from '../ra/name-policy.js';
import { AUTH_MECHANISMS, type AuthMechanism, type KeyAlgorithmRule, type KeyUsageName, type NamePolicy, type NewProfile, type SanType } from '../store/store.js';
import { CliError, splitList } from './context.js';

export interface ProfileFlags {
  enable?: boolean;
  disable?: boolean;
  ca?: string;
  auth?: string;
  trustAnchors?: string;
  clearTrustAnchors?: boolean;
  validityDays?: string;
  keyAlgorithms?: string;
  keyUsage?: string;
  eku?: string;
  accounts?: string;
  csrAttrs?: string;
  approval?: string;
  retryAfter?: string;
  pendingTtlHours?: string;
  popLinking?: string;
  subjectAllowed?: string;
  subjectRequired?: string;
  subjectPattern?: string[];
  clearSubjectPatterns?: boolean;
  sanTypes?: string;
  sanRequired?: string;
  dnsSuffixes?: string;
  ipRanges?: string;
  forbiddenName?: string[];
  clearForbiddenNames?: boolean;
}

const SAN_TYPES: readonly SanType[] = ['dns', 'ip', 'email', 'uri'];

function sanTypes(flag: string, text: string): SanType[] {
  const types = splitList(text).map((t) => t.toLowerCase());
  const bad = types.find((t) => !(SAN_TYPES as readonly string[]).includes(t));
  if (bad) throw new CliError(`${flag}: unknown SAN type "${bad}" (known: ${SAN_TYPES.join(', ')})`);
  return types as SanType[];
}

/** Apply the name policy flags; the result is validated as a whole. */
function applyNamePolicy(base: NamePolicy, f: ProfileFlags): NamePolicy {
  const n: NamePolicy = structuredClone(base);
  if (f.subjectAllowed !== undefined) n.subjectAllowed = splitList(f.subjectAllowed);
  if (f.subjectRequired !== undefined) n.subjectRequired = splitList(f.subjectRequired);
  if (f.clearSubjectPatterns) n.subjectPatterns = {};
  for (const item of f.subjectPattern ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new CliError(`--subject-pattern: expected ATTRIBUTE=REGEX, got "${item}"`);
    n.subjectPatterns[item.slice(0, eq).trim()] = item.slice(eq + 1);
  }
  if (f.sanTypes !== undefined) n.sanTypes = sanTypes('--san-types', f.sanTypes);
  if (f.sanRequired !== undefined) n.sanRequired = sanTypes('--san-required', f.sanRequired);
  if (f.dnsSuffixes !== undefined) n.dnsSuffixes = splitList(f.dnsSuffixes);
  if (f.ipRanges !== undefined) n.ipRanges = splitList(f.ipRanges);
  if (f.clearForbiddenNames) n.forbiddenNames = [];
  if (f.forbiddenName) n.forbiddenNames = [...n.forbiddenNames, ...f.forbiddenName];
  const problem = validateNamePolicy(n);
  if (problem) throw new CliError(`name policy: ${problem}`);
  return n;
}

const KEY_USAGES: readonly KeyUsageName[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign'];
const CURVES = ['P-256', 'P-384', 'P-521'] as const;

function integerFlag(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${name}: expected an integer from ${min} to ${max}, got "${text}"`);
  return n;
}


/** "ec:P-256/P-384,rsa:2048,ed25519" */
export function parseKeyAlgorithms(text: string): KeyAlgorithmRule[] {
  return splitList(text).map((item): KeyAlgorithmRule => {
    const [type, arg] = item.split(':');
    switch (type) {
      case 'ec': {
        const curves = (arg ?? 'P-256').split('/');
        const bad = curves.find((c) => !(CURVES as readonly string[]).includes(c));
        if (bad) throw new CliError(`--key-algorithms: unknown curve "${bad}" (known: ${CURVES.join(', ')})`);
        return { type: 'ec', curves: curves as Array<(typeof CURVES)[number]> };
      }
      case 'rsa': {
        const minBits = Number(arg ?? 2048);
        if (!Number.isInteger(minBits) || minBits < 1024) throw new CliError(`--key-algorithms: rsa minimum must be an integer ≥ 1024, got "${arg}"`);
        return { type: 'rsa', minBits };
      }
      case 'ed25519':
        return { type: 'ed25519' };
      default:
        throw new CliError(`--key-algorithms: unknown algorithm "${item}" (use ec:P-256/P-384, rsa:2048, ed25519)`);
    }
  });
}

export function formatKeyAlgorithms(rules: readonly KeyAlgorithmRule[]): string {
  return rules.map((r) => (r.type === 'ec' ? `ec:${r.curves.join('/')}` : r.type === 'rsa' ? `rsa:${r.minBits}` : 'ed25519')).join(',');
}

export function readTrustAnchors(file: string): string[] {
  const ders = pemBlocks(readFileSync(file, 'utf8'));
  if (ders.length === 0) throw new CliError(`${file}: no PEM certificates found`);
  return ders.map((der) => {
    try {
      new X509Certificate(der);
    } catch {
      throw new CliError(`${file}: a certificate in it cannot be parsed`);
    }
    return toPem('CERTIFICATE', der);
  });
}

/** Apply flags to a profile; every value is checked before anything is saved. */
export function applyProfileFlags(base: NewProfile, f: ProfileFlags, knownCas: readonly string[]): NewProfile {
  const p: NewProfile = { ...base };
  if (f.enable && f.disable) throw new CliError('--enable and --disable contradict each other');
  if (f.enable) p.enabled = true;
  if (f.disable) p.enabled = false;
  if (f.ca !== undefined) {
    if (!knownCas.includes(f.ca)) throw new CliError(`--ca: no CA connector "${f.ca}" is configured (configured: ${knownCas.join(', ')})`);
    p.ca = f.ca;
  }
  if (f.auth !== undefined) {
    if (!(AUTH_MECHANISMS as readonly string[]).includes(f.auth)) throw new CliError(`--auth: expected one of ${AUTH_MECHANISMS.join(', ')}, got "${f.auth}"`);
    p.auth = f.auth as AuthMechanism;
  }
  if (f.clearTrustAnchors) p.clientTrustAnchors = [];
  if (f.trustAnchors !== undefined) p.clientTrustAnchors = readTrustAnchors(f.trustAnchors);
  if (f.validityDays !== undefined) {
    const n = Number(f.validityDays);
    if (!Number.isInteger(n) || n < 1 || n > 3650) throw new CliError(`--validity-days: expected an integer from 1 to 3650, got "${f.validityDays}"`);
    p.validityDays = n;
  }
  if (f.keyAlgorithms !== undefined) p.keyAlgorithms = parseKeyAlgorithms(f.keyAlgorithms);
  if (p.keyAlgorithms.length === 0) throw new CliError('--key-algorithms: at least one algorithm is required');
  if (f.keyUsage !== undefined) {
    const usages = splitList(f.keyUsage);
    const bad = usages.find((u) => !(KEY_USAGES as readonly string[]).includes(u));
    if (bad) throw new CliError(`--key-usage: unknown key usage "${bad}" (known: ${KEY_USAGES.join(', ')})`);
    if (usages.includes('keyCertSign') || usages.includes('cRLSign')) throw new CliError('--key-usage: end-entity profiles cannot issue keyCertSign or cRLSign');
    if (usages.length === 0) throw new CliError('--key-usage: at least one key usage is required');
    p.keyUsage = usages as KeyUsageName[];
  }
  if (f.eku !== undefined) {
    const ekus = splitList(f.eku);
    const bad = ekus.find((e) => !resolveOid(e));
    if (bad) throw new CliError(`--eku: unknown extended key usage "${bad}" (use a name like serverAuth, clientAuth or a dotted OID)`);
    p.extendedKeyUsage = ekus;
  }
  if (f.accounts !== undefined) p.allowedAccounts = splitList(f.accounts).map((a) => a.toLowerCase());
  if (f.csrAttrs !== undefined) {
    const attrs = splitList(f.csrAttrs);
    const bad = attrs.find((a) => !resolveOid(a));
    if (bad) throw new CliError(`--csr-attrs: unknown attribute "${bad}" (use a name like challengePassword or a dotted OID)`);
    p.csrAttrs = attrs;
  }
  if (f.approval !== undefined) {
    if (f.approval !== 'auto' && f.approval !== 'manual') throw new CliError(`--approval: expected auto or manual, got "${f.approval}"`);
    p.approval = f.approval;
  }
  p.namePolicy = applyNamePolicy(p.namePolicy, f);
  if (f.popLinking !== undefined) {
    if (f.popLinking !== 'off' && f.popLinking !== 'optional' && f.popLinking !== 'required') throw new CliError(`--pop-linking: expected off, optional or required, got "${f.popLinking}"`);
    p.popLinking = f.popLinking;
  }
  if (f.retryAfter !== undefined) p.retryAfterSeconds = integerFlag('--retry-after', f.retryAfter, 1, 86_400);
  if (f.pendingTtlHours !== undefined) p.pendingTtlHours = integerFlag('--pending-ttl-hours', f.pendingTtlHours, 1, 24 * 90);
  if ((p.auth === 'tls-client-cert' || p.auth === 'basic+tls-client-cert') && p.clientTrustAnchors.length === 0) {
    throw new CliError(`--auth ${p.auth} needs the device CA: pass --trust-anchors FILE`);
  }
  return p;
}

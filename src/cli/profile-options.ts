/** Parsing and validating certification profile settings given on the command line. */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pemBlocks, toPem } from '../pki/base64.js';
import { EC_CURVES, validateProfile, type FieldError } from '../ra/profile-validation.js';
import { normalizeFingerprint } from '../ra/name-policy.js';
import { dropRemovedAnchorCrls } from '../ra/device-revocation.js';
import type { AnchorNames, AuthMechanism, ClientBinding, ClientBindingMode, DeviceRevocation, KeyAlgorithmRule, KeyUsageName, NamePolicy, NewProfile, SanType } from '../ra/model.js';
import { ProfileUpdate } from '../admin/schemas.js';
import { CliError, splitList } from './context.js';
import { DAY_SECONDS, parseValidity, VALIDITY_HINT } from '../ra/validity.js';
import { inputSchemaError } from './input-schema.js';

export interface ProfileFlags {
  enable?: boolean;
  disable?: boolean;
  ca?: string;
  auth?: string;
  trustAnchors?: string;
  clearTrustAnchors?: boolean;
  validityDays?: string;
  validity?: string;
  keyAlgorithms?: string;
  keyUsage?: string;
  eku?: string;
  accounts?: string;
  csrAttrs?: string;
  approval?: string;
  approvals?: string;
  retryAfter?: string;
  pendingTtlHours?: string;
  popLinking?: string;
  renewalSupersede?: string;
  renewalOnce?: string;
  renewalWindow?: string;
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
  crlUnavailable?: string;
  anchorCrl?: string[];
  clearAnchorCrls?: boolean;
  wildcards?: string;
  maxSans?: string;
  maxRdns?: string;
  maxSubjectBytes?: string;
  clientBinding?: string;
  bindingAttributes?: string;
  anchorNames?: string[];
  anchorSubjectPattern?: string[];
  clearAnchorNames?: boolean;
}

/** "SHA256=names" (names comma-separated; empty removes the anchor's entry) into the binding. */
function applyAnchorNames(binding: ClientBinding, f: ProfileFlags): ClientBinding {
  const b: ClientBinding = structuredClone(binding);
  if (f.clearAnchorNames) b.anchors = [];
  const entryFor = (fp: string): AnchorNames => {
    let e = b.anchors.find((a) => normalizeFingerprint(a.fingerprintSha256) === normalizeFingerprint(fp));
    if (!e) b.anchors.push((e = { fingerprintSha256: normalizeFingerprint(fp), names: [], subjectPatterns: {} }));
    return e;
  };
  for (const item of f.anchorNames ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new CliError(`--anchor-names: expected SHA256=NAME,NAME…, got "${item}"`);
    const fp = item.slice(0, eq).trim();
    const names = splitList(item.slice(eq + 1));
    if (names.length === 0) b.anchors = b.anchors.filter((a) => normalizeFingerprint(a.fingerprintSha256) !== normalizeFingerprint(fp));
    else entryFor(fp).names = names;
  }
  for (const item of f.anchorSubjectPattern ?? []) {
    const m = /^([0-9A-Fa-f:]+)\/([^=]+)=(.*)$/s.exec(item);
    if (!m) throw new CliError(`--anchor-subject-pattern: expected SHA256/ATTRIBUTE=REGEX, got "${item}"`);
    entryFor(m[1]!).subjectPatterns[m[2]!.trim()] = m[3]!;
  }
  return b;
}

/** Apply the name policy flags; the result is validated with the rest of the profile. */
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
  if (f.sanTypes !== undefined) n.sanTypes = splitList(f.sanTypes).map((t) => t.toLowerCase()) as SanType[];
  if (f.sanRequired !== undefined) n.sanRequired = splitList(f.sanRequired).map((t) => t.toLowerCase()) as SanType[];
  if (f.dnsSuffixes !== undefined) n.dnsSuffixes = splitList(f.dnsSuffixes);
  if (f.ipRanges !== undefined) n.ipRanges = splitList(f.ipRanges);
  if (f.clearForbiddenNames) n.forbiddenNames = [];
  if (f.forbiddenName) n.forbiddenNames = [...n.forbiddenNames, ...f.forbiddenName];
  if (f.wildcards !== undefined) {
    if (f.wildcards !== 'on' && f.wildcards !== 'off') throw new CliError(`--wildcards: expected on or off, got "${f.wildcards}"`);
    n.allowWildcards = f.wildcards === 'on';
  }
  if (f.maxSans !== undefined) n.maxSans = integerFlag('--max-sans', f.maxSans);
  if (f.maxRdns !== undefined) n.maxRdns = integerFlag('--max-rdns', f.maxRdns);
  if (f.maxSubjectBytes !== undefined) n.maxSubjectBytes = integerFlag('--max-subject-bytes', f.maxSubjectBytes);
  if (f.clientBinding !== undefined) n.clientBinding = { ...n.clientBinding, mode: f.clientBinding as ClientBindingMode };
  if (f.bindingAttributes !== undefined) n.clientBinding = { ...n.clientBinding, attributes: splitList(f.bindingAttributes) };
  n.clientBinding = applyAnchorNames(n.clientBinding, f);
  return n;
}

/** Apply --crl-unavailable and --anchor-crl FINGERPRINT=URL (an empty URL removes the anchor's entry). */
function applyDeviceRevocation(base: DeviceRevocation, f: ProfileFlags): DeviceRevocation {
  const r: DeviceRevocation = structuredClone(base);
  if (f.crlUnavailable !== undefined) r.whenUnavailable = f.crlUnavailable as DeviceRevocation['whenUnavailable'];
  if (f.clearAnchorCrls) r.crlUrls = {};
  for (const item of f.anchorCrl ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new CliError(`--anchor-crl: expected SHA256-FINGERPRINT=URL, got "${item}"`);
    const fingerprint = normalizeFingerprint(item.slice(0, eq));
    const url = item.slice(eq + 1).trim();
    if (url === '') delete r.crlUrls[fingerprint];
    else r.crlUrls[fingerprint] = url;
  }
  return r;
}

/** The flag that sets a profile field, for error messages (src/ra/profile-validation.ts names fields). */
const FLAG_OF_FIELD: Record<string, string> = {
  ca: '--ca', auth: '--auth', clientTrustAnchors: '--trust-anchors', validity: '--validity', keyAlgorithms: '--key-algorithms',
  keyUsage: '--key-usage', extendedKeyUsage: '--eku', allowedAccounts: '--accounts', csrAttrs: '--csr-attrs', approval: '--approval', approvals: '--approvals',
  retryAfterSeconds: '--retry-after', pendingTtlHours: '--pending-ttl-hours', popLinking: '--pop-linking',
  'renewal.supersede': '--renewal-supersede', 'renewal.once': '--renewal-once', 'renewal.windowPercent': '--renewal-window',
  'namePolicy.sanTypes': '--san-types', 'namePolicy.sanRequired': '--san-required', 'namePolicy.maxSans': '--max-sans',
  'namePolicy.maxRdns': '--max-rdns', 'namePolicy.maxSubjectBytes': '--max-subject-bytes', 'namePolicy.clientBinding.mode': '--client-binding',
  'namePolicy.clientBinding.attributes': '--binding-attributes',
  'deviceRevocation.whenUnavailable': '--crl-unavailable', 'deviceRevocation.crlUrls': '--anchor-crl',
};

/** One validation error as the CLI reports it: prefixed with the flag (or "name policy"). */
export function cliMessage(e: FieldError): string {
  if (e.field === 'label') return e.message;
  const flag = FLAG_OF_FIELD[e.field] ?? FLAG_OF_FIELD[e.field.split('.')[0]!] ?? FLAG_OF_FIELD[e.field.split('.').slice(0, 2).join('.')]
    ?? (e.field.startsWith('namePolicy.clientBinding.anchors') ? '--anchor-names' : undefined);
  if (flag) return `${flag}: ${e.message}`;
  return e.field.startsWith('namePolicy') ? `name policy: ${e.message}` : `${e.field}: ${e.message}`;
}

/** A flag's value as a number; the profile rules judge its range. */
function integerFlag(name: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n)) throw new CliError(`${name}: expected an integer, got "${text}"`);
  return n;
}

function onOff(name: string, text: string): boolean {
  if (text === 'on') return true;
  if (text === 'off') return false;
  throw new CliError(`${name}: expected on or off, got "${text}"`);
}

/**
 * "ec:P-256/P-384,rsa:2048,ed25519": the syntax; curves and sizes are checked with the profile.
 * RSA takes an optional maximum and exponent minimum: "rsa:2048-4096:e=3".
 */
export function parseKeyAlgorithms(text: string): KeyAlgorithmRule[] {
  return splitList(text).map((item): KeyAlgorithmRule => {
    const [type, arg, extra] = item.split(':');
    switch (type) {
      case 'ec':
        return { type: 'ec', curves: (arg ?? 'P-256').split('/') as Array<(typeof EC_CURVES)[number]> };
      case 'rsa': {
        const [min, max] = (arg ?? '2048').split('-');
        const rule: KeyAlgorithmRule = { type: 'rsa', minBits: Number(min) };
        if (max !== undefined) rule.maxBits = Number(max);
        if (extra !== undefined) {
          const e = /^e=(\d+)$/.exec(extra);
          if (!e) throw new CliError(`--key-algorithms: "${item}": expected rsa:MIN[-MAX][:e=MIN_EXPONENT], e.g. rsa:2048-4096:e=3`);
          rule.minExponent = Number(e[1]);
        }
        return rule;
      }
      case 'ed25519':
        return { type: 'ed25519' };
      default:
        throw new CliError(`--key-algorithms: unknown algorithm "${item}" (use ec:P-256/P-384, rsa:2048, ed25519)`);
    }
  });
}

export function formatKeyAlgorithms(rules: readonly KeyAlgorithmRule[]): string {
  const rsa = (r: Extract<KeyAlgorithmRule, { type: 'rsa' }>): string =>
    `rsa:${r.minBits}${r.maxBits !== undefined ? `-${r.maxBits}` : ''}${r.minExponent !== undefined ? `:e=${r.minExponent}` : ''}`;
  return rules.map((r) => (r.type === 'ec' ? `ec:${r.curves.join('/')}` : r.type === 'rsa' ? rsa(r) : 'ed25519')).join(',');
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

/** Apply flags to a profile; every value is checked (src/ra/profile-validation.ts) before anything is saved. */
export function applyProfileFlags(base: NewProfile, f: ProfileFlags, knownCas: readonly string[]): NewProfile {
  const p: NewProfile = { ...base };
  if (f.enable && f.disable) throw new CliError('--enable and --disable contradict each other');
  if (f.enable) p.enabled = true;
  if (f.disable) p.enabled = false;
  if (f.ca !== undefined) p.ca = f.ca;
  if (f.auth !== undefined) p.auth = f.auth as AuthMechanism;
  if (f.clearTrustAnchors) p.clientTrustAnchors = [];
  if (f.trustAnchors !== undefined) p.clientTrustAnchors = readTrustAnchors(f.trustAnchors);
  if (f.validity !== undefined && f.validityDays !== undefined) throw new CliError('--validity and --validity-days: give the validity once');
  if (f.validityDays !== undefined) p.validitySeconds = integerFlag('--validity-days', f.validityDays) * DAY_SECONDS;
  if (f.validity !== undefined) {
    const seconds = parseValidity(f.validity);
    if (seconds === undefined) throw new CliError(`--validity: expected ${VALIDITY_HINT}, got "${f.validity}"`);
    p.validitySeconds = seconds;
  }
  if (f.keyAlgorithms !== undefined) p.keyAlgorithms = parseKeyAlgorithms(f.keyAlgorithms);
  if (f.keyUsage !== undefined) p.keyUsage = splitList(f.keyUsage) as KeyUsageName[];
  if (f.eku !== undefined) p.extendedKeyUsage = splitList(f.eku);
  if (f.accounts !== undefined) p.allowedAccounts = splitList(f.accounts).map((a) => a.toLowerCase());
  if (f.csrAttrs !== undefined) p.csrAttrs = splitList(f.csrAttrs);
  if (f.approval !== undefined) p.approval = f.approval as NewProfile['approval'];
  if (f.approvals !== undefined) p.approvals = integerFlag('--approvals', f.approvals) as NewProfile['approvals'];
  p.namePolicy = applyNamePolicy(p.namePolicy, f);
  p.deviceRevocation = applyDeviceRevocation(dropRemovedAnchorCrls(p, base).deviceRevocation, f);
  if (f.popLinking !== undefined) p.popLinking = f.popLinking as NewProfile['popLinking'];
  if (f.renewalSupersede !== undefined || f.renewalOnce !== undefined || f.renewalWindow !== undefined) {
    p.renewal = { ...p.renewal };
    if (f.renewalSupersede !== undefined) p.renewal.supersede = onOff('--renewal-supersede', f.renewalSupersede);
    if (f.renewalOnce !== undefined) p.renewal.once = onOff('--renewal-once', f.renewalOnce);
    if (f.renewalWindow !== undefined) p.renewal.windowPercent = integerFlag('--renewal-window', f.renewalWindow);
  }
  if (f.retryAfter !== undefined) p.retryAfterSeconds = integerFlag('--retry-after', f.retryAfter);
  if (f.pendingTtlHours !== undefined) p.pendingTtlHours = integerFlag('--pending-ttl-hours', f.pendingTtlHours);
  const [first] = validateProfile(p, { knownCas });
  if (first) throw new CliError(cliMessage(first));
  // the bounds the Web RA API puts on the same settings (list sizes, lengths): one schema for both
  const schemaError = inputSchemaError(ProfileUpdate, p);
  if (schemaError) throw new CliError(cliMessage(schemaError));
  return p;
}

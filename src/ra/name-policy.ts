/**
 * Name policy: which subjects and subjectAltNames a profile issues, and which names an EST
 * account may ask for. Pure functions; each refusal names the rule that refused.
 */
import { BlockList, isIP, isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';
import { dnsNameProblem } from '../pki/name-syntax.js';
import { attributeTypeOid, nameAttributes, nameRdnCount, type GeneralName, type NameAttribute } from '../pki/names.js';
import { OID, resolveOid } from '../pki/oids.js';
import { CLIENT_BINDING_MODES, type Account, type NamePolicy, type Profile, type SanType } from './model.js';
import { globAdmits, nameGlobProblem, type RequestedName } from './name-globs.js';

const regexCache = new Map<string, RegExp>();

/** A profile pattern: the whole value must match. */
function fullMatch(pattern: string): RegExp {
  const key = `full:${pattern}`;
  let re = regexCache.get(key);
  if (!re) regexCache.set(key, (re = new RegExp(`^(?:${pattern})$`, 'u')));
  return re;
}

function anywhere(pattern: string): RegExp {
  const key = `any:${pattern}`;
  let re = regexCache.get(key);
  if (!re) regexCache.set(key, (re = new RegExp(pattern, 'iu')));
  return re;
}

/** Account name patterns: `*` matches within one DNS label; case-insensitive; whole value. */
export function globMatches(glob: string, value: string): boolean {
  const key = `glob:${glob}`;
  let re = regexCache.get(key);
  if (!re) {
    const body = glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^.]*');
    regexCache.set(key, (re = new RegExp(`^${body}$`, 'i')));
  }
  return re.test(value);
}

const SAN_TYPES: readonly SanType[] = ['dns', 'ip', 'email', 'uri'];

/**
 * Patterns, ranges and types an operator cannot have meant, each with the field it is in
 * (`namePolicy.<key>`); checked when a policy is saved, by every surface.
 */
export function namePolicyErrors(policy: NamePolicy): Array<{ field: string; message: string }> {
  const errors: Array<{ field: string; message: string }> = [];
  for (const [attr, pattern] of Object.entries(policy.subjectPatterns)) {
    try {
      fullMatch(pattern);
    } catch {
      errors.push({ field: 'namePolicy.subjectPatterns', message: `subject pattern for ${attr} is not a valid regular expression: ${pattern}` });
    }
  }
  for (const pattern of policy.forbiddenNames) {
    try {
      anywhere(pattern);
    } catch {
      errors.push({ field: 'namePolicy.forbiddenNames', message: `forbidden name pattern is not a valid regular expression: ${pattern}` });
    }
  }
  for (const range of policy.ipRanges) {
    if (!parseCidr(range)) errors.push({ field: 'namePolicy.ipRanges', message: `"${range}" is not a CIDR range (e.g. 10.0.0.0/8 or 2001:db8::/32)` });
  }
  for (const key of ['sanTypes', 'sanRequired'] as const) {
    const bad = policy[key].find((t) => !SAN_TYPES.includes(t));
    if (bad !== undefined) errors.push({ field: `namePolicy.${key}`, message: `unknown SAN type "${bad}" (known: ${SAN_TYPES.join(', ')})` });
  }
  for (const key of ['maxSans', 'maxRdns', 'maxSubjectBytes'] as const) {
    const [min, max] = NAME_CAP_RANGE[key];
    const v = policy[key];
    if (!Number.isInteger(v) || v < min || v > max) errors.push({ field: `namePolicy.${key}`, message: `${key} must be an integer from ${min} to ${max}` });
  }
  errors.push(...clientBindingErrors(policy));
  return errors;
}

/** Ranges of the name caps an operator may set (the hard limits of pki/name-syntax.ts bound them). */
export const NAME_CAP_RANGE = { maxSans: [1, 1000], maxRdns: [1, 256], maxSubjectBytes: [64, 65_536] } as const;

function clientBindingErrors(policy: NamePolicy): Array<{ field: string; message: string }> {
  const errors: Array<{ field: string; message: string }> = [];
  const b = policy.clientBinding;
  const field = 'namePolicy.clientBinding';
  if (!CLIENT_BINDING_MODES.includes(b.mode)) errors.push({ field: `${field}.mode`, message: `unknown client binding mode "${String(b.mode)}" (known: ${CLIENT_BINDING_MODES.join(', ')})` });
  for (const a of b.attributes) {
    if (!attributeTypeOid(a) && !resolveOid(a)) errors.push({ field: `${field}.attributes`, message: `"${a}" is not a known subject attribute (CN, serialNumber, O, OU, C, L, ST, emailAddress, DC) or a dotted OID` });
  }
  const seen = new Set<string>();
  for (const [i, anchor] of b.anchors.entries()) {
    const fp = normalizeFingerprint(anchor.fingerprintSha256);
    if (!/^[0-9a-f]{64}$/.test(fp)) errors.push({ field: `${field}.anchors.${i}.fingerprintSha256`, message: `"${anchor.fingerprintSha256}" is not a SHA-256 fingerprint (64 hex digits, colons allowed)` });
    else if (seen.has(fp)) errors.push({ field: `${field}.anchors.${i}.fingerprintSha256`, message: `trust anchor ${anchor.fingerprintSha256} is listed twice` });
    seen.add(fp);
    for (const g of anchor.names) {
      const problem = nameGlobProblem(g);
      if (problem) errors.push({ field: `${field}.anchors.${i}.names`, message: problem });
    }
    for (const [attr, pattern] of Object.entries(anchor.subjectPatterns)) {
      try {
        fullMatch(pattern);
      } catch {
        errors.push({ field: `${field}.anchors.${i}.subjectPatterns`, message: `subject pattern for ${attr} is not a valid regular expression: ${pattern}` });
      }
    }
  }
  return errors;
}

/** "AB:cd:…" → "abcd…". */
export function normalizeFingerprint(text: string): string {
  return text.replace(/:/g, '').trim().toLowerCase();
}

/** A profile's subject pattern test (whole value), for other ra/ modules. */
export function matchesWhole(pattern: string, value: string): boolean {
  return fullMatch(pattern).test(value);
}

/** The first problem of namePolicyErrors, as text; undefined when the policy is sound. */
export function validateNamePolicy(policy: NamePolicy): string | undefined {
  return namePolicyErrors(policy)[0]?.message;
}

function parseCidr(range: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText] = range.split('/');
  const v = isIP(address);
  const prefix = Number(prefixText);
  if (!v || !Number.isInteger(prefix) || prefix < 0 || prefix > (v === 4 ? 32 : 128)) return undefined;
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

const blockLists = new Map<string, BlockList>();
function rangesOf(ranges: readonly string[]): BlockList {
  const key = ranges.join(',');
  let list = blockLists.get(key);
  if (!list) {
    list = new BlockList();
    for (const r of ranges) {
      const c = parseCidr(r);
      if (c) list.addSubnet(c.address, c.prefix, c.family);
    }
    blockLists.set(key, list);
  }
  return list;
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9*]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/i;

/**
 * The host name or IP address a CN stands for, as a client matching names on the CN would read it:
 * spaces and a trailing dot dropped, an IDN as its A-labels; undefined for other text.
 */
export function cnAsHost(cn: string): { kind: 'dns' | 'ip'; value: string } | undefined {
  const t = cn.trim().replace(/\.$/, '');
  // isIP's IPv6 expression is long: only text with a colon can be an IPv6 address (the same answer, cheaper).
  if (t.includes(':') ? isIPv6(t) : isIPv4(t)) return { kind: 'ip', value: t };
  const ascii = /^[\x00-\x7f]*$/.test(t) ? t : domainToASCII(t);
  return ascii && HOSTNAME.test(ascii) ? { kind: 'dns', value: ascii } : undefined;
}

function underSuffix(name: string, suffixes: readonly string[]): boolean {
  const n = name.toLowerCase();
  return suffixes.some((raw) => {
    const s = raw.toLowerCase();
    return s.startsWith('.') ? n.endsWith(s) && n.length > s.length : n === s || n.endsWith(`.${s}`);
  });
}

const SAN_LABEL: Record<SanType, string> = { dns: 'DNS', ip: 'IP', email: 'email', uri: 'URI' };

/** The names a request asks for, by kind: CNs, subject emailAddress values and SANs. */
export function requestedNameList(attrs: readonly NameAttribute[], sans: readonly GeneralName[]): RequestedName[] {
  const out: RequestedName[] = [];
  for (const a of attrs) {
    if (a.type === OID.commonName) out.push({ kind: 'cn', value: a.value });
    if (a.type === OID.emailAddress) out.push({ kind: 'email', value: a.value });
  }
  for (const n of sans) if (n.type !== 'other') out.push({ kind: n.type, value: n.value });
  return out;
}

/** Caps on the size of a request's names (RFC 5280 leaves them open; a profile sets them). */
export function checkNameCaps(profile: Profile, subject: Buffer, sanCount: number): string | undefined {
  const policy = profile.namePolicy;
  const who = `profile "${profile.label}"`;
  if (sanCount > policy.maxSans) return `${who} allows at most ${policy.maxSans} subjectAltName entries (the request has ${sanCount})`;
  if (subject.length > policy.maxSubjectBytes) return `${who} allows a subject of at most ${policy.maxSubjectBytes} bytes (the request's is ${subject.length})`;
  const rdns = nameRdnCount(subject);
  if (rdns > policy.maxRdns) return `${who} allows at most ${policy.maxRdns} RDNs in the subject (the request has ${rdns})`;
  return undefined;
}

/** Undefined when the profile and the account allow every name; otherwise why not. */
export function checkNames(profile: Profile, account: Account | undefined, subject: Buffer, sans: readonly GeneralName[]): string | undefined {
  const policy = profile.namePolicy;
  const who = `profile "${profile.label}"`;
  const capped = checkNameCaps(profile, subject, sans.length);
  if (capped) return capped;
  const attrs = nameAttributes(subject);
  const known = (a: { short: string; type: string }, list: readonly string[]): boolean =>
    list.some((x) => x.toLowerCase() === a.short.toLowerCase() || x === a.type);

  if (policy.subjectAllowed.length > 0) {
    const bad = attrs.find((a) => !known(a, policy.subjectAllowed));
    if (bad) return `${who} does not allow subject attribute ${bad.short} (allowed: ${policy.subjectAllowed.join(', ')})`;
  }
  for (const required of policy.subjectRequired) {
    if (!attrs.some((a) => known(a, [required]))) return `${who} requires subject attribute ${required}`;
  }
  for (const a of attrs) {
    const pattern = Object.entries(policy.subjectPatterns).find(([k]) => k.toLowerCase() === a.short.toLowerCase() || k === a.type)?.[1];
    if (pattern !== undefined && !fullMatch(pattern).test(a.value)) return `${who}: subject ${a.short}="${a.value}" does not match ${pattern}`;
  }

  const typed = sans.filter((n): n is Exclude<GeneralName, { type: 'other' }> => n.type !== 'other');
  if (policy.sanTypes.length > 0) {
    const bad = typed.find((n) => !policy.sanTypes.includes(n.type));
    if (bad) return `${who} does not allow ${SAN_LABEL[bad.type]} names in subjectAltName (allowed: ${policy.sanTypes.map((t) => SAN_LABEL[t]).join(', ')})`;
  }
  for (const required of policy.sanRequired) {
    if (!typed.some((n) => n.type === required)) return `${who} requires a ${SAN_LABEL[required]} name in subjectAltName`;
  }
  // RFC 5280 §4.1.2.6: a legacy emailAddress in the subject is an email identity like an rfc822Name
  if (policy.sanTypes.length > 0 && !policy.sanTypes.includes('email') && attrs.some((a) => a.type === OID.emailAddress)) {
    return `${who} does not allow email names (subject emailAddress; allowed: ${policy.sanTypes.map((t) => SAN_LABEL[t]).join(', ')})`;
  }
  const cns = attrs.filter((a) => a.type === OID.commonName).map((a) => a.value);
  const cnHosts = cns.map(cnAsHost);
  const dnsNames = [...typed.filter((n) => n.type === 'dns').map((n) => n.value), ...cnHosts.flatMap((h) => (h?.kind === 'dns' ? [h.value] : []))];
  // RFC 6125 §6.4.3: a wildcard certificate speaks for every name under it; a profile opts in.
  const wildcard = [...dnsNames, ...cns].find((n) => n.includes('*'));
  if (wildcard !== undefined) {
    if (!policy.allowWildcards) return `${who} does not issue wildcard certificates ("${wildcard}")`;
    if (!/^\*\.[^*]+$/.test(wildcard) || dnsNameProblem(wildcard)) return `${who}: "${wildcard}" is not a wildcard DNS name (only a whole leftmost label "*" is allowed)`;
  }
  if (policy.dnsSuffixes.length > 0) {
    const bad = dnsNames.find((n) => !underSuffix(n, policy.dnsSuffixes));
    if (bad !== undefined) return `${who}: DNS name "${bad}" is not under an allowed domain (${policy.dnsSuffixes.join(', ')})`;
  }
  if (policy.ipRanges.length > 0) {
    const list = rangesOf(policy.ipRanges);
    // a CN that is an IP address is held to the same ranges as an IP SAN
    const ips = [...typed.filter((n) => n.type === 'ip').map((n) => n.value), ...cnHosts.flatMap((h) => (h?.kind === 'ip' ? [h.value] : []))];
    const bad = ips.find((ip) => !list.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4'));
    if (bad !== undefined) return `${who}: IP address ${bad} is not in an allowed range (${policy.ipRanges.join(', ')})`;
  }
  const requested = requestedNameList(attrs, sans);
  const textNames = requested.filter((n) => n.kind !== 'ip').map((n) => n.value);
  for (const pattern of policy.forbiddenNames) {
    const hit = textNames.find((n) => anywhere(pattern).test(n));
    if (hit !== undefined) return `${who}: the name "${hit}" is forbidden (${pattern})`;
  }

  if (account && account.allowedNames.length > 0) {
    const bad = requested.find((n) => !account.allowedNames.some((g) => globAdmits(g, n)));
    if (bad !== undefined) return `account ${account.email} may not request the ${KIND_LABEL[bad.kind]} "${bad.value}" (allowed: ${account.allowedNames.join(', ')})`;
  }
  return undefined;
}

const KIND_LABEL: Record<RequestedName['kind'], string> = { cn: 'name', dns: 'name', ip: 'name', email: 'email address', uri: 'URI' };

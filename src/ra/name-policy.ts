/**
 * Name policy: which subjects and subjectAltNames a profile issues, and which names an EST
 * account may ask for. Pure functions; each refusal names the rule that refused.
 */
import { BlockList, isIP } from 'node:net';
import { nameAttributes, type GeneralName } from '../pki/names.js';
import type { Account, NamePolicy, Profile, SanType } from '../store/store.js';

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
  return errors;
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

function underSuffix(name: string, suffixes: readonly string[]): boolean {
  const n = name.toLowerCase();
  return suffixes.some((raw) => {
    const s = raw.toLowerCase();
    return s.startsWith('.') ? n.endsWith(s) && n.length > s.length : n === s || n.endsWith(`.${s}`);
  });
}

const SAN_LABEL: Record<SanType, string> = { dns: 'DNS', ip: 'IP', email: 'email', uri: 'URI' };

/** Undefined when the profile and the account allow every name; otherwise why not. */
export function checkNames(profile: Profile, account: Account | undefined, subject: Buffer, sans: readonly GeneralName[]): string | undefined {
  const policy = profile.namePolicy;
  const who = `profile "${profile.label}"`;
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
  const cns = attrs.filter((a) => a.short === 'CN').map((a) => a.value);
  if (policy.dnsSuffixes.length > 0) {
    const dnsNames = [...typed.filter((n) => n.type === 'dns').map((n) => n.value), ...cns.filter((cn) => HOSTNAME.test(cn))];
    const bad = dnsNames.find((n) => !underSuffix(n, policy.dnsSuffixes));
    if (bad !== undefined) return `${who}: DNS name "${bad}" is not under an allowed domain (${policy.dnsSuffixes.join(', ')})`;
  }
  if (policy.ipRanges.length > 0) {
    const list = rangesOf(policy.ipRanges);
    const bad = typed.find((n) => n.type === 'ip' && !list.check(n.value, isIP(n.value) === 6 ? 'ipv6' : 'ipv4'));
    if (bad) return `${who}: IP address ${bad.value} is not in an allowed range (${policy.ipRanges.join(', ')})`;
  }
  const textNames = [...cns, ...typed.filter((n) => n.type !== 'ip').map((n) => n.value)];
  for (const pattern of policy.forbiddenNames) {
    const hit = textNames.find((n) => anywhere(pattern).test(n));
    if (hit !== undefined) return `${who}: the name "${hit}" is forbidden (${pattern})`;
  }

  if (account && account.allowedNames.length > 0) {
    const requested = [...cns, ...typed.map((n) => n.value)];
    const bad = requested.find((n) => !account.allowedNames.some((g) => globMatches(g, n)));
    if (bad !== undefined) return `account ${account.email} may not request the name "${bad}" (allowed: ${account.allowedNames.join(', ')})`;
  }
  return undefined;
}

/**
 * Name globs of EST accounts and trust anchors: which names a requester may ask for, by name type.
 *
 * `dns:*.example.com` admits CNs and DNS names, `ip:10.1.*.*` IP addresses, `email:*@example.com`
 * email addresses (SAN rfc822Name and subject emailAddress), `uri:https://*.example.com/*` URIs,
 * `cn:Sensor *` only a CN. A bare glob admits CNs, DNS names and IP addresses, never an email
 * address or URI; bare globs that are written as a URI (`https://…`, `urn:…`) or hold an "@" keep
 * meaning a URI or an email address (and CN), as they did before prefixes.
 * `*` matches within one DNS label (one IP octet), within an email local part or domain label,
 * within one URI segment; matching is case-insensitive and on the whole value.
 */

/** The kinds of requested names globs apply to. */
export type NameKind = 'cn' | 'dns' | 'ip' | 'email' | 'uri';

export interface RequestedName {
  kind: NameKind;
  value: string;
}

const PREFIXES: Record<string, readonly NameKind[]> = {
  dns: ['cn', 'dns'],
  ip: ['ip'],
  email: ['email'],
  uri: ['uri'],
  cn: ['cn'],
};
const BARE: readonly NameKind[] = ['cn', 'dns', 'ip'];

/** `*` stops at these characters, by kind. */
const STOP: Record<NameKind, string> = { cn: '.', dns: '.', ip: '.:', email: '@.', uri: '/' };

function globBody(pattern: string, stop: string): string {
  const cls = stop.replace(/[\]\\^-]/g, '\\$&');
  return pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join(`[^${cls}]*`);
}

interface ParsedGlob {
  kinds: readonly NameKind[];
  pattern: string;
}

/** Bare globs written before prefixes existed keep meaning what they meant: a URI, an email address, or a host name. */
const BARE_URI = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/|urn:)/i;

function parseGlob(text: string): ParsedGlob {
  const m = /^([A-Za-z]+):(.*)$/s.exec(text);
  const kinds = m ? PREFIXES[m[1]!.toLowerCase()] : undefined;
  if (m && kinds) return { kinds, pattern: m[2]! };
  if (BARE_URI.test(text)) return { kinds: ['uri'], pattern: text };
  if (text.includes('@')) return { kinds: ['cn', 'email'], pattern: text };
  return { kinds: BARE, pattern: text };
}

const cache = new Map<string, RegExp>();
function globRegex(pattern: string, kind: NameKind): RegExp {
  const key = `${kind}\u0000${pattern}`;
  let re = cache.get(key);
  if (!re) {
    const at = pattern.lastIndexOf('@');
    // an email's local part may hold dots: there `*` stops only at "@"
    const body = kind === 'email' && at >= 0 ? `${globBody(pattern.slice(0, at), '@')}@${globBody(pattern.slice(at + 1), STOP.email)}` : globBody(pattern, STOP[kind]);
    cache.set(key, (re = new RegExp(`^${body}$`, 'i')));
  }
  return re;
}

/** The glob admits this requested name. */
export function globAdmits(glob: string, name: RequestedName): boolean {
  const g = parseGlob(glob);
  return g.kinds.includes(name.kind) && globRegex(g.pattern, name.kind).test(name.value);
}

/** Why a glob cannot be meant (an unknown `type:` prefix, an empty pattern), or undefined. */
export function nameGlobProblem(glob: string): string | undefined {
  const m = /^([A-Za-z]+):(.*)$/s.exec(glob);
  // an IPv6 address such as "fe80::1" or "abcd:*", or a URI, is a bare glob, not a prefix
  if (m && !PREFIXES[m[1]!.toLowerCase()] && !/^[0-9a-f:*.]+$/i.test(glob) && !BARE_URI.test(glob)) {
    return `"${glob}": unknown name type prefix "${m[1]}:" (use dns:, ip:, email:, uri:, cn: or none)`;
  }
  if (parseGlob(glob).pattern.trim() === '') return `"${glob}": empty name pattern`;
  return undefined;
}

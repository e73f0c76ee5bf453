/**
 * Name matching (RFC 5280 §7.1): two Names are the same when they have the same RDNs in the same
 * order, each RDN the same set of attributes; string values of any DirectoryString form compare
 * after case folding and whitespace folding (RFC 4518 §2.6, §7.1 "case-insensitive matching"),
 * other values byte for byte. GeneralNames compare as sets, DNS names and email domains
 * case-insensitively (RFC 5280 §4.2.1.6, §7.2, §7.5).
 */
import { children, decodeOid, readTop, TAG, value, type Tlv } from './der.js';
import type { GeneralName } from './names.js';
import { decodeDirectoryString } from './name-syntax.js';

const STRING_TAGS = new Set<number>([TAG.PrintableString, TAG.UTF8String, TAG.IA5String, 0x14, 0x1c, 0x1e]);

/** RFC 4518-style preparation, reduced: NFKC, case fold, leading/trailing space removed, inner runs as one space. */
export function foldNameValue(text: string): string {
  return text.normalize('NFKC').toLowerCase().trim().replace(/\s+/gu, ' ');
}

/** Certificates we did not check (a client's own) may hold loosely encoded strings: compare what they say. */
function textOf(tag: number, bytes: Buffer): string {
  try {
    return decodeDirectoryString(tag, bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

function atvKey(der: Buffer, atv: Tlv): string {
  const [t, v] = children(der, atv);
  const type = decodeOid(value(der, t!));
  if (v && STRING_TAGS.has(v.tag)) return `${type}=s:${foldNameValue(textOf(v.tag, value(der, v)))}`;
  return `${type}=b:${v ? der.subarray(v.start, v.end).toString('hex') : ''}`;
}

function rdnKeys(nameDer: Buffer): string[][] {
  return children(nameDer, readTop(nameDer)).map((rdn) => children(nameDer, rdn).map((atv) => atvKey(nameDer, atv)).sort());
}

/** RFC 5280 §7.1 comparison of two DER Names (both already checked by nameDerProblem). */
export function namesMatch(a: Buffer, b: Buffer): boolean {
  if (a.equals(b)) return true;
  const x = rdnKeys(a);
  const y = rdnKeys(b);
  return x.length === y.length && x.every((rdn, i) => rdn.length === y[i]!.length && rdn.every((k, j) => k === y[i]![j]));
}

/** A comparable form of a GeneralName: DNS lower-cased, an email's domain lower-cased. */
export function generalNameKey(n: GeneralName): string {
  switch (n.type) {
    case 'dns':
      return `dns:${n.value.toLowerCase()}`;
    case 'email': {
      const at = n.value.lastIndexOf('@');
      return `email:${n.value.slice(0, at)}@${n.value.slice(at + 1).toLowerCase()}`;
    }
    case 'ip':
      return `ip:${n.value}`;
    case 'uri':
      return `uri:${n.value}`;
    case 'other':
      return `other:${n.tag}`;
  }
}

/** The two lists name the same set of GeneralNames. */
export function generalNameSetsMatch(a: readonly GeneralName[], b: readonly GeneralName[]): boolean {
  const x = new Set(a.map(generalNameKey));
  const y = new Set(b.map(generalNameKey));
  return x.size === y.size && [...x].every((k) => y.has(k));
}

/**
 * Name constraints (RFC 5280 §4.2.1.10): parsing the extension and matching the names of a
 * certificate (subject, subject emailAddress attributes, subjectAltName) against it. The path
 * walk that applies a CA's constraints to every certificate below it is in ra/client-cert.ts.
 */
import { children, decodeOid, readTop, value, type Tlv } from './der.js';
import type { CertificateFields } from './certificate.js';
import { ipToString, nameToString } from './names.js';
import { OID } from './oids.js';

/** GeneralName CHOICE numbers (RFC 5280 §4.2.1.6). */
const GN = { otherName: 0, rfc822Name: 1, dNSName: 2, x400Address: 3, directoryName: 4, ediPartyName: 5, uri: 6, iPAddress: 7, registeredID: 8 } as const;

/** One name in a form this module understands, or the CHOICE number of one it does not. */
export type ConstrainedName =
  | { form: 'dns' | 'email'; value: string }
  | { form: 'uri'; value: string; host: string | undefined }
  | { form: 'ip'; bytes: Buffer }
  | { form: 'dn'; rdns: string[]; text: string }
  | { form: 'unsupported'; choice: number };

export interface NameConstraints {
  permitted: ConstrainedName[];
  excluded: ConstrainedName[];
}

/** RFC 5280 §7.1 (simplified): attribute values compare case-insensitively with whitespace collapsed. */
function normalizeValue(t: Tlv, der: Buffer): string {
  const raw = value(der, t);
  const text = t.tag === 0x1e ? Buffer.from(raw).swap16().toString('utf16le') : raw.toString('utf8');
  return text.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** Each RDN as a canonical string (its attributes sorted), most significant first. */
function rdnsOf(nameDer: Buffer): string[] {
  return children(nameDer, readTop(nameDer)).map((rdn) =>
    children(nameDer, rdn)
      .map((atv) => {
        const [t, v] = children(nameDer, atv);
        return `${decodeOid(value(nameDer, t!))}=${v ? normalizeValue(v, nameDer) : ''}`;
      })
      .sort()
      .join('+'),
  );
}

function uriHost(uri: string): string | undefined {
  // RFC 5280 §4.2.1.10: the constraint applies to the host part of the URI's authority.
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/i.exec(uri);
  return m && m[1] ? m[1].toLowerCase() : undefined;
}

/** A GeneralName TLV inside `der` as a ConstrainedName. */
function generalName(der: Buffer, gn: Tlv): ConstrainedName {
  const choice = gn.tag & 0x1f;
  const v = value(der, gn);
  switch (choice) {
    case GN.dNSName:
      return { form: 'dns', value: v.toString('latin1') };
    case GN.rfc822Name:
      return { form: 'email', value: v.toString('latin1') };
    case GN.uri: {
      const text = v.toString('latin1');
      return { form: 'uri', value: text, host: uriHost(text) };
    }
    case GN.iPAddress:
      return { form: 'ip', bytes: Buffer.from(v) };
    case GN.directoryName: {
      const [name] = children(der, gn); // [4] is EXPLICIT: it wraps the Name
      const nameDer = Buffer.from(der.subarray(name!.start, name!.end));
      return { form: 'dn', rdns: rdnsOf(nameDer), text: nameToString(nameDer) };
    }
    default:
      return { form: 'unsupported', choice };
  }
}

/** Parse a NameConstraints extnValue. Throws DerError on malformed DER. */
export function parseNameConstraints(extnValue: Buffer): NameConstraints {
  const out: NameConstraints = { permitted: [], excluded: [] };
  for (const part of children(extnValue, readTop(extnValue))) {
    const list = part.tag === 0xa0 ? out.permitted : part.tag === 0xa1 ? out.excluded : undefined;
    if (!list) continue;
    // GeneralSubtree ::= SEQUENCE { base GeneralName, minimum [0] DEFAULT 0, maximum [1] OPTIONAL };
    // RFC 5280 profiles minimum 0 and no maximum, so only the base matters.
    for (const subtree of children(extnValue, part)) {
      const [base] = children(extnValue, subtree);
      if (base) list.push(generalName(extnValue, base));
    }
  }
  return out;
}

const HOSTNAME = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.?$/i;

/**
 * The names of a certificate that name constraints apply to (RFC 5280 §6.1.3 (b)). With
 * `cnAsDns` (the leaf), a subject CN that looks like a host name counts as a DNS name when the
 * certificate has no DNS SAN, as OpenSSL does, so a constraint cannot be dodged through the CN.
 */
export function constrainedNamesOf(fields: CertificateFields, cnAsDns = false): ConstrainedName[] {
  const names: ConstrainedName[] = [];
  const rdns = rdnsOf(fields.subject);
  if (rdns.length > 0) names.push({ form: 'dn', rdns, text: nameToString(fields.subject) });
  // RFC 5280 §4.2.1.10: rfc822Name constraints also apply to emailAddress attributes of the subject.
  const top = readTop(fields.subject);
  for (const rdn of children(fields.subject, top)) {
    for (const atv of children(fields.subject, rdn)) {
      const [t, v] = children(fields.subject, atv);
      if (v && decodeOid(value(fields.subject, t!)) === OID.emailAddress) names.push({ form: 'email', value: value(fields.subject, v).toString('utf8') });
    }
  }
  const san = fields.subjectAltName;
  if (san) for (const gn of children(san, readTop(san))) names.push(generalName(san, gn));
  if (cnAsDns && !names.some((n) => n.form === 'dns')) {
    for (const rdn of children(fields.subject, top)) {
      for (const atv of children(fields.subject, rdn)) {
        const [t, v] = children(fields.subject, atv);
        if (!v || decodeOid(value(fields.subject, t!)) !== OID.commonName) continue;
        const cn = value(fields.subject, v).toString('utf8');
        if (HOSTNAME.test(cn)) names.push({ form: 'dns', value: cn });
      }
    }
  }
  return names;
}

export function describeName(n: ConstrainedName): string {
  switch (n.form) {
    case 'dns':
      return `DNS:${n.value}`;
    case 'email':
      return `email:${n.value}`;
    case 'uri':
      return `URI:${n.value}`;
    case 'ip':
      return n.bytes.length === 8 || n.bytes.length === 32
        ? `IP:${ipToString(n.bytes.subarray(0, n.bytes.length / 2))}/${ipToString(n.bytes.subarray(n.bytes.length / 2))}`
        : `IP:${ipToString(n.bytes)}`;
    case 'dn':
      return `DirName:${n.text}`;
    case 'unsupported':
      return `GeneralName [${n.choice}]`;
  }
}

const trimDot = (s: string): string => s.toLowerCase().replace(/\.$/, '');

/** DNS: adding labels on the left stays within; a leading dot (common practice) means subdomains only. */
function hostWithin(host: string, constraint: string): boolean {
  const h = trimDot(host);
  const c = trimDot(constraint);
  if (c === '') return true;
  if (c.startsWith('.')) return h.endsWith(c);
  return h === c || h.endsWith('.' + c);
}

/** URI and mailbox hosts: the exact host, or with a leading dot any host below it. */
function hostMatches(host: string, constraint: string): boolean {
  const h = trimDot(host);
  const c = trimDot(constraint);
  return c.startsWith('.') ? h.endsWith(c) : h === c;
}

function emailWithin(mailbox: string, constraint: string): boolean {
  const at = mailbox.lastIndexOf('@');
  if (at < 0) return false;
  if (constraint.includes('@')) {
    const cAt = constraint.lastIndexOf('@');
    return mailbox.slice(0, at) === constraint.slice(0, cAt) && trimDot(mailbox.slice(at + 1)) === trimDot(constraint.slice(cAt + 1));
  }
  return hostMatches(mailbox.slice(at + 1), constraint);
}

/** Whether `name` lies within the subtree `base`; undefined when they are different forms. */
function within(name: ConstrainedName, base: ConstrainedName): boolean | undefined {
  switch (name.form) {
    case 'dns':
      return base.form === 'dns' ? hostWithin(name.value, base.value) : undefined;
    case 'email':
      return base.form === 'email' ? emailWithin(name.value, base.value) : undefined;
    case 'uri':
      return base.form === 'uri' ? name.host !== undefined && hostMatches(name.host, base.value) : undefined;
    case 'ip': {
      if (base.form !== 'ip') return undefined;
      // address and mask, 8 octets for IPv4, 32 for IPv6
      if (base.bytes.length !== name.bytes.length * 2) return false;
      const mask = base.bytes.subarray(name.bytes.length);
      for (let i = 0; i < name.bytes.length; i++) if ((name.bytes[i]! & mask[i]!) !== (base.bytes[i]! & mask[i]!)) return false;
      return true;
    }
    case 'dn':
      return base.form === 'dn' ? base.rdns.length <= name.rdns.length && base.rdns.every((r, i) => r === name.rdns[i]) : undefined;
    case 'unsupported':
      return base.form === 'unsupported' && base.choice === name.choice ? false : undefined;
  }
}

/**
 * Why `names` break the constraints `nc` of the CA `caSubject`, or undefined when they do not.
 * RFC 5280 §6.1.3 (b)/(c): a name of a form with permitted subtrees must lie within one of them,
 * and no name may lie within an excluded subtree. A form this module cannot process is refused
 * when the constraints name it (§4.2.1.10: process the constraint or reject the certificate).
 */
export function nameConstraintViolation(nc: NameConstraints, names: readonly ConstrainedName[], caSubject: string): string | undefined {
  for (const name of names) {
    if (name.form === 'unsupported') {
      if ([...nc.permitted, ...nc.excluded].some((b) => b.form === 'unsupported' && b.choice === name.choice)) {
        return `the name constraints of "${caSubject}" restrict a name form (${describeName(name)}) that this server cannot check`;
      }
      continue;
    }
    const permitted = nc.permitted.filter((b) => within(name, b) !== undefined);
    if (permitted.length > 0 && !permitted.some((b) => within(name, b))) {
      return `${describeName(name)} is outside the permitted names of "${caSubject}" (name constraints)`;
    }
    const excluded = nc.excluded.find((b) => within(name, b));
    if (excluded) return `${describeName(name)} is within the excluded names of "${caSubject}" (${describeName(excluded)})`;
  }
  return undefined;
}

/** RFC 5280 §7.1: two DER Names are the same name (case and spacing of values aside). */
export function sameName(a: Buffer, b: Buffer): boolean {
  if (a.equals(b)) return true;
  try {
    const x = rdnsOf(a);
    const y = rdnsOf(b);
    return x.length === y.length && x.every((r, i) => r === y[i]);
  } catch {
    return false;
  }
}

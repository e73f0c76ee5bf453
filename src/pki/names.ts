/** Rendering of X.501 Names and GeneralNames (RFC 5280 §4.2.1.6) for display and policy. */
import { isIP, isIPv4 } from 'node:net';
import { children, decodeOid, DerError, expectTag, oid, readTop, seq, seqOf, set, TAG, tlv, value } from './der.js';
import { decodeDirectoryString } from './name-syntax.js';
import { OID } from './oids.js';

const SHORT: Record<string, string> = {
  [OID.commonName]: 'CN',
  [OID.serialNumber]: 'serialNumber',
  [OID.countryName]: 'C',
  [OID.localityName]: 'L',
  [OID.stateOrProvinceName]: 'ST',
  [OID.organizationName]: 'O',
  [OID.organizationalUnitName]: 'OU',
  [OID.emailAddress]: 'emailAddress',
  [OID.domainComponent]: 'DC',
};

export interface NameAttribute {
  type: string;
  /** Short name (CN, O, …) or the dotted OID. */
  short: string;
  value: string;
}

/** The attributes of a DER Name, in order. */
export function nameAttributes(nameDer: Buffer): NameAttribute[] {
  const out: NameAttribute[] = [];
  const top = expectTag(readTop(nameDer), TAG.SEQUENCE, 'Name');
  for (const rdn of children(nameDer, top)) {
    for (const atv of children(nameDer, expectTag(rdn, TAG.SET, 'RelativeDistinguishedName'))) {
      const [t, v] = children(nameDer, expectTag(atv, TAG.SEQUENCE, 'AttributeTypeAndValue'));
      const type = decodeOid(value(nameDer, expectTag(t, TAG.OID, 'attribute type')));
      const raw = v ? value(nameDer, v) : Buffer.alloc(0);
      let text: string;
      try {
        text = v ? decodeDirectoryString(v.tag, raw) : '';
      } catch {
        text = raw.toString('utf8');
      }
      out.push({ type, short: SHORT[type] ?? type, value: text });
    }
  }
  return out;
}

/** The number of RelativeDistinguishedNames of a DER Name. */
export function nameRdnCount(nameDer: Buffer): number {
  return children(nameDer, expectTag(readTop(nameDer), TAG.SEQUENCE, 'Name')).length;
}

/** RFC 4514-like one-line form, most significant RDN first (as openssl -nameopt RFC2253 reverses; we keep DER order). */
export function nameToString(nameDer: Buffer): string {
  return nameAttributes(nameDer)
    .map((a) => `${a.short}=${a.value.replace(/([,+"\\<>;])/g, '\\$1')}`)
    .join(', ');
}

export type GeneralName =
  | { type: 'dns'; value: string }
  | { type: 'ip'; value: string }
  | { type: 'email'; value: string }
  | { type: 'uri'; value: string }
  | { type: 'other'; tag: number };

/** An IP address (4 or 16 bytes) as text; IPv6 with its longest run of zero groups compressed. */
export function ipToString(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  if (b.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
    return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
  }
  return `invalid(${b.toString('hex')})`;
}

/** Decode a GeneralNames SEQUENCE (the subjectAltName extnValue). */
export function parseGeneralNames(der: Buffer): GeneralName[] {
  const top = expectTag(readTop(der), TAG.SEQUENCE, 'GeneralNames');
  return children(der, top).map((gn): GeneralName => {
    const v = value(der, gn);
    switch (gn.tag) {
      case 0x82:
        return { type: 'dns', value: v.toString('latin1') };
      case 0x87:
        return { type: 'ip', value: ipToString(v) };
      case 0x81:
        return { type: 'email', value: v.toString('latin1') };
      case 0x86:
        return { type: 'uri', value: v.toString('latin1') };
      default:
        return { type: 'other', tag: gn.tag };
    }
  });
}

export function generalNameToString(n: GeneralName): string {
  switch (n.type) {
    case 'dns':
      return `DNS:${n.value}`;
    case 'ip':
      return `IP:${n.value}`;
    case 'email':
      return `email:${n.value}`;
    case 'uri':
      return `URI:${n.value}`;
    case 'other':
      return `other:[${n.tag & 0x1f}]`;
  }
}

export { isIPv4 };

const TYPE_BY_SHORT: Record<string, string> = Object.fromEntries(Object.entries(SHORT).map(([o, s]) => [s.toUpperCase(), o]));

/** The OID of a subject attribute given by short name (CN, serialNumber, DC, … any case) or dotted; undefined when unknown. */
export function attributeTypeOid(name: string): string | undefined {
  return TYPE_BY_SHORT[name.toUpperCase()] ?? (/^\d+(\.\d+)+$/.test(name) ? name : undefined);
}

/**
 * Encode a Name from "CN=x, O=y" (DER order as written). Values are UTF8String except
 * countryName and serialNumber, which RFC 5280 requires as PrintableString, and emailAddress and
 * domainComponent (DC), IA5String.
 */
export function encodeName(text: string): Buffer {
  const parts = text.split(/,(?![^=,]*\\)/).map((p) => p.trim()).filter(Boolean);
  const rdns = parts.map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`bad name component "${p}" (expected TYPE=value)`);
    const key = p.slice(0, eq).trim();
    const v = p.slice(eq + 1).trim();
    const type = TYPE_BY_SHORT[key.toUpperCase()] ?? (/^\d+(\.\d+)+$/.test(key) ? key : undefined);
    if (!type) throw new Error(`unknown name attribute "${key}"`);
    const printable = type === OID.countryName || type === OID.serialNumber;
    // RFC 5280 Appendix A: emailAddress and domainComponent are IA5String
    const ia5 = type === OID.emailAddress || type === OID.domainComponent;
    const str = tlv(printable ? TAG.PrintableString : ia5 ? TAG.IA5String : TAG.UTF8String, Buffer.from(v, 'utf8'));
    return set(seq(oid(type), str));
  });
  return seqOf(rdns);
}

/** The 4 or 16 octets of an IPv4 or IPv6 address (RFC 5280 §4.2.1.6 iPAddress). */
export function ipToBytes(text: string): Buffer {
  const kind = isIP(text);
  if (kind === 4) return Buffer.from(text.split('.').map(Number));
  if (kind !== 6) throw new Error(`"${text}" is not an IP address`);
  let s = text.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    s = s.slice(0, v4.index) + ((b[0]! << 8) | b[1]!).toString(16) + ':' + ((b[2]! << 8) | b[3]!).toString(16);
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

const IA5 = /^[\x00-\x7f]*$/;

/** Encode GeneralNames (RFC 5280 §4.2.1.6), e.g. the subjectAltName extnValue. dNSName, rfc822Name and URI must be ASCII (IA5String). */
export function encodeGeneralNames(names: readonly GeneralName[]): Buffer {
  return seq(
    ...names.map((n) => {
      if (n.type === 'other') throw new Error('cannot encode an "other" GeneralName');
      if (n.type === 'ip') return tlv(0x87, ipToBytes(n.value));
      if (!IA5.test(n.value) || n.value.length === 0) throw new Error(`${n.type} name "${n.value}" must be non-empty ASCII (IA5String; use punycode for IDNs)`);
      const tag = n.type === 'dns' ? 0x82 : n.type === 'email' ? 0x81 : 0x86;
      return tlv(tag, Buffer.from(n.value, 'latin1'));
    }),
  );
}

/**
 * RFC 6402 §2.8 ChangeSubjectName ::= SEQUENCE { subject Name OPTIONAL, subjectAlt SubjectAltName
 * OPTIONAL }, at least one present. Name and GeneralNames share the SEQUENCE tag: a Name's
 * elements are SETs, GeneralNames' are context-tagged; erratum 3943's [1] tag on subjectAlt is
 * accepted too. Returns the subject DER and the subjectAltName extnValue DER. Throws DerError.
 */
export function parseChangeSubjectName(der: Buffer): { subject: Buffer | undefined; subjectAlt: Buffer | undefined } {
  const parts = children(der, expectTag(readTop(der), TAG.SEQUENCE, 'ChangeSubjectName'));
  let subject: Buffer | undefined;
  let subjectAlt: Buffer | undefined;
  for (const part of parts) {
    const inner = part.tag === TAG.SEQUENCE ? children(der, part) : [];
    const isName = part.tag === TAG.SEQUENCE && subject === undefined && subjectAlt === undefined && (inner.length === 0 || inner[0]!.tag === TAG.SET);
    if (isName) subject = Buffer.from(der.subarray(part.start, part.end));
    else if (subjectAlt === undefined && (part.tag === 0xa1 || (part.tag === TAG.SEQUENCE && inner.every((t) => (t.tag & 0xc0) === 0x80)))) {
      subjectAlt = seq(value(der, part));
    } else throw new DerError('ChangeSubjectName: expected a subject Name and/or subjectAlt GeneralNames');
  }
  if (!subject && !subjectAlt) throw new DerError('ChangeSubjectName: neither subject nor subjectAlt is present');
  return { subject, subjectAlt };
}

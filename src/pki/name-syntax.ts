/**
 * Syntax of the names a request carries, checked before any policy looks at them:
 * the DER shape of an X.501 Name (RFC 5280 §4.1.2.4) and the forms of the GeneralNames of a
 * subjectAltName (RFC 5280 §4.2.1.6). Each check returns the reason a name is malformed, or
 * undefined. Pure functions.
 */
import { domainToASCII, domainToUnicode } from 'node:url';
import { decodeOid, DerError, readTlv, TAG, type Tlv } from './der.js';
import { OID } from './oids.js';

/** Upper bounds of any Name on the request path, whatever a profile says. */
export const NAME_HARD_LIMITS = { bytes: 65_536, rdns: 256, valueBytes: 16_384 } as const;

const STRING_TAG = {
  TeletexString: 0x14,
  UniversalString: 0x1c,
  BMPString: 0x1e,
} as const;

/** DirectoryString forms (X.520) plus IA5String (emailAddress, domainComponent: RFC 5280 App. A). */
const DIRECTORY_STRING_TAGS = new Set<number>([
  TAG.PrintableString, TAG.UTF8String, TAG.IA5String, STRING_TAG.TeletexString, STRING_TAG.UniversalString, STRING_TAG.BMPString,
]);

/** Attributes RFC 5280 App. A defines as IA5String. */
const IA5_ONLY = new Set<string>([OID.emailAddress, OID.domainComponent]);
/** Attributes RFC 5280 App. A defines as PrintableString. */
const PRINTABLE_ONLY = new Set<string>([OID.countryName, OID.serialNumber]);

/** X.680 PrintableString, plus "*" and "&", which certificates in use carry there (Go's crypto/x509 accepts both too). */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?*&]*$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** X.690 §10.1: a DER length is in the shortest form. Throws DerError otherwise. */
function strictTlv(buf: Buffer, offset: number, limit: number): Tlv {
  const t = readTlv(buf, offset, limit);
  const len = t.end - t.valueStart;
  const header = t.valueStart - t.start;
  const minimal = len < 0x80 ? 2 : 2 + Math.ceil(Math.log2(len + 1) / 8);
  if (header !== minimal) throw new DerError('a length is not in its shortest form (not DER)');
  return t;
}

function strictChildren(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = parent.valueStart; pos < parent.end;) {
    const t = strictTlv(buf, pos, parent.end);
    out.push(t);
    pos = t.end;
  }
  return out;
}

/** X.690 §8.19: each arc in the fewest octets (no leading 0x80). */
function oidProblem(bytes: Buffer): string | undefined {
  if (bytes.length === 0) return 'an attribute type is an empty OID';
  if (bytes.length > 64) return 'an attribute type OID is too long';
  if (bytes[bytes.length - 1]! & 0x80) return 'an attribute type OID is truncated';
  for (let i = 0; i < bytes.length; i++) {
    const startsArc = i === 0 || !(bytes[i - 1]! & 0x80);
    if (startsArc && bytes[i] === 0x80) return 'an attribute type OID has a non-minimal arc';
  }
  return undefined;
}

/** The text of a string attribute value; throws a reason string when the encoding is not what its tag says. */
export function decodeDirectoryString(tag: number, bytes: Buffer): string {
  switch (tag) {
    case TAG.UTF8String:
      try {
        return UTF8.decode(bytes);
      } catch {
        throw new DerError('a UTF8String is not valid UTF-8');
      }
    case TAG.PrintableString:
      if (!PRINTABLE.test(bytes.toString('latin1'))) throw new DerError('a PrintableString has characters outside its set');
      return bytes.toString('latin1');
    case TAG.IA5String:
      if (bytes.some((b) => b > 0x7f)) throw new DerError('an IA5String has non-ASCII bytes');
      return bytes.toString('latin1');
    case STRING_TAG.TeletexString:
      return bytes.toString('latin1');
    case STRING_TAG.BMPString: {
      if (bytes.length % 2 !== 0) throw new DerError('a BMPString has an odd length');
      const text = Buffer.from(bytes).swap16().toString('utf16le');
      if (/[\uD800-\uDFFF]/u.test(text.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''))) throw new DerError('a BMPString has an unpaired surrogate');
      return text;
    }
    case STRING_TAG.UniversalString: {
      if (bytes.length % 4 !== 0) throw new DerError('a UniversalString length is not a multiple of 4');
      let text = '';
      for (let i = 0; i < bytes.length; i += 4) {
        const cp = bytes.readUInt32BE(i);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new DerError('a UniversalString has an invalid code point');
        text += String.fromCodePoint(cp);
      }
      return text;
    }
    default:
      return bytes.toString('utf8');
  }
}

export interface NameShapeLimits {
  /** Most RelativeDistinguishedNames; a profile's namePolicy.maxRdns applies on top. */
  rdns?: number;
  /** Most bytes of the whole DER Name. */
  bytes?: number;
}

/**
 * RFC 5280 §4.1.2.4: Name ::= SEQUENCE OF RelativeDistinguishedName, each a non-empty SET OF
 * AttributeTypeAndValue { type OID, value string }. Undefined when `der` is such a Name in DER
 * with string values in the forms their type allows; otherwise the reason.
 */
export function nameDerProblem(der: Buffer, limits: NameShapeLimits = {}): string | undefined {
  const maxBytes = Math.min(limits.bytes ?? NAME_HARD_LIMITS.bytes, NAME_HARD_LIMITS.bytes);
  const maxRdns = Math.min(limits.rdns ?? NAME_HARD_LIMITS.rdns, NAME_HARD_LIMITS.rdns);
  if (der.length > maxBytes) return `the subject is ${der.length} bytes (at most ${maxBytes})`;
  try {
    const top = strictTlv(der, 0, der.length);
    if (top.end !== der.length) return 'the subject has trailing bytes';
    if (top.tag !== TAG.SEQUENCE) return 'the subject is not a SEQUENCE OF RelativeDistinguishedName';
    const rdns = strictChildren(der, top);
    if (rdns.length > maxRdns) return `the subject has ${rdns.length} RDNs (at most ${maxRdns})`;
    for (const rdn of rdns) {
      if (rdn.tag !== TAG.SET) return 'a subject RDN is not a SET OF AttributeTypeAndValue';
      const atvs = strictChildren(der, rdn);
      if (atvs.length === 0) return 'a subject RDN is an empty SET';
      // X.690 §11.6: the elements of a DER SET OF are in ascending order of their encodings
      for (let i = 1; i < atvs.length; i++) {
        if (Buffer.compare(der.subarray(atvs[i - 1]!.start, atvs[i - 1]!.end), der.subarray(atvs[i]!.start, atvs[i]!.end)) > 0) return 'a multi-valued subject RDN is not sorted (DER SET OF)';
      }
      for (const atv of atvs) {
        if (atv.tag !== TAG.SEQUENCE) return 'a subject AttributeTypeAndValue is not a SEQUENCE';
        const parts = strictChildren(der, atv);
        if (parts.length !== 2) return 'a subject AttributeTypeAndValue does not have exactly a type and a value';
        const [type, val] = parts as [Tlv, Tlv];
        if (type.tag !== TAG.OID) return 'a subject attribute type is not an OBJECT IDENTIFIER';
        const oidBytes = der.subarray(type.valueStart, type.end);
        const bad = oidProblem(oidBytes);
        if (bad) return bad;
        if (!DIRECTORY_STRING_TAGS.has(val.tag)) return `a subject attribute value has tag 0x${val.tag.toString(16)}, not a string (DirectoryString or IA5String)`;
        const bytes = der.subarray(val.valueStart, val.end);
        if (bytes.length === 0) return 'a subject attribute value is empty';
        if (bytes.length > NAME_HARD_LIMITS.valueBytes) return 'a subject attribute value is too long';
        const typeOid = decodeOid(oidBytes); // oidProblem has ruled out what decodeOid refuses
        if (IA5_ONLY.has(typeOid) && val.tag !== TAG.IA5String) return 'emailAddress and domainComponent values must be IA5String (RFC 5280 Appendix A)';
        if (PRINTABLE_ONLY.has(typeOid) && val.tag !== TAG.PrintableString) return 'countryName and serialNumber values must be PrintableString (RFC 5280 Appendix A)';
        const text = decodeDirectoryString(val.tag, bytes);
        // eslint-disable-next-line no-control-regex
        if (/[\u0000-\u001f\u007f]/u.test(text)) return 'a subject attribute value contains a control character';
        if (typeOid === OID.countryName && text.length !== 2) return 'countryName must be two letters (ISO 3166)';
        if (typeOid === OID.emailAddress) {
          const e = emailProblem(text);
          if (e) return `subject emailAddress: ${e}`;
        }
      }
    }
    return undefined;
  } catch (err) {
    return err instanceof DerError ? `the subject is not a valid DER Name: ${err.message}` : `the subject is not a valid DER Name`;
  }
}

const LDH_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * RFC 1035 §2.3.1 preferred syntax as RFC 5280 §4.2.1.6 requires for dNSName, with IDNs only as
 * A-labels (RFC 5890 §2.3.2.1: "xn--" labels that decode). A leftmost "*" label is syntax here;
 * whether a profile issues wildcards is policy. No trailing dot, no empty label, labels ≤ 63, name ≤ 253.
 */
export function dnsNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'a DNS name is empty';
  if (name.length > 253) return `the DNS name "${name.slice(0, 40)}…" is longer than 253 characters`;
  if (name.endsWith('.')) return `the DNS name "${name}" ends with a dot`;
  const labels = name.split('.');
  for (const [i, label] of labels.entries()) {
    if (label === '') return `the DNS name "${name}" has an empty label`;
    if (label === '*' && i === 0 && labels.length > 1) continue;
    if (label.length > 63) return `the DNS name "${name}" has a label longer than 63 characters`;
    if (!LDH_LABEL.test(label)) return `"${printable(name)}" is not a DNS name (letters, digits and inner hyphens per label; IDNs as xn-- A-labels)`;
    if (label.slice(2, 4) === '--') {
      if (!/^xn--/i.test(label)) return `the DNS name "${name}" has a label with "--" in positions 3–4 that is not an A-label`;
      const unicode = domainToUnicode(label);
      if (unicode === '' || unicode === label || domainToASCII(unicode) !== label.toLowerCase()) return `the DNS name "${name}" has an invalid A-label "${label}"`;
    }
  }
  return undefined;
}

/** RFC 5280 §4.2.1.6 rfc822Name: a Mailbox (RFC 5321 §4.1.2), local-part@domain, ASCII. */
export function emailProblem(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return `"${printable(address)}" is not an email address (local-part@domain)`;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local.length > 64) return `the email address "${printable(address)}" has a local part longer than 64 characters`;
  const dotAtom = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
  if (!dotAtom.test(local)) return `the email address "${printable(address)}" has an invalid local part`;
  if (domain.includes('*')) return `the email address "${printable(address)}" has a wildcard domain`;
  const d = dnsNameProblem(domain);
  return d ? `the email address "${printable(address)}" has an invalid domain` : undefined;
}

const URI_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/;

/** RFC 5280 §4.2.1.6: an absolute URI (RFC 3986) with a scheme and a scheme-specific part. */
export function uriProblem(uri: string): string | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.+)$/s.exec(uri);
  if (!m) return `"${printable(uri)}" is not an absolute URI (scheme:rest)`;
  if (!URI_CHARS.test(uri)) return `the URI "${printable(uri)}" has characters RFC 3986 does not allow unencoded`;
  if (/%(?![0-9A-Fa-f]{2})/.test(uri)) return `the URI "${printable(uri)}" has an invalid percent-encoding`;
  const rest = m[2]!;
  if (rest.startsWith('//')) {
    const authority = rest.slice(2).split(/[/?#]/)[0]!;
    const host = authority.replace(/^[^@]*@/, '').replace(/:\d*$/, '');
    if (host === '') return `the URI "${printable(uri)}" has an empty host`;
  }
  return undefined;
}

/** A name quoted in a reason: control characters shown as \xNN, at most 80 characters. */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  const shown = s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return shown.length > 80 ? `${shown.slice(0, 80)}…` : shown;
}

const GN = { rfc822Name: 0x81, dNSName: 0x82, uri: 0x86, iPAddress: 0x87 } as const;

/**
 * RFC 5280 §4.2.1.6: GeneralNames in DER, each dNSName, rfc822Name and URI an IA5String of its
 * syntax, each iPAddress 4 or 16 octets. Other name forms pass here (the profile decides).
 */
export function generalNamesDerProblem(der: Buffer): string | undefined {
  try {
    const top = strictTlv(der, 0, der.length);
    if (top.end !== der.length || top.tag !== TAG.SEQUENCE) return 'the requested subjectAltName is not a SEQUENCE OF GeneralName';
    for (const gn of strictChildren(der, top)) {
      const bytes = der.subarray(gn.valueStart, gn.end);
      switch (gn.tag) {
        case GN.iPAddress:
          if (bytes.length !== 4 && bytes.length !== 16) return `an IP address in subjectAltName is ${bytes.length} bytes (4 or 16)`;
          break;
        case GN.dNSName:
        case GN.rfc822Name:
        case GN.uri: {
          if (bytes.some((b) => b > 0x7f)) return 'a DNS, email or URI name in subjectAltName is not ASCII (IA5String; IDNs as xn-- A-labels)';
          const text = bytes.toString('latin1');
          const problem = gn.tag === GN.dNSName ? dnsNameProblem(text) : gn.tag === GN.rfc822Name ? emailProblem(text) : uriProblem(text);
          if (problem) return problem;
          break;
        }
        default:
          break;
      }
    }
    return undefined;
  } catch (err) {
    return `the requested subjectAltName is not valid DER: ${(err as Error).message}`;
  }
}

/** Text renderings of /csrattrs values for people (estuary client csrattrs), OIDs by name. */
import { children, decodeOid, readTop, TAG, value, type Tlv } from '../pki/der.js';
import { generalNameToString, nameToString, parseGeneralNames } from '../pki/names.js';
import { OID, oidName } from '../pki/oids.js';

const STRING_TAGS = new Set([0x0c, 0x12, 0x13, 0x14, 0x16, 0x1a, 0x1c, 0x1e]);

/** The text of a DirectoryString-like TLV (UTF8, Printable, IA5, T61, BMP…), or undefined. */
export function stringValue(tlvDer: Buffer): string | undefined {
  const t = readTop(tlvDer);
  if (!STRING_TAGS.has(t.tag)) return undefined;
  const raw = value(tlvDer, t);
  if (t.tag === 0x1e) return Buffer.from(raw).swap16().toString('utf16le');
  return raw.toString(t.tag === 0x14 ? 'latin1' : 'utf8');
}

/** A small non-negative INTEGER TLV as a number, or undefined. */
export function integerValue(tlvDer: Buffer): number | undefined {
  const t = readTop(tlvDer);
  if (t.tag !== TAG.INTEGER) return undefined;
  const raw = value(tlvDer, t);
  if (raw.length === 0 || raw.length > 6 || raw[0]! & 0x80) return undefined;
  return raw.readUIntBE(0, raw.length);
}

/** One attribute value: an OID by name, an INTEGER in decimal, a string as is, else hex. */
export function attrValueText(tlvDer: Buffer): string {
  const t = readTop(tlvDer);
  if (t.tag === TAG.OID) return oidName(decodeOid(value(tlvDer, t)));
  const n = integerValue(tlvDer);
  if (n !== undefined) return String(n);
  const s = stringValue(tlvDer);
  if (s !== undefined) return JSON.stringify(s);
  return `hex:${tlvDer.toString('hex')}`;
}

const KEY_USAGE = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

const TO_FILL = '<to be filled in by the client>';

function extnValueText(id: string, v: Buffer): string {
  switch (id) {
    case OID.subjectAltName:
      return children(v, readTop(v)).map((n) => generalNameText(v, n)).join(', ');
    case OID.keyUsage: {
      const bits = value(v, readTop(v)).subarray(1);
      return KEY_USAGE.filter((_, i) => (bits[i >> 3] ?? 0) & (0x80 >> (i & 7))).join(', ');
    }
    case OID.extKeyUsage:
      return children(v, readTop(v)).map((o) => oidName(decodeOid(value(v, o)))).join(', ');
    case OID.basicConstraints: {
      const parts = children(v, readTop(v));
      return parts[0]?.tag === TAG.BOOLEAN && v[parts[0].valueStart] !== 0 ? 'CA:true' : 'CA:false';
    }
    case OID.subjectDirectoryAttributes:
      return children(v, readTop(v))
        .map((a) => {
          const [type] = children(v, a);
          return type?.tag === TAG.OID ? oidName(decodeOid(value(v, type))) : '?';
        })
        .join(', ');
    default:
      return `hex:${v.toString('hex')}`;
  }
}

/** One GeneralName (RFC 5280 §4.2.1.6); RFC 9908 placeholders (empty iPAddress, NULL-DN) shown as such. */
function generalNameText(der: Buffer, n: Tlv): string {
  const inner = value(der, n);
  switch (n.tag) {
    case 0x82:
      return `DNS:${inner.toString('latin1')}`;
    case 0x81:
      return `email:${inner.toString('latin1')}`;
    case 0x86:
      return `URI:${inner.toString('latin1')}`;
    case 0x87:
      if (inner.length === 0) return `IP:${TO_FILL}`;
      return generalNameToString(parseGeneralNames(Buffer.concat([Buffer.from([0x30, inner.length + 2]), der.subarray(n.start, n.end)]))[0]!);
    case 0xa4: {
      const [name] = children(der, n);
      if (!name || name.end - name.valueStart === 0) return `DirName:${TO_FILL}`;
      return `DirName:${nameToString(Buffer.from(der.subarray(name.start, name.end)))}`;
    }
    case 0xa0: {
      const [typeId] = children(der, n);
      return `otherName:${typeId?.tag === TAG.OID ? oidName(decodeOid(value(der, typeId))) : '?'}`;
    }
    default:
      return `[${n.tag & 0x1f}]:hex:${inner.toString('hex')}`;
  }
}

/** An Extensions value (or ExtensionReqTemplate; or a bare OID, as in RFC 7030's own example) as one line per extension. */
export function extensionsText(der: Buffer): string[] {
  const top = readTop(der);
  if (top.tag !== TAG.SEQUENCE) return [attrValueText(der)];
  return children(der, top).map((ext) => {
    if (ext.tag === TAG.OID) return oidName(decodeOid(value(der, ext)));
    const parts = children(der, ext);
    const id = decodeOid(value(der, parts[0]!));
    const critical = parts.some((p) => p.tag === TAG.BOOLEAN && der[p.valueStart] !== 0);
    const extnValue = parts.find((p) => p.tag === TAG.OCTET_STRING);
    let text = TO_FILL;
    if (extnValue) {
      const v = Buffer.from(value(der, extnValue));
      try {
        text = extnValueText(id, v);
      } catch {
        text = `hex:${v.toString('hex')}`;
      }
    }
    return `${oidName(id)}${critical ? ' (critical)' : ''}: ${text}`;
  });
}

/** An RFC 9908 CertificationRequestInfoTemplate, one line per requirement. */
export function templateText(der: Buffer): string[] {
  const lines: string[] = [];
  for (const part of children(der, readTop(der)).slice(1)) {
    if (part.tag === TAG.SEQUENCE) {
      const rdns = children(der, part).flatMap((rdn) =>
        children(der, rdn).map((atv) => {
          const [type, v] = children(der, atv);
          const short = oidName(decodeOid(value(der, type!)));
          return `${short}=${v ? (stringValue(Buffer.from(der.subarray(v.start, v.end))) ?? '?') : TO_FILL}`;
        }),
      );
      lines.push(`subject: ${rdns.join(', ')}`);
    } else if (part.tag === 0xa0) {
      const [spki] = children(der, part);
      const [alg, bits] = children(der, spki!);
      const algParts = children(der, alg!);
      const algName = oidName(decodeOid(value(der, algParts[0]!)));
      const param = algParts[1]?.tag === TAG.OID ? ` ${oidName(decodeOid(value(der, algParts[1])))}` : '';
      let size = '';
      if (bits) {
        const key = value(der, bits).subarray(1);
        const [n] = children(key, readTop(key));
        const m = value(key, n!);
        let i = 0;
        while (i < m.length - 1 && m[i] === 0) i++;
        size = ` ${(m.length - i) * 8 - (Math.clz32(m[i]!) - 24)} bits`;
      }
      lines.push(`key: ${algName}${param}${size}`);
    } else if (part.tag === 0xa1) {
      for (const attr of children(der, part)) {
        const [typeTlv, valuesTlv] = children(der, attr);
        const type = decodeOid(value(der, typeTlv!));
        const values = children(der, valuesTlv!).map((v) => Buffer.from(der.subarray(v.start, v.end)));
        if (type === OID.extensionRequest || type === OID.extensionReqTemplate) {
          for (const v of values) for (const line of extensionsText(v)) lines.push(`extension ${line}`);
        } else {
          lines.push(`attribute ${oidName(type)}${values.length ? `: ${values.map(attrValueText).join(', ')}` : ''}`);
        }
      }
    }
  }
  return lines;
}

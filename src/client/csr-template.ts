/**
 * What a server's /csrattrs asks the client to put in its CSR (RFC 7030 §4.5.2, RFC 8951 §4,
 * RFC 9908). Two forms:
 * - the RFC 7030 list: bare OIDs (challengePassword → PoP linking expected; a signature algorithm →
 *   its hash; a key algorithm or a subject attribute type → wanted) and Attributes (ecPublicKey with
 *   curve OIDs, rsaEncryption with the modulus size, extensionRequest with Extensions to include);
 * - the RFC 9908 CertificationRequestInfoTemplate, which when present replaces everything else
 *   (RFC 9908 §4: "Clients which understand both MUST use the template only").
 * RFC 8951 §4: what we cannot recognize is not an error; it is reported in `unsupported`.
 */
import { CURVES as ALL_CURVES, HASH_ALGORITHMS, SIGNATURE_ALGORITHMS as ALL_SIGNATURE_ALGORITHMS } from '../pki/algorithms.js';
import type { CsrHash, CsrSans } from '../pki/csr-builder.js';
import type { AttrOrOid } from '../pki/csr-attrs.js';
import { extension } from '../pki/certificate.js';
import { children, decodeOid, readTop, TAG, value, type Tlv } from '../pki/der.js';
import { OID, oidName } from '../pki/oids.js';
import { isClientKeyType, type ClientKeyType } from './keys.js';
import { attrValueText, extensionsText, integerValue, stringValue, templateText } from './csr-attrs-text.js';

export interface CsrTemplate {
  /** RFC 7030 §3.5: the server expects proof-of-possession linking in challengePassword. */
  challengePassword: boolean;
  keyType?: ClientKeyType;
  hash?: CsrHash;
  /** Encoded Extension TLVs the server requires as given (put them in CsrInput.extraExtensions). */
  extensions: Buffer[];
  /** Dotted OIDs of what the server asks for and this client cannot fill (e.g. macAddress, secp521r1). */
  unsupported: string[];
  /**
   * Subject attributes the server asks for, in order: `value` set = the server fixed it (RFC 9908
   * template), absent = the client supplies it (e.g. a bare serialNumber OID).
   */
  subject: { type: string; value?: string }[];
  /**
   * Present when the server wants a subjectAltName the client completes (a bare subjectAltName OID,
   * or an RFC 9908 template SAN with empty placeholders): the names in it are fixed by the server and
   * go into the SAN next to the client's own.
   */
  sans?: CsrSans;
  /** The answer held an RFC 9908 CertificationRequestInfoTemplate, and only it was used. */
  fromTemplate: boolean;
}

const NAME_ATTRIBUTE_TYPES = new Set<string>([
  OID.commonName, OID.serialNumber, OID.countryName, OID.localityName, OID.stateOrProvinceName,
  OID.organizationName, OID.organizationalUnitName, OID.emailAddress,
]);

// From the one algorithm table (pki/algorithms.ts): ECDSA and RSA signature algorithms (Ed25519 is a key type here),
// the hash OIDs, and the curves of the client's key types (P-256, P-384).
const SIGNATURE_ALGORITHMS: Record<string, { family: 'ec' | 'rsa'; hash: CsrHash }> = Object.fromEntries(
  ALL_SIGNATURE_ALGORITHMS.flatMap((a) => (a.keyType === 'ed25519' || a.hash === null ? [] : [[a.oid, { family: a.keyType, hash: a.hash }]])),
);

const HASHES: Record<string, CsrHash> = Object.fromEntries(HASH_ALGORITHMS.map((h) => [h.oid, h.hash]));

const CURVES: Record<string, ClientKeyType> = Object.fromEntries(
  ALL_CURVES.flatMap((c) => {
    const type = `ec-p${c.name.slice(2)}`;
    return isClientKeyType(type) ? [[c.oid, type]] : [];
  }),
);

/** An RSA size rounded up to the next size we generate; undefined above 4096. */
function rsaKeyType(bits: number): ClientKeyType | undefined {
  if (bits <= 2048) return 'rsa-2048';
  if (bits <= 3072) return 'rsa-3072';
  if (bits <= 4096) return 'rsa-4096';
  return undefined;
}

/** Collects what a csrattrs answer asks for; `finish` resolves key type and hash. */
class Collector {
  readonly t: CsrTemplate = { challengePassword: false, extensions: [], unsupported: [], subject: [], fromTemplate: false };
  /** A key requirement was stated (even one we cannot meet): do not guess one from a signature algorithm. */
  keyStated = false;
  signatureAlgorithms: { family: 'ec' | 'rsa'; hash: CsrHash }[] = [];
  directHash: CsrHash | undefined;

  unsupported(oid: string): void {
    if (!this.t.unsupported.includes(oid)) this.t.unsupported.push(oid);
  }

  key(type: ClientKeyType | undefined, oidIfUnsupported: string): void {
    if (this.keyStated && this.t.keyType) return; // the first stated key wins
    this.keyStated = true;
    if (type) this.t.keyType = type;
    else this.unsupported(oidIfUnsupported);
  }

  wantSans(): CsrSans {
    return (this.t.sans ??= {});
  }

  /** A bare OID, at top level or as a value of a non-conforming extensionRequest (RFC 7030's own example). */
  bareOid(oid: string): void {
    if (oid === OID.challengePassword) this.t.challengePassword = true;
    else if (oid === OID.extensionRequest) return; // an extensionRequest attribute will be sent when there are extensions
    else if (oid === OID.ecPublicKey) this.key('ec-p256', oid);
    else if (oid === OID.rsaEncryption) this.key('rsa-2048', oid);
    else if (oid === OID.ed25519) this.key('ed25519', oid);
    else if (CURVES[oid]) this.key(CURVES[oid], oid);
    else if (SIGNATURE_ALGORITHMS[oid]) this.signatureAlgorithms.push(SIGNATURE_ALGORITHMS[oid]!);
    else if (HASHES[oid]) this.directHash ??= HASHES[oid];
    else if (NAME_ATTRIBUTE_TYPES.has(oid)) this.t.subject.push({ type: oid });
    else if (oid === OID.subjectAltName) this.wantSans();
    else this.unsupported(oid);
  }

  /** RFC 9908 §3.2: an extensionRequest attribute's value is one Extensions (SEQUENCE OF Extension). */
  extensionRequestValue(der: Buffer): void {
    const top = readTop(der);
    if (top.tag === TAG.OID) return this.bareOid(decodeOid(value(der, top)));
    if (top.tag !== TAG.SEQUENCE) return this.unsupported(OID.extensionRequest);
    for (const ext of children(der, top)) {
      if (ext.tag === TAG.OID) {
        this.bareOid(decodeOid(value(der, ext)));
        continue;
      }
      const parts = ext.tag === TAG.SEQUENCE ? children(der, ext) : [];
      const id = parts[0]?.tag === TAG.OID ? decodeOid(value(der, parts[0])) : undefined;
      const last = parts[parts.length - 1];
      if (!id || ext.tag !== TAG.SEQUENCE || last?.tag !== TAG.OCTET_STRING) {
        this.unsupported(id ?? OID.extensionRequest);
        continue;
      }
      this.t.extensions.push(Buffer.from(der.subarray(ext.start, ext.end)));
    }
  }

  attribute(type: string, values: Buffer[]): void {
    switch (type) {
      case OID.challengePassword:
        this.t.challengePassword = true;
        return;
      case OID.extensionRequest:
        for (const v of values) this.extensionRequestValue(v);
        return;
      case OID.ecPublicKey: {
        // RFC 9908 §4.1 examples: the curve(s) the key must be on
        const oids = values.flatMap((v) => {
          const t = readTop(v);
          return t.tag === TAG.OID ? [decodeOid(value(v, t))] : [];
        });
        const supported = oids.find((o) => CURVES[o]);
        return this.key(supported ? CURVES[supported] : oids.length === 0 ? 'ec-p256' : undefined, oids[0] ?? type);
      }
      case OID.rsaEncryption: {
        // RFC 9908 §4.3 example: the modulus size as an INTEGER
        const bits = values.map(integerValue).find((n): n is number => n !== undefined);
        return this.key(bits === undefined ? 'rsa-2048' : rsaKeyType(bits), type);
      }
      case OID.certificationRequestInfoTemplate:
        return; // handled before the other items
      default:
        if (SIGNATURE_ALGORITHMS[type] || HASHES[type] || type === OID.ed25519) return this.bareOid(type);
        if (NAME_ATTRIBUTE_TYPES.has(type)) {
          const v = values[0] ? stringValue(values[0]) : undefined;
          this.t.subject.push(v === undefined ? { type } : { type, value: v });
          return;
        }
        this.unsupported(type);
    }
  }

  finish(): CsrTemplate {
    const t = this.t;
    if (!t.keyType && !this.keyStated && this.signatureAlgorithms[0]) {
      // Only a signature algorithm was given: it implies the key family.
      const s = this.signatureAlgorithms[0];
      t.keyType = s.family === 'rsa' ? 'rsa-2048' : s.hash === 'sha256' ? 'ec-p256' : 'ec-p384';
    }
    const family = t.keyType?.startsWith('rsa') ? 'rsa' : t.keyType?.startsWith('ec') ? 'ec' : undefined;
    const sig = this.signatureAlgorithms.find((s) => s.family === family) ?? (family ? undefined : this.signatureAlgorithms[0]);
    if (t.keyType !== 'ed25519') {
      const hash = sig?.hash ?? this.directHash;
      if (hash) t.hash = hash;
    }
    return t;
  }
}

/** Read an RFC 9908 CertificationRequestInfoTemplate into the collector; false when it is not one we understand. */
function readTemplate(der: Buffer, c: Collector): boolean {
  const top = readTop(der);
  if (top.tag !== TAG.SEQUENCE) return false;
  const parts = children(der, top);
  const version = parts[0];
  if (!version || version.tag !== TAG.INTEGER || integerValue(der.subarray(version.start, version.end)) !== 0) return false;
  for (const part of parts.slice(1)) {
    if (part.tag === TAG.SEQUENCE) templateSubject(der, part, c);
    else if (part.tag === 0xa0) templateKey(der, part, c);
    else if (part.tag === 0xa1) {
      for (const attr of children(der, part)) {
        const [typeTlv, valuesTlv] = children(der, attr);
        if (typeTlv?.tag !== TAG.OID || valuesTlv?.tag !== TAG.SET) continue;
        const type = decodeOid(value(der, typeTlv));
        const values = children(der, valuesTlv).map((v) => Buffer.from(der.subarray(v.start, v.end)));
        if (type === OID.extensionReqTemplate) values.forEach((v) => templateExtensions(v, c));
        else c.attribute(type, values);
      }
    }
  }
  c.t.fromTemplate = true;
  return true;
}

/** NameTemplate: RDNs whose values may be absent (to be filled in by the client). */
function templateSubject(der: Buffer, name: Tlv, c: Collector): void {
  for (const rdn of children(der, name)) {
    for (const atv of children(der, rdn)) {
      const [typeTlv, valueTlv] = children(der, atv);
      if (typeTlv?.tag !== TAG.OID) continue;
      const type = decodeOid(value(der, typeTlv));
      const v = valueTlv ? stringValue(Buffer.from(der.subarray(valueTlv.start, valueTlv.end))) : undefined;
      c.t.subject.push(v === undefined ? { type } : { type, value: v });
    }
  }
}

/** SubjectPublicKeyInfoTemplate: the key algorithm, and for RSA a dummy key of the wanted size. */
function templateKey(der: Buffer, tagged: Tlv, c: Collector): void {
  const [spki] = children(der, tagged);
  if (!spki) return;
  const [alg, bits] = children(der, spki);
  const algParts = alg ? children(der, alg) : [];
  if (algParts[0]?.tag !== TAG.OID) return;
  const algOid = decodeOid(value(der, algParts[0]));
  const param = algParts[1]?.tag === TAG.OID ? decodeOid(value(der, algParts[1])) : undefined;
  if (algOid === OID.ecPublicKey) return c.key(param ? CURVES[param] : 'ec-p256', param ?? algOid);
  if (algOid === OID.rsaEncryption) {
    let size = 2048;
    if (bits?.tag === TAG.BIT_STRING) {
      const rsaKey = value(der, bits).subarray(1);
      const [n] = children(rsaKey, readTop(rsaKey));
      if (n?.tag === TAG.INTEGER) {
        const m = value(rsaKey, n);
        let i = 0;
        while (i < m.length - 1 && m[i] === 0) i++;
        size = (m.length - i) * 8 - (Math.clz32(m[i]!) - 24);
      }
    }
    return c.key(rsaKeyType(size), algOid);
  }
  if (algOid === OID.ed25519) return c.key('ed25519', algOid);
  c.key(undefined, algOid);
}

/** ExtensionReqTemplate: Extensions whose extnValue may be absent (to be filled in by the client). */
function templateExtensions(der: Buffer, c: Collector): void {
  const top = readTop(der);
  if (top.tag !== TAG.SEQUENCE) return c.unsupported(OID.extensionReqTemplate);
  for (const ext of children(der, top)) {
    const parts = children(der, ext);
    if (parts[0]?.tag !== TAG.OID) continue;
    const id = decodeOid(value(der, parts[0]));
    const critical = parts.some((p) => p.tag === TAG.BOOLEAN && der[p.valueStart] !== 0);
    const extnValue = parts.find((p) => p.tag === TAG.OCTET_STRING);
    if (id === OID.subjectAltName) {
      if (!extnValue) {
        c.wantSans();
        continue;
      }
      const v = value(der, extnValue);
      const partial = partialSans(v);
      if (partial === 'complete') c.t.extensions.push(extension(id, critical, Buffer.from(v)));
      else if (partial) Object.assign(c.wantSans(), partial);
      else c.unsupported(id);
      continue;
    }
    // RFC 9908 §4: a given extnValue is required as is; an absent one is the client's to fill, which we cannot
    if (extnValue) c.t.extensions.push(extension(id, critical, Buffer.from(value(der, extnValue))));
    else c.unsupported(id);
  }
}

/**
 * A template SAN: 'complete' when it has no placeholders (use as given); the fixed names when it
 * has placeholders (an empty iPAddress or a NULL-DN directoryName, RFC 9908 §4) and only names we
 * can carry in CsrSans; undefined otherwise.
 */
function partialSans(gn: Buffer): CsrSans | 'complete' | undefined {
  const top = readTop(gn);
  const sans: Required<CsrSans> = { dns: [], ip: [], email: [], uri: [] };
  let placeholders = 0;
  let other = 0;
  for (const n of children(gn, top)) {
    const v = value(gn, n);
    const empty = n.tag === 0x87 ? v.length === 0 : n.tag === 0xa4 ? v.length === 2 && v[0] === 0x30 : false;
    if (empty) placeholders++;
    else if (n.tag === 0x82) sans.dns.push(v.toString('latin1'));
    else if (n.tag === 0x81) sans.email.push(v.toString('latin1'));
    else if (n.tag === 0x86) sans.uri.push(v.toString('latin1'));
    else if (n.tag === 0x87 && (v.length === 4 || v.length === 16)) sans.ip.push(ipText(v));
    else other++;
  }
  if (placeholders === 0) return 'complete';
  return other === 0 ? sans : undefined;
}

function ipText(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(':');
}

/** Interpret a decoded /csrattrs answer (decodeCsrAttrs). */
export function csrTemplate(attrs: AttrOrOid[]): CsrTemplate {
  for (const item of attrs) {
    if ('type' in item && item.type === OID.certificationRequestInfoTemplate) {
      for (const v of item.values) {
        const c = new Collector();
        try {
          if (readTemplate(v, c)) return c.finish();
        } catch {
          // a template we cannot read: fall back to the RFC 7030 items
        }
      }
    }
  }
  const c = new Collector();
  for (const item of attrs) {
    try {
      if ('oid' in item) c.bareOid(item.oid);
      else c.attribute(item.type, item.values);
    } catch {
      c.unsupported('oid' in item ? item.oid : item.type);
    }
  }
  const t = c.finish();
  if (attrs.some((a) => 'type' in a && a.type === OID.certificationRequestInfoTemplate)) c.unsupported(OID.certificationRequestInfoTemplate);
  return t;
}

/** The items of a /csrattrs answer for display: OID, name, and each value rendered as text. */
export function describeCsrAttrs(attrs: AttrOrOid[]): { oid: string; name: string; values?: string[] }[] {
  return attrs.map((item) => {
    if ('oid' in item) return { oid: item.oid, name: oidName(item.oid) };
    const values = item.values.flatMap((v): string[] => {
      try {
        if (item.type === OID.extensionRequest || item.type === OID.extensionReqTemplate) return extensionsText(v);
        if (item.type === OID.certificationRequestInfoTemplate) return templateText(v);
        return [attrValueText(v)];
      } catch {
        return [`(undecodable) ${v.toString('hex')}`];
      }
    });
    return { oid: item.type, name: oidName(item.type), values };
  });
}

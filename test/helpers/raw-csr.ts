/** CSRs with hand-made subjects, SANs and attributes (src/pki/csr-builder.ts takes a DER Name byte for byte). */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { extension } from '../../src/pki/certificate.js';
import { buildCsr, type CsrSans } from '../../src/pki/csr-builder.js';
import { oid, seq, set, TAG, tlv } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';

export interface RawCsrOptions {
  subject: Buffer | string;
  sans?: CsrSans;
  /** A GeneralNames DER used as the subjectAltName extnValue as is. */
  rawSan?: Buffer;
  attributes?: { type: string; values: Buffer[] }[];
  keys?: { privateKey: KeyObject; publicKey: KeyObject };
}

export function newKeys(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

export function rawCsr(o: RawCsrOptions): Buffer {
  const keys = o.keys ?? newKeys();
  return buildCsr({
    ...keys,
    subject: o.subject,
    ...(o.sans ? { sans: o.sans } : {}),
    ...(o.rawSan ? { extraExtensions: [extension(OID.subjectAltName, false, o.rawSan)] } : {}),
    ...(o.attributes ? { extraAttributes: o.attributes } : {}),
  });
}

/** One attribute as an RDN: SET { SEQUENCE { type, value } }. */
export const rdn = (type: string, value: Buffer): Buffer => set(seq(oid(type), value));
export const utf8 = (s: string | Buffer): Buffer => tlv(TAG.UTF8String, typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
export const printable = (s: string): Buffer => tlv(TAG.PrintableString, Buffer.from(s, 'latin1'));
export const ia5 = (s: string): Buffer => tlv(TAG.IA5String, Buffer.from(s, 'latin1'));
export const cn = (s: string): Buffer => rdn(OID.commonName, utf8(s));

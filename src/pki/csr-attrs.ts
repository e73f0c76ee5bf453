/**
 * CsrAttrs (RFC 7030 §4.5.2, clarified by RFC 8951 §4):
 *   CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID
 *   AttrOrOID ::= CHOICE { oid OBJECT IDENTIFIER, attribute Attribute }
 *   Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET SIZE(1..MAX) OF ANY }
 */
import { children, decodeOid, DerError, expectTag, oid, readTop, seq, seqOf, setOf, slice, TAG, value } from './der.js';

export type AttrOrOid = { oid: string } | { type: string; values: Buffer[] };

export function encodeCsrAttrs(items: readonly AttrOrOid[]): Buffer {
  return seqOf(items.map((item) => ('oid' in item ? oid(item.oid) : seq(oid(item.type), setOf(item.values)))));
}

export function decodeCsrAttrs(der: Buffer): AttrOrOid[] {
  const top = expectTag(readTop(der), TAG.SEQUENCE, 'CsrAttrs');
  return children(der, top).map((item): AttrOrOid => {
    if (item.tag === TAG.OID) return { oid: decodeOid(value(der, item)) };
    if (item.tag !== TAG.SEQUENCE) throw new DerError('CsrAttrs: expected OID or Attribute');
    const [type, values] = children(der, item);
    return {
      type: decodeOid(value(der, expectTag(type, TAG.OID, 'attribute type'))),
      values: children(der, expectTag(values, TAG.SET, 'attribute values')).map((v) => Buffer.from(slice(der, v))),
    };
  });
}

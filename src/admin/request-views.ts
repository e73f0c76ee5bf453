/**
 * Held requests as the Web RA shows them: the list item (with the four-eyes state and the
 * overlap warnings) and the detail view, which decodes the CSR as it was sent (RFC 2986): subject,
 * key, signature algorithm, every extension requested, and whether a challengePassword is present
 * (never its value: it may be a one-time secret or the TLS channel binding, RFC 7030 §3.5).
 */
import { children, decodeOid, readTop, TAG, value } from '../pki/der.js';
import { parseCsr, type PublicKeyInfo } from '../pki/csr.js';
import { generalNameToString, nameToString, parseGeneralNames } from '../pki/names.js';
import { OID, oidName } from '../pki/oids.js';
import type { ApprovalsRequired, PendingRequest } from '../ra/model.js';
import { describeKey } from '../ra/profile-policy.js';
import type { RequestWarning } from '../ra/request-overlaps.js';
import { requestView } from './views.js';

const KEY_USAGE_NAMES = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

/** A requested extension's value in words, for the extensions an officer checks; hex for the rest. */
function describeExtension(oid: string, v: Buffer): string[] {
  switch (oid) {
    case OID.subjectAltName:
      return parseGeneralNames(v).map(generalNameToString);
    case OID.keyUsage: {
      // RFC 5280 §4.2.1.3: a BIT STRING, first octet the unused bits
      const bits = value(v, readTop(v));
      return KEY_USAGE_NAMES.filter((_, i) => ((bits[1 + (i >> 3)] ?? 0) & (0x80 >> (i & 7))) !== 0);
    }
    case OID.extKeyUsage:
      return children(v, readTop(v)).map((t) => oidName(decodeOid(value(v, t))));
    case OID.basicConstraints: {
      const parts = children(v, readTop(v));
      const ca = parts.some((t) => t.tag === TAG.BOOLEAN && value(v, t)[0] !== 0);
      const len = parts.find((t) => t.tag === TAG.INTEGER);
      return [ca ? `CA${len ? `, path length ${value(v, len).readUIntBE(0, value(v, len).length)}` : ''}` : 'not a CA'];
    }
    default:
      return [v.length <= 32 ? v.toString('hex') : `${v.subarray(0, 32).toString('hex')}… (${v.length} bytes)`];
  }
}

function keyView(key: PublicKeyInfo) {
  return { algorithm: key.type, bits: key.bits, curve: key.type === 'ec' ? key.curve : null, description: describeKey(key) };
}

/** The CSR decoded; `error` instead when it cannot be (the stored bytes are what the client sent). */
export function csrView(der: Buffer) {
  try {
    const csr = parseCsr(der);
    const extensions = [...csr.requestedExtensions].map(([oid, v]) => {
      let values: string[];
      try {
        values = describeExtension(oid, v);
      } catch {
        values = [`(undecodable, ${v.length} bytes)`];
      }
      return { oid, name: oidName(oid), values };
    });
    const san = csr.requestedExtensions.get(OID.subjectAltName);
    return {
      subject: nameToString(csr.subject),
      sans: san ? parseGeneralNames(san).map(generalNameToString) : [],
      key: keyView(csr.key),
      signatureAlgorithm: oidName(csr.signatureAlgorithm),
      extensions,
      attributes: csr.attributeTypes.map(oidName),
      challengePassword: csr.challengePassword !== undefined,
      error: null,
    };
  } catch (err) {
    return { error: `the stored CSR cannot be decoded: ${(err as Error).message}` };
  }
}

/** The list item: the stored summary, the four-eyes state, the warnings. */
export function requestItemView(r: PendingRequest, now: Date, approvals: ApprovalsRequired, warnings: readonly RequestWarning[]) {
  return {
    ...requestView(r, now),
    approvalsRequired: approvals,
    firstApproval: r.firstApproval ? { by: r.firstApproval.by, at: r.firstApproval.at.toISOString() } : null,
    warnings,
  };
}

/** The detail view: the list item, where the request came from, and the decoded CSR. */
export function requestDetailView(r: PendingRequest, now: Date, approvals: ApprovalsRequired, warnings: readonly RequestWarning[]) {
  return {
    ...requestItemView(r, now, approvals, warnings),
    clientAddress: r.clientAddress,
    authMethod: r.authMethod,
    clientCertificate: r.clientCertificate,
    account: r.authMethod === 'basic' || r.authMethod === 'basic+tls-client-cert' ? r.requester : null,
    csr: csrView(r.csr),
  };
}

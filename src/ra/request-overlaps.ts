/**
 * Warnings for an officer deciding held requests: another request for the same subject or key is
 * already waiting (pending, or approved and not yet collected), or a valid certificate already has
 * that subject or key. A certificate's key is compared by the SHA-256 of its SubjectPublicKeyInfo,
 * as a request's keyId is (ra/approval.ts).
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { CertificateRecord, PendingRequest } from './model.js';

export type OverlapKind = 'pending-subject' | 'pending-key' | 'valid-subject' | 'valid-key';

export interface RequestWarning {
  kind: OverlapKind;
  message: string;
  /** The other request. */
  requestId?: number;
  /** The valid certificate. */
  serial?: string;
}

function keyIdOf(c: CertificateRecord): string | undefined {
  try {
    return createHash('sha256').update(new X509Certificate(c.der).publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
  } catch {
    return undefined; // an unreadable certificate cannot be compared by key
  }
}

/** Warnings per request id, for the requests still pending (decided ones have none). */
export async function requestWarnings(store: Store, requests: readonly PendingRequest[], now: Date): Promise<Map<number, RequestWarning[]>> {
  const open = requests.filter((r) => r.status === 'pending');
  const warnings = new Map<number, RequestWarning[]>(requests.map((r) => [r.id, []]));
  if (open.length === 0) return warnings;
  const found = await store.findRequestOverlaps([...new Set(open.map((r) => r.subject))], [...new Set(open.map((r) => r.keyId))], now);
  const certKeys = new Map(found.certificates.map((c) => [c.serial, keyIdOf(c)]));
  for (const r of open) {
    const list = warnings.get(r.id)!;
    for (const other of found.requests) {
      if (other.id === r.id || (other.status === 'pending' && now > other.expiresAt)) continue;
      const state = other.status === 'approved' ? 'approved, not yet collected' : 'pending';
      if (other.subject === r.subject) list.push({ kind: 'pending-subject', requestId: other.id, message: `request ${other.id} for the same subject (${r.subject}) is ${state}` });
      if (other.keyId === r.keyId) list.push({ kind: 'pending-key', requestId: other.id, message: `request ${other.id} for the same key is ${state}` });
    }
    for (const c of found.certificates) {
      const until = c.notAfter.toISOString().slice(0, 10);
      if (c.subject === r.subject) list.push({ kind: 'valid-subject', serial: c.serial, message: `certificate ${c.serial} for the same subject is valid until ${until}` });
      if (certKeys.get(c.serial) === r.keyId) list.push({ kind: 'valid-key', serial: c.serial, message: `certificate ${c.serial} certifies the same key and is valid until ${until}` });
    }
  }
  return warnings;
}

/**
 * Keeps each CA's CRL current (RFC 5280 §5): regenerated when the set of revoked certificates
 * changes (whichever process revoked) and before half its validity has passed, so a relying
 * party never sees one past nextUpdate.
 */
import { issuesCrls, type CaBackend } from '../ca/ca-backend.js';
import { isCrlReason, type RevokedEntry } from '../pki/crl.js';
import type { Store } from '../store/store.js';

export interface CrlService {
  /** The current DER CRL of a CA, or undefined when no such CA signs CRLs. */
  current(caId: string): Promise<Buffer | undefined>;
}

export interface CrlServiceOptions {
  store: Store;
  cas: ReadonlyMap<string, CaBackend>;
  now: () => Date;
  validityHours: number;
}

interface Cached {
  der: Buffer;
  stamp: string;
  refreshAt: number;
}

export function createCrlService(o: CrlServiceOptions): CrlService {
  const cache = new Map<string, Cached>();
  return {
    async current(caId) {
      const ca = o.cas.get(caId);
      if (!ca || !issuesCrls(ca)) return undefined;
      const revoked: RevokedEntry[] = (await o.store.listRevoked(caId)).map((r) => ({
        serialHex: r.serial,
        revokedAt: r.revokedAt,
        reason: isCrlReason(r.reason) ? r.reason : 'unspecified',
      }));
      const stamp = revoked.map((r) => `${r.serialHex}/${r.reason}`).join(',');
      const now = o.now();
      const hit = cache.get(caId);
      if (hit && hit.stamp === stamp && now.getTime() < hit.refreshAt) return hit.der;
      const validityMs = o.validityHours * 3_600_000;
      const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
      const der = ca.issueCrl(revoked, thisUpdate, new Date(thisUpdate.getTime() + validityMs));
      cache.set(caId, { der, stamp, refreshAt: thisUpdate.getTime() + validityMs / 2 });
      return der;
    },
  };
}

/**
 * Keeps each CA's CRL current (RFC 5280 §5): regenerated when the set of revoked certificates
 * changes (whichever process revoked) and before half its validity has passed, so a relying
 * party never sees one past nextUpdate.
 *
 * A fetch costs one indexed summary query (count and latest revocation) while nothing changed: the
 * signed CRL is kept until the revoked set changes or its refresh time comes. Fetches arriving
 * while a CRL is being signed wait for that one signature instead of starting their own.
 *
 * With delta CRLs on (RFC 5280 §5.2.4), the complete CRL is re-signed on its schedule only, and
 * the delta CRL lists what was revoked since, re-signed on every change.
 */
import { issuesCrls, type CaBackend, type CrlIssuer } from '../ca/ca-backend.js';
import { isCrlReason, type RevokedEntry } from '../pki/crl.js';
import type { RevocationSummary, Store } from '../store/store.js';
import { createRevokedSets } from './revoked-set.js';

export interface CrlService {
  /** The current complete DER CRL of a CA, or undefined when no such CA signs CRLs. */
  current(caId: string): Promise<Buffer | undefined>;
  /** True when this CA id exists and signs CRLs. */
  has(caId: string): boolean;
  /** The current delta CRL of a CA, or undefined when delta CRLs are off or no such CA signs CRLs. */
  currentDelta(caId: string): Promise<Buffer | undefined>;
  /**
   * Why a CA id has no CRL here, in words for the 404: no such CA, or a CA that keeps its own
   * revocation list (an upstream CA reached over EST, which has no revocation operation).
   */
  whyNone(caId: string): string;
}

export interface CrlServiceOptions {
  store: Store;
  cas: ReadonlyMap<string, CaBackend>;
  now: () => Date;
  validityHours: number;
  /**
   * RFC 5280 §3.3: leave out certificates whose validity ended, once they have appeared on a CRL
   * issued after their notAfter (an entry expired for longer than one CRL validity is left out).
   */
  omitExpired?: boolean;
  /** Publish delta CRLs valid this many hours; unset: no delta CRLs. */
  deltaValidityHours?: number;
  /** Where a CA's delta CRLs are published, for the complete CRL's freshestCRL (RFC 5280 §5.2.6). */
  deltaUrl?: (caId: string) => string | undefined;
}

interface Signed {
  der: Buffer;
  number: bigint;
  stamp: string;
  refreshAt: number;
}

interface Complete extends Signed {
  /** The serials listed, kept only when delta CRLs are computed against it. */
  serials: Set<string> | undefined;
}

interface Delta extends Signed {
  baseNumber: bigint;
}

export function createCrlService(o: CrlServiceOptions): CrlService {
  const validityMs = o.validityHours * 3_600_000;
  const deltaMs = o.deltaValidityHours === undefined ? undefined : o.deltaValidityHours * 3_600_000;
  const complete = new Map<string, Complete>();
  const deltas = new Map<string, Delta>();
  const signing = new Map<string, Promise<unknown>>();

  /** One signature per key at a time: callers arriving meanwhile share its result. */
  const once = <T>(key: string, make: () => Promise<T>): Promise<T> => {
    const running = signing.get(key);
    if (running) return running as Promise<T>;
    const p = make().finally(() => signing.delete(key));
    signing.set(key, p);
    return p;
  };

  const revokedSets = createRevokedSets(o.store);

  const summaryOf = async (caId: string): Promise<{ summary: RevocationSummary; stamp: string }> => {
    const summary = await o.store.revocationSummary(caId);
    return { summary, stamp: `${summary.count}/${summary.latest?.toISOString() ?? ''}` };
  };

  /** The entries of a CRL issued at thisUpdate, in CRL order. */
  const revokedFor = async (caId: string, summary: RevocationSummary, thisUpdate: Date): Promise<RevokedEntry[]> => {
    const omitBefore = o.omitExpired ? thisUpdate.getTime() - validityMs : -Infinity;
    const all = await revokedSets.get(caId, summary);
    const out: RevokedEntry[] = [];
    for (let i = 0; i < all.length; i++) {
      if (i > 0 && i % 16_384 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const r = all[i]!;
      if (r.notAfter.getTime() < omitBefore) continue;
      out.push({ serialHex: r.serial, revokedAt: r.revokedAt, reason: isCrlReason(r.reason) ? r.reason : 'unspecified' });
    }
    return out;
  };

  const secondStart = (now: Date): Date => new Date(Math.floor(now.getTime() / 1000) * 1000);

  /**
   * A CA rolled over (RFC 7030 §4.1.3) keeps a CRL per key: /crl/<id>.crl is its first key's,
   * /crl/<id>.g<n>.crl key n's. Every one lists the CA's revoked certificates (one issuer name,
   * one serial space); each is signed by its key, so a relying party checks it with that key.
   */
  const resolve = (name: string): { ca: CaBackend & CrlIssuer; caId: string; generation: number | undefined } | undefined => {
    const m = /^(.+)\.g(\d{1,3})$/.exec(name);
    const caId = m ? m[1]! : name;
    const ca = o.cas.get(caId);
    if (!ca || !issuesCrls(ca)) return undefined;
    const generation = m ? Number(m[2]) : undefined;
    if (generation !== undefined && (generation === 0 || !(ca.crlGenerations?.() ?? [0]).includes(generation))) return undefined;
    return { ca, caId, generation };
  };

  const completeCrl = async (name: string, { ca, caId, generation }: { ca: CrlIssuer; caId: string; generation: number | undefined }, { summary, stamp }: { summary: RevocationSummary; stamp: string }): Promise<Complete> => {
    const hit = complete.get(name);
    // With delta CRLs, changes go into the delta and the complete CRL follows its schedule.
    if (hit && o.now().getTime() < hit.refreshAt && (deltaMs !== undefined || hit.stamp === stamp)) return hit;
    return once(`complete:${name}`, async () => {
      const thisUpdate = secondStart(o.now());
      const revoked = await revokedFor(caId, summary, thisUpdate);
      // delta CRLs are published for the first key's CRL only
      const freshestCrlUrl = deltaMs === undefined || generation !== undefined ? undefined : o.deltaUrl?.(caId);
      const { der, number } = await ca.issueCrl({
        revoked, thisUpdate, nextUpdate: new Date(thisUpdate.getTime() + validityMs), ...(freshestCrlUrl ? { freshestCrlUrl } : {}),
        ...(generation !== undefined ? { generation } : {}),
      });
      const made: Complete = {
        der, number, stamp, refreshAt: thisUpdate.getTime() + validityMs / 2,
        serials: deltaMs === undefined ? undefined : new Set(revoked.map((r) => r.serialHex)),
      };
      complete.set(name, made);
      return made;
    });
  };

  return {
    whyNone(caId) {
      const ca = o.cas.get(caId);
      if (!ca) return `no CRL for CA "${caId}": there is no such CA`;
      if (!issuesCrls(ca)) {
        return `no CRL for CA "${caId}": it is an upstream CA reached over EST, which has no revocation operation; revocations recorded here are in no CRL, the upstream CA must revoke its certificates itself and publish its own CRL`;
      }
      return deltaMs === undefined ? `no delta CRL for CA "${caId}": delta CRLs are off` : `no CRL for CA "${caId}"`;
    },

    has(name) {
      return resolve(name) !== undefined;
    },

    async current(name) {
      const found = resolve(name);
      if (!found) return undefined;
      return (await completeCrl(name, found, await summaryOf(found.caId))).der;
    },

    async currentDelta(caId) {
      const ca = o.cas.get(caId);
      if (deltaMs === undefined || !ca || !issuesCrls(ca)) return undefined;
      const current = await summaryOf(caId);
      const { stamp } = current;
      const base = await completeCrl(caId, { ca, caId, generation: undefined }, current);
      const hit = deltas.get(caId);
      if (hit && hit.baseNumber === base.number && hit.stamp === stamp && o.now().getTime() < hit.refreshAt) return hit.der;
      return (await once(`delta:${caId}`, async () => {
        const thisUpdate = secondStart(o.now());
        // RFC 5280 §5.2.4: the certificates revoked since the complete CRL it names.
        const added = (await revokedFor(caId, current.summary, thisUpdate)).filter((r) => !base.serials!.has(r.serialHex));
        const { der, number } = await ca.issueCrl({ revoked: added, thisUpdate, nextUpdate: new Date(thisUpdate.getTime() + deltaMs), deltaOf: base.number });
        const made: Delta = { der, number, stamp, refreshAt: thisUpdate.getTime() + deltaMs / 2, baseNumber: base.number };
        deltas.set(caId, made);
        return made;
      })).der;
    },
  };
}

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
 * the delta CRL lists what was revoked since, re-signed on every change; a certificate the complete
 * CRL lists whose hold was released since is in the delta with reason removeFromCRL (§5.3.1).
 *
 * Several instances share one CRL through the store (crl-publication.ts): a CRL is signed by one
 * instance at a time and every instance serves the one published. The stamp a CRL is published
 * with names the revoked set it lists, the signing CA certificate and the settings that shape it,
 * so an instance knows whether the published CRL is the one it would sign now.
 */
import { createHash, randomUUID } from 'node:crypto';
import { issuesCrls, type CaBackend, type CrlIssuer } from '../ca/ca-backend.js';
import { normalizeSerial } from '../pki/certificate.js';
import { isCrlReason, REMOVE_FROM_CRL, type RevokedEntry } from '../pki/crl.js';
import { parseCrl } from '../pki/crl-reader.js';
import type { RevocationSummary, Store } from '../store/store.js';
import { createCrlPublication, type PublishedCrl } from './crl-publication.js';
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
  /** This instance's name when it takes a CA's signing lease (default: random). */
  holder?: string;
  /** How long an instance without the lease waits for another's publication (default 2000 ms). */
  publicationWaitMs?: number;
  logger?: { warn(obj: object, msg?: string): void };
}

interface Complete extends PublishedCrl {
  /** The serials listed (canonical hex), known when signed here or read from the DER for a delta. */
  serials?: Set<string>;
}

export function createCrlService(o: CrlServiceOptions): CrlService {
  const validityMs = o.validityHours * 3_600_000;
  const deltaMs = o.deltaValidityHours === undefined ? undefined : o.deltaValidityHours * 3_600_000;
  const complete = new Map<string, Complete>();
  const deltas = new Map<string, PublishedCrl>();
  const publication = createCrlPublication({
    store: o.store, now: o.now, holder: o.holder ?? randomUUID(),
    ...(o.publicationWaitMs !== undefined ? { waitMs: o.publicationWaitMs } : {}), ...(o.logger ? { logger: o.logger } : {}),
  });
  // A CRL another instance published replaces what this one kept (read from the store on the next fetch).
  o.store.changes.subscribe((change) => {
    if (change.kind !== 'crl') return;
    complete.delete(change.ca);
    deltas.delete(change.ca);
  });
  const settings = `${o.validityHours}h/${o.omitExpired ? 'omit' : 'keep'}/${deltaMs === undefined ? 'no-delta' : `delta ${o.deltaValidityHours}h`}`;
  const signerTags = new WeakMap<Buffer, string>();
  /** The CA certificate that signs and the settings, so a CRL made by another CA key or setup is not current. */
  const tagOf = async (ca: CaBackend): Promise<string> => {
    const [cert] = await ca.chain();
    if (!cert) return settings;
    let tag = signerTags.get(cert);
    if (!tag) signerTags.set(cert, (tag = createHash('sha256').update(cert).digest('hex').slice(0, 16)));
    return `${tag}/${settings}`;
  };
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

  /** The stamp is `<revoked set>|<signer and settings>`. */
  const summaryOf = async (caId: string): Promise<{ summary: RevocationSummary; stamp: string }> => {
    const summary = await o.store.revocationSummary(caId);
    return { summary, stamp: `${summary.count}/${summary.latest?.toISOString() ?? ''}/${summary.released}|${await tagOf(o.cas.get(caId)!)}` };
  };
  const signerPart = (stamp: string): string => stamp.slice(stamp.indexOf('|') + 1);

  /** The serials a complete CRL lists, for the delta CRL computed against it. */
  const serialsOf = (base: Complete): Set<string> =>
    (base.serials ??= new Set([...parseCrl(base.der).revoked.keys()].map(normalizeSerial)));

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
    // With delta CRLs, changes go into the delta and the complete CRL follows its schedule.
    const current = (c: PublishedCrl): boolean =>
      o.now().getTime() < c.refreshAt && (deltaMs !== undefined ? signerPart(c.stamp) === signerPart(stamp) : c.stamp === stamp);
    const hit = complete.get(name);
    if (hit && current(hit)) return hit;
    return once(`complete:${name}`, async () => {
      const got: Complete = await publication.obtain({ name, kind: 'complete', caId }, current, async (after) => {
        const thisUpdate = secondStart(o.now());
        const revoked = await revokedFor(caId, summary, thisUpdate);
        // delta CRLs are published for the first key's CRL only
        const freshestCrlUrl = deltaMs === undefined || generation !== undefined ? undefined : o.deltaUrl?.(caId);
        const nextUpdate = new Date(thisUpdate.getTime() + validityMs);
        const { der, number } = await ca.issueCrl({
          revoked, thisUpdate, nextUpdate, ...(freshestCrlUrl ? { freshestCrlUrl } : {}),
          ...(generation !== undefined ? { generation } : {}), ...(after !== undefined ? { after } : {}),
        });
        return {
          der, number, stamp, thisUpdate, nextUpdate, refreshAt: thisUpdate.getTime() + validityMs / 2,
          ...(deltaMs === undefined ? {} : { serials: new Set(revoked.map((r) => normalizeSerial(r.serialHex))) }),
        };
      });
      const known = complete.get(name);
      complete.set(name, known?.number === got.number ? known : got);
      return complete.get(name)!;
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
      const now = await summaryOf(caId);
      const base = await completeCrl(caId, { ca, caId, generation: undefined }, now);
      // The delta names its base: published with `<stamp>#<base cRLNumber>`.
      const stamp = `${now.stamp}#${base.number}`;
      const current = (d: PublishedCrl): boolean => d.stamp === stamp && o.now().getTime() < d.refreshAt;
      const hit = deltas.get(caId);
      if (hit && current(hit)) return hit.der;
      return once(`delta:${caId}`, async () => {
        const got = await publication.obtain({ name: caId, kind: 'delta', caId }, current, async (after) => {
          const thisUpdate = secondStart(o.now());
          // RFC 5280 §5.2.4: the certificates revoked since the complete CRL it names.
          const listed = serialsOf(base);
          const added = (await revokedFor(caId, now.summary, thisUpdate)).filter((r) => !listed.has(normalizeSerial(r.serialHex)));
          // RFC 5280 §5.3.1 removeFromCRL: listed by the base, not revoked any more (a hold released)
          const stillRevoked = new Set((await revokedSets.get(caId, now.summary)).map((r) => normalizeSerial(r.serial)));
          const removed: RevokedEntry[] = [...listed].filter((s) => !stillRevoked.has(s)).sort()
            .map((serialHex) => ({ serialHex, revokedAt: thisUpdate, reason: REMOVE_FROM_CRL }));
          const nextUpdate = new Date(thisUpdate.getTime() + deltaMs);
          const { der, number } = await ca.issueCrl({ revoked: [...added, ...removed], thisUpdate, nextUpdate, deltaOf: base.number, ...(after !== undefined ? { after } : {}) });
          return { der, number, stamp, thisUpdate, nextUpdate, refreshAt: thisUpdate.getTime() + deltaMs / 2 };
        });
        deltas.set(caId, got);
        return got.der;
      });
    },
  };
}

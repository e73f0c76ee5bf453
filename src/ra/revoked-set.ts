/**
 * Each CA's revoked certificates, kept in memory between CRL signings. Revocation adds to the set
 * and only a released hold takes from it (counted in the summary's `released`: the set is then read
 * again in full). So after the first full read (a page at a time, the event loop free in between) a
 * change is picked up by reading the entries revoked since shortly before the latest one known,
 * and the result is trusted only when its size equals the store's count; otherwise (another
 * process revoked with an older time, a certificate row was deleted) the set is read again in full.
 * Reading 150,000 rows was measured at ~0.5–2 s; a follow-up read costs a few rows.
 */
import type { RevocationSummary, RevokedCursor, Store } from '../store/store.js';
import type { RevokedCertificate } from './model.js';

/** Revoked certificates read from the store per page. */
const PAGE = 5000;
/** How far before the latest known revocation a follow-up read starts: clocks of two processes differ. */
const SKEW_MS = 10 * 60_000;

export interface RevokedSets {
  /** All revoked certificates of the CA, oldest revocation first (then by serial), consistent with the summary; never changed afterwards. */
  get(caId: string, summary: RevocationSummary): Promise<readonly RevokedCertificate[]>;
}

interface Known {
  entries: RevokedCertificate[];
  serials: Set<string>;
  /** The summary's release count when read. */
  released: number;
}

const byTimeThenSerial = (a: RevokedCertificate, b: RevokedCertificate): number =>
  a.revokedAt.getTime() - b.revokedAt.getTime() || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0);

const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

export function createRevokedSets(store: Store): RevokedSets {
  const known = new Map<string, Known>();

  /** Pages from the cursor on; their serials go into `serials` as they come, when given. */
  const readFrom = async (caId: string, after: RevokedCursor | undefined, serials?: Set<string>): Promise<RevokedCertificate[]> => {
    const out: RevokedCertificate[] = [];
    for (;;) {
      const page = await store.listRevokedPage(caId, after, PAGE);
      for (const r of page) {
        out.push(r);
        serials?.add(r.serial);
      }
      if (page.length < PAGE) return out;
      after = page[page.length - 1];
      await turn();
    }
  };

  const full = async (caId: string, released: number): Promise<Known> => {
    const serials = new Set<string>();
    const entries = await readFrom(caId, undefined, serials);
    const k = { entries, serials, released };
    known.set(caId, k);
    return k;
  };

  const update = async (caId: string, summary: RevocationSummary): Promise<readonly RevokedCertificate[]> => {
    const k = known.get(caId);
    if (!k || summary.count < k.entries.length || summary.released !== k.released) return (await full(caId, summary.released)).entries;
    if (summary.count === k.entries.length) return k.entries;
    const latest = k.entries.length > 0 ? k.entries[k.entries.length - 1]!.revokedAt.getTime() : 0;
    const since = new Date(Math.max(0, latest - SKEW_MS));
    const fresh = (await readFrom(caId, { revokedAt: since, serial: '' })).filter((r) => !k.serials.has(r.serial));
    if (k.entries.length + fresh.length !== summary.count) return (await full(caId, summary.released)).entries;
    // The new entries sort into the tail that starts at `since`: re-sort only that tail.
    let cut = k.entries.length;
    while (cut > 0 && k.entries[cut - 1]!.revokedAt.getTime() >= since.getTime()) cut--;
    // A new array: callers may still be reading the one returned before.
    k.entries = k.entries.slice(0, cut).concat(k.entries.slice(cut).concat(fresh).sort(byTimeThenSerial));
    for (const r of fresh) k.serials.add(r.serial);
    return k.entries;
  };

  /** One update per CA at a time: a complete and a delta CRL may be signed at once. */
  const queues = new Map<string, Promise<unknown>>();
  return {
    get(caId, summary) {
      const run = (queues.get(caId) ?? Promise.resolve()).then(() => update(caId, summary));
      const settled = run.catch(() => undefined);
      queues.set(caId, settled);
      void settled.then(() => {
        if (queues.get(caId) === settled) queues.delete(caId);
      });
      return run;
    },
  };
}

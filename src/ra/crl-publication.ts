/**
 * One CRL for every instance: the signed CRL is published in the store (Store.putCrl), and an
 * instance whose copy is not current first looks at what was published. When that is not current
 * either, the instance holding the CA's lease (`crl:<ca id>`) signs and publishes; the others wait
 * briefly for that publication, and meanwhile serve the published CRL while it is still valid
 * (RFC 5280 §5.1.2.5: until its nextUpdate). The store refuses a cRLNumber not higher than the one
 * published, and the signer is told the highest published number, so cRLNumbers only increase
 * across instances (RFC 5280 §5.2.3).
 */
import type { CrlKind, Store, StoredCrl } from '../store/store.js';

/** A CRL as published: the DER and what tells whether it is still current. */
export interface PublishedCrl {
  der: Buffer;
  number: bigint;
  stamp: string;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Re-signed from here on, though still valid: half its validity. */
  refreshAt: number;
}

export interface CrlPublicationOptions {
  store: Store;
  now: () => Date;
  /** This instance's name as a lease holder. */
  holder: string;
  /** How long a lease is held while signing (released after publishing); default 30 s. */
  leaseMs?: number;
  /** How long an instance without the lease waits for the holder's publication; default 2 s. */
  waitMs?: number;
  /** Between two looks at the store while waiting; default 100 ms. */
  pollMs?: number;
  logger?: { warn(obj: object, msg?: string): void };
}

export interface CrlPublication {
  /**
   * The CRL to serve for a name and kind: the published one when `current` says so; else one
   * signed by `sign` (told the highest cRLNumber published for the CA) under the CA's lease.
   */
  obtain<T extends PublishedCrl>(
    key: { name: string; kind: CrlKind; caId: string },
    current: (crl: PublishedCrl) => boolean,
    sign: (after: bigint | undefined) => Promise<T>,
  ): Promise<T | PublishedCrl>;
}

export function fromStored(s: StoredCrl): PublishedCrl {
  const half = (s.nextUpdate.getTime() - s.thisUpdate.getTime()) / 2;
  return { der: s.der, number: s.number, stamp: s.stamp, thisUpdate: s.thisUpdate, nextUpdate: s.nextUpdate, refreshAt: s.thisUpdate.getTime() + half };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function createCrlPublication(o: CrlPublicationOptions): CrlPublication {
  const leaseMs = o.leaseMs ?? 30_000;
  const waitMs = o.waitMs ?? 2_000;
  const pollMs = o.pollMs ?? 100;

  /** The highest cRLNumber published for this CA's name (complete and delta share one sequence). */
  const highest = async (name: string, caId: string): Promise<bigint | undefined> => {
    const numbers = [await o.store.getCrl(name, 'complete'), await o.store.getCrl(caId, 'delta')].flatMap((c) => (c ? [c.number] : []));
    return numbers.length ? numbers.reduce((a, b) => (a > b ? a : b)) : undefined;
  };

  const publish = async <T extends PublishedCrl>(name: string, kind: CrlKind, caId: string, sign: (after: bigint | undefined) => Promise<T>): Promise<T | PublishedCrl> => {
    const made = await sign(await highest(name, caId));
    if (await o.store.putCrl({ ca: name, kind, number: made.number, der: made.der, thisUpdate: made.thisUpdate, nextUpdate: made.nextUpdate, stamp: made.stamp })) return made;
    // Another instance published a higher number meanwhile (signing without the lease after a wait): serve that one.
    const theirs = await o.store.getCrl(name, kind);
    return theirs ? fromStored(theirs) : made;
  };

  return {
    async obtain({ name, kind, caId }, current, sign) {
      const lease = `crl:${caId}`;
      for (let waited = 0; ; waited += pollMs) {
        const stored = await o.store.getCrl(name, kind);
        const published = stored && fromStored(stored);
        if (published && current(published)) return published;
        if (await o.store.acquireLease(lease, o.holder, o.now(), leaseMs)) {
          try {
            return await publish(name, kind, caId, sign);
          } finally {
            // Released at once (a lease of 0 ms), so the next change is signed by whichever instance sees it first.
            await o.store.acquireLease(lease, o.holder, o.now(), 0).catch(() => undefined);
          }
        }
        if (waited >= waitMs) {
          if (published && o.now() < published.nextUpdate) return published;
          // Nothing valid is published and the lease holder is slow or gone: better a CRL signed here.
          o.logger?.warn({ ca: name, kind }, 'no current CRL was published in time by the instance holding the lease; signing one here');
          return publish(name, kind, caId, sign);
        }
        await sleep(pollMs);
      }
    },
  };
}

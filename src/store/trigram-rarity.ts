/**
 * How common each trigram of a search text is among the certificates, estimated from a sample of
 * rows, so that a substring search asks its trigram index for the rarest trigrams of the text and
 * checks the whole text on the few rows found: a text shared by most rows (a fleet's domain name)
 * has huge posting lists for its common trigrams. Store-independent: each store takes its own
 * sample (SQLite: FTS5 trigram; PostgreSQL: pg_trgm) and builds the rarity with `sampleRarity`.
 */

export const TRIGRAM = 3;

/** A text's distinct trigrams, lower-cased, when all of its characters are plain ASCII (else undefined). */
export function trigramsOf(text: string): string[] | undefined {
  if (!/^[\x20-\x7e]*$/.test(text)) return undefined;
  const lower = text.toLowerCase();
  const out = new Set<string>();
  for (let i = 0; i + TRIGRAM <= lower.length; i++) out.add(lower.slice(i, i + TRIGRAM));
  return [...out];
}

/** How common a trigram is among the certificates (a sample's document count is enough). */
export type TrigramRarity = (trigram: string) => number;

/**
 * The rarity from sampled rows' texts: for each trigram, how many rows have it in any of their
 * texts; `trigrams` is how the store's index splits a text (default: every three characters).
 */
export function sampleRarity(rows: ReadonlyArray<ReadonlyArray<string>>, trigrams: (text: string) => Iterable<string> = (t) => trigramsOf(t) ?? []): TrigramRarity {
  const df = new Map<string, number>();
  for (const texts of rows) {
    const seen = new Set<string>();
    for (const text of texts) for (const t of trigrams(text)) seen.add(t);
    for (const t of seen) df.set(t, (df.get(t) ?? 0) + 1);
  }
  return (t) => df.get(t) ?? 0;
}

/** Trigrams rarest first (ties in the given order), at most `count`. */
export function rarestFirst(trigrams: readonly string[], rarity: TrigramRarity, count: number): string[] {
  return trigrams.map((t, i) => ({ t, n: rarity(t), i })).sort((x, y) => x.n - y.n || x.i - y.i).slice(0, count).map((x) => x.t);
}

/** A text's trigrams, rarest first, at most `count`; undefined when the text is not plain ASCII. */
export function rarestTrigrams(text: string, rarity: TrigramRarity, count: number): string[] | undefined {
  const trigrams = trigramsOf(text);
  return trigrams && rarestFirst(trigrams, rarity, count);
}

/** Sample positions spread over [lo, hi] (a stride with an offset inside each step, so a regular pattern in the keys is not hit). */
export function sampleKeys(lo: number, hi: number, rows: number): number[] {
  const step = Math.max(1, (hi - lo + 1) / rows);
  return Array.from({ length: rows }, (_, i) => lo + Math.floor(i * step + (i * 7919) % step));
}

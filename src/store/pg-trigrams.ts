/**
 * The trigrams pg_trgm takes from a text, so that a search asks the PostgreSQL index for the
 * rarest of them (trigram-rarity.ts): pg_trgm splits a text into words (runs of letters and
 * digits, lower-cased; everything else separates) and pads each word with two blanks before and
 * one after. In a LIKE pattern `%text%` the pattern's own ends are wildcards, so the first and
 * last words are padded only where a separator of the text bounds them. ASCII only (pg_trgm's
 * letters beyond ASCII depend on the database's locale).
 */

const WORD = /[a-z0-9]+/g;

/** pg_trgm's trigrams of a stored text (as show_trgm gives them). */
export function pgTrigramsOf(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.toLowerCase().matchAll(WORD)) {
    const padded = `  ${m[0]} `;
    for (let k = 0; k + 3 <= padded.length; k++) out.add(padded.slice(k, k + 3));
  }
  return out;
}

/** One trigram of the pattern `%text%` and the shortest piece of the text whose pattern `%piece%` yields it. */
export interface PatternTrigram {
  trigram: string;
  piece: string;
}

/** pg_trgm's trigrams of the pattern `%text%` (a plain-ASCII text), each with its piece of the text. */
export function pgPatternTrigrams(text: string): PatternTrigram[] {
  const lower = text.toLowerCase();
  const out = new Map<string, PatternTrigram>();
  for (const m of lower.matchAll(WORD)) {
    const start = m.index!;
    const end = start + m[0].length;
    const before = start > 0 ? 2 : 0;
    const after = end < lower.length ? 1 : 0;
    const padded = `${' '.repeat(before)}${m[0]}${' '.repeat(after)}`;
    // a padding blank stands for the separator next to the word
    const at = (j: number) => (j < before ? start - 1 : Math.min(start + j - before, end));
    for (let k = 0; k + 3 <= padded.length; k++) {
      const trigram = padded.slice(k, k + 3);
      if (!out.has(trigram)) out.set(trigram, { trigram, piece: text.slice(at(k), at(k + 2) + 1) });
    }
  }
  return [...out.values()];
}

/**
 * The fuzzer's deterministic randomness: one small PRNG stream per iteration, derived from the
 * run's seed and the iteration number, so any single input can be reproduced on its own
 * (`--seed S --from I --iterations 1`) whatever ran before it.
 */

export interface Rng {
  /** A uniform 32-bit unsigned integer. */
  u32(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(n: number): Buffer;
}

/** splitmix32-style mixing of the seed and the iteration into one 32-bit state. */
function mix(seed: number, iteration: number): number {
  let h = (seed ^ Math.imul(iteration + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** mulberry32 (public domain), seeded per iteration. */
export function rngFor(seed: number, iteration: number): Rng {
  let state = mix(seed >>> 0, iteration);
  const u32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const int = (n: number): number => (n <= 0 ? 0 : Math.floor((u32() / 0x1_0000_0000) * n));
  return {
    u32,
    int,
    range: (lo, hi) => lo + int(hi - lo + 1),
    chance: (p) => u32() / 0x1_0000_0000 < p,
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = u32() & 0xff;
      return b;
    },
  };
}

/** A seed for a run that was not given one. */
export function freshSeed(): number {
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

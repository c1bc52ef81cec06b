/**
 * Deterministic pseudo-random numbers for the demo's training runs: the same seed gives the same split, the
 * same initial weights and the same mini-batch order, so a run's logged metrics are reproducible.
 */

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a 32-bit-state generator by Tommy Ettinger (public domain), as popularised in
 * bryc's "Pseudo-random number generators" collection (https://github.com/bryc/code/blob/master/jshash/PRNGs.md).
 * Not cryptographic; fine for shuffles and weight initialisation.
 *
 * @param seed any integer (only the low 32 bits are used)
 * @returns a function returning uniform floats in [0, 1)
 */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A standard normal sample by the Box–Muller transform (Box & Muller, 1958).
 *
 * @param rng the uniform source (consumes two draws)
 * @returns a sample of N(0, 1)
 */
export function normal(rng: Rng): number {
  // 1 - u lies in (0, 1], so the logarithm is finite.
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * A shuffled copy of `items` by the Fisher–Yates (Durstenfeld) algorithm (Knuth, TAOCP vol. 2, Algorithm P).
 *
 * @param items the input (not modified)
 * @param rng the uniform source
 * @returns a new array with the same elements in random order
 */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = out[i];
    out[i] = out[j];
    out[j] = tmp;
  }
  return out;
}

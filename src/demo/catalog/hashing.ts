/**
 * Embeddings by the signed hashing trick (Weinberger, Dasgupta, Langford, Smola & Attenberg, "Feature Hashing
 * for Large Scale Multitask Learning", ICML 2009): each token is mapped to one of `d` buckets by a hash `h`
 * and added there with a sign from a second hash `ξ`, so collisions cancel in expectation and inner products
 * are preserved in expectation. No vocabulary, no training: the same text always gives the same vector.
 *
 * Hash: MurmurHash3 x86 32-bit (Austin Appleby, public domain; SMHasher's reference `MurmurHash3_x86_32`) of
 * the token's UTF-8 bytes — seed 0 picks the bucket (`h mod d`), seed 1 the sign (lowest bit: 0 → +1, 1 → −1).
 */
import { logTfL2, termCounts } from './text.js';

/**
 * MurmurHash3_x86_32 of `bytes` (a string is hashed as UTF-8).
 * @returns the hash as an unsigned 32-bit integer
 */
export function murmur3(input: string | Uint8Array, seed = 0): number {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const n = bytes.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (n & 3) {
    case 3:
      k ^= bytes[blocks + 2] << 16;
    // falls through
    case 2:
      k ^= bytes[blocks + 1] << 8;
    // falls through
    case 1:
      k ^= bytes[blocks];
      k = Math.imul(k, c1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, c2);
      h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Dimensions of the demo's embeddings (the catalog model's `record.embedding`). */
export const EMBEDDING_DIMENSIONS = 256;

/** Bucket and sign of one token in a `dimensions`-wide hashed space. */
export function hashSlot(token: string, dimensions: number): { index: number; sign: 1 | -1 } {
  return { index: murmur3(token, 0) % dimensions, sign: (murmur3(token, 1) & 1) === 0 ? 1 : -1 };
}

/**
 * Embed tokens: sublinear term frequency `1 + ln(count)` per distinct token, normalised to unit L2 norm
 * (`logTfL2`), hashed with signs into `dimensions` buckets, and the resulting vector normalised to unit L2
 * norm again (collisions change the norm). Values are rounded to 6 decimals (the stored column is float4).
 *
 * @returns the vector, or undefined when there are no tokens (a zero vector has no cosine distance)
 * @throws RangeError when `dimensions` is not a positive integer
 */
export function hashEmbedding(tokens: readonly string[], dimensions = EMBEDDING_DIMENSIONS): number[] | undefined {
  if (!Number.isInteger(dimensions) || dimensions < 1) throw new RangeError(`dimensions must be a positive integer, got ${dimensions}`);
  const v = new Float64Array(dimensions);
  for (const [token, w] of logTfL2(termCounts(tokens))) {
    const { index, sign } = hashSlot(token, dimensions);
    v[index] += sign * w;
  }
  let sq = 0;
  for (const x of v) sq += x * x;
  if (sq === 0) return undefined;
  const norm = Math.sqrt(sq);
  return Array.from(v, (x) => Math.round((x / norm) * 1e6) / 1e6 + 0);
}

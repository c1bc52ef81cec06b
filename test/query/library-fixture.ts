/**
 * Data for the search / similarity / nested-ordering tests over the library model (`library-model.ts`), in
 * two projects: A holds the rows below; B holds near-identical copies (same texts, embeddings nudged towards
 * every query vector used in the tests), so a query that leaked across projects would rank or count B's rows.
 *
 * Books are written through the ingestion write path (`executeWrite`, jsonb_populate_record), which is how
 * vectors arrive in production; authors and reviews are inserted directly.
 */
import { expect } from 'vitest';
import { LatticeError } from '../../src/errors.js';
import type { Principal } from '../../src/auth/principal.js';
import { executeWrite, withWriteIsolation } from '../../src/query/write/execute.js';
import { isSuccess } from '../../src/query/write/plan.js';
import { createProject, insertRows, testPrincipal, type TestDb } from '../support/db.js';
import { uid } from './support.js';

export interface AuthorRow {
  id: string;
  name: string;
  country: string | null;
}

export interface BookRow {
  id: string;
  author_id: string | null;
  title: string;
  summary: string | null;
  genre: 'fiction' | 'science' | 'history';
  year: number | null;
  embedding: number[] | null;
}

export interface ReviewRow {
  id: string;
  book_id: string;
  body: string;
  stars: number;
}

/** Project A's authors (ids uid(1..4)); B's copies have ids + 500. */
export const AUTHORS: AuthorRow[] = [
  { id: uid(1), name: 'Ursula Le Guin', country: 'US' },
  { id: uid(2), name: 'Stanislaw Lem', country: 'PL' },
  { id: uid(3), name: 'Isaac Asimov', country: 'US' },
  { id: uid(4), name: 'Zadie Smith', country: null },
];

/** A deterministic 4-dimensional embedding, stored as float4 (so computed with float4 values in JS too). */
function vec(i: number): number[] {
  return [Math.cos(i * 0.7) + 0.05 * i, Math.sin(i * 1.3), ((i * 37) % 11) / 11 - 0.4, 1 / (i + 1)].map((x) => Math.fround(Number(x.toFixed(6))));
}

const B = (n: number, author: number | null, title: string, summary: string | null, genre: BookRow['genre'], year: number | null, embedding = true): BookRow => ({
  id: uid(100 + n),
  author_id: author === null ? null : uid(author),
  title,
  summary,
  genre,
  year,
  embedding: embedding ? vec(n) : null,
});

/** Project A's books (ids uid(101..114)); `robot` matches 1, 2, 5, 9, 10, 12, 14. */
export const BOOKS: BookRow[] = [
  B(1, 3, 'I, Robot', 'Stories about robots and the three laws', 'science', 1950),
  B(2, 3, 'The Robots of Dawn', 'A detective and a robot partner solve a murder', 'science', 1983),
  B(3, 3, 'Foundation', 'The fall of a galactic empire', 'science', 1951),
  B(4, 2, 'Solaris', 'An ocean planet that thinks', 'science', 1961),
  B(5, 2, 'The Cyberiad', 'Fables of robot constructors', 'fiction', 1965),
  B(6, 1, 'A Wizard of Earthsea', 'A young wizard and a dragon', 'fiction', 1968),
  B(7, 1, 'The Dispossessed', 'An anarchist moon and a physicist', 'science', 1974),
  B(8, 1, 'The Left Hand of Darkness', 'Winter planet, envoy, and ambiguity', 'fiction', 1969),
  B(9, null, 'Robot Dreams', 'Short stories', 'fiction', 1986),
  B(10, null, 'Ocean Robots', 'Machines exploring the deep ocean', 'science', 2001),
  B(11, null, 'History of Rome', 'Empire and republic', 'history', 1990),
  B(12, 3, 'Robotics Handbook', null, 'science', null),
  B(13, 1, 'Dragons', 'A history of dragon myths', 'history', 2005),
  B(14, 2, 'No Vector', 'A robot without an embedding', 'fiction', 2010, false),
];

/** Ids of project A's books matching `search: "robot"`. */
export const ROBOT_BOOKS = [1, 2, 5, 9, 10, 12, 14].map((n) => uid(100 + n));

/** Project A's reviews (ids uid(201..)). */
export const REVIEWS: ReviewRow[] = [
  { id: uid(201), book_id: uid(101), body: 'Classic robot stories', stars: 5 },
  { id: uid(202), book_id: uid(101), body: 'Dated but fun', stars: 3 },
  { id: uid(203), book_id: uid(102), body: 'A robot detective, great', stars: 4 },
  { id: uid(204), book_id: uid(104), body: 'The ocean is the protagonist', stars: 5 },
  { id: uid(205), book_id: uid(105), body: 'Funny robot fables', stars: 2 },
  { id: uid(206), book_id: uid(106), body: 'Dragons and wizards', stars: 5 },
  { id: uid(207), book_id: uid(109), body: 'Robot dreams indeed', stars: 4 },
  { id: uid(208), book_id: uid(110), body: 'Wet robots', stars: 1 },
  { id: uid(209), book_id: uid(111), body: 'Long', stars: 3 },
  { id: uid(210), book_id: uid(112), body: 'Reference', stars: 4 },
  { id: uid(211), book_id: uid(113), body: 'Myths', stars: 2 },
  { id: uid(212), book_id: uid(108), body: 'Ambiguous and cold', stars: 5 },
];

/** Query vectors used by the tests; B's embeddings are nudged towards them. */
export const QUERIES: number[][] = [
  [1, 0.2, 0.1, 0.3],
  [-0.5, 0.8, 0.2, 0.1],
];

/** The id in project B of a row of project A. */
export const inB = (id: string): string => uid(Number(id.slice(-12)) + 500);

/** B's copy of an embedding: 2% of the way towards the first query vector (nearer than A's under every metric). */
function nudged(v: number[]): number[] {
  return v.map((x, i) => Math.fround(x + 0.02 * (QUERIES[0][i] - x)));
}

export interface Library {
  A: string;
  B: string;
  viewerA: Principal;
  viewerB: Principal;
  admin: Principal;
}

/**
 * Write the library into a fresh database: projects A and B, authors, books (through the write path, with
 * their embeddings), reviews.
 */
export async function seedLibrary(t: TestDb): Promise<Library> {
  const A = await createProject(t.db, 'A');
  const Bp = await createProject(t.db, 'B');
  for (const [project, copy] of [[A, false], [Bp, true]] as const) {
    const id = (x: string | null) => (x === null ? null : copy ? inB(x) : x);
    await insertRows(t.db, 'author', AUTHORS.map((a) => ({ ...a, id: id(a.id), project_id: project })));
    const editor = testPrincipal('editor', [project]);
    const rows = BOOKS.map((b) => ({
      values: { ...b, id: id(b.id), author_id: id(b.author_id), project_id: project, embedding: b.embedding && copy ? nudged(b.embedding) : b.embedding },
    }));
    const outcomes = await withWriteIsolation(t.db, editor, (tx, isolate) => executeWrite(tx, t.model, { entity: 'book', mode: 'create', rows }, isolate));
    expect(outcomes.every(isSuccess), JSON.stringify(outcomes.filter((o) => !isSuccess(o)))).toBe(true);
    await insertRows(t.db, 'review', REVIEWS.map((r) => ({ ...r, id: id(r.id), book_id: id(r.book_id), project_id: project })));
  }
  return { A, B: Bp, viewerA: testPrincipal('viewer', [A]), viewerB: testPrincipal('viewer', [Bp]), admin: testPrincipal('admin') };
}

/** pgvector's distances: cosine 1 − cos θ, Euclidean, negative inner product. */
export function distance(metric: 'cosine' | 'l2' | 'inner_product', a: readonly number[], b: readonly number[]): number {
  const dot = a.reduce((s, x, i) => s + x * b[i], 0);
  if (metric === 'inner_product') return -dot;
  if (metric === 'l2') return Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0));
  const na = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  const nb = Math.sqrt(b.reduce((s, x) => s + x * x, 0));
  return 1 - Math.max(-1, Math.min(1, dot / (na * nb)));
}

/** Ids of A's books with an embedding, nearest first under `metric` (ties would be by id; the data has none). */
export function nearestBooks(metric: 'cosine' | 'l2' | 'inner_product', q: readonly number[], max?: number): Array<{ id: string; d: number }> {
  return BOOKS.filter((b) => b.embedding)
    .map((b) => ({ id: b.id, d: distance(metric, b.embedding!, q.map(Math.fround)) }))
    .filter((x) => max === undefined || x.d <= max)
    .sort((x, y) => x.d - y.d || (x.id < y.id ? -1 : 1));
}

/**
 * The LatticeError `fn` throws (to inspect its code and message).
 * @throws Error when `fn` returns normally; rethrows anything that is not a LatticeError
 */
export function refusal(fn: () => unknown): LatticeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof LatticeError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

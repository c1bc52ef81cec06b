/**
 * Ordering by fields of to-one related rows (SPEC G-5, `OrderItem.path`): reviews ordered by their book's
 * author's name (two hops), their book's title or year (one hop), with null related rows (books without an
 * author), on lists, offset pages and keyset connections (cursors carry the related values), the `id`
 * tiebreaker, bad paths, and tenant-scoped look-ups — on PGlite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/query/cursor.js';
import type { ConnectionArgs, Direction, Nulls, OrderItem, RootNode } from '../../src/query/plan.js';
import { compileRead } from '../../src/query/sql/compile.js';
import { createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';
import { libraryModel } from './library-model.js';
import { AUTHORS, BOOKS, REVIEWS, seedLibrary, type Library, refusal } from './library-fixture.js';
import { pageFields, walk, type Page } from './paging.js';
import { cols, runPlan } from './support.js';

const by = (path: string[], column: string, direction: Direction, nulls: Nulls): OrderItem => ({ path, column, direction, nulls });

/** A review's value of an order item, from the fixture. */
function valueOf(reviewId: string, item: OrderItem): string | number | null {
  const review = REVIEWS.find((r) => r.id === reviewId)!;
  if (!item.path?.length) return review[item.column as 'stars'];
  const book = BOOKS.find((b) => b.id === review.book_id)!;
  if (item.path.length === 1) return book[item.column as 'title'];
  const author = AUTHORS.find((a) => a.id === book.author_id);
  return author ? author[item.column as 'name'] : null;
}

/** Review ids of project A sorted as PostgreSQL sorts them under `orderBy` + `id ASC` (the data is ASCII). */
function expectedOrder(orderBy: OrderItem[]): string[] {
  const cmp = (a: string, b: string): number => {
    for (const item of orderBy) {
      const [x, y] = [valueOf(a, item), valueOf(b, item)];
      if (x === y) continue;
      if (x === null || y === null) return (x === null) === (item.nulls === 'FIRST') ? -1 : 1;
      const c = x < y ? -1 : 1;
      return item.direction === 'ASC' ? c : -c;
    }
    return a < b ? -1 : a > b ? 1 : 0;
  };
  return REVIEWS.map((r) => r.id).sort(cmp);
}

const ORDERINGS: Array<[string, OrderItem[]]> = [
  ['book.author.name asc nulls last', [by(['book', 'author'], 'name', 'ASC', 'LAST')]],
  ['book.author.name desc nulls first, book.title desc', [by(['book', 'author'], 'name', 'DESC', 'FIRST'), by(['book'], 'title', 'DESC', 'LAST')]],
  ['book.author.country asc nulls first, stars desc', [by(['book', 'author'], 'country', 'ASC', 'FIRST'), by([], 'stars', 'DESC', 'LAST')]],
  ['book.year desc nulls last', [by(['book'], 'year', 'DESC', 'LAST')]],
];


describe.each(TEST_KINDS)('nested ordering on %s', (kind) => {
  let t: TestDb;
  let lib: Library;
  const run = async (roots: Array<[string, RootNode]>, admin = false) => (await runPlan(t.db, t.model, admin ? lib.admin : lib.viewerA, roots)).data;
  const reviews = (orderBy: OrderItem[], extra: { limit?: number; offset?: number } = {}): RootNode => ({ kind: 'list', entity: 'review', args: { orderBy, ...extra }, selection: cols('id') });
  const ids = (rows: unknown) => (rows as Array<{ id: string }>).map((r) => r.id);

  beforeAll(async () => {
    t = await createTestDb(kind, libraryModel());
    lib = await seedLibrary(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  describe.each(ORDERINGS)('by %s', (_name, orderBy) => {
    it('orders lists and offset pages, null related rows placed as asked', async () => {
      const expected = expectedOrder(orderBy);
      const { all, page } = await run([
        ['all', reviews(orderBy)],
        ['page', reviews(orderBy, { limit: 4, offset: 3 })],
      ]);
      expect(ids(all)).toEqual(expected);
      expect(ids(page)).toEqual(expected.slice(3, 7));
    });

    it.each([1, 4])('walks a connection with page size %i (cursors carry the related values)', async (size) => {
      const page = async (paging: Partial<ConnectionArgs>) =>
        (await run([['c', { kind: 'connection', entity: 'review', args: { orderBy, ...paging }, fields: pageFields() }]])).c as Page;
      await walk(page, (raw) => decodeCursor(t.model, 'review', orderBy, raw), expectedOrder(orderBy), size);
    });
  });

  it('reads related values within the row\'s own project (admin scope over both projects)', async () => {
    const orderBy = [by(['book', 'author'], 'name', 'ASC', 'LAST')];
    const { r } = await run(
      [
        [
          'r',
          {
            kind: 'list',
            entity: 'review',
            args: { orderBy },
            selection: [...cols('id', 'project_id'), { responseKey: 'book', kind: 'to_one', relation: 'book', selection: [...cols('project_id'), { responseKey: 'author', kind: 'to_one', relation: 'author', selection: cols('name', 'project_id') }] }],
          },
        ],
      ],
      true,
    );
    type R = { id: string; project_id: string; book: { project_id: string; author: { name: string; project_id: string } | null } };
    const rows = r as R[];
    expect(rows).toHaveLength(2 * REVIEWS.length);
    const names = rows.map((x) => x.book.author?.name ?? null);
    const sorted = [...names].sort((a, b) => (a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1));
    expect(names).toEqual(sorted);
    for (const x of rows) {
      expect(x.book.project_id).toBe(x.project_id);
      if (x.book.author) expect(x.book.author.project_id).toBe(x.project_id);
    }
  });

  it('refuses paths through to-many relations, unknown fields and vectors with BAD_USER_INPUT', () => {
    const compile = (entity: string, orderBy: OrderItem[]) => () =>
      compileRead(t.model, { scope: { kind: 'all' }, roots: [{ responseKey: 'r', node: { kind: 'list', entity, args: { orderBy }, selection: cols('id') } }] });
    const cases: Array<[string, OrderItem[], RegExp]> = [
      ['author', [by(['books'], 'title', 'ASC', 'LAST')], /"books" is not a to-one relation of author/],
      ['review', [by(['book', 'reviews'], 'stars', 'ASC', 'LAST')], /"reviews" is not a to-one relation of book/],
      ['review', [by(['book'], 'nope', 'ASC', 'LAST')], /unknown field "nope" of book \(via book\)/],
      ['review', [by(['book'], 'embedding', 'ASC', 'LAST')], /Cannot order review by vector field "embedding"/],
      ['review', [by(['nope'], 'name', 'ASC', 'LAST')], /"nope" is not a to-one relation of review/],
    ];
    for (const [entity, orderBy, message] of cases) {
      const e = refusal(compile(entity, orderBy));
      expect(e.code).toBe('BAD_USER_INPUT');
      expect(e.message).toMatch(message);
    }
  });

  it('checks cursor values against the related field\'s type', () => {
    const orderBy = [by(['book'], 'year', 'DESC', 'LAST')];
    const id = REVIEWS[0].id;
    expect(decodeCursor(t.model, 'review', orderBy, encodeCursor(t.model, 'review', orderBy, [null, id])).values).toEqual([null, id]);
    expect(decodeCursor(t.model, 'review', orderBy, encodeCursor(t.model, 'review', orderBy, ['1950', id])).values).toEqual(['1950', id]);
    for (const bad of ['x1950', 1950, '99999999999']) {
      expect(refusal(() => decodeCursor(t.model, 'review', orderBy, encodeCursor(t.model, 'review', orderBy, [bad, id]))).message).toMatch(/^Malformed cursor/);
    }
    // A cursor of the one-hop ordering is not one of the own-column ordering.
    const own = [by([], 'stars', 'DESC', 'LAST')];
    expect(refusal(() => decodeCursor(t.model, 'review', own, encodeCursor(t.model, 'review', orderBy, ['1950', id]))).message).toMatch(/different ordering/);
  });
});

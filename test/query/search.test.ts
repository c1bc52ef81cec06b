/**
 * Full-text search in the read compiler (SPEC G-6, S-4): `search` on lists, list pages, connections and nested
 * to-many relations, `_rank`, ordering by rank unless `order_by` is given, keyset cursors over the rank, the
 * combination with filters (to-one nested, to-many some/every/none) and `nearest` in ONE statement, and tenant
 * isolation — on PGlite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCursor } from '../../src/query/cursor.js';
import type { ConnectionArgs, Filter, ListArgs, NearestArg, RootNode, Selection } from '../../src/query/plan.js';
import { compileRead } from '../../src/query/sql/compile.js';
import { createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';
import { libraryModel } from './library-model.js';
import { BOOKS, QUERIES, REVIEWS, ROBOT_BOOKS, AUTHORS, distance, inB, seedLibrary, type Library, refusal } from './library-fixture.js';
import { pageFields, walk, type Page } from './paging.js';
import { asc, cmp, cols, desc, runPlan } from './support.js';

type Row = { id: string; _rank: number | null; title?: string };

const rank: Selection = [{ responseKey: '_rank', kind: 'rank' }];
const dist: Selection = [{ responseKey: '_distance', kind: 'distance' }];

/** Expect rows in rank order: `_rank` non-increasing, equal ranks by id ascending. */
function expectRankOrder(rows: Row[]): void {
  for (let i = 1; i < rows.length; i++) {
    const [a, b] = [rows[i - 1], rows[i]];
    expect(a._rank!).toBeGreaterThanOrEqual(b._rank!);
    if (a._rank === b._rank) expect(a.id < b.id).toBe(true);
  }
}


describe.each(TEST_KINDS)('full-text search on %s', (kind) => {
  let t: TestDb;
  let lib: Library;
  const books = (args: Partial<ListArgs>, selection: Selection = [...cols('id', 'title'), ...rank]): RootNode => ({
    kind: 'list',
    entity: 'book',
    args: { orderBy: [], ...args },
    selection,
  });
  const run = async (roots: Array<[string, RootNode]>, who: 'A' | 'B' | 'admin' = 'A') => {
    const p = who === 'A' ? lib.viewerA : who === 'B' ? lib.viewerB : lib.admin;
    return (await runPlan(t.db, t.model, p, roots)).data;
  };

  beforeAll(async () => {
    t = await createTestDb(kind, libraryModel());
    lib = await seedLibrary(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('matches the searchable fields, orders by rank (title weight A above summary weight B), then id', async () => {
    const { r } = await run([['r', books({ search: 'robot' })]]);
    const rows = r as Row[];
    expect(rows.map((x) => x.id).sort()).toEqual([...ROBOT_BOOKS].sort());
    expectRankOrder(rows);
    expect(rows.every((x) => typeof x._rank === 'number' && x._rank > 0)).toBe(true);
    // "robot" only in the summary (weight B) ranks below every title match (weight A).
    const summaryOnly = new Set(['The Cyberiad', 'No Vector']);
    const firstSummaryOnly = rows.findIndex((x) => summaryOnly.has(x.title!));
    expect(firstSummaryOnly).toBe(rows.length - 2);
    expect(rows.slice(firstSummaryOnly).every((x) => summaryOnly.has(x.title!))).toBe(true);
    // websearch syntax: phrases, or, exclusion; stop words only match nothing.
    const ids = async (search: string) => ((await run([['r', books({ search }, cols('id'))]])).r as Row[]).map((x) => x.id).sort();
    expect(await ids('"robot partner"')).toEqual([BOOKS[1].id]);
    expect(await ids('dragon or ocean')).toEqual([BOOKS[3].id, BOOKS[5].id, BOOKS[9].id, BOOKS[12].id].sort());
    expect(await ids('robot -ocean -stories')).toEqual(ROBOT_BOOKS.filter((id) => id !== BOOKS[9].id && id !== BOOKS[0].id && id !== BOOKS[8].id).sort());
    expect(await ids('the')).toEqual([]);
  });

  it('keeps an explicit order_by over the rank; _rank and _distance are null without search / nearest', async () => {
    const { r, plain } = await run([
      ['r', books({ search: 'robot', orderBy: [asc('year')] }, [...cols('id', 'year'), ...rank])],
      ['plain', books({ limit: 2, orderBy: [asc('title')] }, [...cols('id'), ...rank, ...dist])],
    ]);
    const years = (r as Array<{ year: number | null; _rank: number }>).map((x) => x.year);
    const sorted = [...years].sort((a, b) => (a === null ? 1 : b === null ? -1 : a - b));
    expect(years).toEqual(sorted);
    expect((r as Row[]).every((x) => x._rank! > 0)).toBe(true);
    expect(plain).toEqual([
      { id: BOOKS[5].id, _rank: null, _distance: null },
      { id: BOOKS[12].id, _rank: null, _distance: null },
    ]);
  });

  it('pages by offset with a total of the matching rows, in one statement', async () => {
    const { all, page } = await run([
      ['all', books({ search: 'robot' }, cols('id'))],
      [
        'page',
        {
          kind: 'list_page',
          entity: 'book',
          args: { orderBy: [], search: 'robot', limit: 3, offset: 2 },
          fields: [
            { responseKey: 'total_count', kind: 'total_count' },
            { responseKey: 'items', kind: 'items', selection: [...cols('id'), ...rank] },
          ],
        },
      ],
    ]);
    const p = page as { total_count: number; items: Row[] };
    expect(p.total_count).toBe(ROBOT_BOOKS.length);
    expect(p.items.map((x) => x.id)).toEqual((all as Row[]).slice(2, 5).map((x) => x.id));
    expectRankOrder(p.items);
  });

  describe('connections ordered by rank', () => {
    const conn = (args: ConnectionArgs): RootNode => ({ kind: 'connection', entity: 'book', args, fields: pageFields(rank) });
    const page = async (args: ConnectionArgs) => (await run([['c', conn(args)]])).c as Page;

    it.each([1, 2, 3])('walks forward and backward with page size %i (ties in rank broken by id)', async (size) => {
      const expected = ((await run([['r', books({ search: 'robot' }, cols('id'))]])).r as Row[]).map((x) => x.id);
      const decode = (raw: string) => decodeCursor(t.model, 'book', { orderBy: [], search: 'robot' }, raw);
      await walk((paging) => page({ orderBy: [], search: 'robot', ...paging }), decode, expected, size);
    });

    it('walks an explicit ordering under search, and refuses cursors of another search', async () => {
      const orderBy = [desc('year', 'LAST')];
      const expected = ((await run([['r', books({ search: 'robot', orderBy }, cols('id'))]])).r as Row[]).map((x) => x.id);
      await walk((paging) => page({ orderBy, search: 'robot', ...paging }), (raw) => decodeCursor(t.model, 'book', { orderBy, search: 'robot' }, raw), expected, 2);
      const first = await page({ orderBy: [], search: 'robot', first: 2 });
      const raw = first.page_info.end_cursor!;
      const other = refusal(() => decodeCursor(t.model, 'book', { orderBy: [], search: 'robots!' }, raw));
      expect(other.code).toBe('BAD_USER_INPUT');
      expect(other.message).toMatch(/different ordering or entity/);
      expect(refusal(() => decodeCursor(t.model, 'book', { orderBy: [] }, raw)).code).toBe('BAD_USER_INPUT');
      // With an explicit ordering the rank is not a key: the search text is not part of the cursor.
      const byYear = await page({ orderBy, search: 'robot', first: 2 });
      expect(decodeCursor(t.model, 'book', { orderBy, search: 'dragon' }, byYear.page_info.end_cursor!).values).toHaveLength(2);
    });

    it('refuses forged rank values as malformed, never as a database error', async () => {
      const first = await page({ orderBy: [], search: 'robot', first: 1 });
      const [fp, , id] = JSON.parse(Buffer.from(first.page_info.end_cursor!, 'base64url').toString()) as [string, string, string];
      for (const bad of ['1e39', 'NaN', 'abc', 1, null, '1e-60']) {
        const raw = Buffer.from(JSON.stringify([fp, bad, id])).toString('base64url');
        expect(refusal(() => decodeCursor(t.model, 'book', { orderBy: [], search: 'robot' }, raw)).message).toMatch(/^Malformed cursor/);
      }
    });
  });

  it('searches nested to-many relations per parent row, in every shape', async () => {
    const { authors } = await run([
      [
        'authors',
        {
          kind: 'list',
          entity: 'author',
          args: { orderBy: [asc('name')] },
          selection: [
            ...cols('id'),
            { responseKey: 'books', kind: 'to_many', relation: 'books', node: { kind: 'list', entity: 'book', args: { orderBy: [], search: 'robot' }, selection: [...cols('id'), ...rank] } },
            {
              responseKey: 'page',
              kind: 'to_many',
              relation: 'books',
              node: { kind: 'list_page', entity: 'book', args: { orderBy: [], search: 'robot', limit: 1 }, fields: [{ responseKey: 'total_count', kind: 'total_count' }, { responseKey: 'items', kind: 'items', selection: cols('id') }] },
            },
            { responseKey: 'conn', kind: 'to_many', relation: 'books', node: { kind: 'connection', entity: 'book', args: { orderBy: [], search: 'robot', first: 1 }, fields: pageFields(rank) } },
            { responseKey: 'reviews_hit', kind: 'to_many', relation: 'books', node: { kind: 'list', entity: 'book', args: { orderBy: [asc('title')], search: 'dragon' }, selection: cols('title') } },
          ],
        },
      ],
    ]);
    const byAuthor = new Map((authors as Array<{ id: string; books: Row[]; page: { total_count: number; items: Row[] }; conn: Page; reviews_hit: unknown[] }>).map((a) => [a.id, a]));
    expect(byAuthor.size).toBe(AUTHORS.length);
    for (const a of AUTHORS) {
      const got = byAuthor.get(a.id)!;
      const expected = BOOKS.filter((b) => b.author_id === a.id && ROBOT_BOOKS.includes(b.id)).map((b) => b.id);
      expect(got.books.map((b) => b.id).sort()).toEqual([...expected].sort());
      expectRankOrder(got.books);
      expect(got.page.total_count).toBe(expected.length);
      expect(got.page.items.map((b) => b.id)).toEqual(got.books.slice(0, 1).map((b) => b.id));
      expect(got.conn.total_count).toBe(expected.length);
      expect(got.conn.nodes.map((b) => b.id)).toEqual(got.books.slice(0, 1).map((b) => b.id));
      expect(got.conn.page_info.has_next_page).toBe(expected.length > 1);
    }
    expect(byAuthor.get(AUTHORS[0].id)!.reviews_hit).toEqual([{ title: 'A Wizard of Earthsea' }, { title: 'Dragons' }]);
  });

  it('combines a to-one nested filter, to-many some/every/none, search and nearest in one statement', async () => {
    const filter: Filter = {
      kind: 'and',
      items: [
        { kind: 'related', relation: 'author', mode: 'is', filter: cmp('country', 'eq', 'US') },
        { kind: 'related', relation: 'reviews', mode: 'some', filter: cmp('stars', 'gte', 4, 'int') },
        { kind: 'related', relation: 'reviews', mode: 'every', filter: cmp('stars', 'gte', 4, 'int') },
        { kind: 'related', relation: 'reviews', mode: 'none', filter: cmp('body', 'ilike', '%cold%', 'text') },
      ],
    };
    const nearest: NearestArg = { column: 'embedding', vector: QUERIES[0], metric: 'cosine' };
    // Expected, computed from the fixture.
    const us = new Set(AUTHORS.filter((a) => a.country === 'US').map((a) => a.id));
    const reviews = (id: string) => REVIEWS.filter((r) => r.book_id === id);
    const expected = BOOKS.filter(
      (b) =>
        ROBOT_BOOKS.includes(b.id) &&
        b.embedding &&
        b.author_id !== null &&
        us.has(b.author_id) &&
        reviews(b.id).some((r) => r.stars >= 4) &&
        reviews(b.id).every((r) => r.stars >= 4) &&
        !reviews(b.id).some((r) => /cold/i.test(r.body)),
    )
      .map((b) => ({ id: b.id, d: distance('cosine', b.embedding!, QUERIES[0].map(Math.fround)) }))
      .sort((x, y) => x.d - y.d);
    expect(expected.length).toBeGreaterThanOrEqual(2);
    const sel: Selection = [...cols('id'), ...rank, ...dist];
    const { list, page, conn } = await run([
      ['list', books({ filter, search: 'robot', nearest }, sel)],
      ['page', { kind: 'list_page', entity: 'book', args: { orderBy: [], filter, search: 'robot', nearest, limit: 1 }, fields: [{ responseKey: 'total_count', kind: 'total_count' }, { responseKey: 'items', kind: 'items', selection: sel }] }],
      ['conn', { kind: 'connection', entity: 'book', args: { orderBy: [], filter, search: 'robot', nearest, first: 1 }, fields: pageFields(sel.slice(1)) }],
    ]);
    const rows = list as Array<{ id: string; _rank: number; _distance: number }>;
    expect(rows.map((x) => x.id)).toEqual(expected.map((x) => x.id));
    rows.forEach((x, i) => {
      expect(x._rank).toBeGreaterThan(0);
      expect(Math.abs(x._distance - expected[i].d)).toBeLessThan(1e-5);
    });
    expect((page as { total_count: number }).total_count).toBe(expected.length);
    expect((page as { items: unknown[] }).items).toEqual(rows.slice(0, 1));
    const c = conn as Page;
    expect(c.total_count).toBe(expected.length);
    expect(c.nodes).toEqual(rows.slice(0, 1));
    const next = (await run([['c', { kind: 'connection', entity: 'book', args: { orderBy: [], filter, search: 'robot', nearest, first: 5, after: decodeCursor(t.model, 'book', { orderBy: [], search: 'robot', nearest }, c.page_info.end_cursor!) }, fields: pageFields(sel.slice(1)) }]])).c as Page;
    expect(next.nodes).toEqual(rows.slice(1));
  });

  it('never matches, ranks or counts another project\'s rows', async () => {
    const page = (search: string): RootNode => ({
      kind: 'list_page',
      entity: 'book',
      args: { orderBy: [], search },
      fields: [
        { responseKey: 'total_count', kind: 'total_count' },
        { responseKey: 'items', kind: 'items', selection: [...cols('id'), ...rank] },
      ],
    });
    const a = (await run([['p', page('robot')]], 'A')).p as { total_count: number; items: Row[] };
    const b = (await run([['p', page('robot')]], 'B')).p as { total_count: number; items: Row[] };
    const all = (await run([['p', page('robot')]], 'admin')).p as { total_count: number; items: Row[] };
    expect(a.total_count).toBe(ROBOT_BOOKS.length);
    expect(a.items.map((x) => x.id).sort()).toEqual([...ROBOT_BOOKS].sort());
    expect(b.total_count).toBe(ROBOT_BOOKS.length);
    expect(b.items.map((x) => x.id).sort()).toEqual(ROBOT_BOOKS.map(inB).sort());
    expect(all.total_count).toBe(2 * ROBOT_BOOKS.length);
    // A's ranks do not depend on B's rows.
    const adminRanks = new Map(all.items.map((x) => [x.id, x._rank]));
    for (const x of a.items) expect(adminRanks.get(x.id)).toBe(x._rank);
    // Nested under the admin scope: each Asimov (A's and B's copy) counts only the books of its own project.
    const perAuthor = (await run([['n', { kind: 'list', entity: 'author', args: { orderBy: [], filter: cmp('name', 'eq', 'Isaac Asimov') }, selection: [...cols('id'), { responseKey: 'c', kind: 'to_many', relation: 'books', node: { kind: 'list_page', entity: 'book', args: { orderBy: [], search: 'robot' }, fields: [{ responseKey: 'total_count', kind: 'total_count' }] } }] }]], 'admin')).n as Array<{ id: string; c: { total_count: number } }>;
    expect(perAuthor.map((x) => x.c.total_count)).toEqual([3, 3]);
  });

  it('refuses search on an entity without searchable fields, and over-long queries, with BAD_USER_INPUT', async () => {
    const compile = (node: RootNode) => () => compileRead(t.model, { scope: { kind: 'all' }, roots: [{ responseKey: 'r', node }] });
    const e = refusal(compile({ kind: 'list', entity: 'project', args: { orderBy: [], search: 'x' }, selection: cols('id') }));
    expect(e.code).toBe('BAD_USER_INPUT');
    expect(e.message).toMatch(/project has no searchable fields/);
    expect(refusal(compile(books({ search: 'x'.repeat(1001) }))).message).toMatch(/at most 1000/);
    expect(refusal(compile({ kind: 'connection', entity: 'project', args: { orderBy: [], search: 'x', first: 1 }, fields: [] })).code).toBe('BAD_USER_INPUT');
  });
});

/**
 * Similarity search in the read compiler (SPEC G-6, S-5): `nearest` with each metric and `max_distance` on
 * lists, list pages, connections (keyset cursors over the distance) and nested relations; `_distance` checked
 * against distances computed in JavaScript; vector values as JSON arrays; bad inputs; tenant isolation; and
 * pgvector's operators against Lattice's `real[]` functions on the same data — on PGlite (pgvector) and
 * PostgreSQL 15 (no pgvector: `real[]`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VectorMetric } from '../../src/model/types.js';
import { decodeCursor } from '../../src/query/cursor.js';
import type { ConnectionArgs, ListArgs, NearestArg, OperationPlan, RootNode, Selection } from '../../src/query/plan.js';
import { compileRead, type CompileOptions } from '../../src/query/sql/compile.js';
import { createTestDb, TEST_KINDS, type TestDb, type TestKind } from '../support/db.js';
import { libraryModel } from './library-model.js';
import { AUTHORS, BOOKS, QUERIES, inB, nearestBooks, seedLibrary, type Library, refusal } from './library-fixture.js';
import { pageFields, walk, type Page } from './paging.js';
import { asc, cols, compileOptionsOf, runPlan } from './support.js';

const METRICS: VectorMetric[] = ['cosine', 'l2', 'inner_product'];
const dist: Selection = [{ responseKey: '_distance', kind: 'distance' }];
type Row = { id: string; _distance: number };


const dbs = new Map<TestKind, { t: TestDb; lib: Library }>();
beforeAll(async () => {
  for (const kind of TEST_KINDS) {
    const t = await createTestDb(kind, libraryModel());
    dbs.set(kind, { t, lib: await seedLibrary(t) });
  }
});
afterAll(async () => {
  for (const { t } of dbs.values()) await t.close();
});

const near = (metric: VectorMetric, vector: number[], maxDistance?: number): NearestArg => ({
  column: 'embedding',
  vector,
  metric,
  ...(maxDistance !== undefined ? { maxDistance } : {}),
});
const books = (args: Partial<ListArgs>, selection: Selection = [...cols('id'), ...dist]): RootNode => ({ kind: 'list', entity: 'book', args: { orderBy: [], ...args }, selection });

describe.each(TEST_KINDS)('similarity on %s', (kind) => {
  const t = () => dbs.get(kind)!.t;
  const lib = () => dbs.get(kind)!.lib;
  const run = async (roots: Array<[string, RootNode]>, who: 'A' | 'admin' = 'A') =>
    (await runPlan(t().db, t().model, who === 'A' ? lib().viewerA : lib().admin, roots)).data;

  describe.each(METRICS)('metric %s', (metric) => {
    it.each([0, 1])('orders by distance to query %i with _distance as computed in JavaScript; rows without a vector are left out', async (qi) => {
      const q = QUERIES[qi];
      const expected = nearestBooks(metric, q);
      // The fixture has no near-ties, so the order is decided by the distances alone.
      for (let i = 1; i < expected.length; i++) expect(expected[i].d - expected[i - 1].d).toBeGreaterThan(1e-4);
      const { all, top } = await run([
        ['all', books({ nearest: near(metric, q) })],
        ['top', books({ nearest: near(metric, q), limit: 4 })],
      ]);
      const rows = all as Row[];
      expect(rows.map((r) => r.id)).toEqual(expected.map((e) => e.id));
      rows.forEach((r, i) => expect(Math.abs(r._distance - expected[i].d)).toBeLessThan(1e-5));
      expect(top).toEqual(rows.slice(0, 4));
      expect(rows.some((r) => r.id === BOOKS[13].id)).toBe(false);
    });

    it('keeps rows within max_distance (inclusive) and counts them', async () => {
      const q = QUERIES[0];
      const ordered = nearestBooks(metric, q);
      const max = (ordered[4].d + ordered[5].d) / 2;
      const expected = nearestBooks(metric, q, max);
      expect(expected).toHaveLength(5);
      const { r } = await run([
        [
          'r',
          {
            kind: 'list_page',
            entity: 'book',
            args: { orderBy: [], nearest: near(metric, q, max), limit: 3 },
            fields: [
              { responseKey: 'total_count', kind: 'total_count' },
              { responseKey: 'items', kind: 'items', selection: [...cols('id'), ...dist] },
            ],
          },
        ],
      ]);
      const page = r as { total_count: number; items: Row[] };
      expect(page.total_count).toBe(5);
      expect(page.items.map((x) => x.id)).toEqual(expected.slice(0, 3).map((e) => e.id));
      expect(page.items.every((x) => x._distance <= max)).toBe(true);
    });

    it.each([1, 3])('walks a connection ordered by distance with page size %i', async (size) => {
      const nearest = near(metric, QUERIES[1]);
      const expected = nearestBooks(metric, QUERIES[1]).map((e) => e.id);
      const page = async (paging: Partial<ConnectionArgs>) =>
        (await run([['c', { kind: 'connection', entity: 'book', args: { orderBy: [], nearest, ...paging }, fields: pageFields(dist) }]])).c as Page;
      await walk(page, (raw) => decodeCursor(t().model, 'book', { orderBy: [], nearest }, raw), expected, size);
    });
  });

  it('refuses a cursor taken under another vector or metric', async () => {
    const nearest = near('cosine', QUERIES[0]);
    const c = (await run([['c', { kind: 'connection', entity: 'book', args: { orderBy: [], nearest, first: 2 }, fields: pageFields(dist) }]])).c as Page;
    const raw = c.page_info.end_cursor!;
    expect(decodeCursor(t().model, 'book', { orderBy: [], nearest }, raw).values).toHaveLength(2);
    for (const other of [near('cosine', QUERIES[1]), near('l2', QUERIES[0]), { ...nearest, column: 'embedding' as const, vector: [...QUERIES[0].slice(0, 3), 0.30000001] }]) {
      const e = refusal(() => decodeCursor(t().model, 'book', { orderBy: [], nearest: other }, raw));
      expect(e.code).toBe('BAD_USER_INPUT');
      expect(e.message).toMatch(/different ordering or entity/);
    }
  });

  it('keeps an explicit order_by over the distance, still only rows with a vector', async () => {
    const { r } = await run([['r', books({ nearest: near('l2', QUERIES[0]), orderBy: [asc('title')] }, [...cols('id', 'title'), ...dist])]]);
    const rows = r as Array<Row & { title: string }>;
    expect(rows).toHaveLength(BOOKS.length - 1);
    const titles = rows.map((x) => x.title);
    expect(titles).toEqual([...titles].sort((a, b) => a.localeCompare(b, 'en')));
    expect(rows.every((x) => typeof x._distance === 'number')).toBe(true);
  });

  it('returns vector values as JSON arrays of numbers (null when absent), the shortest text of each float4', async () => {
    const { r } = await run([['r', books({ orderBy: [asc('id')] }, cols('id', 'embedding'))]]);
    const rows = r as Array<{ id: string; embedding: number[] | null }>;
    // Stored as float4: each number read back as float4 is exactly the value written.
    expect(rows.map((x) => ({ id: x.id, embedding: x.embedding && x.embedding.map(Math.fround) }))).toEqual(BOOKS.map((b) => ({ id: b.id, embedding: b.embedding })));
    expect(rows[0].embedding![0]).toBe(Number(Math.fround(BOOKS[0].embedding![0]).toPrecision(6)));
  });

  it('orders nested to-many relations by distance per parent row', async () => {
    const { r } = await run([
      [
        'r',
        {
          kind: 'list',
          entity: 'author',
          args: { orderBy: [asc('name')] },
          selection: [...cols('id'), { responseKey: 'near', kind: 'to_many', relation: 'books', node: { kind: 'list', entity: 'book', args: { orderBy: [], nearest: near('cosine', QUERIES[0]), limit: 2 }, selection: [...cols('id'), ...dist] } }],
        },
      ],
    ]);
    const all = nearestBooks('cosine', QUERIES[0]);
    for (const a of r as Array<{ id: string; near: Row[] }>) {
      const mine = all.filter((e) => BOOKS.find((b) => b.id === e.id)!.author_id === a.id).slice(0, 2);
      expect(a.near.map((x) => x.id)).toEqual(mine.map((e) => e.id));
    }
    expect((r as unknown[]).length).toBe(AUTHORS.length);
  });

  it('never returns, ranks or counts another project\'s rows, though they lie nearer', async () => {
    const q = QUERIES[0];
    const page = (limit: number): RootNode => ({
      kind: 'list_page',
      entity: 'book',
      args: { orderBy: [], nearest: near('l2', q), limit },
      fields: [
        { responseKey: 'total_count', kind: 'total_count' },
        { responseKey: 'items', kind: 'items', selection: [...cols('id'), ...dist] },
      ],
    });
    const a = (await run([['p', page(3)]])).p as { total_count: number; items: Row[] };
    const all = (await run([['p', page(3)]], 'admin')).p as { total_count: number; items: Row[] };
    const expected = nearestBooks('l2', q);
    expect(a.total_count).toBe(expected.length);
    expect(a.items.map((x) => x.id)).toEqual(expected.slice(0, 3).map((e) => e.id));
    expect(all.total_count).toBe(2 * expected.length);
    // B's copies, nudged towards q, come first for the admin: a leak would have shown them to A.
    expect(all.items[0].id).toBe(inB(expected[0].id));
    expect(all.items[0]._distance).toBeLessThan(a.items[0]._distance);
  });

  it('refuses bad nearest arguments with BAD_USER_INPUT', async () => {
    const options = await compileOptionsOf(t().db);
    const compile = (nearest: NearestArg, entity = 'book') => () =>
      compileRead(t().model, { scope: { kind: 'all' }, roots: [{ responseKey: 'r', node: { kind: 'list', entity, args: { orderBy: [], nearest }, selection: cols('id') } }] }, options);
    const cases: Array<[NearestArg, RegExp]> = [
      [near('cosine', [1, 2, 3]), /has 3 numbers; book.embedding has 4 dimensions/],
      [near('cosine', []), /vector is empty/],
      [near('l2', [1, Number.NaN, 0, 0]), /vector\[1\] is NaN/],
      [near('l2', [1, 0, Number.POSITIVE_INFINITY, 0]), /vector\[2\] is Infinity/],
      [near('l2', [1, 0, 0, 1e39]), /vector\[3\] is 1e\+39/],
      [near('l2', [1, 0, '1' as unknown as number, 0]), /vector\[2\] is "1"/],
      [near('cosine', [0, 0, 0, 0]), /all zeros/],
      [near('cosine', QUERIES[0], -0.1), /never negative/],
      [near('l2', QUERIES[0], Number.NaN), /max_distance must be a finite number/],
      [{ ...near('cosine', QUERIES[0]), metric: 'dot' as VectorMetric }, /metric is "dot"/],
      [{ ...near('cosine', QUERIES[0]), column: 'title' }, /"title", which is not a vector field of book; its vector fields are: embedding/],
      [{ ...near('cosine', QUERIES[0]), column: 'nope' }, /not a vector field/],
    ];
    for (const [arg, message] of cases) {
      const e = refusal(compile(arg));
      expect(e.code).toBe('BAD_USER_INPUT');
      expect(e.message).toMatch(message);
    }
    expect(refusal(compile(near('cosine', QUERIES[0]), 'author')).message).toMatch(/author has no vector fields/);
    // A negative bound is meaningful for the negative inner product.
    const ip = (await run([['r', books({ nearest: near('inner_product', QUERIES[0], -0.5) })]])).r as Row[];
    expect(ip.map((x) => x.id)).toEqual(nearestBooks('inner_product', QUERIES[0], -0.5).map((e) => e.id));
    expect(ip.length).toBeGreaterThan(0);
  });

  it('treats elements below float4 range as 0 on both storages (pgvector rounds them; real[] input would fail)', async () => {
    const q = QUERIES[0];
    const tiny = [...q.slice(0, 3), 1e-50];
    const zeroed = [...q.slice(0, 3), 0];
    const { a, b } = await run([
      ['a', books({ nearest: near('l2', tiny) })],
      ['b', books({ nearest: near('l2', zeroed) })],
    ]);
    expect((a as Row[]).length).toBeGreaterThan(0);
    expect(a).toEqual(b);
  });

  it('uses the storage of this database: operators and the iterative-scan gate with pgvector, functions without', async () => {
    const options = await compileOptionsOf(t().db);
    expect(options.vectors).toBe(kind === 'pglite' ? 'pgvector' : 'array');
    const { text } = compileRead(t().model, { scope: { kind: 'all' }, roots: [{ responseKey: 'r', node: books({ nearest: near('inner_product', QUERIES[0]), limit: 2 }) }] }, options);
    if (options.vectors === 'pgvector') {
      expect(text).toMatch(/"embedding" <#> \$\d+::vector/);
      expect(text).toMatch(/WHERE \(SELECT set_config\('hnsw.iterative_scan', 'strict_order', true\)\) IS NOT NULL$/);
    } else {
      expect(text).toMatch(/"lattice"\."vec_negative_inner_product"\(t\d+\."embedding", \$\d+::real\[\]\)/);
      expect(text).not.toMatch(/hnsw/);
    }
  });
});

describe('pgvector operators and the real[] functions agree', () => {
  const plan = (metric: VectorMetric, q: number[]): OperationPlan => ({
    scope: { kind: 'all' },
    roots: [{ responseKey: 'r', node: books({ nearest: near(metric, q) }) }],
  });
  const runWith = async (t: TestDb, options: CompileOptions, p: OperationPlan) => {
    const { text, params } = compileRead(t.model, p, options);
    const { rows } = await t.db.query<{ data: string }>(text, params);
    return (JSON.parse(rows[0].data) as { r: Row[] }).r;
  };
  const same = (x: Row[], y: Row[]) => {
    expect(x.map((r) => r.id)).toEqual(y.map((r) => r.id));
    x.forEach((r, i) => expect(Math.abs(r._distance - y[i]._distance)).toBeLessThan(1e-5));
  };

  it('on PGlite: <=>, <->, <#> on vector(4) and lattice.vec_* on the same values cast to real[]', async () => {
    const { t } = dbs.get('pglite')!;
    for (const metric of METRICS) {
      for (const q of QUERIES) {
        const operators = await runWith(t, { vectors: 'pgvector', hnswIterativeScan: true }, plan(metric, q));
        const functions = await runWith(t, { vectors: 'array' }, plan(metric, q));
        expect(operators).toHaveLength(2 * (BOOKS.length - 1));
        same(operators, functions);
      }
    }
  });

  it.skipIf(!TEST_KINDS.includes('postgres'))('the same plan on PGlite (pgvector) and PostgreSQL (real[]): same order, same distances', async () => {
    const pglite = dbs.get('pglite')!.t;
    const postgres = dbs.get('postgres')!.t;
    for (const metric of METRICS) {
      for (const q of QUERIES) {
        const a = await runWith(pglite, await compileOptionsOf(pglite.db), plan(metric, q));
        const b = await runWith(postgres, await compileOptionsOf(postgres.db), plan(metric, q));
        expect(a).toHaveLength(b.length);
        same(a, b);
      }
    }
  });
});

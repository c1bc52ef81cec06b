/**
 * `GET /api/v1/<plural>?search=…&nearest=…` (SPEC R-1, G-6) on every test database: full-text search ordered
 * by rank, similarity ordered by distance (with `max_distance` and each metric), both combined with `filter`
 * and paging in one statement; `_rank` / `_distance` on items (equal to GraphQL's); another project's rows are
 * never matched, counted or ranked; and a 400 naming the parameter and the path inside it for bad input.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import { executeGraphQL } from '../../src/graphql/execute.js';
import { schemaFor } from '../../src/graphql/schema/build.js';
import { loadModelDocument } from '../../src/model/load.js';
import { DEFAULT_LIMITS } from '../../src/server/context.js';
import { createProject, createTestDb, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';
import { compileOptionsOf, uid } from '../query/support.js';
import { buildRestApp, call } from './app.js';

const model = loadModelDocument({
  name: 'library',
  search_config: 'english',
  entities: {
    doc: {
      fields: {
        title: { type: 'string', required: true, searchable: true },
        body: { type: 'text', searchable: true },
        topic: { type: 'enum', values: ['db', 'food'] },
        embedding: { type: 'vector', dimensions: 3, metrics: ['cosine', 'l2'] },
      },
    },
    note: { fields: { text: { type: 'string' } } },
  },
});

const D = { pg: uid(1), pasta: uid(2), vec: uid(3), novec: uid(4), secret: uid(9) };

describe.each(TEST_KINDS)('REST search= and nearest= on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let viewerA: Principal;

  beforeAll(async () => {
    t = await createTestDb(kind, model);
    const A = await createProject(t.db, 'A');
    const B = await createProject(t.db, 'B');
    viewerA = testPrincipal('viewer', [A]);
    app = await buildRestApp(t, 500);
    const docs = [
      { id: D.pg, title: 'Postgres indexing guide', body: 'btree and gin indexes', topic: 'db', embedding: [1, 0, 0] },
      { id: D.pasta, title: 'Cooking pasta', body: 'boil the water first', topic: 'food', embedding: [0, 1, 0] },
      { id: D.vec, title: 'Vector search', body: 'hnsw in postgres, mostly', topic: 'db', embedding: [0.9, 0.1, 0] },
      { id: D.novec, title: 'Postgres without vectors', body: null, topic: null, embedding: null },
    ];
    const a = await call(app, testPrincipal('editor', [A]), 'POST', '/api/v1/docs', docs);
    expect(a.statusCode, a.body).toBe(201);
    const b = await call(app, testPrincipal('editor', [B]), 'POST', '/api/v1/docs', {
      id: D.secret, title: 'Postgres indexing guide, secret edition', body: 'postgres postgres postgres', topic: 'db', embedding: [1, 0, 0],
    });
    expect(b.statusCode, b.body).toBe(201);
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  /** GET as viewer of A; asserts 200 and one statement. */
  async function get(query: string) {
    const before = t.db.stats.statements;
    const res = await call(app, viewerA, 'GET', `/api/v1/docs?${query}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(t.db.stats.statements - before).toBe(1);
    return res.data as { items: Array<Record<string, any>>; total_count: number };
  }
  const ids = (page: { items: Array<Record<string, any>> }) => page.items.map((r) => r.id);
  const near = (vector: number[], more: Record<string, unknown> = {}) => `nearest=${encodeURIComponent(JSON.stringify({ embedding: { vector, ...more } }))}`;

  it('searches the searchable fields (stemmed), best rank first, within the project', async () => {
    const page = await get('search=postgres');
    expect(page.total_count).toBe(3);
    // Title hits (weight A; equal ranks, then id) before a body hit (weight B).
    expect(ids(page)).toEqual([D.pg, D.novec, D.vec]);
    expect(ids(await get('search=indexes'))).toEqual([D.pg]); // "indexing" and "indexes" share a stem
    expect(ids(await get(`search=${encodeURIComponent('postgres -vector')}`))).toEqual([D.pg]);
    expect((await get('search=pasta')).total_count).toBe(1);
    expect((await get('search=secret')).total_count).toBe(0); // B's row
  });

  it('combines search with filter, order_by and paging', async () => {
    const f = encodeURIComponent(JSON.stringify({ topic: { eq: 'db' } }));
    expect(new Set(ids(await get(`search=postgres&filter=${f}`)))).toEqual(new Set([D.pg, D.vec]));
    const page = await get(`search=postgres&order_by=title&limit=1&offset=1`);
    expect(page.total_count).toBe(3);
    expect(page.items.map((r) => r.title)).toEqual(['Postgres without vectors']);
  });

  it('orders by distance (cosine by default), skips rows without a vector, honours max_distance and metric', async () => {
    const all = await get(near([1, 0, 0]));
    expect(ids(all)).toEqual([D.pg, D.vec, D.pasta]);
    expect(all.total_count).toBe(3);
    expect(ids(await get(near([1, 0, 0], { max_distance: 0.1 })))).toEqual([D.pg, D.vec]);
    expect(ids(await get(near([0, 1, 0], { metric: 'l2', max_distance: 1 })))).toEqual([D.pasta]);
    expect(ids(await get(near([0, 1, 0], { metric: 'inner_product' })))).toEqual([D.pasta, D.vec, D.pg]);
    expect(ids(await get(`${near([1, 0, 0])}&order_by=-title`))).toEqual([D.vec, D.pg, D.pasta]);
  });

  it('combines nearest with filter and search in one statement', async () => {
    const f = encodeURIComponent(JSON.stringify({ topic: { eq: 'db' } }));
    expect(ids(await get(`${near([0, 1, 0])}&filter=${f}`))).toEqual([D.vec, D.pg]);
    expect(ids(await get(`${near([0, 1, 0])}&search=postgres`))).toEqual([D.vec, D.pg]);
    expect(ids(await get(`${near([1, 0, 0])}&search=postgres&limit=1`))).toEqual([D.pg]);
  });

  /** Run a GraphQL query as viewer of A (one statement) and return its data. */
  async function gql(query: string): Promise<Record<string, any>> {
    const res = await executeGraphQL(
      { model: t.model, schema: schemaFor(t.model), db: t.db, principal: viewerA, config: { mode: 'production', limits: DEFAULT_LIMITS }, compile: await compileOptionsOf(t.db) },
      { query },
    );
    const body = JSON.parse(res.body) as { data?: Record<string, any>; errors?: unknown[] };
    expect(body.errors).toBeUndefined();
    return body.data!;
  }

  it('adds _rank to items with search (descending by default, as in GraphQL) and nothing without it', async () => {
    const page = await get('search=postgres');
    const ranks = page.items.map((r) => r._rank);
    expect(ranks.every((r) => typeof r === 'number' && r > 0)).toBe(true);
    expect([...ranks].sort((x, y) => y - x)).toEqual(ranks);
    expect(ranks[0]).toBeGreaterThan(ranks[2]); // title hit (weight A) above a body hit (weight B)
    const g = await gql('{ docs(search: "postgres") { id _rank } }');
    expect(page.items.map((r) => [r.id, r._rank])).toEqual(g.docs.map((d: { id: string; _rank: number }) => [d.id, d._rank]));
    // With order_by the rank is still reported, in that ordering.
    const byTitle = await get('search=postgres&order_by=title');
    expect(byTitle.items.map((r) => r.title)).toEqual(['Postgres indexing guide', 'Postgres without vectors', 'Vector search']);
    expect(byTitle.items.every((r) => typeof r._rank === 'number')).toBe(true);
    const plain = await get('order_by=title');
    expect(plain.items.every((r) => !('_rank' in r) && !('_distance' in r))).toBe(true);
    expect(Object.keys(plain.items[0]).sort()).toEqual(Object.keys(byTitle.items[0]).filter((k) => k !== '_rank').sort());
  });

  it('adds _distance to items with nearest (ascending by default), equal to GraphQL\'s, and both with search', async () => {
    for (const metric of ['cosine', 'l2', 'inner_product'] as const) {
      const page = await get(near([1, 0.5, 0], { metric }));
      const distances = page.items.map((r) => r._distance);
      expect(distances.every((d) => typeof d === 'number')).toBe(true);
      expect([...distances].sort((x, y) => x - y)).toEqual(distances);
      expect(page.items.every((r) => !('_rank' in r))).toBe(true);
      const g = await gql(`{ docs(nearest: { embedding: { vector: [1, 0.5, 0], metric: ${metric.toUpperCase()} } }) { id _distance } }`);
      expect(page.items.map((r) => r.id)).toEqual(g.docs.map((d: { id: string }) => d.id));
      page.items.forEach((r, i) => expect(r._distance).toBe(g.docs[i]._distance));
    }
    // pgvector's cosine distance of [1,0,0] and [0.9,0.1,0]: 1 − 0.9/√0.82 (float4 arithmetic).
    const cos = await get(near([1, 0, 0]));
    expect(cos.items.map((r) => r._distance)[0]).toBeCloseTo(0, 6);
    expect(cos.items[1]._distance).toBeCloseTo(1 - 0.9 / Math.sqrt(0.82), 5);
    const both = await get(`${near([0, 1, 0])}&search=postgres`);
    expect(ids(both)).toEqual([D.vec, D.pg]); // by distance; the row without a vector is left out
    expect(both.items.every((r) => typeof r._rank === 'number' && typeof r._distance === 'number')).toBe(true);
  });

  it.each([
    ['search on an entity without searchable fields', '/api/v1/notes?search=x', 'search', 'notes have no searchable fields'],
    ['a search text that is too long', `/api/v1/docs?search=${'a'.repeat(1001)}`, 'search', 'at most 1000'],
    ['nearest on an entity without vectors', `/api/v1/notes?nearest=${encodeURIComponent('{"x":{"vector":[1]}}')}`, 'nearest', 'no vector field'],
    ['nearest that is not JSON', '/api/v1/docs?nearest=%5B1%2C', 'nearest', 'not valid JSON'],
    ['nearest naming a non-vector field', `/api/v1/docs?nearest=${encodeURIComponent('{"title":{"vector":[1,0,0]}}')}`, 'nearest.title', 'not a vector field of doc; use one of: embedding'],
    ['nearest naming two fields', `/api/v1/docs?nearest=${encodeURIComponent('{"embedding":{"vector":[1,0,0]},"x":{}}')}`, 'nearest', 'exactly one vector field'],
    ['a vector of the wrong length', `/api/v1/docs?nearest=${encodeURIComponent('{"embedding":{"vector":[1,0]}}')}`, 'nearest.embedding.vector', 'expected 3 numbers'],
    ['an empty vector', `/api/v1/docs?nearest=${encodeURIComponent('{"embedding":{"vector":[]}}')}`, 'nearest.embedding.vector', 'expected 3 numbers'],
    ['a non-number element', `/api/v1/docs?nearest=${encodeURIComponent('{"embedding":{"vector":[1,"x",0]}}')}`, 'nearest.embedding.vector[1]', 'finite number'],
    ['an infinite element', `/api/v1/docs?nearest=${encodeURIComponent('{"embedding":{"vector":[1,1e999,0]}}')}`, 'nearest', 'too large'],
    ['a missing vector', `/api/v1/docs?nearest=${encodeURIComponent('{"embedding":{"metric":"l2"}}')}`, 'nearest.embedding.vector', 'expected an array of 3 numbers'],
    ['an unknown metric', `/api/v1/docs?nearest=${encodeURIComponent('{"embedding":{"vector":[1,0,0],"metric":"COSINE"}}')}`, 'nearest.embedding.metric', 'cosine, l2, inner_product'],
    ['an unknown key', `/api/v1/docs?nearest=${encodeURIComponent('{"embedding":{"vector":[1,0,0],"k":5}}')}`, 'nearest.embedding.k', 'unknown key'],
    ['a non-numeric max_distance', `/api/v1/docs?nearest=${encodeURIComponent('{"embedding":{"vector":[1,0,0],"max_distance":"0.5"}}')}`, 'nearest.embedding.max_distance', 'finite number'],
  ])('400 for %s', async (_name, url, path, message) => {
    const res = await call(app, viewerA, 'GET', url);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.data.error.code).toBe('BAD_USER_INPUT');
    expect(res.data.error.message).toContain(`${path}: `);
    expect(res.data.error.message).toContain(message);
    expect(res.data.error.details[0].path).toBe(`querystring.${path}`);
  });
});

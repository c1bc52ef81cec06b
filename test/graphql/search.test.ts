/**
 * The GraphQL surface of search, similarity and nested ordering (SPEC G-2, G-3, G-5, G-6): generated
 * arguments and types (only where the entity has searchable / vector fields), `_rank` / `_distance`, nested
 * `<Type>OrderBy`, the planner's conversion and errors, and whole requests through `executeGraphQL` — one data
 * statement each — on PGlite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, printSchema, validate, type GraphQLInputObjectType, type GraphQLObjectType } from 'graphql';
import { GraphQLRequestError } from '../../src/graphql/errors.js';
import { createApiKey } from '../../src/auth/api-keys.js';
import { executeGraphQL } from '../../src/graphql/execute.js';
import { buildServer } from '../../src/server/app.js';
import { planOperation } from '../../src/graphql/plan/operation.js';
import { buildSchema, schemaFor } from '../../src/graphql/schema/build.js';
import type { Principal } from '../../src/auth/principal.js';
import type { ListNode } from '../../src/query/plan.js';
import { createTestDb, testPrincipal, TEST_KINDS, type TestDb } from '../support/db.js';
import { libraryModel } from '../query/library-model.js';
import { BOOKS, QUERIES, REVIEWS, AUTHORS, ROBOT_BOOKS, nearestBooks, seedLibrary, type Library } from '../query/library-fixture.js';
import { compileOptionsOf } from '../query/support.js';

const model = libraryModel();
const schema = buildSchema(model);
const limits = { maxLimit: 100, maxDepth: 8 };

function plan(query: string, variables?: Record<string, unknown>) {
  const doc = parse(query);
  const errors = validate(schema, doc);
  if (errors.length) throw new Error(errors.map((e) => e.message).join('; '));
  return planOperation({ model, schema, principal: testPrincipal('admin'), limits }, doc, undefined, variables);
}

function planError(query: string, variables?: Record<string, unknown>): GraphQLRequestError {
  try {
    plan(query, variables);
  } catch (err) {
    if (err instanceof GraphQLRequestError) return err;
    throw err;
  }
  throw new Error('expected a GraphQLRequestError');
}

describe('schema', () => {
  const sdl = printSchema(schema);
  const args = (type: string, field: string) => ((schema.getType(type) as GraphQLObjectType).getFields()[field]?.args ?? []).map((a) => a.name);

  it('adds search where the entity has searchable fields and nearest where it has vector fields, in every list shape', () => {
    for (const f of ['books', 'book_list', 'book_connection']) expect(args('Query', f)).toEqual(expect.arrayContaining(['search', 'nearest']));
    for (const f of ['books', 'books_list', 'books_connection']) expect(args('Author', f)).toEqual(expect.arrayContaining(['search', 'nearest']));
    for (const f of ['reviews', 'review_list', 'review_connection']) {
      expect(args('Query', f)).toContain('search');
      expect(args('Query', f)).not.toContain('nearest');
    }
    for (const f of ['projects', 'project_list', 'project_connection']) expect(args('Query', f)).not.toContain('search');
    expect(args('Project', 'books')).toEqual(expect.arrayContaining(['search', 'nearest']));
  });

  it('generates VectorMetric, VectorNearest, <Type>Nearest, _rank, _distance and nested order inputs', () => {
    expect(sdl).toContain('enum VectorMetric {');
    expect(sdl).toMatch(/input VectorNearest \{[^}]*vector: \[Float!\]![^}]*metric: VectorMetric = COSINE[^}]*max_distance: Float\n/s);
    expect(sdl).toMatch(/input BookNearest \{[^}]*embedding: VectorNearest\n\}/s);
    const fields = (type: string) => Object.keys((schema.getType(type) as GraphQLObjectType).getFields());
    expect(fields('Book')).toEqual(expect.arrayContaining(['_rank', '_distance']));
    expect(fields('Review')).toContain('_rank');
    expect(fields('Review')).not.toContain('_distance');
    expect(fields('Project')).not.toContain('_rank');
    const order = (type: string) => (schema.getType(type) as GraphQLInputObjectType).getFields();
    expect(String(order('ReviewOrderBy').book.type)).toBe('BookOrderBy');
    expect(String(order('BookOrderBy').author.type)).toBe('AuthorOrderBy');
    expect(String(order('BookOrderBy').project.type)).toBe('ProjectOrderBy');
    expect(order('AuthorOrderBy').books).toBeUndefined(); // to-many relations do not order
  });

  it('follows naming: graphql-default (camelCase parts, _rank and _distance unchanged)', () => {
    const camelSchema = buildSchema(libraryModel((doc) => (doc.naming = 'graphql-default')));
    const camel = printSchema(camelSchema);
    expect(camel).toMatch(/input VectorNearest \{[^}]*maxDistance: Float/s);
    expect(camel).toMatch(/_rank: Float/);
    const conn = (camelSchema.getType('Query') as GraphQLObjectType).getFields().bookConnection;
    expect(conn.args.map((a) => `${a.name}: ${String(a.type)}`)).toEqual(expect.arrayContaining(['search: String', 'nearest: BookNearest', 'orderBy: [BookOrderBy!]']));
  });
});

describe('planner', () => {
  it('plans search, nearest (exactly one vector field) and nested order_by', () => {
    const p = plan(`query ($v: [Float!]!) {
      books(search: "robot", nearest: { embedding: { vector: $v, metric: L2, max_distance: 2.5 } }, order_by: [{ author: { name: DESC } }, { year: ASC_NULLS_FIRST }]) { id _rank _distance }
      reviews(order_by: [{ book: { author: { country: ASC } } }]) { id }
    }`, { v: [1, 2, 3, 4] });
    const books = p.roots[0].node as ListNode;
    expect(books.args.search).toBe('robot');
    expect(books.args.nearest).toEqual({ column: 'embedding', vector: [1, 2, 3, 4], metric: 'l2', maxDistance: 2.5 });
    expect(books.args.orderBy).toEqual([
      { path: ['author'], column: 'name', direction: 'DESC', nulls: 'FIRST' },
      { column: 'year', direction: 'ASC', nulls: 'FIRST' },
    ]);
    expect(books.selection).toEqual([
      { responseKey: 'id', kind: 'column', column: 'id' },
      { responseKey: '_rank', kind: 'rank' },
      { responseKey: '_distance', kind: 'distance' },
    ]);
    expect((p.roots[1].node as ListNode).args.orderBy).toEqual([{ path: ['book', 'author'], column: 'country', direction: 'ASC', nulls: 'LAST' }]);
    // Metric defaults to COSINE.
    expect((plan('{ books(nearest: { embedding: { vector: [1, 0, 0, 0] } }) { id } }').roots[0].node as ListNode).args.nearest).toEqual({ column: 'embedding', vector: [1, 0, 0, 0], metric: 'cosine' });
  });

  it('refuses an empty nearest and order items setting several fields at a nested level', () => {
    const e = planError('{ books(nearest: {}) { id } }');
    expect(e.code).toBe('BAD_USER_INPUT');
    expect(e.message).toMatch(/sets 0 vector fields; set exactly one of: embedding/);
    const o = planError('{ reviews(order_by: [{ book: { title: ASC, year: DESC } }]) { id } }');
    expect(o.code).toBe('BAD_USER_INPUT');
    expect(o.message).toMatch(/order_by\[0\]\.book sets 2 fields/);
    expect(planError('{ reviews(order_by: [{ book: {} }]) { id } }').message).toMatch(/order_by\[0\]\.book sets 0 fields/);
  });
});

describe.each(TEST_KINDS)('GraphQL requests on %s', (kind) => {
  let t: TestDb;
  let lib: Library;

  beforeAll(async () => {
    t = await createTestDb(kind, libraryModel());
    lib = await seedLibrary(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Run a request; asserts one data statement (trace) for successful data requests. */
  async function gql(query: string, variables?: Record<string, unknown>, principal: Principal = lib.viewerA) {
    const res = await executeGraphQL(
      { model: t.model, schema: schemaFor(t.model), db: t.db, principal, config: { mode: 'production', limits }, compile: await compileOptionsOf(t.db) },
      { query, variables },
      { trace: true },
    );
    const body = JSON.parse(res.body) as { data?: Record<string, any>; errors?: Array<{ message: string; extensions: { code: string } }>; extensions?: { tracing: { statements: number } } };
    if (!body.errors) expect(body.extensions!.tracing.statements).toBe(1);
    return { status: res.status, ...body };
  }

  it('answers search with _rank, nested to-many search, and a connection over the rank in one statement each', async () => {
    const r = await gql(`{
      books(search: "robot") { id _rank _distance }
      authors(order_by: [{ name: ASC }]) { name books(search: "robot") { id } books_list(search: "robot", limit: 1, offset: 0) { total_count } }
      book_connection(search: "robot", first: 3) { total_count edges { cursor node { id } } page_info { has_next_page end_cursor } }
    }`);
    expect(r.errors).toBeUndefined();
    const books = r.data!.books as Array<{ id: string; _rank: number; _distance: null }>;
    expect(books.map((b) => b.id).sort()).toEqual([...ROBOT_BOOKS].sort());
    expect(books.every((b) => b._rank > 0 && b._distance === null)).toBe(true);
    const asimov = (r.data!.authors as Array<{ name: string; books: unknown[]; books_list: { total_count: number } }>).find((a) => a.name === 'Isaac Asimov')!;
    expect(asimov.books).toHaveLength(3);
    expect(asimov.books_list.total_count).toBe(3);
    const conn = r.data!.book_connection;
    expect(conn.total_count).toBe(ROBOT_BOOKS.length);
    expect(conn.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(books.slice(0, 3).map((b) => b.id));
    const next = await gql('query ($after: String) { book_connection(search: "robot", first: 10, after: $after) { edges { node { id } } } }', { after: conn.page_info.end_cursor });
    expect(next.data!.book_connection.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(books.slice(3).map((b) => b.id));
    // A cursor of another search is refused.
    const foreign = await gql('query ($after: String) { book_connection(search: "dragon", first: 1, after: $after) { total_count } }', { after: conn.page_info.end_cursor });
    expect(foreign.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect(foreign.errors![0].message).toMatch(/different ordering or entity/);
  });

  it('answers nearest with _distance, max_distance and a connection over the distance', async () => {
    const q = QUERIES[0];
    const expected = nearestBooks('inner_product', q);
    const r = await gql(
      `query ($v: [Float!]!, $max: Float) {
        near: books(nearest: { embedding: { vector: $v, metric: INNER_PRODUCT } }, limit: 3) { id _distance }
        within: book_list(nearest: { embedding: { vector: $v, metric: INNER_PRODUCT, max_distance: $max } }, limit: 2, offset: 0) { total_count items { id } }
        conn: book_connection(nearest: { embedding: { vector: $v, metric: INNER_PRODUCT } }, last: 2) { edges { node { id _distance } } page_info { has_previous_page } }
      }`,
      // Between the 4th and 5th distance: pgvector computes in float4, so a bound equal to a distance is a coin toss.
      { v: q, max: (expected[3].d + expected[4].d) / 2 },
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.near.map((b: { id: string }) => b.id)).toEqual(expected.slice(0, 3).map((e) => e.id));
    r.data!.near.forEach((b: { _distance: number }, i: number) => expect(Math.abs(b._distance - expected[i].d)).toBeLessThan(1e-5));
    expect(r.data!.within).toEqual({ total_count: 4, items: expected.slice(0, 2).map((e) => ({ id: e.id })) });
    expect(r.data!.conn.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(expected.slice(-2).map((e) => e.id));
    expect(r.data!.conn.page_info.has_previous_page).toBe(true);
  });

  it('orders by fields of related rows through two to-one hops', async () => {
    const r = await gql('{ reviews(order_by: [{ book: { author: { name: DESC_NULLS_LAST } } }, { stars: DESC }]) { id stars book { author { name } } } }');
    expect(r.errors).toBeUndefined();
    const rows = r.data!.reviews as Array<{ id: string; stars: number; book: { author: { name: string } | null } }>;
    expect(rows).toHaveLength(REVIEWS.length);
    const names = rows.map((x) => x.book.author?.name ?? null);
    const order = [...AUTHORS.map((a) => a.name)].sort().reverse();
    const rank = (n: string | null) => (n === null ? order.length : order.indexOf(n));
    for (let i = 1; i < rows.length; i++) {
      expect(rank(names[i - 1])).toBeLessThanOrEqual(rank(names[i]));
      if (names[i - 1] === names[i]) expect(rows[i - 1].stars).toBeGreaterThanOrEqual(rows[i].stars);
    }
    expect(names.at(-1)).toBeNull();
  });

  it('answers bad inputs with BAD_USER_INPUT', async () => {
    const wrong = await gql('{ books(nearest: { embedding: { vector: [1, 2, 3] } }) { id } }');
    expect(wrong.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect(wrong.errors![0].message).toMatch(/4 dimensions/);
    const empty = await gql('{ books(nearest: { embedding: { vector: [] } }) { id } }');
    expect(empty.errors![0].message).toMatch(/vector is empty/);
    const noSearch = await gql('{ projects(search: "x") { id } }');
    expect(noSearch.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect(noSearch.errors![0].message).toMatch(/Unknown argument "search"/);
    const huge = await gql('{ books(nearest: { embedding: { vector: [1e39, 0, 0, 0] } }) { id } }');
    expect(huge.errors![0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('through the whole server: storage decided once at start (said once without pgvector), nearest over HTTP', async () => {
    const lines: string[] = [];
    const { app } = await buildServer({ db: t.db, model: t.model, logger: { level: 'warn', stream: { write: (l: string) => void lines.push(l) } } });
    try {
      const warnings = lines.filter((l) => l.includes('pgvector is not available'));
      expect(warnings).toHaveLength(kind === 'postgres' ? 1 : 0);
      if (kind === 'postgres') expect(warnings[0]).toMatch(/vectors stored as real\[\], exact distances computed by SQL functions; slower/);
      const key = await createApiKey(t.db, { projectId: lib.A, role: 'viewer' });
      const res = await app.inject({
        method: 'POST',
        url: '/graphql',
        headers: { authorization: `Bearer ${key.secret_key}`, 'content-type': 'application/json', 'x-lattice-trace': '1' },
        payload: { query: 'query ($v: [Float!]!) { books(nearest: { embedding: { vector: $v, metric: L2 } }, limit: 2) { id } }', variables: { v: QUERIES[1] } },
      });
      const body = JSON.parse(res.body);
      expect(body.data.books.map((b: { id: string }) => b.id)).toEqual(nearestBooks('l2', QUERIES[1]).slice(0, 2).map((e) => e.id));
      expect(body.extensions.tracing.statements).toBe(1);
    } finally {
      await app.close();
    }
    expect(lines.filter((l) => l.includes('pgvector')).length).toBeLessThanOrEqual(1);
  });

  it('never shows another project\'s rows to a viewer under search and nearest', async () => {
    const query = `query ($v: [Float!]!) {
      s: book_list(search: "robot", limit: 100, offset: 0) { total_count items { id } }
      n: book_list(nearest: { embedding: { vector: $v, metric: L2 } }, limit: 100, offset: 0) { total_count items { id } }
    }`;
    const a = await gql(query, { v: QUERIES[0] });
    const admin = await gql(query, { v: QUERIES[0] }, lib.admin);
    const mine = new Set(BOOKS.map((b) => b.id));
    for (const k of ['s', 'n']) {
      expect(a.data![k].items.every((x: { id: string }) => mine.has(x.id))).toBe(true);
      expect(admin.data![k].total_count).toBe(2 * a.data![k].total_count);
    }
    expect(a.data!.s.total_count).toBe(ROBOT_BOOKS.length);
    expect(a.data!.n.total_count).toBe(BOOKS.length - 1);
  });
});

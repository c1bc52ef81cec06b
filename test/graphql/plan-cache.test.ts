/**
 * The plan cache (SPEC G-11, issue 9 item 2) against real databases: repeated documents with new variable
 * values answer from the cache with the new values, variable shapes never share a plan, principals never see
 * each other's rows through a shared plan, a model swap starts from an empty cache, the LRU bounds hold, and
 * what is not cached. Every hit is also compiled afresh and compared (`verify`), so a cached statement that
 * differs from a fresh one fails the request with INTERNAL. The statement-level equivalence over every
 * argument kind is in `plan-cache-equivalence.test.ts`.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import { executeGraphQL, type GraphQLExecContext } from '../../src/graphql/execute.js';
import { clearPlanCache, configurePlanCache, planCacheStats } from '../../src/graphql/plan-cache.js';
import { schemaFor } from '../../src/graphql/schema/build.js';
import { loadPreset } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';

interface Answer {
  status: number;
  data?: any;
  errors?: Array<{ message: string; extensions: { code: string } }>;
  cache?: 'hit' | 'miss';
}

describe.each(TEST_KINDS)('plan cache on %s', (kind) => {
  let t: TestDb;
  let pA: string;
  let pB: string;
  let A: Principal;
  let B: Principal;
  const admin = testPrincipal('admin');
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    configurePlanCache({ verify: true });
    t = await createTestDb(kind);
    pA = await createProject(t.db, 'A');
    pB = await createProject(t.db, 'B');
    A = testPrincipal('viewer', [pA]);
    B = testPrincipal('viewer', [pB]);
    const rows = await insertRows<{ id: string; name: string }>(t.db, 'experiment', [
      { project_id: pA, name: 'alpha', kind: 'mlp' },
      { project_id: pA, name: 'beta', kind: 'cnn' },
      { project_id: pA, name: 'gamma', kind: 'mlp' },
      { project_id: pB, name: 'delta', kind: 'mlp' },
      { project_id: pB, name: 'epsilon', kind: 'cnn' },
    ]);
    for (const r of rows) ids[r.name] = r.id;
  });

  afterAll(async () => {
    configurePlanCache({});
    await t?.close();
  });

  beforeEach(() => clearPlanCache());

  async function run(principal: Principal, query: string, variables?: Record<string, unknown>, model: Model = t.model): Promise<Answer> {
    const ctx: GraphQLExecContext = {
      model,
      schema: schemaFor(model),
      db: t.db,
      principal,
      config: { mode: 'production', limits: { maxLimit: 1000, maxDepth: 12 } },
    };
    const res = await executeGraphQL(ctx, { query, variables }, { trace: true });
    const body = JSON.parse(res.body);
    return { status: res.status, data: body.data, errors: body.errors, cache: body.extensions?.tracing?.plan_cache };
  }
  const names = (a: Answer, field = 'experiments'): string[] => {
    expect(a.errors).toBeUndefined();
    return (a.data[field] as Array<{ name: string }>).map((x) => x.name);
  };

  it('answers a repeated document with new variable values from the cache, with the new values', async () => {
    const one = 'query One($id: ID!) { experiment(id: $id) { name } }';
    // Seen once, learned on the second sighting, then answered from the cache.
    expect(await run(A, one, { id: ids.alpha })).toMatchObject({ data: { experiment: { name: 'alpha' } }, cache: 'miss' });
    expect(await run(A, one, { id: ids.beta })).toMatchObject({ data: { experiment: { name: 'beta' } }, cache: 'miss' });
    expect(planCacheStats(t.model)).toMatchObject({ hits: 0, stored: 1 });
    expect(await run(A, one, { id: ids.gamma.toUpperCase() })).toMatchObject({ data: { experiment: { name: 'gamma' } }, cache: 'hit' });
    expect(await run(A, one, { id: ids.alpha })).toMatchObject({ data: { experiment: { name: 'alpha' } }, cache: 'hit' });

    const list = 'query L($kind: String!, $n: Int!) { experiments(filter: { kind: { eq: $kind } }, order_by: [{ name: ASC }], limit: $n) { name } }';
    expect(names(await run(A, list, { kind: 'mlp', n: 5 }))).toEqual(['alpha', 'gamma']);
    expect(names(await run(A, list, { kind: 'mlp', n: 5 }))).toEqual(['alpha', 'gamma']);
    const cnn = await run(A, list, { kind: 'cnn', n: 5 });
    expect([names(cnn), cnn.cache]).toEqual([['beta'], 'hit']);
    const first = await run(A, list, { kind: 'mlp', n: 1 });
    expect([names(first), first.cache]).toEqual([['alpha'], 'hit']);
    expect(planCacheStats(t.model)).toMatchObject({ hits: 4, stored: 2, fallbacks: 0 });
  });

  it('answers a root list from plain rows written in Node, compact, on a miss and on a hit (plain.ts)', async () => {
    const ctx: GraphQLExecContext = {
      model: t.model,
      schema: schemaFor(t.model),
      db: t.db,
      principal: A,
      config: { mode: 'development', limits: { maxLimit: 1000, maxDepth: 12 } },
    };
    const doc = 'query L($n: Int!) { experiments(order_by: [{ name: ASC }], limit: $n) { name kind } }';
    const seen: Array<{ body: string; sql?: string; cache?: string }> = [];
    for (let i = 0; i < 3; i++) {
      const res = await executeGraphQL(ctx, { query: doc, variables: { n: 2 } }, { trace: true });
      seen.push({ body: res.body, sql: res.trace?.sql, cache: res.trace?.plan_cache });
    }
    expect(seen.map((s) => s.cache)).toEqual(['miss', 'miss', 'hit']);
    for (const s of seen) {
      expect(s.body.startsWith('{"data":{"experiments":[{"name":"alpha","kind":"mlp"},{"name":"beta","kind":"cnn"}]}')).toBe(true);
    }
    // The plain-row statement: columns, no JSON built by PostgreSQL.
    expect(seen[0].sql).toMatch(/^SELECT "?t\d*"?\./);
    expect(seen[0].sql).not.toContain('json_agg');
  });

  it('never shares a plan between variable shapes', async () => {
    const q = `query F($f: ExperimentFilter, $n: Int, $withKind: Boolean!) {
      experiments(filter: $f, order_by: [{ name: ASC }], limit: $n) { name kind @include(if: $withKind) }
    }`;
    const cases: Array<[Record<string, unknown>, unknown[]]> = [
      [{ f: { name: { eq: 'alpha' } }, withKind: false }, [{ name: 'alpha' }]],
      [{ f: { kind: { eq: 'mlp' } }, withKind: true }, [{ name: 'alpha', kind: 'mlp' }, { name: 'gamma', kind: 'mlp' }]],
      [{ f: { name: { eq: 'beta' } }, withKind: true }, [{ name: 'beta', kind: 'cnn' }]],
      [{ f: { name: { like: '%ta' } }, withKind: false }, [{ name: 'beta' }]],
      [{ f: { name: { ne: 'beta' } }, withKind: false }, [{ name: 'alpha' }, { name: 'gamma' }]],
      [{ f: { name: { in: ['alpha', 'beta'] } }, withKind: false }, [{ name: 'alpha' }, { name: 'beta' }]],
      [{ f: { name: { in: ['gamma'] } }, withKind: false }, [{ name: 'gamma' }]],
      [{ f: { name: { in: [] } }, withKind: false }, []],
      [{ f: { name: { not_in: ['gamma'] } }, withKind: false }, [{ name: 'alpha' }, { name: 'beta' }]],
      [{ f: { name: { is_null: false }, kind: { eq: 'cnn' } }, withKind: false }, [{ name: 'beta' }]],
      [{ f: { name: { is_null: true } }, withKind: false }, []],
      [{ f: { or: [{ name: { eq: 'alpha' } }, { name: { eq: 'gamma' } }] }, withKind: false }, [{ name: 'alpha' }, { name: 'gamma' }]],
      [{ f: { or: [{ name: { eq: 'beta' } }] }, withKind: false }, [{ name: 'beta' }]],
      [{ f: { not: { kind: { eq: 'mlp' } } }, withKind: false }, [{ name: 'beta' }]],
      [{ f: null, n: 1, withKind: false }, [{ name: 'alpha' }]],
      [{ n: 2, withKind: false }, [{ name: 'alpha' }, { name: 'beta' }]],
      [{ withKind: false }, [{ name: 'alpha' }, { name: 'beta' }, { name: 'gamma' }]],
    ];
    // Three times: every shape is seen, then learned, then answered from its own cached plan.
    for (const round of [1, 2, 3]) {
      for (const [variables, expected] of cases) {
        const a = await run(A, q, variables);
        expect(a.errors, JSON.stringify(variables)).toBeUndefined();
        expect(a.data.experiments, JSON.stringify(variables)).toEqual(expected);
        if (round === 3) expect(a.cache, JSON.stringify(variables)).toBe('hit');
      }
    }
  });

  it('never lets one principal see rows of another through a shared plan', async () => {
    const all = '{ experiments(order_by: [{ name: ASC }]) { name } }';
    expect(names(await run(A, all))).toEqual(['alpha', 'beta', 'gamma']);
    expect(names(await run(A, all))).toEqual(['alpha', 'beta', 'gamma']);
    const b = await run(B, all);
    expect([names(b), b.cache]).toEqual([['delta', 'epsilon'], 'hit']);
    const both = await run(testPrincipal('viewer', [pA, pB]), all);
    expect([names(both), both.cache]).toEqual([['alpha', 'beta', 'delta', 'epsilon', 'gamma'], 'hit']);
    const none = await run(testPrincipal('viewer', []), all);
    expect([names(none), none.cache]).toEqual([[], 'hit']);
    // Admins have no project scope in the SQL: their own plan.
    const adm = await run(admin, all);
    expect([names(adm), adm.cache]).toEqual([['alpha', 'beta', 'delta', 'epsilon', 'gamma'], 'miss']);

    const one = 'query One($id: ID!) { experiment(id: $id) { name } }';
    expect((await run(A, one, { id: ids.alpha })).data.experiment).toEqual({ name: 'alpha' });
    expect((await run(A, one, { id: ids.beta })).data.experiment).toEqual({ name: 'beta' });
    expect(await run(B, one, { id: ids.alpha })).toMatchObject({ data: { experiment: null }, cache: 'hit' });
    expect(await run(B, one, { id: ids.delta })).toMatchObject({ data: { experiment: { name: 'delta' } }, cache: 'hit' });
  });

  it('pages through a connection with cursors (cursor values are not bind parameters: one plan per cursor)', async () => {
    const q = `query P($n: Int!, $after: String) {
      experiment_connection(first: $n, after: $after, order_by: [{ name: ASC }]) { nodes { name } page_info { end_cursor has_next_page } }
    }`;
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 3; page++) {
      const a = await run(A, q, { n: 1, after });
      expect(a.errors).toBeUndefined();
      const c = a.data.experiment_connection;
      seen.push(...c.nodes.map((x: { name: string }) => x.name));
      after = c.page_info.end_cursor;
    }
    expect(seen).toEqual(['alpha', 'beta', 'gamma']);
    // The first page again (seen before: learned now), then with another page size from the cache.
    await run(A, q, { n: 1, after: null });
    const again = await run(A, q, { n: 2, after: null });
    expect([again.data.experiment_connection.nodes, again.cache]).toEqual([[{ name: 'alpha' }, { name: 'beta' }], 'hit']);
  });

  it('does not reuse plans after a model swap (the cache belongs to the Model object)', async () => {
    const q = '{ experiments(order_by: [{ name: DESC }], limit: 1) { name } }';
    expect(await run(A, q)).toMatchObject({ cache: 'miss' });
    expect(await run(A, q)).toMatchObject({ cache: 'miss' });
    expect(await run(A, q)).toMatchObject({ cache: 'hit' });
    const swapped = await loadPreset('experiments');
    expect(swapped).not.toBe(t.model);
    for (const expected of ['miss', 'miss', 'hit']) {
      const after = await run(A, q, undefined, swapped);
      expect([names(after), after.cache]).toEqual([['gamma'], expected]);
    }
    expect(planCacheStats(swapped)).toMatchObject({ hits: 1, stored: 1 });
    expect(planCacheStats(t.model)).toMatchObject({ hits: 1, stored: 1 });
    clearPlanCache(t.model);
    expect(await run(A, q)).toMatchObject({ cache: 'miss' });
    expect(planCacheStats(t.model)).toMatchObject({ hits: 0, stored: 0 });
    expect(await run(A, q, undefined, swapped)).toMatchObject({ cache: 'hit' });
  });

  it('keeps at most `max` plans and documents, least recently used out first', async () => {
    configurePlanCache({ max: 3, verify: true });
    try {
      const doc = (i: number) => `query Q${i} { experiments(order_by: [{ name: ASC }], offset: ${i}) { name } }`;
      for (let i = 0; i < 5; i++) for (const _ of [1, 2]) expect(await run(A, doc(i))).toMatchObject({ cache: 'miss' });
      expect(planCacheStats(t.model)).toMatchObject({ plans: 3, documents: 3, stored: 5 });
      expect(await run(A, doc(4))).toMatchObject({ cache: 'hit' });
      expect(await run(A, doc(0))).toMatchObject({ cache: 'miss' });
      expect(names(await run(A, doc(2)))).toEqual(['gamma']);
    } finally {
      configurePlanCache({ verify: true });
    }
  });

  it('keeps at most `maxChars` characters of SQL and parameters', async () => {
    configurePlanCache({ maxChars: 1500, verify: true });
    try {
      const doc = (i: number) => `query S${i} { experiments(limit: ${i + 1}) { id name kind meta description created_at updated_at } }`;
      for (let i = 0; i < 6; i++) for (const _ of [1, 2]) await run(A, doc(i));
      const stats = planCacheStats(t.model);
      expect(stats.stored).toBe(6);
      expect(stats.plans).toBeLessThan(6);
      expect(stats.chars).toBeGreaterThan(0);
      expect(stats.chars).toBeLessThanOrEqual(1500);
    } finally {
      configurePlanCache({ verify: true });
    }
  });

  it('caches neither mutations, nor introspection, nor failed requests; refused values are planned afresh', async () => {
    const editor = testPrincipal('editor', [pA]);
    const mutation = 'mutation M($name: String!) { create_experiment(input: { name: $name }) { id name } }';
    const created = await run(editor, mutation, { name: 'zeta' });
    expect(created.errors).toBeUndefined();
    expect((await run(editor, mutation, { name: 'eta' })).cache).toBe('miss');
    expect((await run(editor, mutation, { name: 'theta' })).cache).toBe('miss');

    const intro = '{ __schema { queryType { name } } experiments(filter: { name: { eq: "zeta" } }) { name } }';
    expect((await run(A, intro)).data).toEqual({ __schema: { queryType: { name: 'Query' } }, experiments: [{ name: 'zeta' }] });
    expect((await run(A, intro)).cache).toBe('miss');
    expect((await run(A, intro)).cache).toBe('miss');
    expect(planCacheStats(t.model).stored).toBe(0);

    const bad = 'query B($n: Int!) { experiments(limit: $n) { name } }';
    expect((await run(A, bad, { n: -1 })).errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await run(A, bad, { n: 1 })).cache).toBe('miss');
    expect((await run(A, bad, { n: 2 })).cache).toBe('miss');
    expect((await run(A, bad, { n: 3 })).cache).toBe('hit');
    // Outside the guard's class (limit above maxLimit): planned afresh, the same refusal as without a cache.
    const over = await run(A, bad, { n: 1001 });
    expect([over.status, over.errors?.[0].message]).toEqual([400, expect.stringContaining('above the maximum of 1000')]);
    expect(planCacheStats(t.model).fallbacks).toBe(1);
    const like = 'query K($p: String!) { experiments(filter: { name: { like: $p } }) { name } }';
    expect(names(await run(A, like, { p: 'z%' }))).toEqual(['zeta']);
    expect(names(await run(A, like, { p: 'ze%' }))).toEqual(['zeta']);
    expect((await run(A, like, { p: 'e%' })).cache).toBe('hit');
    expect((await run(A, like, { p: 'z\\' })).errors?.[0].message).toMatch(/ends with the escape character/);
  });
});

/**
 * GraphQL limits (SPEC G-12, issue 8 items 5 and 7): the cost limit (aliases and list sizes count, variables
 * resolved, checked on plan-cache hits too), the 10,000-aliases document refused before any SQL is built,
 * depth and maximum `limit`, on PGlite and PostgreSQL.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'graphql';
import { executeGraphQL, type GraphQLExecContext } from '../../src/graphql/execute.js';
import { clearPlanCache, configurePlanCache, planCacheStats } from '../../src/graphql/plan-cache.js';
import { FIELD_COST, operationCost } from '../../src/graphql/plan/cost.js';
import { schemaFor } from '../../src/graphql/schema/build.js';
import type { Db } from '../../src/db/types.js';
import { DEFAULT_LIMITS, type QueryLimits } from '../../src/server/context.js';
import { DASHBOARD } from '../../bench/cases.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';

const F = FIELD_COST;
const LIMITS: QueryLimits = { maxLimit: 1000, maxDepth: 12, maxCost: 8 * F + 5000, defaultListSize: 100 };

describe.each(TEST_KINDS)('GraphQL limits on %s', (kind) => {
  let t: TestDb;
  let statements = 0;
  let projectId: string;

  beforeAll(async () => {
    configurePlanCache({ verify: true });
    t = await createTestDb(kind);
    projectId = await createProject(t.db, 'L');
    await insertRows(t.db, 'experiment', [{ project_id: projectId, name: 'a', kind: 'mlp' }, { project_id: projectId, name: 'b', kind: 'mlp' }]);
  });
  afterAll(async () => {
    configurePlanCache({});
    await t?.close();
  });
  beforeEach(() => {
    clearPlanCache();
    statements = 0;
  });

  async function run(query: string, variables?: Record<string, unknown>, limits: QueryLimits = LIMITS) {
    // Counts the statements sent: a refused operation must send none.
    const db: Db = { ...t.db, queryAs: (...args: Parameters<Db['queryAs']>) => (statements++, t.db.queryAs(...args)) } as Db;
    const ctx: GraphQLExecContext = { model: t.model, schema: schemaFor(t.model), db, principal: testPrincipal('admin'), config: { mode: 'production', limits } };
    const res = await executeGraphQL(ctx, { query, variables }, { trace: true });
    const body = JSON.parse(res.body);
    return { status: res.status, data: body.data, errors: body.errors as Array<{ message: string; extensions: { code: string } }> | undefined, cache: body.extensions?.tracing?.plan_cache as string | undefined };
  }

  it('computes the cost from list sizes, aliases and fragments', () => {
    const schema = schemaFor(t.model);
    const cost = (q: string, v: Record<string, unknown> = {}) => {
      const doc = parse(q);
      return operationCost(schema, doc, doc.definitions[0] as never, v, LIMITS).cost;
    };
    // Each field: FIELD_COST + the product of its ancestors' list sizes (no limit: the default estimate, 100).
    expect(cost('{ experiments { id name } }')).toBe(3 * F + 1 + 2 * 100);
    expect(cost('query($n: Int) { experiments(limit: $n) { id name } }', { n: 7 })).toBe(3 * F + 1 + 2 * 7);
    // Aliases count separately.
    expect(cost('{ a: experiments(limit: 10) { id } b: experiments(limit: 10) { id } }')).toBe(2 * (2 * F + 1 + 10));
    // Nested lists multiply; fragments are expanded; connections hand `first` down to `nodes`.
    expect(cost('{ experiments(limit: 10) { ...E } } fragment E on Experiment { trials(limit: 5) { id name } }')).toBe(4 * F + 1 + 10 + 10 * 5 * 2);
    expect(cost('{ experiment_connection(first: 3) { nodes { id } } }')).toBe(3 * F + 1 + 1 + 3);
    // An aggregate without group_by is one group.
    expect(cost('{ experiments(limit: 10) { trials_aggregate { count } } }')).toBe(3 * F + 1 + 10 + 10);
  });

  it('refuses an operation above maxCost with COST_LIMIT_EXCEEDED naming the cost, the limit and the largest part', async () => {
    const res = await run('{ small: experiments(limit: 1) { id } big: experiments(limit: 1000) { id name kind meta created_at c: created_at id2: id } }');
    expect(res.status).toBe(400);
    expect(res.errors?.[0].extensions.code).toBe('COST_LIMIT_EXCEEDED');
    expect(res.errors?.[0].message).toContain(`estimated cost is ${10 * F + 7003}, above the limit of ${8 * F + 5000} (LATTICE_MAX_COST) (largest part: "big", cost ${8 * F + 7001})`);
    expect(statements).toBe(0);
  });

  it('answers an operation within maxCost', async () => {
    const res = await run('{ experiments(limit: 100) { id name } }');
    expect(res.errors).toBeUndefined();
    expect(res.data.experiments).toHaveLength(2);
  });

  it('never lets a plan-cache hit bypass the cost limit (small first, then huge first via variables)', async () => {
    const q = 'query Q($n: Int!) { experiment_connection(first: $n) { nodes { id name kind meta created_at c: created_at } } }';
    // Seen, learned, then answered from the cache with another small value.
    for (const n of [1, 2]) expect((await run(q, { n })).errors).toBeUndefined();
    const hit = await run(q, { n: 3 });
    expect([hit.errors, hit.cache]).toEqual([undefined, 'hit']);
    // 1000 is within maxLimit (the parameter's guard) but costs 8 × F + 2 + 6 × 1000 > 8 × F + 5000.
    const stats = planCacheStats(t.model);
    const big = await run(q, { n: 1000 });
    expect(big.status).toBe(400);
    expect(big.errors?.[0].extensions.code).toBe('COST_LIMIT_EXCEEDED');
    expect(planCacheStats(t.model).fallbacks).toBe(stats.fallbacks + 1);
    expect(statements).toBe(3);
  });

  it('refuses a document with 10,000 aliases by the cost limit before building SQL, with the default limits', async () => {
    // 3 tokens per alias (graphql-js parses at most 50,000 tokens): 2,001 + 10,000 × (2,000 + 10) (no limit: the estimate, 10).
    const aliases = Array.from({ length: 10_000 }, (_, i) => `a${i}: id`).join(' ');
    const res = await run(`{ experiments { ${aliases} } }`, undefined, { maxLimit: 10_000, maxDepth: 12 });
    expect(res.status).toBe(400);
    expect(res.errors?.[0], JSON.stringify(res.errors?.[0])).toMatchObject({ extensions: { code: 'COST_LIMIT_EXCEEDED' } });
    expect(res.errors?.[0].message).toMatch(/estimated cost is 20102001, above the limit of 5000000/);
    expect(statements).toBe(0);
  });

  it('refuses 10,000 aliases on one object (no list) by the fixed cost per field', async () => {
    const aliases = Array.from({ length: 10_000 }, (_, i) => `a${i}: name`).join(' ');
    const res = await run(`{ project(id: "${projectId}") { ${aliases} } }`, undefined, { maxLimit: 10_000, maxDepth: 12 });
    expect([res.status, res.errors?.[0].extensions.code]).toEqual([400, 'COST_LIMIT_EXCEEDED']);
    expect(statements).toBe(0);
    // 2,000 aliases fit the default limit and are answered.
    const fewer = Array.from({ length: 2_000 }, (_, i) => `a${i}: name`).join(' ');
    const ok = await run(`{ project(id: "${projectId}") { ${fewer} } }`, undefined, { maxLimit: 10_000, maxDepth: 12 });
    expect(ok.errors).toBeUndefined();
    expect(ok.data.project.a1999).toBe('L');
  });

  it('admits the bench dashboard and GraphiQL\'s default query with the default limits; four nested unbounded lists are refused when a list is estimated at 100 rows', async () => {
    const schema = schemaFor(t.model);
    const cost = (q: string, v: Record<string, unknown> = {}) => {
      const doc = parse(q);
      return operationCost(schema, doc, doc.definitions[0] as never, v, DEFAULT_LIMITS).cost;
    };
    expect(cost(DASHBOARD.query, { id: projectId, experiments: 5 })).toBeLessThan(DEFAULT_LIMITS.maxCost);
    expect(cost('{ projects { id name } experiments { id name kind trials { name params status runs { id status } } } }')).toBeLessThan(DEFAULT_LIMITS.maxCost);
    const res = await run('{ projects { experiments { trials { runs { id } } } } }', undefined, { maxLimit: 1000, maxDepth: 12, defaultListSize: 100 });
    expect(res.errors?.[0].extensions.code).toBe('COST_LIMIT_EXCEEDED');
  });

  it('refuses a mutation whose selection is above maxCost, writing nothing', async () => {
    const count = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM app.experiment')).rows[0].n;
    const before = await count();
    const res = await run(
      `mutation { create_experiment(input: { project_id: "${projectId}", name: "costly", kind: "mlp" }) { trials { runs { metrics { id } } } } }`,
    );
    expect([res.status, res.errors?.[0].extensions.code]).toEqual([400, 'COST_LIMIT_EXCEEDED']);
    expect(await count()).toBe(before);
  });

  it('keeps depth and maximum limit errors actionable', async () => {
    const deep = await run('{ experiments(limit: 1) { trials(limit: 1) { experiment { trials(limit: 1) { id } } } } }', undefined, { ...LIMITS, maxDepth: 3 });
    expect(deep.errors?.[0].extensions.code).toBe('QUERY_TOO_COMPLEX');
    expect(deep.errors?.[0].message).toMatch(/maximum is 3/);
    const tooMany = await run('{ experiments(limit: 1001) { id } }');
    expect(tooMany.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(tooMany.errors?.[0].message).toMatch(/above the maximum of 1000; request at most 1000 rows and paginate/);
  });
});

/**
 * The row budget per GraphQL operation (SPEC G-12, issue 8 item 5, `src/graphql/plan/rows.ts`): the static
 * bound (list sizes multiplied down the tree, aliases and variables counted), refusal with ROW_LIMIT_EXCEEDED
 * before any SQL, answers within the budget in full, plan-cache hits re-checked, lists without a bound counted
 * on their result, subscriptions checked at subscribe time, and the LATTICE_MAX_ROWS setting; on PGlite and
 * PostgreSQL.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse, validate } from 'graphql';
import { executeGraphQL, type GraphQLExecContext } from '../../src/graphql/execute.js';
import { clearPlanCache, configurePlanCache, planCacheStats } from '../../src/graphql/plan-cache.js';
import { operationRows } from '../../src/graphql/plan/rows.js';
import { schemaFor } from '../../src/graphql/schema/build.js';
import { planSubscription } from '../../src/live/plan.js';
import type { Db } from '../../src/db/types.js';
import { limitsFromEnv, resolveServerConfig } from '../../src/server/app.js';
import { DEFAULT_LIMITS, type QueryLimits } from '../../src/server/context.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';

/** maxCost and maxLimit high enough that only the row budget refuses. */
const LIMITS: QueryLimits = { maxLimit: 10_000, maxDepth: 12, maxCost: 1e12, maxRows: 50 };

type Result = { status: number; data: any; errors?: Array<{ message: string; extensions: { code: string } }>; cache?: string };

describe.each(TEST_KINDS)('GraphQL row budget on %s', (kind) => {
  let t: TestDb;
  let statements = 0;
  let projectId: string;

  beforeAll(async () => {
    configurePlanCache({ verify: true });
    t = await createTestDb(kind);
    projectId = await createProject(t.db, 'R');
    const exps = await insertRows<{ id: string }>(t.db, 'experiment', ['a', 'b', 'c'].map((name) => ({ project_id: projectId, name, kind: 'mlp' })));
    // 3 experiments × 2 trials.
    await insertRows(t.db, 'trial', exps.flatMap((e, i) => [0, 1].map((j) => ({ project_id: projectId, experiment_id: e.id, name: `t${i}${j}`, status: j ? 'running' : 'completed', params: {} }))));
  });
  afterAll(async () => {
    configurePlanCache({});
    await t?.close();
  });
  beforeEach(() => {
    clearPlanCache();
    statements = 0;
  });

  async function run(query: string, variables?: Record<string, unknown>, limits: QueryLimits = LIMITS): Promise<Result> {
    // Counts the statements sent: a refused operation must send none.
    const db = new Proxy(t.db, {
      get: (target, prop) => {
        if (prop === 'queryAs') return (...args: Parameters<Db['queryAs']>) => (statements++, target.queryAs(...args));
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const ctx: GraphQLExecContext = { model: t.model, schema: schemaFor(t.model), db, principal: testPrincipal('admin'), config: { mode: 'production', limits } };
    const res = await executeGraphQL(ctx, { query, variables }, { trace: true });
    const body = JSON.parse(res.body);
    return { status: res.status, data: body.data, errors: body.errors, cache: body.extensions?.tracing?.plan_cache };
  }

  const refused = (res: Result) => {
    expect(res.status).toBe(400);
    expect(res.data).toBeUndefined();
    expect(res.errors?.[0].extensions.code, JSON.stringify(res.errors)).toBe('ROW_LIMIT_EXCEEDED');
    return res.errors![0].message;
  };

  it('bounds the rows statically: sizes multiply down the tree; aliases, fragments, variables, connections, pages, by-ids and groups count', () => {
    const schema = schemaFor(t.model);
    const rows = (q: string, v: Record<string, unknown> = {}) => {
      const doc = parse(q);
      expect(validate(schema, doc).map((e) => e.message)).toEqual([]);
      return operationRows(schema, doc, doc.definitions[0] as never, v);
    };
    expect(rows('{ experiments(limit: 10) { id trials(limit: 5) { id experiment { name } } } }').rows).toBe(10 + 10 * 5);
    expect(rows('{ a: experiments(limit: 10) { id } b: experiments(limit: 20) { id } }').rows).toBe(30);
    expect(rows('query($n: Int) { experiments(limit: $n) { ...T } } fragment T on Experiment { trials(limit: $n) { id } }', { n: 7 }).rows).toBe(7 + 49);
    // A connection's size goes to `nodes` and `edges` (each counted: they are both in the response); `node` is one per edge.
    const conn = rows('{ experiment_connection(first: 4) { nodes { id } edges { node { trials(limit: 3) { id } } } page_info { has_next_page } } }');
    expect(conn.rows).toBe(4 + 4 + 4 * 3);
    expect(conn.top).toEqual({ path: 'experiment_connection.edges.node.trials', size: 3, rows: 12 });
    expect(rows('{ experiment_list(limit: 6, offset: 100) { total_count items { id } } }').rows).toBe(6);
    expect(rows('query($ids: [ID!]!) { experiments_by_ids(ids: $ids) { trials(limit: 2) { id } } }', { ids: ['1', '2', '3'] }).rows).toBe(3 + 6);
    // An aggregate without group_by is one group per parent; grouped, its limit (or unbounded).
    expect(rows('{ experiments(limit: 10) { trials_aggregate { count } } }').rows).toBe(10 + 10);
    expect(rows('{ trial_aggregate(group_by: [status], limit: 4) { count } }').rows).toBe(4);
    const open = rows('{ experiments { trials(limit: 5) { id } } trial_aggregate(group_by: [status]) { count } }');
    expect([open.rows, open.unbounded]).toEqual([1 + 5 + 1, ['experiments', 'trial_aggregate']]);
    // @skip removes a list; a single object (`project(id)`) is not a row.
    expect(rows('query($s: Boolean!) { experiments(limit: 10) { id } b: experiments(limit: 10) @skip(if: $s) { id } }', { s: true }).rows).toBe(10);
    expect(rows('{ experiment(id: "0190f5a8-7d0e-7c3a-9b1e-3f1e2d4c5b6a") { name project { name } } }').rows).toBe(0);
  });

  it('refuses nested lists above the budget with ROW_LIMIT_EXCEEDED naming the bound, the budget and the list to lower, before any SQL', async () => {
    const message = refused(await run('{ experiments(limit: 10) { id trials(limit: 10) { id } } }'));
    expect(message).toContain('up to 110 rows, above the row budget of 50 per operation (LATTICE_MAX_ROWS)');
    expect(message).toContain('the largest part is "experiments.trials" with up to 100 rows (page size 10 × 10 parent rows)');
    expect(message).toMatch(/Lower the limit \/ first \/ last .* or raise LATTICE_MAX_ROWS\./);
    expect(statements).toBe(0);
  });

  it('answers an operation within the budget in full', async () => {
    const res = await run('{ experiments(limit: 5, order_by: [{ name: ASC }]) { name trials(limit: 5) { name } } }'); // 5 + 25 = 30
    expect(res.errors).toBeUndefined();
    expect(res.data.experiments.map((e: any) => e.trials.length)).toEqual([2, 2, 2]);
    // Exactly at the budget is allowed.
    expect((await run('{ experiments(limit: 10) { trials(limit: 4) { id } } }')).errors).toBeUndefined(); // 10 + 40 = 50
  });

  it('counts aliases and variables', async () => {
    const one = '{ a: experiments(limit: 5) { trials(limit: 5) { id } } }';
    expect((await run(one)).errors).toBeUndefined();
    const message = refused(await run('{ a: experiments(limit: 5) { trials(limit: 5) { id } } b: experiments(limit: 5) { trials(limit: 5) { id } } }'));
    expect(message).toContain('up to 60 rows');
    const q = 'query($n: Int!) { experiments(limit: $n) { trials(limit: $n) { id } } }';
    expect((await run(q, { n: 6 })).errors).toBeUndefined(); // 6 + 36 = 42
    expect(refused(await run(q, { n: 7 }))).toContain('up to 56 rows'); // 7 + 49
  });

  it('never lets a plan-cache hit bypass the budget (small sizes learned, then larger ones in the variables)', async () => {
    const q = 'query Q($n: Int!) { experiment_connection(first: $n) { nodes { name trials(limit: $n) { name } } } }';
    for (const n of [2, 3]) expect((await run(q, { n })).errors).toBeUndefined();
    const hit = await run(q, { n: 4 });
    expect([hit.errors, hit.cache]).toEqual([undefined, 'hit']);
    expect(hit.data.experiment_connection.nodes).toHaveLength(3);
    const before = planCacheStats(t.model);
    const big = await run(q, { n: 7 }); // 7 + 49 = 56 > 50; both sizes are bind parameters of the cached plan
    expect(refused(big)).toContain('up to 56 rows');
    expect(planCacheStats(t.model).fallbacks).toBe(before.fallbacks + 1);
    expect(statements).toBe(3);
  });

  it('counts the result of lists without a bound and refuses it above the budget instead of truncating, on cache hits too', async () => {
    const q = '{ experiments { name trials { name } } }'; // 3 + 6 = 9 rows
    const tight = { ...LIMITS, maxRows: 8 };
    const message = refused(await run(q, undefined, tight));
    expect(message).toContain('more than 8 rows, the row budget per operation (LATTICE_MAX_ROWS), so it was not sent');
    expect(message).toContain('"experiments", "experiments.trials"');
    // Exactly at the budget: answered in full.
    const ok = await run(q, undefined, { ...LIMITS, maxRows: 9 });
    expect(ok.errors).toBeUndefined();
    expect(ok.data.experiments.flatMap((e: any) => e.trials)).toHaveLength(6);
    // Seen, learned, then a hit: still counted (an error answer carries no trace, so the counters tell the hit).
    await run(q, undefined, tight);
    const before = planCacheStats(t.model).hits;
    refused(await run(q, undefined, tight));
    expect(planCacheStats(t.model).hits).toBe(before + 1);
  });

  it('applies the default budget and the LATTICE_MAX_ROWS / maxRows settings', async () => {
    expect(DEFAULT_LIMITS.maxRows).toBe(100_000);
    const q = '{ experiments(limit: 1000) { trials(limit: 100) { id } } }'; // 101,000
    const defaults = { ...DEFAULT_LIMITS, maxCost: 1e12 };
    expect(refused(await run(q, undefined, defaults))).toContain('up to 101000 rows, above the row budget of 100000');
    // Limits without maxRows (hand-built contexts) get the default.
    const { maxRows: _omit, ...noRows } = defaults;
    expect((await run(q, undefined, noRows)).errors?.[0].extensions.code).toBe('ROW_LIMIT_EXCEEDED');
    expect((await run(q, undefined, { ...defaults, maxRows: 101_000 })).errors).toBeUndefined();
    expect(limitsFromEnv({ LATTICE_MAX_ROWS: '250000' })).toEqual({ maxRows: 250_000 });
    expect(() => limitsFromEnv({ LATTICE_MAX_ROWS: '0' })).toThrow(/LATTICE_MAX_ROWS is "0"/);
    expect(() => limitsFromEnv({ LATTICE_MAX_ROWS: '1e6' })).toThrow(/LATTICE_MAX_ROWS/);
    const previous = process.env.LATTICE_MAX_ROWS;
    process.env.LATTICE_MAX_ROWS = '1234';
    try {
      expect(resolveServerConfig({}).limits.maxRows).toBe(1234);
      expect(resolveServerConfig({ limits: { ...DEFAULT_LIMITS, maxRows: 99 } }).limits.maxRows).toBe(99);
    } finally {
      if (previous === undefined) delete process.env.LATTICE_MAX_ROWS;
      else process.env.LATTICE_MAX_ROWS = previous;
    }
    expect(resolveServerConfig({}).limits.maxRows).toBe(100_000);
  });

  it('refuses a mutation whose selection is above the budget before writing anything', async () => {
    const count = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM app.experiment')).rows[0].n;
    const before = await count();
    const create = (n: number) => `mutation { create_experiment(input: { project_id: "${projectId}", name: "rows", kind: "mlp" }) { name trials(limit: ${n}) { id } } }`;
    expect(refused(await run(create(51)))).toContain('up to 51 rows');
    expect(await count()).toBe(before);
    const ok = await run(create(50));
    expect(ok.errors).toBeUndefined();
    expect([ok.errors, ok.data.create_experiment]).toEqual([undefined, { name: 'rows', trials: [] }]);
    expect(await count()).toBe(before + 1);
  });

  it('checks a subscription at subscribe time', () => {
    const schema = schemaFor(t.model);
    const ctx = { model: t.model, schema, principal: testPrincipal('admin'), limits: LIMITS };
    const plan = (q: string) => {
      const doc = parse(q);
      return planSubscription(ctx, doc, doc.definitions[0] as never);
    };
    expect(plan('subscription { experiment_events { op row { trials(limit: 50) { id } } } }').responseKey).toBe('experiment_events');
    expect(() => plan('subscription { experiment_events { op row { trials(limit: 51) { id } } } }')).toThrow(/up to 51 rows, above the row budget of 50/);
  });
});

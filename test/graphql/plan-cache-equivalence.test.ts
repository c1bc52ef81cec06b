/**
 * Plan cache rigour (SPEC G-11): for every kind of argument value, a request answered through the cache sends
 * exactly the statement and parameters — or gives exactly the error — that a fresh parse, plan and compile
 * gives. Each case runs a sequence of requests twice against a recording database stub: once with the cache
 * warm (later requests reuse earlier plans), once with the cache cleared before every request, and the two
 * transcripts (status, body, SQL text, parameters) must be equal. No database is needed: the statements are
 * compared, not run (the database-backed behaviour is in `plan-cache.test.ts`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import type { Db } from '../../src/db/types.js';
import { executeGraphQL } from '../../src/graphql/execute.js';
import { clearPlanCache, configurePlanCache, planCacheStats } from '../../src/graphql/plan-cache.js';
import { schemaFor } from '../../src/graphql/schema/build.js';
import { loadPreset } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import { encodeCursor } from '../../src/query/cursor.js';
import type { CompileOptions } from '../../src/query/sql/compile.js';
import { testPrincipal } from '../support/db.js';

const u = (n: number): string => `0190a6a4-8f7e-7c3a-9d4e-${n.toString(16).padStart(12, '0')}`;
const PA = testPrincipal('viewer', [u(1)]);
const PB = testPrincipal('editor', [u(2), u(3)]);
const ADMIN = testPrincipal('admin');

interface Statement {
  readonly text: string;
  readonly params: unknown[];
}

const sent: Statement[] = [];
function record(text: string, params: readonly unknown[] = []) {
  sent.push({ text, params: structuredClone([...params]) });
  return Promise.resolve({ rows: [{ data: '{}' }], rowCount: 1 });
}
/** Records statements and answers `{}`; nothing else of the Db is used by read operations. */
const recordingDb = {
  kind: 'pglite',
  stats: { statements: 0 },
  queryAs: (_p: Principal, text: string, params?: readonly unknown[]) => record(text, params),
  withPrincipal: <T>(_p: Principal, fn: (tx: { query: typeof record }) => Promise<T>) => fn({ query: record }),
} as unknown as Db;

interface Case {
  readonly name: string;
  readonly query: string;
  readonly runs: ReadonlyArray<Record<string, unknown>>;
  readonly model?: 'catalog';
  readonly compile?: CompileOptions;
  /** The warm transcript must contain at least one cache hit (default true). */
  readonly hits?: boolean;
}

const vec = (seed: number, n = 256): number[] => Array.from({ length: n }, (_, i) => Math.sin(seed * 7 + i) / 3);

function cases(E: Model): Case[] {
  const cursor = (...values: unknown[]) => encodeCursor(E, 'experiment', [], values);
  const byName = (...values: unknown[]) => encodeCursor(E, 'experiment', [{ column: 'name', direction: 'ASC', nulls: 'LAST' }], values);
  const stringOps = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'like', 'ilike', 'starts_with', 'contains'];
  const strings = ['a', 'b', '50%_off', 'x\\', 'x\\\\', 'é', 'a'.repeat(1001), '', 'c'];
  return [
    {
      name: 'object by id',
      query: 'query($id: ID!) { experiment(id: $id) { id name } }',
      runs: [{ id: u(10) }, { id: u(11) }, { id: u(12).toUpperCase() }, { id: 'nope' }, {}, { id: 5 }, { id: u(13) }],
    },
    {
      name: 'by ids',
      query: 'query($ids: [ID!]!) { experiments_by_ids(ids: $ids) { id } }',
      runs: [{ ids: [u(1)] }, { ids: [u(2), u(3)] }, { ids: [u(4), u(5), u(6)] }, { ids: [] }, { ids: ['bad'] }, { ids: u(8) }, { ids: Array.from({ length: 1000 }, (_, i) => u(i)) }, { ids: Array.from({ length: 1001 }, (_, i) => u(i)) }, { ids: [u(9)] }],
    },
    ...stringOps.map((op) => ({
      name: `string ${op}`,
      query: `query($v: String!) { experiments(filter: { name: { ${op}: $v } }) { id } }`,
      runs: strings.map((v) => ({ v })),
    })),
    {
      name: 'string lists',
      query: 'query($v: [String!]!) { experiments(filter: { name: { in: $v }, kind: { not_in: $v } }) { id } }',
      runs: [{ v: ['a'] }, { v: ['a', 'b'] }, { v: [] }, { v: ['x\\'] }, { v: 'single' }, { v: ['c', 'd', 'e'] }],
    },
    {
      name: 'variables inside a literal list',
      query: 'query($a: String!, $b: String!) { experiments(filter: { name: { in: [$a, "fixed", $b] } }) { id } }',
      runs: [{ a: 'x', b: 'y' }, { a: 'p', b: 'q' }, { a: 's', b: 's' }, { a: 'fixed', b: 'fixed' }, { a: 'm', b: 'n' }],
    },
    {
      name: 'int, float, datetime and id operands',
      query: 'query($s: Int, $v: Float, $t: DateTime, $trial: ID) { metrics(filter: { step: { gt: $s }, value: { lte: $v }, created_at: { gte: $t }, trial_id: { eq: $trial } }) { id } }',
      runs: [
        { s: 1, v: 0.5, t: '2026-01-01T00:00:00Z', trial: u(3) },
        { s: -5, v: -1.5, t: '2020-02-29T12:00:00.123456+02:00', trial: u(4) },
        { s: 2147483647, v: 0, t: '2026-01-01T00:00:00Z', trial: u(5) },
        { s: 2, v: 1e308, t: '1999-12-31T23:59:59Z', trial: u(6) },
        { s: 2, v: 1, t: 'yesterday', trial: u(6) },
        { s: 1.5, v: 1, t: '2026-01-01T00:00:00Z', trial: u(6) },
        { v: 2, trial: u(7) },
        { s: 3, v: 0.25, t: '2026-05-01T00:00:00Z', trial: u(8) },
      ],
    },
    {
      name: 'search, limit and offset',
      query: 'query($q: String, $l: Int, $o: Int) { experiments(search: $q, limit: $l, offset: $o) { id _rank } }',
      runs: [
        { q: 'alpha', l: 10, o: 0 },
        { q: 'beta gamma', l: 5, o: 2 },
        { q: 'x'.repeat(1001), l: 1, o: 0 },
        { q: '', l: 0, o: 0 },
        { q: 'a', l: 1000, o: 5000 },
        { q: 'a', l: 1001, o: 0 },
        { q: 'a', l: -1, o: 0 },
        { q: 'a', l: 1, o: -1 },
        { l: 3 },
        { q: 'z', l: 7, o: 1 },
      ],
    },
    {
      name: 'offset page',
      query: 'query($l: Int!, $o: Int!, $k: String!) { experiment_list(limit: $l, offset: $o, filter: { kind: { eq: $k } }) { total_count items { id } } }',
      runs: [{ l: 5, o: 0, k: 'mlp' }, { l: 6, o: 3, k: 'cnn' }, { l: 0, o: 0, k: '' }, { l: 1001, o: 0, k: 'x' }],
    },
    {
      name: 'connection with cursors',
      query: `query($n: Int, $m: Int, $a: String, $b: String, $s: String, $o: [ExperimentOrderBy!]) {
        experiment_connection(first: $n, last: $m, after: $a, before: $b, search: $s, order_by: $o) {
          total_count edges { cursor node { id } } page_info { has_next_page has_previous_page start_cursor end_cursor }
        }
      }`,
      runs: [
        { n: 2 },
        { n: 3 },
        { n: 0 },
        { m: 2 },
        { n: 2, m: 2 },
        { n: 2, a: cursor(u(1)) },
        { n: 4, a: cursor(u(2)) },
        { n: 2, a: 'garbage' },
        { m: 2, b: cursor(u(3)) },
        { n: 2, s: 'x' },
        { n: 2, s: 'y', a: cursor(u(1)) },
        { n: 2, o: [{ name: 'ASC' }], a: byName('alpha', u(4)) },
        { n: 3, o: [{ name: 'ASC' }], a: byName('beta', u(5)) },
        { n: 2, o: [{ name: 'DESC' }], a: byName('beta', u(5)) },
        { n: 1001 },
        { n: 5 },
      ],
    },
    {
      name: 'aggregate',
      query: 'query($k: String!, $l: Int, $g: [MetricGroupBy!]) { metric_aggregate(filter: { key: { eq: $k } }, group_by: $g, limit: $l) { key { step } count avg { value } } }',
      runs: [{ k: 'loss', l: 5, g: ['step'] }, { k: 'acc', l: 6, g: ['step'] }, { k: 'loss', g: [] }, { k: 'loss', l: 2, g: ['step', 'key'] }, { k: 'loss', l: -1, g: ['step'] }, { k: 'x', l: 1, g: ['step'] }],
    },
    {
      name: 'order_by variable',
      query: 'query($o: [ExperimentOrderBy!], $n: Int) { experiments(order_by: $o, limit: $n) { id } }',
      runs: [{ o: [{ name: 'ASC' }], n: 1 }, { o: [{ name: 'DESC' }], n: 2 }, { o: [{ kind: 'ASC' }, { name: 'DESC' }], n: 3 }, { o: { name: 'ASC' }, n: 4 }, { o: [{ name: 'ASC', kind: 'DESC' }], n: 1 }, { o: [{ name: 'ASC' }], n: 9 }],
    },
    {
      name: '@skip and @include',
      query: 'query($s: Boolean!, $id: ID!) { a: experiment(id: $id) @skip(if: $s) { id } b: experiments(limit: 1) { id name @include(if: $s) } }',
      runs: [{ s: true, id: u(1) }, { s: false, id: u(2) }, { s: true, id: u(3) }, { s: false, id: u(4) }],
    },
    {
      name: 'one variable in several places',
      query: 'query($id: ID!) { a: experiment(id: $id) { id } b: experiments(filter: { id: { eq: $id } }) { id } c: trials(experiment_id: $id) { id } }',
      runs: [{ id: u(1) }, { id: u(2) }, { id: u(3) }],
    },
    {
      name: 'nested arguments, enums and relation filters',
      query: `query($n: Int, $p: String!, $st: TrialStatus, $t: String!) {
        experiments(filter: { trials: { some: { name: { eq: $t } } } }) {
          trials(limit: $n, filter: { name: { starts_with: $p }, status: { eq: $st } }) { id runs(limit: $n) { id } }
        }
      }`,
      runs: [{ n: 2, p: 'a', st: 'running', t: 'x' }, { n: 3, p: 'b', st: 'running', t: 'y' }, { n: 3, p: 'b', st: 'failed', t: 'y' }, { n: 3, p: 'c_', st: null, t: 'z' }, { p: 'd', t: 'w' }, { n: 4, p: 'e', st: 'failed', t: 'v' }],
    },
    {
      name: 'json operands',
      query: 'query($j: JSON!, $k: String!) { experiments(filter: { meta: { contains: $j, has_key: $k } }) { id } }',
      runs: [{ j: { a: 1 }, k: 'a' }, { j: { a: 2 }, k: 'b' }, { j: [1, 2], k: 'c' }, { j: { a: 2 }, k: 'd' }],
    },
    {
      name: 'alias shorthand',
      query: 'query($t: ID!) { trial_metrics(trial_id: $t) { id step value } }',
      runs: [{ t: u(1) }, { t: u(2) }, { t: 'x' }],
    },
    {
      name: 'nearest (pgvector)',
      model: 'catalog',
      query: 'query($v: [Float!]!, $m: VectorMetric, $d: Float, $l: Int) { records(nearest: { embedding: { vector: $v, metric: $m, max_distance: $d } }, limit: $l) { id _distance } }',
      runs: [
        { v: vec(1), m: 'COSINE', d: 0.5, l: 10 },
        { v: vec(2), m: 'COSINE', d: 0.7, l: 5 },
        { v: vec(3), m: 'L2', l: 3 },
        { v: vec(0).map(() => 0), m: 'COSINE', l: 3 },
        { v: vec(0).map(() => 0), m: 'L2', l: 3 },
        { v: vec(4, 255), m: 'COSINE', l: 3 },
        { v: [1e39, ...vec(5, 255)], m: 'COSINE', l: 3 },
        { v: [1e-46, ...vec(5, 255).map(() => 0)], m: 'COSINE', l: 3 },
        { v: vec(6), m: 'COSINE', d: -0.1, l: 3 },
        { v: vec(7), m: 'COSINE', d: 0, l: 0 },
        { v: vec(8), m: 'L2', l: 4 },
      ],
    },
    {
      name: 'nearest (real[] without pgvector)',
      model: 'catalog',
      compile: { vectors: 'array' },
      query: 'query($v: [Float!]!, $d: Float) { records(nearest: { embedding: { vector: $v, max_distance: $d } }, limit: 5) { id _distance } }',
      runs: [{ v: vec(1), d: 0.5 }, { v: vec(2), d: 0.9 }, { v: vec(0).map(() => 0) }, { v: vec(3), d: 0.1 }],
    },
    {
      name: 'bigint operands',
      model: 'catalog',
      query: 'query($b: BigInt!) { package_profiles(filter: { size_bytes: { gt: $b } }) { id } }',
      runs: [{ b: 10 }, { b: -3 }, { b: 9007199254740991 }, { b: 1.5 }, { b: 11 }],
    },
    {
      name: 'string[] operands',
      model: 'catalog',
      query: 'query($k: [String!]!) { records(filter: { keywords: { contains: $k } }) { id } }',
      runs: [{ k: ['a'] }, { k: ['a', 'b'] }, { k: [] }, { k: ['c'] }],
    },
    {
      name: 'seed 001 / bench catalog query',
      model: 'catalog',
      query: `query Similar($v: [Float!]!, $q: String!, $license: String!, $confidence: Float!, $limit: Int!) {
        records(search: $q, filter: { license: { eq: $license }, topic_classification: { confidence: { gt: $confidence } } },
                nearest: { embedding: { vector: $v, metric: COSINE } }, limit: $limit) {
          id name version license topic_classification { label confidence } _distance
        }
      }`,
      runs: [
        { v: vec(1), q: 'parse', license: 'MIT', confidence: 0.5, limit: 10 },
        { v: vec(2), q: 'graphql', license: 'ISC', confidence: 0.25, limit: 20 },
        { v: vec(3), q: 'x', license: 'MIT', confidence: 0, limit: 1 },
      ],
    },
  ];
}

describe('plan cache: cached statements equal fresh ones', () => {
  let models: Record<'experiments' | 'catalog', Model>;

  beforeAll(async () => {
    configurePlanCache({});
    models = { experiments: await loadPreset('experiments'), catalog: await loadPreset('catalog') };
  });
  afterAll(() => configurePlanCache({}));

  async function outcome(model: Model, principal: Principal, query: string, variables: Record<string, unknown>, compile?: CompileOptions) {
    const before = sent.length;
    const res = await executeGraphQL(
      { model, schema: schemaFor(model), db: recordingDb, principal, config: { mode: 'production', limits: { maxLimit: 1000, maxDepth: 12 } }, compile },
      { query, variables },
    );
    return { status: res.status, body: res.body, statements: sent.slice(before) };
  }

  it('covers every argument kind', async () => {
    const all = cases(models.experiments);
    for (const c of all) {
      const model = models[c.model ?? 'experiments'];
      // Each variable set as viewer of one project, then as editor of two, then once as admin.
      const runs: Array<[Principal, Record<string, unknown>]> = [...c.runs.map((v) => [PA, v] as [Principal, Record<string, unknown>]), ...c.runs.map((v) => [PB, v] as [Principal, Record<string, unknown>]), [ADMIN, c.runs[0]], [ADMIN, c.runs[1] ?? c.runs[0]]];
      clearPlanCache();
      const warm: Array<Awaited<ReturnType<typeof outcome>>> = [];
      for (const [p, v] of runs) warm.push(await outcome(model, p, c.query, v, c.compile));
      const stats = planCacheStats(model);
      const fresh: Array<Awaited<ReturnType<typeof outcome>>> = [];
      for (const [p, v] of runs) {
        clearPlanCache();
        fresh.push(await outcome(model, p, c.query, v, c.compile));
      }
      warm.forEach((w, i) => expect(w, `${c.name}: run ${i} ${JSON.stringify(runs[i][1]).slice(0, 200)}`).toEqual(fresh[i]));
      if (c.hits !== false) expect(stats.hits, `${c.name}: hits`).toBeGreaterThan(0);
    }
  });

  it('reuses one plan across values, list lengths and principals where the SQL does not change', async () => {
    const E = models.experiments;
    clearPlanCache();
    const q = 'query($ids: [ID!]!, $n: Int!, $name: String!) { experiments(filter: { id: { in: $ids }, name: { eq: $name } }, limit: $n) { id } }';
    // Seen once, then learned on the second sighting, then reused.
    await outcome(E, PA, q, { ids: [u(1)], n: 1, name: 'a' });
    await outcome(E, PA, q, { ids: [u(4)], n: 3, name: 'd' });
    expect(planCacheStats(E)).toMatchObject({ hits: 0, stored: 1 });
    await outcome(E, PB, q, { ids: [u(2), u(3)], n: 2, name: 'b' });
    await outcome(E, PA, q, { ids: Array.from({ length: 50 }, (_, i) => u(i)), n: 50, name: 'c' });
    expect(planCacheStats(E)).toMatchObject({ hits: 2, stored: 1 });
  });

  it('keeps values that change the SQL in the key (one plan each), and learns it once per document', async () => {
    const E = models.experiments;
    clearPlanCache();
    const q = 'query($n: Int!, $after: String) { experiment_connection(first: $n, after: $after) { nodes { id } } }';
    // The second request learns that the cursor is not a bind parameter: from then on each cursor has its key.
    for (let i = 0; i < 4; i++) await outcome(E, PA, q, { n: 2, after: encodeCursor(E, 'experiment', [], [u(i)]) });
    expect(planCacheStats(E)).toMatchObject({ hits: 0, stored: 1 });
    await outcome(E, PA, q, { n: 5, after: encodeCursor(E, 'experiment', [], [u(1)]) });
    expect(planCacheStats(E)).toMatchObject({ hits: 1, stored: 1 });
    await outcome(E, PA, q, { n: 5, after: encodeCursor(E, 'experiment', [], [u(3)]) });
    expect(planCacheStats(E)).toMatchObject({ hits: 1, stored: 2 });
  });
});

/**
 * GraphQL aggregates end to end (SPEC G-2, G-3, G-10, A-4): `<entity>_aggregate` and `<relation>_aggregate` over
 * HTTP on the experiments preset with a small synthetic sweep — the experiments dashboard's questions (metric
 * values per epoch averaged over runs; the average of the last test accuracy per model family) checked
 * against answers computed here, nesting inside normal selections as ONE statement (db.stats and
 * `x-lattice-trace`), tenant isolation with overlapping key values, bad inputs; then the schema's shape and
 * `naming: graphql-default` without a database.
 */
import type { FastifyInstance } from 'fastify';
import { parse, validate, type GraphQLEnumType, type GraphQLObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planOperation } from '../../src/graphql/plan/operation.js';
import { buildSchema } from '../../src/graphql/schema/build.js';
import { loadModelDocument, loadPreset } from '../../src/model/load.js';
import type { AggregateNode, ListNode } from '../../src/query/plan.js';
import { compileRead } from '../../src/query/sql/compile.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';
import { graphqlTestApp } from '../support/graphql-app.js';

interface Gql {
  status: number;
  body: { data?: Record<string, any> | null; errors?: { message: string; extensions: { code: string; tracing?: unknown } }[]; extensions?: { tracing: { statements: number } } };
}

/** One trial of the synthetic sweep. */
interface TrialSpec {
  family: 'softmax' | 'mlp';
  name: string;
  epochs: number;
  status: string;
}
const SWEEP: TrialSpec[] = [
  { family: 'softmax', name: 'lr-0.1', epochs: 20, status: 'completed' },
  { family: 'softmax', name: 'lr-0.01', epochs: 40, status: 'completed' },
  { family: 'softmax', name: 'lr-1', epochs: 20, status: 'failed' },
  { family: 'mlp', name: 'h-16', epochs: 30, status: 'completed' },
  { family: 'mlp', name: 'h-32', epochs: 30, status: 'running' },
];
const RUNS_PER_TRIAL = 2;
/** Test accuracy of trial i, run r at step s: rises with the step; runs and trials differ a little. */
const accuracy = (i: number, r: number, s: number, epochs: number) => 0.5 + (0.4 * s) / epochs + 0.01 * r + 0.003 * i;
const loss = (i: number, r: number, s: number) => 2 / (s + 1) + 0.05 * r + 0.01 * i;
const LIMITS = { maxLimit: 1000, maxDepth: 12 };

describe.each(TEST_KINDS)('GraphQL aggregates on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let pA: string;
  let pB: string;
  const trialIds: string[] = [];
  const runIds: string[][] = [];
  const metricCreated: string[] = [];

  beforeAll(async () => {
    t = await createTestDb(kind);
    pA = await createProject(t.db, 'A');
    pB = await createProject(t.db, 'B');
    const exps = await insertRows<{ id: string }>(t.db, 'experiment', [
      { project_id: pA, name: 'softmax sweep', kind: 'softmax' },
      { project_id: pA, name: 'mlp sweep', kind: 'mlp' },
    ]);
    const expOf = { softmax: exps[0].id, mlp: exps[1].id };
    const trials = await insertRows<{ id: string }>(
      t.db,
      'trial',
      SWEEP.map((s) => ({ project_id: pA, experiment_id: expOf[s.family], name: s.name, status: s.status, params: { epochs: s.epochs } })),
    );
    trialIds.push(...trials.map((x) => x.id));
    const runs = await insertRows<{ id: string; trial_id: string }>(
      t.db,
      'run',
      trialIds.flatMap((trial_id) => Array.from({ length: RUNS_PER_TRIAL }, () => ({ project_id: pA, trial_id, status: 'completed' }))),
    );
    SWEEP.forEach((_, i) => runIds.push(runs.filter((r) => r.trial_id === trialIds[i]).map((r) => r.id)));
    const metrics: Record<string, unknown>[] = [];
    SWEEP.forEach((s, i) => {
      runIds[i].forEach((run_id, r) => {
        for (let step = 1; step <= s.epochs; step++) {
          metrics.push({ project_id: pA, trial_id: trialIds[i], run_id, key: 'test_accuracy', value: accuracy(i, r, step, s.epochs), step });
          metrics.push({ project_id: pA, trial_id: trialIds[i], run_id, key: 'train_loss', value: loss(i, r, step), step });
        }
      });
    });
    const inserted = await insertRows<{ created_at: Date | string }>(t.db, 'metric', metrics);
    metricCreated.push(...inserted.map((m) => new Date(m.created_at).toISOString()));

    // Project B: the same families, key and steps, with values that would pull every average down if counted.
    const [eB, eB2] = await insertRows<{ id: string }>(t.db, 'experiment', [
      { project_id: pB, name: 'b softmax', kind: 'softmax' },
      { project_id: pB, name: 'b mlp', kind: 'mlp' },
    ]);
    const [tB, tB2] = await insertRows<{ id: string }>(t.db, 'trial', [
      { project_id: pB, experiment_id: eB.id, name: 'lr-0.1', status: 'completed', params: { epochs: 20 } },
      { project_id: pB, experiment_id: eB2.id, name: 'h-16', status: 'completed', params: { epochs: 30 } },
    ]);
    const [rB, rB2] = await insertRows<{ id: string }>(t.db, 'run', [
      { project_id: pB, trial_id: tB.id, status: 'completed' },
      { project_id: pB, trial_id: tB2.id, status: 'completed' },
    ]);
    await insertRows(t.db, 'metric', [
      { project_id: pB, trial_id: tB.id, run_id: rB.id, key: 'test_accuracy', value: 0, step: 20 },
      { project_id: pB, trial_id: tB.id, run_id: rB.id, key: 'test_accuracy', value: 0, step: 1 },
      { project_id: pB, trial_id: tB2.id, run_id: rB2.id, key: 'test_accuracy', value: 0, step: 30 },
    ]);

    app = await graphqlTestApp(t.db, t.model, { limits: LIMITS });
  });

  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  const viewerA = () => ({ 'x-test-role': 'viewer', 'x-test-projects': pA });
  async function gql(query: string, variables?: Record<string, unknown>, headers: Record<string, string> = viewerA()): Promise<Gql> {
    const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query, variables }, headers });
    return { status: res.statusCode, body: res.json() };
  }
  /** Run a query as viewer of A (unless headers say otherwise); assert success and exactly one data statement. */
  async function one(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<Record<string, any>> {
    const before = t.db.stats.statements;
    const res = await gql(query, variables, headers);
    expect(res.body.errors, JSON.stringify(res.body.errors)).toBeUndefined();
    expect(t.db.stats.statements - before).toBe(1);
    return res.body.data!;
  }
  async function fails(query: string, message: RegExp): Promise<void> {
    const res = await gql(query);
    expect(res.body.errors?.[0]?.extensions.code, JSON.stringify(res.body)).toBe('BAD_USER_INPUT');
    expect(res.body.errors![0].message).toMatch(message);
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

  it('dashboard: metric values per epoch averaged over runs', async () => {
    const i = 1; // softmax, 40 epochs
    const data = await one(
      `query($trial: ID!) {
        curve: metric_aggregate(trial_id: $trial, filter: { key: { eq: "test_accuracy" } }, group_by: [step]) { key { step } avg { value } count }
        trial(id: $trial) { metrics_aggregate(filter: { key: { eq: "test_accuracy" } }, group_by: [step]) { key { step } avg { value } count } }
      }`,
      { trial: trialIds[i] },
    );
    expect(data.trial.metrics_aggregate).toEqual(data.curve); // root with the fk shorthand = nested under the trial
    const expected = Array.from({ length: SWEEP[i].epochs }, (_, k) => ({
      step: k + 1,
      avg: mean(Array.from({ length: RUNS_PER_TRIAL }, (_, r) => accuracy(i, r, k + 1, SWEEP[i].epochs))),
    }));
    expect(data.curve).toHaveLength(expected.length);
    data.curve.forEach((g: any, k: number) => {
      expect(g.key).toEqual({ step: expected[k].step });
      expect(g.count).toBe(RUNS_PER_TRIAL);
      expect(g.avg.value).toBeCloseTo(expected[k].avg, 12);
    });
  });

  it('dashboard: the average of the last test accuracy per model family (to-one filters, related group key)', async () => {
    const query = `{ final: metric_aggregate(
        filter: { key: { eq: "test_accuracy" }, or: [
          { step: { eq: 20 }, trial: { params: { contains: { epochs: 20 } } } },
          { step: { eq: 30 }, trial: { params: { contains: { epochs: 30 } } } },
          { step: { eq: 40 }, trial: { params: { contains: { epochs: 40 } } } } ] },
        group_by: [trial_experiment_kind], order_by: [{ avg: { value: DESC } }]) {
      key { trial_experiment_kind } avg { value } count count_distinct { trial_id run_id } } }`;
    const expected = (['mlp', 'softmax'] as const).map((family) => {
      const finals = SWEEP.flatMap((s, i) => (s.family === family ? Array.from({ length: RUNS_PER_TRIAL }, (_, r) => accuracy(i, r, s.epochs, s.epochs)) : []));
      const trials = SWEEP.filter((s) => s.family === family).length;
      return { family, avg: mean(finals), count: finals.length, trials };
    });
    expected.sort((a, b) => b.avg - a.avg);
    const data = await one(query);
    expect(data.final.map((g: any) => g.key.trial_experiment_kind)).toEqual(expected.map((e) => e.family));
    data.final.forEach((g: any, k: number) => {
      expect(g.avg.value).toBeCloseTo(expected[k].avg, 12);
      expect(g.count).toBe(expected[k].count);
      expect(g.count_distinct).toEqual({ trial_id: expected[k].trials, run_id: expected[k].trials * RUNS_PER_TRIAL });
    });
    // The admin sees project B too: its zero accuracies join the same families (so they exist and would count).
    const all = await one(query, undefined, { 'x-test-role': 'admin' });
    for (const g of all.final) {
      const mine = expected.find((e) => e.family === g.key.trial_experiment_kind)!;
      expect(g.count).toBe(mine.count + 1);
      expect(g.avg.value).toBeLessThan(mine.avg);
    }
  });

  it('nests aggregates inside normal selections, correlated, as ONE statement (db.stats and x-lattice-trace)', async () => {
    const query = `{
      experiments(order_by: [{ name: ASC }]) {
        name
        trials_aggregate(group_by: [status]) { key { status } count }
        trials(order_by: [{ name: ASC }]) {
          name
          runs_aggregate { count }
          metrics_aggregate(filter: { key: { eq: "test_accuracy" } }, group_by: [run_id], limit: 1) { max { value step } }
        }
      }
      metric_aggregate(group_by: [key]) { __typename key { __typename key } count }
    }`;
    const before = t.db.stats.statements;
    const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query }, headers: { ...viewerA(), 'x-lattice-trace': '1' } });
    expect(t.db.stats.statements - before).toBe(1);
    const body = res.json() as Gql['body'];
    expect(body.errors).toBeUndefined();
    expect(body.extensions?.tracing.statements).toBe(1);
    const data = body.data!;
    expect(data.experiments.map((e: any) => [e.name, e.trials_aggregate])).toEqual([
      ['mlp sweep', [{ key: { status: 'running' }, count: 1 }, { key: { status: 'completed' }, count: 1 }]], // declared enum order
      ['softmax sweep', [{ key: { status: 'completed' }, count: 2 }, { key: { status: 'failed' }, count: 1 }]],
    ]);
    const trials = data.experiments.flatMap((e: any) => e.trials);
    expect(trials).toHaveLength(SWEEP.length);
    for (const tr of trials) {
      const i = SWEEP.findIndex((s) => s.name === tr.name);
      expect(tr.runs_aggregate).toEqual([{ count: RUNS_PER_TRIAL }]);
      // Grouped by run, ordered by run id, limit 1: the smallest run id of the trial, its last step.
      const r = runIds[i].indexOf([...runIds[i]].sort()[0]);
      expect(tr.metrics_aggregate).toHaveLength(1);
      expect(tr.metrics_aggregate[0].max.step).toBe(SWEEP[i].epochs);
      expect(tr.metrics_aggregate[0].max.value).toBeCloseTo(accuracy(i, r, SWEEP[i].epochs, SWEEP[i].epochs), 12);
    }
    const perKey = SWEEP.reduce((n, s) => n + s.epochs * RUNS_PER_TRIAL, 0);
    expect(data.metric_aggregate).toEqual([
      { __typename: 'MetricAggregate', key: { __typename: 'MetricAggregateKey', key: 'test_accuracy' }, count: perKey },
      { __typename: 'MetricAggregate', key: { __typename: 'MetricAggregateKey', key: 'train_loss' }, count: perKey },
    ]);
  });

  it("never counts or reveals another project's rows in counts, group keys or count_distinct (SPEC A-4)", async () => {
    const query = `{
      names: metric_aggregate(group_by: [trial_experiment_name, trial_name]) { key { trial_experiment_name trial_name } count }
      distinct: metric_aggregate { count count_distinct { trial_id run_id step } min { value } }
      projects { name experiments_aggregate { count } metrics_aggregate(group_by: [key]) { key { key } count } }
    }`;
    const a = await one(query);
    const perKey = SWEEP.reduce((n, s) => n + s.epochs * RUNS_PER_TRIAL, 0);
    expect(a.names.map((g: any) => g.key.trial_experiment_name)).not.toContain('b softmax');
    expect(a.names.reduce((n: number, g: any) => n + g.count, 0)).toBe(2 * perKey);
    const lr01 = a.names.find((g: any) => g.key.trial_name === 'lr-0.1'); // B has a trial of this name too
    expect(lr01).toEqual({ key: { trial_experiment_name: 'softmax sweep', trial_name: 'lr-0.1' }, count: 2 * SWEEP[0].epochs * RUNS_PER_TRIAL });
    expect(a.distinct).toEqual([{ count: 2 * perKey, count_distinct: { trial_id: SWEEP.length, run_id: SWEEP.length * RUNS_PER_TRIAL, step: 40 }, min: { value: expect.any(Number) } }]);
    expect(a.distinct[0].min.value).toBeGreaterThan(0); // B's zeros are not seen
    expect(a.projects).toEqual([{ name: 'A', experiments_aggregate: [{ count: 2 }], metrics_aggregate: [{ key: { key: 'test_accuracy' }, count: perKey }, { key: { key: 'train_loss' }, count: perKey }] }]);
    // A viewer of B sees exactly B's three metrics; the admin sees both projects, B's groups apart.
    const b = await one(query, undefined, { 'x-test-role': 'viewer', 'x-test-projects': pB });
    expect(b.distinct).toEqual([{ count: 3, count_distinct: { trial_id: 2, run_id: 2, step: 3 }, min: { value: 0 } }]);
    expect(b.projects).toEqual([{ name: 'B', experiments_aggregate: [{ count: 2 }], metrics_aggregate: [{ key: { key: 'test_accuracy' }, count: 3 }] }]);
    const admin = await one(query, undefined, { 'x-test-role': 'admin' });
    expect(admin.names.find((g: any) => g.key.trial_experiment_name === 'b softmax')).toEqual({ key: { trial_experiment_name: 'b softmax', trial_name: 'lr-0.1' }, count: 2 });
  });

  it('groups by time buckets through variables, searches, orders and limits groups', async () => {
    const data = await one(
      `query($g: [MetricGroupBy!]) { byDay: metric_aggregate(group_by: $g) { key { created_at_day step } count } }`,
      { g: ['created_at_day'] },
    );
    const days = new Map<string, number>();
    for (const c of metricCreated) {
      const day = `${c.slice(0, 10)}T00:00:00.000000Z`;
      days.set(day, (days.get(day) ?? 0) + 1);
    }
    expect(data.byDay).toEqual([...days.entries()].sort().map(([d, n]) => ({ key: { created_at_day: d, step: null }, count: n })));
    expect((await one('{ experiment_aggregate(search: "mlp") { count } }')).experiment_aggregate).toEqual([{ count: 1 }]);
    const top = await one('{ trial_aggregate(group_by: [status, experiment_id], order_by: [{ count: DESC }, { key: { status: DESC } }], limit: 2) { key { status } count } }');
    expect(top.trial_aggregate).toEqual([
      { key: { status: 'completed' }, count: 2 },
      { key: { status: 'failed' }, count: 1 },
    ]);
  });

  it('takes fragments, directives and aliases inside aggregates, and answers next to introspection', async () => {
    const data = await one(`
      query($withMax: Boolean!) {
        trial_aggregate(group_by: [status], order_by: [{ key: { status: DESC } }]) { ...Counts k: key { s: status } m: max @include(if: $withMax) { name } }
      }
      fragment Counts on TrialAggregate { n: count }`, { withMax: false });
    expect(data.trial_aggregate).toEqual([
      { n: 1, k: { s: 'failed' } },
      { n: 3, k: { s: 'completed' } },
      { n: 1, k: { s: 'running' } },
    ]);
    const mixed = await one('{ __schema { queryType { name } } trial_aggregate { count min { status } avg { duration } } }');
    expect(mixed).toEqual({ __schema: { queryType: { name: 'Query' } }, trial_aggregate: [{ count: SWEEP.length, min: { status: 'running' }, avg: { duration: null } }] });
  });

  it('refuses bad aggregate arguments with BAD_USER_INPUT', async () => {
    await fails('{ trial_aggregate(order_by: [{ key: { status: ASC } }]) { count } }', /not grouped by status.*add it to group_by/);
    await fails('{ trial_aggregate(limit: -1) { count } }', /zero or positive/);
    await fails(`{ trial_aggregate(limit: ${LIMITS.maxLimit + 1}) { count } }`, /above the maximum/);
    await fails('{ trial_aggregate(group_by: [status], order_by: [{ count: ASC, key: { status: ASC } }]) { count } }', /sets 2 fields/);
    await fails('{ trial_aggregate(group_by: [status], order_by: [{ key: {} }]) { count } }', /sets 0 fields/);
    await fails('{ trial_aggregate(search: "x") { count } }', /Unknown argument "search"/);
    await fails('{ run_aggregate { sum { status } } }', /Cannot query field "sum"/);
    await fails('{ trial_aggregate(group_by: [bogus]) { count } }', /bogus/);
  });
});

describe('aggregate schema and planning', () => {
  it('generates aggregate fields, types and args only where they apply', async () => {
    const model = await loadPreset('experiments');
    const schema = buildSchema(model);
    const q = schema.getQueryType()!.getFields();
    expect(q.metric_aggregate.args.map((a) => a.name)).toEqual(['filter', 'group_by', 'order_by', 'limit', 'project_id', 'trial_id', 'run_id']);
    expect(q.experiment_aggregate.args.map((a) => a.name)).toContain('search');
    const agg = schema.getType('RunAggregate') as GraphQLObjectType;
    expect(Object.keys(agg.getFields())).toEqual(['key', 'count', 'count_distinct', 'avg', 'min', 'max']); // no numeric field: no sum
    expect(String((schema.getType('MetricSumFields') as GraphQLObjectType).getFields().step.type)).toBe('BigInt');
    expect(String((schema.getType('MetricAvgFields') as GraphQLObjectType).getFields().created_at.type)).toBe('DateTime');
    const groupBy = (schema.getType('MetricGroupBy') as GraphQLEnumType).getValues().map((v) => v.name);
    expect(groupBy).toEqual(expect.arrayContaining(['step', 'key', 'trial_id', 'created_at_week', 'trial_status', 'run_status', 'trial_experiment_kind', 'project_name']));
    expect(groupBy).not.toContain('trial_created_at'); // related built-ins are not keys
    expect(groupBy).not.toContain('trial_project_name'); // the project two hops away is the row's own
    expect(groupBy).not.toContain('meta');
    const relation = (schema.getType('Experiment') as GraphQLObjectType).getFields().trials_aggregate;
    expect(String(relation.type)).toBe('[TrialAggregate!]!');
    expect((schema.getType('Project') as GraphQLObjectType).getFields().metrics_aggregate).toBeDefined();
  });

  it('names fields and arguments by the model naming (graphql-default) while enum values stay snake_case', () => {
    const model = loadModelDocument({
      name: 'sensors',
      naming: 'graphql-default',
      entities: {
        sensor: { fields: { name: { type: 'string', required: true }, site_code: { type: 'string' } } },
        sensor_reading: { fields: { sensor: { type: 'ref', to: 'sensor', required: true }, read_at: { type: 'datetime' }, value: { type: 'float' } } },
      },
    });
    const schema = buildSchema(model);
    const doc = parse(`{
      sensorReadingAggregate(groupBy: [read_at_hour, sensor_site_code, read_at_hour], orderBy: [{ key: { readAtHour: DESC } }, { avg: { value: ASC } }], limit: 5) {
        key { readAtHour sensorSiteCode } count avg { value } countDistinct { sensorId }
      }
      sensors { sensorReadingsAggregate { count } }
    }`);
    expect(validate(schema, doc)).toEqual([]);
    const plan = planOperation({ model, schema, principal: testPrincipal('admin'), limits: LIMITS }, doc);
    const node = plan.roots[0].node as AggregateNode;
    expect(node.args).toEqual({
      groupBy: [
        { name: 'read_at_hour', path: [], column: 'read_at', bucket: 'hour' },
        { name: 'sensor_site_code', path: ['sensor'], column: 'site_code' },
      ],
      orderBy: [
        { target: { kind: 'key', name: 'read_at_hour' }, direction: 'DESC', nulls: 'FIRST' },
        { target: { kind: 'fn', fn: 'avg', column: 'value' }, direction: 'ASC', nulls: 'LAST' },
      ],
      limit: 5,
    });
    expect(node.fields).toEqual([
      { responseKey: 'key', kind: 'key', fields: [{ responseKey: 'readAtHour', kind: 'group', name: 'read_at_hour' }, { responseKey: 'sensorSiteCode', kind: 'group', name: 'sensor_site_code' }] },
      { responseKey: 'count', kind: 'count' },
      { responseKey: 'avg', kind: 'fn', fn: 'avg', fields: [{ responseKey: 'value', kind: 'column', column: 'value' }] },
      { responseKey: 'countDistinct', kind: 'fn', fn: 'count_distinct', fields: [{ responseKey: 'sensorId', kind: 'column', column: 'sensor_id' }] },
    ]);
    const nested = (plan.roots[1].node as ListNode).selection[0];
    expect(nested).toMatchObject({ kind: 'to_many', relation: 'sensor_readings', node: { kind: 'aggregate', entity: 'sensor_reading' } });
    expect(() => compileRead(model, plan)).not.toThrow();
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { parse, validate, type GraphQLSchema } from 'graphql';
import { GraphQLRequestError } from '../../src/graphql/errors.js';
import { analyzeOperation, planOperation } from '../../src/graphql/plan/operation.js';
import { buildSchema } from '../../src/graphql/schema/build.js';
import { loadPreset } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import type { ConnectionNode, ListNode, ListPageNode, ObjectNode, OperationPlan } from '../../src/query/plan.js';
import { encodeCursor } from '../../src/query/cursor.js';
import { testPrincipal } from '../support/db.js';

let model: Model;
let schema: GraphQLSchema;
const P1 = '0190f5a8-7d0e-7c3a-9b1e-3f1e2d4c5b6a';
const P2 = '0190f5a8-7d0e-7c3a-9b1e-3f1e2d4c5b6b';
const limits = { maxLimit: 100, maxDepth: 6, maxCost: Number.MAX_SAFE_INTEGER }; // the cost limit: limits.test.ts

beforeAll(async () => {
  model = await loadPreset('experiments');
  schema = buildSchema(model);
});

function plan(query: string, variables?: Record<string, unknown>, operationName?: string, role: 'admin' | 'viewer' = 'admin'): OperationPlan {
  const doc = parse(query);
  const errors = validate(schema, doc);
  if (errors.length) throw new Error(errors.map((e) => e.message).join('; '));
  return planOperation({ model, schema, principal: testPrincipal(role, [P1]), limits }, doc, operationName, variables);
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

describe('planOperation', () => {
  it('plans the seed-000 queries with shorthand fk arguments as eq filters', () => {
    const p = plan(`{ trials(experiment_id: "${P1}") { id name status } trial_metrics(trial_id: "${P2}") { key value step } }`);
    expect(p.scope).toEqual({ kind: 'all' });
    expect(p.roots.map((r) => r.responseKey)).toEqual(['trials', 'trial_metrics']);
    const trials = p.roots[0].node as ListNode;
    expect(trials).toMatchObject({ kind: 'list', entity: 'trial' });
    expect(trials.args.filter).toEqual({ kind: 'compare', column: 'experiment_id', type: 'ref', op: 'eq', value: P1 });
    expect(trials.selection).toEqual([
      { responseKey: 'id', kind: 'column', column: 'id' },
      { responseKey: 'name', kind: 'column', column: 'name' },
      { responseKey: 'status', kind: 'column', column: 'status' },
    ]);
    const metrics = p.roots[1].node as ListNode;
    expect(metrics.entity).toBe('metric');
    expect(metrics.args.filter).toEqual({ kind: 'compare', column: 'trial_id', type: 'ref', op: 'eq', value: P2 });
  });

  it('plans object lookups, nesting, aliases and __typename anywhere', () => {
    const p = plan(`{ __typename e: experiment(id: "${P1}") { __typename id ts: trials(limit: 5) { runs { id } exp: experiment { name } } } }`);
    expect(p.roots[0]).toEqual({ responseKey: '__typename', node: { kind: 'typename', value: 'Query' } });
    const e = p.roots[1].node as ObjectNode;
    expect(p.roots[1].responseKey).toBe('e');
    expect(e).toMatchObject({ kind: 'object', entity: 'experiment', id: P1 });
    expect(e.selection[0]).toEqual({ responseKey: '__typename', kind: 'typename', value: 'Experiment' });
    const ts = e.selection[2];
    expect(ts).toMatchObject({ responseKey: 'ts', kind: 'to_many', relation: 'trials', node: { kind: 'list', entity: 'trial', args: { limit: 5, orderBy: [] } } });
    const inner = (ts as { node: ListNode }).node.selection;
    expect(inner[0]).toMatchObject({ kind: 'to_many', relation: 'runs', node: { kind: 'list', entity: 'run' } });
    expect(inner[1]).toMatchObject({ responseKey: 'exp', kind: 'to_one', relation: 'experiment', selection: [{ kind: 'column', column: 'name' }] });
  });

  it('expands named and inline fragments and merges fields under one response key', () => {
    const p = plan(`
      query Q { experiments { ...A ... on Experiment { name } ... { kind } trials { id } trials { name } } }
      fragment A on Experiment { id name }`);
    const sel = (p.roots[0].node as ListNode).selection;
    expect(sel.map((s) => s.responseKey)).toEqual(['id', 'name', 'kind', 'trials']);
    const trials = sel[3] as { node: ListNode };
    expect(trials.node.selection.map((s) => s.responseKey)).toEqual(['id', 'name']);
  });

  it('coerces variables and applies @skip / @include', () => {
    const q = `query Q($id: ID!, $withTrials: Boolean!, $skipName: Boolean = false, $f: TrialFilter, $n: Int) {
      experiment(id: $id) { id name @skip(if: $skipName) trials(filter: $f, limit: $n) @include(if: $withTrials) { id } } }`;
    const a = plan(q, { id: P1, withTrials: true, f: { name: { starts_with: 'lr' } }, n: 3 });
    const sel = (a.roots[0].node as ObjectNode).selection;
    expect(sel.map((s) => s.responseKey)).toEqual(['id', 'name', 'trials']);
    expect((sel[2] as { node: ListNode }).node.args).toMatchObject({
      limit: 3,
      filter: { kind: 'compare', column: 'name', op: 'starts_with', value: 'lr' },
    });
    const b = plan(q, { id: P1, withTrials: false, skipName: true });
    expect((b.roots[0].node as ObjectNode).selection.map((s) => s.responseKey)).toEqual(['id']);
  });

  it('converts filters: operators, and/or/not, relation filters', () => {
    const p = plan(`{ trials(filter: {
        status: { in: [running, completed] }, duration: { gte: 1.5, lt: 10 },
        or: [{ name: { ilike: "%lr%" } }, { meta: { has_key: "seed" } }],
        not: { description: { is_null: true } },
        experiment: { kind: { eq: "softmax" } },
        runs: { some: { status: { eq: failed } }, none: { meta: { contains: { bad: true } } } } }) { id } }`);
    const f = (p.roots[0].node as ListNode).args.filter;
    expect(f?.kind).toBe('and');
    expect((f as unknown as { items: unknown[] }).items).toHaveLength(8);
    expect((f as unknown as { items: unknown[] }).items).toEqual(expect.arrayContaining([
        { kind: 'compare', column: 'status', type: 'enum', op: 'in', value: ['running', 'completed'] },
        { kind: 'compare', column: 'duration', type: 'float', op: 'gte', value: 1.5 },
        { kind: 'compare', column: 'duration', type: 'float', op: 'lt', value: 10 },
        { kind: 'or', items: [
          { kind: 'compare', column: 'name', type: 'string', op: 'ilike', value: '%lr%' },
          { kind: 'compare', column: 'meta', type: 'json', op: 'has_key', value: 'seed' },
        ] },
        { kind: 'not', item: { kind: 'compare', column: 'description', type: 'text', op: 'is_null', value: true } },
        { kind: 'related', relation: 'experiment', mode: 'is', filter: { kind: 'compare', column: 'kind', type: 'string', op: 'eq', value: 'softmax' } },
        { kind: 'related', relation: 'runs', mode: 'some', filter: { kind: 'compare', column: 'status', type: 'enum', op: 'eq', value: 'failed' } },
        { kind: 'related', relation: 'runs', mode: 'none', filter: { kind: 'compare', column: 'meta', type: 'json', op: 'contains', value: { bad: true } } },
    ]));
  });

  it('converts order_by and refuses items with zero or several fields', () => {
    const p = plan('{ trials(order_by: [{ duration: DESC_NULLS_LAST }, { name: ASC }, { created_at: DESC }]) { id } }');
    expect((p.roots[0].node as ListNode).args.orderBy).toEqual([
      { column: 'duration', direction: 'DESC', nulls: 'LAST' },
      { column: 'name', direction: 'ASC', nulls: 'LAST' },
      { column: 'created_at', direction: 'DESC', nulls: 'FIRST' },
    ]);
    const e = planError('{ trials(order_by: [{ name: ASC, duration: DESC }]) { id } }');
    expect(e.code).toBe('BAD_USER_INPUT');
    expect(e.message).toMatch(/exactly one/);
    expect(e.graphqlErrors[0].locations?.[0]).toBeDefined();
    expect(planError('{ trials(order_by: [{}]) { id } }').message).toMatch(/sets 0 fields/);
  });

  it('plans list pages and connections with all wrapper fields', () => {
    const p = plan(`{
      experiment_list(limit: 10, offset: 20) { __typename total_count items { id } }
      trial_connection(first: 2, order_by: [{ name: ASC }]) {
        total_count edges { cursor node { id } } nodes { name } page_info { has_next_page has_previous_page start_cursor end_cursor }
      } }`);
    const lp = p.roots[0].node as ListPageNode;
    expect(lp).toMatchObject({ kind: 'list_page', entity: 'experiment', args: { limit: 10, offset: 20 } });
    expect(lp.fields.map((f) => f.kind)).toEqual(['typename', 'total_count', 'items']);
    const c = p.roots[1].node as ConnectionNode;
    expect(c.args).toMatchObject({ first: 2, orderBy: [{ column: 'name' }] });
    expect(c.fields.map((f) => f.kind)).toEqual(['total_count', 'edges', 'nodes', 'page_info']);
    expect(c.fields[1]).toEqual({ responseKey: 'edges', kind: 'edges', fields: [
      { responseKey: 'cursor', kind: 'cursor' },
      { responseKey: 'node', kind: 'node', selection: [{ responseKey: 'id', kind: 'column', column: 'id' }] },
    ] });
    expect((c.fields[3] as unknown as { fields: { kind: string }[] }).fields.map((f) => f.kind)).toEqual(['has_next_page', 'has_previous_page', 'start_cursor', 'end_cursor']);
  });

  it('decodes cursors for the ordering and refuses malformed or foreign ones', () => {
    const order = [{ column: 'name', direction: 'ASC' as const, nulls: 'LAST' as const }];
    const cursor = encodeCursor(model, 'trial', order, ['lr-0.1', P1]);
    const p = plan(`{ trial_connection(first: 2, after: "${cursor}", order_by: [{ name: ASC }]) { edges { cursor } } }`);
    expect((p.roots[0].node as ConnectionNode).args.after).toEqual({ values: ['lr-0.1', P1] });
    expect(planError('{ trial_connection(after: "not a cursor!") { total_count } }').code).toBe('BAD_USER_INPUT');
    const foreign = planError(`{ experiment_connection(after: "${cursor}") { total_count } }`);
    expect(foreign.message).toMatch(/different ordering or entity/);
    expect(planError('{ trial_connection(first: 1, last: 1) { total_count } }').message).toMatch(/not both/);
  });

  it('enforces maxLimit and non-negative limits, offsets and counts', () => {
    expect(planError('{ trials(limit: 101) { id } }').message).toMatch(/above the maximum of 100/);
    expect(planError('{ trials(limit: -1) { id } }').message).toMatch(/zero or positive/);
    expect(planError('{ trials(offset: -5) { id } }').code).toBe('BAD_USER_INPUT');
    expect(planError('{ trial_connection(first: 1000) { total_count } }').code).toBe('BAD_USER_INPUT');
    expect(planError('query($n: Int) { experiments { trials(limit: $n) { id } } }', { n: 500 }).message).toMatch(/experiments\.trials\(limit\)/);
  });

  it('enforces the depth limit with QUERY_TOO_COMPLEX', () => {
    // depth: projects(1) experiments(2) trials(3) runs(4) trial(5) experiment(6) → ok; one more level → too deep
    expect(() => plan('{ projects { experiments { trials { runs { trial { experiment { id } } } } } } }')).not.toThrow();
    const e = planError('{ projects { experiments { trials { runs { trial { experiment { trials { id } } } } } } } }');
    expect(e.code).toBe('QUERY_TOO_COMPLEX');
    expect(e.message).toMatch(/maximum is 6/);
  });

  it('refuses null operands and bad variables with BAD_USER_INPUT', () => {
    expect(planError('{ trials(filter: { name: { eq: null } }) { id } }').message).toMatch(/is_null/);
    // A null shorthand fk argument, literal or through a variable, is refused rather than silently ignored.
    const fk = planError('{ experiments { trials(experiment_id: null) { id } } }');
    expect(fk.code).toBe('BAD_USER_INPUT');
    expect(fk.message).toBe(
      'experiments.trials(experiment_id) is null; leave it out for all rows, or use filter: { experiment_id: { is_null: true } } to match rows without one.',
    );
    expect(planError('query($e: ID) { trials(experiment_id: $e) { id } }', { e: null }).message).toMatch(/is null; leave it out/);
    // An absent variable is an absent argument: all rows.
    expect((plan('query($e: ID) { trials(experiment_id: $e) { id } }', {}).roots[0].node as ListNode).args.filter).toBeUndefined();
    const v = planError('query($id: ID!) { trial(id: $id) { id } }', { id: 'nope' });
    expect(v.code).toBe('BAD_USER_INPUT');
    expect(v.message).toMatch(/UUID/);
    expect(planError('query($n: Int) { trials(limit: $n) { id } }', { n: 'x' }).code).toBe('BAD_USER_INPUT');
  });

  it('scopes non-admin principals to their projects and selects operations by name', () => {
    const p = plan('query A { projects { id } } query B { runs { id } }', undefined, 'B', 'viewer');
    expect(p.scope).toEqual({ kind: 'projects', projectIds: [P1] });
    expect((p.roots[0].node as ListNode).entity).toBe('run');
    expect(() => plan('query A { projects { id } } query B { runs { id } }')).toThrow(/operationName/);
  });

  it('keeps introspection root fields out of the plan', () => {
    const doc = parse('{ __schema { queryType { name } } t: __type(name: "Run") { name } projects { id } }');
    const a = analyzeOperation({ model, schema, principal: testPrincipal('admin'), limits }, doc);
    expect(a.introspectionKeys).toEqual(['__schema', 't']);
    expect(a.plan.roots.map((r) => r.responseKey)).toEqual(['projects']);
  });

  it('plans batch lookups', () => {
    const p = plan(`{ runs_by_ids(ids: ["${P1}", "${P2.toUpperCase()}"]) { id } }`);
    expect(p.roots[0].node).toMatchObject({ kind: 'by_ids', entity: 'run', ids: [P1, P2] });
  });
});

describe('nested order_by', () => {
  it('follows at most four to-one relations (a self-reference could nest without end)', async () => {
    const { loadModelDocument } = await import('../../src/model/load.js');
    const tree = loadModelDocument({ name: 'tree', entities: { folder: { fields: { parent: { type: 'ref', to: 'folder', inverse: 'children' }, label: { type: 'string' } } } } });
    const treeSchema = buildSchema(tree);
    const orderBy = (hops: number) => `${'{ parent: '.repeat(hops)}{ label: ASC }${' }'.repeat(hops)}`;
    const run = (hops: number) => {
      const doc = parse(`{ folders(order_by: [${orderBy(hops)}]) { id } }`);
      expect(validate(treeSchema, doc)).toEqual([]);
      return planOperation({ model: tree, schema: treeSchema, principal: testPrincipal('admin', [P1]), limits }, doc);
    };
    const four = (run(4).roots[0].node as ListNode).args.orderBy[0];
    expect(four).toMatchObject({ path: ['parent', 'parent', 'parent', 'parent'], column: 'label', direction: 'ASC' });
    let error: unknown;
    try {
      run(5);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GraphQLRequestError);
    expect((error as GraphQLRequestError).message).toMatch(/at most 4 relations/);
  });
});

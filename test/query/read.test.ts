import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject, createTestDb, insertRows, testPrincipal, TEST_KINDS, type TestDb } from '../support/db.js';
import type { Principal } from '../../src/auth/principal.js';
import type { Filter, RootNode } from '../../src/query/plan.js';
import { asc, cmp, cols, desc, list, runPlan, uid } from './support.js';

// Project A: experiments alpha (e1), beta (e2), gamma_x (e3), gammaxx (e4); trials ta..td under alpha, te under
// beta; runs under ta and tc; metrics under ta. Project B: experiment secret (e9) with trial hidden, run, metric.
const E = { alpha: uid(1), beta: uid(2), gamma_x: uid(3), gammaxx: uid(4), secret: uid(9) };
const T = { ta: uid(11), tb: uid(12), tc: uid(13), td: uid(14), te: uid(15), hidden: uid(19) };
const R = { r1: uid(21), r2: uid(22), r3: uid(23), hidden: uid(29) };

describe.each(TEST_KINDS)('compiled reads on %s', (kind) => {
  let t: TestDb;
  let A: string;
  let B: string;
  let viewerA: Principal;
  let admin: Principal;
  const run = (p: Principal, roots: Array<[string, RootNode]>, scope?: Parameters<typeof runPlan>[4]) =>
    runPlan(t.db, t.model, p, roots, scope);

  beforeAll(async () => {
    t = await createTestDb(kind);
    A = await createProject(t.db, 'A');
    B = await createProject(t.db, 'B');
    viewerA = testPrincipal('viewer', [A]);
    admin = testPrincipal('admin');
    const exp = (id: string, project: string, name: string, kind: string | null, description: string | null, meta: unknown) => ({ id, project_id: project, name, kind, description, meta });
    await insertRows(t.db, 'experiment', [
      exp(E.alpha, A, 'alpha', 'sweep', 'first 100% run', { team: 'ml', tags: { x: 1 } }),
      exp(E.beta, A, 'beta', null, '1000 runs', null),
      exp(E.gamma_x, A, 'gamma_x', 'grid', 'grid_search', { team: 'cv' }),
      exp(E.gammaxx, A, 'gammaxx', 'grid', null, null),
      exp(E.secret, B, 'secret', 'sweep', 'hidden', { team: 'ml' }),
    ]);
    const trial = (id: string, project: string, experiment: string, name: string, duration: number | null, status: string, params: unknown) => ({ id, project_id: project, experiment_id: experiment, name, duration, status, params });
    await insertRows(t.db, 'trial', [
      trial(T.ta, A, E.alpha, 'ta', 1.5, 'completed', { lr: 0.1, opt: 'sgd' }),
      trial(T.tb, A, E.alpha, 'tb', null, 'running', { lr: 0.01 }),
      trial(T.tc, A, E.alpha, 'tc', 3.25, 'failed', null),
      trial(T.td, A, E.alpha, 'td', 1.5, 'pending', { opt: 'adam' }),
      trial(T.te, A, E.beta, 'te', 0.5, 'completed', null),
      trial(T.hidden, B, E.secret, 'hidden', 9, 'completed', null),
    ]);
    await insertRows(t.db, 'run', [
      { id: R.r1, project_id: A, trial_id: T.ta, status: 'completed' },
      { id: R.r2, project_id: A, trial_id: T.ta, status: 'failed' },
      { id: R.r3, project_id: A, trial_id: T.tc, status: 'running' },
      { id: R.hidden, project_id: B, trial_id: T.hidden, status: 'completed' },
    ]);
    await insertRows(t.db, 'metric', [
      { id: uid(31), project_id: A, trial_id: T.ta, run_id: R.r1, key: 'loss', value: 0.9, step: 1 },
      { id: uid(32), project_id: A, trial_id: T.ta, run_id: R.r1, key: 'loss', value: 0.5, step: 2 },
      { id: uid(39), project_id: B, trial_id: T.hidden, run_id: R.hidden, key: 'loss', value: 0.1, step: 1 },
    ]);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('builds nested experiment → trials → runs with to-one relations, in order, as one statement', async () => {
    const { data, text } = await run(viewerA, [
      ['__typename', { kind: 'typename', value: 'Query' }],
      [
        'experiments',
        list('experiment', [
          { responseKey: '__typename', kind: 'typename', value: 'Experiment' },
          ...cols('name', 'meta'),
          {
            responseKey: 'trials',
            kind: 'to_many',
            relation: 'trials',
            node: {
              kind: 'list',
              entity: 'trial',
              args: { orderBy: [asc('name')] },
              selection: [
                ...cols('name', 'status', 'duration', 'params'),
                { responseKey: 'exp', kind: 'to_one', relation: 'experiment', selection: cols('name') },
                { responseKey: 'runs', kind: 'to_many', relation: 'runs', node: { kind: 'list', entity: 'run', args: { orderBy: [desc('status')] }, selection: cols('id', 'status') } },
              ],
            },
          },
        ], { orderBy: [asc('name')], limit: 2 }),
      ],
    ]);
    expect(data).toEqual({
      __typename: 'Query',
      experiments: [
        {
          __typename: 'Experiment',
          name: 'alpha',
          meta: { team: 'ml', tags: { x: 1 } },
          trials: [
            { name: 'ta', status: 'completed', duration: 1.5, params: { lr: 0.1, opt: 'sgd' }, exp: { name: 'alpha' }, runs: [{ id: R.r2, status: 'failed' }, { id: R.r1, status: 'completed' }] },
            { name: 'tb', status: 'running', duration: null, params: { lr: 0.01 }, exp: { name: 'alpha' }, runs: [] },
            { name: 'tc', status: 'failed', duration: 3.25, params: null, exp: { name: 'alpha' }, runs: [{ id: R.r3, status: 'running' }] },
            { name: 'td', status: 'pending', duration: 1.5, params: { opt: 'adam' }, exp: { name: 'alpha' }, runs: [] },
          ],
        },
        { __typename: 'Experiment', name: 'beta', meta: null, trials: [{ name: 'te', status: 'completed', duration: 0.5, params: null, exp: { name: 'beta' }, runs: [] }] },
      ],
    });
    // Response keys keep selection order.
    expect(text.indexOf('"__typename"')).toBeLessThan(text.indexOf('"name"'));
    expect(text.indexOf('"name"')).toBeLessThan(text.indexOf('"meta"'));
  });

  it('formats datetimes as ISO-8601 UTC and returns one object by id, null when absent or foreign', async () => {
    const { data } = await run(viewerA, [
      ['one', { kind: 'object', entity: 'trial', id: T.ta, selection: [...cols('id', 'created_at'), { responseKey: 'project', kind: 'to_one', relation: 'project', selection: cols('name') }] }],
      ['missing', { kind: 'object', entity: 'trial', id: uid(999), selection: cols('id') }],
      ['foreign', { kind: 'object', entity: 'trial', id: T.hidden, selection: cols('id') }],
    ]);
    const one = data.one as { id: string; created_at: string; project: unknown };
    expect(one.id).toBe(T.ta);
    expect(one.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(Math.abs(Date.parse(one.created_at) - Date.now())).toBeLessThan(10 * 60_000);
    expect(one.project).toEqual({ name: 'A' });
    expect(data.missing).toBeNull();
    expect(data.foreign).toBeNull();
  });

  it('answers by_ids in the order of ids with null where absent or foreign', async () => {
    const { data } = await run(viewerA, [
      ['b', { kind: 'by_ids', entity: 'experiment', ids: [E.beta, uid(998), E.secret, E.alpha, E.beta], selection: cols('name') }],
      ['none', { kind: 'by_ids', entity: 'experiment', ids: [], selection: cols('name') }],
    ]);
    expect(data).toEqual({ b: [{ name: 'beta' }, null, null, { name: 'alpha' }, { name: 'beta' }], none: [] });
  });

  it('answers list pages with total_count under the filter and offset/limit on items', async () => {
    const page = (filter?: Filter): RootNode => ({
      kind: 'list_page',
      entity: 'experiment',
      args: { orderBy: [asc('name')], limit: 2, offset: 1, ...(filter ? { filter } : {}) },
      fields: [
        { responseKey: 'total_count', kind: 'total_count' },
        { responseKey: 'items', kind: 'items', selection: cols('name') },
        { responseKey: '__typename', kind: 'typename', value: 'ExperimentList' },
      ],
    });
    const { data } = await run(viewerA, [['all', page()], ['grid', page(cmp('kind', 'eq', 'grid'))]]);
    expect(data).toEqual({
      all: { total_count: 4, items: [{ name: 'beta' }, { name: 'gamma_x' }], __typename: 'ExperimentList' },
      grid: { total_count: 2, items: [{ name: 'gammaxx' }], __typename: 'ExperimentList' },
    });
  });

  const cases: Array<[string, string, Filter, string[]]> = [
    ['eq', 'trial', cmp('name', 'eq', 'ta'), ['ta']],
    ['eq null', 'trial', cmp('duration', 'eq', null, 'float'), ['tb']],
    ['ne keeps nulls', 'trial', cmp('duration', 'ne', 1.5, 'float'), ['tb', 'tc', 'te']],
    ['lt', 'trial', cmp('duration', 'lt', 1.5, 'float'), ['te']],
    ['lte', 'trial', cmp('duration', 'lte', 1.5, 'float'), ['ta', 'td', 'te']],
    ['gt', 'trial', cmp('duration', 'gt', 1.5, 'float'), ['tc']],
    ['gte', 'trial', cmp('duration', 'gte', 1.5, 'float'), ['ta', 'tc', 'td']],
    ['in', 'trial', cmp('name', 'in', ['ta', 'tc', 'zz']), ['ta', 'tc']],
    ['in uuid', 'trial', cmp('id', 'in', [T.tb, T.hidden], 'uuid'), ['tb']],
    ['not_in keeps nulls', 'trial', cmp('duration', 'not_in', [1.5], 'float'), ['tb', 'tc', 'te']],
    ['is_null true', 'trial', cmp('duration', 'is_null', true, 'float'), ['tb']],
    ['is_null false', 'trial', cmp('duration', 'is_null', false, 'float'), ['ta', 'tc', 'td', 'te']],
    ['enum eq', 'trial', cmp('status', 'eq', 'completed', 'enum'), ['ta', 'te']],
    ['enum in', 'trial', cmp('status', 'in', ['running', 'failed'], 'enum'), ['tb', 'tc']],
    ['enum gt uses declared order', 'trial', cmp('status', 'gt', 'running', 'enum'), ['ta', 'tc', 'te']],
    ['json contains', 'trial', cmp('params', 'contains', { opt: 'sgd' }, 'json'), ['ta']],
    ['json has_key', 'trial', cmp('params', 'has_key', 'lr', 'json'), ['ta', 'tb']],
    ['like', 'experiment', cmp('name', 'like', 'gamma_%'), ['gamma_x', 'gammaxx']],
    ['ilike', 'experiment', cmp('name', 'ilike', 'ALPHA'), ['alpha']],
    ['starts_with escapes _', 'experiment', cmp('name', 'starts_with', 'gamma_'), ['gamma_x']],
    ['contains escapes %', 'experiment', cmp('description', 'contains', '100%'), ['alpha']],
    ['contains substring', 'experiment', cmp('description', 'contains', 'run'), ['alpha', 'beta']],
    ['empty and', 'experiment', { kind: 'and', items: [] }, ['alpha', 'beta', 'gamma_x', 'gammaxx']],
    ['empty or', 'experiment', { kind: 'or', items: [] }, []],
    ['or', 'experiment', { kind: 'or', items: [cmp('name', 'eq', 'beta'), cmp('kind', 'eq', 'sweep')] }, ['alpha', 'beta']],
    ['and', 'experiment', { kind: 'and', items: [cmp('kind', 'eq', 'grid'), cmp('description', 'is_null', false, 'text')] }, ['gamma_x']],
    ['not keeps unknown', 'experiment', { kind: 'not', item: cmp('kind', 'eq', 'grid') }, ['alpha', 'beta']],
    ['to-one is', 'trial', { kind: 'related', relation: 'experiment', mode: 'is', filter: cmp('kind', 'eq', 'sweep') }, ['ta', 'tb', 'tc', 'td']],
    ['to-many some', 'experiment', { kind: 'related', relation: 'trials', mode: 'some', filter: cmp('status', 'eq', 'failed', 'enum') }, ['alpha']],
    ['to-many every', 'experiment', { kind: 'related', relation: 'trials', mode: 'every', filter: cmp('duration', 'gt', 1, 'float') }, ['gamma_x', 'gammaxx']],
    ['to-many none', 'experiment', { kind: 'related', relation: 'trials', mode: 'none', filter: cmp('status', 'eq', 'completed', 'enum') }, ['gamma_x', 'gammaxx']],
    ['nested related', 'experiment', { kind: 'related', relation: 'trials', mode: 'some', filter: { kind: 'related', relation: 'runs', mode: 'some', filter: cmp('status', 'eq', 'running', 'enum') } }, ['alpha']],
    ['foreign rows never match', 'experiment', { kind: 'related', relation: 'trials', mode: 'some', filter: cmp('name', 'eq', 'hidden') }, []],
  ];
  it.each(cases)('filter %s', async (_name, entity, filter, expected) => {
    const { data } = await run(viewerA, [['rows', list(entity, cols('name'), { filter, orderBy: [asc('name')] })]]);
    expect((data.rows as Array<{ name: string }>).map((r) => r.name)).toEqual(expected);
  });

  it('orders with explicit null placement, enum declared order and the id tiebreaker', async () => {
    const names = async (orderBy: ReturnType<typeof asc>[]) =>
      ((await run(viewerA, [['r', list('trial', cols('name'), { orderBy })]])).data.r as Array<{ name: string }>).map((r) => r.name);
    expect(await names([asc('duration', 'FIRST')])).toEqual(['tb', 'te', 'ta', 'td', 'tc']);
    expect(await names([asc('duration', 'LAST')])).toEqual(['te', 'ta', 'td', 'tc', 'tb']);
    expect(await names([desc('duration', 'LAST')])).toEqual(['tc', 'ta', 'td', 'te', 'tb']);
    expect(await names([desc('duration', 'FIRST')])).toEqual(['tb', 'tc', 'ta', 'td', 'te']);
    expect(await names([desc('duration', 'FIRST'), desc('id')])).toEqual(['tb', 'tc', 'td', 'ta', 'te']);
    expect(await names([asc('status')])).toEqual(['td', 'tb', 'ta', 'te', 'tc']);
  });

  it('keeps every node kind inside the principal\'s projects (RLS and the scope predicate)', async () => {
    const roots: Array<[string, RootNode]> = [
      ['projects', list('project', [...cols('name'), { responseKey: 'experiments', kind: 'to_many', relation: 'experiments', node: { kind: 'list_page', entity: 'experiment', args: { orderBy: [asc('name')] }, fields: [{ responseKey: 'total_count', kind: 'total_count' }] } }], { orderBy: [asc('name')] })],
      ['projectB', { kind: 'object', entity: 'project', id: B, selection: cols('name') }],
      ['byIds', { kind: 'by_ids', entity: 'project', ids: [B, A], selection: cols('name') }],
      ['expPage', { kind: 'list_page', entity: 'experiment', args: { orderBy: [] }, fields: [{ responseKey: 'total_count', kind: 'total_count' }] }],
      ['conn', { kind: 'connection', entity: 'metric', args: { orderBy: [] }, fields: [{ responseKey: 'total_count', kind: 'total_count' }, { responseKey: 'nodes', kind: 'nodes', selection: cols('value') }] }],
      ['runs', list('run', [{ responseKey: 'trial', kind: 'to_one', relation: 'trial', selection: cols('name') }], { orderBy: [asc('id')] })],
      ['secret', list('trial', cols('name'), { filter: { kind: 'related', relation: 'experiment', mode: 'is', filter: cmp('name', 'eq', 'secret') } })],
    ];
    const a = (await run(viewerA, roots)).data;
    expect(a).toEqual({
      projects: [{ name: 'A', experiments: { total_count: 4 } }],
      projectB: null,
      byIds: [null, { name: 'A' }],
      expPage: { total_count: 4 },
      conn: { total_count: 2, nodes: [{ value: 0.9 }, { value: 0.5 }] },
      runs: [{ trial: { name: 'ta' } }, { trial: { name: 'ta' } }, { trial: { name: 'tc' } }],
      secret: [],
    });
    // A scope naming project B does not help a principal of A: row-level security is the guarantee.
    const lying = (await run(viewerA, roots, { kind: 'projects', projectIds: [A, B] })).data;
    expect(lying).toEqual(a);
    const onlyB = (await run(viewerA, roots, { kind: 'projects', projectIds: [B] })).data;
    expect(onlyB).toEqual({ projects: [], projectB: null, byIds: [null, null], expPage: { total_count: 0 }, conn: { total_count: 0, nodes: [] }, runs: [], secret: [] });
    // The admin sees both projects.
    const all = (await run(admin, roots)).data;
    expect(all.projects).toEqual([{ name: 'A', experiments: { total_count: 4 } }, { name: 'B', experiments: { total_count: 1 } }]);
    expect(all.secret).toEqual([{ name: 'hidden' }]);
    expect(all.expPage).toEqual({ total_count: 5 });
  });

  it('builds objects with more than 50 keys (chunked json_build_object) in order', async () => {
    const selection = Array.from({ length: 120 }, (_, i) => ({ responseKey: `k${i}`, kind: 'column' as const, column: i % 2 ? 'name' : 'id' }));
    const { data, text } = await run(viewerA, [['one', { kind: 'object', entity: 'experiment', id: E.alpha, selection }]]);
    const one = data.one as Record<string, string>;
    expect(Object.keys(one)).toEqual(selection.map((s) => s.responseKey));
    expect(one.k0).toBe(E.alpha);
    expect(one.k119).toBe('alpha');
    expect(text.length).toBeGreaterThan(1000);
  });
});

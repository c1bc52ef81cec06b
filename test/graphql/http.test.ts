/**
 * End to end over HTTP (Fastify inject) on every test database: seed-000 queries, several roots, filters,
 * ordering, connection paging, introspection mixed with data, tenant isolation, bad inputs — and the
 * one-statement rule (SPEC G-10) via `db.stats.statements`.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject, createTestDb, insertRows, TEST_KINDS, type TestDb } from '../support/db.js';
import { graphqlTestApp } from '../support/graphql-app.js';

interface Gql {
  status: number;
  contentType: string;
  body: { data?: Record<string, any> | null; errors?: { message: string; extensions: { code: string } }[] };
}

describe.each(TEST_KINDS)('GraphQL over HTTP on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let pA: string;
  let pB: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    t = await createTestDb(kind);
    pA = await createProject(t.db, 'alpha');
    pB = await createProject(t.db, 'beta');
    const [e1, e2] = await insertRows<{ id: string }>(t.db, 'experiment', [
      { project_id: pA, name: 'softmax sweep', kind: 'softmax', meta: { owner: 'ana' } },
      { project_id: pA, name: 'mlp sweep', kind: 'mlp', meta: null },
    ]);
    const [eB] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: pB, name: 'secret', kind: 'softmax', meta: null }]);
    const trials = await insertRows<{ id: string }>(t.db, 'trial', [
      { project_id: pA, experiment_id: e1.id, name: 'lr-0.01', params: { lr: 0.01 }, duration: 1.5, status: 'completed' },
      { project_id: pA, experiment_id: e1.id, name: 'lr-0.1', params: { lr: 0.1 }, duration: 2.5, status: 'completed' },
      { project_id: pA, experiment_id: e1.id, name: 'lr-1', params: { lr: 1 }, duration: null, status: 'failed' },
      { project_id: pA, experiment_id: e2.id, name: 'h-16', params: { hidden: 16 }, duration: 3, status: 'running' },
    ]);
    const [tB] = await insertRows<{ id: string }>(t.db, 'trial', [{ project_id: pB, experiment_id: eB.id, name: 'hidden', params: null, duration: 9, status: 'completed' }]);
    const runs = await insertRows<{ id: string }>(t.db, 'run', [
      { project_id: pA, trial_id: trials[0].id, status: 'completed' },
      { project_id: pA, trial_id: trials[0].id, status: 'completed' },
      { project_id: pA, trial_id: trials[1].id, status: 'failed' },
    ]);
    await insertRows(t.db, 'metric', [
      { project_id: pA, trial_id: trials[0].id, run_id: runs[0].id, key: 'loss', value: 0.9, step: 1 },
      { project_id: pA, trial_id: trials[0].id, run_id: runs[0].id, key: 'loss', value: 0.5, step: 2 },
      { project_id: pA, trial_id: trials[0].id, run_id: runs[1].id, key: 'accuracy', value: 0.8, step: 2 },
      { project_id: pA, trial_id: trials[1].id, run_id: runs[2].id, key: 'loss', value: 1.2, step: 1 },
    ]);
    Object.assign(ids, { e1: e1.id, e2: e2.id, eB: eB.id, t0: trials[0].id, t1: trials[1].id, tB: tB.id, r0: runs[0].id });

    // Test auth hook: the principal comes from x-test-role / x-test-projects headers ("none" → no principal).
    app = await graphqlTestApp(t.db, t.model);
  });

  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  async function gql(query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Gql> {
    const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query, variables }, headers });
    return { status: res.statusCode, contentType: String(res.headers['content-type']), body: res.json() };
  }

  /** Run a query and assert it cost exactly one data statement. */
  async function one(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<Record<string, any>> {
    const before = t.db.stats.statements;
    const res = await gql(query, variables, headers);
    expect(res.body.errors, JSON.stringify(res.body.errors)).toBeUndefined();
    expect(res.status).toBe(200);
    expect(t.db.stats.statements - before).toBe(1);
    return res.body.data as Record<string, any>;
  }

  it('answers the seed-000 queries literally, one statement each', async () => {
    const projects = await one('{ projects { id name } }');
    expect(projects.projects.map((p: { name: string }) => p.name).sort()).toEqual(['alpha', 'beta']);
    expect((await one(`{ project(id: "${pA}") { id name } }`)).project).toEqual({ id: pA, name: 'alpha' });
    const exps = await one('{ experiments { id name kind meta created_at } }');
    expect(exps.experiments).toHaveLength(3);
    const e1 = exps.experiments.find((e: { id: string }) => e.id === ids.e1);
    expect(e1).toMatchObject({ name: 'softmax sweep', kind: 'softmax', meta: { owner: 'ana' } });
    expect(e1.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    expect((await one(`{ experiment(id: "${ids.e1}") { id name } }`)).experiment).toEqual({ id: ids.e1, name: 'softmax sweep' });
    const trials = await one(`{ trials(experiment_id: "${ids.e1}") { id name params duration status } }`);
    expect(trials.trials.map((x: { name: string }) => x.name).sort()).toEqual(['lr-0.01', 'lr-0.1', 'lr-1']);
    expect(trials.trials.find((x: { name: string }) => x.name === 'lr-0.1')).toMatchObject({ params: { lr: 0.1 }, duration: 2.5, status: 'completed' });
    expect((await one(`{ trial(id: "${ids.t0}") { name experiment { name } } }`)).trial).toEqual({ name: 'lr-0.01', experiment: { name: 'softmax sweep' } });
    expect((await one(`{ runs(trial_id: "${ids.t0}") { id status } }`)).runs).toHaveLength(2);
    expect((await one(`{ run(id: "${ids.r0}") { id trial_id status } }`)).run).toEqual({ id: ids.r0, trial_id: ids.t0, status: 'completed' });
    const metrics = await one(`{ trial_metrics(trial_id: "${ids.t0}", order_by: [{ step: ASC }, { key: ASC }]) { key value step } }`);
    expect(metrics.trial_metrics).toEqual([
      { key: 'loss', value: 0.9, step: 1 },
      { key: 'accuracy', value: 0.8, step: 2 },
      { key: 'loss', value: 0.5, step: 2 },
    ]);
    const nested = await one(`{ experiment(id: "${ids.e1}") { name trials(order_by: [{ name: ASC }]) { name runs { status } } } }`);
    expect(nested.experiment.trials).toEqual([
      { name: 'lr-0.01', runs: [{ status: 'completed' }, { status: 'completed' }] },
      { name: 'lr-0.1', runs: [{ status: 'failed' }] },
      { name: 'lr-1', runs: [] },
    ]);
  });

  it('answers several root fields, aliases and fragments in one statement', async () => {
    const data = await one(`query Dash($e: ID!) {
        __typename
        a: experiment(id: $e) { ...Exp }
        b: experiments(filter: { kind: { eq: "mlp" } }) { ...Exp }
        n: trial_list(limit: 2, offset: 0, order_by: [{ name: DESC }]) { total_count items { name } }
        byIds: experiments_by_ids(ids: [$e, "${ids.eB}", "0190f5a8-7d0e-7c3a-9b1e-000000000000"]) { name }
      }
      fragment Exp on Experiment { id name __typename }`, { e: ids.e1 });
    expect(data.__typename).toBe('Query');
    expect(data.a).toEqual({ id: ids.e1, name: 'softmax sweep', __typename: 'Experiment' });
    expect(data.b).toEqual([{ id: ids.e2, name: 'mlp sweep', __typename: 'Experiment' }]);
    expect(data.n).toEqual({ total_count: 5, items: [{ name: 'lr-1' }, { name: 'lr-0.1' }] });
    expect(data.byIds).toEqual([{ name: 'softmax sweep' }, { name: 'secret' }, null]);
  });

  it('filters with operators, logic and relations', async () => {
    const data = await one(`{
      f1: trials(filter: { duration: { gte: 2 }, status: { in: [completed, running] } }, order_by: [{ duration: ASC }]) { name }
      f2: trials(filter: { or: [{ name: { starts_with: "h-" } }, { duration: { is_null: true } }] }, order_by: [{ name: ASC }]) { name }
      f3: experiments(filter: { trials: { some: { status: { eq: failed } } } }) { name }
      f4: trials(filter: { experiment: { kind: { eq: "mlp" } } }) { name }
      f5: experiments(filter: { meta: { contains: { owner: "ana" } } }) { name }
      f6: trials(filter: { not: { name: { ilike: "LR%" } } }, order_by: [{ name: ASC }]) { name }
    }`);
    expect(data.f1.map((x: { name: string }) => x.name)).toEqual(['lr-0.1', 'h-16', 'hidden']);
    expect(data.f2.map((x: { name: string }) => x.name)).toEqual(['h-16', 'lr-1']);
    expect(data.f3).toEqual([{ name: 'softmax sweep' }]);
    expect(data.f4).toEqual([{ name: 'h-16' }]);
    expect(data.f5).toEqual([{ name: 'softmax sweep' }]);
    expect(data.f6.map((x: { name: string }) => x.name)).toEqual(['h-16', 'hidden']);
  });

  it('pages a connection forwards with keyset cursors', async () => {
    const q = `query($after: String) { trial_connection(first: 2, after: $after, order_by: [{ name: ASC }]) {
      total_count edges { cursor node { name } } page_info { has_next_page has_previous_page start_cursor end_cursor } } }`;
    const p1 = (await one(q)).trial_connection;
    expect(p1.total_count).toBe(5);
    expect(p1.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(['h-16', 'hidden']);
    expect(p1.page_info).toMatchObject({ has_next_page: true, has_previous_page: false, end_cursor: p1.edges[1].cursor });
    const p2 = (await one(q, { after: p1.page_info.end_cursor })).trial_connection;
    expect(p2.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(['lr-0.01', 'lr-0.1']);
    expect(p2.page_info.has_next_page).toBe(true);
    const p3 = (await one(q, { after: p2.page_info.end_cursor })).trial_connection;
    expect(p3.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(['lr-1']);
    expect(p3.page_info.has_next_page).toBe(false);
    const nested = await one(`{ experiment(id: "${ids.e1}") { trials_connection(first: 1, order_by: [{ name: DESC }]) { nodes { name } total_count page_info { has_next_page } } } }`);
    expect(nested.experiment.trials_connection).toEqual({ nodes: [{ name: 'lr-1' }], total_count: 3, page_info: { has_next_page: true } });
  });

  it('answers a connection selecting only some of its fields (no unused bind parameters)', async () => {
    const data = await one(`{ c: experiment_connection(first: 10) { total_count } n: trial_connection(first: 1) { nodes { name } } }`);
    expect(data.c.total_count).toBe(3);
    expect(data.n.nodes).toHaveLength(1);
  });

  it('mixes introspection with data in one data statement', async () => {
    const data = await one(`{ __schema { queryType { name } } t: __type(name: "TrialStatus") { enumValues { name } } ex: experiment(id: "${ids.e1}") { name trials(order_by: [{ name: ASC }], limit: 1) { name status created_at } } }`);
    expect(data.__schema.queryType.name).toBe('Query');
    expect(data.t.enumValues.map((v: { name: string }) => v.name)).toContain('cancelled');
    expect(data.ex.name).toBe('softmax sweep');
    expect(data.ex.trials[0]).toMatchObject({ name: 'lr-0.01', status: 'completed' });
    expect(data.ex.trials[0].created_at).toMatch(/^\d{4}-/);
  });

  it('answers __typename-only and introspection-only operations without a data statement', async () => {
    const before = t.db.stats.statements;
    expect((await gql('{ __typename }')).body).toEqual({ data: { __typename: 'Query' } });
    expect((await gql('{ __schema { queryType { name } } }')).body.data?.__schema.queryType.name).toBe('Query');
    expect(t.db.stats.statements).toBe(before);
  });

  it('isolates tenants: a viewer of project alpha never sees beta rows', async () => {
    const h = { 'x-test-role': 'viewer', 'x-test-projects': pA };
    const data = await one(`{
      projects { name }
      experiments { name }
      secret: experiment(id: "${ids.eB}") { name }
      secretTrial: trial(id: "${ids.tB}") { name }
      byIds: experiments_by_ids(ids: ["${ids.eB}", "${ids.e1}"]) { name }
      via: trials(experiment_id: "${ids.eB}") { name }
      count: trial_list(limit: 10, offset: 0) { total_count }
      conn: experiment_connection(first: 10) { total_count edges { node { name } } page_info { has_next_page } }
      proj: project(id: "${pB}") { name experiments { name } }
    }`, undefined, h);
    expect(data.projects).toEqual([{ name: 'alpha' }]);
    expect(data.experiments.map((e: { name: string }) => e.name).sort()).toEqual(['mlp sweep', 'softmax sweep']);
    expect(data.secret).toBeNull();
    expect(data.secretTrial).toBeNull();
    expect(data.byIds).toEqual([null, { name: 'softmax sweep' }]);
    expect(data.via).toEqual([]);
    expect(data.count.total_count).toBe(4);
    expect(data.conn.total_count).toBe(2);
    expect(data.proj).toBeNull();
  });

  it('answers bad inputs with 400 and a code, never a 5xx', async () => {
    const cases: [string, RegExp][] = [
      ['{ trial(id: "not-a-uuid") { id } }', /UUID/],
      ['{ trials { nope } }', /Cannot query field "nope"/],
      ['{ trial_connection(after: "garbage") { total_count } }', /cursor/i],
      ['{ trials(limit: 100000) { id } }', /maximum/],
      ['{ trials(order_by: [{ name: ASC, duration: DESC }]) { id } }', /exactly one/],
      ['{ trials(filter: { name: { eq: "x\'; DROP TABLE app.trial; --" } }) { id } }', /^$/],
      ['{ trials {', /Syntax Error/],
      ['mutation { x }', /mutation/i],
    ];
    for (const [query, msg] of cases) {
      const res = await gql(query, undefined, { accept: 'application/graphql-response+json' });
      if (msg.source === '^$') {
        expect(res.status).toBe(200);
        expect(res.body.data?.trials).toEqual([]);
        continue;
      }
      expect(res.status, query).toBe(400);
      expect(res.contentType).toContain('application/graphql-response+json');
      expect(res.body.data).toBeUndefined();
      expect(res.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(res.body.errors?.[0].message).toMatch(msg);
    }
    const v = await gql('query($id: ID!) { trial(id: $id) { id } }', { id: 'nope' }, { accept: 'application/graphql-response+json' });
    expect(v.status).toBe(400);
    expect(v.body.errors?.[0].message).toMatch(/\$id.*UUID/);
  });

  it('follows GraphQL-over-HTTP for media types, GET, auth and methods', async () => {
    const legacy = await gql('{ trials(limit: -1) { id } }', undefined, { accept: 'application/json' });
    expect(legacy.status).toBe(200);
    expect(legacy.contentType).toContain('application/json');
    expect(legacy.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await gql('{ __typename }', undefined, { accept: 'text/csv' })).status).toBe(406);
    // No Accept, or only wildcards: application/json (GraphQL over HTTP: SHOULD), so request errors answer 200.
    for (const accept of [undefined, '*/*', 'application/*', 'application/json, */*;q=0.5']) {
      const res = await gql('{ trials(limit: -1) { id } }', undefined, accept === undefined ? {} : { accept });
      expect(res.contentType, accept).toBe('application/json; charset=utf-8');
      expect(res.status, accept).toBe(200);
      expect(res.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    }
    // Named explicitly (alone, first or with a higher quality): application/graphql-response+json, errors 4xx.
    for (const accept of ['application/graphql-response+json', 'application/graphql-response+json, application/json', 'application/json;q=0.9, application/graphql-response+json', '*/*, application/graphql-response+json']) {
      const res = await gql('{ trials(limit: -1) { id } }', undefined, { accept });
      expect(res.contentType, accept).toBe('application/graphql-response+json; charset=utf-8');
      expect(res.status, accept).toBe(400);
    }

    const unauth = await gql('{ projects { id } }', undefined, { 'x-test-role': 'none' });
    expect(unauth.status).toBe(401);
    expect(unauth.body.errors?.[0].extensions.code).toBe('UNAUTHENTICATED');

    const get = await app.inject({ method: 'GET', url: `/graphql?query=${encodeURIComponent('query($id: ID!) { experiment(id: $id) { name } }')}&variables=${encodeURIComponent(JSON.stringify({ id: ids.e1 }))}` });
    expect(get.statusCode).toBe(200);
    expect(get.json()).toEqual({ data: { experiment: { name: 'softmax sweep' } } });
    const getMutation = await app.inject({ method: 'GET', url: `/graphql?query=${encodeURIComponent('mutation { x }')}` });
    expect(getMutation.statusCode).toBe(405);
    expect(getMutation.headers.allow).toContain('POST');
    const page = await app.inject({ method: 'GET', url: '/graphql', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', 'x-test-role': 'none' } });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('GraphiQL.createFetcher');
    expect(page.body).not.toMatch(/lk-sk-[A-Za-z0-9_-]{20,}/); // never embeds a real key
    for (const asset of ['graphiql.min.js', 'graphiql.min.css', 'react.production.min.js', 'react-dom.production.min.js']) {
      expect(page.body).toContain(`/graphql/assets/${asset}`);
      const res = await app.inject({ method: 'GET', url: `/graphql/assets/${asset}` });
      expect(res.statusCode, asset).toBe(200);
      expect(res.headers['content-type']).toMatch(asset.endsWith('.css') ? /text\/css/ : /javascript/);
      expect(res.body.length).toBeGreaterThan(1000);
    }
    expect((await app.inject({ method: 'GET', url: '/graphql/assets/..%2Fpackage.json' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/graphql/assets/constructor' })).statusCode).toBe(404);

    const badJson = await app.inject({ method: 'POST', url: '/graphql', payload: '{"query": ', headers: { 'content-type': 'application/json' } });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().errors[0].extensions.code).toBe('BAD_USER_INPUT');
    // Requests that are not well-formed stay 4xx for application/json too (no Accept header here).
    const noQuery = await app.inject({ method: 'POST', url: '/graphql', payload: { variables: {} } });
    expect(noQuery.statusCode).toBe(400);
    expect(noQuery.headers['content-type']).toBe('application/json; charset=utf-8');
    for (const extensions of ['{"persistedQuery":{}}', ['persistedQuery'], 5]) {
      const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query: '{ __typename }', extensions } });
      expect(res.statusCode, JSON.stringify(extensions)).toBe(400);
      expect(res.json().errors[0]).toMatchObject({ message: expect.stringContaining('"extensions" must be a JSON object'), extensions: { code: 'BAD_USER_INPUT' } });
    }
    for (const extensions of ['"x"', '[1]', 'not json']) {
      const res = await app.inject({ method: 'GET', url: `/graphql?query=${encodeURIComponent('{ __typename }')}&extensions=${encodeURIComponent(extensions)}` });
      expect(res.statusCode, extensions).toBe(400);
      expect(res.json().errors[0].extensions.code).toBe('BAD_USER_INPUT');
    }
    expect((await app.inject({ method: 'PUT', url: '/graphql', payload: {} })).statusCode).toBe(405);
  });
});

/**
 * The tenant-isolation matrix (SPEC; issue 8 "Done when") on every test database: every read and
 * write path of GraphQL (queries, mutations, subscriptions) and REST (entity routes, ingestion, project routes)
 * run by each principal kind of `isolation-matrix-support.ts` — an API key of A, a JWT naming A, trusted proxy
 * headers naming A, and a JWT user who is an editor member of A and C — against the rows of project B. Nothing of
 * B is read, written, updated, deleted, counted or deduplicated: reads return exactly the rows of the principal's
 * projects (as the database owner lists them), and after every write attempt B's rows, read back by B's owner,
 * are as they were. The member's own rules (reads span A and C, ambiguous writes are a 400, an id of A reused in C
 * is a conflict) are at the end. One server per database; fixtures in `beforeAll`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, insertRows, TEST_KINDS, type TestDb } from '../support/db.js';
import { insertExperiment, subscribeSseWith } from '../auth/support.js';
import { liveHubOf } from '../../src/live/transports.js';
import { waitFor, waitForSubscribers } from '../graphql/live-support.js';
import { gql, http, idsOf, ownerIds, PRINCIPALS, setupMatrix, type GqlError, type Matrix, type MatrixPrincipal } from './isolation-matrix-support.js';

/** B's rows (fixed ids, so every case can name them). */
const B_IDS = {
  exp: '0190a0a0-0000-7000-8000-00000000b001',
  twin: '0190a0a0-0000-7000-8000-00000000b002',
  trial: '0190a0a0-0000-7000-8000-00000000b011',
  run: '0190a0a0-0000-7000-8000-00000000b021',
  metric: '0190a0a0-0000-7000-8000-00000000b031',
};
const TABLES = ['experiment', 'trial', 'run', 'metric'] as const;

/** B's rows in full, as B's owner reads them over GraphQL (every field, `updated_at` included). */
const B_STATE = `{
  experiments(order_by: [{ id: ASC }]) { id project_id name description kind meta created_at updated_at }
  trials(order_by: [{ id: ASC }]) { id project_id experiment_id name description status params updated_at }
  runs(order_by: [{ id: ASC }]) { id project_id trial_id status updated_at }
  metrics(order_by: [{ id: ASC }]) { id project_id trial_id run_id key value step updated_at }
}`;

describe.each(TEST_KINDS)('tenant-isolation matrix on %s', (kind) => {
  let t: TestDb;
  let m: Matrix;
  /** A's experiment and trial (targets of writes that try to link to B). */
  let expA: string;
  let trialA: string;

  /** B's rows read back by B's owner. */
  async function bState(): Promise<Record<string, unknown[]>> {
    const r = await gql(m.app, m.ownerB, B_STATE);
    expect(r.errors, r.text).toBeUndefined();
    return r.data;
  }

  /** Run `attempt`, then expect B's rows unchanged (and B still to have all its fixture rows). */
  async function bUnchangedBy(attempt: () => Promise<void>): Promise<void> {
    const before = await bState();
    expect(before.experiments.map((e: any) => e.id)).toEqual(expect.arrayContaining([B_IDS.exp, B_IDS.twin]));
    await attempt();
    expect(await bState()).toEqual(before);
  }

  /** One refused GraphQL operation: no data, one error of `code` (and `outcome`), no B text in the answer. */
  function refused(r: { data?: any; errors?: GqlError[]; text: string }, code: string, outcome?: string): void {
    expect(r.errors, r.text).toHaveLength(1);
    expect(r.data ?? null, r.text).toBeNull();
    expect(r.errors![0].extensions.code, r.text).toBe(code);
    if (outcome) expect(r.errors![0].extensions.outcome, r.text).toBe(outcome);
    expect(r.text).not.toMatch(/private-B|needle B/);
  }

  beforeAll(async () => {
    t = await createTestDb(kind);
    m = await setupMatrix(t);
    const { A, B, C } = m.projects;
    for (const [p, label] of [[A, 'A'], [B, 'B'], [C, 'C']] as const) {
      const isB = p === B;
      const [e] = await insertRows<{ id: string }>(t.db, 'experiment', [
        { ...(isB ? { id: B_IDS.exp } : {}), project_id: p, name: `needle ${label}`, description: `private-${label}`, kind: 'seed', meta: { owner: label } },
      ]);
      const [tr] = await insertRows<{ id: string }>(t.db, 'trial', [{ ...(isB ? { id: B_IDS.trial } : {}), project_id: p, experiment_id: e.id, name: `trial ${label}`, status: 'running' }]);
      const [r] = await insertRows<{ id: string }>(t.db, 'run', [{ ...(isB ? { id: B_IDS.run } : {}), project_id: p, trial_id: tr.id, status: 'completed' }]);
      await insertRows(t.db, 'metric', [{ ...(isB ? { id: B_IDS.metric } : {}), project_id: p, trial_id: tr.id, run_id: r.id, key: 'loss', value: 0.5, step: 1 }]);
      if (p === A) [expA, trialA] = [e.id, tr.id];
    }
    // A row of the same name in A and in B (filters matching both).
    await insertRows(t.db, 'experiment', [{ id: B_IDS.twin, project_id: B, name: 'twin', kind: 'seed' }]);
    await insertRows(t.db, 'experiment', [{ project_id: A, name: 'twin', kind: 'seed' }]);
    // B's owner ingests rows whose ids derive from envelope ids the principals will reuse.
    const batch = PRINCIPALS.map((who) => ({ id: `evt-${who}`, type: 'experiment.create', body: { name: `b-evt ${who}` } }));
    expect((await http(m.app, m.ownerB, 'POST', '/api/v1/ingest', { batch })).data.errors).toEqual([]);
  });
  afterAll(async () => {
    await m?.app.close();
    await t?.close();
  });

  describe.each(PRINCIPALS)('%s', (who) => {
    const P = (): MatrixPrincipal => m.principals[who];
    const visibleIds = (table: string) => ownerIds(t.db, table, P().visible);

    it('GraphQL list, list page, connection, by-id, by-ids, aggregate and search read exactly its projects, nothing of B', async () => {
      const r = await gql(m.app, P().headers, `query($b: ID!, $a: ID!) {
        experiments(limit: 1000) { id } trials { id } runs { id } metrics { id }
        experiment_list(limit: 100, offset: 0) { total_count items { id } }
        experiment_connection(first: 100) { total_count edges { node { id } } }
        experiment_aggregate { count } metric_aggregate { count }
        by_project: experiment_aggregate(group_by: [project_id], order_by: [{ key: { project_id: ASC } }]) { key { project_id } }
        search: experiments(search: "needle") { id name }
        one: experiment(id: $b) { id } trial(id: "${B_IDS.trial}") { id } run(id: "${B_IDS.run}") { id } metric(id: "${B_IDS.metric}") { id }
        many: experiments_by_ids(ids: [$b, $a]) { id }
        projects { id experiments { id } } project_aggregate { count }
      }`, { b: B_IDS.exp, a: expA });
      expect(r.errors, r.text).toBeUndefined();
      const d = r.data;
      const exps = await visibleIds('experiment');
      expect(idsOf(d.experiments)).toEqual(exps);
      for (const table of ['trial', 'run', 'metric']) expect(idsOf(d[`${table}s`]), table).toEqual(await visibleIds(table));
      expect(d.experiment_list.total_count).toBe(exps.length);
      expect(idsOf(d.experiment_list.items)).toEqual(exps);
      expect(d.experiment_connection.total_count).toBe(exps.length);
      expect(idsOf(d.experiment_connection.edges.map((e: any) => e.node))).toEqual(exps);
      expect(d.experiment_aggregate).toEqual([{ count: exps.length }]);
      expect(d.metric_aggregate).toEqual([{ count: (await visibleIds('metric')).length }]);
      expect(d.by_project.map((g: any) => g.key.project_id)).toEqual(P().visible);
      expect(d.search.map((e: any) => e.name).sort()).toEqual(P().visible.length === 2 ? ['needle A', 'needle C'] : ['needle A']);
      expect([d.one, d.trial, d.run, d.metric]).toEqual([null, null, null, null]);
      expect(d.many).toEqual([null, { id: expA }]);
      expect(idsOf(d.projects)).toEqual(P().visible);
      expect(d.projects.flatMap((p: any) => p.experiments.map((e: any) => e.id)).sort()).toEqual(exps);
      expect(d.project_aggregate).toEqual([{ count: P().visible.length }]);
      expect(r.text).not.toMatch(/private-B|needle B|b001/);
    });

    it("GraphQL queries naming B's ids, values or project find nothing", async () => {
      const r = await gql(m.app, P().headers, `query($b: ID!, $bt: ID!, $pb: ID!) {
        by_filter: experiments(filter: { id: { eq: $b } }) { id }
        by_value: experiments(filter: { description: { eq: "private-B" } }) { id }
        by_relation: trials(filter: { experiment: { name: { eq: "needle B" } } }) { id }
        by_fk: metrics(filter: { trial_id: { eq: $bt } }) { id }
        count_b: experiment_aggregate(filter: { id: { in: [$b] } }) { count }
        alias: trial_metrics(trial_id: $bt) { id }
        project(id: $pb) { id }
        projects(filter: { id: { eq: $pb } }) { id }
      }`, { b: B_IDS.exp, bt: B_IDS.trial, pb: m.projects.B });
      expect(r.errors, r.text).toBeUndefined();
      expect(r.data).toEqual({ by_filter: [], by_value: [], by_relation: [], by_fk: [], count_b: [{ count: 0 }], alias: [], project: null, projects: [] });
      // The `project_id` shorthand (an equality filter) naming B matches nothing.
      const named = await gql(m.app, P().headers, `query($pb: ID!) { experiments(project_id: $pb) { id } experiment_aggregate(project_id: $pb) { count } }`, { pb: m.projects.B });
      expect(named.errors, named.text).toBeUndefined();
      expect(named.data).toEqual({ experiments: [], experiment_aggregate: [{ count: 0 }] });
    });

    it("GraphQL create, upsert, update and delete with B's ids or B's project are refused; B is unchanged", async () => {
      const into = P().intoA.project_id ? `, project_id: "${P().intoA.project_id}"` : '';
      await bUnchangedBy(async () => {
        const cases: [string, string, string?][] = [
          [`mutation { create_experiment(input: { id: "${B_IDS.exp}", name: "needle B", kind: "seed"${into} }) { id } }`, 'BAD_USER_INPUT', 'conflict'],
          [`mutation { create_experiments(inputs: [{ name: "gql-ok-${who}"${into} }, { id: "${B_IDS.twin}", name: "x"${into} }]) { id } }`, 'BAD_USER_INPUT', 'conflict'],
          [`mutation { upsert_experiments(inputs: [{ id: "${B_IDS.exp}", name: "hijack"${into} }]) { id } }`, 'BAD_USER_INPUT', 'conflict'],
          [`mutation { upsert_runs(inputs: [{ id: "${B_IDS.run}", trial_id: "${trialA}"${into} }]) { id } }`, 'BAD_USER_INPUT', 'conflict'],
          [`mutation { create_experiment(input: { name: "into-b", project_id: "${m.projects.B}" }) { id } }`, 'FORBIDDEN'],
          [`mutation { upsert_experiments(inputs: [{ id: "0190a0a0-0000-7000-8000-00000000ee01", name: "into-b", project_id: "${m.projects.B}" }]) { id } }`, 'FORBIDDEN'],
          [`mutation { update_experiment(id: "${B_IDS.exp}", patch: { name: "hijack" }) { id } }`, 'NOT_FOUND'],
          [`mutation { update_experiment(id: "${B_IDS.exp.toUpperCase()}", patch: {}) { id description } }`, 'NOT_FOUND'],
          [`mutation { update_trial(id: "${B_IDS.trial}", patch: { status: failed }) { id } }`, 'NOT_FOUND'],
          [`mutation { delete_experiment(id: "${B_IDS.exp}") { id name } }`, 'NOT_FOUND'],
          [`mutation { delete_metric(id: "${B_IDS.metric}") { id } }`, 'NOT_FOUND'],
          [`mutation { create_trial(input: { name: "ref", experiment_id: "${B_IDS.exp}"${into} }) { id } }`, 'BAD_USER_INPUT', 'bad_ref'],
          [`mutation { update_trial(id: "${trialA}", patch: { experiment_id: "${B_IDS.exp}" }) { id } }`, 'BAD_USER_INPUT', 'bad_ref'],
          [`mutation { create_metric(input: { trial_id: "${trialA}", run_id: "${B_IDS.run}", key: "k", value: 1${into} }) { id } }`, 'BAD_USER_INPUT', 'bad_ref'],
        ];
        for (const [q, code, outcome] of cases) refused(await gql(m.app, P().headers, q), code, outcome);
      });
      expect(await t.db.query(`SELECT 1 FROM app.experiment WHERE name IN ('gql-ok-${who}', 'into-b', 'ref')`)).toMatchObject({ rows: [] });
    });

    it("GraphQL bulk update and delete by filters matching B's rows affect and count only its own", async () => {
      const [doomedB] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: m.projects.B, name: `doomed ${who}` }]);
      const [doomedA] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: m.projects.A, name: `doomed ${who}` }]);
      await bUnchangedBy(async () => {
        // at_most 1: B's twin would make it two and refuse the update; it is neither counted nor touched.
        const u = await gql(m.app, P().headers, `mutation { update_experiments(filter: { name: { eq: "twin" } }, patch: { meta: { by: "${who}" } }, at_most: 1) { affected_count items { project_id } } }`);
        expect(u.errors, u.text).toBeUndefined();
        expect(u.data.update_experiments).toEqual({ affected_count: 1, items: [{ project_id: m.projects.A }] });
        const none = await gql(m.app, P().headers, `mutation($ids: [ID!]) {
          u: update_experiments(filter: { id: { in: $ids } }, patch: { kind: "hijack" }) { affected_count }
          d: delete_trials(filter: { experiment_id: { eq: "${B_IDS.exp}" } }) { affected_count }
          m: delete_metrics(filter: { trial: { name: { eq: "trial B" } } }) { affected_count } }`, { ids: [B_IDS.exp, B_IDS.twin] });
        expect(none.errors, none.text).toBeUndefined();
        expect(none.data).toEqual({ u: { affected_count: 0 }, d: { affected_count: 0 }, m: { affected_count: 0 } });
        const d = await gql(m.app, P().headers, `mutation { delete_experiments(filter: { name: { eq: "doomed ${who}" } }, at_most: 1) { affected_count items { id } } }`);
        expect(d.errors, d.text).toBeUndefined();
        expect(d.data.delete_experiments).toEqual({ affected_count: 1, items: [{ id: doomedA.id }] });
      });
      await t.db.query('DELETE FROM app.experiment WHERE id = $1', [doomedB.id]);
    });

    it("subscriptions deliver its projects' events, never B's", async () => {
      const sub = subscribeSseWith(m.served, P().headers, 'subscription { experiment_events { op id } }');
      try {
        await waitForSubscribers(m.served, 1);
        await insertExperiment(t, m.projects.B, `live-b ${who}`);
        const expected = [await insertExperiment(t, m.projects.A, `live-a ${who}`)];
        if (P().visible.length === 2) expected.push(await insertExperiment(t, m.projects.C, `live-c ${who}`));
        await waitFor(() => sub.events.length >= expected.length || sub.errors.length > 0, 5000, 'own events');
        // B's notification came first: had it been delivered, it would be here already.
        expect(sub.errors).toEqual([]);
        const got = sub.events.map((e) => e.data.experiment_events).sort((x, y) => x.id.localeCompare(y.id));
        expect(got).toEqual(expected.sort().map((id) => ({ op: 'INSERT', id })));
      } finally {
        sub.dispose();
      }
      await waitFor(() => (liveHubOf(m.served.app)?.size ?? 0) === 0, 5000, 'subscription closed');
    });

    it('REST list, filters, search and get by id read exactly its projects, nothing of B', async () => {
      const h = P().headers;
      const list = await http(m.app, h, 'GET', '/api/v1/experiments?limit=500');
      expect(list.statusCode, list.body).toBe(200);
      const exps = await visibleIds('experiment');
      expect(list.data.total_count).toBe(exps.length);
      expect(idsOf(list.data.items)).toEqual(exps);
      const metrics = await http(m.app, h, 'GET', '/api/v1/metrics?order_by=trial.experiment.name');
      expect(idsOf(metrics.data.items)).toEqual(await visibleIds('metric'));
      const search = await http(m.app, h, 'GET', '/api/v1/experiments?search=needle');
      expect(search.data.items.map((e: any) => e.name).sort()).toEqual(P().visible.length === 2 ? ['needle A', 'needle C'] : ['needle A']);
      for (const url of [`/api/v1/experiments?id=${B_IDS.exp}`, `/api/v1/experiments?project_id=${m.projects.B}`, '/api/v1/experiments?description=private-B',
        `/api/v1/trials?experiment_id=${B_IDS.exp}`, `/api/v1/metrics?run_id=${B_IDS.run}`, `/api/v1/experiments?filter=${encodeURIComponent(JSON.stringify({ id: { in: [B_IDS.exp, B_IDS.twin] } }))}`]) {
        const r = await http(m.app, h, 'GET', url);
        expect([r.statusCode, r.data.total_count, r.data.items], `${url} ${r.body}`).toEqual([200, 0, []]);
      }
      for (const [plural, id] of [['experiments', B_IDS.exp], ['experiments', B_IDS.exp.toUpperCase()], ['trials', B_IDS.trial], ['runs', B_IDS.run], ['metrics', B_IDS.metric]]) {
        const r = await http(m.app, h, 'GET', `/api/v1/${plural}/${id}`);
        expect(r.statusCode, `${plural}/${id}`).toBe(404);
        expect(r.body).not.toMatch(/private-B|needle B/);
      }
    });

    it("REST POST, PATCH and DELETE with B's ids or B's project are refused; B is unchanged", async () => {
      const h = P().headers;
      const into = P().intoA;
      await bUnchangedBy(async () => {
        const cases: [string, 'POST' | 'PATCH' | 'DELETE', string, unknown][] = [
          ['409 create with B id', 'POST', '/api/v1/experiments', { id: B_IDS.exp, name: 'needle B', ...into }],
          ['409 batch with B id', 'POST', '/api/v1/experiments', [{ name: `rest-ok ${who}`, ...into }, { id: B_IDS.twin, name: 'twin', ...into }]],
          ['403 into B', 'POST', '/api/v1/experiments', { name: 'into-b', project_id: m.projects.B }],
          ['400 ref to B', 'POST', '/api/v1/trials', { name: 'ref', experiment_id: B_IDS.exp, ...into }],
          ['404 patch B', 'PATCH', `/api/v1/experiments/${B_IDS.exp}`, { name: 'hijack' }],
          ['404 empty patch B', 'PATCH', `/api/v1/experiments/${B_IDS.exp}`, {}],
          ['404 patch B trial', 'PATCH', `/api/v1/trials/${B_IDS.trial}`, { status: 'failed' }],
          ['400 relink to B', 'PATCH', `/api/v1/trials/${trialA}`, { experiment_id: B_IDS.exp }],
          ['404 delete B', 'DELETE', `/api/v1/experiments/${B_IDS.exp}`, undefined],
          ['404 delete B run', 'DELETE', `/api/v1/runs/${B_IDS.run.toUpperCase()}`, undefined],
        ];
        for (const [label, method, url, body] of cases) {
          const r = await http(m.app, h, method, url, body);
          expect(r.statusCode, `${label}: ${r.body}`).toBe(Number(label.slice(0, 3)));
          expect(r.data.error.code, label).toBe({ 400: 'BAD_USER_INPUT', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 409: 'CONFLICT' }[r.statusCode]);
          expect(r.body, label).not.toMatch(/private-B|needle B"/);
          if (r.statusCode === 400) expect(r.data.error.details[0].path, label).toBe('body.experiment_id');
        }
      });
      expect((await t.db.query(`SELECT 1 FROM app.experiment WHERE name IN ('rest-ok ${who}', 'into-b', 'ref')`)).rows).toEqual([]);
      expect((await http(m.app, m.ownerA, 'GET', `/api/v1/trials/${trialA}`)).data.experiment_id).toBe(expA);
    });

    it("POST /api/v1/ingest: B's ids are conflicts or not found, B's project is refused, B's envelope ids dedupe nothing", async () => {
      const into = P().intoA;
      let res!: Awaited<ReturnType<typeof http>>;
      await bUnchangedBy(async () => {
        res = await http(m.app, P().headers, 'POST', '/api/v1/ingest', {
          batch: [
            { id: 'c', type: 'experiment.create', body: { id: B_IDS.exp, name: 'needle B', ...into } },
            { id: 'u', type: 'experiment.upsert', body: { id: B_IDS.twin, name: 'hijack', ...into } },
            { id: 'p', type: 'experiment.update', body: { id: B_IDS.exp, name: 'hijack', ...into } },
            { id: 'd', type: 'trial.delete', body: { id: B_IDS.trial, ...into } },
            { id: 'dm', type: 'metric.delete', body: { id: B_IDS.metric, ...into } },
            { id: 'b', type: 'experiment.create', body: { name: 'into-b', project_id: m.projects.B } },
            { id: 'r', type: 'trial.create', body: { name: 'ref', experiment_id: B_IDS.exp, ...into } },
            { id: 'ru', type: 'run.upsert', body: { id: '0190a0a0-0000-7000-8000-00000000ee02', trial_id: B_IDS.trial, ...into } },
            { id: `evt-${who}`, type: 'experiment.create', body: { name: `a-evt ${who}`, ...into } },
          ],
        });
      });
      expect(res.statusCode, res.body).toBe(207);
      expect(res.data.successes).toEqual([{ id: `evt-${who}`, status: 201 }]);
      expect(Object.fromEntries(res.data.errors.map((e: { id: string; status: number }) => [e.id, e.status]))).toEqual({
        c: 409, u: 409, p: 404, d: 404, dm: 404, b: 403, r: 422, ru: 422,
      });
      expect(res.body).not.toMatch(/private-B|needle B"/);
      // The envelope id B used made a new row in A (ids derive from the project), not a duplicate of B's.
      const { rows } = await t.db.query<{ project_id: string }>(`SELECT project_id::text AS project_id FROM app.experiment WHERE name = $1`, [`a-evt ${who}`]);
      expect(rows).toEqual([{ project_id: m.projects.A }]);
    });

    it("project routes show its projects only; B's project, keys and members are closed", async () => {
      const h = P().headers;
      const list = await http(m.app, h, 'GET', '/api/v1/projects');
      expect(list.statusCode, list.body).toBe(200);
      expect(idsOf(list.data.items)).toEqual(P().visible);
      expect((await http(m.app, h, 'GET', `/api/v1/projects/${m.projects.B}`)).statusCode).toBe(404);
      for (const [method, url, body] of [
        ['GET', `/api/v1/projects/${m.projects.B}/keys`, undefined],
        ['POST', `/api/v1/projects/${m.projects.B}/keys`, { role: 'owner' }],
        ['GET', `/api/v1/projects/${m.projects.B}/members`, undefined],
      ] as const) {
        const r = await http(m.app, h, method, url, body);
        expect(r.statusCode, `${method} ${url}: ${r.body}`).toBe(403);
      }
      expect((await http(m.app, m.ownerB, 'GET', `/api/v1/projects/${m.projects.B}/keys`)).data.items).toHaveLength(1);
    });
  });

  describe('the member of A and C', () => {
    const member = () => m.principals.member;

    it('reads span A and C (narrowed by a project filter), never B', async () => {
      const { A, C } = m.projects;
      const all = await http(m.app, member().headers, 'GET', '/api/v1/experiments?kind=seed&limit=500');
      const projects = [...new Set(all.data.items.map((e: any) => e.project_id))].sort();
      expect(projects).toEqual([A, C].sort());
      const onlyC = await http(m.app, member().headers, 'GET', `/api/v1/experiments?project_id=${C}`);
      expect(idsOf(onlyC.data.items)).toEqual(await ownerIds(t.db, 'experiment', [C]));
      const g = await gql(m.app, member().headers, `query($c: ID!) { experiments(project_id: $c) { project_id } }`, { c: C });
      expect(new Set(g.data.experiments.map((e: any) => e.project_id))).toEqual(new Set([C]));
    });

    it('a write without a project is a 400 naming A and C (not B) on every write path, writing nothing', async () => {
      const { A, B, C } = m.projects;
      const before = await Promise.all(TABLES.map((tb) => ownerIds(t.db, tb, [A, B, C])));
      const messages: string[] = [];
      const rest = await http(m.app, member().headers, 'POST', '/api/v1/experiments', { name: 'where?' });
      expect(rest.statusCode, rest.body).toBe(400);
      messages.push(rest.data.error.message);
      const g = await gql(m.app, member().headers, 'mutation { create_experiment(input: { name: "where?" }) { id } }');
      refused(g, 'BAD_USER_INPUT');
      messages.push(g.errors![0].message);
      const ingest = await http(m.app, member().headers, 'POST', '/api/v1/ingest', { batch: [{ id: 'w', type: 'experiment.create', body: { name: 'where?' } }] });
      expect(ingest.data.errors).toEqual([expect.objectContaining({ id: 'w', status: 400 })]);
      messages.push(ingest.data.errors[0].message);
      for (const msg of messages) {
        expect(msg).toMatch(/can write into 2 projects: name the target project with "project_id"/);
        expect(msg).toContain(A);
        expect(msg).toContain(C);
        expect(msg).not.toContain(B);
      }
      expect(await Promise.all(TABLES.map((tb) => ownerIds(t.db, tb, [A, B, C])))).toEqual(before);
    });

    it("an id of A reused in C is a conflict, never a move or a second row", async () => {
      const { A, C } = m.projects;
      const h = member().headers;
      const created = await http(m.app, h, 'POST', '/api/v1/experiments', { name: 'mine', project_id: A });
      expect(created.statusCode, created.body).toBe(201);
      const id = created.data.id;
      expect((await http(m.app, h, 'POST', '/api/v1/experiments', { id, name: 'mine', project_id: C })).statusCode).toBe(409);
      refused(await gql(m.app, h, `mutation { upsert_experiments(inputs: [{ id: "${id}", name: "moved", project_id: "${C}" }]) { id } }`), 'BAD_USER_INPUT', 'conflict');
      const ingest = await http(m.app, h, 'POST', '/api/v1/ingest', { batch: [{ id: 'm', type: 'experiment.upsert', body: { id, name: 'moved', project_id: C } }] });
      expect(ingest.data.errors).toEqual([expect.objectContaining({ id: 'm', status: 409 })]);
      const { rows } = await t.db.query('SELECT project_id::text AS project_id, name FROM app.experiment WHERE id = $1', [id]);
      expect(rows).toEqual([{ project_id: A, name: 'mine' }]);
    });
  });
});

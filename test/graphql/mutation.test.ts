/**
 * GraphQL mutations end to end over HTTP (SPEC G-7, G-10, G-14, A-3, A-4) on the experiments preset: every
 * mutation field, nested creation three levels deep written with one statement per entity type plus one read
 * (db.stats and `x-lattice-trace`), batch create as one statement, upsert, update / delete by id and by filter
 * (`at_most`, default 100), all or nothing across root fields, idempotent retries with client ids, viewers
 * refused before any statement, returned selections with relations and aggregates, `naming: graphql-default`
 * (same database, camelCase model), and GET refused with 405.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadModelDocument } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, type TestDb } from '../support/db.js';
import { graphqlTestApp } from '../support/graphql-app.js';

interface GqlError {
  message: string;
  path?: (string | number)[];
  extensions: Record<string, unknown> & { code: string };
}
interface Gql {
  status: number;
  text: string;
  body: { data?: Record<string, any> | null; errors?: GqlError[]; extensions?: { tracing: { statements: number } } };
}

async function camelExperiments(): Promise<Model> {
  const doc = parseYaml(await readFile(new URL('../../presets/experiments/model.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
  return loadModelDocument({ ...doc, naming: 'graphql-default' });
}

function app(t: TestDb, model: Model): Promise<FastifyInstance> {
  return graphqlTestApp(t.db, model, { defaultRole: 'editor', bodyLimit: 4 * 1024 * 1024 });
}

describe.each(TEST_KINDS)('GraphQL mutations on %s', (kind) => {
  let t: TestDb;
  let snake: FastifyInstance;
  let camel: FastifyInstance;
  let pA: string;
  let pB: string;
  const ids: Record<string, string> = {};
  let editorA: Record<string, string>;

  beforeAll(async () => {
    t = await createTestDb(kind);
    pA = await createProject(t.db, 'A');
    pB = await createProject(t.db, 'B');
    const [eA, eB] = await insertRows<{ id: string }>(t.db, 'experiment', [
      { project_id: pA, name: 'base' },
      { project_id: pB, name: 'base' },
    ]);
    const [tB] = await insertRows<{ id: string }>(t.db, 'trial', [{ project_id: pB, experiment_id: eB.id, name: 'b-trial', status: 'running' }]);
    Object.assign(ids, { eA: eA.id, eB: eB.id, tB: tB.id });
    editorA = { 'x-test-role': 'editor', 'x-test-projects': pA };
    snake = await app(t, t.model);
    camel = await app(t, await camelExperiments());
  });

  afterAll(async () => {
    await snake?.close();
    await camel?.close();
    await t?.close();
  });

  async function gql(query: string, variables?: Record<string, unknown>, headers: Record<string, string> = editorA, on = snake): Promise<Gql> {
    const res = await on.inject({ method: 'POST', url: '/graphql', payload: { query, variables }, headers });
    return { status: res.statusCode, text: res.body, body: res.json() };
  }

  /** Run a mutation that must succeed; asserts the number of data statements it cost. */
  async function ok(query: string, variables: Record<string, unknown> | undefined, statements: number, headers = editorA, on = snake): Promise<Record<string, any>> {
    const before = t.db.stats.statements;
    const res = await gql(query, variables, { ...headers, 'x-lattice-trace': '1' }, on);
    expect(res.body.errors, res.text).toBeUndefined();
    expect(res.status).toBe(200);
    expect(t.db.stats.statements - before, query).toBe(statements);
    expect(res.body.extensions?.tracing.statements).toBe(statements);
    return res.body.data as Record<string, any>;
  }

  /** Assert `data: null` and exactly one error of `code` at `path`. */
  function refused(res: Gql, code: string, path: string, outcome?: string): GqlError {
    expect(res.body.errors, res.text).toHaveLength(1);
    expect(res.body.data ?? null).toBeNull();
    const [e] = res.body.errors!;
    expect(e.extensions.code, res.text).toBe(code);
    expect(e.path).toEqual([path]);
    if (outcome) expect(e.extensions.outcome, res.text).toBe(outcome);
    return e;
  }

  async function rows<R = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await t.db.query<R>(sql, params)).rows;
  }

  it('creates experiment → trials → runs with one statement per entity type plus one read', async () => {
    const data = await ok(
      `mutation { create_experiment(input: { name: "nested", kind: "mlp", trials: [
          { name: "t1", params: { lr: 0.1 }, runs: [{ status: running }, {}] },
          { name: "t2", runs: [{ status: completed }] },
          { name: "t3" } ] }) {
        id name project_id __typename
        trials(order_by: [{ name: ASC }]) { name status experiment { name } runs(order_by: [{ status: ASC }]) { status trial { name } } }
        trials_aggregate { count }
        trials_list(limit: 1, offset: 0) { total_count }
      } }`,
      undefined,
      4,
    );
    const e = data.create_experiment;
    expect(e).toMatchObject({ name: 'nested', project_id: pA, __typename: 'Experiment', trials_aggregate: [{ count: 3 }], trials_list: { total_count: 3 } });
    expect(e.trials).toEqual([
      { name: 't1', status: 'pending', experiment: { name: 'nested' }, runs: [{ status: 'pending', trial: { name: 't1' } }, { status: 'running', trial: { name: 't1' } }] },
      { name: 't2', status: 'pending', experiment: { name: 'nested' }, runs: [{ status: 'completed', trial: { name: 't2' } }] },
      { name: 't3', status: 'pending', experiment: { name: 'nested' }, runs: [] },
    ]);
    // Stored with the parent's id and project; ids are UUID v7.
    const trials = await rows<{ id: string; project_id: string; params: unknown }>(`SELECT id, project_id, params FROM app.trial WHERE experiment_id = $1 ORDER BY name`, [e.id]);
    expect(trials.map((x) => x.project_id)).toEqual([pA, pA, pA]);
    expect(trials[0].params).toEqual({ lr: 0.1 });
    expect(e.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    const runs = await rows<{ project_id: string }>(`SELECT project_id FROM app.run WHERE trial_id = ANY($1)`, [trials.map((x) => x.id)]);
    expect(runs.map((r) => r.project_id)).toEqual([pA, pA, pA]);
  });

  it('creates a batch with one statement (results in input order) and refuses oversized batches', async () => {
    const data = await ok(
      `mutation($e: ID!) { create_trials(inputs: [{ name: "b1", experiment_id: $e }, { name: "b2", experiment_id: $e, duration: 2.5 }, { name: "b3", experiment_id: $e, status: failed }]) { name duration status } }`,
      { e: ids.eA },
      2,
    );
    expect(data.create_trials).toEqual([
      { name: 'b1', duration: null, status: 'pending' },
      { name: 'b2', duration: 2.5, status: 'pending' },
      { name: 'b3', duration: null, status: 'failed' },
    ]);
    const before = t.db.stats.statements;
    const many = Array.from({ length: 1001 }, (_, i) => ({ name: `x${i}` }));
    refused(await gql(`mutation($in: [ExperimentCreateInput!]!) { create_experiments(inputs: $in) { id } }`, { in: many }), 'BAD_USER_INPUT', 'create_experiments');
    // 1 + 1000 nested rows is also too many.
    const nested = { name: 'big', trials: Array.from({ length: 1000 }, (_, i) => ({ name: `t${i}` })) };
    const e = refused(await gql(`mutation($in: ExperimentCreateInput!) { create_experiment(input: $in) { id } }`, { in: nested }), 'BAD_USER_INPUT', 'create_experiment');
    expect(e.message).toMatch(/more than 1000 rows/);
    expect(t.db.stats.statements).toBe(before);
  });

  it('refuses nested children that set their parent FK or another project, before any statement', async () => {
    const before = t.db.stats.statements;
    const fk = refused(
      await gql(`mutation($e: ID!) { create_experiment(input: { name: "x", trials: [{ name: "t", experiment_id: $e }] }) { id } }`, { e: ids.eA }),
      'BAD_USER_INPUT',
      'create_experiment',
    );
    expect(fk.message).toMatch(/input\.trials\[0\]\.experiment_id is set/);
    const proj = refused(
      await gql(`mutation($p: ID!) { create_experiment(input: { name: "x", trials: [{ name: "t", project_id: $p }] }) { id } }`, { p: pB }),
      'BAD_USER_INPUT',
      'create_experiment',
    );
    expect(proj.message).toMatch(/project_id differs/);
    expect(t.db.stats.statements).toBe(before);
    expect(await rows(`SELECT 1 FROM app.experiment WHERE name = 'x'`)).toEqual([]);
  });

  it('upserts by id: creates new rows, replaces given fields of existing ones, in one statement', async () => {
    const [existing] = await insertRows<{ id: string }>(t.db, 'trial', [{ project_id: pA, experiment_id: ids.eA, name: 'u-old', description: 'keep me', duration: 1 }]);
    const fresh = randomUUID();
    const data = await ok(
      `mutation($a: ID!, $b: ID!, $e: ID!) { upsert_trials(inputs: [{ id: $a, name: "u-new", experiment_id: $e, duration: 3 }, { id: $b, name: "u-created", experiment_id: $e }]) { id name description duration } }`,
      { a: existing.id, b: fresh, e: ids.eA },
      2,
    );
    expect(data.upsert_trials).toEqual([
      { id: existing.id, name: 'u-new', description: 'keep me', duration: 3 },
      { id: fresh, name: 'u-created', description: null, duration: null },
    ]);
    // Another project's id is a conflict, never an overwrite.
    const e = refused(await gql(`mutation($id: ID!, $e: ID!) { upsert_trials(inputs: [{ id: $id, name: "stolen", experiment_id: $e }]) { id } }`, { id: ids.tB, e: ids.eA }), 'BAD_USER_INPUT', 'upsert_trials', 'conflict');
    expect(e.extensions.id).toBe(ids.tB);
    expect((await rows<{ name: string }>(`SELECT name FROM app.trial WHERE id = $1`, [ids.tB]))[0].name).toBe('b-trial');
  });

  it('updates and deletes one row by id; NOT_FOUND for absent or other projects\' ids', async () => {
    const [tr] = await insertRows<{ id: string }>(t.db, 'trial', [{ project_id: pA, experiment_id: ids.eA, name: 'one', duration: 5, description: 'd' }]);
    const upd = await ok(`mutation($id: ID!) { update_trial(id: $id, patch: { name: "one-renamed", description: null }) { id name description duration experiment { name } } }`, { id: tr.id }, 2);
    expect(upd.update_trial).toEqual({ id: tr.id, name: 'one-renamed', description: null, duration: 5, experiment: { name: 'base' } });
    // An empty patch writes nothing (one read).
    expect((await ok(`mutation($id: ID!) { update_trial(id: $id, patch: {}) { name } }`, { id: tr.id }, 1)).update_trial).toEqual({ name: 'one-renamed' });
    // Required fields cannot be set to null.
    refused(await gql(`mutation($id: ID!) { update_trial(id: $id, patch: { name: null }) { id } }`, { id: tr.id }), 'BAD_USER_INPUT', 'update_trial', 'missing_required');
    for (const id of [randomUUID(), ids.tB]) {
      refused(await gql(`mutation($id: ID!) { update_trial(id: $id, patch: { name: "x" }) { id } }`, { id }), 'NOT_FOUND', 'update_trial');
      refused(await gql(`mutation($id: ID!) { update_trial(id: $id, patch: {}) { id } }`, { id }), 'NOT_FOUND', 'update_trial');
      refused(await gql(`mutation($id: ID!) { delete_trial(id: $id) { id } }`, { id }), 'NOT_FOUND', 'delete_trial');
    }
    expect((await rows<{ name: string }>(`SELECT name FROM app.trial WHERE id = $1`, [ids.tB]))[0].name).toBe('b-trial');
    // Delete returns the row as it was (read first, then one delete statement).
    const del = await ok(`mutation($id: ID!) { delete_trial(id: $id) { id name experiment { name } } }`, { id: tr.id }, 2);
    expect(del.delete_trial).toEqual({ id: tr.id, name: 'one-renamed', experiment: { name: 'base' } });
    expect(await rows(`SELECT 1 FROM app.trial WHERE id = $1`, [tr.id])).toEqual([]);
    refused(await gql(`mutation($id: ID!) { delete_trial(id: $id) { id } }`, { id: tr.id }), 'NOT_FOUND', 'delete_trial');
  });

  it('updates and deletes by filter within at_most (default 100), items in id order, never another project\'s rows', async () => {
    const [e] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: pA, name: 'mass' }]);
    const created = await ok(`mutation($in: [TrialCreateInput!]!) { create_trials(inputs: $in) { id } }`, { in: Array.from({ length: 101 }, (_, i) => ({ name: `m${i}`, experiment_id: e.id })) }, 2);
    const all = created.create_trials.map((x: { id: string }) => x.id).sort();
    const filter = `{ experiment_id: { eq: "${e.id}" } }`;
    const before = await rows(`SELECT id, status FROM app.trial WHERE experiment_id = $1 ORDER BY id`, [e.id]);
    // 101 matches > default 100: refused, nothing changed.
    const over = refused(await gql(`mutation { update_trials(filter: ${filter}, patch: { status: cancelled }) { affected_count } }`), 'BAD_USER_INPUT', 'update_trials');
    expect(over.message).toMatch(/^update_trials would update more than 100 rows \(its at_most\); narrow the filter, or raise at_most/);
    refused(await gql(`mutation { delete_trials(filter: ${filter}, at_most: 5) { affected_count } }`), 'BAD_USER_INPUT', 'delete_trials');
    for (const n of [0, 1001]) refused(await gql(`mutation { update_trials(filter: ${filter}, patch: { status: failed }, at_most: ${n}) { affected_count } }`), 'BAD_USER_INPUT', 'update_trials');
    expect(await rows(`SELECT id, status FROM app.trial WHERE experiment_id = $1 ORDER BY id`, [e.id])).toEqual(before);
    // Within at_most: ids read, one update, one read of the items.
    const upd = await ok(`mutation { update_trials(filter: ${filter}, patch: { status: cancelled }, at_most: 101) { affected_count items { id status } } }`, undefined, 3);
    expect(upd.update_trials.affected_count).toBe(101);
    expect(upd.update_trials.items.map((x: { id: string }) => x.id)).toEqual(all);
    expect(new Set(upd.update_trials.items.map((x: { status: string }) => x.status))).toEqual(new Set(['cancelled']));
    // A filter that also matches project B's rows (same name) touches only A's.
    const [dup] = await insertRows<{ id: string }>(t.db, 'trial', [{ project_id: pA, experiment_id: ids.eA, name: 'b-trial' }]);
    const shared = await ok(`mutation { update_trials(filter: { name: { eq: "b-trial" } }, patch: { duration: 9 }) { affectedCount: affected_count items { id } } }`, undefined, 3);
    expect(shared.update_trials).toEqual({ affectedCount: 1, items: [{ id: dup.id }] });
    expect((await rows<{ duration: number | null }>(`SELECT duration FROM app.trial WHERE id = $1`, [ids.tB]))[0].duration).toBeNull();
    // Delete by filter: the items as they were, then gone. affected_count after items keeps selection order.
    const some = all.slice(0, 3);
    const del = await ok(`mutation($ids: [ID!]) { delete_trials(filter: { id: { in: $ids } }, at_most: 3) { items { id status } affected_count __typename } }`, { ids: some }, 3);
    expect(del.delete_trials).toEqual({ items: some.map((id: string) => ({ id, status: 'cancelled' })), affected_count: 3, __typename: 'TrialMutationResult' });
    expect(Object.keys(del.delete_trials)).toEqual(['items', 'affected_count', '__typename']);
    expect(await rows(`SELECT 1 FROM app.trial WHERE id = ANY($1)`, [some])).toEqual([]);
    // Nothing matches: 0 rows, only the id read.
    expect((await ok(`mutation { delete_trials(filter: { name: { eq: "nothing-like-this" } }) { affected_count } }`, undefined, 1)).delete_trials).toEqual({ affected_count: 0 });
    // A deleted experiment takes its trials (cascade) and runs.
    const gone = await ok(`mutation($e: ID!) { delete_experiments(filter: { id: { eq: $e } }, at_most: 1) { affected_count items { name trials_aggregate { count } } } }`, { e: e.id }, 3);
    expect(gone.delete_experiments).toEqual({ affected_count: 1, items: [{ name: 'mass', trials_aggregate: [{ count: 98 }] }] });
    expect(await rows(`SELECT 1 FROM app.trial WHERE experiment_id = $1`, [e.id])).toEqual([]);
  });

  it('runs one operation as one transaction: root fields in order, all or nothing', async () => {
    const res = await gql(`mutation($b: ID!) { a: create_experiment(input: { name: "aon-a" }) { id } b: update_trial(id: $b, patch: { name: "x" }) { id } }`, { b: ids.tB });
    expect(res.status).toBe(200);
    refused(res, 'NOT_FOUND', 'b');
    expect(await rows(`SELECT 1 FROM app.experiment WHERE name = 'aon-a'`)).toEqual([]);
    // A later bad reference rolls back the earlier create and update.
    const bad = await gql(
      `mutation($a: ID!, $bad: ID!) { x: create_experiment(input: { name: "aon-x" }) { id } y: update_experiment(id: $a, patch: { kind: "changed" }) { id } z: create_trial(input: { name: "t", experiment_id: $bad }) { id } }`,
      { a: ids.eA, bad: ids.eB },
    );
    const e = refused(bad, 'BAD_USER_INPUT', 'z', 'bad_ref');
    expect(e.extensions.column).toBe('experiment_id');
    expect(await rows(`SELECT 1 FROM app.experiment WHERE name = 'aon-x'`)).toEqual([]);
    expect((await rows<{ kind: string | null }>(`SELECT kind FROM app.experiment WHERE id = $1`, [ids.eA]))[0].kind).toBeNull();
    // Later fields see earlier ones (serial execution): create, then update the same row by its client id.
    const id = randomUUID();
    const data = await ok(`mutation($id: ID!) { c: create_experiment(input: { id: $id, name: "serial" }) { name } u: update_experiment(id: $id, patch: { kind: "k" }) { name kind } __typename }`, { id }, 4);
    expect(data).toEqual({ c: { name: 'serial' }, u: { name: 'serial', kind: 'k' }, __typename: 'Mutation' });
    expect(Object.keys(data)).toEqual(['c', 'u', '__typename']);
    expect(await ok(`mutation { __typename }`, undefined, 0)).toEqual({ __typename: 'Mutation' });
  });

  it('makes a create with a client id an idempotent retry; other values differ; another project\'s id conflicts', async () => {
    const id = randomUUID();
    const q = `mutation($id: ID!) { create_experiment(input: { id: $id, name: "retry", kind: "k", trials: [{ id: "${randomUUID()}", name: "rt" }] }) { id name trials { name } } }`;
    const first = await ok(q, { id }, 3);
    const again = await ok(q, { id }, 3);
    expect(again).toEqual(first);
    expect(first.create_experiment).toEqual({ id, name: 'retry', trials: [{ name: 'rt' }] });
    expect(await rows(`SELECT 1 FROM app.experiment WHERE id = $1`, [id])).toHaveLength(1);
    refused(await gql(`mutation($id: ID!) { create_experiment(input: { id: $id, name: "other" }) { id } }`, { id }), 'BAD_USER_INPUT', 'create_experiment', 'differs');
    const c = refused(await gql(`mutation($id: ID!) { create_experiment(input: { id: $id, name: "base" }) { id } }`, { id: ids.eB }), 'BAD_USER_INPUT', 'create_experiment', 'conflict');
    expect(c.extensions.id).toBe(ids.eB);
  });

  it('refuses viewers with FORBIDDEN before any statement, and an ambiguous project for admins', async () => {
    const viewer = { 'x-test-role': 'viewer', 'x-test-projects': pA };
    for (const q of [
      `mutation { create_experiment(input: { name: "v" }) { id } }`,
      `mutation { update_trials(filter: {}, patch: { name: "v" }) { affected_count } }`,
      `mutation { delete_experiments(filter: {}) { affected_count } }`,
      `mutation { delete_experiment(id: "${ids.eA}") { id } }`,
    ]) {
      const before = t.db.stats.statements;
      const res = await gql(q, undefined, viewer);
      expect(res.body.errors?.[0].extensions.code, res.text).toBe('FORBIDDEN');
      expect(res.body.errors).toHaveLength(1);
      expect(res.body.data ?? null).toBeNull();
      expect(t.db.stats.statements).toBe(before);
    }
    const admin = { 'x-test-role': 'admin', 'x-test-projects': '' };
    const amb = await gql(`mutation { create_experiment(input: { name: "adm" }) { id } }`, undefined, admin);
    expect(amb.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(amb.body.errors?.[0].message).toMatch(/project/);
    const adm = await ok(`mutation($p: ID!) { create_experiment(input: { name: "adm", project_id: $p }) { project_id } }`, { p: pB }, 2, admin);
    expect(adm.create_experiment.project_id).toBe(pB);
  });

  it('names everything per naming: graphql-default (createTrial, atMost, affectedCount)', async () => {
    const data = await ok(
      `mutation($e: ID!) { createTrial(input: { name: "camel", experimentId: $e, runs: [{ status: running }] }) { name experimentId runs { trialId status } runsAggregate { count } } }`,
      { e: ids.eA },
      3,
      editorA,
      camel,
    );
    expect(data.createTrial).toMatchObject({ name: 'camel', experimentId: ids.eA, runs: [{ status: 'running' }], runsAggregate: [{ count: 1 }] });
    const upd = await ok(`mutation { updateTrials(filter: { name: { eq: "camel" } }, patch: { duration: 1 }) { affectedCount } }`, undefined, 2, editorA, camel);
    expect(upd.updateTrials).toEqual({ affectedCount: 1 });
    const del = await ok(`mutation { deleteTrials(filter: { name: { eq: "camel" } }, atMost: 1) { affectedCount items { name duration } } }`, undefined, 3, editorA, camel);
    expect(del.deleteTrials).toEqual({ affectedCount: 1, items: [{ name: 'camel', duration: 1 }] });
    const fk = await gql(`mutation($e: ID!) { createExperiment(input: { name: "c", trials: [{ name: "t", experimentId: $e }] }) { id } }`, { e: ids.eA }, editorA, camel);
    expect(fk.body.errors?.[0].message).toMatch(/trials\[0\]\.experimentId is set/);
    expect((await gql(`mutation { create_trial(input: { name: "x" }) { id } }`, undefined, editorA, camel)).body.errors?.[0].message).toMatch(/Cannot query field "create_trial"/);
  });

  it('refuses a mutation over GET with 405 and Allow: POST', async () => {
    const query = `mutation { create_experiment(input: { name: "via-get" }) { id } }`;
    const res = await snake.inject({ method: 'GET', url: `/graphql?query=${encodeURIComponent(query)}`, headers: editorA });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.json().errors[0].message).toMatch(/POST/);
    expect(await rows(`SELECT 1 FROM app.experiment WHERE name = 'via-get'`)).toEqual([]);
  });
});

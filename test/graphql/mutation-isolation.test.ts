/**
 * Tenant isolation of GraphQL mutations (SPEC G-7, A-4; issue 6 "Done when"), over HTTP on every test database.
 * Two projects A and B hold rows with overlapping names; principals: editor of A, viewer of A, admin, editor of B.
 * Every refused mutation is checked against a snapshot of ALL data rows taken as owner before the request (nothing
 * written, all or nothing); every successful one against a snapshot of project B's rows (B never modified), and
 * its answer never shows B's rows, ids or counts. Written independently of the implementation, from the spec.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject, createTestDb, insertRows, TEST_KINDS, type TestDb } from '../support/db.js';
import { graphqlTestApp } from '../support/graphql-app.js';

interface GqlError {
  message: string;
  path?: (string | number)[];
  extensions: { code: string; outcome?: string; id?: string };
}
interface Gql {
  status: number;
  text: string;
  body: { data?: Record<string, any> | null; errors?: GqlError[] };
}
type Who = 'editorA' | 'viewerA' | 'admin' | 'editorB';
const TABLES = ['experiment', 'trial', 'run', 'metric'] as const;

describe.each(TEST_KINDS)('GraphQL mutations keep tenants apart on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let pA: string;
  let pB: string;
  const ids: Record<string, string> = {};
  let headers: Record<Who, Record<string, string>>;

  beforeAll(async () => {
    t = await createTestDb(kind);
    pA = await createProject(t.db, 'A');
    pB = await createProject(t.db, 'B');
    const [eA1, eA2] = await insertRows<{ id: string }>(t.db, 'experiment', [
      { project_id: pA, name: 'shared', kind: 'k', description: 'a-one' },
      { project_id: pA, name: 'only-a', kind: 'k', description: 'a-two' },
    ]);
    const [eB1, eB2] = await insertRows<{ id: string }>(t.db, 'experiment', [
      { project_id: pB, name: 'shared', kind: 'k', description: 'b-private-1' },
      { project_id: pB, name: 'secret-b', kind: 'k', description: 'b-private-2' },
    ]);
    const [tA1, tA2] = await insertRows<{ id: string }>(t.db, 'trial', [
      { project_id: pA, experiment_id: eA1.id, name: 'dup', status: 'completed' },
      { project_id: pA, experiment_id: eA1.id, name: 'solo', status: 'running' },
    ]);
    const [tB1, tB2] = await insertRows<{ id: string }>(t.db, 'trial', [
      { project_id: pB, experiment_id: eB1.id, name: 'dup', status: 'completed' },
      { project_id: pB, experiment_id: eB1.id, name: 'b-only-trial', status: 'failed' },
    ]);
    const [rA1] = await insertRows<{ id: string }>(t.db, 'run', [{ project_id: pA, trial_id: tA1.id, status: 'completed' }]);
    const [rB1] = await insertRows<{ id: string }>(t.db, 'run', [{ project_id: pB, trial_id: tB1.id, status: 'completed' }]);
    await insertRows(t.db, 'metric', [
      { project_id: pA, trial_id: tA1.id, run_id: rA1.id, key: 'loss', value: 0.5, step: 1 },
      { project_id: pB, trial_id: tB1.id, run_id: rB1.id, key: 'loss', value: 0.7, step: 1 },
    ]);
    Object.assign(ids, { eA1: eA1.id, eA2: eA2.id, eB1: eB1.id, eB2: eB2.id, tA1: tA1.id, tA2: tA2.id, tB1: tB1.id, tB2: tB2.id, rA1: rA1.id, rB1: rB1.id });
    headers = {
      editorA: { 'x-test-role': 'editor', 'x-test-projects': pA },
      viewerA: { 'x-test-role': 'viewer', 'x-test-projects': pA },
      admin: { 'x-test-role': 'admin', 'x-test-projects': '' },
      editorB: { 'x-test-role': 'editor', 'x-test-projects': pB },
    };

    app = await graphqlTestApp(t.db, t.model); // every request names its role (x-test-role, x-test-projects)
  });

  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  async function gql(who: Who, query: string, variables?: Record<string, unknown>): Promise<Gql> {
    const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query, variables }, headers: headers[who] });
    return { status: res.statusCode, text: res.body, body: res.json() };
  }

  /** Assert success and return `data`. */
  async function ok(who: Who, query: string, variables?: Record<string, unknown>): Promise<Record<string, any>> {
    const res = await gql(who, query, variables);
    expect(res.body.errors, res.text).toBeUndefined();
    expect(res.status).toBe(200);
    return res.body.data as Record<string, any>;
  }

  /** Assert the answer is `data: null` (or absent) with exactly one error of `code` (one of `code`). */
  function refused(res: Gql, code: string | string[], outcome?: string): GqlError {
    expect(res.body.errors, res.text).toHaveLength(1);
    expect(res.body.data ?? null, res.text).toBeNull();
    const [e] = res.body.errors!;
    expect(Array.isArray(code) ? code : [code], res.text).toContain(e.extensions.code);
    if (outcome) expect(e.extensions.outcome, res.text).toBe(outcome);
    // B's private values never leak into an error.
    expect(res.text).not.toMatch(/b-private|secret-b|b-only-trial/);
    return e;
  }

  /** Every data row (as owner, bypassing RLS), per table, in id order; `project` restricts to one project. */
  async function snapshot(project?: string): Promise<Record<string, unknown>> {
    const where = project ? `WHERE x.project_id = $1` : '';
    const cols = TABLES.map((tb) => `(SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.id), '[]'::jsonb) FROM app.${tb} x ${where}) AS ${tb}`);
    const { rows } = await t.db.query<Record<string, unknown>>(`SELECT ${cols.join(', ')}`, project ? [project] : []);
    return rows[0];
  }

  /** Ids (sorted) of rows of `table` in `project` matching `name` (null: any). */
  async function idsOf(table: string, project: string, name?: string): Promise<string[]> {
    const { rows } = await t.db.query<{ id: string }>(
      `SELECT id FROM app.${table} WHERE project_id = $1 ${name ? 'AND name = $2' : ''} ORDER BY id`,
      name ? [project, name] : [project],
    );
    return rows.map((r) => r.id);
  }

  /** Run `query` as `who`, expect it refused with `code` (and `outcome`), and nothing written anywhere. */
  async function refusedNothingWritten(who: Who, query: string, variables: Record<string, unknown>, code: string | string[], outcome?: string): Promise<GqlError> {
    const before = await snapshot();
    const e = refused(await gql(who, query, variables), code, outcome);
    expect(await snapshot()).toEqual(before);
    return e;
  }

  it('creating with an id that exists in project B is a conflict, never an overwrite, and writes nothing', async () => {
    // Same values as B's row: still a conflict (an idempotent `exists` only within the caller's own project).
    const e = await refusedNothingWritten('editorA', `mutation($id: ID!) { create_experiment(input: { id: $id, name: "secret-b", kind: "k" }) { id name description } }`,
      { id: ids.eB2 }, 'BAD_USER_INPUT', 'conflict');
    expect(e.extensions.id).toBe(ids.eB2);
    expect(e.path).toEqual(['create_experiment']);
    // In a batch: the good row is not written either.
    const fresh = randomUUID();
    await refusedNothingWritten('editorA', `mutation($a: ID!, $b: ID!) { create_experiments(inputs: [{ id: $a, name: "c-new" }, { id: $b, name: "x" }]) { id } }`,
      { a: fresh, b: ids.eB1 }, 'BAD_USER_INPUT', 'conflict');
    expect(await idsOf('experiment', pA, 'c-new')).toEqual([]);
    await refusedNothingWritten('editorA', `mutation($id: ID!, $e: ID!) { create_trial(input: { id: $id, name: "dup", experiment_id: $e }) { id } }`,
      { id: ids.tB1, e: ids.eA1 }, 'BAD_USER_INPUT', 'conflict');
    // A nested child with B's id: the parent is not written.
    await refusedNothingWritten('editorA', `mutation($id: ID!) { create_experiment(input: { name: "nest-c", trials: [{ id: $id, name: "x" }] }) { id } }`,
      { id: ids.tB2 }, 'BAD_USER_INPUT', 'conflict');
    // A parent with B's id (and B's values): its children are never attached to B's row.
    await refusedNothingWritten('editorA', `mutation($id: ID!) { create_experiment(input: { id: $id, name: "shared", kind: "k", trials: [{ name: "injected" }] }) { id } }`,
      { id: ids.eB1 }, 'BAD_USER_INPUT', 'conflict');
    // Even an admin cannot move or overwrite B's row by creating it in A.
    await refusedNothingWritten('admin', `mutation($id: ID!, $p: ID!) { create_experiment(input: { id: $id, project_id: $p, name: "secret-b", kind: "k" }) { id } }`,
      { id: ids.eB2, p: pA }, 'BAD_USER_INPUT', 'conflict');
    // Editor of B, symmetrically, with A's id.
    await refusedNothingWritten('editorB', `mutation($id: ID!) { create_experiment(input: { id: $id, name: "only-a", kind: "k" }) { id } }`,
      { id: ids.eA2 }, 'BAD_USER_INPUT', 'conflict');
  });

  it('a create of an existing id of the own project is an idempotent retry (same values) or differs (other values)', async () => {
    const data = await ok('editorA', `mutation($id: ID!) { create_experiment(input: { id: $id, name: "only-a", kind: "k" }) { id name project_id } }`, { id: ids.eA2 });
    expect(data.create_experiment).toEqual({ id: ids.eA2, name: 'only-a', project_id: pA });
    await refusedNothingWritten('editorA', `mutation($id: ID!) { create_experiment(input: { id: $id, name: "renamed" }) { id } }`, { id: ids.eA2 }, 'BAD_USER_INPUT', 'differs');
  });

  it('writing into project B (project_id of B) is FORBIDDEN for an editor of A', async () => {
    await refusedNothingWritten('editorA', `mutation($p: ID!) { create_experiment(input: { project_id: $p, name: "into-b" }) { id } }`, { p: pB }, 'FORBIDDEN');
    await refusedNothingWritten('editorA', `mutation($p: ID!) { create_experiments(inputs: [{ name: "ok-a" }, { project_id: $p, name: "into-b" }]) { id } }`, { p: pB }, 'FORBIDDEN');
    await refusedNothingWritten('editorA', `mutation($id: ID!, $p: ID!) { upsert_experiments(inputs: [{ id: $id, project_id: $p, name: "into-b" }]) { id } }`,
      { id: randomUUID(), p: pB }, 'FORBIDDEN');
    await refusedNothingWritten('editorB', `mutation($p: ID!) { create_experiment(input: { project_id: $p, name: "into-a" }) { id } }`, { p: pA }, 'FORBIDDEN');
    expect(await idsOf('experiment', pA, 'ok-a')).toEqual([]);
  });

  it('nested children inherit the parent project and FK; setting another project or the FK itself is refused', async () => {
    const q = `mutation($p: ID, $in: [TrialCreateInput!]) { create_experiment(input: { project_id: $p, name: "nest-bad", trials: $in }) { id } }`;
    await refusedNothingWritten('admin', q, { p: pA, in: [{ project_id: pB, name: 't' }] }, 'BAD_USER_INPUT');
    await refusedNothingWritten('editorA', q, { in: [{ project_id: pB, name: 't' }] }, ['BAD_USER_INPUT', 'FORBIDDEN']);
    await refusedNothingWritten('editorA', q, { in: [{ experiment_id: ids.eB1, name: 't' }] }, 'BAD_USER_INPUT');
    await refusedNothingWritten('editorA', q, { in: [{ experiment_id: ids.eA1, name: 't' }] }, 'BAD_USER_INPUT');
    await refusedNothingWritten('editorA', q, { in: [{ name: 't', runs: [{ trial_id: ids.tB1 }] }] }, 'BAD_USER_INPUT');
    // Admin without a project: ambiguous target.
    await refusedNothingWritten('admin', q, { in: [{ name: 't' }] }, 'BAD_USER_INPUT');
    expect(await idsOf('experiment', pA, 'nest-bad')).toEqual([]);
    // The same project as the parent, stated explicitly, is fine; every row lands in A.
    const beforeB = await snapshot(pB);
    const statements = t.db.stats.statements;
    const data = await ok('editorA', `mutation($p: ID!) { create_experiment(input: { name: "nest-ok", trials: [{ name: "t", project_id: $p, runs: [{ status: running }] }] }) {
      id project_id trials { project_id experiment_id runs { project_id status } } } }`, { p: pA });
    expect(t.db.stats.statements - statements, 'one statement per written entity + one read').toBe(4);
    const exp = data.create_experiment;
    expect(exp.project_id).toBe(pA);
    expect(exp.trials).toEqual([{ project_id: pA, experiment_id: exp.id, runs: [{ project_id: pA, status: 'running' }] }]);
    expect(await snapshot(pB)).toEqual(beforeB);
  });

  it('upserting B\'s id is a conflict and leaves B\'s row unchanged', async () => {
    await refusedNothingWritten('editorA', `mutation($id: ID!) { upsert_experiments(inputs: [{ id: $id, name: "hijack" }]) { id name } }`,
      { id: ids.eB2 }, 'BAD_USER_INPUT', 'conflict');
    await refusedNothingWritten('editorA', `mutation($a: ID!, $b: ID!) { upsert_experiments(inputs: [{ id: $a, name: "u-new" }, { id: $b, name: "hijack" }]) { id } }`,
      { a: randomUUID(), b: ids.eB1 }, 'BAD_USER_INPUT', 'conflict');
    expect(await idsOf('experiment', pA, 'u-new')).toEqual([]);
    await refusedNothingWritten('editorA', `mutation($id: ID!, $e: ID!) { upsert_trials(inputs: [{ id: $id, name: "hijack", experiment_id: $e }]) { id } }`,
      { id: ids.tB1, e: ids.eA1 }, 'BAD_USER_INPUT', 'conflict');
    // An admin cannot move B's row into A by upserting it there.
    await refusedNothingWritten('admin', `mutation($id: ID!, $p: ID!) { upsert_experiments(inputs: [{ id: $id, project_id: $p, name: "moved" }]) { id } }`,
      { id: ids.eB2, p: pA }, 'BAD_USER_INPUT', 'conflict');
  });

  it('update_x and delete_x with B\'s id are NOT_FOUND and change nothing', async () => {
    await refusedNothingWritten('editorA', `mutation($id: ID!) { update_experiment(id: $id, patch: { name: "x" }) { id name } }`, { id: ids.eB2 }, 'NOT_FOUND');
    await refusedNothingWritten('editorA', `mutation($id: ID!) { update_trial(id: $id, patch: { status: cancelled }) { id } }`, { id: ids.tB1 }, 'NOT_FOUND');
    // An empty patch writes nothing but must not read B's row back either.
    await refusedNothingWritten('editorA', `mutation($id: ID!) { update_experiment(id: $id, patch: {}) { id name description } }`, { id: ids.eB2 }, 'NOT_FOUND');
    // Upper-case spelling of B's id changes nothing.
    await refusedNothingWritten('editorA', `mutation($id: ID!) { delete_experiment(id: $id) { id } }`, { id: ids.eB2.toUpperCase() }, 'NOT_FOUND');
    await refusedNothingWritten('editorA', `mutation($id: ID!) { delete_experiment(id: $id) { id name description trials { name } } }`, { id: ids.eB1 }, 'NOT_FOUND');
    await refusedNothingWritten('editorA', `mutation($id: ID!) { delete_run(id: $id) { id } }`, { id: ids.rB1 }, 'NOT_FOUND');
    await refusedNothingWritten('editorB', `mutation($id: ID!) { delete_experiment(id: $id) { id } }`, { id: ids.eA2 }, 'NOT_FOUND');
    await refusedNothingWritten('editorB', `mutation($id: ID!) { update_experiment(id: $id, patch: { kind: "x" }) { id } }`, { id: ids.eA2 }, 'NOT_FOUND');
    expect(await idsOf('experiment', pB)).toEqual([ids.eB1, ids.eB2].sort());
  });

  it('an error tells B\'s existing id from an unknown id in no way (same code and message)', async () => {
    const unknown = randomUUID();
    for (const q of [`mutation($id: ID!) { update_experiment(id: $id, patch: { kind: "x" }) { id } }`, `mutation($id: ID!) { delete_experiment(id: $id) { id } }`]) {
      const b = refused(await gql('editorA', q, { id: ids.eB2 }), 'NOT_FOUND');
      const u = refused(await gql('editorA', q, { id: unknown }), 'NOT_FOUND');
      expect(b.message.replace(ids.eB2, '<id>')).toBe(u.message.replace(unknown, '<id>'));
    }
    // A create with B's id answers the same whether the values match B's row or not.
    const q = `mutation($id: ID!, $n: String!) { create_experiment(input: { id: $id, name: $n, kind: "k" }) { id } }`;
    const same = refused(await gql('editorA', q, { id: ids.eB2, n: 'secret-b' }), 'BAD_USER_INPUT', 'conflict');
    const other = refused(await gql('editorA', q, { id: ids.eB2, n: 'zzz' }), 'BAD_USER_INPUT', 'conflict');
    expect(same.message).toBe(other.message);
  });

  it('no mutation moves a row between projects', async () => {
    // An admin upserting A's row with B's project, or B's row with A's: conflict.
    await refusedNothingWritten('admin', `mutation($id: ID!, $p: ID!) { upsert_experiments(inputs: [{ id: $id, project_id: $p, name: "only-a" }]) { id } }`,
      { id: ids.eA2, p: pB }, 'BAD_USER_INPUT', 'conflict');
    // A patch has no project_id.
    await refusedNothingWritten('editorA', `mutation($id: ID!, $p: ID!) { update_experiment(id: $id, patch: { project_id: $p }) { id } }`, { id: ids.eA2, p: pB }, 'BAD_USER_INPUT');
    await refusedNothingWritten('admin', `mutation($p: ID!) { update_experiments(filter: {}, patch: { project_id: $p }) { affected_count } }`, { p: pB }, 'BAD_USER_INPUT');
  });

  it('update_xs by a filter that would match B\'s rows updates and counts only A\'s', async () => {
    const a = (await insertRows<{ id: string }>(t.db, 'experiment', [1, 2].map(() => ({ project_id: pA, name: 'mass-u', kind: 'k' })))).map((r) => r.id).sort();
    const b = (await insertRows<{ id: string }>(t.db, 'experiment', [1, 2, 3].map(() => ({ project_id: pB, name: 'mass-u', kind: 'k' })))).map((r) => r.id).sort();
    const beforeB = await snapshot(pB);
    const q = `mutation($f: ExperimentFilter!, $n: Int) { update_experiments(filter: $f, patch: { kind: "touched" }, at_most: $n) {
      affected_count items { id project_id kind project { experiments_aggregate { count } } } } }`;
    // at_most 2: B's three rows do not count against it.
    const r = (await ok('editorA', q, { f: { name: { eq: 'mass-u' } }, n: 2 })).update_experiments;
    expect(r.affected_count).toBe(2);
    expect(r.items.map((x: any) => x.id)).toEqual(a);
    const countA = (await idsOf('experiment', pA)).length;
    for (const item of r.items) expect(item).toMatchObject({ project_id: pA, kind: 'touched', project: { experiments_aggregate: [{ count: countA }] } });
    expect(await snapshot(pB)).toEqual(beforeB);
    // at_most 1 with two of A's rows matching: refused, nothing changed.
    await refusedNothingWritten('editorA', q.replace('"touched"', '"again"'), { f: { name: { eq: 'mass-u' } }, n: 1 }, 'BAD_USER_INPUT');
    // Filters naming B's rows match nothing.
    for (const f of [{ project_id: { eq: pB } }, { id: { in: b } }, { trials: { some: { name: { eq: 'b-only-trial' } } } }, { description: { eq: 'b-private-2' } }]) {
      expect((await ok('editorA', q, { f, n: 1 })).update_experiments, JSON.stringify(f)).toEqual({ affected_count: 0, items: [] });
    }
    const mixed = (await ok('editorA', q, { f: { id: { in: [a[0], ...b] } }, n: 1 })).update_experiments;
    expect(mixed.items.map((x: any) => x.id)).toEqual([a[0]]);
    // The empty filter: every row of A, none of B (default at_most).
    const all = (await ok('editorA', `mutation { update_experiments(filter: {}, patch: { description: "all-a" }) { affected_count items { id } } }`)).update_experiments;
    const allA = await idsOf('experiment', pA);
    expect(all.affected_count).toBe(allA.length);
    expect(all.items.map((x: any) => x.id)).toEqual(allA);
    expect(await snapshot(pB)).toEqual(beforeB);
    // Editor of B: its three rows, not A's; at_most 2 fails for B's own three.
    const beforeA = await snapshot(pA);
    const rb = (await ok('editorB', q, { f: { name: { eq: 'mass-u' } }, n: 3 })).update_experiments;
    expect(rb.items.map((x: any) => x.id)).toEqual(b);
    expect(await snapshot(pA)).toEqual(beforeA);
    await refusedNothingWritten('editorB', q, { f: { name: { eq: 'mass-u' } }, n: 2 }, 'BAD_USER_INPUT');
  });

  it('delete_xs by a filter that would match B\'s rows deletes and counts only A\'s', async () => {
    const [eA] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: pA, name: 'mass-d-parent' }]);
    const [eB] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: pB, name: 'mass-d-parent' }]);
    const a = (await insertRows<{ id: string }>(t.db, 'trial', [1, 2].map(() => ({ project_id: pA, experiment_id: eA.id, name: 'mass-d' })))).map((r) => r.id).sort();
    const b = (await insertRows<{ id: string }>(t.db, 'trial', [1, 2, 3].map(() => ({ project_id: pB, experiment_id: eB.id, name: 'mass-d' })))).map((r) => r.id).sort();
    const beforeB = await snapshot(pB);
    const q = `mutation($f: TrialFilter!, $n: Int) { delete_trials(filter: $f, at_most: $n) { affected_count items { id name project_id } } }`;
    await refusedNothingWritten('editorA', q, { f: { name: { eq: 'mass-d' } }, n: 1 }, 'BAD_USER_INPUT');
    // Only B's rows match: nothing to delete, and B's three rows never trip at_most 1.
    expect((await ok('editorA', q, { f: { experiment_id: { eq: eB.id } }, n: 1 })).delete_trials).toEqual({ affected_count: 0, items: [] });
    expect((await ok('editorA', q, { f: { id: { in: b } }, n: 1 })).delete_trials).toEqual({ affected_count: 0, items: [] });
    expect((await ok('editorA', q, { f: { experiment: { description: { eq: 'b-private-1' } } }, n: 1 })).delete_trials).toEqual({ affected_count: 0, items: [] });
    // A relation filter matching parents in both projects: A's two trials (select ids, read, delete: 3 statements).
    const statements = t.db.stats.statements;
    const r0 = (await ok('editorA', q, { f: { experiment: { name: { eq: 'mass-d-parent' } }, name: { eq: 'mass-d' } }, n: 2 })).delete_trials;
    expect(t.db.stats.statements - statements).toBe(3);
    expect(r0.items.map((x: any) => x.id)).toEqual(a);
    await insertRows(t.db, 'trial', a.map((id) => ({ id, project_id: pA, experiment_id: eA.id, name: 'mass-d' })));
    const r = (await ok('editorA', q, { f: { name: { eq: 'mass-d' } }, n: 2 })).delete_trials;
    expect(r).toEqual({ affected_count: 2, items: a.map((id) => ({ id, name: 'mass-d', project_id: pA })) });
    expect(await idsOf('trial', pA, 'mass-d')).toEqual([]);
    expect(await snapshot(pB)).toEqual(beforeB);
    // The empty filter on metrics: all of A's, none of B's.
    const metricsA = await idsOf('metric', pA);
    expect(metricsA.length).toBeGreaterThan(0);
    const dm = (await ok('editorA', `mutation { delete_metrics(filter: {}) { affected_count items { id } } }`)).delete_metrics;
    expect(dm.affected_count).toBe(metricsA.length);
    expect(dm.items.map((x: any) => x.id)).toEqual(metricsA);
    expect(await idsOf('metric', pA)).toEqual([]);
    expect(await snapshot(pB)).toEqual(beforeB);
    // Mixed ids: only A's row goes.
    const d = (await ok('editorA', `mutation($ids: [ID!]) { delete_experiments(filter: { id: { in: $ids } }) { affected_count items { id } } }`, { ids: [eA.id, eB.id] })).delete_experiments;
    expect(d).toEqual({ affected_count: 1, items: [{ id: eA.id }] });
    expect(await snapshot(pB)).toEqual(beforeB);
  });

  it('a reference to a row of B in the input is bad_ref and writes nothing', async () => {
    await refusedNothingWritten('editorA', `mutation($e: ID!) { create_trial(input: { name: "ref-x", experiment_id: $e }) { id } }`, { e: ids.eB1 }, 'BAD_USER_INPUT', 'bad_ref');
    await refusedNothingWritten('editorA', `mutation($a: ID!, $b: ID!) { create_trials(inputs: [{ name: "ref-ok", experiment_id: $a }, { name: "ref-x", experiment_id: $b }]) { id } }`,
      { a: ids.eA1, b: ids.eB1 }, 'BAD_USER_INPUT', 'bad_ref');
    await refusedNothingWritten('editorA', `mutation($t: ID!, $r: ID!) { create_metric(input: { trial_id: $t, run_id: $r, key: "loss", value: 1 }) { id } }`,
      { t: ids.tA1, r: ids.rB1 }, 'BAD_USER_INPUT', 'bad_ref');
    await refusedNothingWritten('editorA', `mutation($id: ID!, $e: ID!) { upsert_trials(inputs: [{ id: $id, name: "solo", experiment_id: $e }]) { id } }`,
      { id: ids.tA2, e: ids.eB1 }, 'BAD_USER_INPUT', 'bad_ref');
    await refusedNothingWritten('editorA', `mutation($id: ID!, $e: ID!) { upsert_trials(inputs: [{ id: $id, name: "new", experiment_id: $e }]) { id } }`,
      { id: randomUUID(), e: ids.eB1 }, 'BAD_USER_INPUT', 'bad_ref');
    await refusedNothingWritten('editorA', `mutation($id: ID!, $e: ID!) { update_trial(id: $id, patch: { experiment_id: $e }) { id } }`, { id: ids.tA2, e: ids.eB1 }, 'BAD_USER_INPUT', 'bad_ref');
    await refusedNothingWritten('editorA', `mutation($id: ID!, $e: ID!) { update_trials(filter: { id: { eq: $id } }, patch: { experiment_id: $e }) { affected_count } }`,
      { id: ids.tA2, e: ids.eB1 }, 'BAD_USER_INPUT', 'bad_ref');
    await refusedNothingWritten('admin', `mutation($p: ID!, $e: ID!) { create_trial(input: { project_id: $p, name: "ref-x", experiment_id: $e }) { id } }`,
      { p: pA, e: ids.eB1 }, 'BAD_USER_INPUT', 'bad_ref');
    // Deep inside a nested create (a metric's run, which is not the FK it is nested under).
    await refusedNothingWritten('editorA', `mutation($r: ID!) { create_experiment(input: { name: "ref-nest", trials: [{ name: "t", metrics: [{ key: "k", value: 1, run_id: $r }] }] }) { id } }`,
      { r: ids.rB1 }, 'BAD_USER_INPUT', 'bad_ref');
  });

  it('a viewer of A gets FORBIDDEN for every mutation, before any statement', async () => {
    const mutations: [string, Record<string, unknown>][] = [
      [`mutation { create_experiment(input: { name: "v" }) { id } }`, {}],
      [`mutation { create_experiments(inputs: [{ name: "v" }]) { id } }`, {}],
      [`mutation($id: ID!) { upsert_experiments(inputs: [{ id: $id, name: "v" }]) { id } }`, { id: ids.eA2 }],
      [`mutation($id: ID!) { update_experiment(id: $id, patch: { name: "v" }) { id } }`, { id: ids.eA2 }],
      [`mutation { update_experiments(filter: {}, patch: { name: "v" }) { affected_count } }`, {}],
      [`mutation($id: ID!) { delete_experiment(id: $id) { id } }`, { id: ids.eA2 }],
      [`mutation { delete_trials(filter: {}) { affected_count } }`, {}],
      [`mutation($id: ID!) { update_trial(id: $id, patch: { status: failed }) { id } }`, { id: ids.tB1 }],
      [`mutation { create_experiment(input: { name: "v", trials: [{ name: "t" }] }) { id } }`, {}],
    ];
    for (const [q, v] of mutations) {
      const before = await snapshot();
      const statements = t.db.stats.statements;
      refused(await gql('viewerA', q, v), 'FORBIDDEN');
      expect(t.db.stats.statements - statements, q).toBe(0);
      expect(await snapshot(), q).toEqual(before);
    }
  });

  it('one operation is all or nothing: a later failing root field rolls back the earlier ones', async () => {
    const [eX] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: pA, name: 'aon-victim' }]);
    const cases: [string, Record<string, unknown>, string, string][] = [
      [`mutation($b: ID!) { a: create_experiment(input: { name: "aon-1" }) { id } b: update_experiment(id: $b, patch: { name: "x" }) { id } }`, { b: ids.eB2 }, 'NOT_FOUND', 'b'],
      [`mutation($a: ID!, $b: ID!) { a: update_experiment(id: $a, patch: { name: "aon-renamed" }) { id } b: create_experiment(input: { id: $b, name: "x" }) { id } }`,
        { a: eX.id, b: ids.eB2 }, 'BAD_USER_INPUT', 'b'],
      [`mutation($a: ID!) { a: delete_experiment(id: $a) { id } b: delete_trials(filter: {}, at_most: 1) { affected_count } }`, { a: eX.id }, 'BAD_USER_INPUT', 'b'],
      [`mutation($bad: ID!) { a: create_experiments(inputs: [{ name: "aon-2" }]) { id } b: update_experiments(filter: { name: { eq: "aon-victim" } }, patch: { kind: "z" }) { affected_count }
         c: create_trial(input: { name: "t", experiment_id: $bad }) { id } d: create_experiment(input: { name: "aon-3" }) { id } }`, { bad: ids.eB1 }, 'BAD_USER_INPUT', 'c'],
    ];
    for (const [q, v, code, path] of cases) {
      const e = await refusedNothingWritten('editorA', q, v, code);
      expect(e.path?.[0], q).toBe(path);
    }
    for (const name of ['aon-1', 'aon-2', 'aon-3', 'aon-renamed']) expect(await idsOf('experiment', pA, name), name).toEqual([]);
    expect(await idsOf('experiment', pA, 'aon-victim')).toEqual([eX.id]);
    // Control: when every field succeeds, all are committed, in document order.
    const data = await ok('editorA', `mutation($a: ID!) { a: create_experiment(input: { name: "aon-ok" }) { name } b: update_experiment(id: $a, patch: { kind: "ok" }) { kind } __typename }`, { a: eX.id });
    expect(data).toEqual({ a: { name: 'aon-ok' }, b: { kind: 'ok' }, __typename: 'Mutation' });
    expect(await idsOf('experiment', pA, 'aon-ok')).toHaveLength(1);
  });

  it('returned selections never show B\'s rows, ids or counts', async () => {
    const sel = `id project_id project { id experiments { id } experiments_aggregate { count } trials_aggregate { count } }`;
    const check = async (item: any) => {
      const expA = await idsOf('experiment', pA);
      const trialsA = (await idsOf('trial', pA)).length;
      expect(item.project.id).toBe(pA);
      expect(item.project.experiments.map((x: any) => x.id).sort()).toEqual(expA);
      expect(item.project.experiments_aggregate).toEqual([{ count: expA.length }]);
      expect(item.project.trials_aggregate).toEqual([{ count: trialsA }]);
    };
    const beforeB = await snapshot(pB);
    await check((await ok('editorA', `mutation { create_experiment(input: { name: "sel-1" }) { ${sel} } }`)).create_experiment);
    await check((await ok('admin', `mutation($p: ID!) { create_experiment(input: { project_id: $p, name: "sel-2" }) { ${sel} } }`, { p: pA })).create_experiment);
    const [eSel] = await idsOf('experiment', pA, 'sel-1');
    await check((await ok('editorA', `mutation($id: ID!) { update_experiment(id: $id, patch: { kind: "sel" }) { ${sel} } }`, { id: eSel })).update_experiment);
    // A trial of A under "shared": its experiment's trials and counts are A's alone (B has a "shared" experiment with trials too).
    const tr = (await ok('editorA', `mutation($e: ID!) { create_trial(input: { name: "dup", experiment_id: $e }) {
      experiment { name trials { id } trials_aggregate { count } } } }`, { e: ids.eA1 })).create_trial;
    const trialsOfA1 = (await t.db.query<{ id: string }>(`SELECT id FROM app.trial WHERE experiment_id = $1 ORDER BY id`, [ids.eA1])).rows.map((r) => r.id);
    expect(tr.experiment.name).toBe('shared');
    expect(tr.experiment.trials.map((x: any) => x.id).sort()).toEqual(trialsOfA1);
    expect(tr.experiment.trials_aggregate).toEqual([{ count: trialsOfA1.length }]);
    // delete_x returns the row as it was (read before the delete), with A's context only.
    const expBefore = await idsOf('experiment', pA);
    const del = (await ok('editorA', `mutation($id: ID!) { delete_experiment(id: $id) { name ${sel} } }`, { id: eSel })).delete_experiment;
    expect(del.name).toBe('sel-1');
    expect(del.project.experiments.map((x: any) => x.id).sort()).toEqual(expBefore);
    expect(await idsOf('experiment', pA, 'sel-1')).toEqual([]);
    expect(await snapshot(pB)).toEqual(beforeB);
  });

  it('refuses a mutation over GET with 405 (Allow: POST) and writes nothing', async () => {
    for (const who of ['editorA', 'viewerA'] as const) {
      const before = await snapshot();
      const query = `mutation { create_experiment(input: { name: "via-get" }) { id } }`;
      const res = await app.inject({ method: 'GET', url: `/graphql?query=${encodeURIComponent(query)}`, headers: headers[who] });
      expect(res.statusCode, res.body).toBe(405);
      expect(res.headers.allow).toBe('POST');
      expect(res.json().errors?.length).toBeGreaterThan(0);
      expect(await snapshot()).toEqual(before);
    }
    // A document with a query and a mutation: GET may run the query, never the mutation.
    const doc = encodeURIComponent(`query Q { __typename } mutation M { create_experiment(input: { name: "via-get" }) { id } }`);
    const q = await app.inject({ method: 'GET', url: `/graphql?query=${doc}&operationName=Q`, headers: headers.editorA });
    expect(q.json()).toEqual({ data: { __typename: 'Query' } });
    const m = await app.inject({ method: 'GET', url: `/graphql?query=${doc}&operationName=M`, headers: headers.editorA });
    expect(m.statusCode).toBe(405);
    expect(m.headers.allow).toBe('POST');
    expect(await idsOf('experiment', pA, 'via-get')).toEqual([]);
  });

  it('refuses at_most outside 1..maxLimit and batches beyond 1000 rows (after nesting), writing nothing', async () => {
    const q = `mutation($n: Int) { update_experiments(filter: { name: { eq: "only-a" } }, patch: { kind: "b" }, at_most: $n) { affected_count } }`;
    for (const n of [0, -1, 1001]) await refusedNothingWritten('editorA', q, { n }, 'BAD_USER_INPUT');
    const trials = Array.from({ length: 1000 }, (_, i) => ({ name: `t${i}` }));
    await refusedNothingWritten('editorA', `mutation($t: [TrialCreateInput!]) { create_experiment(input: { name: "too-big", trials: $t }) { id } }`, { t: trials }, 'BAD_USER_INPUT');
    await refusedNothingWritten('editorA', `mutation($i: [ExperimentCreateInput!]!) { create_experiments(inputs: $i) { id } }`,
      { i: Array.from({ length: 1001 }, (_, i) => ({ name: `e${i}` })) }, 'BAD_USER_INPUT');
  });
});

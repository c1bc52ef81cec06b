/**
 * `GET /api/v1/<plural>?order_by=…` through to-one relations (SPEC R-1, G-5) on every test database:
 * `-trial.experiment.name,created_at` on metrics orders by the trial's experiment's name, two hops away, in one
 * statement and in the same order as GraphQL's nested `order_by`; absent related rows (a metric without a run)
 * and null values order as nulls (last ascending, first descending); paths combine with paging and filters;
 * another project's rows never appear; and unknown relations, to-many relations, unknown or unorderable
 * columns and over-long paths are a 400 naming `order_by`, the key, and what is allowed.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import { executeGraphQL } from '../../src/graphql/execute.js';
import { schemaFor } from '../../src/graphql/schema/build.js';
import { parseOrderBy } from '../../src/rest/list-args.js';
import { loadPreset } from '../../src/model/load.js';
import { DEFAULT_LIMITS } from '../../src/server/context.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';
import { compileOptionsOf, uid } from '../query/support.js';
import { buildRestApp, call } from './app.js';

const E = { beta: uid(1), alpha: uid(2), secret: uid(9) };
const T = { x: uid(11), y: uid(12), z: uid(13), secret: uid(19) };
const R = { r1: uid(21), r2: uid(22), secret: uid(29) };
// m1: trial x (beta), no run; m2: trial y (alpha), run r1 (trial y); m3: trial z (beta), run r2 (trial z);
// m4: trial x (beta), run r1. Created in the order m4, m1, m3, m2.
const M = { m1: uid(31), m2: uid(32), m3: uid(33), m4: uid(34), secret: uid(39) };

describe('parseOrderBy', async () => {
  const model = await loadPreset('experiments');
  const metric = model.entities.get('metric')!;

  it('turns dotted keys into OrderItems with a path, and keeps plain keys unchanged', () => {
    expect(parseOrderBy(model, metric, '-trial.experiment.name,created_at')).toEqual([
      { path: ['trial', 'experiment'], column: 'name', direction: 'DESC', nulls: 'FIRST' },
      { column: 'created_at', direction: 'ASC', nulls: 'LAST' },
    ]);
    expect(parseOrderBy(model, metric, 'run.trial.status')).toEqual([{ path: ['run', 'trial'], column: 'status', direction: 'ASC', nulls: 'LAST' }]);
    expect(parseOrderBy(model, metric, undefined)).toEqual([]);
  });
});

describe.each(TEST_KINDS)('REST order_by through to-one relations on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let viewerA: Principal;
  let admin: Principal;

  beforeAll(async () => {
    t = await createTestDb(kind);
    const A = await createProject(t.db, 'A');
    const B = await createProject(t.db, 'B');
    viewerA = testPrincipal('viewer', [A]);
    admin = testPrincipal('admin');
    await insertRows(t.db, 'experiment', [
      { id: E.beta, project_id: A, name: 'beta', kind: 'mlp' },
      { id: E.alpha, project_id: A, name: 'alpha', kind: null },
      // Sorts before both of A's names either way; must never show up for A.
      { id: E.secret, project_id: B, name: 'aaa', kind: 'zzz' },
    ]);
    await insertRows(t.db, 'trial', [
      { id: T.x, project_id: A, experiment_id: E.beta, name: 'x' },
      { id: T.y, project_id: A, experiment_id: E.alpha, name: 'y' },
      { id: T.z, project_id: A, experiment_id: E.beta, name: 'z' },
      { id: T.secret, project_id: B, experiment_id: E.secret, name: 'a' },
    ]);
    await insertRows(t.db, 'run', [
      { id: R.r1, project_id: A, trial_id: T.y },
      { id: R.r2, project_id: A, trial_id: T.z },
      { id: R.secret, project_id: B, trial_id: T.secret },
    ]);
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    await insertRows(t.db, 'metric', [
      { id: M.m4, project_id: A, trial_id: T.x, run_id: R.r1, key: 'loss', value: 4, created_at: at(1) },
      { id: M.m1, project_id: A, trial_id: T.x, run_id: null, key: 'loss', value: 1, created_at: at(2) },
      { id: M.m3, project_id: A, trial_id: T.z, run_id: R.r2, key: 'acc', value: 3, created_at: at(3) },
      { id: M.m2, project_id: A, trial_id: T.y, run_id: R.r1, key: 'acc', value: 2, created_at: at(4) },
      { id: M.secret, project_id: B, trial_id: T.secret, run_id: R.secret, key: 'loss', value: 9, created_at: at(0) },
    ]);
    app = await buildRestApp(t, 500);
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  /** GET metrics with `query` as `principal`; asserts 200 and one statement; returns the ids in order. */
  async function order(query: string, principal = viewerA): Promise<string[]> {
    const before = t.db.stats.statements;
    const res = await call(app, principal, 'GET', `/api/v1/metrics?${query}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(t.db.stats.statements - before).toBe(1);
    return (res.data as { items: Array<{ id: string }> }).items.map((r) => r.id);
  }

  it('orders by a column two to-one hops away, then by a column of its own', async () => {
    // beta: m4, m1 (trial x), m3 (trial z) by created_at; then alpha: m2.
    expect(await order('order_by=-trial.experiment.name,created_at')).toEqual([M.m4, M.m1, M.m3, M.m2]);
    expect(await order('order_by=trial.experiment.name,-created_at')).toEqual([M.m2, M.m3, M.m1, M.m4]);
    expect(await order('order_by=-trial.name,value')).toEqual([M.m3, M.m2, M.m1, M.m4]);
  });

  it('gives the same order as GraphQL\'s nested order_by', async () => {
    const res = await executeGraphQL(
      { model: t.model, schema: schemaFor(t.model), db: t.db, principal: viewerA, config: { mode: 'production', limits: DEFAULT_LIMITS }, compile: await compileOptionsOf(t.db) },
      { query: '{ metrics(order_by: [{ trial: { experiment: { name: DESC } } }, { created_at: ASC }]) { id } }' },
    );
    const body = JSON.parse(res.body) as { data: { metrics: Array<{ id: string }> } };
    expect(body.data.metrics.map((m) => m.id)).toEqual(await order('order_by=-trial.experiment.name,created_at'));
  });

  it('orders absent related rows and null values as nulls: last ascending, first descending', async () => {
    // m1 has no run, so run.trial.name is null for it (the first hop is absent).
    expect(await order('order_by=run.trial.name,created_at')).toEqual([M.m4, M.m2, M.m3, M.m1]); // y, y, z, null
    expect(await order('order_by=-run.trial.name,created_at')).toEqual([M.m1, M.m3, M.m4, M.m2]);
    // alpha's kind is null (the last hop's value), reached through run → trial → experiment for m2 and m4.
    expect(await order('order_by=run.trial.experiment.kind,created_at')).toEqual([M.m3, M.m4, M.m1, M.m2]); // mlp, null, null, null
    expect(await order('order_by=-run.trial.experiment.kind,created_at')).toEqual([M.m4, M.m1, M.m2, M.m3]);
  });

  it('combines path keys with filters, equality parameters and paging', async () => {
    expect(await order('order_by=-trial.experiment.name,created_at&limit=2&offset=1')).toEqual([M.m1, M.m3]);
    expect(await order('order_by=-trial.experiment.name,created_at&key=loss')).toEqual([M.m4, M.m1]);
    const f = encodeURIComponent(JSON.stringify({ run: { trial: { name: { eq: 'y' } } } }));
    expect(await order(`order_by=trial.name,created_at&filter=${f}`)).toEqual([M.m4, M.m2]);
  });

  it('follows the relation to the built-in project, and never shows another project\'s rows', async () => {
    // Admins see both projects: B's metric sorts first by project name descending.
    const all = await order('order_by=-project.name,trial.experiment.name,created_at', admin);
    expect(all).toEqual([M.secret, M.m2, M.m4, M.m1, M.m3]);
    // B's experiment "aaa" would sort first; a viewer of A never sees it.
    expect(await order('order_by=trial.experiment.name,created_at')).toEqual([M.m2, M.m4, M.m1, M.m3]);
  });

  it.each([
    ['an unknown relation', 'bogus.name', '"bogus.name": metric has no relation "bogus"', 'use one of its to-one relations: project, trial, run'],
    ['an unknown relation on the second hop', 'trial.bogus.name', '"trial.bogus.name": trial has no relation "bogus"', 'use one of its to-one relations: project, experiment.'],
    ['a column used as a relation', 'trial.name.x', 'trial has no relation "name"', 'use one of its to-one relations: project, experiment.'],
    ['a to-many relation', 'trial.runs.status', '"runs" is a to-many relation of trial', 'use one of its to-one relations: project, experiment.'],
    ['an unknown column through a path', '-trial.experiment.colour', '"trial.experiment.colour": experiment has no field "colour"', 'a field of experiment: id,'],
    ['an unorderable column through a path', 'trial.params', 'json field "params" of trial cannot be ordered', 'a field of trial: id,'],
    ['a relation without a field', 'trial.experiment', '"experiment" is a relation of trial; name one of its fields', 'e.g. "trial.experiment.id"'],
    ['an unknown own column', 'colour', 'metric has no field "colour"', 'or a to-one relation and one of its fields (project.…, trial.…, run.…)'],
    ['too many hops', 'run.trial.experiment.project.trials.name', 'follows 5 relations', 'at most 4'],
  ])('400 for %s', async (_name, orderBy, problem, allowed) => {
    const res = await call(app, viewerA, 'GET', `/api/v1/metrics?order_by=${encodeURIComponent(orderBy)}`);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.data.error.code).toBe('BAD_USER_INPUT');
    expect(res.data.error.message).toContain('order_by: cannot order metrics by');
    expect(res.data.error.message).toContain(problem);
    expect(res.data.error.message).toContain(allowed);
    expect(res.data.error.details).toEqual([{ path: 'querystring.order_by', message: expect.stringContaining(problem.replace(/^"[^"]*": /, '')) }]);
  });

  it('400 for a to-many relation at the first hop and for malformed keys', async () => {
    const res = await call(app, viewerA, 'GET', '/api/v1/experiments?order_by=trials.name');
    expect(res.statusCode, res.body).toBe(400);
    expect(res.data.error.message).toContain('"trials" is a to-many relation of experiment');
    expect(res.data.error.message).toContain('use one of its to-one relations: project');
    for (const bad of ['trial..name', 'trial.', '.name', 'trial.experiment.name;drop']) {
      const r = await call(app, viewerA, 'GET', `/api/v1/metrics?order_by=${encodeURIComponent(bad)}`);
      expect(r.statusCode, `${bad}: ${r.body}`).toBe(400);
      expect(r.data.error.details[0].path).toBe('querystring.order_by');
    }
  });
});

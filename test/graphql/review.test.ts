/**
 * Review findings over HTTP (Fastify inject) on every test database:
 * - enum filters offer the ordered operators of SPEC G-4 (`lt`, `lte`, `gt`, `gte`), comparing in declared order,
 *   literally and through variables;
 * - a POST with `operationName: ""` runs the document's single anonymous operation, as GET already did.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject, createTestDb, insertRows, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';
import { graphqlTestApp } from '../support/graphql-app.js';

describe.each(TEST_KINDS)('GraphQL review findings on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;

  beforeAll(async () => {
    t = await createTestDb(kind);
    const p = await createProject(t.db, 'alpha');
    const [e] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: p, name: 'sweep', kind: 'mlp', meta: null }]);
    // Declared order: pending, running, completed, cancelled, failed.
    await insertRows(t.db, 'trial', [
      { project_id: p, experiment_id: e.id, name: 't-pending', params: null, duration: null, status: 'pending' },
      { project_id: p, experiment_id: e.id, name: 't-running', params: null, duration: null, status: 'running' },
      { project_id: p, experiment_id: e.id, name: 't-completed', params: null, duration: null, status: 'completed' },
      { project_id: p, experiment_id: e.id, name: 't-failed', params: null, duration: null, status: 'failed' },
    ]);
    app = await graphqlTestApp(t.db, t.model, { principal: testPrincipal('viewer', [p]) });
  });

  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  async function post(payload: Record<string, unknown>) {
    const res = await app.inject({ method: 'POST', url: '/graphql', payload });
    return { status: res.statusCode, body: res.json() as { data?: Record<string, any>; errors?: unknown[] } };
  }

  const names = (rows: { name: string }[]) => rows.map((r) => r.name);

  it('filters enums by range in declared order (literals and variables)', async () => {
    const lit = await post({ query: '{ trials(filter: { status: { gt: running } }, order_by: [{ status: ASC }]) { name } }' });
    expect(lit.body.errors).toBeUndefined();
    expect(names(lit.body.data!.trials)).toEqual(['t-completed', 't-failed']);

    const query = 'query ($lo: TrialStatus!, $hi: TrialStatus = completed) { trials(filter: { status: { gte: $lo, lte: $hi } }, order_by: [{ status: ASC }]) { name } }';
    const vars = await post({ query, variables: { lo: 'running' } });
    expect(vars.body.errors).toBeUndefined();
    expect(names(vars.body.data!.trials)).toEqual(['t-running', 't-completed']);

    const lt = await post({ query: 'query ($s: TrialStatus!) { trials(filter: { status: { lt: $s } }) { name } }', variables: { s: 'completed' } });
    expect(names(lt.body.data!.trials).sort()).toEqual(['t-pending', 't-running']);
  });

  it('treats operationName "" as absent on POST, like GET', async () => {
    const res = await post({ query: '{ experiments { name } }', operationName: '' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { experiments: [{ name: 'sweep' }] } });
  });
});

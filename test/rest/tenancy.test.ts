/**
 * SPEC A-4 for the REST paths on every test database: a key of project B never reads, lists, counts,
 * references, overwrites or deletes a row of project A — through create, get, list, equality parameters or
 * ingestion (create, upsert, update, delete) — and viewers never write.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import { createProject, createTestDb, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';
import { buildRestApp, call } from './app.js';

const EXP_A = '0190a0a0-0000-7000-8000-0000000a0001';
const TRIAL_A = '0190a0a0-0000-7000-8000-0000000a0011';

describe.each(TEST_KINDS)('A-4 over REST on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let A: string;
  let B: string;
  let editorA: Principal;
  let editorB: Principal;

  /** A's experiment as A sees it. */
  const expA = async () => (await call(app, editorA, 'GET', `/api/v1/experiments/${EXP_A}`)).data;

  beforeAll(async () => {
    t = await createTestDb(kind);
    A = await createProject(t.db, 'A');
    B = await createProject(t.db, 'B');
    editorA = testPrincipal('editor', [A]);
    editorB = testPrincipal('editor', [B]);
    app = await buildRestApp(t);
    const res = await call(app, editorA, 'POST', '/api/v1/ingest', {
      batch: [
        { id: 'e', type: 'experiment.create', body: { id: EXP_A, name: 'secret' } },
        { id: 't', type: 'trial.create', body: { id: TRIAL_A, experiment_id: EXP_A, name: 'secret trial' } },
      ],
    });
    expect(res.data.successes).toHaveLength(2);
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it("B cannot get, list or count A's rows, even naming their ids or A's project", async () => {
    expect((await call(app, editorB, 'GET', `/api/v1/experiments/${EXP_A}`)).statusCode).toBe(404);
    expect((await call(app, editorB, 'GET', `/api/v1/trials/${TRIAL_A}`)).statusCode).toBe(404);
    for (const url of ['/api/v1/experiments', `/api/v1/experiments?id=${EXP_A}`, `/api/v1/experiments?project_id=${A}`, `/api/v1/trials?experiment_id=${EXP_A}`]) {
      const res = await call(app, editorB, 'GET', url);
      expect(res.statusCode).toBe(200);
      expect(res.data).toMatchObject({ total_count: 0, items: [] });
    }
    expect((await call(app, editorA, 'GET', '/api/v1/trials')).data.total_count).toBe(1);
  });

  it("B cannot create a child referencing A's parent (REST 400, ingestion 422)", async () => {
    const rest = await call(app, editorB, 'POST', '/api/v1/trials', { name: 'x', experiment_id: EXP_A });
    expect(rest.statusCode).toBe(400);
    expect(rest.data.error.details[0].path).toBe('body.experiment_id');
    const ingest = await call(app, editorB, 'POST', '/api/v1/ingest', {
      batch: [
        { id: 'c', type: 'trial.create', body: { name: 'x', experiment_id: EXP_A } },
        { id: 'u', type: 'run.upsert', body: { id: '0190a0a0-0000-7000-8000-0000000b0021', trial_id: TRIAL_A } },
      ],
    });
    expect(ingest.data.errors.map((e: { id: string; status: number }) => [e.id, e.status])).toEqual([
      ['c', 422],
      ['u', 422],
    ]);
    expect((await call(app, editorA, 'GET', '/api/v1/trials')).data.total_count).toBe(1);
  });

  it("B cannot take or overwrite A's row with A's known id (create, upsert, update, delete)", async () => {
    const rest = await call(app, editorB, 'POST', '/api/v1/experiments', { id: EXP_A, name: 'pwned' });
    expect(rest.statusCode).toBe(409);
    expect(rest.data.error.code).toBe('CONFLICT');
    expect(rest.data.error.message).not.toContain('secret');
    const ingest = await call(app, editorB, 'POST', '/api/v1/ingest', {
      batch: [
        { id: 'c', type: 'experiment.create', body: { id: EXP_A, name: 'pwned' } },
        { id: 'u', type: 'experiment.upsert', body: { id: EXP_A, name: 'pwned' } },
        { id: 'p', type: 'experiment.update', body: { id: EXP_A, name: 'pwned' } },
        { id: 'd', type: 'trial.delete', body: { id: TRIAL_A } },
      ],
    });
    expect(ingest.statusCode).toBe(207);
    expect(ingest.data.successes).toEqual([]);
    expect(ingest.data.errors.map((e: { id: string; status: number }) => [e.id, e.status])).toEqual([
      ['c', 409],
      ['u', 409],
      ['p', 404],
      ['d', 404],
    ]);
    expect(await expA()).toMatchObject({ name: 'secret', project_id: A });
    expect((await call(app, editorA, 'GET', `/api/v1/trials/${TRIAL_A}`)).statusCode).toBe(200);
  });

  it("B cannot write into A's project by naming it", async () => {
    const rest = await call(app, editorB, 'POST', '/api/v1/experiments', { name: 'x', project_id: A });
    expect(rest.statusCode).toBe(403);
    const ingest = await call(app, editorB, 'POST', '/api/v1/ingest', {
      batch: [
        { id: 'c', type: 'experiment.create', body: { name: 'x', project_id: A } },
        { id: 'p', type: 'experiment.update', body: { id: EXP_A, name: 'pwned', project_id: A } },
      ],
    });
    expect(ingest.data.errors.map((e: { id: string; status: number }) => [e.id, e.status])).toEqual([
      ['c', 403],
      ['p', 403],
    ]);
    expect((await call(app, editorA, 'GET', '/api/v1/experiments')).data.total_count).toBe(1);
  });

  it('a key of both projects must name the project, and cannot link rows across its own projects', async () => {
    const both = testPrincipal('editor', [A, B]);
    expect((await call(app, both, 'POST', '/api/v1/experiments', { name: 'x' })).statusCode).toBe(400);
    const cross = await call(app, both, 'POST', '/api/v1/trials', { name: 'x', experiment_id: EXP_A, project_id: B });
    expect(cross.statusCode).toBe(400);
    const inA = await call(app, both, 'POST', '/api/v1/trials', { name: 'ok', experiment_id: EXP_A, project_id: A });
    expect(inA.statusCode).toBe(201);
    // Its own row in A, re-sent as a create into B, is a conflict, not a second row.
    const again = await call(app, both, 'POST', '/api/v1/trials', { id: inA.data.id, name: 'ok', experiment_id: EXP_A, project_id: B });
    expect(again.statusCode).toBe(409);
    const moved = await call(app, both, 'POST', '/api/v1/ingest', {
      batch: [{ id: 'u', type: 'trial.upsert', body: { id: inA.data.id, name: 'moved', project_id: B } }],
    });
    expect(moved.data.errors[0].status).toBe(409);
    expect((await call(app, editorA, 'GET', `/api/v1/trials/${inA.data.id}`)).data).toMatchObject({ name: 'ok', project_id: A });
  });

  it('viewers cannot write through any path', async () => {
    const viewer = testPrincipal('viewer', [A]);
    expect((await call(app, viewer, 'POST', '/api/v1/experiments', { name: 'x' })).statusCode).toBe(403);
    const ingest = await call(app, viewer, 'POST', '/api/v1/ingest', {
      batch: [{ id: 'p', type: 'experiment.update', body: { id: EXP_A, name: 'pwned' } }],
    });
    expect(ingest.statusCode).toBe(403);
    expect(ingest.data.error.code).toBe('FORBIDDEN');
    expect(await expA()).toMatchObject({ name: 'secret' });
    expect((await call(app, viewer, 'GET', `/api/v1/experiments/${EXP_A}`)).data.name).toBe('secret');
  });
});

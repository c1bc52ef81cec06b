/**
 * REST resources (SPEC R-1: create/get/list) on every test database: create one and many, get by id, lists
 * with limit/offset/order_by/equality parameters, and the 4xx answers (unknown fields and parameters, bad
 * UUIDs, wrong types, limits out of range, 401, 403, 404).
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import type { Principal } from '../../src/auth/principal.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, testPrincipal, type TestDb } from '../support/db.js';
import { buildRestApp, call } from './app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe.each(TEST_KINDS)('REST resources on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let A: string;
  let editor: Principal;
  let experimentId: string;

  beforeAll(async () => {
    t = await createTestDb(kind);
    A = await createProject(t.db, 'A');
    editor = testPrincipal('editor', [A]);
    app = await buildRestApp(t, 500);
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('creates one object: 201 with every column, snake_case, generated UUID v7 id', async () => {
    const res = await call(app, editor, 'POST', '/api/v1/experiments', { name: 'sweep', meta: { lr: [0.1, 0.01] }, kind: 'softmax' });
    expect(res.statusCode).toBe(201);
    expect(Object.keys(res.data)).toEqual(['id', 'project_id', 'name', 'description', 'meta', 'kind', 'created_at', 'updated_at']);
    expect(res.data).toMatchObject({ project_id: A, name: 'sweep', description: null, meta: { lr: [0.1, 0.01] }, kind: 'softmax' });
    expect(res.data.id).toMatch(UUID);
    expect(Date.parse(res.data.created_at)).not.toBeNaN();
    experimentId = res.data.id;
  });

  it('creates an array with client ids and applies model defaults; a retry answers 200 with the same rows', async () => {
    const ids = ['0190a0a0-0000-7000-8000-00000000a001', '0190a0a0-0000-7000-8000-00000000a002'];
    const body = [
      { id: ids[0], experiment_id: experimentId, name: 't1', status: 'running', duration: 1.5, params: { lr: 0.1 } },
      { id: ids[1], experiment_id: experimentId, name: 't2' },
    ];
    const res = await call(app, editor, 'POST', '/api/v1/trials', body);
    expect(res.statusCode).toBe(201);
    expect(res.data.map((r: { id: string }) => r.id)).toEqual(ids);
    expect(res.data[0]).toMatchObject({ status: 'running', duration: 1.5, params: { lr: 0.1 }, experiment_id: experimentId });
    expect(res.data[1].status).toBe('pending');
    const again = await call(app, editor, 'POST', '/api/v1/trials', body);
    expect(again.statusCode).toBe(200);
    expect(again.data).toEqual(res.data);
  });

  it('gets one object by id (same shape as create) and 404s an unknown id', async () => {
    const res = await call(app, editor, 'GET', `/api/v1/experiments/${experimentId}`);
    expect(res.statusCode).toBe(200);
    expect(res.data.id).toBe(experimentId);
    expect(res.data.meta).toEqual({ lr: [0.1, 0.01] });
    const missing = await call(app, editor, 'GET', '/api/v1/experiments/0190a0a0-0000-7000-8000-0000000000ff');
    expect(missing.statusCode).toBe(404);
    expect(missing.data.error.code).toBe('NOT_FOUND');
    expect(missing.data.request_id).toBeTruthy();
  });

  it('lists with limit, offset, order_by and equality parameters', async () => {
    const runs = Array.from({ length: 5 }, (_, i) => ({ trial_id: '0190a0a0-0000-7000-8000-00000000a001', status: i % 2 ? 'failed' : 'completed', meta: { i } }));
    expect((await call(app, editor, 'POST', '/api/v1/runs', runs)).statusCode).toBe(201);
    const all = await call(app, editor, 'GET', '/api/v1/runs');
    expect(all.statusCode).toBe(200);
    expect(all.data).toMatchObject({ total_count: 5, limit: 100, offset: 0 });
    expect(all.data.items).toHaveLength(5);

    const page = await call(app, editor, 'GET', '/api/v1/runs?limit=2&offset=1&order_by=-status,created_at');
    expect(page.data.total_count).toBe(5);
    expect(page.data).toMatchObject({ limit: 2, offset: 1 });
    expect(page.data.items.map((r: { status: string }) => r.status)).toEqual(['failed', 'completed']);

    const failed = await call(app, editor, 'GET', '/api/v1/runs?status=failed&trial_id=0190a0a0-0000-7000-8000-00000000a001');
    expect(failed.data.total_count).toBe(2);
    expect(failed.data.items.every((r: { status: string }) => r.status === 'failed')).toBe(true);

    const typed = await call(app, editor, 'GET', '/api/v1/trials?duration=1.5&name=t1');
    expect(typed.data.items.map((r: { name: string }) => r.name)).toEqual(['t1']);
    const none = await call(app, editor, 'GET', `/api/v1/trials?experiment_id=0190a0a0-0000-7000-8000-0000000000ff`);
    expect(none.data).toMatchObject({ total_count: 0, items: [] });
  });

  it.each([
    ['unknown body field', 'POST', '/api/v1/experiments', { name: 'x', colour: 'red' }, 'body.colour'],
    ['missing required field', 'POST', '/api/v1/experiments', { kind: 'x' }, 'body.name'],
    ['wrong type', 'POST', '/api/v1/experiments', { name: 5 }, 'body.name'],
    ['bad uuid in body', 'POST', '/api/v1/trials', [{ name: 'x', experiment_id: 'not-a-uuid' }], 'body[0].experiment_id'],
    ['bad enum value', 'POST', '/api/v1/trials', { name: 'x', experiment_id: '0190a0a0-0000-7000-8000-0000000000ff', status: 'done' }, 'body.status'],
    ['read-only built-in', 'POST', '/api/v1/experiments', { name: 'x', created_at: '2020-01-01T00:00:00Z' }, 'body.created_at'],
    ['empty array', 'POST', '/api/v1/experiments', [], 'body'],
    ['unknown query parameter', 'GET', '/api/v1/runs?colour=red', undefined, 'querystring.colour'],
    ['negative limit', 'GET', '/api/v1/runs?limit=-1', undefined, 'querystring.limit'],
    ['limit above the maximum', 'GET', '/api/v1/runs?limit=501', undefined, 'querystring.limit'],
    ['non-integer offset', 'GET', '/api/v1/runs?offset=1.5', undefined, 'querystring.offset'],
    ['bad uuid parameter', 'GET', '/api/v1/runs?trial_id=123', undefined, 'querystring.trial_id'],
    ['bad enum parameter', 'GET', '/api/v1/runs?status=done', undefined, 'querystring.status'],
    ['bad number parameter', 'GET', '/api/v1/trials?duration=fast', undefined, 'querystring.duration'],
    ['unknown order_by column', 'GET', '/api/v1/runs?order_by=-colour', undefined, 'querystring.order_by'],
    ['malformed order_by', 'GET', '/api/v1/runs?order_by=name;drop', undefined, 'querystring.order_by'],
    ['bad id in path', 'GET', '/api/v1/runs/123', undefined, 'params.id'],
  ] as const)('400 BAD_USER_INPUT for %s', async (_name, method, url, body, path) => {
    const res = await call(app, editor, method, url, body);
    expect(res.statusCode).toBe(400);
    expect(res.data.error.code).toBe('BAD_USER_INPUT');
    expect(res.data.error.details.map((d: { path: string }) => d.path)).toContain(path);
    expect(res.data.request_id).toBeTruthy();
  });

  it('refuses a create referencing a missing parent with a per-row detail and writes nothing', async () => {
    const before = await call(app, editor, 'GET', '/api/v1/trials');
    const res = await call(app, editor, 'POST', '/api/v1/trials', [
      { name: 'ok', experiment_id: experimentId },
      { name: 'orphan', experiment_id: '0190a0a0-0000-7000-8000-0000000000ff' },
    ]);
    expect(res.statusCode).toBe(400);
    expect(res.data.error.details).toEqual([{ path: 'body[1].experiment_id', message: expect.stringContaining('no experiment with this id') }]);
    const after = await call(app, editor, 'GET', '/api/v1/trials');
    expect(after.data.total_count).toBe(before.data.total_count);
  });

  it('refuses numbers too large to represent (1e309 parses as Infinity) instead of storing null', async () => {
    // Through the whole server: the check sits in its preValidation hook, for REST bodies and GraphQL variables.
    const { app: server } = await buildServer({ db: t.db, model: t.model });
    try {
      const key = await createApiKey(t.db, { projectId: A, role: 'editor' });
      const headers = { authorization: `Bearer ${key.secret_key}`, 'content-type': 'application/json' };
      const raw = `[{"name":"fine","experiment_id":"${experimentId}","duration":12.5},{"name":"huge","experiment_id":"${experimentId}","duration":1e309}]`;
      const res = await server.inject({ method: 'POST', url: '/api/v1/trials', headers, payload: raw });
      expect(res.statusCode).toBe(400);
      const body = JSON.parse(res.body);
      expect(body.error.message).toMatch(/number too large to represent at \[1\]\.duration/);
      expect(body.error.details).toEqual([{ path: '[1].duration', message: 'number out of range' }]);
      expect((await call(app, editor, 'GET', '/api/v1/trials?name=fine')).data.total_count).toBe(0);

      const gql = await server.inject({
        method: 'POST',
        url: '/graphql',
        headers,
        payload: '{"query":"query($d: Float) { trials(filter: { duration: { gt: $d } }) { id } }","variables":{"d":-1e400}}',
      });
      expect(gql.statusCode).toBe(400);
      expect(JSON.parse(gql.body).errors[0].message).toMatch(/number too large to represent at variables\.d|number too large to represent at d/);
    } finally {
      await server.close();
    }
  });

  it('accepts UUIDs only as 8-4-4-4-12 hex digits (not the urn:uuid: form) in ids, references and paths', async () => {
    const urn = `urn:uuid:${experimentId}`;
    const get = await call(app, editor, 'GET', `/api/v1/experiments/${encodeURIComponent(urn)}`);
    expect(get.statusCode).toBe(400);
    const create = await call(app, editor, 'POST', '/api/v1/trials', { name: 'urn', experiment_id: urn });
    expect(create.statusCode).toBe(400);
    expect(create.data.error.details).toEqual([
      { path: 'body.experiment_id', message: 'must be a UUID written as 8-4-4-4-12 hex digits (e.g. 0190f5a8-7d0e-7c3a-9b1e-3f1e2d4c5b6a)' },
    ]);
  });

  it('401 without a principal, 403 for a viewer writing, 400 when an admin names no project', async () => {
    const anon = await call(app, undefined, 'POST', '/api/v1/experiments', { name: 'x' });
    expect(anon.statusCode).toBe(401);
    expect(anon.data.error.code).toBe('UNAUTHENTICATED');
    expect((await call(app, undefined, 'GET', '/api/v1/experiments')).statusCode).toBe(401);
    const viewer = await call(app, testPrincipal('viewer', [A]), 'POST', '/api/v1/experiments', { name: 'x' });
    expect(viewer.statusCode).toBe(403);
    expect(viewer.data.error.code).toBe('FORBIDDEN');
    expect((await call(app, testPrincipal('viewer', [A]), 'GET', '/api/v1/experiments')).data.total_count).toBe(1);
    const admin = testPrincipal('admin');
    expect((await call(app, admin, 'POST', '/api/v1/experiments', { name: 'x' })).statusCode).toBe(400);
    const created = await call(app, admin, 'POST', '/api/v1/experiments', { name: 'by admin', project_id: A });
    expect(created.statusCode).toBe(201);
    expect(created.data.project_id).toBe(A);
  });

  it('reads with one statement per request', async () => {
    const before = t.db.stats.statements;
    await call(app, editor, 'GET', '/api/v1/runs?limit=2&order_by=-created_at');
    expect(t.db.stats.statements - before).toBe(1);
    const mid = t.db.stats.statements;
    await call(app, editor, 'GET', `/api/v1/experiments/${experimentId}`);
    expect(t.db.stats.statements - mid).toBe(1);
  });
});

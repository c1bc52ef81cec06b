/**
 * Run-time model changes over HTTP (SPEC M-7): `GET /api/v1/model`, `POST /api/v1/model/diff`,
 * `PUT /api/v1/model` — validation, diff, additive changes served at once by GraphQL, REST and OpenAPI,
 * destructive changes refused unless `allow_destructive` (then carried out: columns and tables dropped,
 * columns converted, enum values removed), stale `base_version`, admin only. PGlite and PostgreSQL.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';
import { trackerDoc, trackerDocAdded, trackerModel } from './support.js';

type Doc = { entities: Record<string, { fields: Record<string, Record<string, unknown>> }> };

describe.each(TEST_KINDS)('model changes over HTTP on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let admin: string;
  let editor: string;
  let boardId: string;

  const call = async (method: 'GET' | 'POST' | 'PUT', url: string, key: string, body?: unknown) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(body === undefined ? {} : { payload: body as object }) });
  const gql = async (query: string, key = editor) => (await call('POST', '/graphql', key, { query })).json() as { data?: Record<string, unknown>; errors?: Array<{ message: string }> };
  const columns = async (table: string) =>
    (await t.db.query<{ column_name: string; data_type: string }>(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'app' AND table_name = $1`, [table])).rows;

  beforeAll(async () => {
    t = await createTestDb(kind, trackerModel());
    const project = await createProject(t.db, 'A');
    admin = (await createApiKey(t.db, { projectId: null, role: 'admin' })).secret_key;
    editor = (await createApiKey(t.db, { projectId: project, role: 'editor' })).secret_key;
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    const created = await call('POST', '/api/v1/boards', editor, { title: 'B' });
    boardId = created.json().id;
    expect(created.statusCode).toBe(201);
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('GET /api/v1/model answers the served model and its version, to admins only', async () => {
    const res = await call('GET', '/api/v1/model', admin);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ version: 1, name: 'tracker', hash: t.model.hash, document: trackerDoc() });
    expect((await call('GET', '/api/v1/model', editor)).statusCode).toBe(403);
    expect((await call('PUT', '/api/v1/model', editor, { model: trackerDocAdded() })).statusCode).toBe(403);
  });

  it('refuses an invalid document with 400 naming the path, and a changed schema name', async () => {
    const bad = trackerDoc() as Doc;
    bad.entities.task.fields.board.to = 'nowhere';
    const res = await call('PUT', '/api/v1/model', admin, { model: bad });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: expect.stringContaining('entities.task.fields.board') })]));
    const moved = { ...trackerDoc(), schema: 'elsewhere' };
    const res2 = await call('PUT', '/api/v1/model', admin, { model: moved });
    expect(res2.statusCode).toBe(400);
    expect(res2.json().error.message).toMatch(/schema names cannot change/);
    expect((await call('PUT', '/api/v1/model', admin, { document: trackerDoc() })).statusCode).toBe(400);
  });

  it('diff lists the changes and the DDL without applying anything', async () => {
    const res = await call('POST', '/api/v1/model/diff', admin, { model: trackerDocAdded() });
    expect(res.statusCode).toBe(200);
    const diff = res.json();
    expect(diff).toMatchObject({ applied: false, version: 2, destructive: [] });
    expect(diff.changes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ op: 'add', path: 'entities.task.fields.priority', destructive: false }),
        expect.objectContaining({ op: 'add', path: 'entities.label', destructive: false }),
      ]),
    );
    expect(diff.statements).toEqual(expect.arrayContaining([expect.stringMatching(/^ALTER TABLE "app"."task" ADD COLUMN "priority"/), expect.stringMatching(/^CREATE TABLE IF NOT EXISTS "app"."label"/)]));
    expect((await call('GET', '/api/v1/model', admin)).json().version).toBe(1);
    expect((await columns('task')).map((c) => c.column_name)).not.toContain('priority');
  });

  it('applies additive changes: GraphQL, REST, mutations and OpenAPI serve them from the next request', async () => {
    expect((await gql('{ tasks { priority } }')).errors?.[0].message).toMatch(/priority/);
    const res = await call('PUT', '/api/v1/model', admin, { model: trackerDocAdded(), base_version: 1 });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ applied: true, version: 2, name: 'tracker' });

    const task = await call('POST', '/api/v1/tasks', editor, { board_id: boardId, name: 'T', estimate: 5, status: 'doing' });
    expect(task.statusCode).toBe(201);
    expect(task.json()).toMatchObject({ priority: 3 });
    const label = await call('POST', '/api/v1/labels', editor, { task_id: task.json().id, text: 'urgent' });
    expect(label.statusCode).toBe(201);
    const created = await gql(`mutation { create_label(input: { task_id: "${task.json().id}", text: "later" }) { text } }`);
    expect(created).toEqual({ data: { create_label: { text: 'later' } } });
    const read = await gql('{ tasks { name priority labels(order_by: { text: ASC }) { text } } }');
    expect(read).toEqual({ data: { tasks: [{ name: 'T', priority: 3, labels: [{ text: 'later' }, { text: 'urgent' }] }] } });
    const doc = (await app.inject({ method: 'GET', url: '/api/openapi.json' })).json();
    expect(doc.paths['/api/v1/labels']).toBeDefined();
    expect((await call('GET', '/api/v1/model', admin)).json()).toMatchObject({ version: 2, hash: trackerModel(trackerDocAdded()).hash });
    // The same document again is not a new version.
    expect((await call('PUT', '/api/v1/model', admin, { model: trackerDocAdded() })).json()).toMatchObject({ applied: false, version: 2, statements: [] });
  });

  it('refuses a stale base_version with 409', async () => {
    const res = await call('PUT', '/api/v1/model', admin, { model: trackerDoc(), base_version: 1 });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toMatch(/base_version is 1 but version 2 is served/);
  });

  it('refuses destructive changes with 409 listing them, and applies nothing', async () => {
    const res = await call('PUT', '/api/v1/model', admin, { model: trackerDoc() }); // drops priority and label
    expect(res.statusCode).toBe(409);
    const body = res.json();
    expect(body.error.code).toBe('CONFLICT');
    expect(body.error.message).toMatch(/allow_destructive/);
    expect(body.error.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'entities.label', message: expect.stringMatching(/table "app"."label" and all its rows will be dropped/) }),
        expect.objectContaining({ path: 'entities.task', message: expect.stringMatching(/column "priority"/) }),
      ]),
    );
    expect((await call('GET', '/api/v1/model', admin)).json().version).toBe(2);
    expect((await columns('task')).map((c) => c.column_name)).toContain('priority');
    expect((await gql('{ labels { text } }')).data?.labels).toHaveLength(2);
  });

  it('with allow_destructive drops a table and a column, converts a column and rebuilds an enum', async () => {
    const next = trackerDoc() as Doc;
    next.entities.task.fields.estimate = { type: 'float' };
    next.entities.task.fields.status = { type: 'enum', values: ['open', 'doing', 'done'], default: 'open' };
    const diff = (await call('POST', '/api/v1/model/diff', admin, { model: next })).json();
    expect(diff.destructive.map((d: { path: string }) => d.path).sort()).toEqual(['entities.label', 'entities.task', 'entities.task.fields.estimate', 'entities.task.fields.status.values']);
    expect(diff.changes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ op: 'remove', path: 'entities.label', destructive: true }),
        expect.objectContaining({ op: 'remove', path: 'entities.task.fields.priority', destructive: true }),
        expect.objectContaining({ op: 'change', path: 'entities.task.fields.estimate', destructive: true }),
        expect.objectContaining({ op: 'change', path: 'entities.task.fields.status', message: expect.stringMatching(/removed: dropped/) }),
      ]),
    );

    const res = await call('PUT', '/api/v1/model', admin, { model: next, allow_destructive: true });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ applied: true, version: 3 });
    expect((await t.db.query<{ r: string | null }>(`SELECT to_regclass('app.label')::text AS r`)).rows[0].r).toBeNull();
    const cols = await columns('task');
    expect(cols.map((c) => c.column_name)).not.toContain('priority');
    expect(cols.find((c) => c.column_name === 'estimate')?.data_type).toBe('double precision');
    const labels = await t.db.query<{ l: string }>(`SELECT unnest(enum_range(NULL::app.task_status))::text AS l`);
    expect(labels.rows.map((r) => r.l)).toEqual(['open', 'doing', 'done']);
    expect(await gql('{ tasks { name estimate status } }')).toEqual({ data: { tasks: [{ name: 'T', estimate: 5, status: 'doing' }] } });
    expect((await gql('{ labels { text } }')).errors?.[0].message).toMatch(/labels/);
    expect((await call('GET', '/api/v1/labels', editor)).statusCode).toBe(404);
  });

  it('a destructive change the stored rows do not allow fails as a whole with 409 naming the statement', async () => {
    await call('POST', '/api/v1/tasks', editor, { board_id: boardId, name: 'D', status: 'done' });
    const next = trackerDoc() as Doc;
    next.entities.task.fields.estimate = { type: 'float' };
    next.entities.task.fields.status = { type: 'enum', values: ['open', 'doing'], default: 'open' };
    const res = await call('PUT', '/api/v1/model', admin, { model: next, allow_destructive: true });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toMatch(/could not be applied at `ALTER TABLE "app"."task" ALTER COLUMN "status" TYPE .*stored values do not convert.*Nothing was changed/);
    expect((await call('GET', '/api/v1/model', admin)).json().version).toBe(3);
    const labels = await t.db.query<{ l: string }>(`SELECT unnest(enum_range(NULL::app.task_status))::text AS l`);
    expect(labels.rows.map((r) => r.l)).toEqual(['open', 'doing', 'done']);
  });
});

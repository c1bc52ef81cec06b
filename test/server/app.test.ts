import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import type { Db } from '../../src/db/types.js';
import { loadPreset } from '../../src/model/load.js';
import { buildServer } from '../../src/server/app.js';
import { createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

const errorShape = { error: { code: expect.any(String), message: expect.any(String), details: expect.any(Array) }, request_id: expect.any(String) };

describe.each(TEST_KINDS)('server basics on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let auth: { authorization: string };

  beforeAll(async () => {
    t = await createTestDb(kind);
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    // Routes that fail, to see what clients get (added before the server is ready).
    app.get('/test/db-error', async () => {
      await t.db.query('SELECT * FROM no_such_table_secret_name');
    });
    app.get('/test/throw', async () => {
      throw new Error('internal detail: password=hunter2');
    });
    const key = await createApiKey(t.db, { projectId: null, role: 'admin' });
    auth = { authorization: `Bearer ${key.secret_key}` };
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('answers health (and its alias) without credentials, naming the model', async () => {
    for (const url of ['/api/health', '/api/public/health']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok', database: 'ok', model: { name: 'experiments', hash: t.model.hash } });
    }
  });

  it('honours x-request-id and generates one otherwise', async () => {
    const given = await app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers['x-request-id']).toBe('abc-123');
    expect(given.json().request_id).toBe('abc-123');
    const generated = await app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': 'bad id\nwith newline' } });
    expect(generated.json().request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.headers['x-request-id']).toBe(generated.json().request_id);
  });

  it('answers unknown routes with 404 in the error shape', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/nothing-here?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual(errorShape);
    expect(res.json().error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('POST /api/v1/nothing-here') });
  });

  it('refuses bodies over 10 MB with 413 in the error shape', async () => {
    const payload = JSON.stringify({ name: 'x'.repeat(10 * 1024 * 1024 + 10) });
    const res = await app.inject({ method: 'POST', url: '/api/v1/projects', headers: { ...auth, 'content-type': 'application/json' }, payload });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual(errorShape);
    expect(res.json().error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers malformed JSON and wrong content types with 4xx in the error shape', async () => {
    const bad = await app.inject({ method: 'POST', url: '/api/v1/projects', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"name": ' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'BAD_USER_INPUT' } });
    const form = await app.inject({ method: 'POST', url: '/api/v1/projects', headers: { ...auth, 'content-type': 'text/csv' }, payload: 'a,b' });
    expect(form.statusCode).toBe(415);
    expect(form.json()).toEqual(errorShape);
  });

  it('never shows database text or internal messages outside development', async () => {
    for (const url of ['/test/db-error', '/test/throw']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual(errorShape);
      expect(res.json().error.code).toBe('INTERNAL');
      expect(res.body).not.toMatch(/no_such_table|hunter2|at .*\.ts/);
    }
  });
});

describe('server without a working database', () => {
  const failing: Db = {
    kind: 'postgres',
    stats: { statements: 0 },
    query: async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    },
    transaction: async () => {
      throw new Error('connect ECONNREFUSED');
    },
    withPrincipal: async () => {
      throw new Error('connect ECONNREFUSED');
    },
    queryAs: async () => {
      throw new Error('connect ECONNREFUSED');
    },
    listen: async () => async () => undefined,
    close: async () => undefined,
  };

  it('reports 503 on health when the database is unreachable', async () => {
    const { app } = await buildServer({ db: failing, model: await loadPreset('experiments') });
    const res = await app.inject({ method: 'GET', url: '/api/health' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'unavailable', database: 'unreachable', model: { name: 'experiments' } });
    expect(res.body).not.toContain('ECONNREFUSED');
    await app.close();
  });

  it('shows internal error text in development mode only', async () => {
    const { app } = await buildServer({ db: failing, model: await loadPreset('experiments'), config: { mode: 'development' } });
    const res = await app.inject({ method: 'GET', url: '/api/v1/projects', headers: { authorization: 'Bearer lk-sk-x' } });
    expect(res.statusCode).toBe(500);
    expect(res.json().error.message).toContain('ECONNREFUSED');
    await app.close();
  });
});

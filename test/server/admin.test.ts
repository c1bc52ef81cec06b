import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, type CreatedApiKey } from '../../src/auth/api-keys.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

const bearer = (k: CreatedApiKey) => ({ authorization: `Bearer ${k.secret_key}` });
const MISSING = '01890000-0000-7000-8000-000000000000';

describe.each(TEST_KINDS)('administration routes on %s (R-5, A-3)', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let admin: CreatedApiKey;
  let p1: string;
  let p2: string;
  let owner1: CreatedApiKey;
  let editor1: CreatedApiKey;
  let viewer1: CreatedApiKey;

  beforeAll(async () => {
    t = await createTestDb(kind);
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    admin = await createApiKey(t.db, { projectId: null, role: 'admin' });
    p1 = await createProject(t.db, 'one');
    p2 = await createProject(t.db, 'two');
    owner1 = await createApiKey(t.db, { projectId: p1, role: 'owner' });
    editor1 = await createApiKey(t.db, { projectId: p1, role: 'editor' });
    viewer1 = await createApiKey(t.db, { projectId: p1, role: 'viewer' });
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('lets an admin create a project; refuses others (403) and anonymous callers (401)', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/projects', headers: bearer(admin), payload: { name: 'three' } });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: 'three', created_at: expect.any(String), updated_at: expect.any(String) });
    const { rows } = await t.db.query('SELECT name FROM lattice.projects WHERE id = $1', [body.id]);
    expect(rows).toEqual([{ name: 'three' }]);

    const forbidden = await app.inject({ method: 'POST', url: '/api/v1/projects', headers: bearer(owner1), payload: { name: 'x' } });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().error.code).toBe('FORBIDDEN');
    const anonymous = await app.inject({ method: 'POST', url: '/api/v1/projects', payload: { name: 'x' } });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' }, request_id: expect.any(String) });
  });

  it('answers invalid credentials with 401 before anything else', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/projects', headers: { authorization: 'Bearer lk-sk-wrong' } });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('UNAUTHENTICATED');
    const onHealth = await app.inject({ method: 'GET', url: '/api/health', headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    expect(onHealth.statusCode).toBe(401);
  });

  it('validates project bodies: unknown fields, empty names, wrong types are 400 with details', async () => {
    const cases = [{ name: 'a', extra: 1 }, { name: '' }, { name: 5 }, {}];
    for (const payload of cases) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/projects', headers: bearer(admin), payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      const err = res.json().error;
      expect(err.code).toBe('BAD_USER_INPUT');
      expect(err.details.length).toBeGreaterThan(0);
    }
    const unknown = await app.inject({ method: 'POST', url: '/api/v1/projects', headers: bearer(admin), payload: { name: 'a', extra: 1 } });
    expect(unknown.json().error.details).toEqual([{ path: 'body.extra', message: 'unknown field; remove it' }]);
  });

  it('lists all projects to an admin and only their own to project keys', async () => {
    const all = await app.inject({ method: 'GET', url: '/api/v1/projects', headers: bearer(admin) });
    expect(all.json().items.map((p: { id: string }) => p.id)).toEqual(expect.arrayContaining([p1, p2]));
    const own = await app.inject({ method: 'GET', url: '/api/v1/projects', headers: bearer(viewer1) });
    expect(own.json()).toMatchObject({ items: [{ id: p1, name: 'one' }], total_count: 1 });
    expect((await app.inject({ method: 'GET', url: `/api/v1/projects/${p2}`, headers: bearer(viewer1) })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: `/api/v1/projects/${p1}`, headers: bearer(viewer1) })).json().name).toBe('one');
  });

  it('creates keys for admins anywhere and for owners in their own project only', async () => {
    const byAdmin = await app.inject({ method: 'POST', url: `/api/v1/projects/${p2}/keys`, headers: bearer(admin), payload: { role: 'owner', name: 'ci' } });
    expect(byAdmin.statusCode).toBe(201);
    expect(byAdmin.json()).toMatchObject({ project_id: p2, role: 'owner', name: 'ci', public_key: expect.stringMatching(/^lk-pk-/), secret_key: expect.stringMatching(/^lk-sk-/) });

    const byOwner = await app.inject({ method: 'POST', url: `/api/v1/projects/${p1}/keys`, headers: bearer(owner1), payload: { role: 'viewer' } });
    expect(byOwner.statusCode).toBe(201);
    const created = byOwner.json();
    // The new key works, and sees only its project.
    const seen = await app.inject({ method: 'GET', url: '/api/v1/projects', headers: { authorization: `Bearer ${created.secret_key}` } });
    expect(seen.json().items.map((p: { id: string }) => p.id)).toEqual([p1]);

    for (const [who, project] of [[owner1, p2], [editor1, p1], [viewer1, p1]] as const) {
      const res = await app.inject({ method: 'POST', url: `/api/v1/projects/${project}/keys`, headers: bearer(who), payload: { role: 'viewer' } });
      expect(res.statusCode, `${who.role} on ${project === p1 ? 'own' : 'other'} project`).toBe(403);
      expect(res.json().error.code).toBe('FORBIDDEN');
    }
  });

  it('refuses bad key requests with clear 4xx', async () => {
    const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, headers: bearer(admin), payload: payload as object });
    expect((await post(`/api/v1/projects/${MISSING}/keys`, { role: 'viewer' })).statusCode).toBe(404);
    expect((await post('/api/v1/projects/not-a-uuid/keys', { role: 'viewer' })).json().error.details[0].path).toBe('params.id');
    expect((await post(`/api/v1/projects/${p1}/keys`, { role: 'admin' })).statusCode).toBe(400);
    expect((await post(`/api/v1/projects/${p1}/keys`, { role: 'viewer', secret: 'x' })).statusCode).toBe(400);
    expect((await post(`/api/v1/projects/${p1}/keys`, {})).json().error.details).toEqual([{ path: 'body.role', message: 'is required' }]);
  });

  it('lists keys without secrets and revokes them (owner own project; admin anywhere)', async () => {
    const victim = await createApiKey(t.db, { projectId: p1, role: 'editor', name: 'victim' });
    const list = await app.inject({ method: 'GET', url: `/api/v1/projects/${p1}/keys`, headers: bearer(owner1) });
    expect(list.statusCode).toBe(200);
    const items = list.json().items as Record<string, unknown>[];
    expect(items.map((k) => k.id)).toContain(victim.id);
    for (const k of items) {
      expect(k).not.toHaveProperty('secret_key');
      expect(k).not.toHaveProperty('secret_hash');
    }
    expect((await app.inject({ method: 'GET', url: `/api/v1/projects/${p1}/keys`, headers: bearer(viewer1) })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: `/api/v1/projects/${p2}/keys`, headers: bearer(owner1) })).statusCode).toBe(403);

    // The key works, then is revoked by the owner and refused.
    expect((await app.inject({ method: 'GET', url: '/api/v1/projects', headers: bearer(victim) })).statusCode).toBe(200);
    const wrongProject = await app.inject({ method: 'DELETE', url: `/api/v1/projects/${p2}/keys/${victim.id}`, headers: bearer(admin) });
    expect(wrongProject.statusCode).toBe(404);
    const del = await app.inject({ method: 'DELETE', url: `/api/v1/projects/${p1}/keys/${victim.id}`, headers: bearer(owner1) });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toMatchObject({ id: victim.id, revoked_at: expect.any(String) });
    const after = await app.inject({ method: 'GET', url: '/api/v1/projects', headers: bearer(victim) });
    expect(after.statusCode).toBe(401);
  });
});

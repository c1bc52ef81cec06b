/**
 * User and member administration (SPEC; issue 8 item 3) on every test database: `/api/v1/admin/users`
 * for admins, `/api/v1/projects/{id}/members` for admins and owners of that project — owner keys and users who
 * are owners by membership alike — and never for an owner of another project.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, type CreatedApiKey } from '../../src/auth/api-keys.js';
import { setMembership } from '../../src/auth/memberships.js';
import { createUser, findUser } from '../../src/auth/users.js';
import { appWithEnv } from '../auth/support.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

const SECRET = randomBytes(32).toString('hex');
const MISSING = '01890000-0000-7000-8000-000000000000';
const bearer = (k: CreatedApiKey) => ({ authorization: `Bearer ${k.secret_key}` });

async function tokenFor(sub: string, role: string): Promise<Record<string, string>> {
  const jwt = await new SignJWT({ sub, role, exp: Math.floor(Date.now() / 1000) + 300 })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(SECRET));
  return { authorization: `Bearer ${jwt}` };
}

describe.each(TEST_KINDS)('user and member administration on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let admin: CreatedApiKey;
  let owner1: CreatedApiKey;
  let editor1: CreatedApiKey;
  let p1: string;
  let p2: string;

  /** Memberships as stored (owner, bypassing everything): `user_id:role` per project. */
  async function stored(project: string): Promise<string[]> {
    const { rows } = await t.db.query<{ m: string }>(`SELECT user_id::text || ':' || role AS m FROM lattice.memberships WHERE project_id = $1 ORDER BY 1`, [project]);
    return rows.map((r) => r.m);
  }

  beforeAll(async () => {
    t = await createTestDb(kind);
    app = await appWithEnv(t, { LATTICE_JWT_SECRET: SECRET });
    admin = await createApiKey(t.db, { projectId: null, role: 'admin' });
    p1 = await createProject(t.db, 'one');
    p2 = await createProject(t.db, 'two');
    owner1 = await createApiKey(t.db, { projectId: p1, role: 'owner' });
    editor1 = await createApiKey(t.db, { projectId: p1, role: 'editor' });
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('admins create, list and read users; duplicates are 409, bad bodies 400, others 403', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/admin/users', headers: bearer(admin), payload: { subject: 'auth0|dana', issuer: 'https://idp.test/', email: 'dana@example.com', name: 'Dana' } });
    expect(res.statusCode, res.body).toBe(201);
    const dana = res.json();
    expect(dana).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), issuer: 'https://idp.test/', subject: 'auth0|dana', email: 'dana@example.com', name: 'Dana', created_at: expect.any(String), updated_at: expect.any(String) });
    expect((await findUser(t.db, 'https://idp.test/', 'auth0|dana'))?.id).toBe(dana.id);

    const again = await app.inject({ method: 'POST', url: '/api/v1/admin/users', headers: bearer(admin), payload: { subject: 'auth0|dana', issuer: 'https://idp.test/' } });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.message).toContain(dana.id);
    const sameEmail = await app.inject({ method: 'POST', url: '/api/v1/admin/users', headers: bearer(admin), payload: { subject: 'other', email: 'dana@example.com' } });
    expect(sameEmail.statusCode).toBe(409);
    expect(sameEmail.json().error.message).toMatch(/email "dana@example.com" exists already/);
    // The same subject of another issuer (or of the proxy, issuer '') is another user.
    expect((await app.inject({ method: 'POST', url: '/api/v1/admin/users', headers: bearer(admin), payload: { subject: 'auth0|dana' } })).statusCode).toBe(201);

    for (const payload of [{}, { subject: '' }, { subject: 'x', extra: 1 }, { subject: 5 }, { subject: 'a\u0001b' }]) {
      const bad = await app.inject({ method: 'POST', url: '/api/v1/admin/users', headers: bearer(admin), payload });
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
      expect(bad.json().error.code).toBe('BAD_USER_INPUT');
    }
    const byOwner = await app.inject({ method: 'POST', url: '/api/v1/admin/users', headers: bearer(owner1), payload: { subject: 'sneaky' } });
    expect(byOwner.statusCode).toBe(403);
    expect(await findUser(t.db, '', 'sneaky')).toBeNull();
    expect((await app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(owner1) })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/api/v1/admin/users' })).statusCode).toBe(401);

    const list = await app.inject({ method: 'GET', url: '/api/v1/admin/users', headers: bearer(admin) });
    expect(list.json().items.map((u: { subject: string }) => u.subject)).toEqual(expect.arrayContaining(['auth0|dana']));
    const one = await app.inject({ method: 'GET', url: `/api/v1/admin/users/${dana.id}`, headers: bearer(admin) });
    expect(one.json()).toMatchObject({ id: dana.id, memberships: [] });
    expect((await app.inject({ method: 'GET', url: `/api/v1/admin/users/${MISSING}`, headers: bearer(admin) })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: `/api/v1/admin/users/${dana.id}`, headers: bearer(owner1) })).statusCode).toBe(403);
  });

  it('admins add members, change roles by a second POST or PATCH, list and remove them', async () => {
    const erin = await createUser(t.db, { subject: 'erin' });
    const add = await app.inject({ method: 'POST', url: `/api/v1/projects/${p2}/members`, headers: bearer(admin), payload: { user_id: erin.id, role: 'viewer' } });
    expect(add.statusCode, add.body).toBe(201);
    expect(add.json()).toMatchObject({ project_id: p2, user_id: erin.id, role: 'viewer', subject: 'erin', issuer: '' });
    const again = await app.inject({ method: 'POST', url: `/api/v1/projects/${p2}/members`, headers: bearer(admin), payload: { user_id: erin.id, role: 'editor' } });
    expect(again.statusCode).toBe(200);
    expect(await stored(p2)).toEqual([`${erin.id}:editor`]);
    const patch = await app.inject({ method: 'PATCH', url: `/api/v1/projects/${p2}/members/${erin.id}`, headers: bearer(admin), payload: { role: 'owner' } });
    expect(patch.statusCode, patch.body).toBe(200);
    expect(patch.json().role).toBe('owner');
    const list = await app.inject({ method: 'GET', url: `/api/v1/projects/${p2}/members`, headers: bearer(admin) });
    expect(list.json()).toMatchObject({ items: [{ user_id: erin.id, role: 'owner' }], total_count: 1 });
    const user = await app.inject({ method: 'GET', url: `/api/v1/admin/users/${erin.id}`, headers: bearer(admin) });
    expect(user.json().memberships).toEqual([{ project_id: p2, role: 'owner' }]);

    // Unknown user, project, member; bad roles and ids.
    const noUser = await app.inject({ method: 'POST', url: `/api/v1/projects/${p2}/members`, headers: bearer(admin), payload: { user_id: MISSING, role: 'viewer' } });
    expect(noUser.statusCode).toBe(404);
    expect(noUser.json().error.message).toMatch(new RegExp(`User ${MISSING} does not exist`));
    const noProject = await app.inject({ method: 'POST', url: `/api/v1/projects/${MISSING}/members`, headers: bearer(admin), payload: { user_id: erin.id, role: 'viewer' } });
    expect(noProject.statusCode).toBe(404);
    expect(noProject.json().error.message).toMatch(new RegExp(`Project ${MISSING} does not exist`));
    expect((await app.inject({ method: 'PATCH', url: `/api/v1/projects/${p1}/members/${erin.id}`, headers: bearer(admin), payload: { role: 'viewer' } })).statusCode).toBe(404);
    expect(await stored(p1)).toEqual([]);
    for (const payload of [{ user_id: erin.id, role: 'admin' }, { user_id: 'erin', role: 'viewer' }, { user_id: erin.id }, { user_id: erin.id, role: 'viewer', extra: true }]) {
      const bad = await app.inject({ method: 'POST', url: `/api/v1/projects/${p2}/members`, headers: bearer(admin), payload });
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
    }

    const removed = await app.inject({ method: 'DELETE', url: `/api/v1/projects/${p2}/members/${erin.id}`, headers: bearer(admin) });
    expect(removed.statusCode).toBe(200);
    expect(removed.json()).toMatchObject({ user_id: erin.id, role: 'owner' });
    expect(await stored(p2)).toEqual([]);
    expect((await app.inject({ method: 'DELETE', url: `/api/v1/projects/${p2}/members/${erin.id}`, headers: bearer(admin) })).statusCode).toBe(404);
  });

  it('an owner manages the members of its own project only; editors and viewers manage none', async () => {
    const fay = await createUser(t.db, { subject: 'fay' });
    const inP2 = await createUser(t.db, { subject: 'in-p2' });
    await setMembership(t.db, p2, inP2.id, 'viewer');
    const own = await app.inject({ method: 'POST', url: `/api/v1/projects/${p1}/members`, headers: bearer(owner1), payload: { user_id: fay.id, role: 'editor' } });
    expect(own.statusCode, own.body).toBe(201);
    expect((await app.inject({ method: 'GET', url: `/api/v1/projects/${p1}/members`, headers: bearer(owner1) })).json().total_count).toBe(1);

    const before = await stored(p2);
    const other = [
      await app.inject({ method: 'POST', url: `/api/v1/projects/${p2}/members`, headers: bearer(owner1), payload: { user_id: fay.id, role: 'owner' } }),
      await app.inject({ method: 'GET', url: `/api/v1/projects/${p2}/members`, headers: bearer(owner1) }),
      await app.inject({ method: 'PATCH', url: `/api/v1/projects/${p2}/members/${inP2.id}`, headers: bearer(owner1), payload: { role: 'owner' } }),
      await app.inject({ method: 'DELETE', url: `/api/v1/projects/${p2}/members/${inP2.id}`, headers: bearer(owner1) }),
    ];
    for (const res of other) {
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json().error.message).toMatch(new RegExp(`manage only the projects they own; project ${p2} is not one of them`));
    }
    // Not even whether p2 exists leaks: a missing project answers the same 403.
    expect((await app.inject({ method: 'GET', url: `/api/v1/projects/${MISSING}/members`, headers: bearer(owner1) })).statusCode).toBe(403);
    expect(await stored(p2)).toEqual(before);

    const byEditor = await app.inject({ method: 'POST', url: `/api/v1/projects/${p1}/members`, headers: bearer(editor1), payload: { user_id: fay.id, role: 'owner' } });
    expect(byEditor.statusCode).toBe(403);
    expect(byEditor.json().error.message).toMatch(/Role 'editor' cannot manage members of project/);
    expect(await stored(p1)).toEqual([`${fay.id}:editor`]);
  });

  it('a user who is owner of P1 by membership manages P1 members and keys, not P2; a member reads its own user', async () => {
    const gus = await tokenFor('gus', 'owner');
    await app.inject({ method: 'GET', url: '/api/v1/projects', headers: gus }); // first sight creates gus
    const gusUser = (await findUser(t.db, '', 'gus'))!;
    await setMembership(t.db, p1, gusUser.id, 'owner');
    await setMembership(t.db, p2, gusUser.id, 'viewer');
    const hal = await createUser(t.db, { subject: 'hal' });

    const add = await app.inject({ method: 'POST', url: `/api/v1/projects/${p1}/members`, headers: gus, payload: { user_id: hal.id, role: 'viewer' } });
    expect(add.statusCode, add.body).toBe(201);
    const key = await app.inject({ method: 'POST', url: `/api/v1/projects/${p1}/keys`, headers: gus, payload: { role: 'viewer' } });
    expect(key.statusCode, key.body).toBe(201);
    const before = await stored(p2);
    const intoP2 = await app.inject({ method: 'POST', url: `/api/v1/projects/${p2}/members`, headers: gus, payload: { user_id: hal.id, role: 'viewer' } });
    expect(intoP2.statusCode).toBe(403);
    expect(intoP2.json().error.message).toMatch(/Role 'viewer' cannot manage members of project/);
    expect((await app.inject({ method: 'POST', url: `/api/v1/projects/${p2}/keys`, headers: gus, payload: { role: 'viewer' } })).statusCode).toBe(403);
    expect(await stored(p2)).toEqual(before);

    const self = await app.inject({ method: 'GET', url: `/api/v1/admin/users/${gusUser.id}`, headers: gus });
    expect(self.statusCode, self.body).toBe(200);
    expect(self.json().memberships).toEqual(expect.arrayContaining([{ project_id: p1, role: 'owner' }, { project_id: p2, role: 'viewer' }]));
    const otherUser = await app.inject({ method: 'GET', url: `/api/v1/admin/users/${hal.id}`, headers: gus });
    expect(otherUser.statusCode).toBe(403);
  });
});

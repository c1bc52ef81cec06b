/**
 * Users and memberships (SPEC; issue 8 item 3) through real servers on every test database. A token or
 * proxy identity that names no project gets its user's memberships: one role per project. Three projects:
 * P1 (alice: owner), P2 (alice: viewer), P3 (alice: not a member). Alice reads P1 and P2 and never P3, writes
 * only into P1 (every write path into P2 is refused with nothing written); a user who may write into two
 * projects must name the project. Row-level security enforces the same with the principal alone.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeMembership, setMembership } from '../../src/auth/memberships.js';
import { resolveIdentity } from '../../src/auth/identity.js';
import type { Principal } from '../../src/auth/principal.js';
import { findUser } from '../../src/auth/users.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, type TestDb } from '../support/db.js';
import { appWithEnv } from './support.js';

const ISSUER = 'https://issuer.test/';
const SECRET = randomBytes(32).toString('hex');
const PROXY_SECRET = randomBytes(32).toString('hex');
const now = () => Math.floor(Date.now() / 1000);

function token(sub: string, role: string, extra: JWTPayload = {}): Promise<string> {
  return new SignJWT({ sub, role, iss: ISSUER, exp: now() + 300, ...extra })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(SECRET));
}

describe.each(TEST_KINDS)('users and memberships on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let P1: string;
  let P2: string;
  let P3: string;
  const exp: Record<'p1' | 'p2' | 'p3', string> = { p1: '', p2: '', p3: '' };
  let alice: Record<string, string>;
  let aliceId: string;

  const names = (items: { name: string }[]) => items.map((i) => i.name).sort();

  /** Experiments as stored (owner, bypassing RLS) in `project`: name list. */
  async function stored(project: string): Promise<string[]> {
    const { rows } = await t.db.query<{ name: string }>('SELECT name FROM app.experiment WHERE project_id = $1 ORDER BY name', [project]);
    return rows.map((r) => r.name);
  }

  async function gql(headers: Record<string, string>, query: string, variables?: Record<string, unknown>) {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' }, payload: { query, variables } });
    return res.json() as { data?: Record<string, any> | null; errors?: { message: string; extensions: { code: string } }[] };
  }

  beforeAll(async () => {
    t = await createTestDb(kind);
    P1 = await createProject(t.db, 'one');
    P2 = await createProject(t.db, 'two');
    P3 = await createProject(t.db, 'three');
    const rows = await insertRows<{ id: string; project_id: string }>(t.db, 'experiment', [
      { project_id: P1, name: 'p1-exp', kind: 'seed' },
      { project_id: P2, name: 'p2-exp', kind: 'seed' },
      { project_id: P3, name: 'p3-secret', kind: 'seed' },
    ]);
    [exp.p1, exp.p2, exp.p3] = rows.map((r) => r.id);
    app = await appWithEnv(t, { LATTICE_JWT_SECRET: SECRET, LATTICE_PROXY_SECRET: PROXY_SECRET });
    alice = { authorization: `Bearer ${await token('alice', 'owner')}` };
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('creates the user on first sight; without projects or memberships the answer is 403 naming the user id', async () => {
    expect(await findUser(t.db, ISSUER, 'alice')).toBeNull();
    const res = await app.inject({ method: 'GET', url: '/api/v1/experiments', headers: alice });
    expect(res.statusCode, res.body).toBe(403);
    const user = await findUser(t.db, ISSUER, 'alice');
    expect(user).toMatchObject({ issuer: ISSUER, subject: 'alice', email: null });
    aliceId = user!.id;
    expect(res.json().error.message).toMatch(/The token grants role 'owner' but no project; only admin spans all projects\. Put the project ids in the token's claim "project_ids"/);
    expect(res.json().error.message).toContain(`make its user ${aliceId} a member of a project`);
    // A second sight finds the same user.
    await app.inject({ method: 'GET', url: '/api/v1/experiments', headers: alice });
    const { rows } = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM lattice.users WHERE subject = 'alice'`);
    expect(rows[0].n).toBe(1);
  });

  it('a member of P1 (owner) and P2 (viewer) reads both over REST and GraphQL, never P3', async () => {
    await setMembership(t.db, P1, aliceId, 'owner');
    await setMembership(t.db, P2, aliceId, 'viewer');
    // The change is seen at once by this instance (its cached memberships are dropped).
    const list = await app.inject({ method: 'GET', url: '/api/v1/experiments?kind=seed', headers: alice });
    expect(list.statusCode, list.body).toBe(200);
    expect(names(list.json().items)).toEqual(['p1-exp', 'p2-exp']);
    const g = await gql(alice, '{ experiments(filter: { kind: { eq: "seed" } }) { name project { name } } experiment_aggregate(filter: { kind: { eq: "seed" } }) { count } projects { name } }');
    expect(g.errors).toBeUndefined();
    expect(names(g.data!.experiments)).toEqual(['p1-exp', 'p2-exp']);
    expect(g.data!.experiment_aggregate).toEqual([{ count: 2 }]);
    expect(names(g.data!.projects)).toEqual(['one', 'two']);
    // Reads narrow to one project with a filter.
    const onlyP2 = await app.inject({ method: 'GET', url: `/api/v1/experiments?project_id=${P2}`, headers: alice });
    expect(names(onlyP2.json().items)).toEqual(['p2-exp']);
    // P3 is invisible: by id, by filter, in the project list.
    expect((await app.inject({ method: 'GET', url: `/api/v1/experiments/${exp.p3}`, headers: alice })).statusCode).toBe(404);
    const byP3 = await app.inject({ method: 'GET', url: `/api/v1/experiments?project_id=${P3}`, headers: alice });
    expect(byP3.json().items).toEqual([]);
    const projects = await app.inject({ method: 'GET', url: '/api/v1/projects', headers: alice });
    expect(projects.json().items.map((p: { id: string }) => p.id).sort()).toEqual([P1, P2].sort());
  });

  it('writes only where the member is owner or editor: every write into the viewer project is 403 with nothing written', async () => {
    const before = { p1: await stored(P1), p2: await stored(P2), p3: await stored(P3) };
    // One writable project: a create without project_id goes there.
    const created = await app.inject({ method: 'POST', url: '/api/v1/experiments', headers: alice, payload: { name: 'alice-new' } });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().project_id).toBe(P1);
    // Into P2 (viewer): REST create, patch, delete; GraphQL create and update; ingestion.
    const intoP2 = await app.inject({ method: 'POST', url: '/api/v1/experiments', headers: alice, payload: { name: 'x', project_id: P2 } });
    expect(intoP2.statusCode).toBe(403);
    expect(intoP2.json().error.message).toBe(`Role 'viewer' in project ${P2} cannot write data; use credentials with role editor, owner or admin in that project.`);
    const patch = await app.inject({ method: 'PATCH', url: `/api/v1/experiments/${exp.p2}`, headers: alice, payload: { name: 'pwned' } });
    expect(patch.statusCode, patch.body).toBe(403);
    expect(patch.json().error.code).toBe('FORBIDDEN');
    const del = await app.inject({ method: 'DELETE', url: `/api/v1/experiments/${exp.p2}`, headers: alice });
    expect(del.statusCode, del.body).toBe(403);
    const gCreate = await gql(alice, `mutation($p: ID!) { create_experiment(input: { name: "g", project_id: $p }) { id } }`, { p: P2 });
    expect(gCreate.errors?.[0].extensions.code).toBe('FORBIDDEN');
    const gUpdate = await gql(alice, `mutation($id: ID!) { update_experiment(id: $id, patch: { name: "g" }) { id } }`, { id: exp.p2 });
    expect(gUpdate.errors?.[0].extensions.code, JSON.stringify(gUpdate)).toBe('FORBIDDEN');
    const gDelete = await gql(alice, `mutation($id: ID!) { delete_experiment(id: $id) { id } }`, { id: exp.p2 });
    expect(gDelete.errors?.[0].extensions.code, JSON.stringify(gDelete)).toBe('FORBIDDEN');
    const ingest = await app.inject({
      method: 'POST',
      url: '/api/v1/ingest',
      headers: alice,
      payload: { batch: [{ id: 'ev-1', type: 'experiment.create', body: { name: 'ingested', project_id: P2 } }] },
    });
    expect(ingest.statusCode).toBe(207);
    expect(ingest.json().errors).toEqual([expect.objectContaining({ id: 'ev-1', status: 403 })]);
    // P3 (not a member) answers like an unknown id.
    expect((await app.inject({ method: 'PATCH', url: `/api/v1/experiments/${exp.p3}`, headers: alice, payload: { name: 'pwned' } })).statusCode).toBe(404);
    expect(await stored(P2)).toEqual(before.p2);
    expect(await stored(P3)).toEqual(before.p3);
    expect(await stored(P1)).toEqual([...before.p1, 'alice-new'].sort());
    // Where it is owner, updates work.
    const ok = await app.inject({ method: 'PATCH', url: `/api/v1/experiments/${created.json().id}`, headers: alice, payload: { description: 'mine' } });
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it('a user who may write into two projects must name the project (400 listing both)', async () => {
    const bobToken = { authorization: `Bearer ${await token('bob', 'owner')}` };
    await app.inject({ method: 'GET', url: '/api/v1/projects', headers: bobToken }); // first sight creates bob
    const bob = (await findUser(t.db, ISSUER, 'bob'))!;
    await setMembership(t.db, P1, bob.id, 'editor');
    await setMembership(t.db, P3, bob.id, 'owner');
    const before = { p1: await stored(P1), p3: await stored(P3) };
    const ambiguous = await app.inject({ method: 'POST', url: '/api/v1/experiments', headers: bobToken, payload: { name: 'where?' } });
    expect(ambiguous.statusCode).toBe(400);
    const message = ambiguous.json().error.message as string;
    expect(message).toMatch(/can write into 2 projects: name the target project with "project_id" \(one of /);
    expect(message).toContain(P1);
    expect(message).toContain(P3);
    expect(await stored(P1)).toEqual(before.p1);
    expect(await stored(P3)).toEqual(before.p3);
    const named = await app.inject({ method: 'POST', url: '/api/v1/experiments', headers: bobToken, payload: { name: 'bob-p3', project_id: P3 } });
    expect(named.statusCode, named.body).toBe(201);
    expect(named.json().project_id).toBe(P3);
  });

  it("project claims are the identity provider's word; the token's role caps the membership roles", async () => {
    // Project ids in the token: exactly those (P3, where alice is no member), memberships not consulted.
    const claimed = { authorization: `Bearer ${await token('alice', 'viewer', { project_ids: [P3] })}` };
    const r = await app.inject({ method: 'GET', url: '/api/v1/experiments?kind=seed', headers: claimed });
    expect(names(r.json().items)).toEqual(['p3-secret']);
    // A viewer token of alice: memberships give P1 and P2, but read-only, also where she is owner.
    const readOnly = { authorization: `Bearer ${await token('alice', 'viewer')}` };
    expect(names((await app.inject({ method: 'GET', url: '/api/v1/experiments?kind=seed', headers: readOnly })).json().items)).toEqual(['p1-exp', 'p2-exp']);
    const denied = await app.inject({ method: 'POST', url: '/api/v1/experiments', headers: readOnly, payload: { name: 'x', project_id: P1 } });
    expect(denied.statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: `/api/v1/projects/${P1}/members`, headers: readOnly })).statusCode).toBe(403);
    // An editor token: owner of P1 acts as editor there (writes, but manages no members).
    const editor = { authorization: `Bearer ${await token('alice', 'editor')}` };
    expect((await app.inject({ method: 'POST', url: '/api/v1/experiments', headers: editor, payload: { name: 'as-editor', project_id: P1 } })).statusCode).toBe(201);
    expect((await app.inject({ method: 'GET', url: `/api/v1/projects/${P1}/members`, headers: editor })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: `/api/v1/projects/${P1}/members`, headers: alice })).statusCode).toBe(200);
  });

  it('trusted proxy identities have users of their own (issuer ""), with memberships like token users', async () => {
    const proxy = (role: string, extra: Record<string, string> = {}) => ({
      'x-lattice-proxy-secret': PROXY_SECRET,
      'x-lattice-user-id': 'alice',
      'x-lattice-role': role,
      ...extra,
    });
    const first = await app.inject({ method: 'GET', url: '/api/v1/experiments', headers: proxy('editor') });
    expect(first.statusCode).toBe(403); // a different user than the token's alice: no memberships yet
    const proxyAlice = (await findUser(t.db, '', 'alice'))!;
    expect(proxyAlice.id).not.toBe(aliceId);
    await setMembership(t.db, P2, proxyAlice.id, 'editor');
    const list = await app.inject({ method: 'GET', url: '/api/v1/experiments?kind=seed', headers: proxy('editor') });
    expect(names(list.json().items)).toEqual(['p2-exp']);
    const created = await app.inject({ method: 'POST', url: '/api/v1/experiments', headers: proxy('owner'), payload: { name: 'via-proxy' } });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().project_id).toBe(P2);
    // Project ids in the headers still win.
    const named = await app.inject({ method: 'GET', url: '/api/v1/experiments?kind=seed', headers: proxy('viewer', { 'x-lattice-project-ids': P3 }) });
    expect(names(named.json().items)).toEqual(['p3-secret']);
  });

  it('a removed membership takes effect at once on this instance', async () => {
    const carol = { authorization: `Bearer ${await token('carol', 'owner')}` };
    await app.inject({ method: 'GET', url: '/api/v1/projects', headers: carol });
    const user = (await findUser(t.db, ISSUER, 'carol'))!;
    await setMembership(t.db, P1, user.id, 'viewer');
    await setMembership(t.db, P2, user.id, 'viewer');
    expect(names((await app.inject({ method: 'GET', url: '/api/v1/experiments?kind=seed', headers: carol })).json().items)).toEqual(['p1-exp', 'p2-exp']);
    await removeMembership(t.db, P2, user.id);
    expect(names((await app.inject({ method: 'GET', url: '/api/v1/experiments?kind=seed', headers: carol })).json().items)).toEqual(['p1-exp']);
    await removeMembership(t.db, P1, user.id);
    expect((await app.inject({ method: 'GET', url: '/api/v1/experiments', headers: carol })).statusCode).toBe(403);
  });

  it('row-level security alone keeps a member out of P3 and out of writes into its viewer project', async () => {
    const principal: Principal = await resolveIdentity(t.db, {
      issuer: ISSUER,
      subject: 'alice',
      role: 'owner',
      projectIds: [],
      source: 'The token',
      projectsHint: '',
    });
    expect(principal).toMatchObject({ kind: 'user', id: aliceId, userId: aliceId, role: 'owner', projectIds: [P1, P2].sort() });
    expect([...principal.projectRoles!.entries()].sort()).toEqual([[P1, 'owner'], [P2, 'viewer']].sort());
    // Raw SQL without any compiler-added scope: the policies decide.
    const seen = await t.db.withPrincipal(principal, async (tx) => {
      const { rows } = await tx.query<{ project_id: string; writable: string }>(
        `SELECT DISTINCT project_id::text AS project_id, array_to_string(lattice.current_write_project_ids(), ',') AS writable FROM app.experiment`,
      );
      return rows;
    });
    expect(seen.map((r) => r.project_id).sort()).toEqual([P1, P2].sort());
    expect(seen[0].writable).toBe(P1);
    const updated = await t.db.withPrincipal(principal, (tx) => tx.query(`UPDATE app.experiment SET name = 'rls-pwned' WHERE project_id <> $1`, [P1]));
    expect(updated.rowCount).toBe(0);
    const deleted = await t.db.withPrincipal(principal, (tx) => tx.query(`DELETE FROM app.experiment WHERE project_id <> $1`, [P1]));
    expect(deleted.rowCount).toBe(0);
    await expect(
      t.db.withPrincipal(principal, (tx) => tx.query(`INSERT INTO app.experiment (project_id, name) VALUES ($1, 'rls-insert')`, [P2])),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(
      t.db.withPrincipal(principal, (tx) => tx.query(`INSERT INTO app.experiment (project_id, name) VALUES ($1, 'rls-insert')`, [P3])),
    ).rejects.toMatchObject({ code: '42501' });
    const { rows } = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM app.experiment WHERE name IN ('rls-pwned', 'rls-insert')`);
    expect(rows[0].n).toBe(0);
  });
});

/**
 * `lattice user create|list`, `lattice member add|list|remove` and `lattice key create --expires-in|--expires-at`
 * (issue 8 item 3) against a running server on every test database, and directly on PostgreSQL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, type CreatedApiKey } from '../../src/auth/api-keys.js';
import type { MemberInfo } from '../../src/auth/memberships.js';
import type { UserInfo } from '../../src/auth/users.js';
import { runCli } from '../../src/cli/program.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe.each(TEST_KINDS)('lattice user/member against a running server on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let admin: CreatedApiKey;
  let dir: string;
  let target: string[];
  let p1: string;
  let p2: string;

  async function stored(project: string): Promise<string[]> {
    const { rows } = await t.db.query<{ m: string }>(`SELECT user_id::text || ':' || role AS m FROM lattice.memberships WHERE project_id = $1 ORDER BY 1`, [project]);
    return rows.map((r) => r.m);
  }

  beforeAll(async () => {
    t = await createTestDb(kind);
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    admin = await createApiKey(t.db, { projectId: null, role: 'admin' });
    dir = await mkdtemp(path.join(tmpdir(), 'lattice-cli-members-'));
    target = ['--url', url, '--key', admin.secret_key, '--credentials-file', path.join(dir, 'none')];
    p1 = await createProject(t.db, 'one');
    p2 = await createProject(t.db, 'two');
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates and lists users', async () => {
    const created = await cli('user', 'create', '--subject', 'auth0|ivy', '--issuer', 'https://idp.test/', '--email', 'ivy@example.com', '--json', ...target);
    expect(created.code, created.err).toBe(0);
    const ivy = JSON.parse(created.out) as UserInfo;
    expect(ivy).toMatchObject({ subject: 'auth0|ivy', issuer: 'https://idp.test/', email: 'ivy@example.com' });
    const human = await cli('user', 'create', '--subject', 'jo', ...target);
    expect(human.out).toMatch(/^Created user [0-9a-f-]{36} \(subject "jo"\)\.\nAdd it to a project: lattice member add --project <id> --user [0-9a-f-]{36} --role viewer$/);
    const dup = await cli('user', 'create', '--subject', 'jo', ...target);
    expect(dup.code).toBe(1);
    expect(dup.err).toMatch(/409 CONFLICT.*exists already/);
    const list = await cli('user', 'list', ...target);
    expect(list.out).toContain(ivy.id);
    expect(list.out).toMatch(/auth0\|ivy {2}\(issuer https:\/\/idp\.test\/\) {2}ivy@example\.com/);
  });

  it('adds members, changes a role by adding again, lists and removes them', async () => {
    const ivy = JSON.parse((await cli('user', 'create', '--subject', 'kim', '--json', ...target)).out) as UserInfo;
    const add = await cli('member', 'add', '--project', p1, '--user', ivy.id, '--role', 'viewer', ...target);
    expect(add.code, add.err).toBe(0);
    expect(add.out).toBe(`User ${ivy.id} is viewer of project ${p1}.`);
    const again = await cli('member', 'add', '--project', p1, '--user', ivy.id, '--role', 'owner', '--json', ...target);
    expect((JSON.parse(again.out) as MemberInfo).role).toBe('owner');
    expect(await stored(p1)).toEqual([`${ivy.id}:owner`]);
    const list = await cli('member', 'list', '--project', p1, ...target);
    expect(list.out).toBe(`${ivy.id}  owner   kim`);
    const removed = await cli('member', 'remove', '--project', p1, '--user', ivy.id, ...target);
    expect(removed.out).toBe(`Removed user ${ivy.id} (owner) from project ${p1}.`);
    expect(await stored(p1)).toEqual([]);
    const missing = await cli('member', 'remove', '--project', p1, '--user', ivy.id, ...target);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/404 NOT_FOUND/);
    const badId = await cli('member', 'add', '--project', 'one', '--user', ivy.id, '--role', 'viewer', ...target);
    expect(badId.code).toBe(1);
    expect(badId.err).toMatch(/option '--project <id>' argument 'one' is invalid\. expected a UUID/);
    const badRole = await cli('member', 'add', '--project', p2, '--user', ivy.id, '--role', 'admin', ...target);
    expect(badRole.err).toMatch(/Allowed choices are owner, editor, viewer/);
    expect(await stored(p2)).toEqual([]);
  });

  it('creates keys that expire: --expires-in 30d or --expires-at; key list shows expiry and last use', async () => {
    const before = Date.now();
    const k = JSON.parse((await cli('key', 'create', '--project', p1, '--role', 'viewer', '--expires-in', '30d', '--json', ...target)).out) as CreatedApiKey;
    const expiry = Date.parse(k.expires_at!);
    expect(expiry).toBeGreaterThanOrEqual(before + 30 * 86_400_000);
    expect(expiry).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000);
    const at = await cli('key', 'create', '--project', p1, '--role', 'viewer', '--expires-at', '2099-12-31', ...target);
    expect(at.code, at.err).toBe(0);
    expect(at.out).toMatch(/, expiring at 2099-12-31T00:00:00(\.0+)?(Z|\+00:00)\. The secret is shown only now:/);
    const past = await cli('key', 'create', '--project', p1, '--role', 'viewer', '--expires-at', '2001-01-01', ...target);
    expect(past.code).toBe(1);
    expect(past.err).toMatch(/400 BAD_USER_INPUT.*is not in the future/);
    const both = await cli('key', 'create', '--project', p1, '--role', 'viewer', '--expires-in', '1d', '--expires-at', '2099-12-31', ...target);
    expect(both.code).toBe(1);
    expect(both.err).toMatch(/cannot be used with option '--expires-at/);
    const badDuration = await cli('key', 'create', '--project', p1, '--role', 'viewer', '--expires-in', 'soon', ...target);
    expect(badDuration.err).toMatch(/expected a positive duration like 90m, 12h, 30d or 2w/);
    const list = await cli('key', 'list', '--project', p1, ...target);
    expect(list.out).toMatch(new RegExp(`${k.id} .* active, expires ${k.expires_at!.slice(0, 10)}.*last used never`));
  });

  it.runIf(kind === 'postgres')('acts directly on PostgreSQL with --database-url', async () => {
    const { rows } = await t.db.query<{ db: string }>('SELECT current_database() AS db');
    const dbUrl = new URL(process.env.TEST_DATABASE_URL!);
    dbUrl.pathname = `/${rows[0].db}`;
    const direct = ['--database-url', dbUrl.toString()];
    const created = await cli('user', 'create', '--subject', 'direct-user', '--json', ...direct);
    expect(created.code, created.err).toBe(0);
    const u = JSON.parse(created.out) as UserInfo;
    const add = await cli('member', 'add', '--project', p2, '--user', u.id, '--role', 'editor', ...direct);
    expect(add.code, add.err).toBe(0);
    expect(await stored(p2)).toEqual([`${u.id}:editor`]);
    expect((await cli('member', 'list', '--project', p2, ...direct)).out).toContain(`${u.id}  editor`);
    expect((await cli('user', 'list', ...direct)).out).toContain('direct-user');
    const unknown = await cli('member', 'add', '--project', p2, '--user', '01890000-0000-7000-8000-000000000000', '--role', 'viewer', ...direct);
    expect(unknown.err).toMatch(/User 01890000-0000-7000-8000-000000000000 does not exist \(list them with: lattice user list\)/);
    const dup = await cli('user', 'create', '--subject', 'direct-user', ...direct);
    expect(dup.err).toMatch(/exists already/);
    const key = await cli('key', 'create', '--project', p2, '--role', 'viewer', '--expires-at', '2001-01-01', ...direct);
    expect(key.err).toMatch(/is not in the future/);
    expect((await cli('member', 'remove', '--project', p2, '--user', u.id, ...direct)).code).toBe(0);
    expect(await stored(p2)).toEqual([]);
  });
});

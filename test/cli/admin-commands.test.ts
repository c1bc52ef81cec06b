import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, createApiKey, type CreatedApiKey } from '../../src/auth/api-keys.js';
import type { ProjectInfo } from '../../src/auth/projects.js';
import { runCli } from '../../src/cli/program.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Run the CLI in-process, capturing output. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe.each(TEST_KINDS)('lattice project/key against a running server on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let url: string;
  let admin: CreatedApiKey;
  let dir: string;
  let target: string[];

  beforeAll(async () => {
    t = await createTestDb(kind);
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    admin = await createApiKey(t.db, { projectId: null, role: 'admin' });
    dir = await mkdtemp(path.join(tmpdir(), 'lattice-cli-'));
    target = ['--url', url, '--key', admin.secret_key, '--credentials-file', path.join(dir, 'none')];
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a project and keys through the admin endpoints', async () => {
    const created = await cli('project', 'create', '--name', 'from-cli', '--json', ...target);
    expect(created.code, created.err).toBe(0);
    const project = JSON.parse(created.out) as ProjectInfo;
    expect(project.name).toBe('from-cli');
    const { rows } = await t.db.query('SELECT name FROM lattice.projects WHERE id = $1', [project.id]);
    expect(rows).toEqual([{ name: 'from-cli' }]);

    const key = await cli('key', 'create', '--project', project.id, '--role', 'editor', '--name', 'ingest', '--json', ...target);
    expect(key.code, key.err).toBe(0);
    const k = JSON.parse(key.out) as CreatedApiKey;
    expect(k).toMatchObject({ project_id: project.id, role: 'editor', name: 'ingest' });
    expect(await authenticate(t.db, `Bearer ${k.secret_key}`)).toMatchObject({ role: 'editor', projectIds: [project.id] });

    const human = await cli('key', 'create', '--project', project.id, '--role', 'viewer', ...target);
    expect(human.out).toMatch(/secret key {2}lk-sk-/);

    const listed = await cli('key', 'list', '--project', project.id, ...target);
    expect(listed.out).toContain(k.public_key);
    expect(listed.out).not.toContain(k.secret_key);

    const revoked = await cli('key', 'revoke', k.id, '--project', project.id, ...target);
    expect(revoked.code, revoked.err).toBe(0);
    expect(await authenticate(t.db, `Bearer ${k.secret_key}`)).toBeNull();
  });

  it('reads url and key from the credentials file', async () => {
    const file = path.join(dir, 'credentials');
    await writeFile(file, JSON.stringify({ url, public_key: admin.public_key, secret_key: admin.secret_key, project_id: '' }), { mode: 0o600 });
    const res = await cli('project', 'list', '--json', '--credentials-file', file);
    expect(res.code, res.err).toBe(0);
    expect(JSON.parse(res.out).length).toBeGreaterThan(0);
  });

  it('reports refusals of the server clearly (viewer key, unknown project, bad role)', async () => {
    const p = await createProject(t.db, 'guarded');
    const viewer = await createApiKey(t.db, { projectId: p, role: 'viewer' });
    const asViewer = ['--url', url, '--key', `${viewer.public_key}:${viewer.secret_key}`, '--credentials-file', path.join(dir, 'none')];
    const denied = await cli('key', 'create', '--project', p, '--role', 'editor', ...asViewer);
    expect(denied.code).toBe(1);
    expect(denied.err).toMatch(/403 FORBIDDEN/);
    const missing = await cli('key', 'create', '--project', '01890000-0000-7000-8000-000000000000', '--role', 'editor', ...target);
    expect(missing.err).toMatch(/404 NOT_FOUND/);
    const badRole = await cli('key', 'create', '--project', p, '--role', 'admin', ...target);
    expect(badRole.code).toBe(1);
    expect(badRole.err).toMatch(/Allowed choices are owner, editor, viewer/);
  });

  it.runIf(kind === 'postgres')('acts directly on PostgreSQL with --database-url', async () => {
    const { rows } = await t.db.query<{ db: string }>('SELECT current_database() AS db');
    const dbUrl = new URL(process.env.TEST_DATABASE_URL!);
    dbUrl.pathname = `/${rows[0].db}`;
    const res = await cli('project', 'create', '--name', 'direct', '--json', '--database-url', dbUrl.toString());
    expect(res.code, res.err).toBe(0);
    const { rows: found } = await t.db.query('SELECT name FROM lattice.projects WHERE id = $1', [JSON.parse(res.out).id]);
    expect(found).toEqual([{ name: 'direct' }]);
  });

  it.runIf(kind === 'pglite')('works through bin/lattice.mjs (npx lattice)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'bin/lattice.mjs'), 'project', 'create', '--name', 'via-bin', '--json', ...target], {
      cwd: dir,
    });
    expect(JSON.parse(stdout)).toMatchObject({ name: 'via-bin' });
  });
});

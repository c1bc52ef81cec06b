/**
 * `lattice project/key` with embedded PGlite and no server at the given URL: the data directory is opened
 * directly only when no process holds it; a held directory is refused (or reached through the server that
 * recorded its URL in the lock), never opened twice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { runCli } from '../../src/cli/program.js';
import { migrate } from '../../src/db/migrate/index.js';
import { acquireDataDirLock, openDb } from '../../src/db/open.js';
import { buildServer } from '../../src/server/app.js';
import { createTestDb, type TestDb } from '../support/db.js';

const NOBODY = 'http://127.0.0.1:1'; // nothing listens on port 1

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('PGlite data directory access from the CLI', () => {
  let dir: string;
  let dataDir: string;
  let none: string;
  let t: TestDb;
  let app: FastifyInstance;
  let serverUrl: string;
  let adminSecret: string;
  const savedDatabaseUrl = process.env.DATABASE_URL;

  beforeAll(async () => {
    delete process.env.DATABASE_URL;
    dir = await mkdtemp(path.join(tmpdir(), 'lattice-datadir-'));
    dataDir = path.join(dir, 'data');
    none = path.join(dir, 'no-credentials');
    t = await createTestDb('pglite');
    const db = await openDb({ dataDir });
    try {
      await migrate(db, t.model);
    } finally {
      await db.close();
    }
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    serverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    adminSecret = (await createApiKey(t.db, { projectId: null, role: 'admin' })).secret_key;
  });
  afterAll(async () => {
    if (savedDatabaseUrl !== undefined) process.env.DATABASE_URL = savedDatabaseUrl;
    await app?.close();
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('opens a free data directory directly when no server answers', async () => {
    const res = await cli('project', 'create', '--name', 'offline', '--json', '--url', NOBODY, '--data-dir', dataDir, '--credentials-file', none);
    expect(res.code, res.err).toBe(0);
    expect(res.err).toContain('using the data directory directly');
    const id = JSON.parse(res.out).id as string;
    const key = await cli('key', 'create', '--project', id, '--role', 'owner', '--json', '--url', NOBODY, '--data-dir', dataDir, '--credentials-file', none);
    expect(key.code, key.err).toBe(0);
    expect(JSON.parse(key.out)).toMatchObject({ project_id: id, role: 'owner' });
  });

  it('refuses a data directory held by a running process, without opening it', async () => {
    const lock = acquireDataDirLock(dataDir);
    try {
      const res = await cli('project', 'create', '--name', 'x', '--url', NOBODY, '--data-dir', dataDir, '--credentials-file', none);
      expect(res.code).toBe(1);
      expect(res.err).toMatch(/Refusing to open .*: it is held by a running Lattice server \(pid \d+\)/);
      expect(res.err).toContain('--url');
      // Still ours: the CLI did not take over or remove the lock.
      expect(() => acquireDataDirLock(dataDir)).toThrow(/in use by another Lattice process/);
    } finally {
      lock.release();
    }
  });

  it('goes through the server that recorded its URL in the lock', async () => {
    const lock = acquireDataDirLock(dataDir);
    lock.update({ url: serverUrl });
    try {
      const res = await cli('project', 'create', '--name', 'via-holder', '--json', '--url', NOBODY, '--key', adminSecret, '--data-dir', dataDir, '--credentials-file', none);
      expect(res.code, res.err).toBe(0);
      expect(res.err).toContain(`using the server holding the data directory, ${serverUrl}`);
      const { rows } = await t.db.query('SELECT name FROM lattice.projects WHERE id = $1', [JSON.parse(res.out).id]);
      expect(rows).toEqual([{ name: 'via-holder' }]);
    } finally {
      lock.release();
    }
  });

  it('says what to do when there is neither a server nor a data directory', async () => {
    const res = await cli('project', 'list', '--url', NOBODY, '--data-dir', path.join(dir, 'absent'), '--credentials-file', none);
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/no data directory .*absent: start one with `lattice serve`/);
  });
});

import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../../src/auth/api-keys.js';
import { bootstrap, readCredentials } from '../../src/server/bootstrap.js';
import { createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

describe.each(TEST_KINDS)('first-start bootstrap on %s (A-5)', (kind) => {
  let t: TestDb;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    t = await createTestDb(kind);
    dir = await mkdtemp(path.join(tmpdir(), 'lattice-boot-'));
    file = path.join(dir, '.lattice', 'credentials');
  });
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the default project and an admin key once, stored in a 0600 credentials file', async () => {
    const first = await bootstrap(t.db, { url: 'http://127.0.0.1:4000', credentialsFile: file });
    expect(first.created).toBe(true);
    expect(first.credentialsFile).toBe(file);
    const creds = first.credentials!;
    expect(creds).toEqual({ url: 'http://127.0.0.1:4000', public_key: expect.stringMatching(/^lk-pk-/), secret_key: expect.stringMatching(/^lk-sk-/), project_id: expect.any(String) });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(creds);

    const { rows: projects } = await t.db.query<{ id: string; name: string }>('SELECT id::text AS id, name FROM lattice.projects');
    expect(projects).toEqual([{ id: creds.project_id, name: 'default' }]);
    const { rows: keys } = await t.db.query<{ role: string; project_id: string | null; secret_hash: string }>(
      'SELECT role, project_id, secret_hash FROM lattice.api_keys',
    );
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ role: 'admin', project_id: null });
    expect(keys[0].secret_hash).not.toContain(creds.secret_key);
    expect(await authenticate(t.db, `Bearer ${creds.secret_key}`)).toMatchObject({ role: 'admin' });
  });

  it('is idempotent: later starts create nothing, re-read the file and follow a new URL', async () => {
    const before = await readCredentials(file);
    const again = await bootstrap(t.db, { url: 'http://127.0.0.1:4001', credentialsFile: file });
    expect(again.created).toBe(false);
    expect(again.stale).toBe(false);
    expect(again.credentials).toEqual({ ...before, url: 'http://127.0.0.1:4001' });
    expect((await readCredentials(file))?.url).toBe('http://127.0.0.1:4001');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const { rows } = await t.db.query<{ p: number; k: number }>(
      'SELECT (SELECT count(*) FROM lattice.projects)::int AS p, (SELECT count(*) FROM lattice.api_keys)::int AS k',
    );
    expect(rows[0]).toEqual({ p: 1, k: 1 });
  });

  it('flags a credentials file whose key this database does not know, and copes with a missing file', async () => {
    const other = path.join(dir, 'other-credentials');
    await writeFile(other, JSON.stringify({ url: 'x', public_key: 'lk-pk-nope', secret_key: 'lk-sk-nope', project_id: 'p' }));
    const stale = await bootstrap(t.db, { url: 'http://127.0.0.1:4000', credentialsFile: other });
    expect(stale).toMatchObject({ created: false, stale: true });
    const missing = await bootstrap(t.db, { url: 'http://127.0.0.1:4000', credentialsFile: path.join(dir, 'absent') });
    expect(missing).toMatchObject({ created: false, credentials: null });
  });

  // PGlite is single-process: concurrent instances are a PostgreSQL concern.
  it.runIf(kind === 'postgres')('creates exactly one default project when instances start concurrently', async () => {
    const fresh = await createTestDb(kind);
    try {
      const files = [1, 2, 3].map((i) => path.join(dir, `c${i}`));
      const results = await Promise.all(files.map((f) => bootstrap(fresh.db, { url: 'http://x', credentialsFile: f })));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const { rows } = await fresh.db.query<{ n: number }>('SELECT count(*)::int AS n FROM lattice.projects');
      expect(rows[0].n).toBe(1);
    } finally {
      await fresh.close();
    }
  });
});

/**
 * `lattice serve` in-process: first start (default project, admin key, credentials, banner), a refused second
 * server on a held PGlite data directory, an idempotent restart, and a restart with a changed model file
 * (additive change applied and served; destructive change refused) — on PGlite (on disk) and PostgreSQL.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { startServe, type ServeOptions } from '../../src/cli/serve.js';
import { readDataDirLock } from '../../src/db/open.js';
import { readCredentials } from '../../src/server/bootstrap.js';
import { createEmptyPostgresDatabase, TEST_KINDS } from '../support/db.js';

function capture(): CliIo & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l) };
}

describe.each(TEST_KINDS)('lattice serve on %s', (kind) => {
  let dir: string;
  let options: ServeOptions;
  let pgDb: { url: string; drop(): Promise<void> } | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lattice-serve-'));
    let databaseUrl: string | undefined;
    if (kind === 'postgres') {
      pgDb = await createEmptyPostgresDatabase();
      databaseUrl = pgDb.url;
    }
    options = {
      port: 0,
      host: '127.0.0.1',
      databaseUrl,
      dataDir: path.join(dir, 'data'),
      preset: 'experiments',
      demo: false,
      credentialsFile: path.join(dir, 'credentials'),
      logLevel: 'silent',
    };
  });
  afterAll(async () => {
    await pgDb?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts, bootstraps once, prints URL, key and a first query, and restarts idempotently', async () => {
    const io = capture();
    const server = await startServe(options, io);
    try {
      expect(server.bootstrap.created).toBe(true);
      const creds = (await readCredentials(options.credentialsFile))!;
      expect(creds.url).toBe(server.url);
      expect((await stat(options.credentialsFile!)).mode & 0o777).toBe(0o600);
      const banner = io.lines.join('\n');
      expect(banner).toContain(`Lattice is running at ${server.url}`);
      expect(banner).toContain(creds.secret_key);
      expect(banner).toContain(`curl -s ${server.url}/graphql -H "Authorization: Bearer ${creds.secret_key}"`);

      const health = await fetch(`${server.url}/api/health`);
      expect(health.status).toBe(200);
      const projects = await fetch(`${server.url}/api/v1/projects`, { headers: { authorization: `Bearer ${creds.secret_key}` } });
      expect((await projects.json()).items).toEqual([expect.objectContaining({ id: creds.project_id, name: 'default' })]);

      if (kind === 'pglite') {
        expect(readDataDirLock(options.dataDir)).toMatchObject({ pid: process.pid, url: server.url });
        await expect(startServe(options, capture())).rejects.toThrow(/in use by another Lattice process/);
      }
    } finally {
      await server.close();
    }
    if (kind === 'pglite') expect(readDataDirLock(options.dataDir)).toBeNull();

    const io2 = capture();
    const again = await startServe(options, io2);
    try {
      expect(again.bootstrap.created).toBe(false);
      const banner = io2.lines.join('\n');
      expect(banner).toMatch(/Admin key lk-pk-\S+ \(secret in /);
      const { secret_key } = (await readCredentials(options.credentialsFile))!;
      expect(banner).not.toContain(secret_key);
      const res = await fetch(`${again.url}/api/v1/projects`, { headers: { authorization: `Bearer ${secret_key}` } });
      expect((await res.json()).total_count).toBe(1);
    } finally {
      await again.close();
    }
  });

  it('migrate --dry-run prints the DDL; migrate reports an up-to-date database', async () => {
    const target = options.databaseUrl ? ['--database-url', options.databaseUrl] : ['--data-dir', options.dataDir];
    const io = capture();
    expect(await runCli(['migrate', '--dry-run', ...target], io)).toBe(0);
    const ddl = io.lines.join('\n');
    expect(ddl).toMatch(/dry run: nothing executed/);
    expect(ddl).toMatch(/CREATE TABLE IF NOT EXISTS "app"\."experiment"/);
    const io2 = capture();
    expect(await runCli(['migrate', ...target], io2)).toBe(0);
    expect(io2.lines.join('\n')).toMatch(/is up to date \(version 1\)/);
  });

  it('restarts with a model file that adds a field and serves it; refuses a destructive change', async () => {
    const preset = await readFile(new URL('../../presets/experiments/model.yaml', import.meta.url), 'utf8');
    // The preset's experiment entity gains an optional `owner` string.
    const added = preset.replace(/^(  experiment:\n(?:.*\n)*?    fields:\n)/m, '$1      owner: { type: string, index: true }\n');
    expect(added).not.toBe(preset);
    const modelFile = path.join(dir, 'model.yaml');
    await writeFile(modelFile, added);
    const io = capture();
    const server = await startServe({ ...options, model: modelFile }, io);
    try {
      expect(io.lines.join('\n')).toMatch(/Migrated model "experiments" to version 2/);
      const { secret_key, project_id } = (await readCredentials(options.credentialsFile))!;
      const headers = { authorization: `Bearer ${secret_key}`, 'content-type': 'application/json' };
      const created = await fetch(`${server.url}/api/v1/experiments`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ project_id, name: 'owned', owner: 'ada' }),
      });
      expect(created.status).toBe(201);
      const res = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query: '{ experiments(filter: { owner: { eq: "ada" } }) { name owner } }' }),
      });
      expect(await res.json()).toEqual({ data: { experiments: [{ name: 'owned', owner: 'ada' }] } });
    } finally {
      await server.close();
    }

    // `owner` becomes an int: refused before anything runs, with the field's path; the server does not start.
    await writeFile(modelFile, added.replace('owner: { type: string, index: true }', 'owner: { type: int }'));
    await expect(startServe({ ...options, model: modelFile }, capture())).rejects.toThrow(
      /entities\.experiment\.fields\.owner: column "owner" is text, the model says integer/,
    );
    if (kind === 'pglite') expect(readDataDirLock(options.dataDir)).toBeNull();
  });
});

/**
 * Run-time model changes from the command line and the model file (SPEC M-7): `lattice model diff|apply|show`
 * against a running `lattice serve`, a restart that keeps the version applied through the API over a
 * differing model file, and `serve --watch` applying the file as it is saved (a destructive save refused,
 * the server keeps serving). PGlite (on disk) and PostgreSQL.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { startServe, type RunningServer, type ServeOptions } from '../../src/cli/serve.js';
import { readCredentials } from '../../src/server/bootstrap.js';
import { createEmptyPostgresDatabase, TEST_KINDS } from '../support/db.js';
import { trackerDoc, trackerDocAdded } from './support.js';

function capture(): CliIo & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l) };
}

describe.each(TEST_KINDS)('lattice model and serve --watch on %s', (kind) => {
  let dir: string;
  let options: ServeOptions;
  let pgDb: { url: string; drop(): Promise<void> } | undefined;
  let databaseUrl: string | undefined;
  let server: RunningServer | undefined;
  const file = (name: string) => path.join(dir, name);

  const graphql = async (query: string) => {
    const creds = (await readCredentials(options.credentialsFile!))!;
    const res = await fetch(`${server!.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${creds.secret_key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
    return (await res.json()) as { data?: Record<string, unknown>; errors?: Array<{ message: string }> };
  };
  const cli = async (args: string[]) => {
    const io = capture();
    const creds = (await readCredentials(options.credentialsFile!))!;
    const code = await runCli([...args, '--url', server!.url, '--key', creds.secret_key], io);
    return { code, text: io.lines.join('\n') };
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lattice-model-'));
    if (kind === 'postgres') {
      pgDb = await createEmptyPostgresDatabase();
      databaseUrl = pgDb.url;
    }
    await writeFile(file('v1.yaml'), stringify(trackerDoc()));
    await writeFile(file('v2.yaml'), stringify(trackerDocAdded()));
    await writeFile(file('watched.yaml'), stringify(trackerDoc()));
    options = {
      port: 0,
      host: '127.0.0.1',
      databaseUrl,
      dataDir: file('data'),
      preset: 'experiments',
      model: file('v1.yaml'),
      demo: false,
      credentialsFile: file('credentials'),
      logLevel: 'silent',
    };
    server = await startServe(options, capture());
  });
  afterAll(async () => {
    await server?.close();
    await pgDb?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('model diff shows the changes and the DDL; model apply applies them to the running server', async () => {
    const diff = await cli(['model', 'diff', file('v2.yaml')]);
    expect(diff.code).toBe(0);
    expect(diff.text).toContain('+ entities.task.fields.priority: new field priority (int)');
    expect(diff.text).toContain('+ entities.label: new entity label (task, text)');
    expect(diff.text).toMatch(/ALTER TABLE "app"."task" ADD COLUMN "priority" integer DEFAULT '3'::integer;/);
    expect((await graphql('{ tasks { priority } }')).errors?.[0].message).toMatch(/priority/);

    const apply = await cli(['model', 'apply', file('v2.yaml')]);
    expect(apply.code).toBe(0);
    expect(apply.text).toContain('Applied model "tracker" as version 2');
    expect(await graphql('{ tasks { priority } labels { text } }')).toEqual({ data: { tasks: [], labels: [] } });
    const show = await cli(['model', 'show', '--json']);
    expect(JSON.parse(show.text)).toMatchObject({ version: 2, name: 'tracker', document: trackerDocAdded() });
  });

  it('model apply refuses a destructive file unless --allow-destructive', async () => {
    const refused = await cli(['model', 'apply', file('v1.yaml')]);
    expect(refused.code).toBe(1);
    expect(refused.text).toMatch(/409 CONFLICT.*entities\.label.*will be dropped.*--allow-destructive/s);
    expect((await graphql('{ labels { text } }')).data).toEqual({ labels: [] });
  });

  it('a restart with the old model file keeps serving the version applied through the API', async () => {
    await server!.close();
    const io = capture();
    server = await startServe(options, io);
    expect(io.lines.join('\n')).toMatch(/Serving model version 2, applied at run time .* instead of .*v1\.yaml/);
    expect(await graphql('{ labels { text } }')).toEqual({ data: { labels: [] } });
  });

  it('serve --watch applies the model file when it is saved, and keeps serving when a save is destructive', async () => {
    await server!.close();
    await writeFile(file('watched.yaml'), stringify(trackerDocAdded()));
    const io = capture();
    server = await startServe({ ...options, model: file('watched.yaml'), watch: true }, io);
    expect(io.lines.join('\n')).toContain('Watching');

    const withNotes = trackerDocAdded() as { entities: Record<string, { fields: Record<string, unknown> }> };
    withNotes.entities.board.fields.notes = { type: 'text' };
    await writeFile(file('watched.yaml'), stringify(withNotes));
    const deadline = Date.now() + 10_000;
    while ((await graphql('{ boards { notes } }')).errors && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await graphql('{ boards { notes } }')).toEqual({ data: { boards: [] } });
    expect(io.lines.join('\n')).toMatch(/watched\.yaml changed: now serving version \d+ \(new field notes \(text\)\)/);

    await writeFile(file('watched.yaml'), stringify(trackerDoc())); // drops label, priority and notes
    const until = Date.now() + 10_000;
    while (!io.lines.some((l) => l.includes('was not applied')) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(io.lines.join('\n')).toMatch(/watched\.yaml changed but was not applied \(still serving version \d+\): .*allow_destructive/);
    expect(await graphql('{ boards { notes } labels { text } }')).toEqual({ data: { boards: [], labels: [] } });
  });

  it('--watch needs a model file', async () => {
    await expect(startServe({ ...options, model: undefined, watch: true }, capture())).rejects.toThrow(/--watch .* pass --model <file>/);
  });
});

/**
 * `lattice serve --preset catalog` first start (PGlite on disk, and PostgreSQL when TEST_DATABASE_URL is set):
 * the catalog demo of Lattice's own node_modules is loaded through REST, the banner's first query works on
 * it, and `lattice demo --preset catalog` loads another folder into another project.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { startServe, type RunningServer } from '../../src/cli/serve.js';
import { demoForModel } from '../../src/demo/registry.js';
import { readCredentials } from '../../src/server/bootstrap.js';
import { createEmptyPostgresDatabase, TEST_KINDS } from '../support/db.js';
import { writeCatalogFixture, type CatalogFixture } from './catalog-fixture.js';

function capture(): CliIo & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l) };
}

describe.each(TEST_KINDS)('lattice serve --preset catalog (%s)', (kind) => {
  let dir: string;
  let pgDb: { url: string; drop(): Promise<void> } | undefined;
  let server: RunningServer;
  let fixture: CatalogFixture;
  const io = capture();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lattice-catalog-serve-'));
    fixture = await writeCatalogFixture();
    let databaseUrl: string | undefined;
    if (kind === 'postgres') {
      pgDb = await createEmptyPostgresDatabase();
      databaseUrl = pgDb.url;
    }
    server = await startServe(
      {
        port: 0,
        host: '127.0.0.1',
        databaseUrl,
        dataDir: path.join(dir, 'data'),
        preset: 'catalog',
        demo: true,
        credentialsFile: path.join(dir, 'credentials'),
        logLevel: 'silent',
      },
      io,
    );
    await server.demo;
  });

  afterAll(async () => {
    await server?.close();
    await pgDb?.drop();
    await fixture?.remove();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the real catalog on first start and prints a first query that works on it', async () => {
    const out = io.lines.join('\n');
    expect(out).toContain('Loading the demo data (cataloguing the npm packages in node_modules; --no-demo skips this)');
    expect(out).toMatch(/\[demo\] topic classifier: \d+ keyword-labelled packages, training accuracy [\d.]+, 5-fold hold-out accuracy [\d.]+/);
    const loaded = /Demo data loaded in [\d.]+ s: (\d+) records in (\d+) datasets/.exec(out);
    expect(loaded, out).not.toBeNull();
    expect(Number(loaded![1])).toBeGreaterThan(100);
    const firstQuery = demoForModel('catalog')!.firstQuery;
    expect(out).toContain(JSON.stringify({ query: firstQuery }));

    const { secret_key } = (await readCredentials(path.join(dir, 'credentials')))!;
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret_key}` },
      body: JSON.stringify({ query: firstQuery }),
    });
    const body = (await res.json()) as { data: { datasets: { name: string; records: { name: string; topic_classification: unknown }[] }[] } };
    expect(body.data.datasets).toHaveLength(3);
    expect(body.data.datasets.flatMap((d) => d.records).length).toBeGreaterThan(0);
    expect(body.data.datasets.flatMap((d) => d.records).every((r) => r.topic_classification !== null)).toBe(true);
  });

  it('lattice demo --preset catalog loads another node_modules folder into another project; unknown presets are refused', async () => {
    const credentials = path.join(dir, 'credentials');
    const create = capture();
    expect(await runCli(['project', 'create', '--name', 'fixture', '--json', '--credentials-file', credentials], create)).toBe(0);
    const project = JSON.parse(create.lines.join('\n')) as { id: string };
    const cli = capture();
    const code = await runCli(['demo', '--preset', 'catalog', '--node-modules-root', fixture.root, '--project', project.id, '--credentials-file', credentials], cli);
    expect(code, cli.lines.join('\n')).toBe(0);
    expect(cli.lines.join('\n')).toMatch(/Demo data loaded into http:\/\/127\.0\.0\.1:\d+: 7 records in 2 datasets/);

    const bad = capture();
    expect(await runCli(['demo', '--preset', 'nope', '--credentials-file', credentials], bad)).toBe(1);
    expect(bad.lines.join('\n')).toMatch(/The preset "nope" has no demo; presets with one: experiments, catalog/);
  });
});

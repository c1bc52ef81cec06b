/**
 * Guards the peers and the process measurements of `npm run bench` (issue 9 item 7): the server-process helpers
 * (start, peak RSS, CPU time), the PostGraphile settings that mirror Lattice's principal, and — when
 * bench/peers is installed — that the graphql-js + DataLoader server and PostGraphile 5 give Lattice's answers
 * on a small seeded database, with their tenancy in force. The peer checks need TEST_DATABASE_URL and
 * bench/peers/node_modules (`npm install --prefix bench/peers`); they are skipped otherwise.
 */
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGGREGATE, DASHBOARD, LIST, POINT, latticeTimestamp, type BenchCase, type CaseContext, type PostGraphileQuery } from '../../bench/cases.js';
import { dataloaderTarget, fetchJson, firstDifference, latticeTarget, postgraphileTarget } from '../../bench/load.js';
import { NODE22, PEERS_DIR, startDataLoaderServer, startPostGraphile, wantedPeers } from '../../bench/peers.js';
import { cpuTicks, PeakRss, procStatusBytes, startServerProcess, type ServerProcess } from '../../bench/processes.js';
import { principalPgSettings } from '../../bench/run.js';
import { seed } from '../../bench/seed.js';
import { createApiKey } from '../../src/auth/api-keys.js';
import { buildServer } from '../../src/server/app.js';
import { createTestDb, type TestDb } from '../support/db.js';

const url = process.env.TEST_DATABASE_URL;
const installed = (pkg: string) => existsSync(join(PEERS_DIR, 'node_modules', pkg, 'package.json'));
const hasDataLoader = installed('dataloader') && installed('graphql') && installed('pg');
const hasPostGraphile = installed('postgraphile') && existsSync(NODE22);

/** A child process that announces a fake address, then runs `body` (JavaScript). */
function fakeServer(body: string): Promise<ServerProcess> {
  return startServerProcess({
    name: 'fake',
    command: process.execPath,
    args: ['-e', `console.log('listening http://127.0.0.1:1'); ${body}`],
    timeoutMs: 20_000,
  });
}

describe('benchmark server processes', () => {
  it('starts a process, reads its announced URL, and stops it', async () => {
    const p = await fakeServer('setInterval(() => {}, 1000);');
    expect(p.url).toBe('http://127.0.0.1:1');
    expect(procStatusBytes(p.pid, 'VmRSS')).toBeGreaterThan(0);
    await p.close();
    expect(procStatusBytes(p.pid, 'VmRSS')).toBeNull();
  });

  it('says why a process exited before listening', async () => {
    await expect(
      startServerProcess({ name: 'broken', command: process.execPath, args: ['-e', 'console.error("no database"); process.exit(3)'] }),
    ).rejects.toThrow(/broken exited \(code 3\) before listening: no database/);
  });

  it('follows the peak RSS of a process that allocates, and its CPU time', async () => {
    // Allocates and touches 200 MiB after 300 ms, spinning the CPU meanwhile, then frees it 3 s later.
    const p = await fakeServer(
      'const until = Date.now() + 300; while (Date.now() < until); ' +
        'setTimeout(() => { let b = Buffer.alloc(200 * 1024 * 1024, 1); setTimeout(() => { b = null; }, 3000); }, 0); ' +
        'setInterval(() => {}, 1000);',
    );
    try {
      const before = procStatusBytes(p.pid, 'VmRSS')!;
      const peak = new PeakRss(p.pid, 20);
      peak.start();
      // Until the process holds the allocation (bounded: a loaded machine may take a while to fill 200 MiB).
      for (let waited = 0; waited < 15_000 && (procStatusBytes(p.pid, 'VmRSS') ?? 0) <= before + 150 * 2 ** 20; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const bytes = peak.stop()!;
      expect(bytes).toBeGreaterThan(before + 150 * 2 ** 20);
      expect(cpuTicks(p.pid)).toBeGreaterThan(0);
    } finally {
      await p.close();
    }
  });
});

describe('benchmark peers: configuration', () => {
  it('BENCH_PEERS selects peers, none, or all; unknown names are refused', () => {
    expect(wantedPeers(undefined)).toEqual(['postgraphile', 'dataloader']);
    expect(wantedPeers('')).toEqual(['postgraphile', 'dataloader']);
    expect(wantedPeers('none')).toEqual([]);
    expect(wantedPeers('dataloader')).toEqual(['dataloader']);
    expect(() => wantedPeers('hasura')).toThrow(/unknown peers: hasura/);
  });

  it("PostGraphile's pgSettings carry Lattice's request role and principal", () => {
    const settings = principalPgSettings({ kind: 'api_key', id: 'k', role: 'viewer', projectIds: ['0190a0a0-0000-7000-8000-000000000001'] });
    expect(settings).toMatchObject({
      role: 'lattice_request',
      'lattice.role': 'viewer',
      'lattice.project_ids': '{0190a0a0-0000-7000-8000-000000000001}',
      'lattice.write_project_ids': '{}',
      TimeZone: 'UTC',
      extra_float_digits: '1',
    });
  });

  it("maps PostGraphile's Datetime onto Lattice's timestamp format", () => {
    expect(latticeTimestamp('2026-01-01T00:01:00+00:00')).toBe('2026-01-01T00:01:00.000000Z');
    expect(latticeTimestamp('2026-01-01T02:01:00.5+02:00')).toBe('2026-01-01T00:01:00.500000Z');
  });
});

describe.skipIf(!url || !(hasDataLoader || hasPostGraphile))('benchmark peers answer as Lattice does (postgres)', () => {
  let t: TestDb;
  let app: FastifyInstance;
  let address: string;
  let auth: string;
  let dbUrl: string;
  let context: CaseContext;
  let other: string;
  const started: ServerProcess[] = [];

  beforeAll(async () => {
    t = await createTestDb('postgres');
    const seeded = await seed(t.db, t.model, { experiments: 4, trialsPerExperiment: 3, runsPerTrial: 2, stepsPerRun: 3 });
    context = { projectId: seeded.projectId, experimentId: seeded.experimentId, trialId: seeded.trialId };
    other = (await t.db.query<{ id: string }>(`INSERT INTO lattice.projects (name) VALUES ('other') RETURNING id`)).rows[0].id;
    const key = await createApiKey(t.db, { projectId: context.projectId, role: 'viewer' });
    auth = `Bearer ${key.secret_key}`;
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    address = await app.listen({ port: 0, host: '127.0.0.1' });
    const dbName = (await t.db.query<{ d: string }>('SELECT current_database() AS d')).rows[0].d;
    const u = new URL(url!);
    u.pathname = `/${dbName}`;
    dbUrl = u.toString();
  }, 60_000);

  afterAll(async () => {
    for (const p of started) await p.close();
    await app?.close();
    await t?.close();
  });

  async function expectSameAsLattice(benchCase: BenchCase, value: unknown): Promise<void> {
    const lattice = await fetchJson(latticeTarget(address, auth, benchCase, context));
    expect(firstDifference(lattice.value, value)).toBeNull();
  }

  it.skipIf(!hasDataLoader)('graphql-js + DataLoader: same answers to the experiments cases; only the named project', async () => {
    const server = await startDataLoaderServer({ url: dbUrl, vectors: 'real[]', applicationName: 'bench-peers-test' });
    started.push(server);
    for (const benchCase of [DASHBOARD, LIST, POINT, AGGREGATE]) {
      await expectSameAsLattice(benchCase, (await fetchJson(dataloaderTarget(server.url, benchCase, context))).value);
    }
    const elsewhere = await fetchJson(dataloaderTarget(server.url, DASHBOARD, { ...context, projectId: other }));
    // Asked for the seeded project while naming another one: no rows.
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-project-id': other },
      body: JSON.stringify({ query: DASHBOARD.query, variables: DASHBOARD.variables(context) }),
    });
    expect(await res.json()).toEqual({ data: { project: null } });
    expect(elsewhere.value).toEqual({ data: { project: { id: other, name: 'other', experiments: [] } } });
    const bad = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(bad.status).toBe(400);
  }, 60_000);

  it.skipIf(!hasPostGraphile)('PostGraphile 5: same answers (mapped) to dashboard, list and point, under row-level security', async () => {
    const start = (projectId: string) =>
      startPostGraphile({
        url: dbUrl,
        schemas: [t.model.dataSchema, t.model.systemSchema],
        settings: principalPgSettings({ kind: 'api_key', id: 'k', role: 'viewer', projectIds: [projectId] }),
        applicationName: 'bench-peers-test',
      });
    const server = await start(context.projectId);
    started.push(server);
    for (const benchCase of [DASHBOARD, LIST, POINT]) {
      const query = benchCase.postgraphile as PostGraphileQuery;
      const answer = await fetchJson(postgraphileTarget(server.url, query, context));
      await expectSameAsLattice(benchCase, query.toLattice(answer.value));
    }
    // The same request with another project's principal: the policies hide every row (it runs as lattice_request).
    const outsider = await start(other);
    started.push(outsider);
    const hidden = await fetchJson(postgraphileTarget(outsider.url, DASHBOARD.postgraphile as PostGraphileQuery, context));
    expect(hidden.value).toEqual({ data: { latticeProjectByRowId: null } });
  }, 120_000);
});

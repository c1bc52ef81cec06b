/**
 * Guards `npm run bench` (bench/*.ts): on a small seeded PostgreSQL database, Lattice and the hand-written
 * baseline give the same answer to every case, and the load generator measures a server.
 * PostgreSQL only (the baseline is a node-postgres pool); skipped without TEST_DATABASE_URL. The peers
 * (bench/peers, issue 9) are checked in bench-peers.test.ts.
 */
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBaseline, type BaselineServer } from '../../bench/baseline-server.js';
import { AGGREGATE, CASES, catalogCase, DASHBOARD, LIST, POINT, type CaseContext } from '../../bench/cases.js';
import { seedCatalog } from '../../bench/catalog-seed.js';
import { loadPreset } from '../../src/model/load.js';
import { baselineTarget, dataloaderTarget, fetchJson, firstDifference, latticeTarget, measure } from '../../bench/load.js';
import { PEERS_DIR, startDataLoaderServer } from '../../bench/peers.js';
import { combineRounds, median } from '../../bench/measure.js';
import { formatReport } from '../../bench/report.js';
import { measureCpuBusy } from '../../bench/run.js';
import { seed } from '../../bench/seed.js';
import { createApiKey } from '../../src/auth/api-keys.js';
import { buildServer } from '../../src/server/app.js';
import { createTestDb, type TestDb } from '../support/db.js';

const url = process.env.TEST_DATABASE_URL;
/** The graphql-js + DataLoader peer is checked when bench/peers is installed (`npm install --prefix bench/peers`). */
const hasDataLoader = ['dataloader', 'graphql', 'pg'].every((pkg) => existsSync(join(PEERS_DIR, 'node_modules', pkg, 'package.json')));

describe.skipIf(!url)('benchmark harness (postgres)', () => {
  let t: TestDb;
  let app: FastifyInstance;
  let address: string;
  let baseline: BaselineServer;
  let projectId: string;
  let context: CaseContext;
  let auth: string;

  beforeAll(async () => {
    t = await createTestDb('postgres');
    const size = { experiments: 7, trialsPerExperiment: 3, runsPerTrial: 2, stepsPerRun: 4 };
    const seeded = await seed(t.db, t.model, size);
    projectId = seeded.projectId;
    context = { projectId, experimentId: seeded.experimentId, trialId: seeded.trialId };
    expect(seeded.counts).toEqual({ projects: 1, experiments: 7, trials: 21, runs: 42, metrics: 42 * 4 * 3 });
    const key = await createApiKey(t.db, { projectId: null, role: 'admin' });
    auth = `Bearer ${key.secret_key}`;
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    address = await app.listen({ port: 0, host: '127.0.0.1' });
    const dbName = (await t.db.query<{ d: string }>('SELECT current_database() AS d')).rows[0].d;
    const dbUrl = new URL(url!);
    dbUrl.pathname = `/${dbName}`;
    baseline = await startBaseline({
      connectionString: dbUrl.toString(),
      cases: CASES.filter((c) => c.database === 'experiments'),
      context,
      poolSize: 2,
    });
  });

  afterAll(async () => {
    await app?.close();
    await baseline?.close();
    await t?.close();
  });

  it('Lattice and the baseline answer the dashboard query identically', async () => {
    const [a, b] = await Promise.all([
      fetchJson(latticeTarget(address, auth, DASHBOARD, { projectId })),
      fetchJson(baselineTarget(baseline.url, DASHBOARD, projectId)),
    ]);
    expect(firstDifference(a.value, b.value)).toBeNull();
    const project = (b.value as { data: { project: { experiments: { name: string; trials: { runs: unknown[] }[] }[] } } }).data.project;
    // 5 newest experiments, newest first, each with all its trials and runs.
    expect(project.experiments.map((e) => e.name)).toEqual(['experiment-007', 'experiment-006', 'experiment-005', 'experiment-004', 'experiment-003']);
    expect(project.experiments.every((e) => e.trials.length === 3 && e.trials.every((tr) => tr.runs.length === 2))).toBe(true);
  });

  it('Lattice and the baseline answer the grouped aggregate identically', async () => {
    const [a, b] = await Promise.all([
      fetchJson(latticeTarget(address, auth, AGGREGATE, { projectId })),
      fetchJson(baselineTarget(baseline.url, AGGREGATE, projectId)),
    ]);
    expect(firstDifference(a.value, b.value)).toBeNull();
    const groups = (b.value as { data: { metric_aggregate: { key: { step: number }; count: number }[] } }).data.metric_aggregate;
    // 4 steps, each with one test_accuracy row per run (42 runs).
    expect(groups.map((g) => g.key.step)).toEqual([1, 2, 3, 4]);
    expect(groups.every((g) => g.count === 42)).toBe(true);
    expect(AGGREGATE.describe(b.value)).toBe('4 groups over 168 rows');
  });

  it('Lattice and the baseline answer the list and point queries identically', async () => {
    for (const benchCase of [LIST, POINT]) {
      const [a, b] = await Promise.all([
        fetchJson(latticeTarget(address, auth, benchCase, context)),
        fetchJson(baselineTarget(baseline.url, benchCase, projectId)),
      ]);
      expect(firstDifference(a.value, b.value)).toBeNull();
    }
    const list = await fetchJson(latticeTarget(address, auth, LIST, context));
    const metrics = (list.value as { data: { trial_metrics: { step: number }[] } }).data.trial_metrics;
    // The seeded trial has 2 runs × 4 steps × 3 keys, all under the limit of 500, ordered by step.
    expect(metrics).toHaveLength(24);
    expect(metrics.map((m) => m.step)).toEqual([...metrics.map((m) => m.step)].sort((x, y) => x - y));
    const point = await fetchJson(latticeTarget(address, auth, POINT, context));
    expect(POINT.describe(point.value)).toBe('experiment "experiment-007"');
  });

  it('firstDifference names the path of a mismatch', () => {
    expect(firstDifference({ a: [1, { b: 2 }] }, { a: [1, { b: 3 }] })).toBe('$.a.1.b: 2 vs 3');
    expect(firstDifference({ a: 1 }, { a: 1 })).toBeNull();
    // Floating-point sums in another order differ in the last bits only.
    expect(firstDifference({ avg: 0.1 + 0.2 }, { avg: 0.3 })).toBeNull();
    expect(firstDifference({ avg: 0.3001 }, { avg: 0.3 })).toBe('$.avg: 0.3001 vs 0.3');
  });

  it('the baseline refuses bad parameters', async () => {
    expect((await fetch(`${baseline.url}/dashboard?project_id=not-a-uuid`)).status).toBe(400);
    expect((await fetch(`${baseline.url}/nope?project_id=${projectId}`)).status).toBe(404);
  });

  it('the baseline survives the server ending its idle connections (no uncaught pool error)', async () => {
    // Before the pool had an 'error' listener, an idle connection ended by the server (restart,
    // pg_terminate_backend, or DROP DATABASE … WITH (FORCE) racing pool.end()) crashed the process; vitest
    // reports that as an unhandled error and fails the run.
    const before = await fetch(`${baseline.url}/dashboard?project_id=${projectId}`);
    expect(before.status).toBe(200);
    const { rows } = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = $1 AND datname = current_database()) k`,
      ['lattice-bench-baseline'],
    );
    expect(rows[0].n).toBeGreaterThan(0);
    // Let the FATAL message reach the idle client, then the pool opens a fresh connection.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = await fetch(`${baseline.url}/dashboard?project_id=${projectId}`);
    expect(after.status).toBe(200);
  });

  it('measures a server under load and formats the report', async () => {
    const result = await measure(baselineTarget(baseline.url, DASHBOARD, projectId), { connections: 2, duration: 1, warmup: 0 });
    expect(result.requests).toBeGreaterThan(0);
    expect(result.requestsPerSecond).toBeGreaterThan(0);
    expect(result.p99).toBeGreaterThanOrEqual(result.p50);
    const server = (id: 'baseline' | 'lattice' | 'dataloader', rate: number, rss: number | null) => ({
      server: id,
      load: { ...result, requestsPerSecond: rate },
      cpuMsPerRequest: 1.25,
      postgresCpuMsPerRequest: null,
      peakRssBytes: rss,
    });
    const report = {
      date: '2026-01-01T00:00:00Z',
      node: 'v20',
      postgres: 'PostgreSQL 15',
      cpus: '2 × CPU',
      cpuCount: 2,
      cpuBusyAtStart: 0.6,
      data: ['experiments: 1 project, 7 experiments, 21 trials, 42 runs, 504 metrics (seeded and analysed in 1.0 s)'],
      connections: 2,
      duration: 1,
      warmup: 0,
      rounds: 2,
      peers: ['PostGraphile: skipped: postgraphile not installed in bench/peers (offline)'],
      cases: [
        {
          id: 'dashboard',
          title: DASHBOARD.title,
          answer: '46 objects',
          answerBytes: 2048,
          servers: [server('baseline', 200, 100 * 2 ** 20), server('lattice', 100, 150 * 2 ** 20), server('dataloader', 50, null)],
          roundRatios: { baseline: [0.5, 0.52], dataloader: [2, 2.1] },
          notMeasured: [{ server: 'postgraphile' as const, reason: 'skipped: not installed' }],
        },
      ],
    };
    const md = formatReport(report);
    // Summary: one req/s column per server that ran, then Lattice's ratio to each other server.
    expect(md).toContain('| Query | hand-written req/s | Lattice req/s | graphql-js + DataLoader req/s | Lattice / hand-written | Lattice / graphql-js + DataLoader |');
    expect(md).toContain('| dashboard | 200.0 | 100.0 | 50.0 | **0.50×** | 2.00× |');
    expect(md).toContain('| dashboard | 100 | 150 | n/a |'); // peak RSS in MiB
    expect(md).toContain('## dashboard: nested: project → 5 newest experiments');
    expect(md).toContain('| Lattice | 100.0 |');
    expect(md).toMatch(/\| Lattice \| 100\.0 \| [\d.]+ \| [\d.]+ \| 1\.25 \| n\/a \| 150 \|/);
    expect(md).toContain('46 objects, 2.0 KiB of JSON');
    expect(md).toContain('504 metrics');
    expect(md).toContain('Lattice / hand-written per round: 0.50×, 0.52×');
    expect(md).toContain('Lattice / graphql-js + DataLoader per round: 2.00×, 2.10×');
    expect(md).toContain('- PostGraphile 5: n/a — skipped: not installed');
    expect(md).toContain('- PostGraphile: skipped: postgraphile not installed in bench/peers (offline)');
    expect(md).toContain('then 2 rounds of 1 s per server, the order rotating');
    expect(md).toMatch(/CPU busy in the second before the run: 60 % of 2 CPUs — \*\*the machine was busy/);
    expect(formatReport({ ...report, cpuBusyAtStart: 0.05 })).not.toMatch(/machine was busy/);
  });

  it('measures CPU busy time as a share of all CPUs', async () => {
    const busy = await measureCpuBusy(200);
    expect(busy).toBeGreaterThanOrEqual(0);
    expect(busy).toBeLessThanOrEqual(1);
    // Spinning this thread for the whole interval makes at least one CPU of os.cpus().length busy.
    const spin = measureCpuBusy(300);
    const until = Date.now() + 280;
    while (Date.now() < until);
    expect(await spin).toBeGreaterThanOrEqual(0.8 / os.cpus().length);
  });

  it('combines rounds by median (rate and latencies) and sum (requests, seconds)', () => {
    const r = (rps: number, p50: number) => ({ name: 'x', requestsPerSecond: rps, p50, p99: p50 * 2, requests: rps * 5, seconds: 5 });
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(combineRounds([r(100, 10), r(300, 30), r(200, 20)])).toEqual({
      name: 'x',
      requestsPerSecond: 200,
      p50: 20,
      p99: 40,
      requests: 3000,
      seconds: 15,
    });
  });
});

describe.skipIf(!url)('benchmark harness: the catalog case (postgres)', () => {
  let t: TestDb;
  let app: FastifyInstance;
  let baseline: BaselineServer;
  let context: CaseContext;
  let address: string;
  let auth: string;

  beforeAll(async () => {
    t = await createTestDb('postgres', await loadPreset('catalog'));
    const key = await createApiKey(t.db, { projectId: null, role: 'admin' });
    auth = `Bearer ${key.secret_key}`;
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    address = await app.listen({ port: 0, host: '127.0.0.1' });
    const seeded = await seedCatalog(t.db, t.model, address, auth, 2);
    context = seeded.context;
    expect(seeded.description).toMatch(/real packages from node_modules .* replicated 2× to [\d,]+ records/);
    const dbName = (await t.db.query<{ d: string }>('SELECT current_database() AS d')).rows[0].d;
    const dbUrl = new URL(url!);
    dbUrl.pathname = `/${dbName}`;
    // This server has no pgvector: vectors are real[] and the baseline uses Lattice's distance function.
    baseline = await startBaseline({ connectionString: dbUrl.toString(), cases: [catalogCase('real[]')], context, poolSize: 2 });
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await baseline?.close();
    await t?.close();
  });

  it('replicates every record with its topic classification under new ids', async () => {
    const { rows } = await t.db.query<{ records: number; topics: number; specs: number; vector: number[] }>(
      `SELECT (SELECT count(*)::int FROM app.record) AS records, (SELECT count(*)::int FROM app.topic_classification) AS topics,
              (SELECT count(DISTINCT spec)::int FROM app.record) AS specs`,
    );
    expect(rows[0].records).toBeGreaterThan(100);
    expect(rows[0].topics).toBe(rows[0].records);
    expect(rows[0].specs).toBe(rows[0].records);
    expect(context.queryVector).toHaveLength(256);
  });

  it('Lattice and the baseline answer the search + filter + nearest query identically', async () => {
    const benchCase = catalogCase('real[]');
    const [a, b] = await Promise.all([
      fetchJson(latticeTarget(address, auth, benchCase, context)),
      fetchJson(baselineTarget(baseline.url, benchCase, context.projectId)),
    ]);
    expect(firstDifference(a.value, b.value)).toBeNull();
    const records = (b.value as { data: { records: { license: string; _distance: number; topic_classification: { confidence: number } }[] } }).data.records;
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => r.license === 'MIT' && r.topic_classification.confidence > 0.5)).toBe(true);
    const distances = records.map((r) => r._distance);
    expect(distances).toEqual([...distances].sort((x, y) => x - y));
  });

  it.skipIf(!hasDataLoader)('the graphql-js + DataLoader peer answers the catalog query as Lattice does', async () => {
    const dbName = (await t.db.query<{ d: string }>('SELECT current_database() AS d')).rows[0].d;
    const dbUrl = new URL(url!);
    dbUrl.pathname = `/${dbName}`;
    const peer = await startDataLoaderServer({ url: dbUrl.toString(), vectors: 'real[]', applicationName: 'bench-test-dataloader' });
    try {
      const benchCase = catalogCase('real[]');
      const [a, b] = await Promise.all([fetchJson(latticeTarget(address, auth, benchCase, context)), fetchJson(dataloaderTarget(peer.url, benchCase, context))]);
      expect(firstDifference(a.value, b.value)).toBeNull();
      expect((b.value as { data: { records: unknown[] } }).data.records.length).toBeGreaterThan(0);
    } finally {
      await peer.close();
    }
  }, 60_000);
});

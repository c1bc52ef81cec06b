/**
 * Guards the benchmark's PGlite side (bench/pglite-server.ts, bench/pglite.ts, bench/pglite-report.ts, issue 9
 * "on PGlite, the same queries within 2× of PostgreSQL"): the PGlite bench server, started as its own process
 * on a temporary data directory with a tiny seed, reports its context and answers the dashboard, list and point
 * cases; the runner checks and measures it; answers compare modulo ids; the report's table. Runs without
 * PostgreSQL; with TEST_DATABASE_URL it also compares the answers with Lattice on PostgreSQL seeded alike.
 */
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASES, DASHBOARD, LIST, LIST_LIMIT, POINT, type CaseContext } from '../../bench/cases.js';
import { fetchJson, latticeTarget } from '../../bench/load.js';
import type { CaseResult } from '../../bench/measure.js';
import { compareModuloIds, CUT_LIST_MATCH, measurePgliteCases, pgliteWanted, startPgliteServer, withoutIds, type PgliteServer } from '../../bench/pglite.js';
import { parseSeedSize } from '../../bench/pglite-server.js';
import { formatPgliteSection } from '../../bench/pglite-report.js';
import { seed } from '../../bench/seed.js';
import { createApiKey } from '../../src/auth/api-keys.js';
import { buildServer } from '../../src/server/app.js';
import { createTestDb, type TestDb } from '../support/db.js';

const SIZE = { experiments: 6, trialsPerExperiment: 3, runsPerTrial: 2, stepsPerRun: 4 };

const pgUrl = process.env.TEST_DATABASE_URL;

describe('PGlite bench server', () => {
  let server: PgliteServer;
  // Lattice on PostgreSQL seeded alike (with TEST_DATABASE_URL), in this process.
  let t: TestDb | undefined;
  let app: FastifyInstance | undefined;
  let pg: { url: string; auth: string; context: CaseContext };

  beforeAll(async () => {
    server = await startPgliteServer({ size: SIZE, compiled: false, timeoutMs: 170_000 });
    if (!pgUrl) return;
    t = await createTestDb('postgres');
    const seeded = await seed(t.db, t.model, SIZE);
    const key = await createApiKey(t.db, { projectId: seeded.projectId, role: 'viewer' });
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    pg = {
      url: await app.listen({ port: 0, host: '127.0.0.1' }),
      auth: `Bearer ${key.secret_key}`,
      context: { projectId: seeded.projectId, experimentId: seeded.experimentId, trialId: seeded.trialId },
    };
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    await t?.close();
    await server?.close();
  });

  it('seeds its own PGlite database and reports the context of the cases', () => {
    expect(server.info.counts).toEqual({ projects: 1, experiments: 6, trials: 18, runs: 36, metrics: 36 * 4 * 3 });
    expect(server.info.auth).toMatch(/^Bearer lk-sk-/);
    expect(server.info.context.experimentId).toMatch(/^[0-9a-f-]{36}$/);
    expect(server.info.context.trialId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers the dashboard, list and point cases with the viewer key', async () => {
    const get = async (c: typeof DASHBOARD) => (await fetchJson(latticeTarget(server.process.url, server.info.auth, c, server.info.context))).value;
    const dashboard = (await get(DASHBOARD)) as { data: { project: { experiments: { name: string; trials: { runs: unknown[] }[] }[] } } };
    expect(dashboard.data.project.experiments.map((e) => e.name)).toEqual(['experiment-006', 'experiment-005', 'experiment-004', 'experiment-003', 'experiment-002']);
    expect(dashboard.data.project.experiments.every((e) => e.trials.length === 3 && e.trials.every((t) => t.runs.length === 2))).toBe(true);
    const list = (await get(LIST)) as { data: { trial_metrics: { step: number }[] } };
    expect(list.data.trial_metrics).toHaveLength(2 * 4 * 3);
    expect(list.data.trial_metrics.map((m) => m.step)).toEqual([...list.data.trial_metrics.map((m) => m.step)].sort((a, b) => a - b));
    const point = (await get(POINT)) as { data: { experiment: { id: string; name: string } } };
    expect(point.data.experiment).toMatchObject({ id: server.info.context.experimentId, name: 'experiment-006' });
  });

  it('the runner checks and measures it, skipping cases it does not serve', async () => {
    const cases = CASES.filter((c) => c.database === 'experiments');
    // Itself as the reference: the check and the measurement path, without PostgreSQL.
    const reference = { url: server.process.url, auth: server.info.auth, context: server.info.context };
    const r = await measurePgliteCases(server, cases, reference, { connections: 2, duration: 1, warmup: 0, rounds: 1 }, () => undefined);
    expect(r.cases.map((c) => c.id)).toEqual(['dashboard', 'list', 'point']);
    expect(r.skipped.map((s) => s.id)).toEqual(['aggregate']);
    for (const c of r.cases) {
      expect(c.comparison).toBe('equal modulo ids');
      expect(c.load.requests).toBeGreaterThan(0);
      expect(c.peakRssBytes).toBeGreaterThan(0);
    }
  }, 60_000);

  it.skipIf(!pgUrl).each([DASHBOARD, LIST, POINT])('$id: the same answer as Lattice on PostgreSQL, modulo ids', async (c) => {
    const [a, b] = [
      await fetchJson(latticeTarget(pg.url, pg.auth, c, pg.context)),
      await fetchJson(latticeTarget(server.process.url, server.info.auth, c, server.info.context)),
    ];
    expect(compareModuloIds(c.id, a.value, b.value)).toMatch(/^equal modulo ids/);
  });

  it('stops and removes its data directory on close', async () => {
    expect(existsSync(`${server.dir}/data`)).toBe(true);
    await server.close();
    expect(existsSync(server.dir)).toBe(false);
    expect(existsSync(`/proc/${server.process.pid}`)).toBe(false);
  });
});

describe('answers compared modulo ids', () => {
  const a = { data: { xs: [{ id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', step: 1, v: 0.5 }, { id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c', step: 1, v: 0.7 }] } };

  it('ignores ids, then the order of tied rows, but not a value', () => {
    expect(withoutIds(a)).toEqual({ data: { xs: [{ id: '<id>', step: 1, v: 0.5 }, { id: '<id>', step: 1, v: 0.7 }] } });
    const otherIds = { data: { xs: a.data.xs.map((x, i) => ({ ...x, id: `0290a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5${i}` })) } };
    expect(compareModuloIds('t', a, otherIds)).toBe('equal modulo ids');
    const swapped = { data: { xs: [...otherIds.data.xs].reverse() } };
    expect(compareModuloIds('t', a, swapped)).toBe('equal modulo ids and the order of rows tied on the sort key');
    const changed = { data: { xs: [otherIds.data.xs[0], { ...otherIds.data.xs[1], v: 0.8 }] } };
    expect(() => compareModuloIds('t', a, changed)).toThrow(/t: Lattice on PGlite and on PostgreSQL answer differently.*\$\.data\.xs/);
  });
});

describe('the list case compared with its cut step group', () => {
  // LIST_LIMIT of a trial's metrics ordered by step, 15 per step (5 runs × 3 keys), ties by id: the limit cuts
  // the last step's group, and which of its 15 rows it keeps depends on the ids, which differ per database.
  const uuid = (db: number, i: number) => `0190a1b2-c3d4-7e5f-8a9b-${db}${String(i).padStart(11, '0')}`;
  const rowsOf = (db: number, order: (i: number) => number) =>
    Array.from({ length: Math.ceil(LIST_LIMIT / 15) * 15 }, (_, i) => ({ step: Math.floor(i / 15), key: `k${i % 3}`, value: (i % 15) / 10 }))
      .map((r, i) => ({ ...r, order: order(i) }))
      .sort((x, y) => x.step - y.step || x.order - y.order)
      .slice(0, LIST_LIMIT)
      .map(({ order: _, ...r }, i) => ({ id: uuid(db, i), ...r }));
  type Row = { id: string; step: number; key: string; value: number };
  const answer = (rows: Row[]) => ({ data: { trial_metrics: rows } });
  const postgres = answer(rowsOf(1, (i) => i));
  const pglite = answer(rowsOf(2, (i) => -i)); // the same rows, ties in the opposite id order

  it('accepts rows tied on step in another order and other rows of the cut step', () => {
    const lastStep = Math.floor((LIST_LIMIT - 1) / 15);
    const cutRows = (a: { data: { trial_metrics: Row[] } }) =>
      a.data.trial_metrics.filter((m) => m.step === lastStep).map((m) => m.value).sort();
    expect(cutRows(postgres)).not.toEqual(cutRows(pglite)); // the cut group really holds other rows
    expect(compareModuloIds('list', postgres, pglite)).toBe(CUT_LIST_MATCH);
    expect(compareModuloIds('list', postgres, postgres)).toBe('equal modulo ids');
  });

  it('still fails on a changed value, a shorter list, another count in the cut step, or outside the list', () => {
    const edit = (f: (rows: Row[]) => void) => {
      const copy = structuredClone(pglite);
      f(copy.data.trial_metrics);
      return copy;
    };
    expect(() => compareModuloIds('list', postgres, edit((r) => (r[3].value = 9)))).toThrow(/answer differently.*trial_metrics\[0\.\.\] \(step group 1\)/);
    expect(() => compareModuloIds('list', postgres, edit((r) => r.pop()))).toThrow(/trial_metrics: length 500 vs 499/);
    expect(() => compareModuloIds('list', postgres, edit((r) => (r[r.length - 1].step += 1)))).toThrow(/step group 34\): step 33 × 5 vs 33 × 4/);
    expect(() => compareModuloIds('list', postgres, { ...pglite, errors: [] })).toThrow(/keys/);
    // A list shorter than the limit was not cut: its last group is compared row by row too.
    const short = (a: typeof postgres) => answer(a.data.trial_metrics.filter((m) => m.step < 2));
    expect(compareModuloIds('list', short(postgres), short(pglite))).toBe(CUT_LIST_MATCH);
    const shortEdited = short(pglite);
    shortEdited.data.trial_metrics[29].value = 9;
    expect(() => compareModuloIds('list', short(postgres), shortEdited)).toThrow(/step group 2\)/);
  });
});

describe('PGlite bench settings', () => {
  it('BENCH_PGLITE is off unless set to 1, and rejects other values', () => {
    expect(pgliteWanted(undefined)).toBe(false);
    expect(pgliteWanted('0')).toBe(false);
    expect(pgliteWanted('1')).toBe(true);
    expect(() => pgliteWanted('maybe')).toThrow(/BENCH_PGLITE must be 1 or 0/);
  });

  it('BENCH_PGLITE_SEED is a seed size of positive integers', () => {
    expect(parseSeedSize(JSON.stringify(SIZE))).toEqual(SIZE);
    expect(() => parseSeedSize('{"experiments":0,"trialsPerExperiment":1,"runsPerTrial":1,"stepsPerRun":1}')).toThrow(/experiments must be a positive integer/);
  });
});

describe('PGlite vs PostgreSQL report table', () => {
  it('shows both servers per case with the ratio against the 0.5× goal', () => {
    const load = (rps: number) => ({ name: 'x', requestsPerSecond: rps, p50: 5, p99: 9, requests: rps * 5, seconds: 5 });
    const pgCase = (id: string, rps: number): CaseResult => ({
      id,
      title: id,
      answer: '1 object',
      answerBytes: 100,
      servers: [{ server: 'lattice', load: load(rps), cpuMsPerRequest: 1, postgresCpuMsPerRequest: 0.5, peakRssBytes: 100 * 2 ** 20 }],
      roundRatios: {},
      notMeasured: [],
    });
    const md = formatPgliteSection(
      {
        data: 'PGlite: the same data',
        cases: [
          { id: 'point', comparison: 'equal modulo ids', load: load(600), cpuMsPerRequest: 3, peakRssBytes: 300 * 2 ** 20 },
          { id: 'list', comparison: 'equal modulo ids', load: load(40), cpuMsPerRequest: 20, peakRssBytes: 400 * 2 ** 20 },
        ],
        skipped: [{ id: 'aggregate', reason: 'not measured on PGlite' }],
      },
      [pgCase('point', 1000), pgCase('list', 100)],
    ).join('\n');
    expect(md).toContain('## PGlite vs PostgreSQL');
    expect(md).toContain('| point | 1,000.0 | 600.0 | **0.60×** | 5.0 / 5.0 | 9.0 / 9.0 | 1.50 / 3.00 | 100 / 300 |');
    expect(md).toContain('| list | 100.0 | 40.0 | **0.40×** (below goal) |');
    expect(md).toContain('- aggregate: n/a — not measured on PGlite');
    expect(formatPgliteSection(null, [])).toEqual([]);
  });
});

/**
 * `npm run bench` (SPEC §8 "Performance"): seed PostgreSQL, then measure side by side in one run Lattice
 * (in-process, GraphQL over HTTP, admin API key) and the baseline (bare node:http + one hand-written SQL
 * statement) answering the same queries: every case of `bench/cases.ts`. Prints markdown tables and writes
 * them to `bench/results/latest.md`.
 *
 * Environment: BENCH_DATABASE_URL || TEST_DATABASE_URL || postgres://postgres@127.0.0.1:5432/postgres (a server
 * where the user may create databases; `lattice_bench` and `lattice_bench_catalog` are dropped and recreated),
 * BENCH_CASES (comma-separated case ids, default all), BENCH_CONNECTIONS (10), BENCH_DURATION (5 s),
 * BENCH_WARMUP (3 s), BENCH_ROUNDS (3).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { createApiKey } from '../src/auth/api-keys.js';
import { migrate } from '../src/db/migrate/index.js';
import { openDb } from '../src/db/open.js';
import type { Db } from '../src/db/types.js';
import { loadPreset } from '../src/model/load.js';
import { buildServer } from '../src/server/app.js';
import type { Model } from '../src/model/types.js';
import { startBaseline } from './baseline-server.js';
import { CASES, catalogCase, type BenchCase, type CaseContext } from './cases.js';
import { seedCatalog } from './catalog-seed.js';
import { baselineTarget, fetchJson, firstDifference, latticeTarget, measure, type LoadResult } from './load.js';
import { createFreshDatabase, DEFAULT_SEED_SIZE, seed } from './seed.js';

const DB_NAME = 'lattice_bench';
const RESULTS_FILE = fileURLToPath(new URL('./results/latest.md', import.meta.url));

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got '${raw}'`);
  return value;
}

const fmt = (n: number, digits = 1): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const int = (n: number): string => n.toLocaleString('en-US');

/** Measured result of one case. */
export interface CaseResult {
  readonly id: string;
  readonly title: string;
  /** Short description of the answer (e.g. "606 objects"). */
  readonly answer: string;
  readonly answerBytes: number;
  /** Lattice / baseline requests/s of each round, in round order. */
  readonly roundRatios: readonly number[];
  /** Medians over the rounds (requests and seconds: sums). */
  readonly lattice: LoadResult;
  readonly baseline: LoadResult;
}

/** Everything the report needs. */
export interface BenchReport {
  readonly date: string;
  readonly node: string;
  readonly postgres: string;
  readonly cpus: string;
  /**
   * Share of all CPUs' time spent busy (0–1) during one second measured just before the benchmark: other
   * work competing for the CPUs. (The load average is not used: on this kind of VM it stays near 2–4 while
   * the CPUs are 99 % idle.)
   */
  readonly cpuBusyAtStart: number;
  readonly cpuCount: number;
  /** One line per seeded database: what it holds and how long seeding took. */
  readonly data: readonly string[];
  readonly connections: number;
  readonly duration: number;
  readonly warmup: number;
  /** Measured rounds per server and case (the servers alternate; see `runBench`). */
  readonly rounds: number;
  readonly cases: readonly CaseResult[];
}

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One result from several rounds of one server: medians of rate and latencies, sums of requests and time. */
export function combineRounds(results: readonly LoadResult[]): LoadResult {
  return {
    name: results[0].name,
    requestsPerSecond: median(results.map((r) => r.requestsPerSecond)),
    p50: median(results.map((r) => r.p50)),
    p99: median(results.map((r) => r.p99)),
    requests: results.reduce((n, r) => n + r.requests, 0),
    seconds: results.reduce((n, r) => n + r.seconds, 0),
  };
}

/** Above this share of busy CPU time before the run, the report warns that its numbers are unreliable. */
const BUSY_THRESHOLD = 0.25;

/**
 * Share (0–1) of all CPUs' time spent not idle during `ms` milliseconds, from `os.cpus()` tick counters.
 * @param ms sampling interval in milliseconds
 */
export async function measureCpuBusy(ms = 1000): Promise<number> {
  const totals = () =>
    os.cpus().reduce(
      (acc, c) => {
        const t = c.times;
        acc.all += t.user + t.nice + t.sys + t.idle + t.irq;
        acc.idle += t.idle;
        return acc;
      },
      { all: 0, idle: 0 },
    );
  const a = totals();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = totals();
  const all = b.all - a.all;
  return all > 0 ? Math.min(1, Math.max(0, 1 - (b.idle - a.idle) / all)) : 0;
}

/** The markdown report (summary table first, then each case, then the set-up). */
export function formatReport(r: BenchReport): string {
  const ratio = (a: number, b: number): string => (b > 0 ? `${fmt(a / b, 2)}×` : 'n/a');
  const lines = [
    '# Lattice benchmark — latest run',
    '',
    '| Query | Baseline req/s | Lattice req/s | **Lattice / baseline** | p50 ratio | p99 ratio |',
    '|---|---:|---:|---:|---:|---:|',
    ...r.cases.map(
      (c) =>
        `| ${c.id} | ${fmt(c.baseline.requestsPerSecond)} | ${fmt(c.lattice.requestsPerSecond)} | ` +
        `**${ratio(c.lattice.requestsPerSecond, c.baseline.requestsPerSecond)}** | ${ratio(c.lattice.p50, c.baseline.p50)} | ` +
        `${ratio(c.lattice.p99, c.baseline.p99)} |`,
    ),
    '',
  ];
  for (const c of r.cases) {
    lines.push(
      `## ${c.id}: ${c.title}`,
      '',
      '| Server | Requests/s | p50 latency (ms) | p99 latency (ms) | Requests |',
      '|---|---:|---:|---:|---:|',
      ...[c.baseline, c.lattice].map((x) => `| ${x.name} | ${fmt(x.requestsPerSecond)} | ${fmt(x.p50)} | ${fmt(x.p99)} | ${int(x.requests)} |`),
      '',
      `- Answer: ${c.answer}, ${fmt(c.answerBytes / 1024)} KiB of JSON; both answers parsed and deep-equal before measuring`,
      `- Lattice / baseline per round: ${c.roundRatios.map((x) => `${fmt(x, 2)}×`).join(', ')}`,
      '',
    );
  }
  lines.push(
    '## Set-up',
    '',
    `- Date: ${r.date}`,
    `- Node ${r.node}; ${r.postgres}; ${r.cpus}`,
    ...r.data.map((d) => `- Data: ${d}`),
    `- Load: autocannon, ${r.connections} connections; ${r.warmup} s warm-up per server and case, then ${r.rounds} rounds of ` +
      `${r.duration} s per server, alternating which server goes first; medians of the rounds in the tables; ` +
      'both servers in the same process, load generated in a worker thread',
    '- Lattice: in-process `buildServer`, GraphQL POST with an admin API key (authentication, row-level security ' +
      'transaction, one SQL statement); baseline: bare `node:http`, GET, one hand-written SQL statement, no auth',
    `- CPU busy in the second before the run: ${fmt(r.cpuBusyAtStart * 100, 0)} % of ${r.cpuCount} CPUs` +
      (r.cpuBusyAtStart > BUSY_THRESHOLD
        ? ' — **the machine was busy with other work; absolute numbers and ratios are unreliable, run again on a quiet machine**'
        : ''),
    '',
  );
  return lines.join('\n');
}

/** One seeded database with a Lattice server and a baseline server over it. */
interface Fixture {
  readonly context: CaseContext;
  readonly latticeUrl: string;
  readonly auth: string;
  readonly baselineUrl: string;
}

/** Load-test options shared by every case. */
interface MeasureOptions {
  readonly connections: number;
  readonly duration: number;
  readonly warmup: number;
  readonly rounds: number;
}

/**
 * Check that Lattice and the baseline give the same answer to a case, then measure both in alternating rounds.
 * @throws Error when the answers differ or a request fails under load
 */
export async function measureCase(benchCase: BenchCase, f: Fixture, o: MeasureOptions, log: (line: string) => void): Promise<CaseResult> {
  const lattice = latticeTarget(f.latticeUrl, f.auth, benchCase, f.context);
  const base = baselineTarget(f.baselineUrl, benchCase, f.context.projectId);
  const [a, b] = await Promise.all([fetchJson(lattice), fetchJson(base)]);
  const diff = firstDifference(a.value, b.value);
  if (diff) throw new Error(`${benchCase.id}: Lattice and the baseline answer differently; first difference at ${diff}`);
  const answer = benchCase.describe(b.value);
  log(`${benchCase.id}: both answers equal (${answer}); ${o.warmup} s warm-up each, then ${o.rounds} rounds of ${o.duration} s ...`);
  // Alternating rounds spread slow drifts of the machine (other tenants, PostgreSQL's caches, the JIT) over
  // both servers instead of charging them to whichever runs second.
  const results = { baseline: [] as LoadResult[], lattice: [] as LoadResult[] };
  const roundRatios: number[] = [];
  for (const target of [base, lattice]) await measure(target, { connections: o.connections, duration: o.warmup, warmup: 0 });
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? (['baseline', 'lattice'] as const) : (['lattice', 'baseline'] as const);
    for (const name of order) {
      results[name].push(await measure(name === 'baseline' ? base : lattice, { connections: o.connections, duration: o.duration, warmup: 0 }));
    }
    const r = results.lattice[round].requestsPerSecond / results.baseline[round].requestsPerSecond;
    roundRatios.push(r);
    log(
      `  round ${round + 1}: baseline ${fmt(results.baseline[round].requestsPerSecond)} req/s, ` +
        `lattice ${fmt(results.lattice[round].requestsPerSecond)} req/s (${fmt(r, 2)}×)`,
    );
  }
  return {
    id: benchCase.id,
    title: benchCase.title,
    answer,
    answerBytes: b.bytes,
    roundRatios,
    lattice: combineRounds(results.lattice),
    baseline: combineRounds(results.baseline),
  };
}

/**
 * Run the whole benchmark: every case of `CASES` (or those named in `BENCH_CASES`, comma-separated).
 * @throws Error when PostgreSQL is unreachable, two answers differ, or any request fails under load
 */
export async function runBench(log: (line: string) => void = console.log): Promise<BenchReport> {
  const cpuBusyAtStart = await measureCpuBusy();
  const adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const o: MeasureOptions = {
    connections: envNumber('BENCH_CONNECTIONS', 10),
    duration: envNumber('BENCH_DURATION', 5),
    warmup: envNumber('BENCH_WARMUP', 3),
    rounds: Math.max(1, Math.round(envNumber('BENCH_ROUNDS', 3))),
  };
  const wanted = (process.env.BENCH_CASES ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = wanted.filter((w) => !CASES.some((c) => c.id === w));
  if (unknown.length) throw new Error(`BENCH_CASES names unknown cases: ${unknown.join(', ')}; known: ${CASES.map((c) => c.id).join(', ')}`);
  const cases = CASES.filter((c) => wanted.length === 0 || wanted.includes(c.id));

  const closers: (() => Promise<unknown>)[] = [];
  const data: string[] = [];
  const results: CaseResult[] = [];
  let version = '';
  try {
    for (const database of ['experiments', 'catalog'] as const) {
      const here = cases.filter((c) => c.database === database);
      if (here.length === 0) continue;
      const dbName = database === 'experiments' ? DB_NAME : `${DB_NAME}_catalog`;
      log(`Creating database ${dbName} on ${new URL(adminUrl).host} ...`);
      const url = await createFreshDatabase(adminUrl, dbName);
      const db = await openDb({ url });
      closers.push(() => db.close());
      const model = await loadPreset(database);
      await migrate(db, model);
      version ||= (await db.query<{ v: string }>(`SELECT 'PostgreSQL ' || current_setting('server_version') AS v`)).rows[0].v;
      const key = await createApiKey(db, { projectId: null, role: 'admin', name: 'bench' });
      const { app } = await buildServer({ db, model });
      closers.push(() => app.close());
      const latticeUrl = await app.listen({ port: 0, host: '127.0.0.1' });
      const auth = `Bearer ${key.secret_key}`;
      const seeded = await seedDatabase(database, db, model, latticeUrl, auth);
      data.push(seeded.description);
      log(seeded.description);
      // The catalog baseline computes distances the way this server stores vectors (pgvector or real[]).
      const { rows: ext } = await db.query<{ on: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AS on`);
      const resolved = here.map((c) => (c.id === 'catalog' ? catalogCase(ext[0]?.on ? 'vector' : 'real[]') : c));
      const baseline = await startBaseline({ connectionString: url, cases: resolved, context: seeded.context });
      closers.push(() => baseline.close());
      for (const c of resolved) results.push(await measureCase(c, { context: seeded.context, latticeUrl, auth, baselineUrl: baseline.url }, o, log));
    }
    return {
      date: new Date().toISOString(),
      node: process.version,
      postgres: version,
      cpus: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}`,
      cpuCount: os.cpus().length,
      cpuBusyAtStart,
      data,
      connections: o.connections,
      duration: o.duration,
      warmup: o.warmup,
      rounds: o.rounds,
      cases: results,
    };
  } finally {
    for (const close of closers.reverse()) await close();
  }
}

/**
 * Fill one benchmark database.
 * @returns the request context of its cases and one line describing the data
 */
async function seedDatabase(
  database: 'experiments' | 'catalog',
  db: Db,
  model: Model,
  latticeUrl: string,
  auth: string,
): Promise<{ context: CaseContext; description: string }> {
  const started = performance.now();
  if (database === 'experiments') {
    const { projectId, counts } = await seed(db, model, DEFAULT_SEED_SIZE);
    const seconds = (performance.now() - started) / 1000;
    return {
      context: { projectId },
      description:
        `experiments: ${int(counts.projects)} project, ${int(counts.experiments)} experiments, ${int(counts.trials)} trials, ` +
        `${int(counts.runs)} runs, ${int(counts.metrics)} metrics (seeded and analysed in ${fmt(seconds)} s)`,
    };
  }
  const seeded = await seedCatalog(db, model, latticeUrl, auth);
  const seconds = (performance.now() - started) / 1000;
  return { context: seeded.context, description: `catalog: ${seeded.description} (loaded in ${fmt(seconds)} s)` };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  runBench()
    .then(async (report) => {
      const md = formatReport(report);
      await mkdir(new URL('./results/', import.meta.url), { recursive: true });
      await writeFile(RESULTS_FILE, md);
      console.log(`\n${md}`);
      console.log(`Written to bench/results/latest.md (total ${fmt((performance.now() - started) / 1000)} s).`);
    })
    .catch((err: unknown) => {
      console.error(`Benchmark failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    });
}

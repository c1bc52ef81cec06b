/**
 * `npm run bench` (issue item 8, SPEC §8 "Performance"): seed PostgreSQL, then measure side by side in one run
 * Lattice (in-process, GraphQL over HTTP, admin API key) and the baseline (bare node:http + one hand-written
 * SQL statement) answering the same dashboard query. Prints a markdown table and writes it to
 * `bench/results/latest.md`.
 *
 * Environment: BENCH_DATABASE_URL || TEST_DATABASE_URL || postgres://postgres@127.0.0.1:5432/postgres (a server
 * where the user may create databases; `lattice_bench` is dropped and recreated), BENCH_CONNECTIONS (10),
 * BENCH_DURATION (10 s), BENCH_WARMUP (3 s).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { createApiKey } from '../src/auth/api-keys.js';
import { migrate } from '../src/db/migrate/index.js';
import { openDb } from '../src/db/open.js';
import type { Db } from '../src/db/types.js';
import { loadPreset } from '../src/model/load.js';
import { buildServer } from '../src/server/app.js';
import { startBaseline, type BaselineServer } from './baseline-server.js';
import { baselineTarget, DASHBOARD_EXPERIMENTS, fetchJson, firstDifference, latticeTarget, measure, type LoadResult } from './load.js';
import { createFreshDatabase, DEFAULT_SEED_SIZE, seed, type RowCounts } from './seed.js';

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
  readonly counts: RowCounts;
  readonly seedSeconds: number;
  readonly answerBytes: number;
  readonly answerObjects: number;
  readonly connections: number;
  readonly duration: number;
  readonly warmup: number;
  /** Measured rounds per server (the servers alternate; see `runBench`). */
  readonly rounds: number;
  /** Lattice / baseline requests/s of each round, in round order. */
  readonly roundRatios: readonly number[];
  /** Medians over the rounds (requests and seconds: sums). */
  readonly lattice: LoadResult;
  readonly baseline: LoadResult;
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

/** The markdown report (table first, then the set-up). */
export function formatReport(r: BenchReport): string {
  const row = (x: LoadResult): string =>
    `| ${x.name} | ${fmt(x.requestsPerSecond)} | ${fmt(x.p50)} | ${fmt(x.p99)} | ${int(x.requests)} |`;
  const ratio = (a: number, b: number): string => (b > 0 ? `${fmt(a / b, 2)}×` : 'n/a');
  return [
    '# Lattice benchmark — latest run',
    '',
    '| Server | Requests/s | p50 latency (ms) | p99 latency (ms) | Requests |',
    '|---|---:|---:|---:|---:|',
    row(r.baseline),
    row(r.lattice),
    `| **Lattice / baseline** | ${ratio(r.lattice.requestsPerSecond, r.baseline.requestsPerSecond)} | ` +
      `${ratio(r.lattice.p50, r.baseline.p50)} | ${ratio(r.lattice.p99, r.baseline.p99)} | |`,
    '',
    `- Date: ${r.date}`,
    `- Node ${r.node}; ${r.postgres}; ${r.cpus}`,
    `- Data: ${int(r.counts.projects)} project, ${int(r.counts.experiments)} experiments, ${int(r.counts.trials)} trials, ` +
      `${int(r.counts.runs)} runs, ${int(r.counts.metrics)} metrics (seeded and analysed in ${fmt(r.seedSeconds)} s)`,
    `- Query: project → ${DASHBOARD_EXPERIMENTS} newest experiments → their trials → their runs ` +
      `(${int(r.answerObjects)} objects, ${fmt(r.answerBytes / 1024)} KiB of JSON); both answers parsed and deep-equal before measuring`,
    `- Load: autocannon, ${r.connections} connections; ${r.warmup} s warm-up per server, then ${r.rounds} rounds of ` +
      `${r.duration} s per server, alternating which server goes first; medians of the rounds in the table; ` +
      'both servers in the same process, load generated in a worker thread',
    `- Lattice / baseline per round: ${r.roundRatios.map((x) => `${fmt(x, 2)}×`).join(', ')}`,
    '- Lattice: in-process `buildServer`, GraphQL POST with an admin API key (authentication, row-level security ' +
      'transaction, one SQL statement); baseline: bare `node:http`, GET, one hand-written SQL statement, no auth',
    `- CPU busy in the second before the run: ${fmt(r.cpuBusyAtStart * 100, 0)} % of ${r.cpuCount} CPUs` +
      (r.cpuBusyAtStart > BUSY_THRESHOLD
        ? ' — **the machine was busy with other work; absolute numbers and ratios are unreliable, run again on a quiet machine**'
        : ''),
    '',
  ].join('\n');
}

/** Objects in the answer tree (projects, experiments, trials, runs). */
function countObjects(answer: unknown): number {
  const project = (answer as { data: { project: { experiments: { trials: { runs: unknown[] }[] }[] } } }).data.project;
  let n = 1;
  for (const e of project.experiments) {
    n += 1;
    for (const t of e.trials) n += 1 + t.runs.length;
  }
  return n;
}

/**
 * Run the whole benchmark.
 * @throws Error when PostgreSQL is unreachable, the two answers differ, or any request fails under load
 */
export async function runBench(log: (line: string) => void = console.log): Promise<BenchReport> {
  const cpuBusyAtStart = await measureCpuBusy();
  const adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const connections = envNumber('BENCH_CONNECTIONS', 10);
  const duration = envNumber('BENCH_DURATION', 5);
  const warmup = envNumber('BENCH_WARMUP', 3);
  const rounds = Math.max(1, Math.round(envNumber('BENCH_ROUNDS', 3)));

  log(`Creating database ${DB_NAME} on ${new URL(adminUrl).host} ...`);
  const url = await createFreshDatabase(adminUrl, DB_NAME);
  const model = await loadPreset('experiments');
  let db: Db | undefined;
  let app: FastifyInstance | undefined;
  let baseline: BaselineServer | undefined;
  try {
    db = await openDb({ url });
    await migrate(db, model);
    const seedStarted = performance.now();
    const { projectId, counts } = await seed(db, model, DEFAULT_SEED_SIZE);
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    log(`Seeded ${int(counts.metrics)} metrics, ${int(counts.runs)} runs, ${int(counts.trials)} trials in ${fmt(seedSeconds)} s`);
    const version = (await db.query<{ v: string }>(`SELECT 'PostgreSQL ' || current_setting('server_version') AS v`)).rows[0].v;

    const key = await createApiKey(db, { projectId: null, role: 'admin', name: 'bench' });
    ({ app } = await buildServer({ db, model }));
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    baseline = await startBaseline({ connectionString: url });

    const lattice = latticeTarget(address, `Bearer ${key.secret_key}`, projectId);
    const base = baselineTarget(baseline.url, projectId);
    const [a, b] = await Promise.all([fetchJson(lattice), fetchJson(base)]);
    const diff = firstDifference(a.value, b.value);
    if (diff) throw new Error(`Lattice and the baseline answer differently; first difference at ${diff}`);
    const answerObjects = countObjects(b.value);
    log(
      `Both answers equal (${int(answerObjects)} objects). Measuring ${warmup} s warm-up each, then ${rounds} rounds of ` +
        `${duration} s each, alternating ...`,
    );

    // Alternating rounds spread slow drifts of the machine (other tenants, PostgreSQL's caches, the JIT) over
    // both servers instead of charging them to whichever runs second.
    const results = { baseline: [] as LoadResult[], lattice: [] as LoadResult[] };
    const roundRatios: number[] = [];
    for (const [name, target] of [['baseline', base], ['lattice', lattice]] as const) {
      await measure(target, { connections, duration: warmup, warmup: 0 });
      log(`  warmed up ${name}`);
    }
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['baseline', 'lattice'] as const) : (['lattice', 'baseline'] as const);
      for (const name of order) {
        results[name].push(await measure(name === 'baseline' ? base : lattice, { connections, duration, warmup: 0 }));
      }
      const ratio = results.lattice[round].requestsPerSecond / results.baseline[round].requestsPerSecond;
      roundRatios.push(ratio);
      log(
        `  round ${round + 1}: baseline ${fmt(results.baseline[round].requestsPerSecond)} req/s, ` +
          `lattice ${fmt(results.lattice[round].requestsPerSecond)} req/s (${fmt(ratio, 2)}×)`,
      );
    }
    const baselineResult = combineRounds(results.baseline);
    const latticeResult = combineRounds(results.lattice);

    return {
      date: new Date().toISOString(),
      node: process.version,
      postgres: version,
      cpus: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}`,
      cpuCount: os.cpus().length,
      cpuBusyAtStart,
      counts,
      seedSeconds,
      answerBytes: b.bytes,
      answerObjects,
      connections,
      duration,
      warmup,
      rounds,
      roundRatios,
      lattice: latticeResult,
      baseline: baselineResult,
    };
  } finally {
    await app?.close();
    await baseline?.close();
    await db?.close();
  }
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

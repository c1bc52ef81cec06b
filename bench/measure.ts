/**
 * One benchmark case measured on every server that can answer it: the answers are checked equal to Lattice's,
 * then every server is warmed up and measured in rounds whose order rotates (round r starts with the r-th
 * server), so a slow drift of the machine is spread over all of them instead of charged to whichever runs
 * last. Besides autocannon's rate and latencies it reads, per round, the CPU time of the server's process and
 * of its PostgreSQL backends (CPU per request), and over the whole case the server process's peak RSS.
 */
import type pg from 'pg';
import type { BenchCase } from './cases.js';
import { fetchJson, firstDifference, measure, type LoadResult, type Target } from './load.js';
import { backendTicksBetween, cpuTicks, PeakRss, postgresBackendTicks, TICKS_PER_SECOND } from './processes.js';

export type ServerId = 'baseline' | 'lattice' | 'postgraphile' | 'dataloader';

/** Report order of the servers. */
export const SERVER_IDS: readonly ServerId[] = ['baseline', 'lattice', 'postgraphile', 'dataloader'];

export const SERVER_LABELS: Record<ServerId, string> = {
  baseline: 'hand-written',
  lattice: 'Lattice',
  postgraphile: 'PostGraphile 5',
  dataloader: 'graphql-js + DataLoader',
};

/** One server's request for one case. */
export interface CaseServer {
  readonly id: ServerId;
  readonly target: Target;
  /** Maps the server's answer onto Lattice's shape (PostGraphile's own schema); identity when absent. */
  readonly toLattice?: (answer: unknown) => unknown;
  /** The server's process (CPU time, peak RSS); absent for an in-process server. */
  readonly pid?: number;
  /** `application_name` of its PostgreSQL connections (CPU of its backends). */
  readonly applicationName?: string;
}

/** Measured numbers of one server in one case (medians over the rounds). */
export interface ServerResult {
  readonly server: ServerId;
  readonly load: LoadResult;
  /** CPU time of the server process per request, milliseconds; null when not readable. */
  readonly cpuMsPerRequest: number | null;
  /** CPU time of the server's PostgreSQL backends per request, milliseconds; null when not readable. */
  readonly postgresCpuMsPerRequest: number | null;
  /** Peak resident set size of the server process during the case (warm-up included), bytes. */
  readonly peakRssBytes: number | null;
}

/** Measured result of one case. */
export interface CaseResult {
  readonly id: string;
  readonly title: string;
  /** Short description of the answer (e.g. "606 objects"). */
  readonly answer: string;
  readonly answerBytes: number;
  /** Measured servers in `SERVER_IDS` order. */
  readonly servers: readonly ServerResult[];
  /** Lattice ÷ server requests/s of each round, in round order, for every measured server but Lattice. */
  readonly roundRatios: Partial<Record<ServerId, readonly number[]>>;
  /** Servers that did not take part, and why (not comparable, skipped). */
  readonly notMeasured: readonly { readonly server: ServerId; readonly reason: string }[];
}

/** Load-test options shared by every case. */
export interface MeasureOptions {
  readonly connections: number;
  readonly duration: number;
  readonly warmup: number;
  readonly rounds: number;
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

/** Median of the non-null values, or null when there are none. */
function medianOrNull(xs: readonly (number | null)[]): number | null {
  const known = xs.filter((x): x is number => x !== null);
  return known.length ? median(known) : null;
}

/**
 * Check that every server answers a case as Lattice does, then measure them all in rotating rounds.
 * @param servers the servers answering this case; must include Lattice
 * @param postgres a superuser connection and the database name, to read the servers' backends' CPU time
 * @param notMeasured servers left out of this case and why (copied to the result)
 * @throws Error when an answer differs from Lattice's or a request fails under load
 */
export async function measureCase(
  benchCase: BenchCase,
  servers: readonly CaseServer[],
  o: MeasureOptions,
  log: (line: string) => void,
  postgres?: { client: pg.Client; database: string },
  notMeasured: CaseResult['notMeasured'] = [],
): Promise<CaseResult> {
  const lattice = servers.find((s) => s.id === 'lattice');
  if (!lattice) throw new Error(`${benchCase.id}: Lattice must be among the servers`);
  const answers = await Promise.all(servers.map((s) => fetchJson(s.target)));
  const reference = answers[servers.indexOf(lattice)];
  servers.forEach((s, i) => {
    if (s === lattice) return;
    const value = s.toLattice ? s.toLattice(answers[i].value) : answers[i].value;
    const diff = firstDifference(reference.value, value);
    if (diff) throw new Error(`${benchCase.id}: ${SERVER_LABELS[s.id]} and Lattice answer differently; first difference at ${diff}`);
  });
  const answer = benchCase.describe(reference.value);
  const baselineAnswer = answers[servers.findIndex((s) => s.id === 'baseline')] ?? reference;
  log(
    `${benchCase.id}: ${servers.length} servers, all answers equal to Lattice's (${answer}); ` +
      `${o.warmup} s warm-up each, then ${o.rounds} rounds of ${o.duration} s ...`,
  );

  const peaks = servers.map((s) => (s.pid === undefined ? null : new PeakRss(s.pid)));
  for (const p of peaks) p?.start();
  const load = { connections: o.connections, warmup: 0 };
  for (const s of servers) await measure(s.target, { ...load, duration: o.warmup });
  const rounds = servers.map(() => [] as { load: LoadResult; cpu: number | null; pgCpu: number | null }[]);
  for (let round = 0; round < o.rounds; round++) {
    for (let k = 0; k < servers.length; k++) {
      const i = (round + k) % servers.length;
      const s = servers[i];
      const cpu0 = s.pid === undefined ? null : cpuTicks(s.pid);
      const pg0 = postgres && s.applicationName ? await postgresBackendTicks(postgres.client, s.applicationName, postgres.database) : null;
      const result = await measure(s.target, { ...load, duration: o.duration });
      const cpu1 = s.pid === undefined ? null : cpuTicks(s.pid);
      const pg1 = postgres && s.applicationName ? await postgresBackendTicks(postgres.client, s.applicationName, postgres.database) : null;
      const perRequest = (ticks: number | null) =>
        ticks === null || result.requests === 0 ? null : ((ticks / TICKS_PER_SECOND) * 1000) / result.requests;
      rounds[i].push({
        load: result,
        cpu: perRequest(cpu0 === null || cpu1 === null ? null : cpu1 - cpu0),
        pgCpu: perRequest(backendTicksBetween(pg0, pg1)),
      });
    }
    const rate = (i: number) => rounds[i][round].load.requestsPerSecond;
    log(`  round ${round + 1}: ${servers.map((s, i) => `${SERVER_LABELS[s.id]} ${rate(i).toFixed(1)} req/s`).join(', ')}`);
  }
  const peakBytes = peaks.map((p) => p?.stop() ?? null);

  const li = servers.indexOf(lattice);
  const roundRatios: Partial<Record<ServerId, number[]>> = {};
  servers.forEach((s, i) => {
    if (i !== li) roundRatios[s.id] = rounds[li].map((r, round) => r.load.requestsPerSecond / rounds[i][round].load.requestsPerSecond);
  });
  const results: ServerResult[] = servers.map((s, i) => ({
    server: s.id,
    load: combineRounds(rounds[i].map((r) => r.load)),
    cpuMsPerRequest: medianOrNull(rounds[i].map((r) => r.cpu)),
    postgresCpuMsPerRequest: medianOrNull(rounds[i].map((r) => r.pgCpu)),
    peakRssBytes: peakBytes[i],
  }));
  results.sort((a, b) => SERVER_IDS.indexOf(a.server) - SERVER_IDS.indexOf(b.server));
  return {
    id: benchCase.id,
    title: benchCase.title,
    answer,
    answerBytes: baselineAnswer.bytes,
    servers: results,
    roundRatios,
    notMeasured,
  };
}

/**
 * The benchmark's markdown report (`bench/results/latest.md`): requests/s of every server per case with
 * Lattice's ratio to each, peak RSS per server process, one table per case (latencies, CPU per request of the
 * server and of PostgreSQL, peak RSS), which peers ran or why not, and the set-up.
 */
import { formatIngestSection } from './ingest-report.js';
import type { IngestResult } from './ingest.js';
import type { PgliteResult } from './pglite.js';
import { formatPgliteSection } from './pglite-report.js';
import { SERVER_IDS, SERVER_LABELS, type CaseResult, type ServerId, type ServerResult } from './measure.js';

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
  /** Measured rounds per server and case (the order rotates; see `measureCase`). */
  readonly rounds: number;
  /** One line per peer: its versions, or why it was skipped. */
  readonly peers: readonly string[];
  readonly cases: readonly CaseResult[];
  /** The ingestion cases (`ingest.ts`), when any ran. */
  readonly ingest?: IngestResult;
  /** Lattice on PGlite against Lattice on PostgreSQL (`pglite.ts`), when it ran. */
  readonly pglite?: PgliteResult | null;
}

/** Above this share of busy CPU time before the run, the report warns that its numbers are unreliable. */
export const BUSY_THRESHOLD = 0.25;

const fmt = (n: number, digits = 1): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const int = (n: number): string => n.toLocaleString('en-US');
const ratio = (a: number, b: number): string => (b > 0 ? `${fmt(a / b, 2)}×` : 'n/a');
const mib = (bytes: number | null): string => (bytes === null ? 'n/a' : fmt(bytes / 2 ** 20, 0));
const ms = (x: number | null): string => (x === null ? 'n/a' : fmt(x, 2));

/** The markdown report (summary tables first, then each case, then peers and set-up). */
export function formatReport(r: BenchReport): string {
  // Columns for every server measured in at least one case.
  const present = SERVER_IDS.filter((id) => r.cases.some((c) => c.servers.some((s) => s.server === id)));
  const others = present.filter((id) => id !== 'lattice');
  const get = (c: CaseResult, id: ServerId): ServerResult | undefined => c.servers.find((s) => s.server === id);
  const cell = (c: CaseResult, id: ServerId, f: (s: ServerResult) => string): string => {
    const s = get(c, id);
    return s ? f(s) : 'n/a';
  };
  const latticeRatio = (c: CaseResult, id: ServerId): string => {
    const l = get(c, 'lattice');
    const s = get(c, id);
    if (!l || !s) return 'n/a';
    const text = ratio(l.load.requestsPerSecond, s.load.requestsPerSecond);
    return id === 'baseline' ? `**${text}**` : text;
  };
  const label = (id: ServerId) => SERVER_LABELS[id];
  const lines = ['# Lattice benchmark — latest run', ''];
  if (r.cases.length) lines.push(
    'Requests per second (median of the rounds), and Lattice ÷ each server (above 1× Lattice is faster):',
    '',
    `| Query | ${present.map((id) => `${label(id)} req/s`).join(' | ')} | ${others.map((id) => `Lattice / ${label(id)}`).join(' | ')} |`,
    `|---|${present.map(() => '---:').join('|')}|${others.map(() => '---:').join('|')}|`,
    ...r.cases.map(
      (c) =>
        `| ${c.id} | ${present.map((id) => cell(c, id, (s) => fmt(s.load.requestsPerSecond))).join(' | ')} | ` +
        `${others.map((id) => latticeRatio(c, id)).join(' | ')} |`,
    ),
    '',
    'Peak RSS of each server process during the case, MiB:',
    '',
    `| Query | ${present.map(label).join(' | ')} |`,
    `|---|${present.map(() => '---:').join('|')}|`,
    ...r.cases.map((c) => `| ${c.id} | ${present.map((id) => cell(c, id, (s) => mib(s.peakRssBytes))).join(' | ')} |`),
    '',
  );
  for (const c of r.cases) {
    lines.push(
      `## ${c.id}: ${c.title}`,
      '',
      '| Server | Requests/s | p50 latency (ms) | p99 latency (ms) | Server CPU (ms/request) | PostgreSQL CPU (ms/request) | Peak RSS (MiB) | Requests |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...c.servers.map(
        (s) =>
          `| ${label(s.server)} | ${fmt(s.load.requestsPerSecond)} | ${fmt(s.load.p50)} | ${fmt(s.load.p99)} | ` +
          `${ms(s.cpuMsPerRequest)} | ${ms(s.postgresCpuMsPerRequest)} | ${mib(s.peakRssBytes)} | ${int(s.load.requests)} |`,
      ),
      '',
      `- Answer: ${c.answer}, ${fmt(c.answerBytes / 1024)} KiB of JSON; every answer parsed and deep-equal to Lattice's before measuring`,
      ...SERVER_IDS.filter((id) => c.roundRatios[id]).map(
        (id) => `- Lattice / ${label(id)} per round: ${c.roundRatios[id]!.map((x) => `${fmt(x, 2)}×`).join(', ')}`,
      ),
      ...c.notMeasured.map((n) => `- ${label(n.server)}: n/a — ${n.reason}`),
      '',
    );
  }
  const descriptions: Record<ServerId, string> = {
    lattice:
      'its own process (`bench/lattice-server.ts` compiled by `npm run build`, plain `node`), GraphQL POST with a project **viewer** API key: ' +
      'authentication, then the request runs as `lattice_request` with the principal in transaction-local settings, ' +
      'under row-level security, as one SQL statement',
    baseline:
      'its own process (`bench/baseline-server.ts` compiled, plain `node`), bare `node:http`, GET, one hand-written SQL ' +
      'statement building the whole JSON answer, no auth, no RLS (connects as the owner): the floor',
    postgraphile:
      '`bench/peers/postgraphile-server.mjs` on Node 22, amber preset, introspects as the owner; every request runs as ' +
      '`lattice_request` with the same principal settings as Lattice (`pgSettings`: BEGIN, set_config, query, COMMIT), ' +
      'so under the same row-level-security policies; no authentication step; its own document per case',
    dataloader:
      '`bench/peers/dataloader-server.mjs`, plain JavaScript: a hand-written schema and resolvers, one batched statement ' +
      "per level, no auth, no RLS (owner connection, `project_id = ANY(…)` in every statement); Lattice's documents",
  };
  lines.push(...formatPgliteSection(r.pglite, r.cases));
  lines.push(...formatIngestSection(r.ingest));
  const queries = r.cases.length > 0;
  if (queries) lines.push(
    '## Servers',
    '',
    ...present.map((id) => `- ${label(id)}: ${descriptions[id]}`),
    '- Every server: a node-postgres pool of 10 connections; every server runs plain JavaScript (Lattice and the ' +
      'hand-written server compiled by `npm run build`, as in production)',
    ...r.peers.map((p) => `- ${p}`),
    '',
  );
  lines.push(
    '## Set-up',
    '',
    `- Date: ${r.date}`,
    `- Node ${r.node}; ${r.postgres}; ${r.cpus}`,
    ...r.data.map((d) => `- Data: ${d}`),
  );
  if (queries) lines.push(
    `- Load: autocannon, ${r.connections} connections, in a worker thread of the benchmark's process; ${r.warmup} s warm-up ` +
      `per server and case, then ${r.rounds} rounds of ${r.duration} s per server, the order rotating each round; medians ` +
      'of the rounds in the tables; CPU per request from /proc (server process; its PostgreSQL backends by application_name)',
  );
  lines.push(
    `- CPU busy in the second before the run: ${fmt(r.cpuBusyAtStart * 100, 0)} % of ${r.cpuCount} CPUs` +
      (r.cpuBusyAtStart > BUSY_THRESHOLD
        ? ' — **the machine was busy with other work; absolute numbers and ratios are unreliable, run again on a quiet machine**'
        : ''),
    '',
  );
  return lines.join('\n');
}

/**
 * The report's "PGlite vs PostgreSQL" section: Lattice on embedded PGlite (`pglite.ts`) against Lattice on
 * PostgreSQL measured in the same run, per case (issue 9 goal: PGlite ÷ PostgreSQL ≥ 0.5×).
 */
import type { CaseResult } from './measure.js';
import type { PgliteResult } from './pglite.js';

/** Goal of issue 9: Lattice on PGlite at least half as fast as on PostgreSQL. */
export const PGLITE_GOAL = 0.5;

const fmt = (n: number, digits = 1): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const mib = (bytes: number | null | undefined): string => (bytes == null ? 'n/a' : fmt(bytes / 2 ** 20, 0));
const ms = (x: number | null | undefined): string => (x == null ? 'n/a' : fmt(x, 2));

/**
 * Markdown lines of the section (none when PGlite did not run).
 * @param cases the run's case results, for Lattice on PostgreSQL's numbers
 */
export function formatPgliteSection(pglite: PgliteResult | null | undefined, cases: readonly CaseResult[]): string[] {
  if (!pglite) return [];
  const lines = [
    '## PGlite vs PostgreSQL',
    '',
    `Lattice on embedded PGlite (\`bench/pglite-server.ts\`, its own process) against Lattice on PostgreSQL, same data, same load; ` +
      `PGlite ÷ PostgreSQL requests/s (goal ≥ ${fmt(PGLITE_GOAL, 1)}×). PostgreSQL's CPU is Lattice's process plus its backends; ` +
      "PGlite's is its one process, which runs the database too.",
    '',
  ];
  if (pglite.cases.length) {
    lines.push(
      '| Query | PostgreSQL req/s | PGlite req/s | PGlite ÷ PostgreSQL | p50 ms (PG / PGlite) | p99 ms (PG / PGlite) | CPU ms/request (PG server + backends / PGlite) | Peak RSS MiB (PG server / PGlite) |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const p of pglite.cases) {
      const pg = cases.find((c) => c.id === p.id)?.servers.find((s) => s.server === 'lattice');
      const rate = pg ? p.load.requestsPerSecond / pg.load.requestsPerSecond : null;
      const ratio = rate === null ? 'n/a' : `**${fmt(rate, 2)}×**${rate < PGLITE_GOAL ? ' (below goal)' : ''}`;
      const pgCpu = pg && pg.cpuMsPerRequest !== null ? pg.cpuMsPerRequest + (pg.postgresCpuMsPerRequest ?? 0) : null;
      const pgCpuText = pg ? `${ms(pgCpu)}${pg.postgresCpuMsPerRequest === null ? ' (server only)' : ''}` : 'n/a';
      lines.push(
        `| ${p.id} | ${pg ? fmt(pg.load.requestsPerSecond) : 'n/a'} | ${fmt(p.load.requestsPerSecond)} | ${ratio} | ` +
          `${pg ? fmt(pg.load.p50) : 'n/a'} / ${fmt(p.load.p50)} | ${pg ? fmt(pg.load.p99) : 'n/a'} / ${fmt(p.load.p99)} | ` +
          `${pgCpuText} / ${ms(p.cpuMsPerRequest)} | ${mib(pg?.peakRssBytes)} / ${mib(p.peakRssBytes)} |`,
      );
    }
    lines.push('');
  }
  lines.push(
    ...pglite.cases.map((p) => `- ${p.id}: answer ${p.comparison} (ids differ between the two databases)`),
    ...pglite.skipped.map((s) => `- ${s.id}: n/a — ${s.reason}`),
    `- ${pglite.data}`,
    '',
  );
  return lines;
}

/**
 * Lattice on embedded PGlite as the benchmark runs it (issue 9: "on PGlite, the same queries within 2× of
 * PostgreSQL"): its own process (compiled into `dist/bench/pglite-server.js` and spawned by `bench/pglite.ts`
 * with plain `node`), opening a PGlite data directory the way `lattice serve` does (`openDb({ dataDir })`, with
 * the data-directory lock), migrating the experiments preset, filling it with the very statements of
 * `bench/seed.ts`, creating a project viewer key, then serving with `buildServer` (default configuration, no
 * request logging, rate limiting off, as `lattice-server.ts`). The database work runs inside this process, so
 * its CPU time and RSS are Lattice's and the database's together.
 *
 * Environment: `BENCH_PGLITE_DATA_DIR` (an empty directory the caller creates and removes), optionally
 * `BENCH_PGLITE_SEED` (a JSON `SeedSize`, default `DEFAULT_SEED_SIZE`). Prints one line
 * `bench-context <json>` (`PgliteServerContext`: the case context, the viewer's Authorization header, the row
 * counts and the seconds seeding took), then `listening <url>`; SIGTERM closes the server and the database.
 */
import { fileURLToPath } from 'node:url';
import { createApiKey } from '../src/auth/api-keys.js';
import { migrate } from '../src/db/migrate/index.js';
import { openDb } from '../src/db/open.js';
import { loadPreset } from '../src/model/load.js';
import { serveForBench } from './lattice-server.js';
import type { CaseContext } from './cases.js';
import { DEFAULT_SEED_SIZE, seed, type RowCounts, type SeedSize } from './seed.js';

/** Prefix of the stdout line carrying the server's `PgliteServerContext` as JSON. */
export const CONTEXT_LINE_PREFIX = 'bench-context ';

/** What the PGlite bench server reports about its own data before it listens. */
export interface PgliteServerContext {
  /** Ids of the cases' requests in this database (they differ from PostgreSQL's). */
  readonly context: CaseContext;
  /** `Authorization` header of a project viewer key (`Bearer lk-sk-…`). */
  readonly auth: string;
  readonly counts: RowCounts;
  /** Wall time of migrating and seeding, seconds. */
  readonly seedSeconds: number;
}

/**
 * Parse `BENCH_PGLITE_SEED`.
 * @throws Error when it is not a JSON object of four positive integers
 */
export function parseSeedSize(raw: string | undefined): SeedSize {
  if (raw === undefined || raw === '') return DEFAULT_SEED_SIZE;
  const v = JSON.parse(raw) as Record<string, unknown>;
  const keys = ['experiments', 'trialsPerExperiment', 'runsPerTrial', 'stepsPerRun'] as const;
  for (const k of keys) {
    if (!Number.isInteger(v[k]) || (v[k] as number) < 1) throw new Error(`BENCH_PGLITE_SEED.${k} must be a positive integer, got ${JSON.stringify(v[k])}`);
  }
  return { experiments: v.experiments as number, trialsPerExperiment: v.trialsPerExperiment as number, runsPerTrial: v.runsPerTrial as number, stepsPerRun: v.stepsPerRun as number };
}

/**
 * Parse the `bench-context` line out of the server's stdout.
 * @throws Error when the line is missing
 */
export function parseServerContext(stdout: string): PgliteServerContext {
  const line = stdout.split('\n').find((l) => l.startsWith(CONTEXT_LINE_PREFIX));
  if (!line) throw new Error('The PGlite bench server printed no bench-context line');
  return JSON.parse(line.slice(CONTEXT_LINE_PREFIX.length)) as PgliteServerContext;
}

async function main(): Promise<void> {
  const dataDir = process.env.BENCH_PGLITE_DATA_DIR;
  if (!dataDir) throw new Error('BENCH_PGLITE_DATA_DIR must be set');
  const size = parseSeedSize(process.env.BENCH_PGLITE_SEED);
  const started = performance.now();
  const db = await openDb({ dataDir });
  const model = await loadPreset('experiments');
  await migrate(db, model);
  const seeded = await seed(db, model, size);
  const viewer = await createApiKey(db, { projectId: seeded.projectId, role: 'viewer', name: 'bench' });
  const report: PgliteServerContext = {
    context: { projectId: seeded.projectId, experimentId: seeded.experimentId, trialId: seeded.trialId },
    auth: `Bearer ${viewer.secret_key}`,
    counts: seeded.counts,
    seedSeconds: (performance.now() - started) / 1000,
  };
  const address = await serveForBench(db, model);
  console.log(`${CONTEXT_LINE_PREFIX}${JSON.stringify(report)}`);
  console.log(`listening ${address}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  });
}

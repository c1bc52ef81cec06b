/**
 * Lattice as the benchmark runs it: its own process (compiled into `dist/bench/lattice-server.js` and spawned by
 * `bench/run.ts` with plain `node`, as production runs the build), so its CPU time and peak RSS are its own. `buildServer` over a
 * node-postgres pool of 10 (Lattice's default) on an already migrated database; default configuration (no
 * request logging) except rate limiting, which is off.
 *
 * Environment: `BENCH_SERVER_DATABASE_URL` (the seeded database), `BENCH_SERVER_PRESET` (`experiments` or
 * `catalog`), `BENCH_SERVER_APPLICATION_NAME` (`application_name` of its connections, to find its
 * PostgreSQL backends). Prints `listening <url>` when ready; SIGTERM closes the server and the pool.
 */
import { fileURLToPath } from 'node:url';
import { openPostgres } from '../src/db/postgres.js';
import { loadPreset } from '../src/model/load.js';
import { buildServer } from '../src/server/app.js';
import type { Db } from '../src/db/types.js';
import type { Model } from '../src/model/types.js';

/** `application_name` of Lattice's connections in the benchmark. */
export const LATTICE_APPLICATION_NAME = 'lattice-bench-lattice';

async function main(): Promise<void> {
  const url = process.env.BENCH_SERVER_DATABASE_URL;
  const preset = process.env.BENCH_SERVER_PRESET;
  if (!url || !preset) throw new Error('BENCH_SERVER_DATABASE_URL and BENCH_SERVER_PRESET must be set');
  const db = await openPostgres({
    connectionString: url,
    applicationName: process.env.BENCH_SERVER_APPLICATION_NAME || LATTICE_APPLICATION_NAME,
  });
  const model = await loadPreset(preset);
  console.log(`listening ${await serveForBench(db, model)}`);
}

/**
 * Serve `model` on `db` as the benchmark does: `buildServer` with the default configuration except rate limiting,
 * which is off (the load generator sends thousands of requests a minute with one key; SPEC G-12 limits are
 * otherwise the defaults), on a free port of 127.0.0.1; SIGTERM closes the server, then `db`, and exits.
 * @returns the server's address (`http://127.0.0.1:<port>`)
 */
export async function serveForBench(db: Db, model: Model): Promise<string> {
  const { app } = await buildServer({ db, model, config: { rateLimit: 0 } });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  process.once('SIGTERM', () => {
    app
      .close()
      .then(() => db.close())
      .finally(() => process.exit(0));
  });
  return address;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  });
}

/**
 * The benchmark's baseline (SPEC §8 "Performance" (a)): the practical limit for answering each benchmark case
 * (`bench/cases.ts`) — a bare `node:http` server, a `pg` pool, and ONE hand-written SQL statement per case that
 * builds the whole JSON answer inside PostgreSQL, written to the socket as PostgreSQL's text. No GraphQL, no
 * authentication, no row-level security, no validation beyond the project id.
 *
 * Each case's answer has exactly the shape and formats of Lattice's answer to the case's GraphQL document, so
 * the two can be deep-compared before measuring (timestamps as ISO-8601 UTC with microseconds).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { resolveCases, type BenchCase, type CaseContext } from './cases.js';

export interface BaselineServer {
  /** Origin of the server, e.g. `http://127.0.0.1:41234`; case `x` is served at `<url>/x?project_id=<uuid>`. */
  readonly url: string;
  /** Stop listening and close the pool. */
  close(): Promise<void>;
}

/** `application_name` of the baseline's connections (to find them in `pg_stat_activity`). */
export const BASELINE_APPLICATION_NAME = 'lattice-bench-baseline';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Start the baseline on a random local port.
 *
 * `GET /<case id>?project_id=<uuid>` answers 200 with the JSON text built by the case's statement, bound with
 * `case.params({ ...context, projectId })`; a bad project id 400, other paths 404, database errors 500.
 *
 * @param options.connectionString PostgreSQL URL of the seeded database
 * @param options.cases the cases this database answers
 * @param options.context values the cases' parameters need besides the project id (e.g. a query vector)
 * @param options.poolSize pool connections (default 10, the same as Lattice's default pool)
 * @throws the driver's error when the database is unreachable
 */
export async function startBaseline(options: {
  connectionString: string;
  cases: readonly BenchCase[];
  context?: Omit<CaseContext, 'projectId'>;
  poolSize?: number;
}): Promise<BaselineServer> {
  const cases = new Map(options.cases.map((c) => [`/${c.id}`, c]));
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 10,
    application_name: BASELINE_APPLICATION_NAME,
  });
  // An idle pooled connection that the server ends (restart, pg_terminate_backend, DROP DATABASE … WITH
  // (FORCE) racing pool.end(), whose promise resolves before the sockets are closed) makes the pool emit
  // 'error'; without a listener that is an uncaught exception. The pool has already discarded the client and
  // opens a new one on the next request, so there is nothing else to do.
  pool.on('error', () => undefined);
  await pool.query('SELECT 1');
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://baseline');
    const benchCase = cases.get(url.pathname);
    if (req.method !== 'GET' || !benchCase) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const projectId = url.searchParams.get('project_id') ?? '';
    if (!UUID.test(projectId)) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"need project_id=<uuid>"}');
      return;
    }
    pool.query<{ body: string }>(benchCase.sql, benchCase.params({ ...options.context, projectId })).then(
      ({ rows }) => {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(rows[0].body);
      },
      (err: Error) => {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: err.message }));
      },
    );
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}

/**
 * Process entry (`node dist/bench/baseline-server.js`, compiled and spawned by `bench/run.ts` so the baseline has its
 * own process like every other server): environment `BENCH_SERVER_DATABASE_URL`, `BENCH_SERVER_CASES`
 * (comma-separated case ids), `BENCH_SERVER_VECTORS` (`vector` or `real[]`, for the catalog case) and
 * `BENCH_SERVER_CONTEXT` (JSON `CaseContext`). Prints `listening <url>`; SIGTERM stops it.
 */
async function main(): Promise<void> {
  const url = process.env.BENCH_SERVER_DATABASE_URL;
  if (!url) throw new Error('BENCH_SERVER_DATABASE_URL must be set');
  const cases = resolveCases((process.env.BENCH_SERVER_CASES ?? '').split(','), process.env.BENCH_SERVER_VECTORS === 'vector' ? 'vector' : 'real[]');
  const context = JSON.parse(process.env.BENCH_SERVER_CONTEXT ?? '{}') as CaseContext;
  const server = await startBaseline({ connectionString: url, cases, context });
  process.once('SIGTERM', () => {
    server.close().finally(() => process.exit(0));
  });
  console.log(`listening ${server.url}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  });
}

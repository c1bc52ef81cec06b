/**
 * The benchmark's baseline (SPEC §8 "Performance" (a)): the practical limit for answering the dashboard query —
 * a bare `node:http` server, a `pg` pool, and ONE hand-written SQL statement that builds the whole JSON answer
 * (project → experiments → trials → runs) inside PostgreSQL with json_build_object/json_agg, written to the
 * socket as PostgreSQL's text. No GraphQL, no authentication, no row-level security, no validation beyond the
 * two parameters.
 *
 * The answer has exactly the shape and formats of Lattice's answer to `DASHBOARD_QUERY` (bench/load.ts), so
 * the two can be deep-compared before measuring: `{ "data": { "project": {...} } }`, timestamps as ISO-8601
 * UTC with microseconds (`YYYY-MM-DDTHH:MM:SS.ffffffZ`).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';

/** The hand-written statement. $1 = project id (uuid), $2 = number of experiments (newest first). */
export const BASELINE_SQL = `
SELECT json_build_object('data', json_build_object('project', (
  SELECT json_build_object(
    'id', p.id,
    'name', p.name,
    'experiments', coalesce((
      SELECT json_agg(json_build_object(
        'id', e.id,
        'name', e.name,
        'kind', e.kind,
        'meta', e.meta,
        'created_at', to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'trials', coalesce((
          SELECT json_agg(json_build_object(
            'id', t.id,
            'name', t.name,
            'status', t.status,
            'duration', t.duration,
            'params', t.params,
            'runs', coalesce((
              SELECT json_agg(json_build_object('id', r.id, 'status', r.status, 'meta', r.meta)
                              ORDER BY r.created_at, r.id)
              FROM app.run r
              WHERE r.project_id = t.project_id AND r.trial_id = t.id), '[]'::json)
          ) ORDER BY t.name, t.id)
          FROM app.trial t
          WHERE t.project_id = e.project_id AND t.experiment_id = e.id), '[]'::json)
      ) ORDER BY e.created_at DESC, e.id)
      FROM (SELECT * FROM app.experiment
            WHERE project_id = p.id
            ORDER BY created_at DESC, id
            LIMIT $2) e), '[]'::json))
  FROM lattice.projects p
  WHERE p.id = $1)))::text AS body`;

export interface BaselineServer {
  /** URL of the dashboard endpoint without query string, e.g. `http://127.0.0.1:41234/dashboard`. */
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
 * `GET /dashboard?project_id=<uuid>&experiments=<1..1000>` answers 200 with the JSON text built by
 * `BASELINE_SQL`; bad parameters 400, other paths 404, database errors 500.
 *
 * @param options.connectionString PostgreSQL URL of the seeded database
 * @param options.poolSize pool connections (default 10, the same as Lattice's default pool)
 * @throws the driver's error when the database is unreachable
 */
export async function startBaseline(options: { connectionString: string; poolSize?: number }): Promise<BaselineServer> {
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
    if (req.method !== 'GET' || url.pathname !== '/dashboard') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const projectId = url.searchParams.get('project_id') ?? '';
    const limit = Number(url.searchParams.get('experiments') ?? '5');
    if (!UUID.test(projectId) || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"need project_id=<uuid>&experiments=<1..1000>"}');
      return;
    }
    pool.query<{ body: string }>(BASELINE_SQL, [projectId, limit]).then(
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
    url: `http://127.0.0.1:${port}/dashboard`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}

/**
 * The ingestion benchmark (issue 7 item 4; `BENCH_CASES=ingest,ingest-langfuse,ingest-otlp`): the same rows,
 * generated before anything is timed (`ingest-data.ts`), loaded side by side in one run
 *
 * - `ingest` (experiments preset, metric rows): PostgreSQL `COPY … FROM STDIN` on one connection from the
 *   benchmark's process, then `POST /api/v1/ingest` end to end (HTTP, JSON, validation, row-level security, a
 *   project **editor** key) with each client count of `clients`, batches of `batchSize` `metric.create` events;
 * - `ingest-langfuse` / `ingest-otlp` (traces preset, its own database and server): COPY of the trace and
 *   observation rows, then the Langfuse route `POST /api/public/ingestion` (`span-create` / `generation-create`
 *   with usage) and the OTLP route `POST /api/public/otel/v1/traces` (protobuf spans), editor key as Basic auth.
 *
 * COPY runs before and after the HTTP loads; ratios are to the mean of the two. Lattice runs in its own process (`lattice-server.ts`); the load generator (`ingest-load.ts`) and COPY run in
 * the benchmark's process. Before each measured load the table is emptied (TRUNCATE, plus the Langfuse
 * envelope ids in `ingested_events`) and a CHECKPOINT is taken, so every path starts from the same state; each
 * HTTP path is warmed up with one batch first (then emptied again). After each load the rows in the table are
 * counted: fewer than acknowledged fails the run loudly. CPU per row: user + system time of the Lattice process
 * and of the PostgreSQL backends by `application_name` (`processes.ts`), over the load.
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createApiKey } from '../src/auth/api-keys.js';
import { createProject } from '../src/auth/projects.js';
import { migrate } from '../src/db/migrate/index.js';
import { openDb } from '../src/db/open.js';
import type { Db } from '../src/db/types.js';
import { loadPreset } from '../src/model/load.js';
import type { Model } from '../src/model/types.js';
import { qualified } from '../src/query/sql/ident.js';
import { copyFrom, copyImplementation } from './copy.js';
import {
  metricData,
  METRIC_COPY_COLUMNS,
  OBSERVATION_COPY_COLUMNS,
  observationData,
  OBSERVATIONS_PER_TRACE,
  TRACE_COPY_COLUMNS,
} from './ingest-data.js';
import { postAll, type IngestTarget } from './ingest-load.js';
import { buildOnce, compiledServerArgs } from './compiled.js';
import { LATTICE_APPLICATION_NAME } from './lattice-server.js';
import { backendTicksBetween, cpuTicks, postgresBackendTicks, startServerProcess, TICKS_PER_SECOND, type ServerProcess } from './processes.js';
import { createFreshDatabase, seed } from './seed.js';

/** Case ids of the ingestion benchmark (selectable in `BENCH_CASES`). */
export const INGEST_CASE_IDS = ['ingest', 'ingest-langfuse', 'ingest-otlp'] as const;
export type IngestCaseId = (typeof INGEST_CASE_IDS)[number];

/**
 * Ingestion cases of a run without `BENCH_CASES`: the metric rows only. The traces routes' cases at the default
 * size take several minutes more (see bench/README.md), so they run when named.
 */
export const DEFAULT_INGEST_CASES: readonly IngestCaseId[] = ['ingest'];

/** Default rows per path (`BENCH_INGEST_ROWS`). */
export const DEFAULT_INGEST_ROWS = 200_000;

/** `application_name` of the benchmark's COPY connection. */
export const COPY_APPLICATION_NAME = 'lattice-bench-copy';

/** Options of the ingestion benchmark. */
export interface IngestOptions {
  /** Rows loaded by every path. */
  readonly rows: number;
  /** Events per request (≤ 1,000). */
  readonly batchSize: number;
  /** Concurrent clients of each HTTP path, one measurement per entry. */
  readonly clients: readonly number[];
  /** Name of the experiments database; the traces database is `<name>_traces`. Dropped and recreated. */
  readonly database: string;
}

/** One measured load. */
export interface IngestMeasurement {
  /** The row kind, e.g. `metric` or `observation`; ratios are to the COPY of the same kind. */
  readonly kind: string;
  /** e.g. `COPY` (before the HTTP loads), `COPY (again)` (after them), `POST /api/v1/ingest`. */
  readonly path: string;
  readonly clients: number;
  /** Rows acknowledged (COPY: its row count) — and found in the table afterwards. */
  readonly rows: number;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  /** This path's rows/s ÷ the mean rows/s of the two COPY loads of the same kind (before and after). */
  readonly ratioToCopy: number;
  /** CPU time of the Lattice process per row, microseconds; null for COPY or when not readable. */
  readonly serverCpuUsPerRow: number | null;
  /** CPU time of the path's PostgreSQL backends per row, microseconds; null when not readable. */
  readonly postgresCpuUsPerRow: number | null;
}

/** The ingestion benchmark's result. */
export interface IngestResult {
  readonly measurements: readonly IngestMeasurement[];
  /** Lines describing the data and the set-up. */
  readonly notes: readonly string[];
}

const int = (n: number): string => n.toLocaleString('en-US');

/** Start Lattice for one database in its own process (as `run.ts` does). */
async function startLattice(url: string, preset: string): Promise<ServerProcess> {
  await buildOnce();
  return startServerProcess({
    name: 'Lattice',
    command: process.execPath,
    args: compiledServerArgs('./lattice-server.ts'),
    cwd: fileURLToPath(new URL('../', import.meta.url)),
    env: { NODE_ENV: 'production', BENCH_SERVER_DATABASE_URL: url, BENCH_SERVER_PRESET: preset, BENCH_SERVER_APPLICATION_NAME: LATTICE_APPLICATION_NAME },
  });
}

const table = (model: Model, entity: string): string => {
  const e = model.entities.get(entity);
  if (!e) throw new Error(`The model has no entity '${entity}'.`);
  return qualified(e.table.schema, e.table.name);
};

/**
 * Rows of `tableName` in the project; throws when fewer than acknowledged (or than expected).
 * @throws Error naming the path and the missing rows
 */
export async function verifyRows(db: Db, tableName: string, projectId: string, acknowledged: number, expected: number, what: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${tableName} WHERE project_id = $1`, [projectId]);
  const found = Number(rows[0].n);
  if (found < acknowledged) throw new Error(`${what}: ${int(acknowledged)} rows acknowledged but ${int(found)} in ${tableName} — ${int(acknowledged - found)} rows LOST`);
  if (acknowledged !== expected || found !== expected) throw new Error(`${what}: expected ${int(expected)} rows, ${int(acknowledged)} acknowledged, ${int(found)} in ${tableName}`);
  return found;
}

/** One database's measuring context. */
interface Bench {
  readonly db: Db;
  readonly dbName: string;
  readonly stats: pg.Client;
  readonly copy: pg.Client;
  readonly server: ServerProcess;
  /** Empty the tables the paths load (and take a checkpoint). */
  readonly reset: () => Promise<void>;
  /** The tables the paths load, analysed while they grow (see {@link whileAnalysing}). */
  readonly tables: readonly string[];
  readonly log: (line: string) => void;
}

/** How often the loaded tables are analysed during an HTTP load, in ms. */
const ANALYZE_EVERY_MS = 5000;

/**
 * Run `load` while `ANALYZE`-ing the loaded tables every {@link ANALYZE_EVERY_MS} on the stats connection: the
 * statistics autovacuum keeps current in production (it analyses a table after 10 % of it changed). This
 * machine's PostgreSQL runs without autovacuum, and a table emptied by TRUNCATE keeps "empty" statistics while it
 * grows to 200,000 rows, so the foreign-key checks' plans degrade (a batch of 1,000 Langfuse events went from
 * 150 ms to 700 ms over the first 40,000 rows; with statistics refreshed it stays flat). The ANALYZE backend is
 * not one of Lattice's, so its CPU is not counted as Lattice's.
 */
async function whileAnalysing<T>(b: Bench, load: () => Promise<T>): Promise<T> {
  let running = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => b.stats.query(`ANALYZE ${b.tables.join(', ')}`)).then(() => undefined, () => undefined);
  }, ANALYZE_EVERY_MS);
  try {
    return await load();
  } finally {
    clearInterval(timer);
    await running;
  }
}

/** Time one load and the CPU of the Lattice process (when `server`) and of the backends of `applicationName`. */
async function timed(b: Bench, applicationName: string, server: boolean, load: () => Promise<number>) {
  const pg0 = await postgresBackendTicks(b.stats, applicationName, b.dbName);
  const cpu0 = server ? cpuTicks(b.server.pid) : null;
  const started = performance.now();
  const rows = await load();
  const seconds = (performance.now() - started) / 1000;
  const cpu1 = server ? cpuTicks(b.server.pid) : null;
  const pg1 = await postgresBackendTicks(b.stats, applicationName, b.dbName);
  const perRow = (ticks: number | null) => (ticks === null || rows === 0 ? null : ((ticks / TICKS_PER_SECOND) * 1e6) / rows);
  return {
    rows,
    seconds,
    serverCpuUsPerRow: perRow(cpu0 === null || cpu1 === null ? null : cpu1 - cpu0),
    postgresCpuUsPerRow: perRow(backendTicksBetween(pg0, pg1)),
  };
}

/** COPY, every HTTP path with every client count, COPY again, each load verified; measurements of one row kind. */
async function measureKind(
  b: Bench,
  kind: string,
  o: IngestOptions,
  copy: () => Promise<number>,
  verify: (acknowledged: number, what: string) => Promise<unknown>,
  paths: readonly { path: string; target: IngestTarget; bodies: readonly (string | Buffer)[]; counts: readonly number[] }[],
): Promise<IngestMeasurement[]> {
  const out: Omit<IngestMeasurement, 'ratioToCopy'>[] = [];
  const runCopy = async (path: string) => {
    await b.reset();
    const c = await timed(b, COPY_APPLICATION_NAME, false, copy);
    await verify(c.rows, `${path} of ${kind} rows`);
    out.push({ kind, path, clients: 1, ...c, rowsPerSecond: c.rows / c.seconds, serverCpuUsPerRow: null });
    b.log(`  ${path}: ${int(c.rows)} ${kind} rows in ${c.seconds.toFixed(2)} s (${int(Math.round(c.rows / c.seconds))} rows/s)`);
  };
  // COPY before and after the HTTP loads: a drift of the (shared) machine during the case shows as their
  // difference, and the ratios are to their mean.
  await runCopy('COPY');
  for (const p of paths) {
    // Warm-up: one batch (JIT, credential cache, prepared statements), then emptied again.
    await b.reset();
    await postAll(p.target, p.bodies.slice(0, 1), p.counts.slice(0, 1), 1);
    for (const clients of o.clients) {
      await b.reset();
      const m = await timed(b, LATTICE_APPLICATION_NAME, true, () => whileAnalysing(b, async () => (await postAll(p.target, p.bodies, p.counts, clients)).acknowledged));
      await verify(m.rows, `${p.path} with ${clients} client(s)`);
      const rate = m.rows / m.seconds;
      out.push({ kind, path: p.path, clients, ...m, rowsPerSecond: rate });
      b.log(`  ${p.path}, ${clients} client(s): ${int(m.rows)} rows in ${m.seconds.toFixed(2)} s (${int(Math.round(rate))} rows/s), all in the table`);
    }
  }
  await runCopy('COPY (again)');
  const copies = out.filter((m) => m.path.startsWith('COPY'));
  const copyRate = copies.reduce((n, m) => n + m.rowsPerSecond, 0) / copies.length;
  return out.map((m) => ({ ...m, ratioToCopy: m.rowsPerSecond / copyRate }));
}

/** Open the database's clients and server, run `body`, close everything. */
async function withBench<T>(
  adminUrl: string,
  dbName: string,
  preset: string,
  log: (line: string) => void,
  body: (db: Db, model: Model, url: string, open: (reset: (db: Db) => Promise<void>, tables: readonly string[]) => Promise<Bench>) => Promise<T>,
): Promise<T> {
  const closers: (() => Promise<unknown>)[] = [];
  try {
    log(`Creating database ${dbName} (${preset} preset) ...`);
    const url = await createFreshDatabase(adminUrl, dbName);
    const db = await openDb({ url });
    closers.push(() => db.close());
    const model = await loadPreset(preset);
    await migrate(db, model);
    const open = async (reset: (db: Db) => Promise<void>, tables: readonly string[]): Promise<Bench> => {
      const client = async (name: string) => {
        const c = new pg.Client({ connectionString: url, application_name: name });
        await c.connect();
        closers.push(() => c.end());
        return c;
      };
      const stats = await client('lattice-bench-stats');
      const copy = await client(COPY_APPLICATION_NAME);
      const server = await startLattice(url, preset);
      closers.push(() => server.close());
      const doReset = async () => {
        await reset(db);
        await db.query('CHECKPOINT').catch(() => undefined); // needs superuser or pg_checkpoint; optional
      };
      return { db, dbName, stats, copy, server, reset: doReset, tables, log };
    };
    return await body(db, model, url, open);
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}

/**
 * Run the ingestion cases named in `ids`.
 * @param adminUrl a PostgreSQL server where the user may create databases (and, for CPU figures, on this machine)
 * @throws Error when a database cannot be created, Lattice does not start, a request or event fails, or rows
 *         acknowledged are missing from the table afterwards
 */
export async function runIngestBench(adminUrl: string, ids: readonly IngestCaseId[], o: IngestOptions, log: (line: string) => void = console.log): Promise<IngestResult> {
  if (o.batchSize < 1 || o.batchSize > 1000) throw new Error('The ingestion batch size must be 1–1,000 events (Lattice refuses larger batches).');
  if (o.rows < 1) throw new Error('The ingestion benchmark needs at least one row.');
  const measurements: IngestMeasurement[] = [];
  const notes: string[] = [
    `COPY through ${await copyImplementation()}, on one connection from the benchmark's process`,
    `during each HTTP load the loaded tables are analysed every ${ANALYZE_EVERY_MS / 1000} s (what autovacuum does in production; it is off on this machine's PostgreSQL)`,
  ];
  if (ids.includes('ingest')) {
    measurements.push(
      ...(await withBench(adminUrl, o.database, 'experiments', log, async (db, model, _url, open) => {
        const { projectId } = await seed(db, model, { experiments: 1, trialsPerExperiment: 20, runsPerTrial: 5, stepsPerRun: 0 });
        const { rows: runs } = await db.query<{ runId: string; trialId: string }>(
          `SELECT id AS "runId", trial_id AS "trialId" FROM ${table(model, 'run')} WHERE project_id = $1 ORDER BY created_at, id`,
          [projectId],
        );
        const key = await createApiKey(db, { projectId, role: 'editor', name: 'bench-ingest' });
        const started = performance.now();
        const data = metricData(o.rows, projectId, runs, o.batchSize);
        const metric = table(model, 'metric');
        notes.push(
          `metric rows (experiments preset): ${int(o.rows)} over ${runs.length} runs, ${data.restBodies.length} batches of ≤ ${o.batchSize} ` +
            `\`metric.create\` events, ${(data.restBodies.reduce((n, s) => n + s.length, 0) / 2 ** 20).toFixed(1)} MiB of JSON ` +
            `(generated in ${((performance.now() - started) / 1000).toFixed(1)} s, before timing)`,
        );
        const b = await open(async (d) => void (await d.query(`TRUNCATE ${metric}`)), [metric]);
        log(`ingest: ${int(o.rows)} metric rows ...`);
        return measureKind(
          b,
          'metric',
          o,
          () => copyFrom(b.copy, `COPY ${metric} (${METRIC_COPY_COLUMNS.join(', ')}) FROM STDIN`, data.copyChunks),
          (ack, what) => verifyRows(db, metric, projectId, ack, o.rows, what),
          [
            {
              path: 'POST /api/v1/ingest',
              target: { url: `${b.server.url}/api/v1/ingest`, headers: { 'content-type': 'application/json', authorization: `Bearer ${key.secret_key}` }, answer: 'batch207' },
              bodies: data.restBodies,
              counts: data.restCounts,
            },
          ],
        );
      })),
    );
  }
  const traceIds = ids.filter((id) => id !== 'ingest');
  if (traceIds.length) {
    measurements.push(
      ...(await withBench(adminUrl, `${o.database}_traces`, 'traces', log, async (db, model, _url, open) => {
        const project = await createProject(db, 'bench-ingest');
        const key = await createApiKey(db, { projectId: project.id, role: 'editor', name: 'bench-ingest' });
        const basic = `Basic ${Buffer.from(`${key.public_key}:${key.secret_key}`).toString('base64')}`;
        const started = performance.now();
        const data = observationData(o.rows, project.id, o.batchSize);
        notes.push(
          `observation rows (traces preset): ${int(o.rows)} in ${int(data.traces)} traces (a root span and ${OBSERVATIONS_PER_TRACE - 1} ` +
            `generations with model, usage, input and output each), ${data.counts.length} batches of ≤ ${o.batchSize}: ` +
            `${(data.langfuseBodies.reduce((n, s) => n + s.length, 0) / 2 ** 20).toFixed(1)} MiB of Langfuse JSON, ` +
            `${(data.otlpBodies.reduce((n, s) => n + s.length, 0) / 2 ** 20).toFixed(1)} MiB of OTLP protobuf ` +
            `(generated in ${((performance.now() - started) / 1000).toFixed(1)} s, before timing); COPY loads the trace rows too ` +
            '(the routes create them from the observations), its rows/s counts observations',
        );
        const [trace, observation, score] = ['trace', 'observation', 'score'].map((e) => table(model, e));
        const events = qualified(model.systemSchema, 'ingested_events');
        const b = await open(async (d) => void (await d.query(`TRUNCATE ${score}, ${observation}, ${trace}, ${events}`)), [trace, observation, events]);
        const verify = async (ack: number, what: string) => {
          await verifyRows(db, observation, project.id, ack, o.rows, what);
          await verifyRows(db, trace, project.id, data.traces, data.traces, `${what} (traces)`);
        };
        const paths = [];
        if (traceIds.includes('ingest-langfuse')) {
          paths.push({
            path: 'POST /api/public/ingestion (Langfuse)',
            target: { url: `${b.server.url}/api/public/ingestion`, headers: { 'content-type': 'application/json', authorization: basic }, answer: 'batch207' as const },
            bodies: data.langfuseBodies,
            counts: data.counts,
          });
        }
        if (traceIds.includes('ingest-otlp')) {
          paths.push({
            path: 'POST /api/public/otel/v1/traces (OTLP protobuf)',
            target: { url: `${b.server.url}/api/public/otel/v1/traces`, headers: { 'content-type': 'application/x-protobuf', authorization: basic }, answer: 'otlp' as const },
            bodies: data.otlpBodies,
            counts: data.counts,
          });
        }
        log(`${traceIds.join(', ')}: ${int(o.rows)} observation rows ...`);
        return measureKind(
          b,
          'observation',
          o,
          async () => {
            await copyFrom(b.copy, `COPY ${trace} (${TRACE_COPY_COLUMNS.join(', ')}) FROM STDIN`, data.traceCopyChunks);
            return copyFrom(b.copy, `COPY ${observation} (${OBSERVATION_COPY_COLUMNS.join(', ')}) FROM STDIN`, data.observationCopyChunks);
          },
          verify,
          paths,
        );
      })),
    );
  }
  return { measurements, notes };
}

/**
 * Prometheus metrics (SPEC R-4, issue 7 item 5), with `prom-client`: one registry per process
 * ({@link metrics}), served as Prometheus text by `GET /metrics` ({@link metricsRoutes}).
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `lattice_http_request_duration_seconds` | histogram | `method`, `route` (the route pattern, `(unmatched)` for 404s: never the raw URL), `status_code` |
 * | `lattice_graphql_operation_duration_seconds` | histogram | `operation_name` (`anonymous` when unnamed; the first 100 distinct names, later ones `other`), `outcome` (`ok` / `error`) |
 * | `lattice_db_statement_duration_seconds` | histogram | `via` (`query`, `query_as`, `transaction`, `principal_transaction`), `outcome` (`ok` / `error` / `cancelled`) |
 * | `lattice_db_transaction_duration_seconds` | histogram | `kind` (`owner` / `principal`), `outcome` (`commit` / `rollback` / `cancelled`) |
 * | `lattice_db_pool_connections` | gauge | `pool` (`owner`, `request` when requests log in as the request role), `state` (`total`, `idle`, `waiting`): node-postgres pools only; PGlite has no pool |
 * | `lattice_ingestion_events_total` | counter | `api` (`lattice`, `langfuse`, `otlp`), `type`, `outcome` (`accepted` 2xx, `rejected` 4xx, `failed` 5xx) |
 * | `lattice_errors_total` | counter | `code` (the G-14 error code of every error answered in the REST error shape) |
 *
 * `outcome="cancelled"`: the client disconnected before the answer and the request's statement was cancelled on
 * the server or skipped, its transaction rolled back (`src/db/cancel.ts`); the `_count` series count them.
 *
 * plus prom-client's default process metrics (`process_*`, `nodejs_*`: CPU, memory, event-loop lag, GC).
 *
 * Access: `GET /metrics` is on the main port. It needs an admin credential unless `LATTICE_METRICS_PUBLIC=true`
 * (for a scraper inside a private network that cannot send a key; keep the port private then).
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolStats } from '../db/types.js';
import { isAdmin } from '../auth/principal.js';
import { badInput, forbidden, unauthenticated } from '../errors.js';

/** Where ingestion events came from. */
export type IngestApi = 'lattice' | 'langfuse' | 'otlp';

/** How a statement reached the database (see `instrumentDb` in `telemetry.ts`). */
export type StatementVia = 'query' | 'query_as' | 'transaction' | 'principal_transaction';

/** Where the pool gauge reads connection counts from (`Db.poolStats`). */
export type PoolSource = () => readonly PoolStats[];

/** Most distinct values a label fed by clients takes; later new values are counted as `other`. */
export const MAX_LABEL_VALUES = 100;

/**
 * A bounded set of label values: the first `max` distinct values are kept as they are, any later new value
 * becomes `other`, so a client inventing names cannot grow the number of series without bound (a series, once
 * exported, stays in the registry: evicting names as an LRU would not bound memory).
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max = MAX_LABEL_VALUES) {}

  /** The label value to use for `value`. */
  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(value);
    return value;
  }
}

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;
/** The first operation definition's name in a document (cheap: the document is parsed later, by the executor). */
const FIRST_NAMED_OPERATION = /(?:^|[\s{},])(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/;

/**
 * The `operation_name` label of a GraphQL request: the request's `operationName` when it is a GraphQL name,
 * else the name of the document's first named operation, else `anonymous`. Not bounded: see `BoundedLabel`.
 */
export function graphqlOperationName(operationName: unknown, document: unknown): string {
  if (typeof operationName === 'string' && GRAPHQL_NAME.test(operationName)) return operationName;
  if (typeof document === 'string') {
    const m = FIRST_NAMED_OPERATION.exec(document.slice(0, 10_000));
    if (m && GRAPHQL_NAME.test(m[1])) return m[1];
  }
  return 'anonymous';
}

/** `accepted` (2xx), `rejected` (4xx) or `failed` (5xx) for an event's HTTP-like status. */
function outcomeOf(status: number): 'accepted' | 'rejected' | 'failed' {
  return status < 300 ? 'accepted' : status < 500 ? 'rejected' : 'failed';
}

/** The process's metrics. Use the shared instance {@link metrics}; tests may build their own. */
export class LatticeMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly graphqlDuration: Histogram<'operation_name' | 'outcome'>;
  readonly statementDuration: Histogram<'via' | 'outcome'>;
  readonly transactionDuration: Histogram<'kind' | 'outcome'>;
  readonly ingestionEvents: Counter<'api' | 'type' | 'outcome'>;
  readonly errors: Counter<'code'>;
  /** Watched pool sources, with how many servers watch each (several servers may share one Db). */
  private readonly pools = new Map<PoolSource, number>();
  private readonly operationNames = new BoundedLabel();
  private readonly ingestTypes = new BoundedLabel();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.httpDuration = new Histogram({
      name: 'lattice_http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      registers,
    });
    this.graphqlDuration = new Histogram({
      name: 'lattice_graphql_operation_duration_seconds',
      help: 'GraphQL operation duration in seconds (parse to serialised answer), by operation name and outcome.',
      labelNames: ['operation_name', 'outcome'],
      registers,
    });
    this.statementDuration = new Histogram({
      name: 'lattice_db_statement_duration_seconds',
      help: 'SQL statement duration in seconds as seen by the server, by how it was sent and outcome.',
      labelNames: ['via', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.transactionDuration = new Histogram({
      name: 'lattice_db_transaction_duration_seconds',
      help: 'Database transaction duration in seconds (connection wait included), by kind and outcome.',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    const pools = this.pools;
    new Gauge({
      name: 'lattice_db_pool_connections',
      help: 'node-postgres pool connections by pool (owner; request, when requests log in as the request role): total, idle, and callers waiting for one (absent on PGlite).',
      labelNames: ['pool', 'state'],
      registers,
      collect() {
        this.reset();
        const sums = new Map<string, { total: number; idle: number; waiting: number }>();
        for (const source of pools.keys()) {
          for (const s of source()) {
            const sum = sums.get(s.pool) ?? { total: 0, idle: 0, waiting: 0 };
            sum.total += s.total;
            sum.idle += s.idle;
            sum.waiting += s.waiting;
            sums.set(s.pool, sum);
          }
        }
        for (const [pool, sum] of sums) {
          this.set({ pool, state: 'total' }, sum.total);
          this.set({ pool, state: 'idle' }, sum.idle);
          this.set({ pool, state: 'waiting' }, sum.waiting);
        }
      },
    });
    this.ingestionEvents = new Counter({
      name: 'lattice_ingestion_events_total',
      help: 'Ingested events by API, event type and outcome (accepted 2xx, rejected 4xx, failed 5xx).',
      labelNames: ['api', 'type', 'outcome'],
      registers,
    });
    this.errors = new Counter({
      name: 'lattice_errors_total',
      help: 'Errors answered in the error shape, by error code.',
      labelNames: ['code'],
      registers,
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Count one error answer by its G-14 code. */
  countError(code: string): void {
    this.errors.inc({ code });
  }

  /**
   * Count a batch's events by type and outcome.
   * @param events each event's type (bounded by the caller to known types or `unknown`; also capped here) and
   *        its HTTP-like status
   */
  countIngestion(api: IngestApi, events: Iterable<{ readonly type: string; readonly status: number }>): void {
    const counts = new Map<string, { type: string; outcome: string; n: number }>();
    for (const e of events) {
      const type = this.ingestTypes.of(e.type);
      const outcome = outcomeOf(e.status);
      const key = `${type}\u0000${outcome}`;
      const c = counts.get(key);
      if (c) c.n += 1;
      else counts.set(key, { type, outcome, n: 1 });
    }
    for (const c of counts.values()) this.ingestionEvents.inc({ api, type: c.type, outcome: c.outcome }, c.n);
  }

  /** Record a GraphQL operation's duration (seconds); the name is bounded (see `BoundedLabel`). */
  observeGraphql(operationName: string, ok: boolean, seconds: number): void {
    this.graphqlDuration.observe({ operation_name: this.operationNames.of(operationName), outcome: ok ? 'ok' : 'error' }, seconds);
  }

  /** Report the pools of `pool` (a `Db.poolStats`) in `lattice_db_pool_connections` until the returned function is called. */
  watchPool(pool: PoolSource): () => void {
    this.pools.set(pool, (this.pools.get(pool) ?? 0) + 1);
    let watching = true;
    return () => {
      if (!watching) return;
      watching = false;
      const n = (this.pools.get(pool) ?? 1) - 1;
      if (n > 0) this.pools.set(pool, n);
      else this.pools.delete(pool);
    };
  }
}

/** The process's metrics (one registry, default process metrics included). */
export const metrics = new LatticeMetrics();

/**
 * `LATTICE_METRICS_PUBLIC`: `true`/`1`/`on`/`yes` opens `/metrics` without credentials; unset or false-like keeps
 * it admin-only.
 * @throws LatticeError BAD_USER_INPUT for any other value
 */
export function metricsPublicFromEnv(value: string | undefined): boolean {
  if (value === undefined || value.trim() === '') return false;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'on', 'yes'].includes(v)) return true;
  if (['false', '0', 'off', 'no'].includes(v)) return false;
  throw badInput(`LATTICE_METRICS_PUBLIC is "${value}"; set it to true (no credentials needed) or false (admin key needed).`);
}

/**
 * Register `GET /metrics` (Prometheus text exposition format 0.0.4).
 * Without `isPublic`: 401 without credentials, 403 for a non-admin principal.
 */
export async function metricsRoutes(app: FastifyInstance, options: { registry?: Registry; isPublic: boolean }): Promise<void> {
  const registry = options.registry ?? metrics.registry;
  app.get('/metrics', { logLevel: 'warn' }, async (request, reply) => {
    if (!options.isPublic) {
      if (!request.principal) {
        throw unauthenticated('GET /metrics needs an admin key: send "Authorization: Bearer <admin secret key>", or set LATTICE_METRICS_PUBLIC=true to open it to scrapers without credentials.');
      }
      if (!isAdmin(request.principal)) throw forbidden(`GET /metrics needs an admin key; role '${request.principal.role}' cannot read metrics.`);
    }
    const text = await registry.metrics();
    return reply.header('content-type', registry.contentType).send(text);
  });
}

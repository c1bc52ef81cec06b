/**
 * `Db` over a node-postgres `Pool` (SPEC S-1 production driver).
 *
 * - Result types are normalised per pool (`types` option, see `parsers.ts`); the global `pg.types` registry is
 *   not touched, so other pg users in the process keep their own parsing.
 * - Every session runs with `TimeZone=UTC` (connection option) and every transaction pins it again locally.
 * - `queryAs` (a request's one read) = ONE round trip: the `set_config` statement (request role + principal
 *   settings, see `session.ts`) and the statement, pipelined before a single Sync (`pipeline.ts`). Without
 *   BEGIN, everything up to the Sync is one implicit transaction, so the transaction-local settings and the role
 *   hold for the statement and vanish at the Sync; an error aborts it there, leaving the connection idle and
 *   clean; `statement_timeout`, armed per protocol message, applies to the statement.
 * - `withPrincipal` / `transaction` = one explicit transaction started lazily: BEGIN, the settings and the first
 *   statement in one pipeline; later statements one round trip each; COMMIT (ROLLBACK when `fn` throws). A
 *   callback that sends nothing costs nothing. Writes keep this (savepoints need an explicit transaction block).
 * - Statements with bind parameters inside `withPrincipal` and `queryAs` run as named prepared statements, a
 *   bounded set per connection (`prepared.ts`).
 * - Two pools: the owner's (`query`, `transaction`, LISTEN: migrations, bootstrap, API-key look-ups, admin) and
 *   the request pool (`withPrincipal`, `queryAs`), whose connections log in as the non-owner request role, so a
 *   statement inside a request cannot `RESET ROLE` / `SET ROLE` back to the owner (`request-login.ts`: where the
 *   login comes from, the safety probe, the fallback). The request pool is opened on the first request (after
 *   migrations have given the role its login); the settings statement still sets the role, which on the login
 *   pool is a no-op for `lattice_request` itself and the switch for an operator's login that is a member of it.
 * - `stats.statements` counts only statements callers send through `query()` / `queryAs()`.
 * - `withPrincipal` / `queryAs` follow the calling request's cancellation (`cancel.ts`): a client that disconnects
 *   gets nothing more sent, its running statement cancelled with a protocol CancelRequest (`pg-cancel.ts`) and its
 *   transaction rolled back.
 *
 * Decision (issue 9 item 1), measured with `bench/round-trips.ts`: a point lookup by id through RLS, PostgreSQL
 * 15 on the same 2-core machine (shared, so three runs; ranges), 5,000 sequential requests and 5,000 with 10
 * concurrent callers over 10 connections:
 *
 * | how | sequential µs/req | req/s, 10 concurrent | Node CPU µs/req | PostgreSQL CPU µs/req |
 * |---|---|---|---|---|
 * | BEGIN; settings; statement; COMMIT, each awaited (before) | 287–374 | 3,477–4,764 | 121–133 | 148–152 |
 * | lazy BEGIN: [BEGIN, settings, statement] then COMMIT | 194–290 | 4,951–7,474 | 77–89 | 90–108 |
 * | [BEGIN, settings, statement, COMMIT], one Sync | 146–177 | 9,021–11,138 | 51–57 | 64–82 |
 * | `queryAs`: [settings, statement], one Sync | 135–169 | 9,495–17,717 | 42–52 | 62–72 |
 * | the statement alone as the owner, no RLS (floor) | 84–119 | 12,943–17,813 | 34–36 | 36 |
 *
 * Rejected: a multi-statement simple query (`BEGIN; SELECT set_config(...); <stmt>; COMMIT`) has no bind
 * parameters, so every value would be inlined as a literal; a single combined statement (`WITH s AS (SELECT
 * set_config('role', ...)) SELECT ...`) switches `current_user` too late — the table access was planned as the
 * owner and RLS did not apply (verified on PostgreSQL 15: the CTE form returned another project's rows); the
 * `postgres` driver pipelines, but sends a Sync per statement (so BEGIN/COMMIT would stay) and would mean a
 * second driver next to pg for LISTEN and the owner paths. node-postgres' own `pipeline: true` mode also
 * ends every query with a Sync. A Submittable on node-postgres (the extension point pg-cursor uses) gives the
 * single Sync with no new dependency.
 */
import pg from 'pg';
import type { Principal } from '../auth/principal.js';
import { currentCancellation, RequestCancelledError, throwIfCancelled, type Cancellation } from './cancel.js';
import { PG_TYPES, RAW_TYPES } from './parsers.js';
import { PgListener } from './pg-listener.js';
import { runCancellable } from './pg-cancel.js';
import type { PipelineStep, StepResult } from './pipeline.js';
import { preparedStep, queryPrepared, resultsOf, runSteps } from './prepared.js';
import {
  isLoginProblem,
  probeRequestLogin,
  requestLoginConfig,
  requestLoginProblem,
  type RequestIsolation,
  type RequestLoginConfig,
} from './request-login.js';
import { OWNER_SETTINGS_SQL, PRINCIPAL_SETTINGS_SQL, principalParams, statementTimeoutMs } from './session.js';
import type { Db, DbStats, PoolStats, Queryable, QueryOptions, QueryResult } from './types.js';

/** Options of `openPostgres`. */
export interface PostgresOptions {
  /** libpq-style URL, e.g. `postgres://user:pass@host:5432/db`. */
  connectionString: string;
  /** Maximum pool size (default 10). */
  max?: number;
  /** `application_name` reported to the server (default `lattice`). */
  applicationName?: string;
  /** Called with errors of idle pooled connections (e.g. the server restarted); default: ignored. */
  onError?: (err: Error) => void;
  /** `statement_timeout` of request transactions in ms (default `statementTimeoutMs()`; 0 = none). */
  statementTimeoutMs?: number;
  /** URL of the request login (default: `LATTICE_REQUEST_DATABASE_URL`, else derived; see `request-login.ts`). */
  requestConnectionString?: string;
  /** Refuse, rather than fall back, when the request login fails (default: `LATTICE_REQUIRE_REQUEST_LOGIN`). */
  requireRequestLogin?: boolean;
  /** Receives the warning of the fallback to the owner login (default: written to stderr). */
  onWarning?: (message: string) => void;
}

/** What `PostgresDb` needs besides its owner pool. */
interface PostgresDbParts {
  readonly listener: PgListener;
  readonly statementTimeoutMs: number;
  /** Pool config shared by both pools (types, time zone, application name, size). */
  readonly base: pg.PoolConfig;
  readonly login: RequestLoginConfig;
  readonly onError?: (err: Error) => void;
  readonly warn: (message: string) => void;
}

type PgResultLike = { rows?: unknown[]; rowCount?: number | null };

/** Normalise a pg result (or the array pg returns for a multi-statement simple query: last one wins). */
function toResult<R>(res: PgResultLike | PgResultLike[]): QueryResult<R> {
  const last = Array.isArray(res) ? res[res.length - 1] : res;
  const rows = (last?.rows ?? []) as R[];
  return { rows, rowCount: last?.rowCount ?? rows.length };
}

/** Transaction start, sent in the same pipeline as the settings and the first statement. */
const BEGIN_STEP: PipelineStep = { text: 'BEGIN' };

class PostgresDb implements Db {
  readonly kind = 'postgres' as const;
  readonly stats: DbStats = { statements: 0 };
  private closed = false;
  private readonly listener: PgListener;
  private readonly statementTimeoutMs: number;
  /** The request pool once resolved: its own pool, or the owner pool on the fallback; unset until the first request. */
  private requestPool: Promise<pg.Pool> | undefined;
  /** The request pool once opened, when it is not the owner pool (for `poolStats`). */
  private ownRequestPool: pg.Pool | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly parts: PostgresDbParts,
  ) {
    this.listener = parts.listener;
    this.statementTimeoutMs = parts.statementTimeoutMs;
  }

  /**
   * How request transactions run: `login` (their own pool, logged in as the request role) or `set-role` (the
   * owner pool with `set_config('role', ...)`, after the warned fallback). Opens the request pool when needed.
   * @throws Error with what to configure when the login fails and is required; the driver's error when the
   *         server is unreachable (tried again on the next call)
   */
  async requestIsolation(): Promise<RequestIsolation> {
    return (await this.requestPoolReady()) === this.pool ? 'set-role' : 'login';
  }

  async query<R = Record<string, unknown>>(text: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    this.stats.statements++;
    if (options?.raw) return toResult<R>(await this.pool.query({ text, values: params as unknown[] | undefined, rowMode: 'array', types: RAW_TYPES }));
    return toResult<R>(await this.pool.query(text, params as unknown[] | undefined));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.run(this.pool, { name: 'lattice_owner_settings', text: OWNER_SETTINGS_SQL }, fn);
  }

  async withPrincipal<T>(principal: Principal, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    // The request's cancellation (`cancel.ts`), read in the caller's async context.
    const cancellation = currentCancellation();
    throwIfCancelled(cancellation);
    // Request statements recur (compiled from documents of the same shape): run them as prepared statements.
    const settings = this.principalStep(principal);
    return this.run(await this.requestPoolReady(), settings, fn, true, cancellation);
  }

  async queryAs<R = Record<string, unknown>>(principal: Principal, text: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    const cancellation = currentCancellation();
    throwIfCancelled(cancellation);
    const settings = this.principalStep(principal);
    const pool = await this.requestPoolReady();
    return this.withClient(pool, async (client) => {
      throwIfCancelled(cancellation); // the client left while this request waited for a connection
      this.stats.statements++;
      // No BEGIN: the settings and the statement are one implicit transaction, ended (committed, or aborted on
      // error, a cancel included) by the pipeline's single Sync, which also undoes every setting and the role.
      const step = params && params.length > 0 ? preparedStep(client, text, params) : { text };
      const results = await runCancellable(client, cancellation, async () => resultsOf(await runSteps(client, [settings, step], options?.raw ? RAW_TYPES : PG_TYPES, options?.raw ? 'array' : undefined)));
      return toResult<R>(results[1]);
    });
  }

  poolStats(): readonly PoolStats[] {
    const of = (pool: 'owner' | 'request', p: pg.Pool): PoolStats => ({ pool, total: p.totalCount, idle: p.idleCount, waiting: p.waitingCount });
    const request = this.closed ? undefined : this.ownRequestPool;
    return request ? [of('owner', this.pool), of('request', request)] : [of('owner', this.pool)];
  }

  listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>> {
    return this.listener.listen(channel, handler);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener.close();
    const requestPool = await this.requestPool?.catch(() => undefined);
    if (requestPool && requestPool !== this.pool) await requestPool.end();
    await this.pool.end();
  }

  /** The pool of request transactions, resolved once (a transient or required failure is retried next time). */
  private requestPoolReady(): Promise<pg.Pool> {
    if (this.closed) return Promise.reject(new Error('The database has been closed.'));
    this.requestPool ??= this.openRequestPool().catch((err: unknown) => {
      this.requestPool = undefined;
      throw err;
    });
    return this.requestPool;
  }

  /**
   * Open and probe the request pool (`request-login.ts`). On a failed or unsafe login: an error when required,
   * else the owner pool with a warning.
   */
  private async openRequestPool(): Promise<pg.Pool> {
    const { login, base, onError, warn } = this.parts;
    let reason = login.underivable;
    if (reason === undefined) {
      const pool = new pg.Pool({ ...base, connectionString: login.url });
      pool.on('error', (err) => onError?.(err));
      try {
        const { rows } = await this.pool.query<{ owner: string }>('SELECT current_user AS owner');
        await probeRequestLogin(pool, rows[0].owner);
        this.ownRequestPool = pool;
        return pool;
      } catch (err) {
        await pool.end().catch(() => undefined);
        if (!isLoginProblem(err)) throw err;
        reason = (err as Error).message;
      }
    }
    const problem = requestLoginProblem(login, reason);
    if (login.required) throw new Error(problem);
    warn(
      `WARNING: ${problem} Falling back to the owner login with SET ROLE per transaction: a statement inside a ` +
        `request could RESET ROLE to the owner. Set LATTICE_REQUIRE_REQUEST_LOGIN=1 to refuse to start instead.`,
    );
    return this.pool;
  }

  /** The named settings statement for a principal (validated eagerly: a bad principal never reaches SQL). */
  private principalStep(principal: Principal): PipelineStep {
    return { name: 'lattice_principal_settings', text: PRINCIPAL_SETTINGS_SQL, values: principalParams(principal, this.statementTimeoutMs) };
  }

  /**
   * Check out a connection for `fn` and release it afterwards; a connection that failed (socket error, failed
   * ROLLBACK) is discarded instead of going back to the pool.
   */
  private async withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient, fail: (err: Error) => void) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    let broken: Error | undefined;
    // A checked-out client is the caller's to watch: the pool's idle listener is off. Without this, a
    // connection the server ends mid-transaction (restart, pg_terminate_backend, failover) emits an 'error'
    // nobody handles and the process dies; with it, the pending query rejects and the client is discarded.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      return await fn(client, onError);
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /**
   * One explicit transaction around `fn`, started lazily: the first statement travels in one pipeline with
   * BEGIN and the settings (one round trip), later statements one round trip each, then COMMIT — or ROLLBACK
   * when `fn` throws. A callback that sends no statement costs no round trip at all.
   * @param pool the owner pool or the request pool
   * @param prepare run statements with bind parameters as named prepared statements (`prepared.ts`)
   * @param cancellation the request's cancellation: once cancelled, no further statement is sent, a running one is
   *        cancelled on the server (`pg-cancel.ts`) and the transaction is rolled back, never committed
   */
  private run<T>(pool: pg.Pool, settings: PipelineStep, fn: (tx: Queryable) => Promise<T>, prepare = false, cancellation?: Cancellation): Promise<T> {
    return this.withClient(pool, async (client, fail) => {
      let started = false;
      let startError: Error | undefined;
      let done = false;
      const first = async (text: string, values: unknown[] | undefined, raw: boolean): Promise<StepResult> => {
        started = true;
        const simple = !values || values.length === 0; // simple protocol, as before: may hold several statements
        const steps = [BEGIN_STEP, settings];
        if (!simple) steps.push(prepare ? preparedStep(client, text, values) : { text, values });
        const outcome = await runSteps(client, steps, raw ? RAW_TYPES : PG_TYPES, raw ? 'array' : undefined);
        if (!outcome.ok && outcome.failedAt === -1) started = false; // nothing was sent
        else if (!outcome.ok && outcome.failedAt < 2) startError = outcome.error; // no statement may run without its settings
        const results = resultsOf(outcome);
        if (!simple) return results[2];
        return (await (raw ? client.query({ text, rowMode: 'array', types: RAW_TYPES }) : client.query(text))) as StepResult;
      };
      const handle: Queryable = {
        query: async <R = Record<string, unknown>>(text: string, p?: readonly unknown[], options?: QueryOptions) => {
          if (done) throw new Error('This transaction has already finished; run statements inside its callback.');
          if (startError) throw startError;
          throwIfCancelled(cancellation);
          this.stats.statements++;
          const values = p as unknown[] | undefined;
          return toResult<R>(
            await runCancellable(client, cancellation, async (): Promise<StepResult | PgResultLike> => {
              const raw = options?.raw === true;
              if (!started) return first(text, values, raw);
              if (prepare && values && values.length > 0) return queryPrepared(client, text, values, raw ? RAW_TYPES : PG_TYPES, raw ? 'array' : undefined);
              return raw ? client.query({ text, values, rowMode: 'array', types: RAW_TYPES }) : client.query(text, values);
            }),
          );
        },
      };
      try {
        const result = await fn(handle);
        done = true;
        // A client gone by now gets nothing committed (the callback may have swallowed the cancellation).
        if (cancellation?.cancelled) throw new RequestCancelledError(false);
        if (started) await client.query('COMMIT');
        return result;
      } catch (err) {
        done = true; // no statement of the callback may run after (or instead of) the ROLLBACK, outside RLS
        if (started) {
          try {
            await client.query('ROLLBACK');
          } catch (rollbackErr) {
            fail(rollbackErr as Error);
          }
        }
        throw err;
      } finally {
        done = true;
      }
    });
  }
}

/**
 * Connect a pool and check the server answers.
 * @throws the driver's error (connection refused, authentication failed, unknown database) with the URL's
 *         host/database in the message; the pool is closed again.
 */
export async function openPostgres(options: PostgresOptions): Promise<Db> {
  const login = requestLoginConfig(options.connectionString, process.env, {
    url: options.requestConnectionString,
    required: options.requireRequestLogin,
  });
  const base: pg.ClientConfig = {
    connectionString: options.connectionString,
    application_name: options.applicationName ?? 'lattice',
    options: '-c TimeZone=UTC',
    types: PG_TYPES,
  };
  const poolConfig: pg.PoolConfig = { ...base, max: options.max ?? 10 };
  const pool = new pg.Pool(poolConfig);
  pool.on('error', (err) => options.onError?.(err));
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    const where = describeUrl(options.connectionString);
    (err as Error).message = `Cannot connect to PostgreSQL at ${where}: ${(err as Error).message}`;
    throw err;
  }
  return new PostgresDb(pool, {
    listener: new PgListener(base),
    statementTimeoutMs: options.statementTimeoutMs ?? statementTimeoutMs(),
    base: poolConfig,
    login,
    onError: options.onError,
    warn: options.onWarning ?? ((message) => process.stderr.write(`${message}\n`)),
  });
}

/** `host:port/database` of a URL without credentials, for error messages. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparsable DATABASE_URL)';
  }
}

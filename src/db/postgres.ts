/**
 * `Db` over a node-postgres `Pool` (SPEC S-1 production driver).
 *
 * - Result types are normalised per pool (`types` option, see `parsers.ts`); the global `pg.types` registry is
 *   not touched, so other pg users in the process keep their own parsing.
 * - Every session runs with `TimeZone=UTC` (connection option) and every transaction pins it again locally.
 * - `withPrincipal` = BEGIN; one `set_config` statement (request role + principal settings, see `session.ts`);
 *   the caller's statements; COMMIT (ROLLBACK when `fn` throws).
 * - Statements inside `withPrincipal` run as named prepared statements, a bounded set per connection
 *   (`prepared.ts`).
 * - `stats.statements` counts only statements callers send through `query()`.
 */
import pg from 'pg';
import type { Principal } from '../auth/principal.js';
import { PG_TYPES } from './parsers.js';
import { PgListener } from './pg-listener.js';
import { queryPrepared } from './prepared.js';
import { OWNER_SETTINGS_SQL, PRINCIPAL_SETTINGS_SQL, principalParams, statementTimeoutMs } from './session.js';
import type { Db, DbStats, Queryable, QueryResult } from './types.js';

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
}

type PgResultLike = { rows?: unknown[]; rowCount?: number | null };

/** Normalise a pg result (or the array pg returns for a multi-statement simple query: last one wins). */
function toResult<R>(res: PgResultLike | PgResultLike[]): QueryResult<R> {
  const last = Array.isArray(res) ? res[res.length - 1] : res;
  const rows = (last?.rows ?? []) as R[];
  return { rows, rowCount: last?.rowCount ?? rows.length };
}

class PostgresDb implements Db {
  readonly kind = 'postgres' as const;
  readonly stats: DbStats = { statements: 0 };
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly listener: PgListener,
    private readonly statementTimeoutMs: number,
  ) {}

  async query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    this.stats.statements++;
    return toResult<R>(await this.pool.query(text, params as unknown[] | undefined));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.run(OWNER_SETTINGS_SQL, [], fn);
  }

  async withPrincipal<T>(principal: Principal, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    // Request statements recur (compiled from documents of the same shape): run them as prepared statements.
    return this.run(PRINCIPAL_SETTINGS_SQL, principalParams(principal, this.statementTimeoutMs), fn, true);
  }

  listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>> {
    return this.listener.listen(channel, handler);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener.close();
    await this.pool.end();
  }

  /** BEGIN; settings; fn(handle); COMMIT — or ROLLBACK and rethrow. A connection that fails ROLLBACK is discarded. */
  private async run<T>(settingsSql: string, params: unknown[], fn: (tx: Queryable) => Promise<T>, prepare = false): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // A checked-out client is the caller's to watch: the pool's idle listener is off. Without this, a
    // connection the server ends mid-transaction (restart, pg_terminate_backend, failover) emits an 'error'
    // nobody handles and the process dies; with it, the pending query rejects and the client is discarded.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    let done = false;
    const handle: Queryable = {
      query: async <R = Record<string, unknown>>(text: string, p?: readonly unknown[]) => {
        if (done) throw new Error('This transaction has already finished; run statements inside its callback.');
        this.stats.statements++;
        const values = p as unknown[] | undefined;
        return toResult<R>(prepare && values && values.length > 0 ? await queryPrepared(client, text, values) : await client.query(text, values));
      },
    };
    try {
      await client.query('BEGIN');
      // A named statement: parsed once per connection, then only bound and executed (fixed text, so the
      // number of prepared statements per connection stays at two).
      await client.query({ name: settingsSql === PRINCIPAL_SETTINGS_SQL ? 'lattice_principal_settings' : 'lattice_owner_settings', text: settingsSql, values: params });
      const result = await fn(handle);
      done = true;
      await client.query('COMMIT');
      return result;
    } catch (err) {
      done = true; // no statement of the callback may run after (or instead of) the ROLLBACK, outside RLS
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr as Error;
      }
      throw err;
    } finally {
      done = true;
      client.removeListener('error', onError);
      client.release(broken);
    }
  }
}

/**
 * Connect a pool and check the server answers.
 * @throws the driver's error (connection refused, authentication failed, unknown database) with the URL's
 *         host/database in the message; the pool is closed again.
 */
export async function openPostgres(options: PostgresOptions): Promise<Db> {
  const base: pg.ClientConfig = {
    connectionString: options.connectionString,
    application_name: options.applicationName ?? 'lattice',
    options: '-c TimeZone=UTC',
    types: PG_TYPES,
  };
  const pool = new pg.Pool({ ...base, max: options.max ?? 10 });
  pool.on('error', (err) => options.onError?.(err));
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    const where = describeUrl(options.connectionString);
    (err as Error).message = `Cannot connect to PostgreSQL at ${where}: ${(err as Error).message}`;
    throw err;
  }
  return new PostgresDb(pool, new PgListener(base), options.statementTimeoutMs ?? statementTimeoutMs());
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

/**
 * The one database interface (GUIDE "One database interface"). Two implementations: `src/db/postgres.ts`
 * (node-postgres pool) and `src/db/pglite.ts` (embedded PGlite). Nothing above `src/db` knows which is in use.
 */
import type { Principal } from '../auth/principal.js';

/** Rows of one statement. Driver differences (int8 as string vs number, bytea) are normalised by the driver. */
export interface QueryResult<R> {
  readonly rows: R[];
  /** Rows affected (INSERT/UPDATE/DELETE) or returned (SELECT). */
  readonly rowCount: number;
}

/** Something that runs one SQL statement with bind parameters (`$1`, `$2`, ...). */
export interface Queryable {
  /**
   * Run one statement. Values are always bind parameters; never interpolate them into `text`.
   * @throws the driver's error (a `DatabaseError` with `code`, the SQLSTATE) on failure.
   */
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>>;
}

/** How a statement's rows come back. */
export interface QueryOptions {
  /**
   * Each row as an array of its columns' values in PostgreSQL's text output, unparsed (a string, or null for
   * SQL NULL), whatever the column types: for callers that write the values' text themselves
   * (`src/query/sql/plain.ts`). Default: objects by column name, values parsed (`parsers.ts`).
   */
  readonly raw?: boolean;
}

/** Counters for tests and metrics. */
export interface DbStats {
  /**
   * Statements sent through `query()` (on the Db or on a transaction handle), excluding the transaction
   * control and principal-setting statements the Db issues itself. Tests assert the one-statement rule
   * (SPEC G-10) with it.
   */
  statements: number;
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Schema of the data tables (e.g. `app`); system tables are in `lattice`. */
  readonly stats: DbStats;

  /**
   * Run `fn` in one transaction as the owner (migrations, API-key look-ups, administration).
   * Commits when `fn` resolves, rolls back when it throws (and rethrows).
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;

  /**
   * Run `fn` in one transaction as the non-owner request role with the principal's settings set
   * transaction-locally (`SET LOCAL ROLE lattice_request`, `lattice.role`, `lattice.project_ids`,
   * `lattice.user_id`, `TimeZone = UTC`), so row-level security applies (SPEC S-6).
   * Cancelled with the request (`cancel.ts`): when the ambient cancellation of the calling request fires, no
   * further statement is sent, a running one is cancelled on PostgreSQL, and the transaction is rolled back.
   * @throws RequestCancelledError (`CLIENT_CLOSED_REQUEST`) when the request's client disconnected first;
   *         otherwise what `fn` or the driver throws
   */
  withPrincipal<T>(principal: Principal, fn: (tx: Queryable) => Promise<T>): Promise<T>;

  /**
   * Run ONE statement as the principal: the same role and transaction-local settings as `withPrincipal`, the
   * statement its own transaction. On PostgreSQL the settings and the statement travel in one pipeline: one
   * round trip (see `postgres.ts`). Use it for a request's single read; `withPrincipal` for anything longer.
   * Cancelled with the request like `withPrincipal`.
   * @throws the driver's error, as `query`; RequestCancelledError when the request's client disconnected first;
   *         the connection is left clean (no setting, role or transaction)
   */
  queryAs<R = Record<string, unknown>>(principal: Principal, text: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>>;

  /**
   * How request transactions are isolated from the owner (`request-login.ts`): `login` when they run on
   * connections that log in as the request role (PostgreSQL), `set-role` when they switch with `SET ROLE` per
   * transaction (PGlite; PostgreSQL's warned fallback). Server start calls it after migrations, so a required
   * but failing request login stops the start. Optional: test doubles may omit it.
   * @throws Error saying what to configure when the request login is required and fails
   */
  requestIsolation?(): Promise<RequestIsolation>;

  /**
   * Connection counts of the database's pools, for `/metrics` (issue 7 item 5): the owner pool and, once opened
   * and when it is its own pool (`requestIsolation` = `login`), the request pool. Absent where there is no pool
   * (PGlite: one embedded connection).
   */
  poolStats?(): readonly PoolStats[];

  /** Subscribe to a NOTIFY channel; resolves to an unsubscribe function. */
  listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>;

  /** Close the pool or the embedded instance. */
  close(): Promise<void>;
}

/** How request transactions are isolated from the owner login; see `Db.requestIsolation`. */
export type RequestIsolation = 'login' | 'set-role';

/** The non-owner role requests run as (SPEC S-6). */
export const REQUEST_ROLE = 'lattice_request';

/** Connections of one pool (`Db.poolStats`). */
export interface PoolStats {
  /** `owner`: migrations, keys, administration; `request`: request transactions logging in as the request role. */
  readonly pool: 'owner' | 'request';
  /** Connections open. */
  readonly total: number;
  /** Open connections not checked out. */
  readonly idle: number;
  /** Callers waiting for a connection. */
  readonly waiting: number;
}

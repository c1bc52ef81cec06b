/**
 * `Db` over embedded PGlite (SPEC S-1 default driver), with the `vector` (pgvector) and `pg_trgm` extensions
 * loaded at creation (PGlite requires every extension up front).
 *
 * PGlite facts this relies on (GUIDE, verified on 0.5.14):
 * - one connection: statements queue; `transaction()` holds every other caller off. Every transaction here
 *   holds PGlite's transaction mutex (owner transactions through `transaction()`, request transactions through
 *   `pglite-session.ts`, which takes the same mutexes) — a manual BEGIN via `query()` would interleave with other
 *   callers. Consequently, calling `db.query()` (not the handle) inside a transaction callback deadlocks: use the
 *   handle.
 * - request transactions (`withPrincipal`, `queryAs`) run as named prepared statements, a request's statements in
 *   one protocol exchange (`pglite-session.ts`: why, and what was measured).
 * - the default user is a superuser and bypasses RLS even when forced, so `withPrincipal` switches to the
 *   request role with `set_config('role', ...)` (= SET LOCAL ROLE); with that, RLS filters as on PostgreSQL.
 * - int8 comes back as a number or BigInt by default: normalised as node-postgres (see `parsers.ts`).
 * - a statement runs synchronously inside the WASM instance and cannot be interrupted: when a request's client
 *   disconnects (`cancel.ts`), its running statement finishes (the event loop, busy with it, only notices the
 *   disconnect afterwards); what the request has not sent yet is skipped: a transaction still queued behind
 *   others does not start, no further statement of it is sent, and it is rolled back instead of committed.
 */
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { vector } from '@electric-sql/pglite-pgvector';
import type { Principal } from '../auth/principal.js';
import { quoteIdent } from '../query/sql/ident.js';
import { currentCancellation, RequestCancelledError, throwIfCancelled, withoutCancellation, type Cancellation } from './cancel.js';
import { PGLITE_PARSERS, unparsed } from './parsers.js';
import { PgliteSession, type PgliteSend } from './pglite-session.js';
import { OWNER_SETTINGS_SQL, PRINCIPAL_SETTINGS_SQL, principalParams } from './session.js';
import type { Db, DbStats, Queryable, QueryOptions, QueryResult, RequestIsolation } from './types.js';

/** Options of `openPglite`. */
export interface PgliteOptions {
  /** Data directory on disk; in memory when omitted. The caller is responsible for locking it (see `open.ts`). */
  dataDir?: string;
}

type PgliteResults = { rows: unknown[]; affectedRows?: number; command?: string };
type PgliteQueryOptions = { rowMode?: 'array'; parsers?: Record<number, (text: string) => unknown> };
type PgliteQueryable = { query: (text: string, params?: unknown[], options?: PgliteQueryOptions) => Promise<PgliteResults> };

const WRITE_COMMANDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

function toResult<R>(res: PgliteResults): QueryResult<R> {
  const rows = res.rows as R[];
  const affected = res.command && WRITE_COMMANDS.has(res.command) ? res.affectedRows : undefined;
  return { rows, rowCount: affected ?? rows.length };
}

class PgliteDb implements Db {
  readonly kind = 'pglite' as const;
  readonly stats: DbStats = { statements: 0 };
  private closed = false;

  /** PGlite query options of `QueryOptions.raw`, for the parsers PGlite had when they were made (`pgliteOptions`). */
  private raw: { readonly types: number; readonly options: PgliteQueryOptions } | undefined;

  /** Request transactions: named prepared statements, one protocol exchange per read. */
  private readonly session: PgliteSession;

  constructor(private readonly pglite: PGlite) {
    this.session = new PgliteSession(pglite, () => {
      this.stats.statements++;
    });
  }

  /**
   * PGlite's query options for `options`. Raw rows: arrays, and the identity parser for every type PGlite has a
   * parser for (PGlite merges a query's `parsers` over its own, which also hold one per array type, added when
   * types are created, and falls back to its defaults, which its own include), so every value stays text.
   */
  private pgliteOptions(options: QueryOptions | undefined): PgliteQueryOptions | undefined {
    if (!options?.raw) return undefined;
    const types = Object.keys(this.pglite.parsers);
    if (this.raw?.types !== types.length) {
      this.raw = { types: types.length, options: { rowMode: 'array', parsers: Object.fromEntries(types.map((oid) => [oid, unparsed])) } };
    }
    return this.raw.options;
  }

  async query<R = Record<string, unknown>>(text: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    this.stats.statements++;
    return toResult<R>(await (this.pglite as unknown as PgliteQueryable).query(text, params as unknown[] | undefined, this.pgliteOptions(options)));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.run(OWNER_SETTINGS_SQL, [], fn);
  }

  async withPrincipal<T>(principal: Principal, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const cancellation = currentCancellation();
    throwIfCancelled(cancellation);
    const settings = { text: PRINCIPAL_SETTINGS_SQL, params: principalParams(principal) };
    return this.session.transaction(settings, (send) => fn(this.handle(send)), cancellation);
  }

  async queryAs<R = Record<string, unknown>>(principal: Principal, text: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    const cancellation = currentCancellation();
    throwIfCancelled(cancellation);
    const settings = { text: PRINCIPAL_SETTINGS_SQL, params: principalParams(principal) };
    return toResult<R>(await this.session.queryAs(settings, text, params, this.pgliteOptions(options), cancellation));
  }

  /** The transaction handle over a request transaction's `send`. */
  private handle(send: PgliteSend): Queryable {
    return {
      query: async <R = Record<string, unknown>>(text: string, p?: readonly unknown[], options?: QueryOptions) =>
        toResult<R>(await send(text, p, this.pgliteOptions(options))),
    };
  }

  /** Always `set-role`: one embedded connection, logged in as a superuser (see ARCHITECTURE, "Request role"). */
  async requestIsolation(): Promise<RequestIsolation> {
    return 'set-role';
  }

  async listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>> {
    // PGlite interpolates the channel into `LISTEN <channel>`: pass it quoted (it strips the quotes for
    // matching). Its returned unsubscribe function re-normalises the already-unquoted name (lower-casing it),
    // so unsubscribe through `unlisten` with the quoted name instead.
    const name = quoteIdent(channel);
    // A NOTIFY is delivered in the async context of the statement that committed it, a request's: its handler
    // (live pushes) must not inherit that request's cancellation.
    const dispatch = (payload: string) => withoutCancellation(() => handler(payload));
    await this.pglite.listen(name, dispatch);
    let active = true;
    return async () => {
      if (!active || this.closed) return;
      active = false;
      await this.pglite.unlisten(name, dispatch);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pglite.close();
  }

  /**
   * One transaction around `fn` (PGlite commits when the callback resolves, rolls back when it throws).
   * @param cancellation the request's cancellation: once cancelled, nothing more is sent (a transaction that was
   *        queued does not start) and the transaction is rolled back; a running statement finishes (file comment)
   * @throws RequestCancelledError when the request is cancelled before the transaction commits
   */
  private run<T>(settingsSql: string, params: unknown[], fn: (tx: Queryable) => Promise<T>, cancellation?: Cancellation): Promise<T> {
    return this.pglite.transaction(async (tx) => {
      const raw = tx as unknown as PgliteQueryable;
      let done = false;
      throwIfCancelled(cancellation); // the client left while this transaction waited for the one connection
      await raw.query(settingsSql, params);
      const handle: Queryable = {
        query: async <R = Record<string, unknown>>(text: string, p?: readonly unknown[], options?: QueryOptions) => {
          if (done) throw new Error('This transaction has already finished; run statements inside its callback.');
          throwIfCancelled(cancellation);
          this.stats.statements++;
          return toResult<R>(await raw.query(text, p as unknown[] | undefined, this.pgliteOptions(options)));
        },
      };
      try {
        const result = await fn(handle);
        if (cancellation?.cancelled) throw new RequestCancelledError(false); // rolled back, not committed
        return result;
      } finally {
        done = true;
      }
    });
  }
}

/**
 * Start a PGlite instance (initdb on first start of a data directory: 2–5 s; later starts ~0.3 s).
 * @throws PGlite's error when the data directory is unusable (e.g. not a PGlite data directory).
 */
export async function openPglite(options: PgliteOptions = {}): Promise<Db> {
  const pglite = new PGlite({
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    extensions: { vector, pg_trgm },
    parsers: PGLITE_PARSERS,
  });
  await pglite.waitReady;
  await pglite.query(`SET TimeZone = 'UTC'`);
  return new PgliteDb(pglite);
}

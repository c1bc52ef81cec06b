/**
 * A `Db` that measures what it sends (issue 7 item 5): statement and transaction durations in the Prometheus
 * metrics (`metrics.ts`), and, during a traced request, one CLIENT span per statement under the request's
 * span (`telemetry.ts`), following OpenTelemetry's database semantic conventions (`db.system` /
 * `db.system.name` = `postgresql`, `db.operation.name`, `db.query.text` only when `includeQueryText`, i.e.
 * in development mode: statements of other servers' clients may carry literals).
 *
 * It wraps any implementation (node-postgres or PGlite) without changing it; `stats`, `listen` and `close` are
 * the wrapped Db's. Statements sent by the Db itself (transaction control, principal settings) are not seen:
 * a transaction's duration covers them.
 */
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { Principal } from '../auth/principal.js';
import { isRequestCancelled } from '../db/cancel.js';
import type { Db, Queryable, QueryOptions, QueryResult } from '../db/types.js';
import { metrics as processMetrics, type LatticeMetrics, type StatementVia } from './metrics.js';
import { requestSpanContext } from './telemetry.js';

export interface InstrumentOptions {
  readonly metrics?: LatticeMetrics;
  /** Tracer for SQL spans; none: no spans. */
  readonly tracer?: Tracer;
  /** Put the SQL text in `db.query.text` (development mode only). */
  readonly includeQueryText?: boolean;
}

const seconds = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

/** The statement's first keyword (`SELECT`, `WITH`, `INSERT`…), for the span name and `db.operation.name`. */
function operationOf(text: string): string {
  const m = /^\s*(?:--[^\n]*\n\s*|\/\*[\s\S]*?\*\/\s*)*([A-Za-z]+)/.exec(text);
  return m ? m[1].toUpperCase() : 'SQL';
}

/**
 * Wrap `db` so every statement and transaction is measured (and traced during traced requests).
 * @returns a Db with the same behaviour and errors as `db`
 */
export function instrumentDb(db: Db, options: InstrumentOptions = {}): Db {
  const m = options.metrics ?? processMetrics;
  const tracer = options.tracer;
  // Label children resolved once: observing through them skips prom-client's per-call label hashing.
  const VIA: readonly StatementVia[] = ['query', 'query_as', 'transaction', 'principal_transaction'];
  const observers = new Map(
    VIA.map((via) => [
      via,
      { ok: m.statementDuration.labels(via, 'ok'), error: m.statementDuration.labels(via, 'error'), cancelled: m.statementDuration.labels(via, 'cancelled') },
    ]),
  );

  async function timed<R>(via: StatementVia, text: string, run: () => Promise<QueryResult<R>>): Promise<QueryResult<R>> {
    const parent = tracer ? requestSpanContext() : undefined;
    const span = parent
      ? tracer!.startSpan(
          operationOf(text),
          {
            kind: SpanKind.CLIENT,
            attributes: {
              'db.system': 'postgresql',
              'db.system.name': 'postgresql',
              'db.operation.name': operationOf(text),
              ...(options.includeQueryText ? { 'db.query.text': text } : {}),
            },
          },
          parent,
        )
      : undefined;
    const start = process.hrtime.bigint();
    try {
      const result = await run();
      observers.get(via)!.ok.observe(seconds(start));
      span?.setAttribute('db.response.returned_rows', result.rowCount);
      return result;
    } catch (err) {
      // `cancelled`: the client disconnected and the statement was cancelled or skipped (src/db/cancel.ts).
      observers.get(via)![isRequestCancelled(err) ? 'cancelled' : 'error'].observe(seconds(start));
      if (span) {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'string') span.setAttribute('db.response.status_code', code);
        span.setAttribute('error.type', typeof code === 'string' ? code : err instanceof Error ? err.name : 'Error');
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      throw err;
    } finally {
      span?.end();
    }
  }

  const wrapTx = (tx: Queryable, via: StatementVia): Queryable => ({
    query: <R>(text: string, params?: readonly unknown[], options?: QueryOptions) => timed<R>(via, text, () => tx.query<R>(text, params, options)),
  });

  async function transactionTimed<T>(kind: 'owner' | 'principal', run: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    try {
      const out = await run();
      m.transactionDuration.observe({ kind, outcome: 'commit' }, seconds(start));
      return out;
    } catch (err) {
      m.transactionDuration.observe({ kind, outcome: isRequestCancelled(err) ? 'cancelled' : 'rollback' }, seconds(start));
      throw err;
    }
  }

  return {
    kind: db.kind,
    get stats() {
      return db.stats;
    },
    query: <R>(text: string, params?: readonly unknown[], options?: QueryOptions) => timed<R>('query', text, () => db.query<R>(text, params, options)),
    queryAs: <R>(principal: Principal, text: string, params?: readonly unknown[], options?: QueryOptions) =>
      timed<R>('query_as', text, () => db.queryAs<R>(principal, text, params, options)),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) => transactionTimed('owner', () => db.transaction((tx) => fn(wrapTx(tx, 'transaction')))),
    withPrincipal: <T>(principal: Principal, fn: (tx: Queryable) => Promise<T>) =>
      transactionTimed('principal', () => db.withPrincipal(principal, (tx) => fn(wrapTx(tx, 'principal_transaction')))),
    ...(db.poolStats ? { poolStats: () => db.poolStats!() } : {}),
    listen: (channel, handler) => db.listen(channel, handler),
    close: () => db.close(),
  };
}

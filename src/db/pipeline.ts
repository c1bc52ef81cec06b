/**
 * Several statements in ONE round trip over a node-postgres connection (PostgreSQL frontend/backend protocol,
 * "Extended Query" and "Pipelining", https://www.postgresql.org/docs/current/protocol-flow.html).
 *
 * For each step the client writes Parse (unless the connection already holds the named statement), Bind,
 * Describe (portal) and Execute, and after the last step ONE Sync; all of it in a single socket write. The
 * server answers in order and ends with one ReadyForQuery. Protocol facts this relies on:
 * - Without an explicit BEGIN, everything up to the Sync is one implicit transaction: `set_config(..., true)`
 *   in the first step stays in force for the later steps and is undone at the Sync (commit or abort).
 * - After an error the server skips every message up to the Sync, and the Sync then aborts the implicit
 *   transaction (or leaves an explicit one in the failed state): no later step runs, nothing stays set.
 * - `statement_timeout` is armed per protocol message from the setting in force when the message arrives, so a
 *   timeout set by an earlier step applies to the later ones (verified on PostgreSQL 15 by test/db/round-trips.test.ts).
 *
 * The object handed to `client.query()` is a node-postgres "Submittable" (the documented extension point that
 * pg-cursor and pg-query-stream use): the client forwards the backend's messages to it while it is the active
 * query. ParseComplete is not forwarded, so it listens on the connection for those while it runs.
 */
import pg from 'pg';

/** One statement of a pipeline. Values are always bind parameters. */
export interface PipelineStep {
  readonly text: string;
  readonly values?: readonly unknown[];
  /** Named prepared statement (parsed only when the connection does not hold it yet); unnamed when omitted. */
  readonly name?: string;
}

/** Rows of one step, parsed with the pipeline's type parsers. */
export interface StepResult {
  readonly rows: Record<string, unknown>[];
  /** Rows affected (INSERT/UPDATE/DELETE/...) or returned, from the command tag; null when the tag has none. */
  readonly rowCount: number | null;
  /** Command tag verb (`SELECT`, `INSERT`, `BEGIN`, ...); null for an empty statement. */
  readonly command: string | null;
}

/** How a pipeline ended: every step's result, or the first failure (later steps were skipped by the server). */
export type PipelineOutcome =
  | { readonly ok: true; readonly results: StepResult[] }
  | {
      readonly ok: false;
      readonly error: Error;
      /** Index of the failing step; `-1` when the pipeline was never sent (a value could not be serialised). */
      readonly failedAt: number;
    };

/** Options of `sendPipeline`. */
export interface PipelineOptions {
  /** Result type parsers (the pool's `types`, e.g. `PG_TYPES`); default node-postgres' global ones. */
  readonly types?: pg.CustomTypesConfig;
  /** Named statements to Close first (evicted from a cache): no extra round trip, no error if absent. */
  readonly close?: readonly string[];
  /** `array`: each row as an array of its columns' values (node-postgres' `rowMode`); default an object by column name. */
  readonly rowMode?: 'array';
}

/** The connection fields this module touches (node-postgres `Connection`; checked by test/db/round-trips.test.ts). */
interface PgConnection {
  parsedStatements: Record<string, string>;
  stream: { cork?: () => void; uncork?: () => void };
  parse(msg: { text: string; name?: string; types?: number[] }): void;
  bind(msg: { portal?: string; statement?: string; values?: unknown[] }): void;
  describe(msg: { type: 'P' | 'S'; name?: string }): void;
  execute(msg: { portal?: string; rows?: number }): void;
  close(msg: { type: 'P' | 'S'; name?: string }): void;
  sync(): void;
  sendCopyFail(msg: string): void;
  on(event: 'parseComplete', listener: () => void): void;
  removeListener(event: 'parseComplete', listener: () => void): void;
}

type FieldMessage = { fields: unknown[] };
type ResultLike = {
  rows: Record<string, unknown>[];
  rowCount: number | null;
  command: string | null;
  addFields(fields: unknown[]): void;
  parseRow(fields: unknown[]): Record<string, unknown>;
  addRow(row: Record<string, unknown>): void;
  addCommandComplete(msg: unknown): void;
};
const PgResult = (pg as unknown as { Result: new (rowMode: 'array' | undefined, types: unknown) => ResultLike }).Result;
/** node-postgres' conversion of JS values to parameter text (Date, Buffer, arrays, JSON objects, toPostgres). */
const prepareValue = (pg as unknown as { utils: { prepareValue: (v: unknown) => unknown } }).utils.prepareValue;

/** The node-postgres Submittable that writes and reads one pipeline. */
class PipelineQuery {
  private index = 0;
  private readonly results: ResultLike[] = [];
  private rowError: { error: Error; at: number } | undefined;
  private settled = false;
  private connection: PgConnection | undefined;
  private readonly onParseComplete = () => {
    const step = this.steps[this.index];
    if (step?.name && this.connection) this.connection.parsedStatements[step.name] = step.text;
  };

  constructor(
    private readonly steps: readonly PipelineStep[],
    private readonly values: unknown[][],
    private readonly options: PipelineOptions,
    private readonly done: (outcome: PipelineOutcome) => void,
  ) {}

  /** Called by the client when this query's turn comes: write everything, then one Sync. */
  submit(connection: PgConnection): null {
    this.connection = connection;
    connection.on('parseComplete', this.onParseComplete);
    connection.stream.cork?.();
    try {
      for (const name of this.options.close ?? []) connection.close({ type: 'S', name });
      this.steps.forEach((step, i) => {
        if (!step.name || connection.parsedStatements[step.name] === undefined) {
          connection.parse({ text: step.text, name: step.name ?? '', types: [] });
        }
        connection.bind({ portal: '', statement: step.name ?? '', values: this.values[i] });
        connection.describe({ type: 'P', name: '' });
        connection.execute({ portal: '', rows: 0 });
      });
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(msg: FieldMessage): void {
    const result = this.current();
    result.addFields(msg.fields);
  }

  handleDataRow(msg: FieldMessage): void {
    if (this.rowError) return;
    const result = this.current();
    try {
      result.addRow(result.parseRow(msg.fields));
    } catch (err) {
      this.rowError = { error: err as Error, at: this.index }; // reported at ReadyForQuery, as node-postgres' Query does
    }
  }

  handleCommandComplete(msg: unknown): void {
    this.current().addCommandComplete(msg);
    this.index++;
  }

  handleEmptyQuery(): void {
    this.current();
    this.index++;
  }

  handlePortalSuspended(): void {
    /* never: every Execute asks for all rows */
  }

  handleCopyInResponse(connection: PgConnection): void {
    connection.sendCopyFail('COPY FROM STDIN is not supported in a pipeline');
  }

  handleCopyData(): void {
    /* COPY TO STDOUT data is ignored */
  }

  /** A backend ErrorResponse (the client has already dropped this query), a socket error, or a submit error. */
  handleError(err: Error): void {
    this.finish({ ok: false, error: err, failedAt: this.connection ? this.index : -1 });
  }

  handleReadyForQuery(): void {
    if (this.rowError) this.finish({ ok: false, error: this.rowError.error, failedAt: this.rowError.at });
    else this.finish({ ok: true, results: this.results.map((r) => ({ rows: r.rows, rowCount: r.rowCount, command: r.command })) });
  }

  private current(): ResultLike {
    let result = this.results[this.index];
    if (!result) {
      result = new PgResult(this.options.rowMode, this.options.types ?? pg.types);
      this.results[this.index] = result;
    }
    return result;
  }

  private finish(outcome: PipelineOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.connection?.removeListener('parseComplete', this.onParseComplete);
    this.done(outcome);
  }
}

/**
 * Send `steps` over `client` as one pipeline (one Sync, one round trip) and collect each step's rows.
 * Queued behind the client's other queries like any `client.query()`.
 * @returns the outcome; never rejects for database errors (the first error is in the outcome, with its step),
 *          so a caller can keep its prepared-statement bookkeeping right before rethrowing it
 */
export function sendPipeline(client: pg.ClientBase, steps: readonly PipelineStep[], options: PipelineOptions = {}): Promise<PipelineOutcome> {
  let values: unknown[][];
  try {
    values = steps.map((s) => (s.values ?? []).map((v) => prepareValue(v)));
  } catch (err) {
    // Nothing was written: a value node-postgres cannot serialise (e.g. a cyclic object).
    return Promise.resolve({ ok: false, error: err as Error, failedAt: -1 });
  }
  return new Promise<PipelineOutcome>((resolve) => {
    client.query(new PipelineQuery(steps, values, options, resolve) as unknown as pg.QueryConfig);
  });
}

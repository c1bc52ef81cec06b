/**
 * Named prepared statements per pooled connection (SPEC G-11: a repeated document skips work).
 *
 * A compiled GraphQL/REST read is one long statement whose text depends only on the document's shape (values
 * are bind parameters), so the same text recurs. Sent as a *named* statement, PostgreSQL parses and analyses it
 * once per connection and, after a few executions, reuses a generic plan — measured ~0.5–1 ms off the
 * seed-000 dashboard query (≈ 20 % of its SQL time). RLS stays correct: the policies read the principal through
 * `(SELECT lattice.current_project_ids())` at execution time, and PostgreSQL re-plans cached plans itself after
 * DDL or a role change.
 *
 * Each connection keeps at most {@link MAX_PREPARED_PER_CONNECTION} statements (least recently used evicted).
 * Statements run in pipelines (`pipeline.ts`); an evicted statement is closed (protocol Close message) at the
 * head of the connection's next pipeline, so eviction costs no round trip. A statement that fails (to prepare or
 * to execute) is dropped and closed the same way, so a stale plan (e.g. "cached plan must not change result
 * type" after DDL) is never retried. Names are never reused (a per-connection counter), so a stale driver entry
 * can never alias another text.
 */
import type pg from 'pg';
import { LRUCache } from 'lru-cache';
import { sendPipeline, type PipelineOutcome, type PipelineStep, type StepResult } from './pipeline.js';

/** Statements kept prepared per connection. */
export const MAX_PREPARED_PER_CONNECTION = 100;

interface ConnectionStatements {
  /** Statement text → name. */
  readonly names: LRUCache<string, string>;
  /** Names evicted or failed, to be closed on the server by the next pipeline. */
  readonly closing: string[];
  next: number;
}

const perConnection = new WeakMap<pg.ClientBase, ConnectionStatements>();

type DriverConnection = { parsedStatements?: Record<string, string>; submittedNamedStatements?: Record<string, string> };

/** The driver's own records of named statements (node-postgres internals, checked by test/db/prepared.test.ts). */
function driverConnection(client: pg.ClientBase): DriverConnection | undefined {
  return (client as unknown as { connection?: DriverConnection }).connection;
}

/** Forget a name in the driver's records (names are never reused; this only keeps the maps bounded). */
function forget(client: pg.ClientBase, name: string): void {
  const c = driverConnection(client);
  if (c?.parsedStatements) delete c.parsedStatements[name];
  if (c?.submittedNamedStatements) delete c.submittedNamedStatements[name];
}

function statementsOf(client: pg.ClientBase): ConnectionStatements {
  let s = perConnection.get(client);
  if (!s) {
    const closing: string[] = [];
    s = {
      closing,
      next: 0,
      names: new LRUCache<string, string>({
        max: MAX_PREPARED_PER_CONNECTION,
        dispose: (name, _text, reason) => {
          if (reason === 'evict' || reason === 'delete') closing.push(name);
        },
      }),
    };
    perConnection.set(client, s);
  }
  return s;
}

/**
 * The pipeline step that runs `text` as this connection's named statement for it (a new name on first use).
 * Marks the statement most recently used; may evict another, which the next `runSteps` on `client` closes.
 */
export function preparedStep(client: pg.ClientBase, text: string, values: readonly unknown[] | undefined): PipelineStep {
  const s = statementsOf(client);
  let name = s.names.get(text);
  if (name === undefined) {
    name = `lattice_q${s.next++}`;
    s.names.set(text, name);
  }
  return { text, values, name };
}

/**
 * Run `steps` on `client` in one round trip (`sendPipeline`), closing statements evicted since the last run
 * first, and dropping a prepared statement that fails so its next use prepares afresh.
 * @returns the pipeline's outcome (never rejects for database errors; see `resultsOf`)
 */
export async function runSteps(
  client: pg.ClientBase,
  steps: readonly PipelineStep[],
  types?: pg.CustomTypesConfig,
  rowMode?: 'array',
): Promise<PipelineOutcome> {
  const s = perConnection.get(client);
  let close: string[] = [];
  if (s && s.closing.length > 0) {
    const inUse = new Set(steps.map((step) => step.name));
    close = s.closing.filter((name) => !inUse.has(name));
    const keep = s.closing.filter((name) => inUse.has(name));
    s.closing.length = 0;
    s.closing.push(...keep);
  }
  const outcome = await sendPipeline(client, steps, { types, close, ...(rowMode ? { rowMode } : {}) });
  for (const name of close) forget(client, name);
  if (!outcome.ok) {
    const failed = steps[outcome.failedAt];
    if (s && failed?.name && s.names.peek(failed.text) === failed.name) {
      s.names.delete(failed.text); // queues the name for Close (harmless when it was never created)
      forget(client, failed.name);
    }
  }
  return outcome;
}

/**
 * The results of a pipeline outcome.
 * @throws the driver's error of the first failing step (later steps did not run)
 */
export function resultsOf(outcome: PipelineOutcome): StepResult[] {
  if (!outcome.ok) throw outcome.error;
  return outcome.results;
}

/**
 * Run `text` as a named prepared statement on `client` (preparing it on first use on this connection).
 * @returns the statement's rows and row count
 * @throws the driver's error; a statement that failed is forgotten so the next call prepares it again
 */
export async function queryPrepared(
  client: pg.ClientBase,
  text: string,
  values: readonly unknown[] | undefined,
  types?: pg.CustomTypesConfig,
  rowMode?: 'array',
): Promise<StepResult> {
  return resultsOf(await runSteps(client, [preparedStep(client, text, values)], types, rowMode))[0];
}

/**
 * The write layer of the traces preset (SPEC R-6), shared by every tracing ingestion route: normalized records
 * (`records.ts`) with the client's ids → rows of `session`, `trace`, `observation` and `score`, written with ONE
 * merge statement per entity (`store-sql.ts`), parents first, in the caller's transaction.
 *
 * - Ids: `rowIdFor(kind, clientId)` (`ids.ts`), the client's spelling in `external_id`. Ids are global like every
 *   row id: a trace, observation, score or session id another project uses is a 409 (never an overwrite).
 * - Records of one row (several events for the same id) are folded into one row first (`mergeInto`), so an
 *   update in the same batch as its create merges exactly as one arriving later.
 * - A trace, session or parent observation that a record names but the batch does not carry is written as a
 *   placeholder (inserted only when absent), so children may arrive before parents; the parent's own event
 *   later merges into it.
 * - Every record gets an outcome: 201 inserted, 200 merged into an existing row, or a failure (409 id of
 *   another project, 422 reference missing, 403, 400) whose message names the client's id. A record whose
 *   trace, parent or session failed fails with that reason.
 */
import { resolveWriteProject, type Principal } from '../auth/principal.js';
import type { Db, Queryable } from '../db/types.js';
import type { Model } from '../model/types.js';
import { qualified } from '../query/sql/ident.js';
import { isDbError, withWriteIsolation } from '../query/write/execute.js';
import { rowIdFor, type TraceIdKind } from './ids.js';
import { requireTracesModel, type TracesModel } from './model.js';
import { COLUMNS, mergeInto, RULES, sortedSet, STORE_ENTITIES, type StoreEntity, type TraceStoreRecord } from './records.js';
import { compileMerge, type MergeOutcome, type MergeRow } from './store-sql.js';

export type * from './records.js';

/** What happened to one record. */
export interface StoreOutcome {
  /** 201 inserted, 200 merged, else 400 / 403 / 409 / 422. */
  readonly status: number;
  /** For failures: what was wrong and what to do. */
  readonly message?: string;
  /** The row id the record was written to. */
  readonly rowId: string;
}

/** Options of {@link writeTraceEvents}. */
export interface StoreOptions {
  /** The project to write into; default `resolveWriteProject(principal)`. */
  readonly projectId?: string;
  /** Run each statement in a SAVEPOINT and row by row when it fails (the second attempt of `withWriteIsolation`). */
  readonly isolate?: boolean;
}

/** One row to write, folded from records and placeholders. */
interface PendingRow {
  readonly entity: StoreEntity;
  readonly rowId: string;
  readonly clientId: string;
  values: Record<string, unknown>;
  stub: boolean;
  /** Indexes of the records folded into this row. */
  readonly records: number[];
  /** What happened to the row, once decided. */
  result?: RowResult;
}

/** Result of one row. */
interface RowResult {
  readonly status: number;
  readonly message?: string;
}

const KIND: Readonly<Record<StoreEntity, TraceIdKind>> = { session: 'session', trace: 'trace', observation: 'observation', score: 'score' };

/** References of each entity: column → the entity it names. */
const REFS: Readonly<Record<StoreEntity, Readonly<Record<string, StoreEntity>>>> = {
  session: {},
  trace: { session_id: 'session' },
  observation: { trace_id: 'trace', parent_id: 'observation' },
  score: { trace_id: 'trace', observation_id: 'observation', session_id: 'session' },
};

/**
 * Write normalized records in the caller's transaction (a `withPrincipal` transaction of `principal`).
 * @param model the served model; must have the traces preset's shape
 * @returns one outcome per record, in input order
 * @throws LatticeError NOT_FOUND when the model lacks the traces entities; FORBIDDEN / BAD_USER_INPUT when the
 *         principal cannot write or names no single project (`resolveWriteProject`); the database error of a
 *         failed statement when `isolate` is false (run it through `withWriteIsolation`, see {@link writeTraceBatch})
 */
export async function writeTraceEvents(
  tx: Queryable,
  model: Model,
  principal: Principal,
  records: readonly TraceStoreRecord[],
  options: StoreOptions = {},
): Promise<StoreOutcome[]> {
  const tm = requireTracesModel(model, 'Tracing ingestion');
  const projectId = options.projectId ?? resolveWriteProject(principal);
  const rows = foldRows(projectId, records, new Date().toISOString());
  await linkPrompts(tx, tm, projectId, records, rows.get('observation')!);
  // Rows failed so far: while there are none, no row can have a failed dependency.
  let failures = 0;
  for (const entity of STORE_ENTITIES) {
    const pending: PendingRow[] = [];
    for (const row of rows.get(entity)!.values()) {
      const failed = failures > 0 ? failedDependency(row, rows) : undefined;
      if (failed) {
        row.result = failed;
        failures++;
      } else pending.push(row);
    }
    if (pending.length === 0) continue;
    const outcomes = await mergeRows(tx, tm, entity, pending, options.isolate ?? false);
    for (let i = 0; i < pending.length; i++) {
      const r = (pending[i].result = rowResult(pending[i], outcomes[i]));
      if (r.status >= 300) failures++;
    }
  }
  const out: StoreOutcome[] = new Array(records.length);
  for (const entity of STORE_ENTITIES) {
    for (const row of rows.get(entity)!.values()) {
      const r = row.result!;
      for (const i of row.records) out[i] = r.message === undefined ? { status: r.status, rowId: row.rowId } : { status: r.status, message: r.message, rowId: row.rowId };
    }
  }
  return out;
}

/**
 * Write records in their own transaction as `principal`, with the write path's failure isolation (a statement
 * that fails as a whole is retried row by row in savepoints, so one bad record never sinks the others).
 * @returns one outcome per record, in input order
 * @throws as {@link writeTraceEvents}
 */
export async function writeTraceBatch(db: Db, model: Model, principal: Principal, records: readonly TraceStoreRecord[], projectId?: string): Promise<StoreOutcome[]> {
  const project = projectId ?? resolveWriteProject(principal);
  return withWriteIsolation(db, principal, (tx, isolate) => writeTraceEvents(tx, model, principal, records, { projectId: project, isolate }));
}

/** Records (and the placeholders they need) → rows per entity, records of one row folded in input order. */
function foldRows(projectId: string, records: readonly TraceStoreRecord[], now: string): Map<StoreEntity, Map<string, PendingRow>> {
  const rows = new Map<StoreEntity, Map<string, PendingRow>>(STORE_ENTITIES.map((e) => [e, new Map()]));
  // Client id → row id per entity: an id named by many records (a parent span, a trace) is mapped once (a
  // non-UUID id costs a SHA-256).
  const rowIds = new Map<StoreEntity, Map<string, string>>(STORE_ENTITIES.map((e) => [e, new Map()]));
  const rowIdOf = (entity: StoreEntity, clientId: string): string => {
    const known = rowIds.get(entity)!;
    let rowId = known.get(clientId);
    if (rowId === undefined) known.set(clientId, (rowId = rowIdFor(KIND[entity], clientId)));
    return rowId;
  };
  const add = (entity: StoreEntity, clientId: string, values: Record<string, unknown>, record: number): string => {
    const rowId = rowIdOf(entity, clientId);
    const byId = rows.get(entity)!;
    // `values` is always a fresh object of this call's caller: completed in place (no copy).
    const base = values;
    base.id = rowId;
    base.project_id = projectId;
    base.external_id = clientId;
    const row = byId.get(rowId);
    if (!row) byId.set(rowId, { entity, rowId, clientId, values: base, stub: false, records: [record] });
    else {
      // A real record replacing a placeholder keeps only what the placeholder knew and the record does not say.
      row.values = row.stub ? { ...placeholderValues(row.values, base), ...base } : mergeInto(RULES[entity], row.values, base);
      row.stub = false;
      row.records.push(record);
    }
    return rowId;
  };
  // A placeholder (`key`: the one column it knows, if any) only fills what an existing row lacks (a trace's
  // timestamp for a trace named before its event); nothing is allocated for a row already there.
  const placeholder = (entity: StoreEntity, clientId: string, key?: string, value?: unknown): string => {
    const rowId = rowIdOf(entity, clientId);
    const byId = rows.get(entity)!;
    const row = byId.get(rowId);
    if (row) {
      if (key !== undefined && !(key in row.values)) row.values[key] = value;
      return rowId;
    }
    const values: Record<string, unknown> = {};
    if (key !== undefined) values[key] = value;
    values.id = rowId;
    values.project_id = projectId;
    values.external_id = clientId;
    byId.set(rowId, { entity, rowId, clientId, values, stub: true, records: [] });
    return rowId;
  };
  records.forEach((r, i) => {
    const values = columnsOf(r.kind, r as unknown as Record<string, unknown>);
    switch (r.kind) {
      case 'session':
        add('session', r.id, values, i);
        break;
      case 'trace':
        if (r.sessionId != null) values.session_id = placeholder('session', r.sessionId);
        else if (r.sessionId === null) values.session_id = null;
        add('trace', r.id, values, i);
        break;
      case 'observation':
        values.trace_id = placeholder('trace', r.traceId, 'timestamp', r.startTime ?? now);
        if (r.parentObservationId != null) values.parent_id = placeholder('observation', r.parentObservationId, 'trace_id', values.trace_id);
        else if (r.parentObservationId === null) values.parent_id = null;
        add('observation', r.id, values, i);
        break;
      case 'score': {
        const traceId = r.traceId != null ? placeholder('trace', r.traceId, 'timestamp', r.timestamp ?? now) : r.traceId;
        if (traceId !== undefined) values.trace_id = traceId;
        if (r.observationId != null) values.observation_id = traceId ? placeholder('observation', r.observationId, 'trace_id', traceId) : placeholder('observation', r.observationId);
        if (r.sessionId != null) values.session_id = placeholder('session', r.sessionId);
        add('score', r.id, values, i);
        break;
      }
    }
  });
  // A new trace needs a timestamp (NOT NULL in the preset) and a score has one: the time of receipt, as Langfuse
  // does. For an existing trace "now" changes nothing (the earliest timestamp is kept; a score's is kept).
  for (const entity of ['trace', 'score'] as const) for (const row of rows.get(entity)!.values()) row.values.timestamp ??= now;
  return rows;
}

/** What a placeholder row contributes to the real record replacing it: its trace timestamp or observation's trace, when the record lacks them. */
function placeholderValues(placeholder: Record<string, unknown>, record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['timestamp', 'trace_id']) if (k in placeholder && !(k in record)) out[k] = placeholder[k];
  return out;
}

/** A record's own columns (defined values only; tags as a sorted set). */
function columnsOf(entity: StoreEntity, record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const [fields, columns] = COLUMN_LISTS[entity];
  for (let i = 0; i < fields.length; i++) {
    const v = record[fields[i]];
    if (v === undefined) continue;
    const column = columns[i];
    out[column] = column === 'tags' && Array.isArray(v) ? sortedSet(v as string[]) : v;
  }
  return out;
}

/** {@link COLUMNS} as parallel lists (record fields, columns) per entity, for the per-record loop. */
const COLUMN_LISTS = Object.fromEntries(
  STORE_ENTITIES.map((e) => [e, [Object.keys(COLUMNS[e]), Object.values(COLUMNS[e])]]),
) as unknown as Record<StoreEntity, readonly [readonly string[], readonly string[]]>;

/**
 * Set `prompt_id` of observations naming a prompt version (`promptName` + `promptVersion`) that exists in the
 * project: one statement, only when the batch names prompts.
 */
async function linkPrompts(tx: Queryable, tm: TracesModel, projectId: string, records: readonly TraceStoreRecord[], observations: Map<string, PendingRow>): Promise<void> {
  const wanted: Array<{ row: PendingRow; name: string; version: number }> = [];
  for (const row of observations.values()) {
    for (const i of row.records) {
      const r = records[i];
      if (r.kind === 'observation' && r.promptName != null && r.promptVersion != null) wanted.push({ row, name: r.promptName, version: r.promptVersion });
    }
  }
  if (wanted.length === 0) return;
  const table = qualified(tm.prompt.table.schema, tm.prompt.table.name);
  const { rows } = await tx.query<{ id: string; name: string; version: number }>(
    `SELECT p.id::text AS id, p.name, p.version FROM ${table} p JOIN unnest($2::text[], $3::int[]) AS w(name, version) ` +
      `ON p.name = w.name AND p.version = w.version WHERE p.project_id = $1`,
    [projectId, wanted.map((w) => w.name), wanted.map((w) => w.version)],
  );
  const byKey = new Map(rows.map((r) => [`${r.version}:${r.name}`, r.id]));
  for (const w of wanted) {
    const id = byKey.get(`${w.version}:${w.name}`);
    if (id) w.row.values.prompt_id = id;
  }
}

/** The failure of a row this row references (written by an earlier statement), if any. */
function failedDependency(row: PendingRow, rows: Map<StoreEntity, Map<string, PendingRow>>): RowResult | undefined {
  for (const [column, target] of REF_LISTS[row.entity]) {
    const id = row.values[column];
    if (typeof id !== 'string' || target === row.entity) continue;
    const dep = rows.get(target)!.get(id);
    const r = dep?.result;
    if (r && r.status >= 300) {
      return { status: r.status, message: `${row.entity} "${row.clientId}" cannot be written: its ${target} "${dep.clientId}" failed: ${r.message}` };
    }
  }
  return undefined;
}

/** {@link REFS} as [column, target] lists per entity. */
const REF_LISTS = Object.fromEntries(STORE_ENTITIES.map((e) => [e, Object.entries(REFS[e])])) as unknown as Record<StoreEntity, ReadonlyArray<readonly [string, StoreEntity]>>;

/** Merge rows of one entity: one statement, `unseen` rows retried once; row by row in savepoints when isolating. */
async function mergeRows(tx: Queryable, tm: TracesModel, entity: StoreEntity, rows: PendingRow[], isolate: boolean): Promise<Array<MergeResult>> {
  const ordered = entity === 'observation' ? parentsFirst(rows) : rows;
  const run = async (part: PendingRow[]): Promise<MergeResult[]> => {
    const { text, params } = compileMerge(tm.model, {
      entity: tm[entity],
      rules: RULES[entity],
      rows: part.map((r): MergeRow => ({ values: r.values, stub: r.stub })),
    });
    const res = await tx.query<{ ord: number | string | null; outcome: MergeOutcome; col: string | null }>(text, params);
    // Rows not returned were inserted; the last row counts them (`store-sql.ts`).
    const out: MergeResult[] = new Array(part.length);
    let reported = 0;
    for (const r of res.rows) {
      if (r.ord === null) {
        reported += Number(r.col);
      } else {
        out[Number(r.ord) - 1] = { outcome: r.outcome, column: r.col ?? undefined };
        reported++;
      }
    }
    if (reported !== part.length) throw new Error(`merge statement reported ${reported} outcomes for ${part.length} rows`);
    for (let i = 0; i < out.length; i++) out[i] ??= INSERTED;
    return out;
  };
  const guarded = async (part: PendingRow[]): Promise<MergeResult[]> => {
    if (!isolate) return run(part);
    await tx.query('SAVEPOINT lattice_traces');
    try {
      const out = await run(part);
      await tx.query('RELEASE SAVEPOINT lattice_traces');
      return out;
    } catch (err) {
      if (!isDbError(err)) throw err;
      await tx.query('ROLLBACK TO SAVEPOINT lattice_traces');
    }
    const out: MergeResult[] = [];
    for (const row of part) {
      await tx.query('SAVEPOINT lattice_traces_row');
      try {
        out.push((await run([row]))[0]);
        await tx.query('RELEASE SAVEPOINT lattice_traces_row');
      } catch (err) {
        if (!isDbError(err)) throw err;
        await tx.query('ROLLBACK TO SAVEPOINT lattice_traces_row');
        out.push({ outcome: 'db_error', code: err.code });
      }
    }
    return out;
  };
  const first = await guarded(ordered);
  // An insert that found its id taken by a row the snapshot did not see: another project's row, or the same
  // row inserted concurrently by another request. A second statement sees committed rows: then it merges.
  const unseen = ordered.map((_, i) => i).filter((i) => first[i].outcome === 'unseen');
  if (unseen.length) {
    const again = await guarded(unseen.map((i) => ordered[i]));
    unseen.forEach((i, j) => (first[i] = again[j].outcome === 'unseen' ? { outcome: 'conflict' } : again[j]));
  }
  // Back to the input order (the usual batch lists parents first already: nothing to reorder).
  if (ordered.every((r, i) => r === rows[i])) return first;
  const byRow = new Map(ordered.map((r, i) => [r, first[i]]));
  return rows.map((r) => byRow.get(r)!);
}

type MergeResult = { outcome: MergeOutcome; column?: string } | { outcome: 'db_error'; code: string };

/** Shared results (never mutated): most rows of a batch have one of these. */
const INSERTED: MergeResult = { outcome: 'inserted' };
const CREATED: RowResult = { status: 201 };
const MERGED: RowResult = { status: 200 };

/** Observation rows with parents (of this batch) before children, so row-by-row writes satisfy foreign keys. */
function parentsFirst(rows: PendingRow[]): PendingRow[] {
  const byId = new Map(rows.map((r) => [r.rowId, r]));
  const done = new Set<PendingRow>();
  const out: PendingRow[] = [];
  const visit = (r: PendingRow, depth: number) => {
    if (done.has(r)) return;
    done.add(r);
    const parent = byId.get(String(r.values.parent_id));
    if (parent && depth < rows.length) visit(parent, depth + 1);
    out.push(r);
  };
  for (const r of rows) visit(r, 0);
  return out;
}

/** A row's merge outcome → status and message (naming the client's id). */
function rowResult(row: PendingRow, r: MergeResult): RowResult {
  const what = `${row.entity} "${row.clientId}"`;
  switch (r.outcome) {
    case 'inserted':
      return CREATED;
    case 'updated':
    case 'exists':
      return MERGED;
    case 'conflict':
    case 'unseen':
      return { status: 409, message: `${what}: this id is already used in another project (ids are global); send a new id.` };
    case 'forbidden':
      return { status: 403, message: `${what}: these credentials may not write it (row-level security refused); use a key with role editor or owner.` };
    case 'bad_ref': {
      const target = REFS[row.entity][r.column ?? ''] ?? 'row';
      return { status: 422, message: `${what}: ${r.column} names no ${target} of this project; send the ${target} first (or fix the id).` };
    }
    case 'db_error':
      return r.code === '23505'
        ? { status: 409, message: `${what}: a value that must be unique is already used; use another value.` }
        : r.code === '23503'
          ? { status: 422, message: `${what}: it references a row that does not exist in this project (or whose id another project uses).` }
          : { status: 400, message: `${what}: the database refused a value (SQLSTATE ${r.code}); check the types and ranges of its fields.` };
  }
}

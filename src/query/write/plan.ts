/**
 * Typed write plans: "write these rows of one entity in this mode", the write-side sibling of the read plan
 * (`src/query/plan.ts`). REST (`src/rest`) and batch ingestion build them; `src/query/write/sql.ts` turns one
 * plan into ONE SQL statement (text + bind parameters); `src/query/write/execute.ts` runs it and maps every
 * row to an outcome. Plans are plain data: no SQL, no database handle.
 */

/** How rows are written (SPEC R-2 event types, G-7 mutations). */
export type WriteMode = 'create' | 'upsert' | 'update' | 'delete';

/**
 * One row to write. `values` holds column → JSON value (model column names: `experiment_id`, `name`, ...).
 * - `create` / `upsert`: `id` and `project_id` are always present (the REST layer generates the id with
 *   UUID v7 when the client gave none and resolves the project with `resolveWriteProject`).
 * - `update`: `id` present; other keys are the fields to change (absent = unchanged, `null` = set NULL);
 *   `project_id`, when present, restricts the row to that project (it is never changed).
 * - `delete`: `id` present; optional `project_id` restricts as for update.
 */
export interface WriteRow {
  readonly values: Readonly<Record<string, unknown>>;
}

/** Rows of one entity written with one statement. */
export interface WritePlan {
  /** Entity name (a data entity of the model, never `project`). */
  readonly entity: string;
  readonly mode: WriteMode;
  readonly rows: readonly WriteRow[];
}

/**
 * What happened to one row, in input order.
 * - `inserted` (HTTP 201), `exists` (create of an id that already exists in the same project and is visible to
 *   the principal: an idempotent retry, 200), `updated` (200), `deleted` (200);
 * - `conflict`: the id is used by a row the principal cannot see or that lives in another project (409);
 * - `differs`: a create of an id that exists in the same project with other values in the given fields
 *   (409: a create only confirms an identical retry; upsert or update changes a row);
 * - `bad_ref`: a reference column names no row of the same project (422); `column` says which;
 * - `missing_required`: an upsert would insert a new row but required fields are missing (400);
 * - `not_found`: update/delete of an id with no visible row (404);
 * - `invalid`: the database refused the row's values (400), `referenced` (a delete blocked by children, 409),
 *   `forbidden` (row-level security refused the write, 403). `message` explains and says what to do.
 */
export type RowOutcomeKind =
  | 'inserted'
  | 'exists'
  | 'updated'
  | 'deleted'
  | 'conflict'
  | 'differs'
  | 'bad_ref'
  | 'missing_required'
  | 'not_found'
  | 'invalid'
  | 'referenced'
  | 'forbidden';

export interface RowOutcome {
  readonly kind: RowOutcomeKind;
  /** Row id (as given or generated). */
  readonly id: string;
  /** HTTP-like status of the outcome (201, 200, 400, 403, 404, 409, 422). */
  readonly status: number;
  /** For failures: a message a client can act on. */
  readonly message?: string;
  /** For `bad_ref` / `missing_required` / `invalid`: the column concerned, when known. */
  readonly column?: string;
}

/** True for outcomes that wrote (or idempotently confirmed) the row. */
export function isSuccess(outcome: RowOutcome): boolean {
  return outcome.status < 300;
}

/** HTTP-like status of each outcome kind. */
export const OUTCOME_STATUS: Readonly<Record<RowOutcomeKind, number>> = {
  inserted: 201,
  exists: 200,
  updated: 200,
  deleted: 200,
  conflict: 409,
  differs: 409,
  bad_ref: 422,
  missing_required: 400,
  not_found: 404,
  invalid: 400,
  referenced: 409,
  forbidden: 403,
};

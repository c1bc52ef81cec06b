/**
 * Running write plans: one statement per plan (see `sql.ts`; the rows go in as one array parameter per column,
 * `columns.ts`), rows repeating an id written in later rounds, every row mapped to a `RowOutcome` with a message
 * a client can act on. The statement answers only the rows whose outcome is not the mode's plain success plus a
 * count of those, so a batch of 1,000 inserted rows parses one result row; the rest are filled in here, after
 * checking that exceptions and count cover every row.
 *
 * Failure isolation: the fast path runs each plan as one plain statement. If a statement still fails (a unique
 * violation on a `unique` field, a value PostgreSQL refuses, a delete blocked by children...), the whole
 * transaction is retried by `withWriteIsolation` in careful mode, where each plan runs inside a SAVEPOINT and,
 * when it fails, row by row in SAVEPOINTs so only the bad rows fail, with their SQLSTATE mapped to a per-row
 * outcome (23505 → conflict 409, 23503/23001 → bad_ref 422 / referenced 409, 23502 → missing_required 400,
 * 42501 → forbidden 403, 22xxx and 23514 → invalid 400). The happy path thus stays one statement per plan.
 */
import type { Principal } from '../../auth/principal.js';
import type { Db, Queryable } from '../../db/types.js';
import type { Model } from '../../model/types.js';
import { OUTCOME_STATUS, type RowOutcome, type RowOutcomeKind, type WritePlan } from './plan.js';
import { compileWrite, PLAIN_SUCCESS, writableEntity } from './sql.js';

/** A database error with its SQLSTATE (node-postgres `DatabaseError`, PGlite's error). */
interface DbError {
  code: string;
  column?: string;
  constraint?: string;
  /** Table the error is about; for a delete blocked by a foreign key, the referencing table. */
  table?: string;
}

/** True when `err` carries a PostgreSQL SQLSTATE (as opposed to a bug or a connection failure). */
export function isDbError(err: unknown): err is DbError {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && !code.startsWith('57');
}

/**
 * Run `fn` in one transaction as `principal`; when a write statement fails with a database error, roll back
 * and run `fn` again with `isolate = true` (plans then run in savepoints, row by row when needed).
 * @throws whatever the second attempt throws (or the first, for non-database errors).
 */
export async function withWriteIsolation<T>(db: Db, principal: Principal, fn: (tx: Queryable, isolate: boolean) => Promise<T>): Promise<T> {
  try {
    return await db.withPrincipal(principal, (tx) => fn(tx, false));
  } catch (err) {
    if (!isDbError(err)) throw err;
    return db.withPrincipal(principal, (tx) => fn(tx, true));
  }
}

/**
 * Write the rows of one plan and report each row's outcome, in input order.
 *
 * One statement when the ids are distinct (the normal case). Rows repeating an id are written in later
 * rounds, one statement per round (round k holds the k-th occurrence of each id), so each event keeps its own
 * outcome and later events see earlier ones: a repeated create reports `exists` (or `differs` when its values do not match), a repeated update applies
 * after the first.
 * @param isolate run in a SAVEPOINT and fall back to row-by-row on failure (see the module comment)
 * @throws the database error when `isolate` is false and a statement fails
 */
export async function executeWrite(tx: Queryable, model: Model, plan: WritePlan, isolate = false): Promise<RowOutcome[]> {
  const rounds: number[][] = [];
  const seen = new Map<string, number>();
  plan.rows.forEach((row, i) => {
    const id = String(row.values.id);
    const k = seen.get(id) ?? 0;
    seen.set(id, k + 1);
    (rounds[k] ??= []).push(i);
  });
  const out: RowOutcome[] = new Array(plan.rows.length);
  for (const round of rounds) {
    const part: WritePlan = { ...plan, rows: round.map((i) => plan.rows[i]) };
    const outcomes = isolate ? await runIsolated(tx, model, part) : await runPlan(tx, model, part);
    round.forEach((i, j) => (out[i] = outcomes[j]));
  }
  return out;
}

/**
 * One statement for all rows of the plan. The statement returns only the rows whose outcome is not the mode's
 * plain success, plus their count (`sql.ts`); every other row got that success.
 * @throws Error when the reported outcomes do not cover every row exactly once (a bug, never acknowledged)
 */
async function runPlan(tx: Queryable, model: Model, plan: WritePlan): Promise<RowOutcome[]> {
  const { text, params } = compileWrite(model, plan);
  const res = await tx.query<{ ord: number | string | null; outcome: RowOutcomeKind; col: string | null }>(text, params);
  const n = plan.rows.length;
  const out: RowOutcome[] = new Array(n);
  let exceptions = 0;
  let successes = -1;
  for (const r of res.rows) {
    if (r.ord === null) {
      successes = Number(r.col);
      continue;
    }
    const i = Number(r.ord) - 1;
    const column = r.outcome === 'bad_ref' || r.outcome === 'missing_required' ? (r.col ?? undefined) : undefined;
    out[i] = outcome(model, plan, plan.rows[i].values, r.outcome, column);
    exceptions++;
  }
  if (successes + exceptions !== n) throw new Error(`write statement reported ${exceptions} outcomes and ${successes} successes for ${n} rows`);
  const kind = PLAIN_SUCCESS[plan.mode];
  const status = OUTCOME_STATUS[kind];
  for (let i = 0; i < n; i++) if (out[i] === undefined) out[i] = { kind, id: String(plan.rows[i].values.id), status };
  return out;
}

/** The plan in a savepoint; on a database error, each row in its own savepoint. */
async function runIsolated(tx: Queryable, model: Model, plan: WritePlan): Promise<RowOutcome[]> {
  await tx.query('SAVEPOINT lattice_write');
  try {
    const out = await runPlan(tx, model, plan);
    await tx.query('RELEASE SAVEPOINT lattice_write');
    return out;
  } catch (err) {
    if (!isDbError(err)) throw err;
    await tx.query('ROLLBACK TO SAVEPOINT lattice_write');
  }
  const out: RowOutcome[] = [];
  for (const row of plan.rows) {
    await tx.query('SAVEPOINT lattice_row');
    try {
      out.push((await runPlan(tx, model, { ...plan, rows: [row] }))[0]);
      await tx.query('RELEASE SAVEPOINT lattice_row');
    } catch (err) {
      if (!isDbError(err)) throw err;
      await tx.query('ROLLBACK TO SAVEPOINT lattice_row');
      out.push(fromDbError(model, plan, row.values, err));
    }
  }
  await tx.query('RELEASE SAVEPOINT lattice_write');
  return out;
}

/** Map a database error of a single-row statement to that row's outcome. */
function fromDbError(model: Model, plan: WritePlan, values: Readonly<Record<string, unknown>>, err: DbError): RowOutcome {
  const c = err.code;
  if (c === '23505') return outcome(model, plan, values, 'conflict', undefined, 'a value that must be unique (the id or a unique field) is already used by another row; use another value');
  // 23503 foreign_key_violation; 23001 restrict_violation (PostgreSQL 18 raises it for ON DELETE RESTRICT).
  if (c === '23503' || c === '23001') {
    if (plan.mode !== 'delete') return outcome(model, plan, values, 'bad_ref', undefined);
    const child = [...model.entities.values()].find((e) => !e.system && e.table.name === err.table);
    return outcome(model, plan, values, 'referenced', undefined, child ? child.plural : undefined);
  }
  if (c === '23502') return outcome(model, plan, values, 'missing_required', err.column);
  if (c === '42501') return outcome(model, plan, values, 'forbidden');
  if (c.startsWith('22') || c === '23514') {
    return outcome(model, plan, values, 'invalid', err.column, 'a value is malformed or out of range for its column type; check the types of the fields');
  }
  throw err;
}

/** Build one row's outcome with its status and message. */
function outcome(
  model: Model,
  plan: WritePlan,
  values: Readonly<Record<string, unknown>>,
  kind: RowOutcomeKind,
  column?: string,
  detail?: string,
): RowOutcome {
  const id = String(values.id);
  const message = outcomeMessage(model, plan, values, kind, column, detail);
  return {
    kind,
    id,
    status: OUTCOME_STATUS[kind],
    ...(message ? { message } : {}),
    ...(column ? { column } : {}),
  };
}

/** A message for failed outcomes saying what was wrong and what to do; undefined for successes. */
function outcomeMessage(
  model: Model,
  plan: WritePlan,
  values: Readonly<Record<string, unknown>>,
  kind: RowOutcomeKind,
  column?: string,
  detail?: string,
): string | undefined {
  const e = plan.entity;
  const id = String(values.id);
  switch (kind) {
    case 'inserted':
    case 'exists':
    case 'updated':
    case 'deleted':
      return undefined;
    case 'conflict':
      return detail
        ? `${e} ${id}: ${detail}.`
        : `${e} id ${id} is already used by a row in another project or one this key cannot see; use a new id (or omit "id" to get a generated one).`;
    case 'differs':
      return (
        `${e} ${id} already exists with different values; send it as an upsert or update to change it ` +
        `(a create only confirms an identical retry).`
      );
    case 'bad_ref': {
      const field = column ? writableEntity(model, e).columns.get(column) : undefined;
      const to = field?.ref?.to ?? 'parent';
      return column
        ? `${column} ${String(values[column])}: no ${to} with this id in the row's project; create the ${to} first (in the same project) or fix the id.`
        : `${e} ${id} references a row that does not exist in its project; create the parent first or fix the reference.`;
    }
    case 'missing_required':
      return column ? `${column} is required and cannot be null; provide a value.` : `a required field is missing; provide every required field.`;
    case 'not_found':
      return `No ${e} with id ${id} in this key's projects; check the id (and project_id).`;
    case 'invalid':
      return `${e} ${id}${column ? ` (${column})` : ''}: ${detail ?? 'invalid value'}.`;
    case 'referenced':
      // `detail`: the plural of the referencing entity, when the database named its table.
      return `${e} ${id} is still referenced by ${detail ?? 'other rows'} (a ref with on_delete: restrict); delete or re-point those first.`;
    case 'forbidden':
      return `These credentials may not write ${e} ${id}: their role in its project cannot write (row-level security refused it); use credentials with role editor or owner in that project.`;
  }
}

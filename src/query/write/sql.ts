/**
 * Write plan → ONE SQL statement (text + bind parameters) writing every row of the plan and reporting what
 * happened to each input row — so one bad row never fails the statement and good rows still go in.
 *
 * Shape (all modes; `c` is the column-wise input of `columns.ts`: one array parameter per column):
 * ```sql
 * WITH d AS (SELECT * FROM jsonb_populate_record(NULL::"app"."trial", $9::jsonb)),      -- model defaults (one row)
 *      c AS (SELECT x."id", x."project_id", x."name", x."$p:name", x."$ord"
 *            FROM ROWS FROM (unnest($1::uuid[]), unnest($2::uuid[]), unnest($3::text[]), unnest($4::boolean[]))
 *            WITH ORDINALITY AS x(...)),                                                  -- typed rows
 *      r0 AS MATERIALIZED (SELECT ... FROM (SELECT DISTINCT project_id, experiment_id FROM c) v), -- each parent once
 *      k AS (SELECT c.*, o.project_id AS "$old_pid", <first bad ref column> AS "$badref",
 *                   <first missing required column> AS "$missing", ...
 *            FROM c LEFT JOIN LATERAL (SELECT * FROM "app"."trial" o WHERE o.id = c.id LIMIT 1) o ON true
 *                   LEFT JOIN r0 ON ...),
 *      u AS (UPDATE ... / DELETE ... RETURNING id),                                         -- upsert, update, delete
 *      w AS (INSERT ... SELECT ... FROM k WHERE <ok> ON CONFLICT (id) DO NOTHING RETURNING id), -- create, upsert
 *      r AS (SELECT k."$ord" AS ord, CASE ... END AS outcome, coalesce(k."$badref", k."$missing") AS col
 *            FROM k LEFT JOIN w ... LEFT JOIN u ...)
 * SELECT ord, outcome, col FROM r WHERE outcome <> 'inserted'                             -- the exceptions
 * UNION ALL SELECT NULL, 'inserted', count(*)::text FROM r WHERE outcome = 'inserted'     -- and a count
 * ```
 * A create skips the look-up of existing rows up front: `k` holds only the checks, every row that passes them is
 * offered to the INSERT ... ON CONFLICT DO NOTHING, and `r` looks up (through `existing`) and classifies only the
 * rows the insert skipped (`exists`, `differs`, `conflict`, ...), counting the inserted ones straight from `w` —
 * one index probe per new row instead of two.
 *
 * Compact outcomes: rows with the mode's plain success (`inserted` for create and upsert, `updated`, `deleted`)
 * are not returned one by one but counted in a last row whose `ord` is NULL and whose `col` is the count, so
 * 1,000 inserted rows come back as one row; the executor checks that exceptions plus count cover every input row.
 *
 * Every CTE sees the snapshot taken before the statement, so `o` (the existing row, seen through row-level
 * security) tells an idempotent retry (same id, same project, visible) from a conflict (an id used where the
 * principal cannot see it). References are pre-checked on the parent in the SAME project (create and upsert:
 * each distinct parent of the batch once, `distinctParentProbe`; update: per row, as its project is the
 * existing row's), so a row pointing into another project, or at nothing, is reported instead of failing the
 * statement. Upsert is an UPDATE of visible rows plus an INSERT ... ON CONFLICT DO NOTHING of new ones (never
 * ON CONFLICT DO UPDATE, which raises a row-level-security error for another project's id instead of reporting
 * a conflict).
 *
 * Absent keys vs `null`: an update changes only the given keys and a create applies the model default to an
 * absent key, through the per-column presence of `columns.ts`. Values are always bind parameters; identifiers
 * only via `quoteIdent`.
 */
import type { Entity, Field, Model } from '../../model/types.js';
import { qualified, quoteIdent } from '../sql/ident.js';
import { distinctParentProbe, existing, Params, parentProbe, rowsInput } from './columns.js';
import type { RowOutcomeKind, WriteMode, WritePlan } from './plan.js';

/** SQL text and its bind parameters. */
export interface CompiledWrite {
  readonly text: string;
  readonly params: unknown[];
}

/** Built-in columns the client never writes. */
const READONLY_COLUMNS = new Set(['created_at', 'updated_at']);

/** The data entity of a plan. @throws Error for an unknown or system entity (a programming error). */
export function writableEntity(model: Model, name: string): Entity {
  const entity = model.entities.get(name);
  if (!entity || entity.system) throw new Error(`not a data entity: ${name}`);
  return entity;
}

/** Columns a client may provide on create (`id`, `project_id` and the declared fields). */
export function insertableFields(entity: Entity): Field[] {
  return entity.fields.filter((f) => !f.computed && !READONLY_COLUMNS.has(f.column));
}

/** Declared reference fields (not the built-in project ref). */
function refFields(entity: Entity): Field[] {
  return entity.fields.filter((f) => f.type === 'ref' && !f.builtin && f.ref);
}

const ORD = quoteIdent('$ord');
const OLD_PID = quoteIdent('$old_pid');
const FOUND = quoteIdent('$found');
const BADREF = quoteIdent('$badref');
const MISSING = quoteIdent('$missing');

/** The plain success of each mode: those rows are counted, not returned (see the module comment). */
export const PLAIN_SUCCESS: Readonly<Record<WriteMode, RowOutcomeKind>> = {
  create: 'inserted',
  upsert: 'inserted',
  update: 'updated',
  delete: 'deleted',
};

/**
 * Compile a write plan into one statement whose result rows are `{ ord, outcome, col }`: one row per input row
 * whose outcome is not the mode's {@link PLAIN_SUCCESS} (`ord` 1-based input position, `outcome` one of
 * `inserted | exists | differs | updated | deleted | conflict | bad_ref | missing_required | not_found |
 * forbidden`, `col` the column a `bad_ref` / `missing_required` outcome is about), in no particular order, and
 * one last row `{ ord: null, outcome: <plain success>, col: <count as text> }`.
 * Rows must have distinct ids (the executor splits repeats into rounds).
 * @throws Error for a system or unknown entity.
 */
export function compileWrite(model: Model, plan: WritePlan): CompiledWrite {
  const entity = writableEntity(model, plan.entity);
  const p = new Params();
  const table = qualified(entity.table.schema, entity.table.name);
  const col = (alias: string, column: string) => `${alias}.${quoteIdent(column)}`;
  const keys = new Map<string, string>();
  const key = (column: string) => keys.get(column) ?? keys.set(column, p.add(column)).get(column)!;
  const mode = plan.mode;
  const inserts = mode === 'create' || mode === 'upsert';
  const fields = insertableFields(entity);
  const inputFields = mode === 'delete' ? fields.filter((f) => f.column === 'id' || f.column === 'project_id') : fields;
  const input = rowsInput(model, entity, inputFields, plan.rows.map((r) => r.values), (v) => p.add(v));
  const has = (alias: string, column: string) => input.has(alias, column);
  const changeable = fields.filter((f) => f.column !== 'id' && f.column !== 'project_id');
  // A vector arrives as real[] (`columns.ts`); stored values are compared and kept as real[] too.
  const stored = (alias: string, f: Field) => (f.type === 'vector' ? `${col(alias, f.column)}::real[]` : col(alias, f.column));

  // Project the row's writes go to: given (create/upsert, always present), or the existing row's.
  const pid = (alias: string) => (inserts ? col(alias, 'project_id') : col('o', 'project_id'));

  // First reference that names no parent row in the same project (NULL when all are fine); each parent is
  // probed by index (`distinctParentProbe`: once per distinct parent when the input names the project;
  // `parentProbe`: once per row for update, whose project is the existing row's), never by a scan of the parent.
  const probes: string[] = [];
  const probeCtes: string[] = [];
  const refChecks = mode === 'delete' ? [] : refFields(entity).filter((f) => input.given(f.column)).map((f, i) => {
    const parent = writableEntity(model, f.ref!.to);
    const ptable = qualified(parent.table.schema, parent.table.name);
    const v = col('c', f.column);
    let inBatch = '';
    if (parent.name === entity.name && inserts) {
      // A self-reference may point at a row inserted by this same statement.
      inBatch = ` AND NOT EXISTS (SELECT 1 FROM c c2 WHERE c2."id" = ${v} AND c2."project_id" = ${pid('c')})`;
    }
    // Create and upsert name the project in the input: each distinct (project, parent) pair is probed once.
    let probe: { join: string; found: string };
    if (inserts) {
      const distinct = distinctParentProbe(`r${i}`, ptable, 'c', quoteIdent('project_id'), quoteIdent(f.column));
      probeCtes.push(distinct.cte);
      probe = distinct;
    } else probe = parentProbe(`r${i}`, ptable, pid('c'), v);
    probes.push(probe.join);
    return `WHEN ${v} IS NOT NULL AND ${probe.found} IS NOT TRUE${inBatch} THEN ${key(f.column)}::text`;
  });
  const refJoins = probes.map((j) => ` ${j}`).join('');
  const badref = refChecks.length ? `CASE ${refChecks.join(' ')} END` : 'NULL::text';

  // First required field that is missing (create/upsert) or set to null (update).
  const missingChecks = fields
    .filter((f) => f.required && !f.builtin && mode !== 'delete')
    .filter((f) => (inserts && f.default === undefined) || input.given(f.column))
    .map((f) => {
      const absent = inserts && f.default === undefined ? `${col('c', f.column)} IS NULL` : `(${has('c', f.column)} AND ${col('c', f.column)} IS NULL)`;
      return `WHEN ${absent} THEN ${key(f.column)}::text`;
    });
  const missing = missingChecks.length ? `CASE ${missingChecks.join(' ')} END` : 'NULL::text';

  // For update/delete, a `project_id` in the body restricts the row to that project.
  const found = (a: string) =>
    inserts
      ? `(o."id" IS NOT NULL AND o."project_id" = ${a}."project_id")`
      : `(o."id" IS NOT NULL AND (NOT ${has(a, 'project_id')} OR o."project_id" = ${a}."project_id"))`;

  const ctes: string[] = [];
  if (inserts) ctes.push(`d AS (SELECT * FROM jsonb_populate_record(NULL::${table}, ${p.add(JSON.stringify(defaultsOf(entity)))}::jsonb))`);
  ctes.push(`c AS (${input.select})`, ...probeCtes);
  if (mode === 'create') {
    // A create needs the existing row only for the rows the insert skipped (see createOutcomes).
    ctes.push(`k AS (SELECT c.*, ${badref} AS ${BADREF}, ${missing} AS ${MISSING} FROM c${refJoins})`);
  } else {
    ctes.push(
      `k AS (SELECT c.*, o."project_id" AS ${OLD_PID}, ${found('c')} AS ${FOUND}, ${badref} AS ${BADREF}, ${missing} AS ${MISSING} ` +
        `FROM c LEFT JOIN ${existing(table)}${refJoins})`,
    );
  }

  const ok = `k.${BADREF} IS NULL AND k.${MISSING} IS NULL`;
  // Built only where used: every placeholder handed out must appear in the text.
  const setSql = () => {
    const list = changeable
      .filter((f) => input.given(f.column))
      .map((f) => {
        const h = has('k', f.column);
        return `${quoteIdent(f.column)} = ${h === 'true' ? col('k', f.column) : `CASE WHEN ${h} THEN ${col('k', f.column)} ELSE ${stored('t', f)} END`}`;
      });
    return list.length ? list.join(', ') : `"id" = t."id"`;
  };
  const updateMatch = `t."id" = k."id" AND t."project_id" = k.${OLD_PID} AND k.${FOUND}`;

  if (mode === 'upsert' || mode === 'update') {
    ctes.push(`u AS (UPDATE ${table} t SET ${setSql()} FROM k WHERE ${updateMatch} AND ${mode === 'upsert' ? `k.${BADREF} IS NULL` : ok} RETURNING t."id")`);
  } else if (mode === 'delete') {
    ctes.push(`u AS (DELETE FROM ${table} t USING k WHERE ${updateMatch} RETURNING t."id")`);
  }
  if (inserts) {
    // Columns no row gives and without a default are left to the table (NULL), as an explicit NULL would be.
    const written = fields.filter((f) => input.given(f.column) || f.default !== undefined);
    const names = written.map((f) => quoteIdent(f.column)).join(', ');
    const values = written
      .map((f) => {
        if (f.default === undefined) return col('k', f.column);
        const h = has('k', f.column);
        return h === 'true' ? col('k', f.column) : h === 'false' ? stored('d', f) : `CASE WHEN ${h} THEN ${col('k', f.column)} ELSE ${stored('d', f)} END`;
      })
      .join(', ');
    ctes.push(
      `w AS (INSERT INTO ${table} (${names}) SELECT ${values} FROM k CROSS JOIN d WHERE ${mode === 'create' ? '' : `k.${OLD_PID} IS NULL AND `}${ok} ` +
        `ON CONFLICT ("id") DO NOTHING RETURNING "id")`,
    );
  }

  const success = p.add(PLAIN_SUCCESS[mode]);
  if (mode === 'create') {
    // Every row that passed the checks was offered to the insert; ON CONFLICT skipped those whose id exists
    // (visible or not). Only the rows not inserted are looked up and classified; the inserted ones are counted.
    // `NOT IN (SELECT ... FROM w)` is a hashed subplan filtering `k` before the look-ups (ids are never NULL);
    // a NOT EXISTS became a nested-loop anti join rescanning `w` per row.
    const same = changeable
      .filter((f) => input.given(f.column))
      .map((f) => `(NOT ${has('k', f.column)} OR ${col('k', f.column)} IS NOT DISTINCT FROM ${stored('o', f)})`)
      .join(' AND ') || 'true';
    const outcome =
      `CASE WHEN ${found('k')} AND ${same} THEN 'exists' WHEN ${found('k')} THEN 'differs' WHEN o."id" IS NOT NULL THEN 'conflict' ` +
      `WHEN k.${MISSING} IS NOT NULL THEN 'missing_required' WHEN k.${BADREF} IS NOT NULL THEN 'bad_ref' ELSE 'conflict' END`;
    ctes.push(
      `r AS (SELECT k.${ORD} AS ord, ${outcome} AS outcome, coalesce(k.${BADREF}, k.${MISSING}) AS col ` +
        `FROM k LEFT JOIN ${existing(table, 'k')} WHERE k."id" NOT IN (SELECT w."id" FROM w))`,
    );
    return {
      text: `WITH ${ctes.join(', ')} SELECT ord, outcome, col FROM r UNION ALL SELECT NULL, ${success}::text, count(*)::text FROM w`,
      params: p.values,
    };
  }
  const joins = [inserts ? `LEFT JOIN w ON w."id" = k."id"` : '', `LEFT JOIN u ON u."id" = k."id"`].filter(Boolean).join(' ');
  ctes.push(`r AS (SELECT k.${ORD} AS ord, ${outcomeCase(mode)} AS outcome, coalesce(k.${BADREF}, k.${MISSING}) AS col FROM k ${joins})`);
  return {
    text:
      `WITH ${ctes.join(', ')} SELECT ord, outcome, col FROM r WHERE outcome <> ${success}::text ` +
      `UNION ALL SELECT NULL, ${success}::text, count(*)::text FROM r WHERE outcome = ${success}::text`,
    params: p.values,
  };
}

/** The per-row outcome expression of each mode (see the module comment for the CTE names). */
function outcomeCase(mode: Exclude<WriteMode, 'create'>): string {
  switch (mode) {
    // A visible row that passed every check and still was not updated or deleted was skipped by the write
    // policy's USING clause: the principal reads that project but may not write it (a viewer membership).
    case 'upsert':
      return `CASE WHEN w."id" IS NOT NULL THEN 'inserted' WHEN u."id" IS NOT NULL THEN 'updated' WHEN k.${BADREF} IS NOT NULL THEN 'bad_ref' ` +
        `WHEN k.${OLD_PID} IS NULL AND k.${MISSING} IS NOT NULL THEN 'missing_required' WHEN k.${FOUND} THEN 'forbidden' ELSE 'conflict' END`;
    case 'update':
      return `CASE WHEN u."id" IS NOT NULL THEN 'updated' WHEN NOT k.${FOUND} THEN 'not_found' WHEN k.${BADREF} IS NOT NULL THEN 'bad_ref' ` +
        `WHEN k.${MISSING} IS NOT NULL THEN 'missing_required' ELSE 'forbidden' END`;
    case 'delete':
      return `CASE WHEN u."id" IS NOT NULL THEN 'deleted' WHEN k.${FOUND} THEN 'forbidden' ELSE 'not_found' END`;
  }
}

/** Model defaults of an entity as a JSON object (column → default), applied to inserted rows that omit them. */
export function defaultsOf(entity: Entity): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of entity.fields) if (f.default !== undefined) out[f.column] = f.default;
  return out;
}

/**
 * Write plan → ONE SQL statement (text + bind parameters) writing every row of the plan and reporting, per
 * input row, what happened — so one bad row never fails the statement and good rows still go in.
 *
 * Shape (all modes):
 * ```sql
 * WITH d AS (SELECT * FROM jsonb_populate_record(NULL::"app"."trial", $2::jsonb)),      -- model defaults
 *      c AS (SELECT e."$ord", e."$j", r.* FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e("$j","$ord")
 *            CROSS JOIN LATERAL jsonb_populate_record(NULL::"app"."trial", e."$j") AS r),  -- typed rows
 *      k AS (SELECT c.*, o.project_id AS "$old_pid", <first bad ref column> AS "$badref",
 *                   <first missing required column> AS "$missing", ... FROM c LEFT JOIN "app"."trial" o ON o.id = c.id),
 *      u AS (UPDATE ... / DELETE ... RETURNING id),                                         -- upsert, update, delete
 *      w AS (INSERT ... SELECT ... FROM k WHERE <ok> ON CONFLICT (id) DO NOTHING RETURNING id)  -- create, upsert
 * SELECT k."$ord" AS ord, CASE ... END AS outcome, coalesce(k."$badref", k."$missing") AS col
 * FROM k LEFT JOIN w ... LEFT JOIN u ... ORDER BY k."$ord"
 * ```
 * Every CTE sees the snapshot taken before the statement, so `o` (the existing row, seen through row-level
 * security) tells an idempotent retry (same id, same project, visible) from a conflict (an id used where the
 * principal cannot see it). References are pre-checked with `EXISTS` on the parent in the SAME project, so a
 * row pointing into another project, or at nothing, is reported instead of failing the statement. Upsert is an
 * UPDATE of visible rows plus an INSERT ... ON CONFLICT DO NOTHING of new ones (never ON CONFLICT DO UPDATE,
 * which raises a row-level-security error for another project's id instead of reporting a conflict).
 *
 * `jsonb_populate_record` with the table's row type gives every column its SQL type (enums, vectors, arrays,
 * timestamps) without per-type casts. Values are always bind parameters; identifiers only via `quoteIdent`.
 */
import type { Entity, Field, Model } from '../../model/types.js';
import { qualified, quoteIdent } from '../sql/ident.js';
import type { WriteMode, WritePlan } from './plan.js';

/** SQL text and its bind parameters. */
export interface CompiledWrite {
  readonly text: string;
  readonly params: unknown[];
}

/** Built-in columns the client never writes. */
const READONLY_COLUMNS = new Set(['created_at', 'updated_at']);

/** Collects bind parameters and hands out `$n` placeholders (pg_graphql's ParamContext). */
class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

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
const J = quoteIdent('$j');
const OLD_PID = quoteIdent('$old_pid');
const FOUND = quoteIdent('$found');
const BADREF = quoteIdent('$badref');
const MISSING = quoteIdent('$missing');
const SAME = quoteIdent('$same');

/**
 * Compile a write plan into one statement whose result rows are `{ ord, outcome, col }`, one per input row in
 * input order: `outcome` is one of `inserted | exists | differs | updated | deleted | conflict | bad_ref |
 * missing_required | not_found | forbidden`, `col` the column a `bad_ref` / `missing_required` outcome is about.
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
  const has = (alias: string, column: string) => `(${alias}.${J} ? ${key(column)}::text)`;
  const rowsParam = p.add(JSON.stringify(plan.rows.map((r) => r.values)));
  const mode = plan.mode;
  const inserts = mode === 'create' || mode === 'upsert';
  const fields = insertableFields(entity);
  const changeable = fields.filter((f) => f.column !== 'id' && f.column !== 'project_id');

  // Project the row's writes go to: given (create/upsert, always present), or the existing row's.
  const pid = (alias: string) => (inserts ? col(alias, 'project_id') : col('o', 'project_id'));

  // First reference that names no parent row in the same project (NULL when all are fine).
  const refChecks = refFields(entity).map((f) => {
    const parent = writableEntity(model, f.ref!.to);
    const ptable = qualified(parent.table.schema, parent.table.name);
    const v = col('c', f.column);
    let inBatch = '';
    if (parent.name === entity.name && inserts) {
      // A self-reference may point at a row inserted by this same statement.
      inBatch = ` AND NOT EXISTS (SELECT 1 FROM c c2 WHERE c2."id" = ${v} AND c2."project_id" = ${pid('c')})`;
    }
    const exists = `EXISTS (SELECT 1 FROM ${ptable} p WHERE p."project_id" = ${pid('c')} AND p."id" = ${v})`;
    return `WHEN ${v} IS NOT NULL AND NOT ${exists}${inBatch} THEN ${key(f.column)}::text`;
  });
  const badref = refChecks.length ? `CASE ${refChecks.join(' ')} END` : 'NULL::text';

  // First required field that is missing (create/upsert) or set to null (update).
  const missingChecks = fields
    .filter((f) => f.required && !f.builtin && mode !== 'delete')
    .map((f) => {
      const absent = inserts && f.default === undefined ? `${col('c', f.column)} IS NULL` : `(${has('c', f.column)} AND ${col('c', f.column)} IS NULL)`;
      return `WHEN ${absent} THEN ${key(f.column)}::text`;
    });
  const missing = missingChecks.length ? `CASE ${missingChecks.join(' ')} END` : 'NULL::text';

  // For update/delete, a `project_id` in the body restricts the row to that project.
  const found = inserts
    ? `(o."id" IS NOT NULL AND o."project_id" = c."project_id")`
    : `(o."id" IS NOT NULL AND (NOT ${has('c', 'project_id')} OR o."project_id" = c."project_id"))`;

  const ctes: string[] = [];
  if (inserts) ctes.push(`d AS (SELECT * FROM jsonb_populate_record(NULL::${table}, ${p.add(JSON.stringify(defaultsOf(entity)))}::jsonb))`);
  ctes.push(
    `c AS (SELECT e.${ORD}, e.${J}, r.* FROM jsonb_array_elements(${rowsParam}::jsonb) WITH ORDINALITY AS e(${J}, ${ORD}) ` +
      `CROSS JOIN LATERAL jsonb_populate_record(NULL::${table}, e.${J}) AS r)`,
  );
  // create: whether an existing row already holds every given value (an identical retry) or not (`differs`).
  const same =
    mode === 'create'
      ? `, (${changeable.map((f) => `(NOT ${has('c', f.column)} OR ${col('c', f.column)} IS NOT DISTINCT FROM ${col('o', f.column)})`).join(' AND ') || 'true'}) AS ${SAME}`
      : '';
  ctes.push(
    `k AS (SELECT c.*, o."project_id" AS ${OLD_PID}, ${found} AS ${FOUND}, ${badref} AS ${BADREF}, ${missing} AS ${MISSING}${same} ` +
      `FROM c LEFT JOIN ${table} o ON o."id" = c."id")`,
  );

  const ok = `k.${BADREF} IS NULL AND k.${MISSING} IS NULL`;
  // Built only where used: every placeholder handed out must appear in the text.
  const setSql = () => {
    const list = changeable.map((f) => `${quoteIdent(f.column)} = CASE WHEN ${has('k', f.column)} THEN ${col('k', f.column)} ELSE ${col('t', f.column)} END`);
    return list.length ? list.join(', ') : `"id" = t."id"`;
  };
  const updateMatch = `t."id" = k."id" AND t."project_id" = k.${OLD_PID} AND k.${FOUND}`;

  if (mode === 'upsert' || mode === 'update') {
    ctes.push(`u AS (UPDATE ${table} t SET ${setSql()} FROM k WHERE ${updateMatch} AND ${mode === 'upsert' ? `k.${BADREF} IS NULL` : ok} RETURNING t."id")`);
  } else if (mode === 'delete') {
    ctes.push(`u AS (DELETE FROM ${table} t USING k WHERE ${updateMatch} RETURNING t."id")`);
  }
  if (inserts) {
    const names = fields.map((f) => quoteIdent(f.column)).join(', ');
    const values = fields
      .map((f) => (f.default !== undefined ? `CASE WHEN ${has('k', f.column)} THEN ${col('k', f.column)} ELSE ${col('d', f.column)} END` : col('k', f.column)))
      .join(', ');
    ctes.push(
      `w AS (INSERT INTO ${table} (${names}) SELECT ${values} FROM k CROSS JOIN d WHERE k.${OLD_PID} IS NULL AND ${ok} ` +
        `ON CONFLICT ("id") DO NOTHING RETURNING "id")`,
    );
  }

  const joins = [inserts ? `LEFT JOIN w ON w."id" = k."id"` : '', mode !== 'create' ? `LEFT JOIN u ON u."id" = k."id"` : '']
    .filter(Boolean)
    .join(' ');
  return {
    text: `WITH ${ctes.join(', ')} SELECT k.${ORD} AS ord, ${outcomeCase(mode)} AS outcome, coalesce(k.${BADREF}, k.${MISSING}) AS col FROM k ${joins} ORDER BY k.${ORD}`,
    params: p.values,
  };
}

/** The per-row outcome expression of each mode (see the module comment for the CTE names). */
function outcomeCase(mode: WriteMode): string {
  switch (mode) {
    case 'create':
      return `CASE WHEN w."id" IS NOT NULL THEN 'inserted' WHEN k.${FOUND} AND k.${SAME} THEN 'exists' WHEN k.${FOUND} THEN 'differs' ` +
        `WHEN k.${OLD_PID} IS NOT NULL THEN 'conflict' ` +
        `WHEN k.${MISSING} IS NOT NULL THEN 'missing_required' WHEN k.${BADREF} IS NOT NULL THEN 'bad_ref' ELSE 'conflict' END`;
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

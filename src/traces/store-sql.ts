/**
 * The merge statement of the traces store (`store.ts`): ONE statement writes every row of one entity of a batch,
 * inserting new rows and merging given fields into existing ones, and reports per row what happened.
 *
 * It follows the generic write statement (`src/query/write/sql.ts`: typed rows from one array parameter per
 * column (`src/query/write/columns.ts`' encoding, built by `store-input.ts`, with the `$stub` flag as one more `boolean[]`), the
 * existing row seen through row-level security, references pre-checked in the same project, UPDATE of visible
 * rows plus INSERT … ON CONFLICT DO NOTHING of new ones, so another project's id is reported as a conflict and
 * never overwritten), with two differences the tracing ingestion needs:
 *
 * - **Merge rules per column** (Langfuse's merge of events into a row, `overwriteObject` in its ingestion
 *   service): `set` (the given value replaces), `keep` (written on insert only: ids, the trace of an
 *   observation), `least` (the earliest of the stored and given time: a trace's timestamp, an observation's
 *   start, which the v3 SDK resends as "now" on every `trace.update()`), `merge_object` (JSON objects merged
 *   key by key, top level; any other JSON value replaces) and `union` (string arrays: set union in code-point order, tags).
 *   A column absent from a row's values is left unchanged; present with `null`, it is set to NULL (`set` rule).
 * - **Placeholder rows** (`$stub`): rows written only when absent — a trace or parent observation that a child
 *   names before its own event arrives (OpenTelemetry exports children before parents). An existing row is
 *   left as it is (`exists`), and the later real event merges into the placeholder.
 *
 * Like the generic statement it returns only the rows whose outcome is not `inserted`, plus one last row
 * `{ ord: null, outcome: 'inserted', col: <count> }`.
 */
import type { Entity, Model } from '../model/types.js';
import { qualified, quoteIdent } from '../query/sql/ident.js';
import { distinctParentProbe, existing, Params } from '../query/write/columns.js';
import { defaultsOf, insertableFields } from '../query/write/sql.js';
import { storeRowsInput } from './store-input.js';

/** How a given value is merged into an existing row's column (see the module comment). */
export type MergeRule = 'set' | 'keep' | 'least' | 'merge_object' | 'union';

/** One row of a merge: column → JSON value (always `id` and `project_id`). */
export interface MergeRow {
  readonly values: Readonly<Record<string, unknown>>;
  /** Written only when no row with this id exists. */
  readonly stub: boolean;
}

/** The rows of one entity, with distinct ids. */
export interface MergePlan {
  readonly entity: Entity;
  /** Rule per column; columns not named are `set`. `id` and `project_id` are never changed. */
  readonly rules: Readonly<Record<string, MergeRule>>;
  readonly rows: readonly MergeRow[];
}

/**
 * Outcome of one row: `inserted`, `updated`, `exists` (a placeholder whose row was there), `bad_ref` (a
 * reference names no row of the same project; `col` says which), `forbidden` (visible but row-level security
 * refused the update), `conflict` (the id belongs to a row of another project the principal sees), `unseen`
 * (the insert found the id taken by a row this statement's snapshot did not see: another project's row, or a
 * concurrent insert of the same id — the caller retries once, then it is a conflict).
 */
export type MergeOutcome = 'inserted' | 'updated' | 'exists' | 'bad_ref' | 'forbidden' | 'conflict' | 'unseen';

const ORD = quoteIdent('$ord');
const STUB = quoteIdent('$stub');
const FOUND = quoteIdent('$found');
const SEEN = quoteIdent('$seen');
const BADREF = quoteIdent('$badref');

/**
 * Compile a merge plan into one statement whose result rows are `{ ord, outcome, col }` (1-based input order,
 * a {@link MergeOutcome}, the column of a `bad_ref`) for every row not inserted, in no particular order, and
 * one last row `{ ord: null, outcome: 'inserted', col: <count of inserted rows as text> }`.
 * @throws Error when a row repeats an id (the caller folds events of one row first)
 */
export function compileMerge(model: Model, plan: MergePlan): { text: string; params: unknown[] } {
  const { entity } = plan;
  const ids = new Set<string>();
  for (const r of plan.rows) {
    const id = String(r.values.id);
    if (ids.has(id)) throw new Error(`merge plan repeats id ${id}`);
    ids.add(id);
  }
  const p = new Params();
  const table = qualified(entity.table.schema, entity.table.name);
  const col = (alias: string, column: string) => `${alias}.${quoteIdent(column)}`;
  const keys = new Map<string, string>();
  const key = (column: string) => keys.get(column) ?? keys.set(column, p.add(column)).get(column)!;
  const fields = insertableFields(entity);
  const input = storeRowsInput(model, entity, fields, plan.rows.map((r) => r.values), (v) => p.add(v), [
    { name: '$stub', values: plan.rows.map((r) => r.stub) },
  ]);
  const has = (column: string) => input.has('k', column);
  const rule = (column: string): MergeRule => plan.rules[column] ?? 'set';
  const changeable = fields.filter((f) => f.column !== 'id' && f.column !== 'project_id' && rule(f.column) !== 'keep' && input.given(f.column));

  // First reference naming no row of the row's project (a self-reference may name a row of this batch).
  // Each distinct (project, parent) pair of the batch probed once by index (`distinctParentProbe`), never by a
  // scan of the parent.
  const probes: string[] = [];
  const probeCtes: string[] = [];
  const refChecks = entity.fields
    .filter((f) => f.type === 'ref' && !f.builtin && f.ref && input.given(f.column))
    .map((f, i) => {
      const parent = model.entities.get(f.ref!.to)!;
      const v = col('c', f.column);
      const ptable = qualified(parent.table.schema, parent.table.name);
      const probe = distinctParentProbe(`r${i}`, ptable, 'c', quoteIdent('project_id'), quoteIdent(f.column));
      probeCtes.push(probe.cte);
      probes.push(` ${probe.join}`);
      const inBatch = parent.name === entity.name ? ` AND NOT EXISTS (SELECT 1 FROM c c2 WHERE c2."id" = ${v} AND c2."project_id" = c."project_id")` : '';
      return `WHEN ${v} IS NOT NULL AND ${probe.found} IS NOT TRUE${inBatch} THEN ${key(f.column)}::text`;
    });
  const badref = refChecks.length ? `CASE ${refChecks.join(' ')} END` : 'NULL::text';

  const merged = (column: string): string => {
    const t = col('t', column);
    const k = col('k', column);
    switch (rule(column)) {
      case 'least':
        return `least(${t}, ${k})`;
      case 'merge_object':
        return `CASE WHEN jsonb_typeof(${t}) = 'object' AND jsonb_typeof(${k}) = 'object' THEN ${t} || ${k} ELSE ${k} END`;
      case 'union':
        return `CASE WHEN ${k} IS NULL THEN ${t} ELSE ARRAY(SELECT x FROM (SELECT DISTINCT x FROM unnest(coalesce(${t}, '{}') || ${k}) AS x) s ORDER BY x COLLATE "C") END`;
      default:
        return k;
    }
  };
  const sets = changeable.map((f) => {
    const h = has(f.column);
    return `${quoteIdent(f.column)} = ${h === 'true' ? merged(f.column) : `CASE WHEN ${h} THEN ${merged(f.column)} ELSE ${col('t', f.column)} END`}`;
  });
  // Columns no row gives and without a default are left to the table (NULL).
  const written = fields.filter((f) => input.given(f.column) || f.default !== undefined);
  const names = written.map((f) => quoteIdent(f.column)).join(', ');
  const values = written
    .map((f) => {
      if (f.default === undefined) return col('k', f.column);
      const h = has(f.column);
      return h === 'true' ? col('k', f.column) : h === 'false' ? col('d', f.column) : `CASE WHEN ${h} THEN ${col('k', f.column)} ELSE ${col('d', f.column)} END`;
    })
    .join(', ');

  const ctes = [
    `d AS (SELECT * FROM jsonb_populate_record(NULL::${table}, ${p.add(JSON.stringify(defaultsOf(entity)))}::jsonb))`,
    `c AS (${input.select})`,
    ...probeCtes,
    `k AS (SELECT c.*, (o."id" IS NOT NULL AND o."project_id" = c."project_id") AS ${FOUND}, (o."id" IS NOT NULL) AS ${SEEN}, ${badref} AS ${BADREF} ` +
      `FROM c LEFT JOIN ${existing(table)}${probes.join('')})`,
    `u AS (UPDATE ${table} t SET ${sets.length ? sets.join(', ') : '"id" = t."id"'} FROM k ` +
      `WHERE t."id" = k."id" AND t."project_id" = k."project_id" AND k.${FOUND} AND NOT k.${STUB} AND k.${BADREF} IS NULL RETURNING t."id")`,
    `w AS (INSERT INTO ${table} (${names}) SELECT ${values} FROM k CROSS JOIN d WHERE NOT k.${SEEN} AND k.${BADREF} IS NULL ` +
      `ON CONFLICT ("id") DO NOTHING RETURNING "id")`,
  ];
  const outcome =
    `CASE WHEN w."id" IS NOT NULL THEN 'inserted' WHEN u."id" IS NOT NULL THEN 'updated' WHEN k.${FOUND} AND k.${STUB} THEN 'exists' ` +
    `WHEN k.${BADREF} IS NOT NULL THEN 'bad_ref' WHEN k.${FOUND} THEN 'forbidden' WHEN k.${SEEN} THEN 'conflict' ELSE 'unseen' END`;
  ctes.push(`r AS (SELECT k.${ORD} AS ord, ${outcome} AS outcome, k.${BADREF} AS col FROM k LEFT JOIN w ON w."id" = k."id" LEFT JOIN u ON u."id" = k."id")`);
  return {
    text: `WITH ${ctes.join(', ')} SELECT ord, outcome, col FROM r WHERE outcome <> 'inserted' UNION ALL SELECT NULL, 'inserted', count(*)::text FROM r WHERE outcome = 'inserted'`,
    params: p.values,
  };
}

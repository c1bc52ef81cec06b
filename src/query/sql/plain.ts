/**
 * Plain-row answers (issue 9 item 3, SPEC G-10 / G-11): a read operation whose only root field is a list is
 * compiled to ONE statement that returns the list's rows as plain columns, and Node writes the JSON text of
 * the answer from them (`writePlainRows`) with a writer fixed per statement (`PlainRows`).
 *
 * Why: measured on the benchmark's list (500 metrics of a trial, PostgreSQL 15, `pgbench -M prepared`), the
 * same rows cost 0.8–1.0 ms of backend time as plain columns and 3.3 ms as `json_agg(json_build_object(...))`:
 * PostgreSQL's JSON functions look the output function of every value up again for every row (`to_json(id)`
 * alone took 4.3 ms). Casting the columns to text is dearer too (1.8 ms). So the columns keep their types,
 * the driver hands their text over unparsed (`QueryOptions.raw`), and each value's JSON is written from that
 * text exactly as PostgreSQL's JSON functions would write it (`datum_to_json` in `src/backend/utils/adt/json.c`):
 * text, enum labels → JSON strings (escaped like `escape_json`); uuid, `numeric` and the ISO timestamps of
 * `isoTimestamp` → quoted as they are (no character of theirs needs escaping); int and bigint → as they are;
 * float → as it is unless `NaN` / `Infinity` / `-Infinity`, which PostgreSQL quotes; boolean `t` / `f` → `true`
 * / `false`; json / jsonb → as they are (the text PostgreSQL would embed). Anything else (dates, arrays,
 * vectors, to-one and to-many relations) is computed as today's JSON value by PostgreSQL and embedded as it is.
 *
 * The answer is the same JSON value as the JSON path's, written compactly (`{"k":v}` instead of
 * `{"k" : v}`). Operations of any other shape (several root fields, a single object, pages, connections,
 * aggregates, a list with `nearest` on pgvector, which needs the iterative-scan gate) use `compileRead`.
 */
import type { Entity, Field, Model } from '../../model/types.js';
import type { ListNode, OperationPlan, Selection } from '../plan.js';
import { col, CompileContext, type CompileOptions } from './context.js';
import { isoTimestamp, columnJson } from './json.js';
import { bindRows } from './rows.js';
import { checkListArgs, listQuery } from './list.js';
import { selectionValue } from './object.js';
import type { Scores } from './order.js';

/** How one value's text becomes JSON text (see the module comment). */
export type PlainKind = 'string' | 'quoted' | 'raw' | 'number' | 'boolean';

/** One member of a row object: its key (with the separating comma when not first) and where its value comes from. */
export type PlainMember =
  | { readonly prefix: string; readonly column: number; readonly kind: PlainKind }
  | { readonly prefix: string; readonly constant: string };

/**
 * The writer of a plain-row statement's answer: `{"<root key>":[{...},...]}` with one object per row, the
 * members in the selection's order. Depends only on the statement's text (the same text always gives the same
 * columns), so the plan cache keeps it with the text.
 */
export interface PlainRows {
  /** `{"<root key>":[` */
  readonly open: string;
  readonly members: readonly PlainMember[];
}

/** A compiled statement that returns plain rows, and the writer of its answer. */
export interface CompiledPlainQuery {
  readonly text: string;
  readonly params: unknown[];
  readonly rows: PlainRows;
}

/** The SQL value and writer kind of a column read as a plain value (see the module comment). */
function plainColumn(alias: string, field: Field): { sql: string; kind: PlainKind } {
  const c = col(alias, field.column);
  // Every type is named: a new one must choose how its text becomes JSON (the compiler refuses to build otherwise).
  switch (field.type) {
    case 'string':
    case 'text':
    case 'enum':
      return { sql: c, kind: 'string' };
    case 'uuid':
    case 'ref':
    case 'decimal':
      return { sql: c, kind: 'quoted' };
    case 'int':
    case 'bigint':
    case 'json':
      return { sql: c, kind: 'raw' };
    case 'float':
      return { sql: c, kind: 'number' };
    case 'boolean':
      return { sql: c, kind: 'boolean' };
    case 'datetime':
      return { sql: isoTimestamp(c), kind: 'quoted' };
    case 'date':
    case 'string[]':
      return { sql: `to_json(${c})`, kind: 'raw' };
    case 'vector':
      return { sql: columnJson(alias, field), kind: 'raw' };
  }
}

/**
 * The list's row: SQL expressions (`c0`, `c1`, ...) and the members that write them.
 * @throws LatticeError INTERNAL when the plan names something the model does not have
 */
function plainSelection(ctx: CompileContext, selection: Selection, entity: Entity, alias: string, scores: Scores): { sql: string; members: PlainMember[] } {
  const columns: string[] = [];
  const members = selection.map((item, i): PlainMember => {
    const prefix = `${i === 0 ? '' : ','}${JSON.stringify(item.responseKey)}:`;
    if (item.kind === 'typename') return { prefix, constant: JSON.stringify(item.value) };
    const { sql, kind } =
      item.kind === 'column'
        ? plainColumn(alias, ctx.field(entity, item.column))
        : { sql: selectionValue(ctx, entity, alias, item, scores), kind: item.kind === 'rank' || item.kind === 'distance' ? ('number' as const) : ('raw' as const) };
    columns.push(`${sql} AS c${columns.length}`);
    return { prefix, column: columns.length - 1, kind };
  });
  // A selection of only `__typename` still needs one column per row.
  return { sql: columns.length > 0 ? columns.join(', ') : 'NULL AS c0', members };
}

/** True when `plan` is answered by `compilePlainRead` (one root field, a list). */
export function isPlainPlan(plan: OperationPlan): boolean {
  return plan.roots.length === 1 && plan.roots[0].node.kind === 'list';
}

/**
 * Compile a read operation whose only root field is a list (`isPlainPlan`) to one statement returning the list's
 * rows as plain columns, in order, with the writer of its answer.
 * @returns undefined when the operation has another shape or its list needs the pgvector iterative-scan gate
 *          (`nearest`): compile it with `compileRead`
 * @throws LatticeError BAD_USER_INPUT / INTERNAL as `compileRead`
 */
export function compilePlainRead(model: Model, plan: OperationPlan, options?: CompileOptions): CompiledPlainQuery | undefined {
  if (!isPlainPlan(plan)) return undefined;
  const root = plan.roots[0];
  const node = root.node as ListNode;
  const ctx = new CompileContext(model, plan.scope, options);
  checkListArgs(node.args);
  let members: PlainMember[] = [];
  const q = listQuery(ctx, bindRows(ctx, node.entity, node.args), node.args, node.selection, (entity, alias, scores) => {
    const s = plainSelection(ctx, node.selection, entity, alias, scores);
    members = s.members;
    return s.sql;
  });
  if (ctx.usesNearest && ctx.options.vectors === 'pgvector' && ctx.options.hnswIterativeScan) return undefined;
  return {
    text: `SELECT ${q.value} FROM ${q.from} ORDER BY ${q.order}`,
    params: ctx.params.values,
    rows: { open: `{${JSON.stringify(root.responseKey)}:[`, members },
  };
}

function valueJson(text: string | null, kind: PlainKind): string {
  if (text === null) return 'null';
  switch (kind) {
    case 'string':
      return JSON.stringify(text);
    case 'quoted':
      return `"${text}"`;
    case 'raw':
      return text;
    case 'number':
      return text === 'NaN' || text === 'Infinity' || text === '-Infinity' ? `"${text}"` : text;
    case 'boolean':
      return text === 't' ? 'true' : 'false';
  }
}

/**
 * The answer's `data` JSON text from a plain-row statement's rows.
 * @param rows the rows as arrays of the columns' text (the driver's `raw` mode), null for SQL NULL
 * @returns `{"<root key>":[{...},...]}`, `[]` when there is no row
 */
export function writePlainRows(shape: PlainRows, rows: ReadonlyArray<ReadonlyArray<string | null>>): string {
  const { members } = shape;
  let out = shape.open;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    out += r === 0 ? '{' : ',{';
    for (let m = 0; m < members.length; m++) {
      const member = members[m];
      out += member.prefix;
      out += 'constant' in member ? member.constant : valueJson(row[member.column], member.kind);
    }
    out += '}';
  }
  return `${out}]}`;
}

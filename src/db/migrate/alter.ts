/**
 * Model changes against tables that already exist (SPEC S-3, the additive part of M-7).
 *
 * `CREATE TABLE IF NOT EXISTS` leaves an existing table as it is, so a field added to the model would
 * otherwise be served by GraphQL and REST without a column behind it. Before generating DDL, `migrate` reads
 * the data tables' columns and constraints from the catalog (`readExistingTables`) and compares them with
 * the model:
 *
 * - applied (`alterTableDdl`): new fields (`ADD COLUMN`, with their foreign key or unique constraint), a field
 *   becoming required or optional (`SET`/`DROP NOT NULL`), a changed default (compared with the previously
 *   applied model, since the catalog's deparsed expression is not comparable text), `unique` added or
 *   removed, full-text added;
 * - refused (`destructiveChanges`): a column whose type differs from the model's, and a column the model no
 *   longer has (a removed or renamed field). Lattice never drops or converts data by itself.
 *
 * A removed entity's table is left in place, unused (its rows are kept; drop it by hand when sure).
 *
 * Not compared: a changed set of searchable fields on a table that already has its full-text column, and a
 * changed `on_delete` of an existing foreign key.
 */
import type { ErrorDetail } from '../../errors.js';
import type { Entity, Model } from '../../model/types.js';
import { qualified, quoteIdent } from '../../query/sql/ident.js';
import type { Queryable } from '../types.js';
import type { DdlOptions } from './ddl.js';
import {
  SEARCH_COLUMN,
  columnDefinition,
  columnType,
  dataEntities,
  defaultExpression,
  foreignKeyConstraint,
  foreignKeyName,
  refFields,
  searchColumnDefinition,
  uniqueConstraint,
  uniqueConstraintName,
} from './tables.js';

/** One column of an existing table, as the catalog describes it. */
export interface ExistingColumn {
  /** `format_type` of the column, e.g. `text`, `timestamp with time zone`, `vector(3)`, `app.trial_status`. */
  readonly type: string;
  /** Schema and name of the column's type (for enums, whose `format_type` depends on the search path). */
  readonly typeSchema: string;
  readonly typeName: string;
  readonly isEnum: boolean;
  readonly notNull: boolean;
  /** A generated column (the full-text column). */
  readonly generated: boolean;
}

/** An existing data table: its columns by name and the names of its constraints. */
export interface ExistingTable {
  readonly columns: ReadonlyMap<string, ExistingColumn>;
  readonly constraints: ReadonlySet<string>;
}

/** Existing tables by `schema.table` (unquoted). */
export type ExistingTables = ReadonlyMap<string, ExistingTable>;

/** The key of `ExistingTables` for an entity. */
export function tableKey(entity: Entity): string {
  return `${entity.table.schema}.${entity.table.name}`;
}

/**
 * Read the columns and constraints of the model's data tables that exist (two catalog queries).
 * @returns only tables that exist; an empty map on a fresh database
 */
export async function readExistingTables(q: Queryable, model: Model): Promise<ExistingTables> {
  const schemas = [...new Set(dataEntities(model).map((e) => e.table.schema))];
  const out = new Map<string, { columns: Map<string, ExistingColumn>; constraints: Set<string> }>();
  if (schemas.length === 0) return out;
  const { rows: columns } = await q.query<{
    key: string;
    column_name: string;
    type: string;
    type_schema: string;
    type_name: string;
    is_enum: boolean;
    not_null: boolean;
    generated: boolean;
  }>(
    `SELECT n.nspname || '.' || c.relname AS key, a.attname AS column_name,
            format_type(a.atttypid, a.atttypmod) AS type, tn.nspname AS type_schema, t.typname AS type_name,
            t.typtype = 'e' AS is_enum, a.attnotnull AS not_null, a.attgenerated <> '' AS generated
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_type t ON t.oid = a.atttypid
       JOIN pg_namespace tn ON tn.oid = t.typnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [schemas],
  );
  const table = (key: string) => {
    let t = out.get(key);
    if (!t) out.set(key, (t = { columns: new Map(), constraints: new Set() }));
    return t;
  };
  for (const r of columns) {
    table(r.key).columns.set(r.column_name, {
      type: r.type,
      typeSchema: r.type_schema,
      typeName: r.type_name,
      isEnum: r.is_enum,
      notNull: r.not_null,
      generated: r.generated,
    });
  }
  const { rows: constraints } = await q.query<{ key: string; name: string }>(
    `SELECT n.nspname || '.' || c.relname AS key, con.conname AS name
       FROM pg_constraint con
       JOIN pg_class c ON c.oid = con.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[])`,
    [schemas],
  );
  for (const r of constraints) out.get(r.key)?.constraints.add(r.name);
  return out;
}

/** `columnType`'s spelling → `format_type`'s, for the types where they differ. */
const CATALOG_TYPE: Record<string, string> = { timestamptz: 'timestamp with time zone' };

/**
 * Changes the model asks for that Lattice will not make by itself, one detail each, e.g.
 * `{ path: 'entities.trial.fields.duration', message: 'column "duration" is integer, the model says double precision' }`.
 * @returns [] when every existing table can be brought to the model additively
 */
export function destructiveChanges(model: Model, existing: ExistingTables, options: DdlOptions): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const entity of dataEntities(model)) {
    const table = existing.get(tableKey(entity));
    if (!table) continue;
    const columns = new Set<string>();
    for (const f of entity.fields) {
      columns.add(f.column);
      const column = table.columns.get(f.column);
      if (!column) continue;
      const type = columnType(model, entity, f, options);
      const ok =
        f.type === 'enum'
          ? column.isEnum && column.typeSchema === model.dataSchema && column.typeName === (f.enumName ?? `${entity.name}_${f.name}`)
          : column.type === (CATALOG_TYPE[type] ?? type);
      if (!ok) {
        out.push({ path: `entities.${entity.name}.fields.${f.name}`, message: `column "${f.column}" is ${column.type}, the model says ${type}` });
      }
    }
    for (const [name, column] of table.columns) {
      if (columns.has(name) || (name === SEARCH_COLUMN && column.generated)) continue;
      out.push({ path: `entities.${entity.name}`, message: `column "${name}" has no field in the model (was a field removed or renamed?)` });
    }
  }
  return out;
}

/**
 * The additive statements that bring one existing table to the model, in a safe order: new columns, then
 * defaults, then nullability, then constraints. A new required field without a default fails on a table
 * with rows (the database refuses the NOT NULL column; `migrate` says so), as does a field becoming required
 * while rows hold NULL.
 * @param previous the model applied last (from `lattice.model_versions`), for defaults; without it defaults
 *        of existing columns are left as they are
 * @returns [] when the table matches, or when it does not exist yet (CREATE TABLE makes it whole)
 */
export function alterTableDdl(model: Model, entity: Entity, existing: ExistingTables, options: DdlOptions, previous?: Model): string[] {
  const table = existing.get(tableKey(entity));
  if (!table) return [];
  const name = qualified(entity.table.schema, entity.table.name);
  const before = previous?.entities.get(entity.name);
  const out: string[] = [];
  const nullability: string[] = [];
  for (const f of entity.fields) {
    const column = table.columns.get(f.column);
    if (!column) {
      out.push(`ALTER TABLE ${name} ADD COLUMN ${columnDefinition(model, entity, f, options)}`);
      continue;
    }
    if (f.builtin) continue;
    const old = before?.fields.find((o) => o.column === f.column);
    if (old && JSON.stringify(old.default ?? null) !== JSON.stringify(f.default ?? null)) {
      const def = defaultExpression(columnType(model, entity, f, options), f);
      out.push(`ALTER TABLE ${name} ALTER COLUMN ${quoteIdent(f.column)} ${def ? `SET DEFAULT ${def}` : 'DROP DEFAULT'}`);
    }
    if (f.required !== column.notNull) {
      nullability.push(`ALTER TABLE ${name} ALTER COLUMN ${quoteIdent(f.column)} ${f.required ? 'SET' : 'DROP'} NOT NULL`);
    }
  }
  out.push(...nullability);
  const search = searchColumnDefinition(entity);
  if (search && !table.columns.has(SEARCH_COLUMN)) out.push(`ALTER TABLE ${name} ADD COLUMN ${search}`);
  for (const f of refFields(entity)) {
    if (!table.constraints.has(foreignKeyName(entity, f))) out.push(`ALTER TABLE ${name} ADD ${foreignKeyConstraint(model, entity, f)}`);
  }
  for (const f of entity.fields) {
    if (f.builtin) continue;
    const has = table.constraints.has(uniqueConstraintName(entity, f));
    if (f.unique && !has) out.push(`ALTER TABLE ${name} ADD ${uniqueConstraint(entity, f)}`);
    if (!f.unique && has) out.push(`ALTER TABLE ${name} DROP CONSTRAINT ${quoteIdent(uniqueConstraintName(entity, f))}`);
  }
  return out;
}

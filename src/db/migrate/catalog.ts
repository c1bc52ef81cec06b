/**
 * What the database holds now, read from the PostgreSQL catalog for `migrate` to compare with the model
 * (src/db/migrate/alter.ts): the data tables' columns (with comments), constraints, foreign keys and index
 * names, and the data schema's enum types with their labels in sort order.
 */
import type { Model } from '../../model/types.js';
import type { Queryable } from '../types.js';
import { dataEntities } from './tables.js';

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
  /** The column's comment (the full-text column's records what it is generated from), or null. */
  readonly comment: string | null;
}

/** A foreign key of an existing table. */
export interface ExistingForeignKey {
  /** Referenced table, `schema.table` (unquoted). */
  readonly target: string;
  /** `pg_constraint.confdeltype`: `a` no action, `r` restrict, `c` cascade, `n` set null, `d` set default. */
  readonly onDelete: string;
  /** Referencing columns in key order. */
  readonly columns: readonly string[];
}

/** An existing data table: columns by name, constraints by name, foreign keys by constraint name. */
export interface ExistingTable {
  readonly columns: ReadonlyMap<string, ExistingColumn>;
  /** `pg_constraint.contype` by constraint name: `p` primary key, `u` unique, `f` foreign key, `c` check. */
  readonly constraints: ReadonlyMap<string, string>;
  readonly foreignKeys: ReadonlyMap<string, ExistingForeignKey>;
  /** Names of the table's indexes (including those behind constraints). */
  readonly indexes: ReadonlySet<string>;
  /** Comments of the table's indexes that have one, by index name (declared indexes record their definition). */
  readonly indexComments: ReadonlyMap<string, string>;
}

/** The catalog as `migrate` needs it. */
export interface CatalogSnapshot {
  /** Existing data tables by `schema.table` (unquoted, as stored: at most 63 bytes per name). */
  readonly tables: ReadonlyMap<string, ExistingTable>;
  /** Enum types of the data schemas by `schema.type`, with their labels in sort order. */
  readonly enums: ReadonlyMap<string, readonly string[]>;
}

/** A snapshot of a database with no data tables and no enum types (generate DDL for a fresh database). */
export const EMPTY_CATALOG: CatalogSnapshot = { tables: new Map(), enums: new Map() };

/** PostgreSQL's maximum identifier length in bytes (NAMEDATALEN − 1). */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * An identifier as PostgreSQL stores it: longer names are cut to 63 bytes, at a character boundary
 * (PostgreSQL's `truncate_identifier`). Generated names such as `<table>_<column>_fkey` can exceed it.
 */
export function storedIdentifier(name: string): string {
  if (Buffer.byteLength(name) <= MAX_IDENTIFIER_BYTES) return name;
  let out = '';
  for (const ch of name) {
    if (Buffer.byteLength(out + ch) > MAX_IDENTIFIER_BYTES) break;
    out += ch;
  }
  return out;
}

/** `schema.name` key of the snapshot's maps, with both parts as stored. */
export function catalogKey(schema: string, name: string): string {
  return `${storedIdentifier(schema)}.${storedIdentifier(name)}`;
}

/**
 * Read the data tables (columns, constraints, foreign keys, indexes) and enum types of the model's data
 * schemas (four catalog queries).
 * @returns only what exists; empty maps on a fresh database
 */
export async function readCatalog(q: Queryable, model: Model): Promise<CatalogSnapshot> {
  const schemas = [...new Set([model.dataSchema, ...dataEntities(model).map((e) => e.table.schema)])];
  const tables = new Map<
    string,
    {
      columns: Map<string, ExistingColumn>;
      constraints: Map<string, string>;
      foreignKeys: Map<string, ExistingForeignKey>;
      indexes: Set<string>;
      indexComments: Map<string, string>;
    }
  >();
  const table = (key: string) => {
    let t = tables.get(key);
    if (!t) tables.set(key, (t = { columns: new Map(), constraints: new Map(), foreignKeys: new Map(), indexes: new Set(), indexComments: new Map() }));
    return t;
  };
  const { rows: columns } = await q.query<{
    key: string;
    column_name: string;
    type: string;
    type_schema: string;
    type_name: string;
    is_enum: boolean;
    not_null: boolean;
    generated: boolean;
    comment: string | null;
  }>(
    `SELECT n.nspname || '.' || c.relname AS key, a.attname AS column_name,
            format_type(a.atttypid, a.atttypmod) AS type, tn.nspname AS type_schema, t.typname AS type_name,
            t.typtype = 'e' AS is_enum, a.attnotnull AS not_null, a.attgenerated <> '' AS generated,
            col_description(c.oid, a.attnum) AS comment
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_type t ON t.oid = a.atttypid
       JOIN pg_namespace tn ON tn.oid = t.typnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [schemas],
  );
  for (const r of columns) {
    table(r.key).columns.set(r.column_name, {
      type: r.type,
      typeSchema: r.type_schema,
      typeName: r.type_name,
      isEnum: r.is_enum,
      notNull: r.not_null,
      generated: r.generated,
      comment: r.comment,
    });
  }
  const { rows: constraints } = await q.query<{
    key: string;
    name: string;
    type: string;
    target: string | null;
    on_delete: string;
    columns: string[] | null;
  }>(
    `SELECT n.nspname || '.' || c.relname AS key, con.conname AS name, con.contype::text AS type,
            fn.nspname || '.' || f.relname AS target, con.confdeltype::text AS on_delete,
            (SELECT array_agg(a.attname::text ORDER BY k.i)
               FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, i)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS columns
       FROM pg_constraint con
       JOIN pg_class c ON c.oid = con.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_class f ON f.oid = con.confrelid
       LEFT JOIN pg_namespace fn ON fn.oid = f.relnamespace
      WHERE n.nspname = ANY($1::text[])`,
    [schemas],
  );
  for (const r of constraints) {
    const t = tables.get(r.key);
    if (!t) continue;
    t.constraints.set(r.name, r.type);
    if (r.type === 'f' && r.target) t.foreignKeys.set(r.name, { target: r.target, onDelete: r.on_delete, columns: r.columns ?? [] });
  }
  const { rows: indexes } = await q.query<{ key: string; name: string; comment: string | null }>(
    `SELECT n.nspname || '.' || c.relname AS key, i.relname AS name, obj_description(i.oid, 'pg_class') AS comment
       FROM pg_index x
       JOIN pg_class c ON c.oid = x.indrelid
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[])`,
    [schemas],
  );
  for (const r of indexes) {
    const t = tables.get(r.key);
    t?.indexes.add(r.name);
    if (t && r.comment !== null) t.indexComments.set(r.name, r.comment);
  }
  const { rows: labels } = await q.query<{ key: string; labels: string[] }>(
    `SELECT n.nspname || '.' || t.typname AS key, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
       FROM pg_type t
       JOIN pg_namespace n ON n.oid = t.typnamespace
       JOIN pg_enum e ON e.enumtypid = t.oid
      WHERE n.nspname = ANY($1::text[])
      GROUP BY 1`,
    [schemas],
  );
  return { tables, enums: new Map(labels.map((r) => [r.key, r.labels])) };
}

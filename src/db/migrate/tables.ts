/**
 * DDL of the data tables (SPEC M-2, M-3, S-2, S-4, S-5): one typed table per entity in the data schema,
 * tenant-composite keys, foreign keys that cannot cross projects, indexes, `updated_at` trigger, full-text column
 * (generated `tsvector` with a GIN index and a comment recording what it is generated from), and with pgvector
 * one HNSW index per declared metric of each vector field.
 */
import { createHash } from 'node:crypto';
import { qualified, quoteIdent } from '../../query/sql/ident.js';
import type { Entity, EntityIndex, Field, JsonValue, Model, VectorMetric } from '../../model/types.js';
import type { DdlOptions } from './ddl.js';
import { uuidV7Default } from './system.js';

/** Generated full-text column of entities with searchable fields (SPEC S-4). */
export const SEARCH_COLUMN = 'search_vector';

/** Widest `vector(n)` an HNSW index takes (pgvector); wider fields are searched exactly, without an index. */
export const HNSW_MAX_DIMENSIONS = 2000;

/**
 * An SQL string literal for DDL (DEFAULT clauses cannot take bind parameters). With
 * `standard_conforming_strings` on (the default since PostgreSQL 9.1, and on in PGlite) only `'` needs doubling;
 * the `E''` form is never produced, so backslashes are literal.
 */
export function sqlLiteral(value: string): string {
  if (value.includes('\u0000')) throw new Error('SQL literals cannot contain NUL characters');
  return `'${value.replace(/'/g, "''")}'`;
}

/** Unqualified SQL name of an enum field's type, e.g. `trial_status`. */
export function enumTypeName(entity: Entity, field: Field): string {
  return field.enumName ?? `${entity.name}_${field.name}`;
}

/** SQL name of an enum field's type, e.g. `"app"."trial_status"`. */
export function enumType(model: Model, entity: Entity, field: Field): string {
  return qualified(model.dataSchema, enumTypeName(entity, field));
}

/** SQL column type of a field (M-2; `vector` → `vector(n)` with pgvector, else `real[]`, SPEC S-5). */
export function columnType(model: Model, entity: Entity, field: Field, options: DdlOptions): string {
  switch (field.type) {
    case 'string':
    case 'text':
      return 'text';
    case 'int':
      return 'integer';
    case 'bigint':
      return 'bigint';
    case 'float':
      return 'double precision';
    case 'decimal':
      return 'numeric';
    case 'boolean':
      return 'boolean';
    case 'datetime':
      return 'timestamptz';
    case 'date':
      return 'date';
    case 'uuid':
    case 'ref':
      return 'uuid';
    case 'json':
      return 'jsonb';
    case 'enum':
      return enumType(model, entity, field);
    case 'string[]':
      return 'text[]';
    case 'vector':
      return options.vector ? `vector(${Number(field.dimensions)})` : 'real[]';
  }
}

/** DEFAULT expression of a declared default (a typed literal), or null. */
export function defaultExpression(type: string, field: Field): string | null {
  const v: JsonValue | undefined = field.default;
  if (v === undefined || v === null) return null;
  switch (field.type) {
    case 'json':
      return `${sqlLiteral(JSON.stringify(v))}::jsonb`;
    case 'string[]':
      return (v as string[]).length === 0 ? `'{}'::text[]` : `ARRAY[${(v as string[]).map(sqlLiteral).join(', ')}]::text[]`;
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      return `${sqlLiteral(String(v))}::${type}`;
  }
}

/**
 * One idempotent block per enum field: create the type when missing, else add the values it lacks, each in
 * its declared position (after the value declared before it, or before the type's first value), so an
 * existing database sorts the enum as a fresh one does. PostgreSQL ≥ 12 allows ADD VALUE in a transaction;
 * the value is usable after commit (see `migrate`). Runs under the migration's advisory lock.
 */
export function enumTypesDdl(model: Model): string[] {
  const out: string[] = [];
  for (const entity of dataEntities(model)) {
    for (const f of entity.fields) {
      if (f.type !== 'enum') continue;
      const type = enumType(model, entity, f);
      const values = (f.values ?? []).map(sqlLiteral).join(', ');
      const alter = (position: string) => sqlLiteral(`ALTER TYPE ${type.replace(/%/g, '%%')} ADD VALUE %L ${position} %L`);
      out.push(`DO $lattice$
DECLARE v text; prev text; first_label text;
BEGIN
  IF to_regtype(${sqlLiteral(type)}) IS NULL THEN
    CREATE TYPE ${type} AS ENUM (${values});
  ELSE
    FOREACH v IN ARRAY ARRAY[${values}]::text[] LOOP
      IF NOT EXISTS (SELECT 1 FROM pg_enum WHERE enumtypid = to_regtype(${sqlLiteral(type)}) AND enumlabel = v) THEN
        IF prev IS NOT NULL THEN
          EXECUTE format(${alter('AFTER')}, v, prev);
        ELSE
          SELECT enumlabel INTO first_label FROM pg_enum WHERE enumtypid = to_regtype(${sqlLiteral(type)}) ORDER BY enumsortorder LIMIT 1;
          EXECUTE format(${alter('BEFORE')}, v, first_label);
        END IF;
      END IF;
      prev := v;
    END LOOP;
  END IF;
END
$lattice$`);
    }
  }
  return out;
}

/** Data entities (not the built-in project) in declaration order. */
export function dataEntities(model: Model): Entity[] {
  return [...model.entities.values()].filter((e) => !e.system);
}

/**
 * The generated tsvector expression: searchable fields weighted A, B, C, D by declaration order (fields after
 * the fourth share D), in the model's text-search configuration (`search_config`, default `english`), which
 * `search` queries use too (`src/query/sql/search.ts`).
 */
function searchExpression(model: Model, fields: Field[]): string {
  const weights = ['A', 'B', 'C', 'D'];
  const config = `${sqlLiteral(model.searchConfig)}::regconfig`;
  return fields
    .map((f, i) => `setweight(to_tsvector(${config}, coalesce(${quoteIdent(f.column)}, '')), '${weights[Math.min(i, 3)]}')`)
    .join(' || ');
}

/** Searchable fields of an entity, in declaration order. */
function searchableFields(entity: Entity): Field[] {
  return entity.fields.filter((f) => f.searchable);
}

/**
 * What the full-text column of an entity is generated from, as stored in the column's comment so `migrate` can
 * tell when it must be regenerated (src/db/migrate/alter.ts): `lattice search_vector: config=english;
 * fields=name,description` (fields in weight order). Null without searchable fields.
 */
export function searchSignature(model: Model, entity: Entity): string | null {
  const fields = searchableFields(entity);
  if (!fields.length) return null;
  return `lattice ${SEARCH_COLUMN}: config=${model.searchConfig}; fields=${fields.map((f) => f.column).join(',')}`;
}

/** `COMMENT ON COLUMN <table>.search_vector IS '<signature>'`, or null without searchable fields. */
export function searchCommentDdl(model: Model, entity: Entity): string | null {
  const signature = searchSignature(model, entity);
  if (!signature) return null;
  return `COMMENT ON COLUMN ${qualified(entity.table.schema, entity.table.name)}.${quoteIdent(SEARCH_COLUMN)} IS ${sqlLiteral(signature)}`;
}

/** pgvector operator class of each metric (SPEC S-5). */
const OPCLASS: Record<VectorMetric, string> = { cosine: 'vector_cosine_ops', l2: 'vector_l2_ops', inner_product: 'vector_ip_ops' };

/** Longest identifier PostgreSQL keeps (NAMEDATALEN − 1 bytes); longer ones are truncated. */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * Name of the HNSW index of a vector field for one metric: `<table>_<col>_hnsw_idx` for cosine (the name
 * databases created before per-metric indexes already have; PostgreSQL truncates it beyond 63 bytes),
 * `<table>_<col>_l2_hnsw_idx`, `<table>_<col>_ip_hnsw_idx`. When an l2 or inner-product name would pass
 * 63 bytes, truncation would make it equal to the cosine one: it becomes `<prefix>_<8 hex of
 * sha256(table.column)>_l2_hnsw_idx` instead, within 63 bytes (the way PostgreSQL's own ChooseRelationName
 * keeps generated names apart). Model names are ASCII snake_case, so characters are bytes.
 */
export function hnswIndexName(entity: Entity, f: Field, metric: VectorMetric): string {
  const base = `${entity.table.name}_${f.column}`;
  if (metric === 'cosine') return `${base}_hnsw_idx`;
  const suffix = metric === 'l2' ? '_l2_hnsw_idx' : '_ip_hnsw_idx';
  if (base.length + suffix.length <= MAX_IDENTIFIER_BYTES) return `${base}${suffix}`;
  const hash = createHash('sha256').update(`${entity.table.name}.${f.column}`).digest('hex').slice(0, 8);
  return `${base.slice(0, MAX_IDENTIFIER_BYTES - suffix.length - hash.length - 1)}_${hash}${suffix}`;
}

/** Metrics of a vector field that get an HNSW index (none without pgvector or beyond 2,000 dimensions). */
export function indexedMetrics(f: Field, options: DdlOptions): VectorMetric[] {
  if (f.type !== 'vector' || !options.vector || (f.dimensions ?? 0) > HNSW_MAX_DIMENSIONS) return [];
  return [...(f.metrics ?? ['cosine'])];
}

/** Prefix of the comment that marks an index as declared by the model (`indexes:`), so migrate may drop it. */
export const DECLARED_INDEX_MARK = 'lattice:declared ';

/**
 * What follows `ON <table>` in a declared index's DDL (SPEC M-2): `("project_id", "trial_id", "step" DESC)
 * WHERE "step" IS NOT NULL`. Conditions are ANDed; `eq` literals are rendered by `sqlLiteral` with a cast to
 * the column's type (values were type-checked by the model loader, src/model/indexes.ts).
 */
export function declaredIndexBody(model: Model, entity: Entity, index: EntityIndex): string {
  const cols = index.columns.map((c) => {
    let col = quoteIdent(c.column);
    if (c.order === 'desc') col += ' DESC';
    if (c.nulls) col += ` NULLS ${c.nulls.toUpperCase()}`;
    return col;
  });
  let body = `(${['project_id', ...cols].join(', ')})`;
  const conds = index.where.map((w) => {
    const col = quoteIdent(w.column);
    if ('isNull' in w) return `${col} IS ${w.isNull ? '' : 'NOT '}NULL`;
    const f = entity.columns.get(w.column)!;
    if (typeof w.eq === 'boolean') return `${col} = ${w.eq ? 'true' : 'false'}`;
    if (typeof w.eq === 'number') {
      if (!Number.isFinite(w.eq)) throw new Error(`Index ${index.name}: ${w.column} = ${w.eq} is not a finite number`);
      return `${col} = ${sqlLiteral(String(w.eq))}::${columnType(model, entity, f, {})}`;
    }
    return `${col} = ${sqlLiteral(w.eq)}::${columnType(model, entity, f, {})}`;
  });
  if (conds.length) body += ` WHERE ${conds.join(' AND ')}`;
  return body;
}

/** The comment recorded on a declared index: `lattice:declared <body>`; migrate re-creates it when it differs. */
export function declaredIndexSignature(model: Model, entity: Entity, index: EntityIndex): string {
  return `${DECLARED_INDEX_MARK}${declaredIndexBody(model, entity, index)}`;
}

/** Column definition of a field for CREATE TABLE / ADD COLUMN: name, type, NOT NULL, DEFAULT. */
export function columnDefinition(model: Model, entity: Entity, f: Field, options: DdlOptions): string {
  const type = columnType(model, entity, f, options);
  let line = `${quoteIdent(f.column)} ${type}`;
  if (f.computed) return `${line} GENERATED ALWAYS AS (${computedExpression(f)}) STORED`;
  if (f.column === 'id') line += ` NOT NULL DEFAULT ${uuidV7Default(model.systemSchema)}`;
  else if (f.column === 'created_at' || f.column === 'updated_at') line += ' NOT NULL DEFAULT now()';
  else {
    if (f.required) line += ' NOT NULL';
    const def = defaultExpression(type, f);
    if (def) line += ` DEFAULT ${def}`;
  }
  return line;
}

/**
 * The SQL expression of a computed field (M-2 `computed`): `end − start` in milliseconds as double precision,
 * null while either is null. `EXTRACT(EPOCH FROM interval)` is immutable, as a generated column requires.
 */
export function computedExpression(f: Field): string {
  const c = f.computed!;
  return `EXTRACT(EPOCH FROM (${quoteIdent(c.to)} - ${quoteIdent(c.from)}))::double precision * 1000`;
}

/** What a computed column is generated from, recorded in its comment so `migrate` sees a changed definition. */
export function computedSignature(f: Field): string {
  return `lattice computed: milliseconds_between(${f.computed!.from},${f.computed!.to})`;
}

/** Definition of the generated full-text column, or null when the entity has no searchable field (S-4). */
export function searchColumnDefinition(model: Model, entity: Entity): string | null {
  const searchable = searchableFields(entity);
  if (!searchable.length) return null;
  return `${quoteIdent(SEARCH_COLUMN)} tsvector GENERATED ALWAYS AS (${searchExpression(model, searchable)}) STORED`;
}

/** Ref fields other than the built-in project ref (each gets a tenant-composite foreign key). */
export function refFields(entity: Entity): Field[] {
  return entity.fields.filter((f) => f.type === 'ref' && f.ref && f.column !== 'project_id');
}

/** Name of the foreign-key constraint of a ref field, e.g. `trial_experiment_id_fkey`. */
export function foreignKeyName(entity: Entity, f: Field): string {
  return `${entity.table.name}_${f.column}_fkey`;
}

/** Name of the per-project unique constraint of a `unique` field, e.g. `tag_label_key`. */
export function uniqueConstraintName(entity: Entity, f: Field): string {
  return `${entity.table.name}_${f.column}_key`;
}

/**
 * `CONSTRAINT … FOREIGN KEY (project_id, <col>) REFERENCES <parent> (project_id, id) ON DELETE …` (S-2).
 * @throws Error when the ref targets an unknown entity (the model loader prevents it)
 */
export function foreignKeyConstraint(model: Model, entity: Entity, f: Field): string {
  const target = model.entities.get(f.ref!.to);
  if (!target) throw new Error(`Entity ${entity.name} references unknown entity ${f.ref!.to}`);
  const col = quoteIdent(f.column);
  const onDelete = f.ref!.onDelete === 'cascade' ? 'CASCADE' : f.ref!.onDelete === 'set null' ? `SET NULL (${col})` : 'RESTRICT';
  return (
    `CONSTRAINT ${quoteIdent(foreignKeyName(entity, f))} FOREIGN KEY (project_id, ${col}) ` +
    `REFERENCES ${qualified(target.table.schema, target.table.name)} (project_id, id) ON DELETE ${onDelete}`
  );
}

/** `CONSTRAINT <table>_<col>_key UNIQUE (project_id, <col>)`: `unique` means unique within a project. */
export function uniqueConstraint(entity: Entity, f: Field): string {
  return `CONSTRAINT ${quoteIdent(uniqueConstraintName(entity, f))} UNIQUE (project_id, ${quoteIdent(f.column)})`;
}

/**
 * `CREATE TABLE IF NOT EXISTS` for one entity, then (when the table already exists with other columns) the
 * additive `ALTER TABLE` statements of `alterStatements`, then its indexes and trigger.
 * Constraint and index names are derived from table and column names (`<table>_<col>_fkey`, `..._idx`).
 * @param alterStatements statements that bring an existing table to the model (see `alterTableDdl`)
 */
export function tableDdl(model: Model, entity: Entity, options: DdlOptions, alterStatements: readonly string[] = []): string[] {
  const table = qualified(entity.table.schema, entity.table.name);
  const projects = qualified(model.systemSchema, 'projects');
  const name = entity.table.name;
  const lines: string[] = entity.fields.map((f) => columnDefinition(model, entity, f, options));
  const search = searchColumnDefinition(model, entity);
  if (search) lines.push(search);
  lines.push(`CONSTRAINT ${quoteIdent(`${name}_pkey`)} PRIMARY KEY (project_id, id)`);
  lines.push(`CONSTRAINT ${quoteIdent(`${name}_id_key`)} UNIQUE (id)`);
  lines.push(`CONSTRAINT ${quoteIdent(`${name}_project_id_fkey`)} FOREIGN KEY (project_id) REFERENCES ${projects} (id) ON DELETE CASCADE`);
  const refs = refFields(entity);
  for (const f of refs) lines.push(foreignKeyConstraint(model, entity, f));
  for (const f of entity.fields) if (f.unique && !f.builtin) lines.push(uniqueConstraint(entity, f));
  const out = [`CREATE TABLE IF NOT EXISTS ${table} (\n  ${lines.join(',\n  ')}\n)`, ...alterStatements];

  const index = (suffix: string, body: string) =>
    out.push(`CREATE INDEX IF NOT EXISTS ${quoteIdent(`${name}_${suffix}`)} ON ${table} ${body}`);
  for (const f of refs) if (!f.unique) index(`${f.column}_idx`, `(project_id, ${quoteIdent(f.column)})`);
  for (const f of entity.fields) {
    if (f.index && !f.unique && f.type !== 'ref') index(`${f.column}_idx`, `(project_id, ${quoteIdent(f.column)})`);
    for (const metric of indexedMetrics(f, options)) {
      out.push(`CREATE INDEX IF NOT EXISTS ${quoteIdent(hnswIndexName(entity, f, metric))} ON ${table} USING hnsw (${quoteIdent(f.column)} ${OPCLASS[metric]})`);
    }
  }
  if (search) index(`${SEARCH_COLUMN}_idx`, `USING gin (${quoteIdent(SEARCH_COLUMN)})`);
  const comment = searchCommentDdl(model, entity);
  if (comment) out.push(comment);
  for (const f of entity.fields) {
    if (f.computed) out.push(`COMMENT ON COLUMN ${table}.${quoteIdent(f.column)} IS ${sqlLiteral(computedSignature(f))}`);
  }
  index('created_at_idx', '(project_id, created_at)');
  for (const ix of entity.indexes) {
    out.push(`CREATE INDEX IF NOT EXISTS ${quoteIdent(ix.name)} ON ${table} ${declaredIndexBody(model, entity, ix)}`);
    out.push(`COMMENT ON INDEX ${qualified(entity.table.schema, ix.name)} IS ${sqlLiteral(declaredIndexSignature(model, entity, ix))}`);
  }
  out.push(
    `CREATE OR REPLACE TRIGGER lattice_updated_at BEFORE UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${qualified(model.systemSchema, 'set_updated_at')}()`,
  );
  return out;
}

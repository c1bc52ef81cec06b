/**
 * Model changes against tables that already exist (SPEC S-3, the additive part of M-7).
 *
 * `CREATE TABLE IF NOT EXISTS` leaves an existing table as it is, so a field added to the model would
 * otherwise be served by GraphQL and REST without a column behind it. `migrate` reads the catalog
 * (`readCatalog`, src/db/migrate/catalog.ts) and compares it with the model:
 *
 * - applied (`alterTableDdl`): new fields (`ADD COLUMN`, with their foreign key or unique constraint), a field
 *   becoming required or optional (`SET`/`DROP NOT NULL`), a changed default (compared with the previously
 *   applied model, since the catalog's deparsed expression is not comparable text), a ref's target or
 *   `on_delete` changed (its foreign key replaced), a ref turned into a plain field (its foreign key dropped),
 *   `unique` added or removed, the full-text column added, regenerated or dropped (see below), `real[]`
 *   vectors converted to `vector(n)` once pgvector is available, HNSW indexes of metrics the model no longer
 *   declares dropped (new ones are created by `CREATE INDEX IF NOT EXISTS`), enum values added (in their
 *   declared position; see `enumValuesMissing`);
 * - refused (`destructiveChanges`): a column whose type differs from the model's, a column the model no
 *   longer has (a removed or renamed field), and enum values the model no longer has (PostgreSQL cannot
 *   drop them, and rows may hold them). Lattice never drops or converts data by itself.
 *
 * A removed entity's table is left in place, unused (its rows are kept; drop it by hand when sure); so are
 * the old tables when an entity's `schema` changes.
 *
 * The full-text column is derived data: its comment records what it is generated from (`searchSignature`:
 * text-search configuration and searchable fields in weight order). When that differs from the model — fields
 * added, removed or reordered, another `search_config`, or no comment (a database created before signatures
 * were recorded) — the column is dropped and added again (PostgreSQL recomputes it for every row; its GIN
 * index goes with it and is recreated); when the model has no searchable field left, it is dropped.
 *
 * Names are compared as PostgreSQL stores them (`storedIdentifier`: cut to 63 bytes), since generated names
 * such as `<table>_<column>_fkey` can be longer.
 */
import type { ErrorDetail } from '../../errors.js';
import { VECTOR_METRICS } from '../../model/document.js';
import type { Entity, Field, Model, OnDelete } from '../../model/types.js';
import { qualified, quoteIdent } from '../../query/sql/ident.js';
import { catalogKey, storedIdentifier, type CatalogSnapshot, type ExistingColumn, type ExistingTable } from './catalog.js';
import type { DdlOptions } from './ddl.js';
import {
  DECLARED_INDEX_MARK,
  SEARCH_COLUMN,
  columnDefinition,
  columnType,
  computedSignature,
  dataEntities,
  declaredIndexSignature,
  defaultExpression,
  enumTypeName,
  foreignKeyConstraint,
  foreignKeyName,
  hnswIndexName,
  indexedMetrics,
  refFields,
  searchColumnDefinition,
  searchSignature,
  uniqueConstraint,
  uniqueConstraintName,
} from './tables.js';

/** The snapshot's table of an entity, if it exists. */
function existingTable(catalog: CatalogSnapshot, entity: Entity): ExistingTable | undefined {
  return catalog.tables.get(catalogKey(entity.table.schema, entity.table.name));
}

/** The snapshot's column of a field, if it exists. */
function existingColumn(table: ExistingTable, f: Field): ExistingColumn | undefined {
  return table.columns.get(storedIdentifier(f.column));
}

/** `columnType`'s spelling → `format_type`'s, for the types where they differ. */
const CATALOG_TYPE: Record<string, string> = { timestamptz: 'timestamp with time zone' };

/** `pg_constraint.confdeltype` of each `on_delete`. */
const CONFDELTYPE: Record<OnDelete, string> = { cascade: 'c', 'set null': 'n', restrict: 'r' };

/** JSON text with object keys sorted, so values read back from `jsonb` (which reorders keys) compare equal. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** How an existing column relates to the type the model wants: the same, convertible without loss, or not. */
function typeMatch(model: Model, entity: Entity, f: Field, column: ExistingColumn, options: DdlOptions): 'same' | 'convert' | 'different' {
  if (f.type === 'enum') {
    const ok = column.isEnum && column.typeSchema === storedIdentifier(model.dataSchema) && column.typeName === storedIdentifier(enumTypeName(entity, f));
    return ok ? 'same' : 'different';
  }
  const type = columnType(model, entity, f, options);
  if (column.type === (CATALOG_TYPE[type] ?? type)) return 'same';
  // A database created without pgvector (`real[]`, SPEC S-5) whose server now offers it.
  if (f.type === 'vector' && options.vector && column.type === 'real[]') return 'convert';
  return 'different';
}

/**
 * Changes the model asks for that Lattice will not make by itself, one detail each, e.g.
 * `{ path: 'entities.trial.fields.duration', message: 'column "duration" is integer, the model says double precision' }`.
 * @returns [] when every existing table and enum type can be brought to the model additively
 */
export function destructiveChanges(model: Model, catalog: CatalogSnapshot, options: DdlOptions): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const entity of dataEntities(model)) {
    for (const f of entity.fields) {
      if (f.type !== 'enum') continue;
      const labels = catalog.enums.get(catalogKey(model.dataSchema, enumTypeName(entity, f)));
      const removed = (labels ?? []).filter((l) => !(f.values ?? []).includes(l));
      if (removed.length) {
        out.push({
          path: `entities.${entity.name}.fields.${f.name}.values`,
          message: `enum value(s) ${removed.map((v) => JSON.stringify(v)).join(', ')} are no longer in the model (PostgreSQL cannot remove enum values, and rows may hold them)`,
        });
      }
    }
    const table = existingTable(catalog, entity);
    if (!table) continue;
    const columns = new Set<string>();
    for (const f of entity.fields) {
      columns.add(storedIdentifier(f.column));
      const column = existingColumn(table, f);
      if (column && f.computed && !column.generated) {
        out.push({ path: `entities.${entity.name}.fields.${f.name}`, message: `column "${f.column}" holds stored values; the model now computes it (they would be replaced)` });
        continue;
      }
      if (column && typeMatch(model, entity, f, column, options) === 'different') {
        const type = columnType(model, entity, f, options);
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
 * Whether an existing enum type lacks a value the model declares. PostgreSQL does not let a transaction use
 * an enum value it added itself (e.g. as a new default), so `migrate` then commits the enum DDL first.
 */
export function enumValuesMissing(model: Model, catalog: CatalogSnapshot): boolean {
  for (const entity of dataEntities(model)) {
    for (const f of entity.fields) {
      if (f.type !== 'enum') continue;
      const labels = catalog.enums.get(catalogKey(model.dataSchema, enumTypeName(entity, f)));
      if (labels && (f.values ?? []).some((v) => !labels.includes(v))) return true;
    }
  }
  return false;
}

/**
 * The statements that bring one existing table to the model, in a safe order: new and converted columns,
 * defaults, nullability, full-text column, foreign keys, unique constraints. A new required field without a
 * default fails on a table with rows (the database refuses the NOT NULL column; `migrate` says so), as does
 * a field becoming required while rows hold NULL, or a replaced foreign key that existing rows violate.
 * @param previous the model applied last (from `lattice.model_versions`), for defaults; without it defaults
 *        of existing columns are left as they are
 * @returns [] when the table matches, or when it does not exist yet (CREATE TABLE makes it whole)
 */
export function alterTableDdl(model: Model, entity: Entity, catalog: CatalogSnapshot, options: DdlOptions, previous?: Model): string[] {
  const table = existingTable(catalog, entity);
  if (!table) return [];
  const name = qualified(entity.table.schema, entity.table.name);
  const before = previous?.entities.get(entity.name);
  const columns: string[] = [];
  const defaults: string[] = [];
  const nullability: string[] = [];
  for (const f of entity.fields) {
    const column = existingColumn(table, f);
    if (!column) {
      columns.push(`ALTER TABLE ${name} ADD COLUMN ${columnDefinition(model, entity, f, options)}`);
      continue;
    }
    if (f.computed && column.generated && column.comment !== computedSignature(f)) {
      // Another definition: regenerate (derived data; PostgreSQL recomputes every row).
      columns.push(`ALTER TABLE ${name} DROP COLUMN ${quoteIdent(f.column)}`, `ALTER TABLE ${name} ADD COLUMN ${columnDefinition(model, entity, f, options)}`);
      continue;
    }
    if (!f.computed && column.generated && f.column !== SEARCH_COLUMN) {
      // No longer computed: keep the values as ordinary data.
      columns.push(`ALTER TABLE ${name} ALTER COLUMN ${quoteIdent(f.column)} DROP EXPRESSION`);
    }
    if (f.computed) continue;
    if (typeMatch(model, entity, f, column, options) === 'convert') {
      const type = columnType(model, entity, f, options);
      columns.push(`ALTER TABLE ${name} ALTER COLUMN ${quoteIdent(f.column)} TYPE ${type} USING ${quoteIdent(f.column)}::${type}`);
    }
    if (f.builtin) continue;
    const old = before?.fields.find((o) => o.column === f.column);
    if (old && canonicalJson(old.default ?? null) !== canonicalJson(f.default ?? null)) {
      const def = defaultExpression(columnType(model, entity, f, options), f);
      defaults.push(`ALTER TABLE ${name} ALTER COLUMN ${quoteIdent(f.column)} ${def ? `SET DEFAULT ${def}` : 'DROP DEFAULT'}`);
    }
    if (f.required !== column.notNull) {
      nullability.push(`ALTER TABLE ${name} ALTER COLUMN ${quoteIdent(f.column)} ${f.required ? 'SET' : 'DROP'} NOT NULL`);
    }
  }
  const out = [...columns, ...defaults, ...nullability, ...searchColumnDdl(model, entity, table, name)];
  out.push(...foreignKeyDdl(model, entity, table, name));
  for (const f of entity.fields) {
    if (f.builtin) continue;
    // By type too: a long FK name and a long unique name can be cut to the same 63 bytes.
    const has = table.constraints.get(storedIdentifier(uniqueConstraintName(entity, f))) === 'u';
    if (f.unique && !has) out.push(`ALTER TABLE ${name} ADD ${uniqueConstraint(entity, f)}`);
    if (!f.unique && has) out.push(`ALTER TABLE ${name} DROP CONSTRAINT ${quoteIdent(storedIdentifier(uniqueConstraintName(entity, f)))}`);
  }
  out.push(...staleVectorIndexDdl(entity, table, options));
  out.push(...declaredIndexDdl(model, entity, table));
  return out;
}

/**
 * Declared indexes (`indexes:`, SPEC M-2) brought to the model: an index whose comment marks it as declared
 * (`lattice:declared …`) and that the model no longer declares is dropped; a declared name whose recorded
 * definition differs from the model's (columns, order, `where`) is dropped here and created again by
 * `tableDdl`'s `CREATE INDEX IF NOT EXISTS`. Indexes without the mark (made by hand) are left alone, unless
 * they hold a declared name.
 */
function declaredIndexDdl(model: Model, entity: Entity, table: ExistingTable): string[] {
  const out: string[] = [];
  const wanted = new Map(entity.indexes.map((ix) => [ix.name, declaredIndexSignature(model, entity, ix)]));
  for (const index of table.indexes) {
    const comment = table.indexComments.get(index);
    const signature = wanted.get(index);
    const stale = signature !== undefined ? comment !== signature : comment?.startsWith(DECLARED_INDEX_MARK) === true;
    if (stale) out.push(`DROP INDEX IF EXISTS ${qualified(entity.table.schema, index)}`);
  }
  return out;
}

/**
 * The full-text column brought to the model: added when missing; dropped and added again when its recorded
 * signature differs from the model's (see the module comment); dropped when nothing is searchable any more.
 * A non-generated column of that name (not Lattice's) is left alone.
 */
function searchColumnDdl(model: Model, entity: Entity, table: ExistingTable, name: string): string[] {
  const wanted = searchColumnDefinition(model, entity);
  const existing = table.columns.get(SEARCH_COLUMN);
  const drop = `ALTER TABLE ${name} DROP COLUMN IF EXISTS ${quoteIdent(SEARCH_COLUMN)}`;
  if (!existing) return wanted ? [`ALTER TABLE ${name} ADD COLUMN ${wanted}`] : [];
  if (!existing.generated) return [];
  if (!wanted) return [drop];
  if (existing.comment === searchSignature(model, entity)) return [];
  return [drop, `ALTER TABLE ${name} ADD COLUMN ${wanted}`];
}

/** `DROP INDEX` for Lattice-named HNSW indexes of metrics a vector field no longer declares. */
function staleVectorIndexDdl(entity: Entity, table: ExistingTable, options: DdlOptions): string[] {
  const out: string[] = [];
  for (const f of entity.fields) {
    if (f.type !== 'vector') continue;
    const keep = new Set(indexedMetrics(f, options));
    // Never drop a name that a kept metric also stands for (defensive: names are distinct, see hnswIndexName).
    const kept = new Set([...keep].map((m) => storedIdentifier(hnswIndexName(entity, f, m))));
    const dropped = new Set<string>();
    for (const metric of VECTOR_METRICS) {
      const index = storedIdentifier(hnswIndexName(entity, f, metric));
      if (keep.has(metric) || kept.has(index) || dropped.has(index) || !table.indexes.has(index)) continue;
      dropped.add(index);
      out.push(`DROP INDEX IF EXISTS ${qualified(entity.table.schema, index)}`);
    }
  }
  return out;
}

/**
 * Foreign keys of an existing table brought to the model's refs: missing ones added, ones with another
 * target, column list or `on_delete` replaced, and Lattice-shaped ones (`(project_id, <column>)`) whose
 * column is no longer a ref dropped. Constraints of other shapes (added by hand) are left alone.
 */
function foreignKeyDdl(model: Model, entity: Entity, table: ExistingTable, name: string): string[] {
  const out: string[] = [];
  const expected = new Set<string>([storedIdentifier(`${entity.table.name}_project_id_fkey`)]);
  for (const f of refFields(entity)) {
    const target = model.entities.get(f.ref!.to)!;
    const constraint = storedIdentifier(foreignKeyName(entity, f));
    expected.add(constraint);
    const fk = table.foreignKeys.get(constraint);
    const same =
      fk &&
      fk.target === catalogKey(target.table.schema, target.table.name) &&
      fk.onDelete === CONFDELTYPE[f.ref!.onDelete] &&
      fk.columns.join(',') === `project_id,${storedIdentifier(f.column)}`;
    if (same) continue;
    if (fk) out.push(`ALTER TABLE ${name} DROP CONSTRAINT ${quoteIdent(constraint)}`);
    out.push(`ALTER TABLE ${name} ADD ${foreignKeyConstraint(model, entity, f)}`);
  }
  const columns = new Set(entity.fields.map((f) => storedIdentifier(f.column)));
  for (const [constraint, fk] of table.foreignKeys) {
    if (expected.has(constraint)) continue;
    if (fk.columns.length === 2 && fk.columns[0] === 'project_id' && columns.has(fk.columns[1])) {
      out.push(`ALTER TABLE ${name} DROP CONSTRAINT ${quoteIdent(constraint)}`);
    }
  }
  return out;
}

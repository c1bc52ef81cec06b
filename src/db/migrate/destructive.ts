/**
 * Destructive model changes, applied only when explicitly allowed (SPEC M-7: `allow_destructive` on
 * `PUT /api/v1/model`, `lattice model apply --allow-destructive`). `destructiveChanges` (alter.ts) lists them;
 * this module writes the statements that carry them out, run by `migrate` in the same DDL transaction as the
 * additive ones, before them:
 *
 * - a removed entity: its table is dropped (`DROP TABLE`, all removed tables in one statement so references
 *   between them do not matter; no CASCADE: a view or hand-made foreign key on it makes the change fail
 *   rather than silently vanish), then its enum types;
 * - a column the model no longer has (a removed or renamed field): `DROP COLUMN … CASCADE` (which also drops
 *   the full-text column when the field was searchable — `searchColumnDdl` adds it back — and indexes and
 *   constraints on the column), then the column's enum type if it was a Lattice enum of the data schema;
 * - a column whose type differs from the model's: its default dropped, `ALTER COLUMN … TYPE <new> USING
 *   <column>::<new>` (through `text` for enums), the model's default set again. A value that does not convert
 *   fails the whole change with PostgreSQL's message, nothing applied;
 * - enum values the model no longer has: the type is rebuilt (old type renamed, new type created with the
 *   model's values, columns converted through `text`, old type dropped). Rows holding a removed value make it
 *   fail, nothing applied.
 */
import type { ErrorDetail } from '../../errors.js';
import type { Entity, Model } from '../../model/types.js';
import { qualified, quoteIdent } from '../../query/sql/ident.js';
import { catalogKey, storedIdentifier, type CatalogSnapshot } from './catalog.js';
import type { DdlOptions } from './ddl.js';
import { SEARCH_COLUMN, columnDefinition, columnType, dataEntities, defaultExpression, enumType, enumTypeName, sqlLiteral } from './tables.js';

/**
 * Entities of `running` whose tables `next` no longer uses (removed entities; an entity whose `schema` or
 * table name changed leaves its old table here too).
 */
export function removedEntities(running: Model, next: Model): Entity[] {
  const used = new Set(dataEntities(next).map((e) => catalogKey(e.table.schema, e.table.name)));
  return dataEntities(running).filter((e) => !used.has(catalogKey(e.table.schema, e.table.name)));
}

/** One detail per removed entity whose table exists: what `allow_destructive` will drop. */
export function droppedTableChanges(removed: readonly Entity[], catalog: CatalogSnapshot): ErrorDetail[] {
  return removed
    .filter((e) => catalog.tables.has(catalogKey(e.table.schema, e.table.name)))
    .map((e) => ({
      path: `entities.${e.name}`,
      message: `entity removed: table ${qualified(e.table.schema, e.table.name)} and all its rows will be dropped`,
    }));
}

/**
 * The statements that drop the tables (and enum types) of removed entities.
 * @param removed entities of the running model whose tables the new model no longer uses (`removedEntities`)
 * @param running the model they belong to (for their enum types' schema)
 */
export function dropTablesDdl(running: Model, removed: readonly Entity[], catalog: CatalogSnapshot): string[] {
  const existing = removed.filter((e) => catalog.tables.has(catalogKey(e.table.schema, e.table.name)));
  if (!existing.length) return [];
  const out = [`DROP TABLE ${existing.map((e) => qualified(e.table.schema, e.table.name)).join(', ')}`];
  for (const e of existing) {
    for (const f of e.fields) if (f.type === 'enum') out.push(`DROP TYPE IF EXISTS ${enumType(running, e, f)}`);
  }
  return out;
}

/**
 * The statements that make the destructive changes `destructiveChanges` lists for existing tables and enum
 * types (see the module comment), in order: enum types rebuilt, columns dropped, columns converted.
 */
export function destructiveDdl(model: Model, catalog: CatalogSnapshot, options: DdlOptions): string[] {
  const out: string[] = [];
  for (const entity of dataEntities(model)) {
    const table = catalog.tables.get(catalogKey(entity.table.schema, entity.table.name));
    const name = qualified(entity.table.schema, entity.table.name);
    for (const f of entity.fields) {
      if (f.type !== 'enum') continue;
      const labels = catalog.enums.get(catalogKey(model.dataSchema, enumTypeName(entity, f)));
      if (!labels || labels.every((l) => (f.values ?? []).includes(l))) continue;
      const type = enumType(model, entity, f);
      const oldName = storedIdentifier(`${enumTypeName(entity, f)}__lattice_old`);
      out.push(`ALTER TYPE ${type} RENAME TO ${quoteIdent(oldName)}`);
      out.push(`CREATE TYPE ${type} AS ENUM (${(f.values ?? []).map(sqlLiteral).join(', ')})`);
      if (table?.columns.has(storedIdentifier(f.column))) out.push(...convertColumn(name, f.column, type, defaultExpression(type, f), true));
      out.push(`DROP TYPE ${qualified(model.dataSchema, oldName)}`);
    }
    if (!table) continue;
    const columns = new Set(entity.fields.map((f) => storedIdentifier(f.column)));
    for (const [column, existing] of table.columns) {
      if (columns.has(column) || (column === SEARCH_COLUMN && existing.generated)) continue;
      out.push(`ALTER TABLE ${name} DROP COLUMN ${quoteIdent(column)} CASCADE`);
      if (existing.isEnum && existing.typeSchema === storedIdentifier(model.dataSchema)) {
        const stillUsed = entity.fields.some((f) => f.type === 'enum' && storedIdentifier(enumTypeName(entity, f)) === existing.typeName);
        if (!stillUsed) out.push(`DROP TYPE IF EXISTS ${qualified(existing.typeSchema, existing.typeName)}`);
      }
    }
    for (const f of entity.fields) {
      const existing = table.columns.get(storedIdentifier(f.column));
      if (!existing) continue;
      if (f.computed) {
        if (!existing.generated) {
          out.push(`ALTER TABLE ${name} DROP COLUMN ${quoteIdent(f.column)}`, `ALTER TABLE ${name} ADD COLUMN ${columnDefinition(model, entity, f, options)}`);
        }
        continue;
      }
      if (f.type === 'enum') {
        const same = existing.isEnum && existing.typeSchema === storedIdentifier(model.dataSchema) && existing.typeName === storedIdentifier(enumTypeName(entity, f));
        const type = enumType(model, entity, f);
        if (!same) out.push(...convertColumn(name, f.column, type, defaultExpression(type, f), true));
        continue;
      }
      const type = columnType(model, entity, f, options);
      const catalogType = type === 'timestamptz' ? 'timestamp with time zone' : type;
      if (existing.type === catalogType || (f.type === 'vector' && existing.type === 'real[]')) continue;
      out.push(...convertColumn(name, f.column, type, defaultExpression(type, f), existing.isEnum));
    }
  }
  return out;
}

/** Drop the default, convert the column (through `text` when `viaText`), set the model's default again. */
function convertColumn(table: string, column: string, type: string, def: string | null, viaText: boolean): string[] {
  const c = quoteIdent(column);
  const out = [
    `ALTER TABLE ${table} ALTER COLUMN ${c} DROP DEFAULT`,
    `ALTER TABLE ${table} ALTER COLUMN ${c} TYPE ${type} USING ${c}${viaText ? '::text' : ''}::${type}`,
  ];
  if (def) out.push(`ALTER TABLE ${table} ALTER COLUMN ${c} SET DEFAULT ${def}`);
  return out;
}

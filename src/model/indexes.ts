/**
 * Declared indexes (SPEC M-2): an entity's `indexes:` resolved into `Entity.indexes`.
 *
 * Each item is a btree index on `(project_id, <columns>)` — the tenant column always leads, as it does for
 * the per-field indexes, because every query is scoped to one project. Columns are named by field (a ref by
 * its model name: `trial` means `trial_id`), each `asc` (default) or `desc`, optionally `nulls: first|last`.
 * A partial index's `where` is a small structured form, never SQL: `{ <field>: { is_null: true|false } }` or
 * `{ <field>: { eq: <literal> } }` (the literal checked against the field's type here, rendered by
 * `sqlLiteral` in src/db/migrate/tables.ts).
 */
import { createHash } from 'node:crypto';
import type { ErrorDetail } from '../errors.js';
import type { IndexDocument } from './document.js';
import type { EntityIndex, Field, IndexColumn, IndexCondition } from './types.js';

/** Longest identifier PostgreSQL keeps (NAMEDATALEN − 1 bytes). */
const MAX_IDENTIFIER_BYTES = 63;

/** Field types a btree index cannot usefully take (vectors have HNSW indexes; json has no btree order). */
const NOT_BTREE = new Set<Field['type']>(['vector', 'json']);

/** Field types whose `eq` literal Lattice can check and render safely. */
const EQ_TYPES = new Set<Field['type']>(['string', 'text', 'int', 'bigint', 'float', 'decimal', 'boolean', 'enum']);

/**
 * Name of a declared index: `<table>_<col>_<col>_idx` (project_id not spelled). When that passes 63 bytes,
 * `<prefix>_<8 hex of sha256(table.col,col)>_idx` within 63 bytes, so two long names stay distinct after
 * PostgreSQL's truncation (as `hnswIndexName` does). Model names are ASCII snake_case: characters are bytes.
 */
export function declaredIndexName(table: string, columns: readonly string[]): string {
  const base = `${table}_${columns.join('_')}`;
  const suffix = '_idx';
  if (base.length + suffix.length <= MAX_IDENTIFIER_BYTES) return `${base}${suffix}`;
  const hash = createHash('sha256').update(`${table}.${columns.join(',')}`).digest('hex').slice(0, 8);
  return `${base.slice(0, MAX_IDENTIFIER_BYTES - suffix.length - hash.length - 1)}_${hash}${suffix}`;
}

/** Whether `value` is a valid `eq` literal for the field; returns what was expected, or null when it is. */
function eqMismatch(f: Field, value: string | number | boolean): string | null {
  switch (f.type) {
    case 'string':
    case 'text':
      return typeof value === 'string' ? null : 'a string';
    case 'int':
    case 'bigint':
      return Number.isSafeInteger(value) ? null : 'an integer';
    case 'float':
    case 'decimal':
      return typeof value === 'number' && Number.isFinite(value) ? null : 'a number';
    case 'boolean':
      return typeof value === 'boolean' ? null : 'true or false';
    case 'enum':
      return typeof value === 'string' && (f.values ?? []).includes(value) ? null : `one of ${(f.values ?? []).join(', ')}`;
    default:
      return 'nothing (eq is not supported for this type; use is_null)';
  }
}

/**
 * Resolve an entity's declared indexes against its fields, pushing path-precise errors
 * (`entities.metric.indexes.0.fields.1: unknown field "stepp"`).
 * @param path document path of the entity, e.g. `entities.metric`
 * @param table the entity's table name (for index names)
 * @param fields the entity's resolved fields (built-ins included)
 * @param reserved index names the table already has (per-field, ref, created_at, full-text, HNSW), refused
 */
export function resolveIndexes(
  path: string,
  table: string,
  docs: readonly IndexDocument[],
  fields: readonly Field[],
  reserved: ReadonlySet<string>,
  errors: ErrorDetail[],
): EntityIndex[] {
  const byName = new Map(fields.map((f) => [f.name, f]));
  const names = fields.filter((f) => f.name !== 'project').map((f) => f.name);
  const lookup = (at: string, name: string): Field | undefined => {
    if (name === 'project') {
      errors.push({ path: at, message: 'project_id always leads every index; leave "project" out' });
      return undefined;
    }
    const f = byName.get(name);
    if (!f) errors.push({ path: at, message: `unknown field "${name}"; fields: ${names.join(', ')}` });
    return f;
  };
  const out: EntityIndex[] = [];
  const seen = new Map<string, number>();
  docs.forEach((doc, i) => {
    const at = `${path}.indexes.${i}`;
    const fieldsAt = `${at}.fields`;
    const columns: IndexColumn[] = [];
    const used = new Set<string>();
    let ok = true;
    doc.fields.forEach((spec, j) => {
      const f = lookup(`${fieldsAt}.${j}`, spec.field);
      if (!f) return void (ok = false);
      if (NOT_BTREE.has(f.type)) {
        errors.push({ path: `${fieldsAt}.${j}`, message: `${f.type} field "${f.name}" cannot be in a btree index; remove it` });
        ok = false;
      }
      if (used.has(f.name)) {
        errors.push({ path: `${fieldsAt}.${j}`, message: `field "${f.name}" is listed twice in this index` });
        ok = false;
      }
      used.add(f.name);
      columns.push({ column: f.column, order: spec.order ?? 'asc', ...(spec.nulls ? { nulls: spec.nulls } : {}) });
    });
    const where: IndexCondition[] = [];
    for (const [fname, cond] of Object.entries(doc.where ?? {})) {
      const f = lookup(`${at}.where.${fname}`, fname);
      if (!f) {
        ok = false;
        continue;
      }
      if (cond.is_null !== undefined) {
        if (f.required && cond.is_null) errors.push({ path: `${at}.where.${fname}`, message: `"${fname}" is required: it is never null, so this index would stay empty` });
        where.push({ column: f.column, isNull: cond.is_null });
      } else if (cond.eq !== undefined) {
        const expected = EQ_TYPES.has(f.type) ? eqMismatch(f, cond.eq) : 'nothing (eq is not supported for this type; use is_null)';
        if (expected) {
          errors.push({ path: `${at}.where.${fname}.eq`, message: `expected ${expected} for the ${f.type} field "${fname}"` });
          ok = false;
        }
        where.push({ column: f.column, eq: cond.eq });
      }
    }
    if (!ok) return;
    const name = declaredIndexName(table, columns.map((c) => c.column));
    if (reserved.has(name)) {
      errors.push({ path: at, message: `index "${name}" already exists for this table (a per-field index); use "index: true" on the field, or add a column` });
      return;
    }
    const prev = seen.get(name);
    if (prev !== undefined) {
      errors.push({ path: at, message: `same columns as ${path}.indexes.${prev}; declare each column list once` });
      return;
    }
    seen.set(name, i);
    out.push({ name, columns, where });
  });
  return out;
}

/**
 * Bind-parameter collection (pg_graphql's `ParamContext`): every value in a compiled statement goes through
 * here and comes back as a placeholder with an explicit cast (`$3::uuid`, `$4::text[]`, `$5::jsonb`), so the
 * statement is typed independently of the driver's parameter inference (node-postgres and PGlite differ).
 */
import type { Field, FieldType, Model } from '../../model/types.js';
import { LatticeError, badInput, internal } from '../../errors.js';
import { qualified } from './ident.js';
import { UUID_RE } from '../../uuid.js';

/** SQL type of a field's column, as written in a cast. Enum fields use their enum type in the data schema. */
export function columnSqlType(model: Model, field: Field): string {
  if (field.type === 'enum') {
    if (!field.enumName) throw internal(`enum field ${field.name} has no enum type name`);
    return qualified(model.dataSchema, field.enumName);
  }
  return scalarSqlType(field.type);
}

/**
 * SQL type used for a parameter compared with a column of this field type. Enums map to `text` (comparisons
 * cast the column to text; ordering comparisons use `columnSqlType`); vectors to `text` (pgvector literal).
 */
export function scalarSqlType(type: FieldType): string {
  switch (type) {
    case 'string':
    case 'text':
    case 'enum':
    case 'vector':
      return 'text';
    case 'int':
      return 'int4';
    case 'bigint':
      return 'int8';
    case 'float':
      return 'float8';
    case 'decimal':
      return 'numeric';
    case 'boolean':
      return 'bool';
    case 'datetime':
      return 'timestamptz';
    case 'date':
      return 'date';
    case 'uuid':
    case 'ref':
      return 'uuid';
    case 'json':
      return 'jsonb';
    case 'string[]':
      return 'text[]';
  }
}


/**
 * Check that a value is a UUID string before it is bound as `uuid` (a malformed one would be a database error).
 * @throws LatticeError BAD_USER_INPUT naming `what` (e.g. `id`).
 */
export function checkUuid(value: unknown, what: string): string {
  if (typeof value !== 'string' || !UUID_RE.test(value)) {
    throw badInput(`${what} must be a UUID like 0190a6a4-8f7e-7c3a-9d4e-1234567890ab; got ${JSON.stringify(value)}.`);
  }
  return value;
}

/** Normalise a JS value for the wire: JSON values are serialised, Dates become ISO strings, bigints strings. */
function normalize(value: unknown, sqlType: string): unknown {
  if (value === null || value === undefined) return null;
  if (sqlType === 'jsonb' || sqlType === 'json') return JSON.stringify(value);
  if (Array.isArray(value)) return value.map((v) => normalize(v, sqlType.replace(/\[\]$/, '')));
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * Collects bind parameters of one statement in order. Placeholders are numbered from `$1`.
 * The scope parameter (tenant project ids) is added once and shared by every table read.
 */
/** Bind parameters per statement: PostgreSQL's wire protocol counts them in 16 bits. */
export const MAX_PARAMETERS = 65_535;

export class ParamContext {
  /** Parameter values in placeholder order (`values[0]` is `$1`). */
  readonly values: unknown[] = [];
  private scopeRef: string | undefined;

  /**
   * Add one value and return its placeholder with a cast, e.g. `$2::timestamptz`.
   * @param value a JS value (JSON values for `jsonb` are serialised here; arrays for `<type>[]`)
   * @param sqlType a trusted SQL type written by the compiler (never user input): `uuid`, `text[]`, a
   *        `qualified()` enum type...
   * @throws LatticeError QUERY_TOO_COMPLEX beyond `MAX_PARAMETERS` values (the protocol's limit; the driver
   *         would otherwise fail the statement with an internal error)
   */
  add(value: unknown, sqlType: string): string {
    if (this.values.length >= MAX_PARAMETERS) {
      throw new LatticeError(
        'QUERY_TOO_COMPLEX',
        `The request needs more than ${MAX_PARAMETERS} values in one statement; split it, or use in: [...] lists instead of many or: branches.`,
      );
    }
    this.values.push(normalize(value, sqlType));
    return `$${this.values.length}::${sqlType}`;
  }

  /** Placeholder for the tenant project ids (`$n::uuid[]`), added on first use and reused afterwards. */
  scope(projectIds: readonly string[]): string {
    if (this.scopeRef === undefined) this.scopeRef = this.add([...projectIds], 'uuid[]');
    return this.scopeRef;
  }
}

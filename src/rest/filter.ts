/**
 * `GET /api/v1/<plural>?filter=<JSON>` (SPEC R-1): the G-4 filter language in JSON with the model's
 * snake_case names, turned into the plan's `Filter` — the same IR GraphQL filters become, compiled by the same
 * SQL (`src/query/sql/filter.ts`).
 *
 * ```json
 * { "status": { "in": ["failed", "cancelled"] },
 *   "experiment": { "name": { "starts_with": "a" } },          // to-one relation: a filter on the related row
 *   "runs": { "some": { "status": { "eq": "failed" } } },      // to-many: some / every / none
 *   "or": [{ "duration": { "gt": 10 } }, { "duration": { "is_null": true } }],
 *   "not": { "name": { "ilike": "%test%" } } }
 * ```
 * Keys of an object are columns (`experiment_id`, `created_at`, ...), relations, or `and` / `or` / `not`;
 * several keys must all hold. A column takes an object of operators from the shared table
 * (`src/query/operators.ts`), each operand checked against the column's JSON schema (the one request bodies
 * use). Anything else — bad JSON, an unknown key, an operator the type lacks, a wrongly typed operand, a null
 * operand (use `is_null`) — is a BAD_USER_INPUT whose message and detail name the path inside the parameter,
 * e.g. `filter.status.eq: must be one of: pending, running, completed, cancelled, failed`.
 */
import { badInput, LatticeError } from '../errors.js';
import type { Entity, Field, Model } from '../model/types.js';
import { checkJsonNesting } from '../nesting.js';
import { operandShape, operatorsFor, supportsOperator } from '../query/operators.js';
import type { CompareOp, Filter } from '../query/plan.js';
import { fieldSchema } from './schemas.js';
import { ajvMessage, valueValidator } from './validate.js';

type Json = Readonly<Record<string, unknown>>;

/**
 * The 400 for a problem at `path` inside a query parameter (`filter.status.eq`): the message names the path,
 * the detail carries it under `querystring.`.
 */
export function paramError(path: string, problem: string): LatticeError {
  return badInput(`Invalid query parameter: ${path}: ${problem}.`, [{ path: `querystring.${path}`, message: problem }]);
}

/**
 * Parse a JSON query parameter (already URL-decoded by the router) and check its depth and numbers.
 * @param name the parameter name, for messages
 * @param example a valid value to show when the text is not JSON
 * @throws LatticeError BAD_USER_INPUT naming the parameter
 */
export function parseJsonParam(name: string, text: string, example: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw paramError(name, `not valid JSON (${(err as Error).message}); send URL-encoded JSON such as ${example}`);
  }
  try {
    checkJsonNesting(value, name);
  } catch (err) {
    if (err instanceof LatticeError) throw paramError(name, err.message.replace(/\.$/, ''));
    throw err;
  }
  return value;
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const EXAMPLE = '{"status":{"eq":"completed"}}';

/**
 * Parse `filter=` of `entity` into a plan filter.
 * @param text the parameter's text (JSON)
 * @throws LatticeError BAD_USER_INPUT naming the parameter and the path inside it
 */
export function parseFilterParam(model: Model, entity: Entity, text: string): Filter {
  const value = parseJsonParam('filter', text, EXAMPLE);
  return convert(model, entity, value, 'filter');
}

/** Keys an object of `entity` accepts, for "use one of" messages. */
function knownKeys(entity: Entity): string {
  const columns = entity.fields.filter((f) => operatorsFor(f).length > 0).map((f) => f.column);
  return [...columns, ...entity.relations.keys(), 'and', 'or', 'not'].join(', ');
}

function and(items: Filter[]): Filter {
  return items.length === 1 ? items[0] : { kind: 'and', items };
}

function convert(model: Model, entity: Entity, value: unknown, path: string): Filter {
  if (!isObject(value)) throw paramError(path, `expected an object of conditions such as ${EXAMPLE}`);
  const items: Filter[] = [];
  for (const [key, v] of Object.entries(value)) {
    const where = `${path}.${key}`;
    if (v === null) throw paramError(where, 'is null; leave it out, or use {"is_null": true} on a field to match null values');
    if (key === 'and' || key === 'or') {
      if (!Array.isArray(v)) throw paramError(where, `expected an array of filters, e.g. [${EXAMPLE}]`);
      items.push({ kind: key, items: v.map((x, i) => convert(model, entity, x, `${where}[${i}]`)) });
      continue;
    }
    if (key === 'not') {
      items.push({ kind: 'not', item: convert(model, entity, v, where) });
      continue;
    }
    const relation = entity.relations.get(key);
    if (relation) {
      const target = model.entities.get(relation.target)!;
      if (relation.kind === 'to-one') {
        items.push({ kind: 'related', relation: key, mode: 'is', filter: convert(model, target, v, where) });
        continue;
      }
      if (!isObject(v)) throw paramError(where, `expected {"some": {...}}, {"every": {...}} or {"none": {...}} with a filter of ${target.plural}`);
      for (const [q, inner] of Object.entries(v)) {
        if (q !== 'some' && q !== 'every' && q !== 'none') throw paramError(`${where}.${q}`, 'unknown quantifier; use some, every or none');
        if (inner === null) throw paramError(`${where}.${q}`, 'is null; leave it out');
        items.push({ kind: 'related', relation: key, mode: q, filter: convert(model, target, inner, `${where}.${q}`) });
      }
      continue;
    }
    const field = entity.columns.get(key);
    if (!field) throw paramError(where, `unknown field of ${entity.name}; use one of: ${knownKeys(entity)}`);
    items.push(...compare(field, v, where));
  }
  return and(items);
}

/** The operator object of one column → comparisons. */
function compare(field: Field, value: unknown, path: string): Filter[] {
  const ops = operatorsFor(field);
  if (ops.length === 0) {
    throw paramError(path, `${field.type} fields cannot be filtered${field.type === 'vector' ? '; use the nearest parameter' : ''}`);
  }
  if (!isObject(value)) throw paramError(path, `expected an object of operators such as {"${ops[0]}": ...}; operators of ${field.column}: ${ops.join(', ')}`);
  const out: Filter[] = [];
  for (const [key, operand] of Object.entries(value)) {
    const where = `${path}.${key}`;
    const op = key as CompareOp;
    if (!supportsOperator(field, op)) throw paramError(where, `unknown operator for ${field.column} (${field.type}); use one of: ${ops.join(', ')}`);
    if (operand === null) {
      throw paramError(where, op === 'is_null' ? 'is null; use true or false' : 'is null; use {"is_null": true} to match null values');
    }
    checkOperand(field, op, operand, where);
    out.push({ kind: 'compare', column: field.column, type: field.type, op, value: operand });
  }
  return out;
}

/** Check an operand against the JSON schema of its shape (the column's body schema for values). */
function checkOperand(field: Field, op: CompareOp, operand: unknown, path: string): void {
  const shape = operandShape(field, op);
  const validate = valueValidator(field, shape, () => {
    switch (shape) {
      case 'boolean':
        return { type: 'boolean' };
      case 'text':
        return { type: 'string' };
      case 'values':
        return { type: 'array', items: fieldSchema(field, false) };
      case 'value':
        return fieldSchema(field, false);
    }
  });
  if (validate(operand)) return;
  const e = validate.errors?.[0];
  const inner = e?.instancePath ? e.instancePath.split('/').slice(1).map((s) => `[${s}]`).join('') : '';
  throw paramError(`${path}${inner}`, e ? ajvMessage(e) : 'invalid value');
}

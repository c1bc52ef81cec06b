/**
 * The list query string (already validated and coerced by the route schema) → the read plan's `ListArgs`:
 * `limit`, `offset`, `order_by=-created_at,name` (keys may follow to-one relations: `-trial.experiment.name`)
 * and equality parameters (`?trial_id=…&status=running`).
 */
import { badInput, type LatticeError } from '../errors.js';
import type { Entity, Model } from '../model/types.js';
import { MAX_ORDER_HOPS } from '../query/order.js';
import type { Filter, ListArgs, OrderItem } from '../query/plan.js';

export { MAX_ORDER_HOPS };
import { isScalarColumn } from './schemas.js';

/** Parameters that are not equality filters. */
const RESERVED = new Set(['limit', 'offset', 'order_by', 'filter', 'search', 'nearest']);


/** Orderable columns of an entity, for messages. */
function orderableColumns(entity: Entity): string {
  return entity.fields.filter(isScalarColumn).map((f) => f.column).join(', ');
}

/** To-one relation names of an entity, for messages. */
function toOneRelations(entity: Entity): string[] {
  return [...entity.relations.values()].filter((r) => r.kind === 'to-one').map((r) => r.name);
}

/** What `order_by` accepts on `entity`: its orderable columns, and `<relation>.<field>` for its to-one relations. */
function accepted(entity: Entity): string {
  const relations = toOneRelations(entity);
  const via = relations.length ? `, or a to-one relation and one of its fields (${relations.map((r) => `${r}.…`).join(', ')})` : '';
  return `${orderableColumns(entity)}${via}; prefix "-" for descending`;
}

/** The 400 of one bad `order_by` key: the message names the parameter and the key, the detail says what is wrong. */
function orderError(entity: Entity, key: string, problem: string, allowed: string): LatticeError {
  return badInput(`Invalid query parameter: order_by: cannot order ${entity.plural} by "${key}": ${problem}; use ${allowed}.`, [
    { path: 'querystring.order_by', message: `"${key}": ${problem}` },
  ]);
}

/**
 * Parse `order_by`: comma-separated keys, `-` prefix = descending (PostgreSQL's default null placement: NULLS
 * LAST ascending, NULLS FIRST descending). A key is a column of the entity (`created_at`) or a column reached
 * through up to `MAX_ORDER_HOPS` to-one relations, dot-separated (`trial.experiment.name` on metrics →
 * `{ path: ['trial', 'experiment'], column: 'name' }`); rows whose related row is absent order as nulls, like
 * GraphQL's nested `order_by`. `id` is appended by the compiler as the tiebreaker.
 * @throws LatticeError BAD_USER_INPUT naming `order_by` and the bad key when a path element is not a relation,
 *         is a to-many relation, or the column is unknown or unorderable (json, string[], vector), listing what
 *         the entity reached so far accepts; or when a key follows more than `MAX_ORDER_HOPS` relations
 */
export function parseOrderBy(model: Model, entity: Entity, text: string | undefined): OrderItem[] {
  if (!text) return [];
  return text.split(',').map((part) => {
    const desc = part.startsWith('-');
    const key = desc ? part.slice(1) : part;
    const names = key.split('.');
    const column = names.pop()!;
    if (names.length > MAX_ORDER_HOPS) {
      throw orderError(entity, key, `follows ${names.length} relations`, `at most ${MAX_ORDER_HOPS}`);
    }
    let current = entity;
    for (const name of names) {
      const relation = current.relations.get(name);
      const target = relation?.kind === 'to-one' ? model.entities.get(relation.target) : undefined;
      if (!target) {
        const relations = toOneRelations(current);
        const known = relations.length ? `one of its to-one relations: ${relations.join(', ')}` : 'a field of it, without a dot';
        const problem = relation?.kind === 'to-many'
          ? `"${name}" is a to-many relation of ${current.name} (many rows, no single value to order by)`
          : `${current.name} has no relation "${name}"`;
        throw orderError(entity, key, problem, known);
      }
      current = target;
    }
    const field = current.columns.get(column);
    if (!field || !isScalarColumn(field)) {
      const relation = current.relations.get(column);
      const problem = relation?.kind === 'to-one'
        ? `"${column}" is a relation of ${current.name}; name one of its fields, e.g. "${[...names, column].join('.')}.id"`
        : field
          ? `${field.type} field "${column}" of ${current.name} cannot be ordered`
          : `${current.name} has no field "${column}"`;
      throw orderError(entity, key, problem, names.length ? `a field of ${current.name}: ${orderableColumns(current)}` : accepted(entity));
    }
    const item = { column, direction: desc ? 'DESC' : 'ASC', nulls: desc ? 'FIRST' : 'LAST' } as const;
    return (names.length ? { path: names, ...item } : item) satisfies OrderItem;
  });
}

/**
 * Build list arguments from a validated query object.
 * @param query the coerced query string (`limit` and `offset` defaulted by the schema)
 */
export function listArgs(model: Model, entity: Entity, query: Readonly<Record<string, unknown>>): ListArgs {
  const items: Filter[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (RESERVED.has(key) || value === undefined) continue;
    const field = entity.columns.get(key);
    if (!field) continue; // impossible after schema validation (additionalProperties: false)
    items.push({ kind: 'compare', column: field.column, type: field.type, op: 'eq', value });
  }
  const filter: Filter | undefined = items.length === 0 ? undefined : items.length === 1 ? items[0] : { kind: 'and', items };
  return {
    ...(filter ? { filter } : {}),
    orderBy: parseOrderBy(model, entity, typeof query.order_by === 'string' ? query.order_by : undefined),
    limit: Number(query.limit),
    offset: Number(query.offset ?? 0),
  };
}

/**
 * The list query string (already validated and coerced by the route schema) → the read plan's `ListArgs`:
 * `limit`, `offset`, `order_by=-created_at,name` and equality parameters (`?trial_id=…&status=running`).
 */
import { badInput } from '../errors.js';
import type { Entity } from '../model/types.js';
import type { Filter, ListArgs, OrderItem } from '../query/plan.js';
import { isScalarColumn } from './schemas.js';

/** Parameters that are not equality filters. */
const RESERVED = new Set(['limit', 'offset', 'order_by', 'filter', 'search', 'nearest']);

/**
 * Parse `order_by`: comma-separated columns, `-` prefix = descending (PostgreSQL's default null placement:
 * NULLS LAST ascending, NULLS FIRST descending). `id` is appended by the compiler as the tiebreaker.
 * @throws LatticeError BAD_USER_INPUT naming the unknown or unorderable column and listing the valid ones.
 */
export function parseOrderBy(entity: Entity, text: string | undefined): OrderItem[] {
  if (!text) return [];
  return text.split(',').map((part) => {
    const desc = part.startsWith('-');
    const column = desc ? part.slice(1) : part;
    const field = entity.columns.get(column);
    if (!field || !isScalarColumn(field)) {
      const valid = entity.fields.filter(isScalarColumn).map((f) => f.column);
      throw badInput(`Cannot order ${entity.plural} by "${column}"; order_by accepts: ${valid.join(', ')} (prefix "-" for descending).`, [
        { path: 'querystring.order_by', message: `unknown column "${column}"` },
      ]);
    }
    return { column, direction: desc ? 'DESC' : 'ASC', nulls: desc ? 'FIRST' : 'LAST' } satisfies OrderItem;
  });
}

/**
 * Build list arguments from a validated query object.
 * @param query the coerced query string (`limit` and `offset` defaulted by the schema)
 */
export function listArgs(entity: Entity, query: Readonly<Record<string, unknown>>): ListArgs {
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
    orderBy: parseOrderBy(entity, typeof query.order_by === 'string' ? query.order_by : undefined),
    limit: Number(query.limit),
    offset: Number(query.offset ?? 0),
  };
}

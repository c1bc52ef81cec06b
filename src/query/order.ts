/**
 * The effective ordering of a list, list page or connection (SPEC G-5, G-6): a decision of the plan stage,
 * made once here and read by both the SQL stage (`src/query/sql/order.ts`, `keyset.ts`) and the cursor codec
 * (`src/query/cursor.ts`), so the GraphQL and REST planners never reach into the SQL stage.
 *
 * Rules:
 * - the plan's `orderBy` items, in order; each names a column of the entity, or of a row reached through
 *   to-one relations (`OrderItem.path`);
 * - when `orderBy` is empty: distance ascending (nearest first) when the list has `nearest`, else rank
 *   descending (best match first) when it has `search`, else nothing;
 * - then `id ASC` as the final tiebreaker, unless the entity's own `id` is already a key (ids are unique, so
 *   nothing after it can matter and the list is cut there).
 *
 * Keys are a union: a column (possibly through a path), the full-text rank, or the vector distance.
 */
import type { Entity, Field, Model } from '../model/types.js';
import type { Direction, NearestArg, Nulls, OrderItem } from './plan.js';
import { badInput } from '../errors.js';

/** Field types that cannot be ordering keys (no total order users would expect). */
const UNORDERABLE = new Set(['vector']);

/** One effective ordering key. */
export type OrderKey =
  | {
      readonly kind: 'column';
      /** To-one relations followed from the ordered entity (empty: its own column). */
      readonly path: readonly string[];
      readonly column: string;
      readonly direction: Direction;
      readonly nulls: Nulls;
    }
  | { readonly kind: 'rank'; readonly direction: Direction; readonly nulls: Nulls }
  | { readonly kind: 'distance'; readonly direction: Direction; readonly nulls: Nulls };

/** The arguments of a list-like node that decide its ordering. */
export interface OrderingArgs {
  readonly orderBy: readonly OrderItem[];
  readonly search?: string;
  readonly nearest?: NearestArg;
}

/**
 * Most to-one relations one ordering key may follow. Each hop is a correlated sub-query; a self-reference
 * (`parent.parent.…`) could otherwise nest without end. GraphQL and REST refuse longer paths with their own
 * messages; this stage refuses them too.
 */
export const MAX_ORDER_HOPS = 4;

/**
 * The entity at the end of a to-one `path` from `entity`.
 * @throws LatticeError BAD_USER_INPUT when the path is longer than `MAX_ORDER_HOPS` or a path element is not a
 *         to-one relation of the entity reached so far
 */
export function resolvePath(model: Model, entity: Entity, path: readonly string[]): Entity {
  if (path.length > MAX_ORDER_HOPS) {
    throw badInput(`An ordering key follows ${path.length} relations (${path.join('.')}); at most ${MAX_ORDER_HOPS} are allowed.`);
  }
  let current = entity;
  for (const name of path) {
    const relation = current.relations.get(name);
    if (!relation || relation.kind !== 'to-one') {
      throw badInput(`"${name}" is not a to-one relation of ${current.name}; only to-one relations can be followed in an ordering.`);
    }
    const next = model.entities.get(relation.target);
    if (!next) throw badInput(`Relation "${name}" of ${current.name} leads to an unknown entity.`);
    current = next;
  }
  return current;
}

/**
 * The field a column key reads (through its path).
 * @throws LatticeError BAD_USER_INPUT for a bad path or an unknown column
 */
export function keyField(model: Model, entity: Entity, key: Extract<OrderKey, { kind: 'column' }>): Field {
  const target = resolvePath(model, entity, key.path);
  const field = target.columns.get(key.column);
  if (!field) {
    const where = key.path.length ? `${target.name} (via ${key.path.join('.')})` : entity.name;
    throw badInput(`Cannot order ${entity.name} by unknown field "${key.column}" of ${where}.`);
  }
  return field;
}

/** `id ASC NULLS LAST` of the ordered entity itself. */
const ID_KEY: OrderKey = { kind: 'column', path: [], column: 'id', direction: 'ASC', nulls: 'LAST' };

/**
 * The effective ordering keys of a list over `entity` (see the module comment for the rules).
 * @throws LatticeError BAD_USER_INPUT for an unknown or unorderable column, or a path element that is not a
 *         to-one relation
 */
export function effectiveOrder(model: Model, entity: Entity, args: OrderingArgs): OrderKey[] {
  const keys: OrderKey[] = [];
  for (const item of args.orderBy) {
    const key: OrderKey = { kind: 'column', path: item.path ?? [], column: item.column, direction: item.direction, nulls: item.nulls };
    const field = keyField(model, entity, key);
    if (UNORDERABLE.has(field.type)) {
      throw badInput(`Cannot order ${entity.name} by ${field.type} field "${item.column}"; use "nearest" to order by similarity.`);
    }
    keys.push(key);
    if (key.path.length === 0 && key.column === 'id') return keys;
  }
  if (keys.length === 0 && args.nearest) keys.push({ kind: 'distance', direction: 'ASC', nulls: 'LAST' });
  else if (keys.length === 0 && args.search !== undefined) keys.push({ kind: 'rank', direction: 'DESC', nulls: 'LAST' });
  keys.push(ID_KEY);
  return keys;
}

/** The same keys in the opposite order: directions and null placement flipped (for `last` pagination). */
export function reverseOrder(keys: readonly OrderKey[]): OrderKey[] {
  return keys.map((k) => ({
    ...k,
    direction: k.direction === 'ASC' ? 'DESC' : 'ASC',
    nulls: k.nulls === 'FIRST' ? 'LAST' : 'FIRST',
  }));
}

/** Whether the keys order by the full-text rank / the vector distance (their values then depend on the query). */
export function usesScore(keys: readonly OrderKey[], kind: 'rank' | 'distance'): boolean {
  return keys.some((k) => k.kind === kind);
}

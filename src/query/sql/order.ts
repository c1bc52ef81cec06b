/**
 * Ordering (SPEC G-5): the effective key list (the plan's items plus `id ASC` as the final tiebreaker),
 * ORDER BY text with explicit NULLS FIRST/LAST, and reversal for backward (`last`) pagination.
 */
import type { Entity } from '../../model/types.js';
import type { OrderItem } from '../plan.js';
import { badInput } from '../../errors.js';
import { col } from './context.js';

/** Field types that cannot be ordering keys. */
const UNORDERABLE = new Set(['vector']);

/**
 * The plan's ordering plus `id ASC NULLS LAST` unless `id` is already a key (then nothing after it matters,
 * since ids are unique, and the list is cut there).
 * @throws LatticeError BAD_USER_INPUT for an unknown or unorderable column.
 */
export function effectiveOrder(entity: Entity, orderBy: readonly OrderItem[]): OrderItem[] {
  const keys: OrderItem[] = [];
  for (const item of orderBy) {
    const field = entity.columns.get(item.column);
    if (!field) throw badInput(`Cannot order ${entity.name} by unknown field "${item.column}".`);
    if (UNORDERABLE.has(field.type)) throw badInput(`Cannot order ${entity.name} by ${field.type} field "${item.column}".`);
    keys.push(item);
    if (item.column === 'id') return keys;
  }
  keys.push({ column: 'id', direction: 'ASC', nulls: 'LAST' });
  return keys;
}

/** The same keys in the opposite order: directions and null placement flipped. */
export function reverseOrder(keys: readonly OrderItem[]): OrderItem[] {
  return keys.map((k) => ({
    column: k.column,
    direction: k.direction === 'ASC' ? 'DESC' : 'ASC',
    nulls: k.nulls === 'FIRST' ? 'LAST' : 'FIRST',
  }));
}

/** `t1."name" ASC NULLS LAST, t1."id" ASC NULLS LAST` */
export function orderSql(alias: string, keys: readonly OrderItem[]): string {
  return keys.map((k) => `${col(alias, k.column)} ${k.direction} NULLS ${k.nulls}`).join(', ');
}

/**
 * Ordering in SQL (SPEC G-5, G-6): the effective keys decided by the plan stage (`src/query/order.ts`)
 * compiled against one table alias — own columns, columns reached through to-one relations (`pathValueSql`,
 * a tenant-scoped scalar sub-query per hop), the full-text rank or the vector distance — and ORDER BY text
 * with explicit NULLS FIRST/LAST.
 */
import type { Entity, Field } from '../../model/types.js';
import type { Direction, Nulls } from '../plan.js';
import { keyField, reverseOrder, type OrderKey } from '../order.js';
import { internal } from '../../errors.js';
import { col, type CompileContext } from './context.js';
import { pathValueSql } from './path.js';

/** Per-row scores of a list's rows on one alias (absent when the list has no `search` / `nearest`). */
export interface Scores {
  /** `ts_rank` expression (`real`). */
  readonly rank?: string;
  /** Distance expression (`float8`). */
  readonly distance?: string;
}

/** One ordering key compiled against a row source. */
export interface SqlKey {
  readonly key: OrderKey;
  /** SQL expression of the key's value. */
  readonly expr: string;
  /** Whether the value can be NULL (decides the keyset predicate's `OR … IS NULL`). */
  readonly nullable: boolean;
  /** The field a column key reads (through its path): its type decides cursor encoding and parameter type. */
  readonly field?: Field;
}

/**
 * Compile effective keys on the rows of `entity` under `alias`.
 * @param scores rank and distance expressions of the same alias (required when a key needs them)
 * @throws LatticeError INTERNAL when a rank/distance key has no score (a planner bug); BAD_USER_INPUT for a bad path
 */
export function sqlKeys(ctx: CompileContext, entity: Entity, alias: string, keys: readonly OrderKey[], scores: Scores): SqlKey[] {
  return keys.map((key): SqlKey => {
    switch (key.kind) {
      case 'rank':
      case 'distance': {
        const expr = scores[key.kind];
        if (!expr) throw internal(`ordering by ${key.kind} without ${key.kind === 'rank' ? 'search' : 'nearest'}`);
        return { key, expr, nullable: false };
      }
      case 'column': {
        if (key.path.length === 0) {
          const field = keyField(ctx.model, entity, key);
          return { key, expr: col(alias, key.column), nullable: !field.required, field };
        }
        const v = pathValueSql(ctx, entity, alias, key.path, key.column);
        return { key, expr: v.expr, nullable: v.nullable, field: v.field };
      }
    }
  });
}

function flip(d: Direction): Direction {
  return d === 'ASC' ? 'DESC' : 'ASC';
}

function flipNulls(n: Nulls): Nulls {
  return n === 'FIRST' ? 'LAST' : 'FIRST';
}

/** The same compiled keys in the opposite order (directions and null placement flipped). */
export function reverseKeys(keys: readonly SqlKey[]): SqlKey[] {
  return keys.map((k) => ({ ...k, key: { ...k.key, direction: flip(k.key.direction), nulls: flipNulls(k.key.nulls) } }));
}

/** `t1."name" ASC NULLS LAST, ts_rank(...) DESC NULLS LAST, t1."id" ASC NULLS LAST` */
export function orderSql(keys: readonly SqlKey[]): string {
  return keys.map((k) => `${k.expr} ${k.key.direction} NULLS ${k.key.nulls}`).join(', ');
}

export { reverseOrder };

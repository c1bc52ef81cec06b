/**
 * Values of related rows reached through to-one relations (SPEC G-5 ordering by `trial.experiment.name`,
 * G-2 group keys on related fields): a scalar correlated sub-query per hop, each carrying the tenant
 * predicate like every other read, so a path can never observe another project's row.
 */
import type { Entity, Field } from '../../model/types.js';
import { badInput } from '../../errors.js';
import { and, col, openSource, type CompileContext } from './context.js';

/** The SQL of a column at the end of a to-one path, and the field it reads (for its type). */
export interface PathValue {
  /** Scalar SQL expression; NULL when a relation on the path is absent. */
  readonly expr: string;
  readonly field: Field;
  /** The entity owning `field`. */
  readonly entity: Entity;
  /** True when the value can be null (an optional field, or an optional relation on the path). */
  readonly nullable: boolean;
}

/**
 * `column` of the row reached from the row of `entity` under `alias` by following the to-one relations of
 * `path` in order. With an empty path this is simply `alias."column"`.
 *
 * Example: metric `t1`, path `['trial', 'experiment']`, column `name` →
 * `(SELECT (SELECT t3."name" FROM "app"."experiment" t3 WHERE t3."id" = t2."experiment_id" AND ...)
 *   FROM "app"."trial" t2 WHERE t2."id" = t1."trial_id" AND ...)`.
 * @throws LatticeError BAD_USER_INPUT when a path element is not a to-one relation or the column is unknown
 */
export function pathValueSql(ctx: CompileContext, entity: Entity, alias: string, path: readonly string[], column: string): PathValue {
  if (path.length === 0) {
    const field = entity.columns.get(column);
    if (!field) throw badInput(`${entity.name} has no field "${column}".`);
    return { expr: col(alias, column), field, entity, nullable: !field.required };
  }
  const relation = entity.relations.get(path[0]);
  if (!relation || relation.kind !== 'to-one') {
    throw badInput(`"${path[0]}" is not a to-one relation of ${entity.name}; only to-one relations can be followed here.`);
  }
  const child = openSource(ctx, relation.target, { relation, parentAlias: alias });
  const inner = pathValueSql(ctx, child.entity, child.alias, path.slice(1), column);
  // The inverse of a unique ref (a one-to-one feature row, joined on our id) may be absent; a ref may be optional.
  const via = entity.columns.get(relation.sourceColumn);
  const optional = relation.sourceColumn === 'id' || !via || !via.required;
  return {
    expr: `(SELECT ${inner.expr} FROM ${child.from} WHERE ${and(child.where)})`,
    field: inner.field,
    entity: inner.entity,
    nullable: inner.nullable || optional,
  };
}

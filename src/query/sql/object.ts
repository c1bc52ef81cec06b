/**
 * Selections → the JSON object of one row: columns, constants, to-one relations (correlated sub-query, null
 * when absent), to-many relations in any of their shapes (list, list page, connection, aggregate), and the
 * row's `_rank` / `_distance` under the enclosing list's `search` / `nearest`.
 */
import type { Entity } from '../../model/types.js';
import type { Selection } from '../plan.js';
import { internal } from '../../errors.js';
import { and, openSource, type CompileContext } from './context.js';
import { columnJson, jsonObject, textConst } from './json.js';
import { listPageSql, listSql } from './list.js';
import { connectionSql } from './connection.js';
import { aggregateSql } from './aggregate.js';
import type { Scores } from './order.js';

/**
 * JSON object (type `json`) of the row of `entity` under `alias`, keyed by the selection's response keys in
 * order. Nested relations are correlated sub-queries on the relation's columns (plus the tenant column for
 * tenant-scoped relations) and carry the tenant-scope predicate.
 * @param scores the enclosing list's rank and distance of this row (`_rank`, `_distance`); JSON null where
 *        absent (a list without `search` / `nearest`, a to-one object, a lookup by id)
 */
export function selectionJson(ctx: CompileContext, entity: Entity, alias: string, selection: Selection, scores: Scores = {}): string {
  return jsonObject(
    ctx,
    selection.map((item) => [item.responseKey, selectionValue(ctx, entity, alias, item, scores)] as const),
  );
}

/**
 * The SQL value of one selected item of the row of `entity` under `alias` (see `selectionJson`): a column's
 * JSON form (`columnJson`), a constant, or a correlated sub-query of type `json` for a relation.
 * @throws LatticeError INTERNAL when the plan's relation does not match the model
 */
export function selectionValue(ctx: CompileContext, entity: Entity, alias: string, item: Selection[number], scores: Scores = {}): string {
  switch (item.kind) {
    case 'column':
      return columnJson(alias, ctx.field(entity, item.column));
    case 'typename':
      return textConst(ctx, item.value);
    case 'to_one': {
      const relation = ctx.relation(entity, item.relation);
      if (relation.kind !== 'to-one') throw internal(`relation ${entity.name}.${relation.name} is to-many; plan it as to_many`);
      const child = openSource(ctx, relation.target, { relation, parentAlias: alias });
      const obj = selectionJson(ctx, child.entity, child.alias, item.selection);
      return `(SELECT ${obj} FROM ${child.from} WHERE ${and(child.where)})`;
    }
    case 'to_many': {
      const relation = ctx.relation(entity, item.relation);
      if (relation.kind !== 'to-many') throw internal(`relation ${entity.name}.${relation.name} is to-one; plan it as to_one`);
      if (item.node.entity !== relation.target) {
        throw internal(`relation ${entity.name}.${relation.name} leads to ${relation.target}, not ${item.node.entity}`);
      }
      const corr = { relation, parentAlias: alias };
      const node = item.node;
      return node.kind === 'list'
        ? listSql(ctx, node, corr)
        : node.kind === 'list_page'
          ? listPageSql(ctx, node, corr)
          : node.kind === 'aggregate'
            ? aggregateSql(ctx, node, corr)
            : connectionSql(ctx, node, corr);
    }
    case 'rank':
    case 'distance':
      return scores[item.kind] ?? 'NULL::float8';
  }
}

/**
 * Argument sets of list-like fields (SPEC G-2, G-3): the same for root fields and to-many relation fields.
 */
import { GraphQLInt, GraphQLList, GraphQLNonNull, GraphQLString, type GraphQLFieldConfigArgumentMap } from 'graphql';
import type { Entity } from '../../model/types.js';
import { ext, type ArgMeta } from './meta.js';
import { hasSearchableFields, hasVectorFields } from './nearest.js';
import type { TypeRegistry } from './registry.js';
import { GraphQLUuidID } from './scalars.js';

export type ListShape = 'many' | 'list' | 'connection';

function arg(meta: ArgMeta, type: GraphQLFieldConfigArgumentMap[string]['type'], description: string) {
  return { type, description, extensions: ext(meta) };
}

/**
 * Shorthand equality arguments, one per foreign-key column of the entity (`experiment_id: ID`, `project_id`),
 * so seed 000's `trials(experiment_id: ...)` works literally.
 */
export function foreignKeyArgs(reg: TypeRegistry, entity: Entity): GraphQLFieldConfigArgumentMap {
  const args: GraphQLFieldConfigArgumentMap = {};
  for (const f of entity.fields) {
    if (f.type !== 'ref') continue;
    args[reg.name(f.column)] = arg(
      { role: 'eq', column: f.column, type: f.type },
      GraphQLUuidID,
      `Only rows whose ${reg.name(f.column)} equals this id (shorthand for ${reg.name('filter')}: { ${reg.name(f.column)}: { eq: ... } }).`,
    );
  }
  return args;
}

/**
 * `search: String` (entities with searchable fields) and `nearest: <Type>Nearest` (entities with vector
 * fields), SPEC G-6; none for other entities, so asking for them is a validation error naming the argument.
 */
export function scoreArgs(reg: TypeRegistry, entity: Entity): GraphQLFieldConfigArgumentMap {
  const args: GraphQLFieldConfigArgumentMap = {};
  if (hasSearchableFields(entity)) {
    args[reg.name('search')] = arg(
      { role: 'search' },
      GraphQLString,
      'Full-text search (websearch syntax: words, "quoted phrases", or, -word) over the searchable fields; ordered by `_rank` (best first) unless order_by or nearest is given.',
    );
  }
  if (hasVectorFields(entity)) {
    args[reg.name('nearest')] = arg(
      { role: 'nearest' },
      reg.nearestType(entity),
      'Similarity search on one vector field: only rows with a vector (within max_distance), ordered by `_distance` (nearest first) unless order_by is given.',
    );
  }
  return args;
}

/**
 * Arguments of a list-like field over `entity` in the given shape:
 * - `many`: filter, order_by, search, nearest, limit, offset, fk shorthands
 * - `list`: the same with `limit: Int!` and `offset: Int!` (seed 004's convention)
 * - `connection`: filter, order_by, search, nearest, first, after, last, before, fk shorthands
 * (`search` / `nearest` only for entities with searchable / vector fields).
 */
export function listArgs(reg: TypeRegistry, entity: Entity, shape: ListShape): GraphQLFieldConfigArgumentMap {
  const args: GraphQLFieldConfigArgumentMap = {
    [reg.name('filter')]: arg({ role: 'filter' }, reg.filterType(entity), 'Only rows matching this condition.'),
    [reg.name('order_by')]: arg(
      { role: 'order_by' },
      new GraphQLList(new GraphQLNonNull(reg.orderByType(entity))),
      'Sort keys in priority order, each naming exactly one field (to-one relations nest); `id` is always the final tiebreaker.',
    ),
    ...scoreArgs(reg, entity),
  };
  if (shape === 'connection') {
    args[reg.name('first')] = arg({ role: 'first' }, GraphQLInt, 'Return the first n rows (after `after`).');
    args[reg.name('after')] = arg({ role: 'after' }, GraphQLString, 'Cursor: start after this edge.');
    args[reg.name('last')] = arg({ role: 'last' }, GraphQLInt, 'Return the last n rows (before `before`).');
    args[reg.name('before')] = arg({ role: 'before' }, GraphQLString, 'Cursor: end before this edge.');
  } else {
    const int = shape === 'list' ? new GraphQLNonNull(GraphQLInt) : GraphQLInt;
    args[reg.name('limit')] = arg({ role: 'limit' }, int, 'Maximum number of rows (at most the configured maximum).');
    args[reg.name('offset')] = arg({ role: 'offset' }, int, 'Number of rows to skip.');
  }
  return { ...args, ...foreignKeyArgs(reg, entity) };
}

/**
 * Object types of the schema: one per entity (columns + relations, SPEC G-3), and the wrapper types of the
 * list shapes: `<Type>List` (seed 004), `<Type>Connection` / `<Type>Edge` and the shared Relay `PageInfo`.
 */
import {
  GraphQLBoolean,
  GraphQLFloat,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLString,
  type GraphQLFieldConfigMap,
} from 'graphql';
import { relationShapes } from '../../model/inflection.js';
import type { Entity, Relation } from '../../model/types.js';
import { aggregateArgs } from './aggregate.js';
import { listArgs } from './args.js';
import { hasSearchableFields, hasVectorFields } from './nearest.js';
import { ext, type FieldMeta } from './meta.js';
import type { TypeRegistry } from './registry.js';
import { columnOutputType } from './types.js';

type Fields = GraphQLFieldConfigMap<unknown, unknown>;

function meta(m: FieldMeta) {
  return ext(m);
}

/** A to-one relation is non-null when its join column on the source is a required foreign key. */
function toOneRequired(entity: Entity, rel: Relation): boolean {
  if (rel.sourceColumn === 'id') return false; // inverse of a unique ref: the attached row may not exist
  return entity.columns.get(rel.sourceColumn)?.required ?? false;
}

function relationFields(reg: TypeRegistry, entity: Entity, rel: Relation, fields: Fields): void {
  const target = reg.entity(rel.target);
  if (rel.kind === 'to-one') {
    const t = reg.objectType(target);
    fields[reg.name(rel.name)] = {
      type: toOneRequired(entity, rel) ? new GraphQLNonNull(t) : t,
      description: `The ${target.name} this ${entity.name} belongs to (via ${rel.sourceColumn}).`,
      extensions: meta({ kind: 'to_one', relation: rel.name, target: target.name }),
    };
    return;
  }
  const names = relationShapes(rel.name);
  const base = { relation: rel.name, target: target.name, kind: 'to_many' as const };
  fields[reg.name(names.many)] = {
    type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(reg.objectType(target)))),
    description: `The ${target.plural} of this ${entity.name}.`,
    args: listArgs(reg, target, 'many'),
    extensions: meta({ ...base, shape: 'many' }),
  };
  fields[reg.name(names.list)] = {
    type: new GraphQLNonNull(reg.listType(target)),
    description: `A page of the ${target.plural} of this ${entity.name}, with their total count.`,
    args: listArgs(reg, target, 'list'),
    extensions: meta({ ...base, shape: 'list' }),
  };
  fields[reg.name(names.connection)] = {
    type: new GraphQLNonNull(reg.connectionType(target)),
    description: `The ${target.plural} of this ${entity.name} as a Relay connection (keyset cursors).`,
    args: listArgs(reg, target, 'connection'),
    extensions: meta({ ...base, shape: 'connection' }),
  };
  fields[reg.name(names.aggregate)] = {
    type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(reg.aggregateType(target)))),
    description: `Aggregates over the ${target.plural} of this ${entity.name}: one object per group.`,
    args: aggregateArgs(reg, target),
    extensions: meta({ ...base, shape: 'aggregate' }),
  };
}

/**
 * `_rank` (entities with searchable fields) and `_distance` (entities with vector fields), SPEC G-6. Their names
 * are the same under every naming (a leading underscore cannot clash with a snake_case field).
 */
function scoreFields(entity: Entity, fields: Fields): void {
  if (hasSearchableFields(entity)) {
    fields._rank = {
      type: GraphQLFloat,
      description: 'Full-text rank (ts_rank) of this row under the enclosing list\'s `search`; higher is better. Null without `search`.',
      extensions: meta({ kind: 'rank' }),
    };
  }
  if (hasVectorFields(entity)) {
    fields._distance = {
      type: GraphQLFloat,
      description: 'Distance of this row\'s vector to the enclosing list\'s `nearest` vector (smaller is nearer). Null without `nearest`.',
      extensions: meta({ kind: 'distance' }),
    };
  }
}

/** `Trial`: every column as a scalar field, then every relation (to-one object; to-many in four shapes, `_aggregate` included). */
export function buildObjectType(reg: TypeRegistry, entity: Entity): GraphQLObjectType {
  return new GraphQLObjectType({
    name: entity.typeName,
    description: entity.description,
    fields: () => {
      const fields: Fields = {};
      for (const f of entity.fields) {
        fields[reg.name(f.column)] = {
          type: columnOutputType(reg, f),
          description: f.description,
          deprecationReason: f.deprecated,
          extensions: meta({ kind: 'column', column: f.column, type: f.type }),
        };
      }
      scoreFields(entity, fields);
      for (const rel of entity.relations.values()) relationFields(reg, entity, rel, fields);
      return fields;
    },
  });
}

/** `TrialList { total_count: Int!, items: [Trial!]! }`. */
export function buildListType(reg: TypeRegistry, entity: Entity): GraphQLObjectType {
  return new GraphQLObjectType({
    name: `${entity.typeName}List`,
    description: `A page of ${entity.plural} (limit/offset) with the total number of matching rows.`,
    fields: () => ({
      [reg.name('total_count')]: {
        type: new GraphQLNonNull(GraphQLInt),
        description: 'Number of rows matching the filter, ignoring limit and offset.',
        extensions: meta({ kind: 'wrapper', role: 'total_count' }),
      },
      [reg.name('items')]: {
        type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(reg.objectType(entity)))),
        extensions: meta({ kind: 'wrapper', role: 'items' }),
      },
    }),
  });
}

/** `TrialConnection { edges, nodes, page_info, total_count }`. */
export function buildConnectionType(reg: TypeRegistry, entity: Entity): GraphQLObjectType {
  return new GraphQLObjectType({
    name: `${entity.typeName}Connection`,
    description: `A Relay connection over ${entity.plural}; cursors are opaque keyset cursors.`,
    fields: () => ({
      [reg.name('edges')]: {
        type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(reg.edgeType(entity)))),
        extensions: meta({ kind: 'wrapper', role: 'edges' }),
      },
      [reg.name('nodes')]: {
        type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(reg.objectType(entity)))),
        extensions: meta({ kind: 'wrapper', role: 'nodes' }),
      },
      [reg.name('page_info')]: {
        type: new GraphQLNonNull(reg.pageInfoType()),
        extensions: meta({ kind: 'wrapper', role: 'page_info' }),
      },
      [reg.name('total_count')]: {
        type: new GraphQLNonNull(GraphQLInt),
        description: 'Number of rows matching the filter, ignoring paging.',
        extensions: meta({ kind: 'wrapper', role: 'total_count' }),
      },
    }),
  });
}

/** `TrialEdge { cursor: String!, node: Trial! }`. */
export function buildEdgeType(reg: TypeRegistry, entity: Entity): GraphQLObjectType {
  return new GraphQLObjectType({
    name: `${entity.typeName}Edge`,
    fields: () => ({
      [reg.name('cursor')]: {
        type: new GraphQLNonNull(GraphQLString),
        description: 'Opaque cursor of this edge; pass it as `after` or `before`.',
        extensions: meta({ kind: 'wrapper', role: 'cursor' }),
      },
      [reg.name('node')]: {
        type: new GraphQLNonNull(reg.objectType(entity)),
        extensions: meta({ kind: 'wrapper', role: 'node' }),
      },
    }),
  });
}

/** Relay `PageInfo { has_next_page, has_previous_page, start_cursor, end_cursor }`. */
export function buildPageInfoType(reg: TypeRegistry): GraphQLObjectType {
  const bool = new GraphQLNonNull(GraphQLBoolean);
  return new GraphQLObjectType({
    name: 'PageInfo',
    description: 'Relay page information of a connection.',
    fields: {
      [reg.name('has_next_page')]: { type: bool, extensions: meta({ kind: 'wrapper', role: 'has_next_page' }) },
      [reg.name('has_previous_page')]: { type: bool, extensions: meta({ kind: 'wrapper', role: 'has_previous_page' }) },
      [reg.name('start_cursor')]: { type: GraphQLString, extensions: meta({ kind: 'wrapper', role: 'start_cursor' }) },
      [reg.name('end_cursor')]: { type: GraphQLString, extensions: meta({ kind: 'wrapper', role: 'end_cursor' }) },
    },
  });
}

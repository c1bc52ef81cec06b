/**
 * `buildSchema`: the GraphQL schema of a Model (SPEC G-1 … G-5, G-9), built from graphql-js type objects.
 *
 * Root `Query` fields per entity (project included): `<name>(id)`, `<plural>(...)`, `<name>_list(...)`,
 * `<name>_connection(...)`, `<name>_aggregate(...)` (`aggregate.ts`), `<plural>_by_ids(ids)`, then the model's
 * root aliases. `Mutation` (SPEC G-7) comes from `mutation.ts`. Every generated field, argument and input field
 * carries `extensions.lattice` metadata (see `meta.ts`) that the planner reads. `Subscription` (SPEC G-8) comes from `subscription.ts`.
 */
import {
  assertValidSchema,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  type GraphQLFieldConfigArgumentMap,
  type GraphQLFieldConfigMap,
} from 'graphql';
import { rootNames } from '../../model/inflection.js';
import type { Entity, Model, RootAlias } from '../../model/types.js';
import { aggregateArgs } from './aggregate.js';
import { listArgs } from './args.js';
import { ext, type ArgMeta, type FieldMeta } from './meta.js';
import { buildMutationType } from './mutation.js';
import { buildSubscriptionType } from './subscription.js';
import { TypeRegistry } from './registry.js';
import { GraphQLUuidID } from './scalars.js';
import { baseType } from './types.js';

type Fields = GraphQLFieldConfigMap<unknown, unknown>;

function entityRootFields(reg: TypeRegistry, entity: Entity, fields: Fields): void {
  const n = rootNames(entity);
  const t = reg.objectType(entity);
  const m = (shape: Extract<FieldMeta, { kind: 'root' }>['shape']) => ext<FieldMeta>({ kind: 'root', entity: entity.name, shape });
  fields[reg.name(n.one)] = {
    type: t,
    description: `One ${entity.name} by id, or null when it does not exist or is not visible to you.`,
    args: { id: { type: new GraphQLNonNull(GraphQLUuidID), extensions: ext<ArgMeta>({ role: 'id' }) } },
    extensions: m('one'),
  };
  fields[reg.name(n.many)] = {
    type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(t))),
    description: `${entity.typeName} rows matching the arguments.`,
    args: listArgs(reg, entity, 'many'),
    extensions: m('many'),
  };
  fields[reg.name(n.list)] = {
    type: new GraphQLNonNull(reg.listType(entity)),
    description: `A page of ${entity.plural} (limit/offset) with their total count.`,
    args: listArgs(reg, entity, 'list'),
    extensions: m('list'),
  };
  fields[reg.name(n.connection)] = {
    type: new GraphQLNonNull(reg.connectionType(entity)),
    description: `${entity.typeName} rows as a Relay connection with keyset cursors.`,
    args: listArgs(reg, entity, 'connection'),
    extensions: m('connection'),
  };
  fields[reg.name(n.aggregate)] = {
    type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(reg.aggregateType(entity)))),
    description: `Aggregates over ${entity.plural}: one object per group (group_by), with count, sum, avg, min, max.`,
    args: aggregateArgs(reg, entity),
    extensions: m('aggregate'),
  };
  fields[reg.name(n.byIds)] = {
    type: new GraphQLNonNull(new GraphQLList(t)),
    description: `${entity.typeName} rows by id, in the order of \`ids\`, null where absent or not visible.`,
    args: {
      [reg.name('ids')]: {
        type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(GraphQLUuidID))),
        extensions: ext<ArgMeta>({ role: 'ids' }),
      },
    },
    extensions: m('by_ids'),
  };
}

function aliasRootField(reg: TypeRegistry, alias: RootAlias, fields: Fields): void {
  const entity = reg.entity(alias.entity);
  const required: GraphQLFieldConfigArgumentMap = {};
  for (const column of alias.args) {
    const f = entity.columns.get(column);
    if (!f) throw new Error(`Root alias '${alias.name}' names unknown column '${column}' of '${entity.name}'`);
    required[reg.name(column)] = {
      type: new GraphQLNonNull(baseType(reg, f)),
      description: `Only rows whose ${reg.name(column)} equals this value.`,
      extensions: ext<ArgMeta>({ role: 'eq', column, type: f.type }),
    };
  }
  const all = listArgs(reg, entity, 'many');
  const shared: GraphQLFieldConfigArgumentMap = {};
  for (const snake of ['filter', 'order_by', 'limit', 'offset']) shared[reg.name(snake)] = all[reg.name(snake)];
  fields[reg.name(alias.name)] = {
    type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(reg.objectType(entity)))),
    description: alias.description ?? `${entity.typeName} rows selected by ${alias.args.map((a) => reg.name(a)).join(', ')}.`,
    args: { ...required, ...shared },
    extensions: ext<FieldMeta>({ kind: 'alias', entity: entity.name }),
  };
}

/**
 * Build the GraphQL schema of a model.
 * @param model the resolved model (names already validated by the loader)
 * @returns a GraphQLSchema with a `Query` root (and `Mutation` when the model has data entities); `printSchema` gives its SDL
 * @throws Error when the model is inconsistent (e.g. an alias naming an unknown column) or two generated names
 *         collide (graphql-js reports duplicate type names)
 */
export function buildSchema(model: Model): GraphQLSchema {
  const reg = new TypeRegistry(model);
  const query = new GraphQLObjectType({
    name: 'Query',
    description: `Read access to the ${model.name} model.`,
    fields: () => {
      const fields: Fields = {};
      for (const entity of model.entities.values()) entityRootFields(reg, entity, fields);
      for (const alias of model.aliases) aliasRootField(reg, alias, fields);
      return fields;
    },
  });
  const mutation = buildMutationType(reg, model);
  const subscription = buildSubscriptionType(reg, model);
  const schema = new GraphQLSchema({ query, ...(mutation ? { mutation } : {}), ...(subscription ? { subscription } : {}), description: model.description });
  assertValidSchema(schema);
  return schema;
}

const schemas = new WeakMap<Model, GraphQLSchema>();

/**
 * The schema of a model, built once per Model object (models are immutable; a model swap is a new object, so
 * a swap builds a new schema and in-flight requests keep the one they started with).
 */
export function schemaFor(model: Model): GraphQLSchema {
  let s = schemas.get(model);
  if (!s) schemas.set(model, (s = buildSchema(model)));
  return s;
}

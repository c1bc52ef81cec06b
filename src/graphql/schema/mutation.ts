/**
 * The `Mutation` root type (SPEC G-7) and its input and result types. For every data entity (`project` is
 * administered through REST), entity `trial`, plural `trials`:
 *
 * ```graphql
 * create_trial(input: TrialCreateInput!): Trial!
 * create_trials(inputs: [TrialCreateInput!]!): [Trial!]!
 * upsert_trials(inputs: [TrialUpsertInput!]!): [Trial!]!
 * update_trial(id: ID!, patch: TrialPatch!): Trial!
 * update_trials(filter: TrialFilter!, patch: TrialPatch!, at_most: Int = 100): TrialMutationResult!
 * delete_trial(id: ID!): Trial!
 * delete_trials(filter: TrialFilter!, at_most: Int = 100): TrialMutationResult!
 * ```
 * - `TrialCreateInput`: optional `id` and `project_id`, every writable declared field (non-null when required
 *   without a default; refs as their FK column `experiment_id: ID`, always nullable so a nested child can get
 *   it from its parent), and one list per to-many relation for nested creation (`runs: [RunCreateInput!]`);
 * - `TrialUpsertInput`: the same columns with `id: ID!` and no nested relations;
 * - `TrialPatch`: every writable declared field, all optional (null sets NULL);
 * - `TrialMutationResult { affected_count: Int!, items: [Trial!]! }`.
 * Names go through the registry's inflection (`reg.name`), so `naming: graphql-default` gives `createTrial`,
 * `atMost`, `affectedCount`. Every field, argument and input field carries `extensions.lattice` metadata
 * (`FieldMeta` kinds `mutation` / `mutation_result`, `ArgMeta`, `WriteFieldMeta`) that the mutation planner
 * (`src/graphql/mutation/plan.ts`) reads.
 */
import {
  GraphQLInputObjectType,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  type GraphQLFieldConfigMap,
  type GraphQLInputFieldConfigMap,
  type GraphQLInputType,
} from 'graphql';
import type { Entity, Field, Model } from '../../model/types.js';
import { ext, type ArgMeta, type FieldMeta, type MutationOp, type WriteFieldMeta } from './meta.js';
import type { TypeRegistry } from './registry.js';
import { GraphQLUuidID } from './scalars.js';
import { baseType } from './types.js';

/** Default of `at_most` on mass updates and deletes (pg_graphql's `atMost` default is 1). */
export const DEFAULT_AT_MOST = 100;

/** Built-in columns a client never writes. */
const READONLY = new Set(['created_at', 'updated_at']);

type Fields = GraphQLFieldConfigMap<unknown, unknown>;

/** Declared fields a client writes (not `id`, `project_id`, `created_at`, `updated_at`). */
export function writableFields(entity: Entity): Field[] {
  return entity.fields.filter((f) => !f.builtin && !f.computed && !READONLY.has(f.column));
}

/** Data entities (everything but system entities such as `project`): the ones with mutations. */
export function dataEntities(model: Model): Entity[] {
  return [...model.entities.values()].filter((e) => !e.system);
}

/** Per-registry cache of the types built here (the registry's own cache is private). */
const caches = new WeakMap<TypeRegistry, Map<string, unknown>>();

function once<T>(reg: TypeRegistry, key: string, create: () => T): T {
  let cache = caches.get(reg);
  if (!cache) caches.set(reg, (cache = new Map()));
  if (!cache.has(key)) cache.set(key, create());
  return cache.get(key) as T;
}

function column(reg: TypeRegistry, f: Field, nonNull: boolean, description?: string) {
  const t = baseType(reg, f);
  return {
    type: nonNull ? new GraphQLNonNull(t) : t,
    description: description ?? f.description,
    extensions: ext<WriteFieldMeta>({ kind: 'write_column', column: f.column, type: f.type }),
  };
}

function idAndProject(reg: TypeRegistry, entity: Entity, idRequired: boolean): GraphQLInputFieldConfigMap {
  const id = entity.columns.get('id')!;
  const project = entity.columns.get('project_id')!;
  return {
    [reg.name('id')]: column(
      reg,
      id,
      idRequired,
      idRequired
        ? 'Row id: updates the row when it exists in your project, creates it otherwise.'
        : 'Row id (UUID); generated (UUID v7) when omitted. A client id makes a retried create idempotent.',
    ),
    [reg.name('project_id')]: column(reg, project, false, 'Project to write to; required when your key may write to several projects.'),
  };
}

/** Columns of a create or upsert input: required fields non-null unless defaulted; refs always nullable. */
function rowColumns(reg: TypeRegistry, entity: Entity, fields: GraphQLInputFieldConfigMap): void {
  for (const f of writableFields(entity)) {
    const nonNull = f.required && f.default === undefined && f.type !== 'ref';
    fields[reg.name(f.column)] = column(reg, f, nonNull);
  }
}

/** `TrialCreateInput` (with nested to-many relations). */
export function createInputType(reg: TypeRegistry, entity: Entity): GraphQLInputObjectType {
  return once(reg, `create:${entity.typeName}`, () => {
    return new GraphQLInputObjectType({
      name: `${entity.typeName}CreateInput`,
      description: `A new ${entity.name}; to-many relations create their children in the same transaction.`,
      fields: () => {
        const fields = idAndProject(reg, entity, false);
        rowColumns(reg, entity, fields);
        for (const rel of entity.relations.values()) {
          if (rel.kind !== 'to-many') continue;
          const target = reg.entity(rel.target);
          if (target.system) continue;
          fields[reg.name(rel.name)] = {
            type: new GraphQLList(new GraphQLNonNull(createInputType(reg, target))),
            description: `${target.typeName} rows created with this ${entity.name} (their ${reg.name(rel.targetColumn)} and project are set from it).`,
            extensions: ext<WriteFieldMeta>({ kind: 'write_nested', relation: rel.name, target: target.name, column: rel.targetColumn }),
          };
        }
        return fields;
      },
    });
  });
}

/** `TrialUpsertInput`: the create input's columns with `id: ID!`, no nested relations. */
export function upsertInputType(reg: TypeRegistry, entity: Entity): GraphQLInputObjectType {
  return once(reg, `upsert:${entity.typeName}`, () => {
    return new GraphQLInputObjectType({
      name: `${entity.typeName}UpsertInput`,
      description: `A ${entity.name} by id: created when absent, else its given fields replaced.`,
      fields: () => {
        const fields = idAndProject(reg, entity, true);
        rowColumns(reg, entity, fields);
        return fields;
      },
    });
  });
}

/** `TrialPatch`: every writable declared field, optional; null sets NULL (refused for required fields). */
export function patchType(reg: TypeRegistry, entity: Entity): GraphQLInputObjectType {
  return once(reg, `patch:${entity.typeName}`, () => {
    return new GraphQLInputObjectType({
      name: `${entity.typeName}Patch`,
      description: `Fields of a ${entity.name} to change: absent fields stay as they are, null sets NULL (not allowed for required fields).`,
      fields: () => {
        const fields: GraphQLInputFieldConfigMap = {};
        for (const f of writableFields(entity)) fields[reg.name(f.column)] = column(reg, f, false);
        return fields;
      },
    });
  });
}

/** `TrialMutationResult { affected_count, items }`. */
export function mutationResultType(reg: TypeRegistry, entity: Entity): GraphQLObjectType {
  return once(reg, `result:${entity.typeName}`, () => {
    return new GraphQLObjectType({
      name: `${entity.typeName}MutationResult`,
      description: `Rows of ${entity.plural} changed by a mass update or delete.`,
      fields: () => ({
        [reg.name('affected_count')]: {
          type: new GraphQLNonNull(GraphQLInt),
          description: 'Number of rows updated or deleted.',
          extensions: ext<FieldMeta>({ kind: 'mutation_result', role: 'affected_count' }),
        },
        [reg.name('items')]: {
          type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(reg.objectType(entity)))),
          description: 'The rows in id order: after the update, or as they were before the delete.',
          extensions: ext<FieldMeta>({ kind: 'mutation_result', role: 'items' }),
        },
      }),
    });
  });
}

function arg(meta: ArgMeta, type: GraphQLInputType, description: string, defaultValue?: unknown) {
  return { type, description, extensions: ext(meta), ...(defaultValue !== undefined ? { defaultValue } : {}) };
}

function entityMutationFields(reg: TypeRegistry, entity: Entity, fields: Fields): void {
  const t = reg.objectType(entity);
  const nn = <T extends GraphQLInputType>(x: T) => new GraphQLNonNull(x);
  const list = new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(t)));
  const m = (op: MutationOp) => ext<FieldMeta>({ kind: 'mutation', entity: entity.name, op });
  const atMost = arg(
    { role: 'at_most' },
    GraphQLInt,
    `Refuse (and change nothing) when the filter matches more rows than this; 1 to the server's maximum page size.`,
    DEFAULT_AT_MOST,
  );
  const filter = arg({ role: 'filter' }, nn(reg.filterType(entity)), `The ${entity.plural} to change (only rows visible to you).`);
  const id = arg({ role: 'id' }, nn(GraphQLUuidID), `Id of the ${entity.name}.`);
  const patch = arg({ role: 'patch' }, nn(patchType(reg, entity)), 'Fields to change.');
  fields[reg.name(`create_${entity.name}`)] = {
    type: new GraphQLNonNull(t),
    description: `Create one ${entity.name} (and nested children); a retry with the same id and values returns the existing row.`,
    args: { [reg.name('input')]: arg({ role: 'input' }, nn(createInputType(reg, entity)), `The new ${entity.name}.`) },
    extensions: m('create_one'),
  };
  fields[reg.name(`create_${entity.plural}`)] = {
    type: list,
    description: `Create ${entity.plural} in one statement (per entity type, nested children included); results in input order.`,
    args: { [reg.name('inputs')]: arg({ role: 'inputs' }, nn(new GraphQLList(nn(createInputType(reg, entity)))), `The new ${entity.plural}.`) },
    extensions: m('create_many'),
  };
  fields[reg.name(`upsert_${entity.plural}`)] = {
    type: list,
    description: `Create or update ${entity.plural} by id (given fields replaced); results in input order.`,
    args: { [reg.name('inputs')]: arg({ role: 'inputs' }, nn(new GraphQLList(nn(upsertInputType(reg, entity)))), `The ${entity.plural} to write.`) },
    extensions: m('upsert_many'),
  };
  fields[reg.name(`update_${entity.name}`)] = {
    type: new GraphQLNonNull(t),
    description: `Change fields of one ${entity.name}; NOT_FOUND when no visible row has this id.`,
    args: { [reg.name('id')]: id, [reg.name('patch')]: patch },
    extensions: m('update_one'),
  };
  fields[reg.name(`update_${entity.plural}`)] = {
    type: new GraphQLNonNull(mutationResultType(reg, entity)),
    description: `Change fields of every ${entity.name} matching the filter (at most at_most rows, else nothing changes).`,
    args: { [reg.name('filter')]: filter, [reg.name('patch')]: patch, [reg.name('at_most')]: atMost },
    extensions: m('update_many'),
  };
  fields[reg.name(`delete_${entity.name}`)] = {
    type: new GraphQLNonNull(t),
    description: `Delete one ${entity.name}; returns it as it was. NOT_FOUND when no visible row has this id.`,
    args: { [reg.name('id')]: id },
    extensions: m('delete_one'),
  };
  fields[reg.name(`delete_${entity.plural}`)] = {
    type: new GraphQLNonNull(mutationResultType(reg, entity)),
    description: `Delete every ${entity.name} matching the filter (at most at_most rows, else nothing is deleted).`,
    args: { [reg.name('filter')]: filter, [reg.name('at_most')]: atMost },
    extensions: m('delete_many'),
  };
}

/**
 * The `Mutation` root type of a model, or undefined when the model has no data entity.
 * @param reg the registry of the schema being built (object and filter types are shared with `Query`)
 */
export function buildMutationType(reg: TypeRegistry, model: Model): GraphQLObjectType | undefined {
  const entities = dataEntities(model);
  if (entities.length === 0) return undefined;
  return new GraphQLObjectType({
    name: 'Mutation',
    description: `Write access to the ${model.name} model: one operation is one transaction, all or nothing.`,
    fields: () => {
      const fields: Fields = {};
      for (const entity of entities) entityMutationFields(reg, entity, fields);
      return fields;
    },
  });
}

/**
 * Aggregate types and arguments (SPEC G-2, G-3): `<entity>_aggregate` at the root and `<relation>_aggregate` on
 * every to-many relation return `[<Type>Aggregate!]!`, one object per group:
 *
 * ```graphql
 * type MetricAggregate { key: MetricAggregateKey!  count: Int!  count_distinct: MetricCountDistinctFields
 *                        sum: MetricSumFields  avg: MetricAvgFields  min: MetricMinFields  max: MetricMaxFields }
 * enum MetricGroupBy { id project_id trial_id run_id key value step created_at created_at_minute ...
 *                      trial_name trial_status trial_experiment_name ... }
 * input MetricAggregateOrderBy { count: OrderDirection  key: MetricAggregateKeyOrderBy
 *                                sum: MetricAggregateSumOrderBy  avg: ...  min: ...  max: ...  count_distinct: ... }
 * ```
 *
 * Group keys (`groupKeyDefs`), in this order, a later name that collides with an earlier one being skipped:
 * 1. every own groupable column (scalars, enums, `id` and foreign keys; not json, lists or vectors);
 * 2. time buckets `<column>_minute|_hour|_day|_week|_month` of datetime columns, `<column>_week|_month` of date
 *    columns (`date_trunc` in UTC, weeks from Monday; a datetime bucket is a `DateTime`, a date bucket a `Date`);
 * 3. plain declared groupable columns of rows one to-one relation away, `<relation>_<column>` (`trial_status`);
 * 4. the same two to-one relations away, `<relation>_<relation>_<column>` (`trial_experiment_kind`), not going
 *    back along the first relation and not through `project` (every row's project is the row's own project).
 * Built-in columns of related rows (`id`, `project_id`, `created_at`, `updated_at`) are not keys: the related
 * id is the own foreign key, and the timestamps of related rows are rarely what a dashboard groups by.
 *
 * Naming: the key object's fields follow the model's naming (`created_at_day` → `createdAtDay` under
 * `graphql-default`), but the `<Type>GroupBy` enum values stay the generated snake_case names, as model enum
 * values stay as declared (SPEC G-1). The enum's internal values are the plan's `GroupKey`s, so the planner
 * reads them straight from the coerced argument.
 *
 * Which function applies to which column is decided by `aggregateAccepts` in `src/query/sql/aggregate.ts`; a
 * function object (`sum`, `avg`, ...) is left out of the type when the entity has no column it applies to.
 * Output types: `sum` of int → BigInt, of bigint or decimal → Decimal (exact), of float → Float; `avg` of
 * int, bigint, float → Float, of decimal → Decimal, of datetime → DateTime; `min` / `max` the column's type;
 * `count_distinct` → Int.
 */
import {
  GraphQLEnumType,
  GraphQLFloat,
  GraphQLInputObjectType,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLString,
  type GraphQLFieldConfigArgumentMap,
  type GraphQLFieldConfigMap,
  type GraphQLInputFieldConfigMap,
  type GraphQLOutputType,
} from 'graphql';
import type { Entity, Field, Model } from '../../model/types.js';
import type { AggregateFn, GroupKey } from '../../query/plan.js';
import { aggregateAccepts, bucketsOf, GROUPABLE_TYPES } from '../../query/sql/aggregate.js';
import { foreignKeyArgs } from './args.js';
import { ext, type AggregateOrderFieldMeta, type ArgMeta, type FieldMeta, type OrderFieldMeta } from './meta.js';
import type { TypeRegistry } from './registry.js';
import { GraphQLBigInt, GraphQLDate, GraphQLDateTime, GraphQLDecimal } from './scalars.js';
import { baseType } from './types.js';

/** A group key the schema offers: the plan's `GroupKey` plus the field it reads (for its GraphQL type). */
export interface GroupKeyDef extends GroupKey {
  readonly field: Field;
}

/** Aggregate functions over columns, in the order their fields appear on `<Type>Aggregate`. */
export const AGGREGATE_FNS: readonly AggregateFn[] = ['count_distinct', 'sum', 'avg', 'min', 'max', 'p50', 'p90', 'p95', 'p99'];

/** `count_distinct` → `CountDistinct`, for type names. */
const FN_TYPE: Record<AggregateFn, string> = { count_distinct: 'CountDistinct', sum: 'Sum', avg: 'Avg', min: 'Min', max: 'Max', p50: 'P50', p90: 'P90', p95: 'P95', p99: 'P99' };

const FN_DESCRIPTION: Record<AggregateFn, string> = {
  count_distinct: 'Number of distinct non-null values of each field in the group.',
  sum: 'Sum of each numeric field over the group (null when every value is null).',
  avg: 'Mean of each numeric or datetime field over the group (null when every value is null).',
  min: 'Smallest value of each field in the group (enums in declared order).',
  max: 'Largest value of each field in the group (enums in declared order).',
  p50: 'Median (50th percentile, interpolated) of each numeric field over the group (null when every value is null).',
  p90: '90th percentile (interpolated) of each numeric field over the group.',
  p95: '95th percentile (interpolated) of each numeric field over the group, e.g. latency.',
  p99: '99th percentile (interpolated) of each numeric field over the group.',
};

/** Names GraphQL cannot use as enum values. */
const RESERVED_ENUM_VALUES = new Set(['true', 'false', 'null']);

const keyCache = new WeakMap<Entity, readonly GroupKeyDef[]>();

/**
 * The group keys of an entity, in enum order (see the module comment for the rules and collisions).
 * @returns never empty: every entity has at least `id`
 */
export function groupKeyDefs(model: Model, entity: Entity): readonly GroupKeyDef[] {
  const cached = keyCache.get(entity);
  if (cached) return cached;
  const out: GroupKeyDef[] = [];
  const taken = new Set<string>();
  const add = (def: GroupKeyDef) => {
    if (taken.has(def.name) || RESERVED_ENUM_VALUES.has(def.name)) return;
    taken.add(def.name);
    out.push(def);
  };
  for (const f of entity.fields) {
    if (GROUPABLE_TYPES.has(f.type)) add({ name: f.column, path: [], column: f.column, field: f });
  }
  for (const f of entity.fields) {
    for (const bucket of bucketsOf(f.type)) add({ name: `${f.column}_${bucket}`, path: [], column: f.column, bucket, field: f });
  }
  const related = (target: Entity) => target.fields.filter((f) => !f.builtin && GROUPABLE_TYPES.has(f.type));
  const hops1 = [...entity.relations.values()].filter((r) => r.kind === 'to-one');
  for (const r1 of hops1) {
    for (const f of related(model.entities.get(r1.target)!)) add({ name: `${r1.name}_${f.column}`, path: [r1.name], column: f.column, field: f });
  }
  for (const r1 of hops1) {
    const mid = model.entities.get(r1.target)!;
    for (const r2 of mid.relations.values()) {
      const back = r2.via.entity === r1.via.entity && r2.via.field === r1.via.field;
      if (r2.kind !== 'to-one' || r2.target === 'project' || back) continue;
      for (const f of related(model.entities.get(r2.target)!)) {
        add({ name: `${r1.name}_${r2.name}_${f.column}`, path: [r1.name, r2.name], column: f.column, field: f });
      }
    }
  }
  keyCache.set(entity, out);
  return out;
}

/** Columns of the entity that `fn` applies to. */
function fnColumns(entity: Entity, fn: AggregateFn): Field[] {
  return entity.fields.filter((f) => aggregateAccepts(fn, f.type));
}

/** GraphQL type of `fn` over a column (nullable: no rows, or only nulls, give null; `count_distinct` never null). */
function fnOutputType(reg: TypeRegistry, fn: AggregateFn, f: Field): GraphQLOutputType {
  switch (fn) {
    case 'count_distinct':
      return new GraphQLNonNull(GraphQLInt);
    case 'sum':
      return f.type === 'int' ? GraphQLBigInt : f.type === 'float' ? GraphQLFloat : GraphQLDecimal;
    case 'avg':
      return f.type === 'decimal' ? GraphQLDecimal : f.type === 'datetime' ? GraphQLDateTime : GraphQLFloat;
    case 'min':
    case 'max':
      return baseType(reg, f);
    case 'p50':
    case 'p90':
    case 'p95':
    case 'p99':
      return GraphQLFloat;
  }
}

/** GraphQL type of a group key's value: the column's type, a bucket of a datetime `DateTime`, of a date `Date`. */
function keyOutputType(reg: TypeRegistry, def: GroupKeyDef): GraphQLOutputType {
  if (def.bucket) return def.field.type === 'date' ? GraphQLDate : GraphQLDateTime;
  return baseType(reg, def.field);
}

function describeKey(def: GroupKeyDef): string {
  const where = [...def.path, def.column].join('.');
  return def.bucket ? `${where} truncated to the ${def.bucket} (UTC${def.bucket === 'week' ? ', weeks start on Monday' : ''}).` : `${where}.`;
}

/** `enum <Type>GroupBy`: one value per group key; internal values are the plan's `GroupKey`s. */
export function buildGroupByEnum(reg: TypeRegistry, entity: Entity): GraphQLEnumType {
  const values: Record<string, { value: GroupKey; description: string }> = {};
  for (const def of groupKeyDefs(reg.model, entity)) {
    const key: GroupKey = { name: def.name, path: def.path, column: def.column, ...(def.bucket ? { bucket: def.bucket } : {}) };
    values[def.name] = { value: key, description: `Group by ${describeKey(def)}` };
  }
  return new GraphQLEnumType({ name: `${entity.typeName}GroupBy`, description: `Group keys of ${entity.name} aggregates.`, values });
}

/** `<Type>Aggregate` with its key and function object types (built once per entity by the registry). */
export function buildAggregateType(reg: TypeRegistry, entity: Entity): GraphQLObjectType {
  const defs = groupKeyDefs(reg.model, entity);
  const keyType = new GraphQLObjectType({
    name: `${entity.typeName}AggregateKey`,
    description: `The group's key values; a key the aggregate does not group by is null.`,
    fields: () =>
      Object.fromEntries(
        defs.map((def) => [
          reg.name(def.name),
          { type: keyOutputType(reg, def), description: describeKey(def), extensions: ext<FieldMeta>({ kind: 'group_key', name: def.name }) },
        ]),
      ),
  });
  const fields: GraphQLFieldConfigMap<unknown, unknown> = {
    [reg.name('key')]: { type: new GraphQLNonNull(keyType), extensions: ext<FieldMeta>({ kind: 'aggregate', role: 'key' }) },
    [reg.name('count')]: {
      type: new GraphQLNonNull(GraphQLInt),
      description: 'Number of rows in the group.',
      extensions: ext<FieldMeta>({ kind: 'aggregate', role: 'count' }),
    },
  };
  for (const fn of AGGREGATE_FNS) {
    const columns = fnColumns(entity, fn);
    if (columns.length === 0) continue;
    const type = new GraphQLObjectType({
      name: `${entity.typeName}${FN_TYPE[fn]}Fields`,
      description: FN_DESCRIPTION[fn],
      fields: () =>
        Object.fromEntries(
          columns.map((f) => [reg.name(f.column), { type: fnOutputType(reg, fn, f), extensions: ext<FieldMeta>({ kind: 'column', column: f.column, type: f.type }) }]),
        ),
    });
    fields[reg.name(fn)] = { type, description: FN_DESCRIPTION[fn], extensions: ext<FieldMeta>({ kind: 'aggregate', role: fn }) };
  }
  return new GraphQLObjectType({
    name: `${entity.typeName}Aggregate`,
    description: `One group of ${entity.plural}: its key values, its row count and functions over its rows.`,
    fields,
  });
}

/** `<Type>AggregateOrderBy`: each item sets exactly one of `count`, `key { <group> }`, `<fn> { <column> }`. */
export function buildAggregateOrderBy(reg: TypeRegistry, entity: Entity): GraphQLInputObjectType {
  const dir = reg.orderDirection();
  const keyOrder = new GraphQLInputObjectType({
    name: `${entity.typeName}AggregateKeyOrderBy`,
    description: 'Order groups by one group key (it must be in group_by); set exactly one field.',
    fields: () =>
      Object.fromEntries(
        groupKeyDefs(reg.model, entity).map((def) => [reg.name(def.name), { type: dir, extensions: ext<AggregateOrderFieldMeta>({ kind: 'group_order', name: def.name }) }]),
      ),
  });
  const fields: GraphQLInputFieldConfigMap = {
    [reg.name('count')]: { type: dir, description: 'Order by the number of rows in the group.', extensions: ext<AggregateOrderFieldMeta>({ kind: 'aggregate_order', target: 'count' }) },
    [reg.name('key')]: { type: keyOrder, extensions: ext<AggregateOrderFieldMeta>({ kind: 'aggregate_order', target: 'key' }) },
  };
  for (const fn of AGGREGATE_FNS) {
    const columns = fnColumns(entity, fn);
    if (columns.length === 0) continue;
    const input = new GraphQLInputObjectType({
      name: `${entity.typeName}Aggregate${FN_TYPE[fn]}OrderBy`,
      description: `Order groups by the ${fn} of one field; set exactly one field.`,
      fields: () => Object.fromEntries(columns.map((f) => [reg.name(f.column), { type: dir, extensions: ext<OrderFieldMeta>({ kind: 'order', column: f.column }) }])),
    });
    fields[reg.name(fn)] = { type: input, extensions: ext<AggregateOrderFieldMeta>({ kind: 'aggregate_order', target: fn }) };
  }
  return new GraphQLInputObjectType({
    name: `${entity.typeName}AggregateOrderBy`,
    description: `One sort key over groups of ${entity.plural}: set exactly one field per item of order_by.`,
    fields,
  });
}

/**
 * Arguments of `<entity>_aggregate` and `<relation>_aggregate`: filter, search (entities with searchable fields),
 * group_by, order_by, limit, and the foreign-key shorthands of lists.
 */
export function aggregateArgs(reg: TypeRegistry, entity: Entity): GraphQLFieldConfigArgumentMap {
  const arg = (meta: ArgMeta, type: GraphQLFieldConfigArgumentMap[string]['type'], description: string) => ({ type, description, extensions: ext(meta) });
  const args: GraphQLFieldConfigArgumentMap = {
    [reg.name('filter')]: arg({ role: 'filter' }, reg.filterType(entity), 'Only rows matching this condition are aggregated.'),
  };
  if (entity.fields.some((f) => f.searchable)) {
    args[reg.name('search')] = arg({ role: 'search' }, GraphQLString, 'Only rows matching this full-text query (websearch syntax) are aggregated.');
  }
  args[reg.name('group_by')] = arg(
    { role: 'group_by' },
    new GraphQLList(new GraphQLNonNull(reg.groupByType(entity))),
    'Group keys; without any, one group over all matching rows (which exists even when no row matches).',
  );
  args[reg.name('order_by')] = arg(
    { role: 'aggregate_order_by' },
    new GraphQLList(new GraphQLNonNull(reg.aggregateOrderByType(entity))),
    'Order of the groups, each item naming exactly one thing; then the group keys ascending (nulls last).',
  );
  args[reg.name('limit')] = arg({ role: 'limit' }, GraphQLInt, 'Maximum number of groups (at most the configured maximum).');
  return { ...args, ...foreignKeyArgs(reg, entity) };
}

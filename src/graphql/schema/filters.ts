/**
 * Filter input types (SPEC G-4): per-type operator inputs (`StringFilter`, `IntFilter`, `TrialStatusFilter`, ...)
 * and per-entity `<Type>Filter` inputs combining column conditions, `and` / `or` / `not`, to-one relation
 * filters (nested `<Target>Filter`) and to-many quantifiers (`<Target>ToManyFilter { some every none }`).
 */
import {
  GraphQLBoolean,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLString,
  type GraphQLInputFieldConfigMap,
  type GraphQLInputType,
} from 'graphql';
import type { Entity, Field } from '../../model/types.js';
import type { CompareOp } from '../../query/plan.js';
import { ext, type FilterFieldMeta } from './meta.js';
import type { TypeRegistry } from './registry.js';
import { GraphQLJSON } from './scalars.js';
import { baseType, isIdColumn } from './types.js';

const EQUALITY: readonly CompareOp[] = ['eq', 'ne', 'in', 'not_in', 'is_null'];
const ORDERED: readonly CompareOp[] = ['eq', 'ne', 'in', 'not_in', 'lt', 'lte', 'gt', 'gte', 'is_null'];
const STRING: readonly CompareOp[] = [...ORDERED, 'like', 'ilike', 'starts_with', 'contains'];

const OP_DESCRIPTIONS: Record<CompareOp, string> = {
  eq: 'Equal to.',
  ne: 'Not equal to (rows where the field is null do not match).',
  in: 'Equal to one of these values.',
  not_in: 'Equal to none of these values.',
  lt: 'Less than.',
  lte: 'Less than or equal to.',
  gt: 'Greater than.',
  gte: 'Greater than or equal to.',
  is_null: 'true: only rows where the field is null; false: only rows where it is not.',
  like: 'SQL LIKE pattern (case-sensitive; % and _ are wildcards).',
  ilike: 'SQL ILIKE pattern (case-insensitive).',
  starts_with: 'Starts with this text (case-sensitive, no wildcards).',
  contains: 'Contains this value.',
  has_key: 'The JSON object has this top-level key.',
  overlaps: 'Has at least one element in common with this list.',
};

interface OpFamily {
  /** Type name prefix (`String` → `StringFilter`). */
  readonly key: string;
  readonly ops: readonly CompareOp[];
}

function family(reg: TypeRegistry, field: Field): OpFamily | undefined {
  if (isIdColumn(field)) return { key: 'ID', ops: EQUALITY };
  switch (field.type) {
    case 'string':
    case 'text':
      return { key: 'String', ops: STRING };
    case 'int':
      return { key: 'Int', ops: ORDERED };
    case 'bigint':
      return { key: 'BigInt', ops: ORDERED };
    case 'float':
      return { key: 'Float', ops: ORDERED };
    case 'decimal':
      return { key: 'Decimal', ops: ORDERED };
    case 'datetime':
      return { key: 'DateTime', ops: ORDERED };
    case 'date':
      return { key: 'Date', ops: ORDERED };
    case 'boolean':
      return { key: 'Boolean', ops: ['eq', 'ne', 'is_null'] };
    case 'uuid':
      return { key: 'UUID', ops: EQUALITY };
    case 'json':
      return { key: 'JSON', ops: ['contains', 'has_key', 'is_null', 'eq', 'ne'] };
    case 'string[]':
      return { key: 'StringList', ops: ['contains', 'overlaps', 'is_null'] };
    case 'enum':
      // Ranges compare in declared order (SPEC G-4; the SQL layer casts the operand to the enum type).
      return { key: reg.enumType(field).name, ops: ORDERED };
    default:
      return undefined; // vectors are searched with `nearest`, not filtered
  }
}

function operandType(reg: TypeRegistry, field: Field, op: CompareOp): GraphQLInputType {
  const base = baseType(reg, field);
  switch (op) {
    case 'is_null':
      return GraphQLBoolean;
    case 'in':
    case 'not_in':
      return new GraphQLList(new GraphQLNonNull(base));
    case 'like':
    case 'ilike':
    case 'starts_with':
    case 'has_key':
      return GraphQLString;
    case 'contains':
      if (field.type === 'json') return GraphQLJSON;
      if (field.type === 'string[]') return base;
      return GraphQLString;
    default:
      return base; // eq ne lt lte gt gte; overlaps on string[] is the list type itself
  }
}

/**
 * The operator input type for a field, created once per type family through `once`.
 * @returns undefined for field types that cannot be filtered (vector)
 */
export function buildOperatorFilter(
  reg: TypeRegistry,
  field: Field,
  once: (key: string, create: () => GraphQLInputObjectType) => GraphQLInputObjectType,
): GraphQLInputObjectType | undefined {
  const fam = family(reg, field);
  if (!fam) return undefined;
  return once(fam.key, () => {
    const fields: GraphQLInputFieldConfigMap = {};
    for (const op of fam.ops) {
      const m: FilterFieldMeta = { kind: 'op', op };
      fields[reg.name(op)] = { type: operandType(reg, field, op), description: OP_DESCRIPTIONS[op], extensions: ext(m) };
    }
    return new GraphQLInputObjectType({
      name: `${fam.key}Filter`,
      description: `Conditions on a ${fam.key} field; several operators in one object must all hold.`,
      fields,
    });
  });
}

function toManyFilter(reg: TypeRegistry, target: Entity): GraphQLInputObjectType {
  const f = reg.filterType(target);
  const q = (mode: 'some' | 'every' | 'none', description: string) => ({
    type: f,
    description,
    extensions: ext<FilterFieldMeta>({ kind: 'quantifier', mode }),
  });
  return new GraphQLInputObjectType({
    name: `${target.typeName}ToManyFilter`,
    description: `Conditions on a set of related ${target.plural}.`,
    fields: {
      [reg.name('some')]: q('some', `At least one related ${target.name} matches.`),
      [reg.name('every')]: q('every', `Every related ${target.name} matches (true when there are none).`),
      [reg.name('none')]: q('none', `No related ${target.name} matches.`),
    },
  });
}

/** `<Type>Filter` of an entity (see the module comment). Several fields in one object must all hold. */
export function buildEntityFilter(reg: TypeRegistry, entity: Entity): GraphQLInputObjectType {
  const self: GraphQLInputObjectType = new GraphQLInputObjectType({
    name: `${entity.typeName}Filter`,
    description: `Conditions on ${entity.plural}; all given conditions must hold.`,
    fields: () => {
      const fields: GraphQLInputFieldConfigMap = {};
      for (const f of entity.fields) {
        const op = reg.operatorFilter(f);
        if (!op) continue;
        fields[reg.name(f.column)] = {
          type: op,
          extensions: ext<FilterFieldMeta>({ kind: 'column', column: f.column, type: f.type }),
        };
      }
      for (const rel of entity.relations.values()) {
        const target = reg.entity(rel.target);
        const key = `tomany:${target.typeName}`;
        fields[reg.name(rel.name)] = {
          type: rel.kind === 'to-one' ? reg.filterType(target) : cachedToMany(reg, key, target),
          description:
            rel.kind === 'to-one' ? `Condition on the related ${target.name}.` : `Condition on the related ${target.plural}.`,
          extensions: ext<FilterFieldMeta>({ kind: 'relation', relation: rel.name, relationKind: rel.kind }),
        };
      }
      const list = new GraphQLList(new GraphQLNonNull(self));
      fields[reg.name('and')] = { type: list, description: 'All of these hold.', extensions: ext<FilterFieldMeta>({ kind: 'and' }) };
      fields[reg.name('or')] = { type: list, description: 'At least one of these holds.', extensions: ext<FilterFieldMeta>({ kind: 'or' }) };
      fields[reg.name('not')] = { type: self, description: 'This does not hold.', extensions: ext<FilterFieldMeta>({ kind: 'not' }) };
      return fields;
    },
  });
  return self;
}

const toManyCache = new WeakMap<TypeRegistry, Map<string, GraphQLInputObjectType>>();

function cachedToMany(reg: TypeRegistry, key: string, target: Entity): GraphQLInputObjectType {
  let m = toManyCache.get(reg);
  if (!m) toManyCache.set(reg, (m = new Map()));
  let t = m.get(key);
  if (!t) m.set(key, (t = toManyFilter(reg, target)));
  return t;
}

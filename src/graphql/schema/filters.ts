/**
 * Filter input types (SPEC G-4): per-type operator inputs (`StringFilter`, `IntFilter`, `TrialStatusFilter`, ...)
 * holding the operators of the shared table in `src/query/operators.ts` (REST reads the same table), and
 * per-entity `<Type>Filter` inputs combining column conditions, `and` / `or` / `not`, to-one relation filters
 * (nested `<Target>Filter`) and to-many quantifiers (`<Target>ToManyFilter { some every none }`).
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
import { operandShape, operatorDescription, operatorsFor } from '../../query/operators.js';
import type { CompareOp } from '../../query/plan.js';
import { ext, type FilterFieldMeta } from './meta.js';
import type { TypeRegistry } from './registry.js';
import { baseType, isIdColumn } from './types.js';

/** Type-name prefix of a field's operator input (`String` → `StringFilter`); one input per prefix. */
function familyKey(reg: TypeRegistry, field: Field): string | undefined {
  if (isIdColumn(field)) return 'ID';
  switch (field.type) {
    case 'string':
    case 'text':
      return 'String';
    case 'int':
      return 'Int';
    case 'bigint':
      return 'BigInt';
    case 'float':
      return 'Float';
    case 'decimal':
      return 'Decimal';
    case 'datetime':
      return 'DateTime';
    case 'date':
      return 'Date';
    case 'boolean':
      return 'Boolean';
    case 'uuid':
      return 'UUID';
    case 'json':
      return 'JSON';
    case 'string[]':
      return 'StringList';
    case 'enum':
      // Ranges compare in declared order (SPEC G-4; the SQL layer casts the operand to the enum type).
      return reg.enumType(field).name;
    default:
      return undefined; // vectors are searched with `nearest`, not filtered
  }
}

function operandType(reg: TypeRegistry, field: Field, op: CompareOp): GraphQLInputType {
  const base = baseType(reg, field);
  switch (operandShape(field, op)) {
    case 'boolean':
      return GraphQLBoolean;
    case 'values':
      return new GraphQLList(new GraphQLNonNull(base));
    case 'text':
      return GraphQLString;
    case 'value':
      return base; // for json the JSON scalar; for string[] the list type itself
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
  const key = familyKey(reg, field);
  const ops = operatorsFor(field);
  if (!key || ops.length === 0) return undefined;
  return once(key, () => {
    const fields: GraphQLInputFieldConfigMap = {};
    for (const op of ops) {
      const m: FilterFieldMeta = { kind: 'op', op };
      fields[reg.name(op)] = { type: operandType(reg, field, op), description: operatorDescription(field, op), extensions: ext(m) };
    }
    return new GraphQLInputObjectType({
      name: `${key}Filter`,
      description: `Conditions on a ${key} field; several operators in one object must all hold.`,
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

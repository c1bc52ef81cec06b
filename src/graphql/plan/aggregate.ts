/**
 * `<entity>_aggregate` / `<relation>_aggregate` fields → `AggregateNode` (SPEC G-2, G-3).
 *
 * Arguments: `filter`, `search`, the foreign-key shorthands and `limit` go through `coerceArgs` like lists;
 * `group_by` (whose enum values carry the plan's `GroupKey`s, see `src/graphql/schema/aggregate.ts`) and the
 * aggregate `order_by` are read here. The selection is read through the schema metadata: `key { <group> }`,
 * `count`, and one object per function (`avg { value }`), each possibly with `__typename`.
 */
import { getArgumentValues, GraphQLInputObjectType, getNamedType, type ArgumentNode, type FieldNode, type GraphQLInputType } from 'graphql';
import type { AggregateField, AggregateFn, AggregateNode, AggregateOrderItem, GroupKey } from '../../query/plan.js';
import { requestError } from '../errors.js';
import { metaOf, type AggregateOrderFieldMeta, type ArgMeta, type FieldMeta, type OrderFieldMeta } from '../schema/meta.js';
import type { OrderDirectionValue } from '../schema/order.js';
import { coerceArgs } from './args.js';
import { DIRECTIONS } from './order.js';
import { children, objectTypeOf, type FieldAt, type WalkState } from './select.js';

type Input = Readonly<Record<string, unknown>>;

/** The one non-null entry of an input object that must set exactly one field. */
function single(value: Input, where: string, example: string, node: ArgumentNode | FieldNode): [string, unknown] {
  const set = Object.entries(value).filter(([, v]) => v !== null && v !== undefined);
  if (set.length !== 1) {
    throw requestError('BAD_USER_INPUT', `${where} sets ${set.length} fields; set exactly one, e.g. ${example}.`, node);
  }
  return set[0];
}

function inputFields(type: GraphQLInputType) {
  const named = getNamedType(type);
  if (!(named instanceof GraphQLInputObjectType)) throw new Error('aggregate order_by must be a list of input objects');
  return named.getFields();
}

/**
 * Convert a coerced `[<Type>AggregateOrderBy!]`.
 * @param grouped names of the keys grouped by
 * @throws GraphQLRequestError BAD_USER_INPUT when an item (or its `key` / function object) sets zero or several
 *         fields, or orders by a key that is not in `group_by`
 */
function convertAggregateOrder(argType: GraphQLInputType, value: unknown, grouped: ReadonlySet<string>, path: string, node: ArgumentNode | FieldNode): AggregateOrderItem[] {
  const fields = inputFields(argType);
  const items = (Array.isArray(value) ? value : [value]) as Input[];
  return items.map((item, i) => {
    const where = `${path}[${i}]`;
    const [name, v] = single(item, where, '[{ count: DESC }, { key: { status: ASC } }]', node);
    const meta = metaOf<AggregateOrderFieldMeta>(fields[name]);
    if (!meta || meta.kind !== 'aggregate_order') throw requestError('BAD_USER_INPUT', `${where}.${name}: not a sort key of groups.`, node);
    if (meta.target === 'count') return { target: { kind: 'count' }, ...DIRECTIONS[v as OrderDirectionValue] };
    const innerFields = inputFields(fields[name].type);
    const [inner, dir] = single(v as Input, `${where}.${name}`, `{ ${name}: { ${Object.keys(innerFields)[0]}: ASC } }`, node);
    const direction = DIRECTIONS[dir as OrderDirectionValue];
    if (meta.target === 'key') {
      const k = metaOf<AggregateOrderFieldMeta>(innerFields[inner]);
      if (!k || k.kind !== 'group_order') throw requestError('BAD_USER_INPUT', `${where}.key.${inner}: not a group key.`, node);
      if (!grouped.has(k.name)) {
        throw requestError(
          'BAD_USER_INPUT',
          `${where}.key.${inner}: the groups are not grouped by ${k.name}, so they cannot be ordered by it; add it to group_by or order by a key you group by.`,
          node,
        );
      }
      return { target: { kind: 'key', name: k.name }, ...direction };
    }
    const c = metaOf<OrderFieldMeta>(innerFields[inner]);
    if (!c) throw requestError('BAD_USER_INPUT', `${where}.${name}.${inner}: not a field ${meta.target} applies to.`, node);
    return { target: { kind: 'fn', fn: meta.target, column: c.column }, ...direction };
  });
}

/** Fields of `key { ... }` or of a function object `avg { ... }`. */
function planParts<T>(st: WalkState, at: FieldAt, part: (m: FieldMeta | undefined, c: FieldAt) => T | undefined): Array<T | { responseKey: string; kind: 'typename'; value: string }> {
  const out: Array<T | { responseKey: string; kind: 'typename'; value: string }> = [];
  for (const c of children(st, objectTypeOf(at), at)) {
    if ('typename' in c) {
      out.push({ responseKey: c.key, kind: 'typename', value: c.typename });
      continue;
    }
    const planned = part(metaOf<FieldMeta>(c.def), c);
    if (planned === undefined) throw requestError('BAD_USER_INPUT', `${c.path}: unexpected field.`, c.nodes[0]);
    out.push(planned);
  }
  return out;
}

/** The selection on `<Type>Aggregate`. */
function planAggregateFields(st: WalkState, at: FieldAt): AggregateField[] {
  const out: AggregateField[] = [];
  for (const c of children(st, objectTypeOf(at), at)) {
    if ('typename' in c) {
      out.push({ responseKey: c.key, kind: 'typename', value: c.typename });
      continue;
    }
    const m = metaOf<FieldMeta>(c.def);
    if (!m || m.kind !== 'aggregate') throw requestError('BAD_USER_INPUT', `${c.path}: unexpected field.`, c.nodes[0]);
    if (m.role === 'count') out.push({ responseKey: c.key, kind: 'count' });
    else if (m.role === 'key') {
      const fields = planParts(st, c, (k, f) => (k?.kind === 'group_key' ? { responseKey: f.key, kind: 'group' as const, name: k.name } : undefined));
      out.push({ responseKey: c.key, kind: 'key', fields });
    } else {
      const fn: AggregateFn = m.role;
      const fields = planParts(st, c, (k, f) => (k?.kind === 'column' ? { responseKey: f.key, kind: 'column' as const, column: k.column } : undefined));
      out.push({ responseKey: c.key, kind: 'fn', fn, fields });
    }
  }
  return out;
}

/**
 * Plan an aggregate field over `entity` (root or to-many relation).
 * @throws GraphQLRequestError BAD_USER_INPUT for bad filters, a limit outside [0, limits.maxLimit], order_by
 *         items that set zero or several things or order by a key not grouped by; QUERY_TOO_COMPLEX beyond
 *         the depth limit
 */
export function planAggregate(st: WalkState, entity: string, at: FieldAt): AggregateNode {
  const node = at.nodes[0];
  const coerced = coerceArgs(st.ctx, at.def, node, st.variables, at.path); // filter, search, shorthands, limit
  const values = getArgumentValues(at.def, node, st.variables as Record<string, unknown>); // already checked above
  const groupBy: GroupKey[] = [];
  let order: { type: GraphQLInputType; value: unknown; node: ArgumentNode | FieldNode; where: string } | undefined;
  for (const arg of at.def.args) {
    const v = values[arg.name];
    const meta = metaOf<ArgMeta>(arg);
    if (v === undefined || v === null || !meta) continue;
    const argNode = node.arguments?.find((a) => a.name.value === arg.name) ?? node;
    if (meta.role === 'group_by') {
      // The same key twice groups like once.
      for (const k of v as GroupKey[]) if (!groupBy.some((g) => g.name === k.name)) groupBy.push(k);
    } else if (meta.role === 'aggregate_order_by') order = { type: arg.type, value: v, node: argNode, where: `${at.path}.${arg.name}` };
  }
  const grouped = new Set(groupBy.map((k) => k.name));
  const orderBy = order ? convertAggregateOrder(order.type, order.value, grouped, order.where, order.node) : [];
  return {
    kind: 'aggregate',
    entity,
    args: {
      ...(coerced.filter ? { filter: coerced.filter } : {}),
      ...(coerced.search !== undefined ? { search: coerced.search } : {}),
      groupBy,
      orderBy,
      ...(coerced.limit !== undefined ? { limit: coerced.limit } : {}),
    },
    fields: planAggregateFields(st, at),
  };
}

/**
 * Selections → plan nodes: entity selections (columns, `__typename`, relations), and the list shapes
 * (`many` → ListNode, `list` → ListPageNode, `connection` → ConnectionNode) with their wrapper fields.
 * Depth is the nesting level of object-valued fields (root fields are depth 1; scalar leaves do not add a level,
 * as in graphql-depth-limit) and is checked against `limits.maxDepth`. Wrapper levels (`items`, `edges`,
 * `node`, `page_info`) count, since each is a nested selection.
 */
import {
  GraphQLObjectType,
  getNamedType,
  getVariableValues,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type OperationDefinitionNode,
} from 'graphql';
import type {
  ConnectionField,
  ConnectionNode,
  EdgeField,
  ListNode,
  ListPageField,
  ListPageNode,
  PageInfoField,
  Selection,
  SelectionItem,
} from '../../query/plan.js';
import { fromGraphQLErrors, requestError } from '../errors.js';
import { metaOf, type FieldMeta } from '../schema/meta.js';
import { coerceArgs, toConnectionArgs, toListArgs } from './args.js';
import { collectFields, subSelections, type CollectContext } from './collect.js';
import type { PlanContext } from './context.js';
import { planAggregate } from './aggregate.js';

/** State threaded through the walk. */
export interface WalkState extends CollectContext {
  readonly ctx: PlanContext;
}

/**
 * The walk state of an operation (queries, mutations and subscriptions alike): its variables coerced by
 * graphql-js (`getVariableValues`) and the document's fragments by name.
 * @throws GraphQLRequestError BAD_USER_INPUT for variables graphql-js cannot coerce
 */
export function walkState(
  ctx: PlanContext,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables?: Readonly<Record<string, unknown>> | null,
): WalkState {
  const coerced = getVariableValues(ctx.schema, operation.variableDefinitions ?? [], { ...(variables ?? {}) });
  if (coerced.errors) throw fromGraphQLErrors(coerced.errors);
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  return { ctx, fragments, variables: coerced.coerced };
}

/** One collected field: its response key, merged nodes and definition on the parent type. */
export interface FieldAt {
  readonly key: string;
  readonly nodes: readonly FieldNode[];
  readonly def: GraphQLField<unknown, unknown>;
  readonly parent: GraphQLObjectType;
  /** Response path, e.g. `experiments.trials`. */
  readonly path: string;
  readonly depth: number;
}

/** Iterate the collected fields of `nodes`' sub-selections on `type`, checking depth. */
export function* children(st: WalkState, type: GraphQLObjectType, at: FieldAt): Generator<FieldAt | { key: string; typename: string }> {
  const depth = at.depth + 1;
  for (const [key, nodes] of collectFields(st, type.name, subSelections(at.nodes))) {
    const name = nodes[0].name.value;
    if (name === '__typename') {
      yield { key, typename: type.name };
      continue;
    }
    const def = type.getFields()[name];
    if (!def) throw requestError('BAD_USER_INPUT', `Cannot query field "${name}" on type "${type.name}".`, nodes[0]);
    if (depth > st.ctx.limits.maxDepth && nodes.some((n) => n.selectionSet)) {
      throw requestError(
        'QUERY_TOO_COMPLEX',
        `${at.path}.${key} is nested ${depth} levels deep; the maximum is ${st.ctx.limits.maxDepth}. Split the query or select less deeply.`,
        nodes[0],
      );
    }
    yield { key, nodes, def, parent: type, path: `${at.path}.${key}`, depth };
  }
}

/** The object type a field returns (through lists and non-null). */
export function objectTypeOf(f: FieldAt): GraphQLObjectType {
  const t = getNamedType(f.def.type);
  if (!(t instanceof GraphQLObjectType)) throw new Error(`${f.path} is not an object field`);
  return t;
}

function wrapperRole(f: FieldAt): Extract<FieldMeta, { kind: 'wrapper' }>['role'] {
  const m = metaOf<FieldMeta>(f.def);
  if (!m || m.kind !== 'wrapper') throw requestError('BAD_USER_INPUT', `${f.path}: unexpected field.`, f.nodes[0]);
  return m.role;
}

/** The selection on an entity object (`Trial { id name runs { ... } }`). */
export function planSelection(st: WalkState, at: FieldAt): Selection {
  const type = objectTypeOf(at);
  const items: SelectionItem[] = [];
  for (const c of children(st, type, at)) {
    if ('typename' in c) {
      items.push({ responseKey: c.key, kind: 'typename', value: c.typename });
      continue;
    }
    const m = metaOf<FieldMeta>(c.def);
    if (!m) throw requestError('BAD_USER_INPUT', `${c.path}: unexpected field.`, c.nodes[0]);
    if (m.kind === 'column') items.push({ responseKey: c.key, kind: 'column', column: m.column });
    else if (m.kind === 'rank' || m.kind === 'distance') items.push({ responseKey: c.key, kind: m.kind });
    else if (m.kind === 'to_one') items.push({ responseKey: c.key, kind: 'to_one', relation: m.relation, selection: planSelection(st, c) });
    else if (m.kind === 'to_many') {
      const node = m.shape === 'aggregate' ? planAggregate(st, m.target, c) : planShape(st, m.target, m.shape, c);
      items.push({ responseKey: c.key, kind: 'to_many', relation: m.relation, node });
    } else throw requestError('BAD_USER_INPUT', `${c.path}: unexpected field.`, c.nodes[0]);
  }
  return items;
}

/** A list-like field over `entity` in one of the three shapes. */
export function planShape(st: WalkState, entity: string, shape: 'many' | 'list' | 'connection', at: FieldAt): ListNode | ListPageNode | ConnectionNode {
  const args = coerceArgs(st.ctx, at.def, at.nodes[0], st.variables, at.path);
  if (shape === 'many') return { kind: 'list', entity, args: toListArgs(args), selection: planSelection(st, at) };
  if (shape === 'list') return { kind: 'list_page', entity, args: toListArgs(args), fields: planListPage(st, at) };
  return { kind: 'connection', entity, args: toConnectionArgs(st.ctx, entity, args, at.nodes[0], at.path), fields: planConnection(st, at) };
}

function planListPage(st: WalkState, at: FieldAt): ListPageField[] {
  const out: ListPageField[] = [];
  for (const c of children(st, objectTypeOf(at), at)) {
    if ('typename' in c) out.push({ responseKey: c.key, kind: 'typename', value: c.typename });
    else if (wrapperRole(c) === 'total_count') out.push({ responseKey: c.key, kind: 'total_count' });
    else out.push({ responseKey: c.key, kind: 'items', selection: planSelection(st, c) });
  }
  return out;
}

function planConnection(st: WalkState, at: FieldAt): ConnectionField[] {
  const out: ConnectionField[] = [];
  for (const c of children(st, objectTypeOf(at), at)) {
    if ('typename' in c) {
      out.push({ responseKey: c.key, kind: 'typename', value: c.typename });
      continue;
    }
    const role = wrapperRole(c);
    if (role === 'total_count') out.push({ responseKey: c.key, kind: 'total_count' });
    else if (role === 'nodes') out.push({ responseKey: c.key, kind: 'nodes', selection: planSelection(st, c) });
    else if (role === 'edges') out.push({ responseKey: c.key, kind: 'edges', fields: planEdges(st, c) });
    else out.push({ responseKey: c.key, kind: 'page_info', fields: planPageInfo(st, c) });
  }
  return out;
}

function planEdges(st: WalkState, at: FieldAt): EdgeField[] {
  const out: EdgeField[] = [];
  for (const c of children(st, objectTypeOf(at), at)) {
    if ('typename' in c) out.push({ responseKey: c.key, kind: 'typename', value: c.typename });
    else if (wrapperRole(c) === 'cursor') out.push({ responseKey: c.key, kind: 'cursor' });
    else out.push({ responseKey: c.key, kind: 'node', selection: planSelection(st, c) });
  }
  return out;
}

function planPageInfo(st: WalkState, at: FieldAt): PageInfoField[] {
  const out: PageInfoField[] = [];
  for (const c of children(st, objectTypeOf(at), at)) {
    if ('typename' in c) out.push({ responseKey: c.key, kind: 'typename', value: c.typename });
    else {
      const role = wrapperRole(c);
      if (role !== 'has_next_page' && role !== 'has_previous_page' && role !== 'start_cursor' && role !== 'end_cursor') {
        throw requestError('BAD_USER_INPUT', `${c.path}: unexpected field.`, c.nodes[0]);
      }
      out.push({ responseKey: c.key, kind: role });
    }
  }
  return out;
}

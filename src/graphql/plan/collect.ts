/**
 * Field collection (GraphQL spec §6.3.2 CollectFields, as in graphql-js `execution/collectFields.ts`):
 * flattens fragments (named and inline, with type conditions), applies `@skip` / `@include`, and groups the
 * field nodes of one selection by response key (alias or name), keeping first-seen order, so fields requested
 * twice under the same key merge their sub-selections.
 */
import {
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type FragmentSpreadNode,
  type InlineFragmentNode,
  type SelectionSetNode,
} from 'graphql';

/** What field collection needs besides the selection: fragments by name and coerced variables. */
export interface CollectContext {
  readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>;
  readonly variables: Readonly<Record<string, unknown>>;
}

/** The document's fragment definitions by name. */
export function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  return fragments;
}

/** The root type an operation selects from (Query, Mutation or Subscription); null/undefined when the schema has none. */
export function operationRoot(schema: GraphQLSchema, operation: OperationDefinitionNode): GraphQLObjectType | null | undefined {
  return operation.operation === 'mutation' ? schema.getMutationType() : operation.operation === 'subscription' ? schema.getSubscriptionType() : schema.getQueryType();
}

function included(ctx: CollectContext, node: FieldNode | FragmentSpreadNode | InlineFragmentNode): boolean {
  const skip = getDirectiveValues(GraphQLSkipDirective, node, ctx.variables as Record<string, unknown>);
  if (skip?.if === true) return false;
  const include = getDirectiveValues(GraphQLIncludeDirective, node, ctx.variables as Record<string, unknown>);
  return include?.if !== false;
}

/** The response key of a field: its alias, else its name. */
export function responseKey(node: FieldNode): string {
  return node.alias?.value ?? node.name.value;
}

function collectInto(
  ctx: CollectContext,
  typeName: string,
  set: SelectionSetNode,
  out: Map<string, FieldNode[]>,
  visited: Set<string>,
): void {
  for (const sel of set.selections) {
    if (!included(ctx, sel)) continue;
    if (sel.kind === Kind.FIELD) {
      const key = responseKey(sel);
      const list = out.get(key);
      if (list) list.push(sel);
      else out.set(key, [sel]);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      if (sel.typeCondition && sel.typeCondition.name.value !== typeName) continue;
      collectInto(ctx, typeName, sel.selectionSet, out, visited);
    } else {
      const name = sel.name.value;
      if (visited.has(name)) continue;
      visited.add(name);
      const frag = ctx.fragments.get(name);
      if (!frag || frag.typeCondition.name.value !== typeName) continue;
      collectInto(ctx, typeName, frag.selectionSet, out, visited);
    }
  }
}

/**
 * Collect the fields of one or more selection sets (the sub-selections of merged field nodes) on an object
 * type. Lattice's schema has only object types, so a type condition applies exactly when it names the type.
 * @returns response key → the field nodes under that key, in first-seen order
 */
export function collectFields(ctx: CollectContext, typeName: string, sets: readonly SelectionSetNode[]): Map<string, FieldNode[]> {
  const out = new Map<string, FieldNode[]>();
  const visited = new Set<string>();
  for (const set of sets) collectInto(ctx, typeName, set, out, visited);
  return out;
}

/** Sub-selection sets of merged field nodes. */
export function subSelections(nodes: readonly FieldNode[]): SelectionSetNode[] {
  return nodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
}

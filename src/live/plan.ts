/**
 * `planSubscription`: a validated subscription document → what the live hub needs to serve it (SPEC G-8).
 *
 * A subscription operation has exactly one root field (graphql-js `SingleFieldSubscriptionsRule`, checked by
 * validation), `<entity>_events(filter)`. Its `filter` is converted like a list's (`coerceArgs`), and the
 * selection of the event is mapped field by field: `op`, `id`, `__typename`, and `row`, whose selection is
 * planned by the read planner (`planSelection`) so a re-read compiles to the same one-statement SQL as a
 * query (relations, nested lists and aggregates included). Limits (depth) apply as to queries.
 */
import { GraphQLObjectType, getNamedType, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Filter, Selection } from '../query/plan.js';
import { requestError } from '../graphql/errors.js';
import { coerceArgs } from '../graphql/plan/args.js';
import { collectFields } from '../graphql/plan/collect.js';
import { checkRows } from '../graphql/plan/rows.js';
import type { PlanContext } from '../graphql/plan/context.js';
import { children, planSelection, walkState, type FieldAt } from '../graphql/plan/select.js';
import { metaOf, type FieldMeta } from '../graphql/schema/meta.js';

/** One selected field of an event, in response order. */
export type EventField =
  | { readonly responseKey: string; readonly kind: 'op' | 'id' }
  | { readonly responseKey: string; readonly kind: 'typename'; readonly value: string }
  | { readonly responseKey: string; readonly kind: 'row'; readonly selection: Selection };

/** A planned subscription: one entity's events under one response key. */
export interface SubscriptionPlan {
  /** Response key of the root field (`trial_events` or its alias). */
  readonly responseKey: string;
  readonly entity: string;
  /** Condition on inserted and updated rows (not applicable to deletes). */
  readonly filter?: Filter;
  readonly fields: readonly EventField[];
}

/**
 * Plan a subscription operation.
 * @param operation the selected operation of a document already validated against `ctx.schema`
 * @throws GraphQLRequestError BAD_USER_INPUT (not a subscription, variables, filter), QUERY_TOO_COMPLEX (depth),
 *         ROW_LIMIT_EXCEEDED (the static row bound of one event's selection above `limits.maxRows`, `rows.ts`)
 */
export function planSubscription(
  ctx: PlanContext,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables?: Readonly<Record<string, unknown>> | null,
): SubscriptionPlan {
  if (operation.operation !== 'subscription') throw requestError('BAD_USER_INPUT', 'Not a subscription operation.', operation);
  const type = ctx.schema.getSubscriptionType();
  if (!type) throw requestError('BAD_USER_INPUT', 'This model has no data entities, so there is nothing to subscribe to.', operation);
  const st = walkState(ctx, document, operation, variables);

  const roots = [...collectFields(st, type.name, [operation.selectionSet])];
  if (roots.length !== 1) throw requestError('BAD_USER_INPUT', 'A subscription selects exactly one root field, e.g. subscription { trial_events { op id } }.', operation);
  const [key, nodes] = roots[0];
  const def = type.getFields()[nodes[0].name.value];
  const meta = metaOf<FieldMeta>(def);
  if (!def || !meta || meta.kind !== 'subscription') throw requestError('BAD_USER_INPUT', `Cannot subscribe to "${nodes[0].name.value}".`, nodes[0]);
  const at: FieldAt = { key, nodes, def, parent: type, path: key, depth: 1 };
  const { filter } = coerceArgs(ctx, def, nodes[0], st.variables, key);
  const eventType = getNamedType(def.type);
  if (!(eventType instanceof GraphQLObjectType)) throw new Error(`${key} does not return an object type`);
  const fields: EventField[] = [];
  for (const c of children(st, eventType, at)) {
    if ('typename' in c) {
      fields.push({ responseKey: c.key, kind: 'typename', value: c.typename });
      continue;
    }
    const m = metaOf<FieldMeta>(c.def);
    if (!m || m.kind !== 'event') throw requestError('BAD_USER_INPUT', `${c.path}: unexpected field.`, c.nodes[0]);
    if (m.role === 'row') fields.push({ responseKey: c.key, kind: 'row', selection: planSelection(st, c) });
    else fields.push({ responseKey: c.key, kind: m.role });
  }
  // The row budget (SPEC G-12) of one event, checked at subscribe time (each event re-reads one row).
  checkRows(ctx.schema, document, operation, st.variables, ctx.limits);
  return { responseKey: key, entity: meta.entity, filter, fields };
}

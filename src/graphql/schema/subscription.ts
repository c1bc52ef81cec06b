/**
 * The `Subscription` root type (SPEC G-8). For every data entity (`project` has no events), entity `trial`:
 *
 * ```graphql
 * enum EventOp { INSERT UPDATE DELETE }
 * type TrialEvent { op: EventOp!, id: ID!, row: Trial }
 * type Subscription { trial_events(filter: TrialFilter): TrialEvent! }
 * ```
 * `row` is the changed row as the subscriber may read it now (re-read under its principal, its selection
 * planned like a query); it is null for `DELETE` (the row is gone: only `id` is known). Names go through the
 * registry's inflection (`graphql-default` naming gives `trialEvents`). Fields carry `extensions.lattice`
 * metadata (`FieldMeta` kinds `subscription` and `event`) read by `src/live/plan.ts`.
 */
import { GraphQLEnumType, GraphQLNonNull, GraphQLObjectType, type GraphQLFieldConfigMap } from 'graphql';
import type { Entity, Model } from '../../model/types.js';
import { ext, type ArgMeta, type FieldMeta } from './meta.js';
import { dataEntities } from './mutation.js';
import type { TypeRegistry } from './registry.js';
import { GraphQLUuidID } from './scalars.js';

function eventOpType(): GraphQLEnumType {
  return new GraphQLEnumType({
    name: 'EventOp',
    description: 'What happened to a row.',
    values: {
      INSERT: { description: 'The row was created.' },
      UPDATE: { description: 'The row was changed.' },
      DELETE: { description: 'The row was deleted; the event carries only its id.' },
    },
  });
}

function eventType(reg: TypeRegistry, entity: Entity, op: GraphQLEnumType): GraphQLObjectType {
  const m = (role: 'op' | 'id' | 'row') => ext<FieldMeta>({ kind: 'event', role });
  return new GraphQLObjectType({
    name: `${entity.typeName}Event`,
    description: `A change of one ${entity.name}.`,
    fields: () => ({
      [reg.name('op')]: { type: new GraphQLNonNull(op), extensions: m('op') },
      [reg.name('id')]: { type: new GraphQLNonNull(GraphQLUuidID), description: 'Id of the changed row.', extensions: m('id') },
      [reg.name('row')]: {
        type: reg.objectType(entity),
        description: 'The row as you may read it now; null for DELETE (the row is gone).',
        extensions: m('row'),
      },
    }),
  });
}

/**
 * Build the `Subscription` type, or undefined when the model has no data entities.
 */
export function buildSubscriptionType(reg: TypeRegistry, model: Model): GraphQLObjectType | undefined {
  const entities = dataEntities(model);
  if (entities.length === 0) return undefined;
  const op = eventOpType();
  return new GraphQLObjectType({
    name: 'Subscription',
    description: `Changes to ${model.name} rows, over WebSocket (graphql-ws) at /graphql or SSE (graphql-sse) at /graphql/stream.`,
    fields: () => {
      const fields: GraphQLFieldConfigMap<unknown, unknown> = {};
      for (const entity of entities) {
        fields[reg.name(`${entity.name}_events`)] = {
          type: new GraphQLNonNull(eventType(reg, entity, op)),
          description:
            `Inserts, updates and deletes of ${entity.plural} you can read. \`filter\` applies to inserted and updated ` +
            'rows as they are after the change; deletes cannot be filtered (the row is gone) and are delivered for every ' +
            'project you belong to.',
          args: {
            [reg.name('filter')]: {
              type: reg.filterType(entity),
              description: 'Only inserted or updated rows matching this condition.',
              extensions: ext<ArgMeta>({ role: 'filter' }),
            },
          },
          extensions: ext<FieldMeta>({ kind: 'subscription', entity: entity.name }),
        };
      }
      return fields;
    },
  });
}

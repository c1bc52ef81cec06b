/**
 * What the planner needs: the model, its schema, the caller and the limits (all plain data; no database).
 */
import type { GraphQLSchema } from 'graphql';
import type { Principal } from '../../auth/principal.js';
import type { Model } from '../../model/types.js';
import type { QueryLimits } from '../../server/context.js';

export interface PlanContext {
  readonly model: Model;
  /** The schema built from `model` by `buildSchema` (its metadata drives the planner). */
  readonly schema: GraphQLSchema;
  readonly principal: Principal;
  readonly limits: QueryLimits;
}

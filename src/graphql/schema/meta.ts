/**
 * Metadata the schema builder attaches to generated fields, arguments and input fields (under
 * `extensions.lattice`), so the planner maps a GraphQL AST back to model concepts without re-deriving names.
 * This keeps inflection (snake_case vs camelCase) in one place: the builder names things, the planner reads
 * the metadata.
 */
import type { FieldType } from '../../model/types.js';
import type { AggregateFn, CompareOp } from '../../query/plan.js';

/** What an output field is. */
export type FieldMeta =
  | { readonly kind: 'column'; readonly column: string; readonly type: FieldType }
  | { readonly kind: 'to_one'; readonly relation: string; readonly target: string }
  | {
      readonly kind: 'to_many';
      readonly relation: string;
      readonly target: string;
      readonly shape: 'many' | 'list' | 'connection' | 'aggregate';
    }
  | {
      readonly kind: 'root';
      readonly entity: string;
      readonly shape: 'one' | 'many' | 'list' | 'connection' | 'by_ids' | 'aggregate';
    }
  | {
      /** `_rank` / `_distance` of a row under the enclosing list's `search` / `nearest` (SPEC G-6). */
      readonly kind: 'rank' | 'distance';
    }
  | {
      /** A declared root alias (`trial_metrics(trial_id)`): a list of `entity` with required equality args. */
      readonly kind: 'alias';
      readonly entity: string;
    }
  | {
      /** A field of the List / Connection / Edge / PageInfo wrapper types. */
      readonly kind: 'wrapper';
      readonly role:
        | 'total_count'
        | 'items'
        | 'edges'
        | 'nodes'
        | 'page_info'
        | 'cursor'
        | 'node'
        | 'has_next_page'
        | 'has_previous_page'
        | 'start_cursor'
        | 'end_cursor';
    }
  | {
      /** A field of `<Type>Aggregate`: the group's `key`, its `count`, or one function's object (`sum { ... }`). */
      readonly kind: 'aggregate';
      readonly role: 'key' | 'count' | AggregateFn;
    }
  | {
      /** A field of `<Type>AggregateKey`: the value of the group key `name` (a `GroupKey.name`). */
      readonly kind: 'group_key';
      readonly name: string;
    }
  | {
      /** A root field of `Mutation` (SPEC G-7): `create_trial`, `update_trials`, ... over `entity`. */
      readonly kind: 'mutation';
      readonly entity: string;
      readonly op: MutationOp;
    }
  | {
      /** A root field of `Subscription` (SPEC G-8): `trial_events(filter)` over `entity` (src/graphql/schema/subscription.ts). */
      readonly kind: 'subscription';
      readonly entity: string;
    }
  | {
      /** A field of `<Type>Event`: `op`, `id` or `row`. */
      readonly kind: 'event';
      readonly role: 'op' | 'id' | 'row';
    }
  | {
      /** A field of `<Type>MutationResult` (mass update / delete). */
      readonly kind: 'mutation_result';
      readonly role: 'affected_count' | 'items';
    };

/** The seven mutation fields of an entity (SPEC G-7). */
export type MutationOp = 'create_one' | 'create_many' | 'upsert_many' | 'update_one' | 'update_many' | 'delete_one' | 'delete_many';

/**
 * What an input field of `<Type>CreateInput` / `<Type>UpsertInput` / `<Type>Patch` is: a writable column, or
 * (create inputs only) a to-many relation whose children are created with the parent (nested creation), their
 * foreign key `column` (on `target`) set to the parent's id.
 */
export type WriteFieldMeta =
  | { readonly kind: 'write_column'; readonly column: string; readonly type: FieldType }
  | { readonly kind: 'write_nested'; readonly relation: string; readonly target: string; readonly column: string };

/** What an argument is. */
export type ArgMeta =
  | { readonly role: 'filter' | 'order_by' | 'limit' | 'offset' | 'first' | 'after' | 'last' | 'before' | 'id' | 'ids' }
  | {
      /** Full-text query (`search: String`, SPEC G-6) on lists, connections and aggregates. */
      readonly role: 'search';
    }
  | {
      /** Similarity search (`nearest: <Type>Nearest`, SPEC G-6) on lists and connections. */
      readonly role: 'nearest';
    }
  | {
      /** Aggregates: `group_by` (a list of `<Type>GroupBy` values whose internal values are `GroupKey`s). */
      readonly role: 'group_by';
    }
  | {
      /** Aggregates: `order_by: [<Type>AggregateOrderBy!]` (fields carry `AggregateOrderFieldMeta`). */
      readonly role: 'aggregate_order_by';
    }
  | {
      /** Mutations: `input` (one create input), `inputs` (a list of create / upsert inputs), `patch`, `at_most`. */
      readonly role: 'input' | 'inputs' | 'patch' | 'at_most';
    }
  | {
      /** Shorthand equality on a column (`experiment_id: ID`), or a required alias argument. */
      readonly role: 'eq';
      readonly column: string;
      readonly type: FieldType;
    };

/** What an input field of an `<Entity>Filter` or operator filter is. */
export type FilterFieldMeta =
  | { readonly kind: 'and' | 'or' | 'not' }
  | { readonly kind: 'column'; readonly column: string; readonly type: FieldType }
  | { readonly kind: 'relation'; readonly relation: string; readonly relationKind: 'to-one' | 'to-many' }
  | { readonly kind: 'op'; readonly op: CompareOp }
  | { readonly kind: 'quantifier'; readonly mode: 'some' | 'every' | 'none' };

/** What an input field of an `<Entity>OrderBy` is. */
export interface OrderFieldMeta {
  readonly kind: 'order';
  readonly column: string;
}

/** An input field of `<Entity>OrderBy` that nests the ordering of a to-one relation's target (SPEC G-5). */
export interface OrderRelationMeta {
  readonly kind: 'order_relation';
  readonly relation: string;
}

/** What an input field of `<Type>Nearest` (a vector column) or of `VectorNearest` (one of its parts) is. */
export type NearestFieldMeta =
  | { readonly kind: 'nearest_field'; readonly column: string }
  | { readonly kind: 'nearest_arg'; readonly role: 'vector' | 'metric' | 'max_distance' };

/**
 * What an input field of `<Type>AggregateOrderBy` (`count`, `key`, `sum`, ...) or of `<Type>AggregateKeyOrderBy`
 * (one per group key) is. Fields of the per-function inputs (`<Type>AggregateSumOrderBy`) are `OrderFieldMeta`.
 */
export type AggregateOrderFieldMeta =
  | { readonly kind: 'aggregate_order'; readonly target: 'count' | 'key' | AggregateFn }
  | { readonly kind: 'group_order'; readonly name: string };

/** Shape of `extensions` on generated elements. */
export interface LatticeExtensions<M> {
  readonly [key: string]: unknown;
  readonly lattice: M;
}

/** Wrap metadata for a `extensions:` config property. */
export function ext<M>(meta: M): LatticeExtensions<M> {
  return { lattice: meta };
}

/**
 * Read the metadata of a generated element.
 * @returns the metadata, or undefined for elements the builder did not annotate (e.g. introspection fields)
 */
export function metaOf<M>(element: { readonly extensions?: unknown } | undefined | null): M | undefined {
  const e = element?.extensions as Partial<LatticeExtensions<M>> | undefined;
  return e?.lattice;
}

/**
 * The typed query plan: what REST and GraphQL both turn a read request into, and what `src/query/sql/*`
 * turns into one SQL statement (text + bind parameters) that builds the whole JSON answer in PostgreSQL.
 *
 * Modelled on pg_graphql's builders (`builder.rs`): a tree of "select this entity, these fields, this filter,
 * this order, these nested relations". Plans are plain data: no SQL, no GraphQL AST, no database handle.
 * Entity, column and relation names are the model's (`src/model/types.ts`); the SQL layer resolves and quotes
 * them, so a plan can only name things the model has.
 */
import type { FieldType, VectorMetric } from '../model/types.js';

/** A whole read operation: several root fields, answered by one statement as one JSON object. */
export interface OperationPlan {
  readonly roots: readonly RootPlan[];
  /**
   * Tenant scope the compiler adds as a predicate on every table for index use (`project_id = ANY($n)`).
   * `all` for admins. Row-level security is the guarantee; this is the fast path to the right rows.
   */
  readonly scope: Scope;
}

export type Scope = { readonly kind: 'all' } | { readonly kind: 'projects'; readonly projectIds: readonly string[] };

/** One root field of the answer, under its response key (alias or field name). */
export interface RootPlan {
  readonly responseKey: string;
  readonly node: RootNode;
}

export type RootNode =
  | TypenameNode
  | ObjectNode
  | ListNode
  | ListPageNode
  | ConnectionNode
  | ByIdsNode
  | AggregateNode;

/** A constant `__typename` (or any constant string). */
export interface TypenameNode {
  readonly kind: 'typename';
  readonly value: string;
}

/** One row by id: `experiment(id)` → object or null. */
export interface ObjectNode {
  readonly kind: 'object';
  readonly entity: string;
  readonly id: string;
  readonly selection: Selection;
}

/** Rows of one entity: `experiments(filter, order_by, limit, offset)` → array. */
export interface ListNode {
  readonly kind: 'list';
  readonly entity: string;
  readonly args: ListArgs;
  readonly selection: Selection;
}

/** Offset page with total: `experiment_list(...)` → `{ total_count, items }` (seed 004). */
export interface ListPageNode {
  readonly kind: 'list_page';
  readonly entity: string;
  readonly args: ListArgs;
  /** Response keys and what they hold, in selection order. */
  readonly fields: readonly ListPageField[];
}

export type ListPageField =
  | { readonly responseKey: string; readonly kind: 'total_count' }
  | { readonly responseKey: string; readonly kind: 'items'; readonly selection: Selection }
  | { readonly responseKey: string; readonly kind: 'typename'; readonly value: string };

/** Relay connection with keyset cursors: `experiment_connection(first, after, last, before, ...)`. */
export interface ConnectionNode {
  readonly kind: 'connection';
  readonly entity: string;
  readonly args: ConnectionArgs;
  readonly fields: readonly ConnectionField[];
}

export type ConnectionField =
  | { readonly responseKey: string; readonly kind: 'total_count' }
  | { readonly responseKey: string; readonly kind: 'typename'; readonly value: string }
  | { readonly responseKey: string; readonly kind: 'edges'; readonly fields: readonly EdgeField[] }
  | { readonly responseKey: string; readonly kind: 'nodes'; readonly selection: Selection }
  | { readonly responseKey: string; readonly kind: 'page_info'; readonly fields: readonly PageInfoField[] };

export type EdgeField =
  | { readonly responseKey: string; readonly kind: 'cursor' }
  | { readonly responseKey: string; readonly kind: 'node'; readonly selection: Selection }
  | { readonly responseKey: string; readonly kind: 'typename'; readonly value: string };

export type PageInfoField =
  | {
      readonly responseKey: string;
      readonly kind: 'has_next_page' | 'has_previous_page' | 'start_cursor' | 'end_cursor';
    }
  | { readonly responseKey: string; readonly kind: 'typename'; readonly value: string };

/** Batch lookup: `experiments_by_ids(ids)` → array in the order of `ids`, null where absent. */
export interface ByIdsNode {
  readonly kind: 'by_ids';
  readonly entity: string;
  readonly ids: readonly string[];
  readonly selection: Selection;
}

/** The fields selected on one object, in response order. */
export type Selection = readonly SelectionItem[];

export type SelectionItem =
  | { readonly responseKey: string; readonly kind: 'column'; readonly column: string }
  | { readonly responseKey: string; readonly kind: 'typename'; readonly value: string }
  | {
      /** To-one relation: the related object or null. */
      readonly responseKey: string;
      readonly kind: 'to_one';
      readonly relation: string;
      readonly selection: Selection;
    }
  | {
      /** To-many relation in one of its shapes; `node.entity` is the relation's target. */
      readonly responseKey: string;
      readonly kind: 'to_many';
      readonly relation: string;
      readonly node: ListNode | ListPageNode | ConnectionNode | AggregateNode;
    }
  | {
      /**
       * `_rank` (full-text rank of the row under the enclosing list's `search`) or `_distance` (distance of the
       * row's vector to the enclosing list's `nearest` vector); JSON null when the list has no such argument.
       */
      readonly responseKey: string;
      readonly kind: 'rank' | 'distance';
    };

/**
 * Similarity search (SPEC G-6, S-5): keep rows whose vector `column` lies within `maxDistance` of `vector`
 * under `metric`, and (unless an explicit ordering is given) order by that distance, nearest first.
 * Distances are pgvector's: cosine distance 1 − cos θ, L2 the Euclidean distance, inner product −(a·b).
 */
export interface NearestArg {
  /** A `vector` column of the entity. */
  readonly column: string;
  /** The query vector; its length must equal the field's `dimensions`, every element finite. */
  readonly vector: readonly number[];
  readonly metric: VectorMetric;
  /** Inclusive upper bound on the distance, if any. */
  readonly maxDistance?: number;
}

/** Arguments shared by lists, list pages and (without limit/offset) connections. */
export interface ListArgs {
  readonly filter?: Filter;
  /**
   * Full-text query (SPEC G-6, S-4) in `websearch_to_tsquery` syntax over the entity's searchable fields:
   * only matching rows; ordered by rank (best first) unless `orderBy` is given (and no `nearest`).
   */
  readonly search?: string;
  /** Similarity search; ordered by distance unless `orderBy` is given. Takes precedence over `search` ranking. */
  readonly nearest?: NearestArg;
  /** Ordering; the compiler always appends `id ASC` as the final tiebreaker (SPEC G-5). */
  readonly orderBy: readonly OrderItem[];
  /** Maximum rows; undefined means the configured default. */
  readonly limit?: number;
  readonly offset?: number;
}

export interface ConnectionArgs {
  readonly filter?: Filter;
  readonly search?: string;
  readonly nearest?: NearestArg;
  readonly orderBy: readonly OrderItem[];
  readonly first?: number;
  readonly last?: number;
  /** Decoded keyset cursors (see `src/query/cursor.ts`). */
  readonly after?: Cursor;
  readonly before?: Cursor;
}

/** A decoded keyset cursor: the values of the ordering columns plus `id`, in ordering order. */
export interface Cursor {
  readonly values: readonly unknown[];
}

export type Direction = 'ASC' | 'DESC';
export type Nulls = 'FIRST' | 'LAST';

/** One ordering key: a column of the entity, or of a row reached through to-one relations (SPEC G-5). */
export interface OrderItem {
  /**
   * To-one relation names followed from the ordered entity before reading `column`, e.g. `['trial',
   * 'experiment']` to order metrics by their trial's experiment's name. Absent or empty: a column of the entity.
   */
  readonly path?: readonly string[];
  /** Column of the entity at the end of `path`. */
  readonly column: string;
  readonly direction: Direction;
  /** Null placement; PostgreSQL's default is LAST for ASC and FIRST for DESC. */
  readonly nulls: Nulls;
}

/** Comparison operators of SPEC G-4. Which apply to which field type is decided by the GraphQL/REST layer. */
export type CompareOp =
  | 'eq'
  | 'ne'
  | 'lt'
  | 'lte'
  | 'gt'
  | 'gte'
  | 'in'
  | 'not_in'
  | 'is_null'
  | 'like'
  | 'ilike'
  | 'starts_with'
  | 'contains'
  | 'has_key'
  | 'overlaps';

/** A boolean condition on rows of one entity. */
export type Filter =
  | { readonly kind: 'and'; readonly items: readonly Filter[] }
  | { readonly kind: 'or'; readonly items: readonly Filter[] }
  | { readonly kind: 'not'; readonly item: Filter }
  | {
      readonly kind: 'compare';
      readonly column: string;
      /** Field type of the column, so the SQL layer casts parameters correctly. */
      readonly type: FieldType;
      readonly op: CompareOp;
      /** The operand: a scalar, an array (`in`, `not_in`, `overlaps`, string[] `contains`), a boolean (`is_null`). */
      readonly value: unknown;
    }
  | {
      /** Condition on related rows: to-one (`is`), or to-many `some` / `every` / `none`. */
      readonly kind: 'related';
      readonly relation: string;
      readonly mode: 'is' | 'some' | 'every' | 'none';
      readonly filter: Filter;
    };

/** Calendar bucket of a datetime (or date) group key: `date_trunc` in UTC; weeks start on Monday (ISO 8601). */
export type TimeBucket = 'minute' | 'hour' | 'day' | 'week' | 'month';

/** One group key of an aggregate (SPEC G-2): a column of the entity or of a to-one related row, maybe bucketed. */
export interface GroupKey {
  /** Name of the key in the model's snake_case, as the `key` object's field: `status`, `created_at_day`. */
  readonly name: string;
  /** To-one relations followed before reading `column` (as in `OrderItem.path`); empty for own columns. */
  readonly path: readonly string[];
  readonly column: string;
  readonly bucket?: TimeBucket;
}

/** Aggregate functions over a column besides `count`. */
/**
 * Aggregate functions over a column. `p50` … `p99` are continuous percentiles (PostgreSQL `percentile_cont`,
 * linear interpolation between the two nearest values), e.g. latency percentiles of the traces preset.
 */
export type AggregateFn = 'sum' | 'avg' | 'min' | 'max' | 'count_distinct' | 'p50' | 'p90' | 'p95' | 'p99';

/** What groups are ordered by. */
export type AggregateOrderTarget =
  | { readonly kind: 'count' }
  | { readonly kind: 'key'; readonly name: string }
  | { readonly kind: 'fn'; readonly fn: AggregateFn; readonly column: string };

export interface AggregateOrderItem {
  readonly target: AggregateOrderTarget;
  readonly direction: Direction;
  readonly nulls: Nulls;
}

export interface AggregateArgs {
  readonly filter?: Filter;
  readonly search?: string;
  /** Group keys; none means one group over all matching rows (which exists, with count 0, even when empty). */
  readonly groupBy: readonly GroupKey[];
  /** Ordering of groups; default: the group keys in order, ascending. */
  readonly orderBy: readonly AggregateOrderItem[];
  /** Maximum number of groups. */
  readonly limit?: number;
}

/** The selected fields of one group, in response order. */
export type AggregateField =
  | { readonly responseKey: string; readonly kind: 'typename'; readonly value: string }
  | { readonly responseKey: string; readonly kind: 'count' }
  | {
      /** The group's key values: each names a `GroupKey.name` (null when not grouped by it). */
      readonly responseKey: string;
      readonly kind: 'key';
      readonly fields: readonly (
        | { readonly responseKey: string; readonly kind: 'group'; readonly name: string }
        | { readonly responseKey: string; readonly kind: 'typename'; readonly value: string }
      )[];
    }
  | {
      /** One function over several columns: `avg { value step }`. */
      readonly responseKey: string;
      readonly kind: 'fn';
      readonly fn: AggregateFn;
      readonly fields: readonly (
        | { readonly responseKey: string; readonly kind: 'column'; readonly column: string }
        | { readonly responseKey: string; readonly kind: 'typename'; readonly value: string }
      )[];
    };

/**
 * Aggregates (SPEC G-2, G-3): `<entity>_aggregate(filter, search, group_by, order_by, limit)` → a JSON array
 * with one object per group, at the root or as `<relation>_aggregate` on a to-many relation.
 */
export interface AggregateNode {
  readonly kind: 'aggregate';
  readonly entity: string;
  readonly args: AggregateArgs;
  readonly fields: readonly AggregateField[];
}

/**
 * The typed query plan: what REST and GraphQL both turn a read request into, and what `src/query/sql/*`
 * turns into one SQL statement (text + bind parameters) that builds the whole JSON answer in PostgreSQL.
 *
 * Modelled on pg_graphql's builders (`builder.rs`): a tree of "select this entity, these fields, this filter,
 * this order, these nested relations". Plans are plain data: no SQL, no GraphQL AST, no database handle.
 * Entity, column and relation names are the model's (`src/model/types.ts`); the SQL layer resolves and quotes
 * them, so a plan can only name things the model has.
 */
import type { FieldType } from '../model/types.js';

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
  | ByIdsNode;

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
      readonly node: ListNode | ListPageNode | ConnectionNode;
    };

/** Arguments shared by lists, list pages and (without limit/offset) connections. */
export interface ListArgs {
  readonly filter?: Filter;
  /** Ordering; the compiler always appends `id ASC` as the final tiebreaker (SPEC G-5). */
  readonly orderBy: readonly OrderItem[];
  /** Maximum rows; undefined means the configured default. */
  readonly limit?: number;
  readonly offset?: number;
}

export interface ConnectionArgs {
  readonly filter?: Filter;
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

/** One ordering key: a column of the entity. */
export interface OrderItem {
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

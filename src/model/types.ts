/**
 * The resolved, immutable Model: what every other stage reads.
 *
 * `src/model/load.ts` turns a model document (YAML/JSON/`defineModel()`) into this shape; nothing else parses
 * model documents or invents names. All names here are in the model's own snake_case; the GraphQL layer maps
 * them through `src/model/inflection.ts` (for `naming: graphql-default`).
 */

/** Field types of SPEC M-2. */
export type FieldType =
  | 'string'
  | 'text'
  | 'int'
  | 'bigint'
  | 'float'
  | 'decimal'
  | 'boolean'
  | 'datetime'
  | 'date'
  | 'uuid'
  | 'json'
  | 'enum'
  | 'string[]'
  | 'ref'
  | 'vector';

/** Distance metric of a vector field: cosine distance, Euclidean (L2) distance, negative inner product. */
export type VectorMetric = 'cosine' | 'l2' | 'inner_product';

/** A JSON value as found in model documents and request bodies. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What happens to a child row when the parent it references is deleted. */
export type OnDelete = 'cascade' | 'restrict' | 'set null';

/** The reference part of a `ref` field. */
export interface RefSpec {
  /** Target entity name, e.g. `experiment`. */
  readonly to: string;
  readonly onDelete: OnDelete;
  /** Name of the inverse relation on the target entity, e.g. `trials` (default: plural of the source entity). */
  readonly inverse: string;
}

/** One column of an entity (declared or built in). */
export interface Field {
  /** Model name of the field: `name`, or `experiment` for a ref (whose column is `experiment_id`). */
  readonly name: string;
  /** SQL column name and scalar GraphQL field name: `name`, `experiment_id`. */
  readonly column: string;
  readonly type: FieldType;
  /** NOT NULL in SQL, non-null in GraphQL output (and required on create). */
  readonly required: boolean;
  /** Default value applied by the database (SQL DEFAULT), if any. */
  readonly default?: JsonValue;
  readonly unique: boolean;
  readonly index: boolean;
  readonly searchable: boolean;
  readonly description?: string;
  /** Deprecation reason; present only when deprecated. */
  readonly deprecated?: string;
  /** Allowed values of an `enum` field, in declared order. */
  readonly values?: readonly string[];
  /** Name of the SQL enum type / GraphQL enum type for an `enum` field, e.g. `trial_status` / `TrialStatus`. */
  readonly enumName?: string;
  /** Dimensions of a `vector` field. */
  readonly dimensions?: number;
  /** Distance metrics indexed for a `vector` field (default `['cosine']`); any metric can be queried. */
  readonly metrics?: readonly VectorMetric[];
  /**
   * A database-computed value (generated column; never written by clients): `end − start` in milliseconds of
   * the two datetime columns.
   */
  readonly computed?: { readonly kind: 'milliseconds_between'; readonly from: string; readonly to: string };
  /** Present for `ref` fields (including the built-in `project` ref). */
  readonly ref?: RefSpec;
  /** True for `id`, `project_id`, `created_at`, `updated_at` (not writable except `id` and `project_id` on create). */
  readonly builtin: boolean;
}

/**
 * A navigable relation between two entities.
 * - to-one: `trial.experiment` (source `trial`, join `trial.experiment_id = experiment.id`)
 * - to-many: `experiment.trials` (source `experiment`, join `experiment.id = trial.experiment_id`)
 * - the inverse of a `unique` ref is to-one (a one-to-one "feature table", SPEC M-5).
 */
export interface Relation {
  /** Field name on the source type, e.g. `experiment` or `trials`. */
  readonly name: string;
  readonly kind: 'to-one' | 'to-many';
  /** Source entity name (the type the field is on). */
  readonly source: string;
  /** Target entity name (the type the field returns). */
  readonly target: string;
  /** Column on the source table used in the join. */
  readonly sourceColumn: string;
  /** Column on the target table used in the join. */
  readonly targetColumn: string;
  /** Whether the join columns also carry the tenant key (true for every data→data relation; see SPEC S-2). */
  readonly tenantScoped: boolean;
  /** Entity and field name of the `ref` field that defines the relation. */
  readonly via: { readonly entity: string; readonly field: string };
}

/** One key column of a declared index, after `project_id` (which always leads). */
export interface IndexColumn {
  /** SQL column, e.g. `trial_id` for the ref field `trial`. */
  readonly column: string;
  readonly order: 'asc' | 'desc';
  /** NULLS FIRST / LAST when declared; PostgreSQL's default otherwise (last for asc, first for desc). */
  readonly nulls?: 'first' | 'last';
}

/** One condition of a partial index (all are ANDed): `column IS [NOT] NULL` or `column = <literal>`. */
export type IndexCondition =
  | { readonly column: string; readonly isNull: boolean }
  | { readonly column: string; readonly eq: string | number | boolean };

/** An index declared with the entity's `indexes:` (SPEC M-2): btree on `(project_id, ...columns)`. */
export interface EntityIndex {
  /** `<table>_<col>_<col>_idx`, or a hashed form within 63 bytes (see `declaredIndexName`). */
  readonly name: string;
  readonly columns: readonly IndexColumn[];
  /** Partial-index conditions, ANDed; empty for a full index. */
  readonly where: readonly IndexCondition[];
}

/** One entity (table) of the model. */
export interface Entity {
  /** Singular snake_case name, e.g. `trial`. */
  readonly name: string;
  /** Plural snake_case name, e.g. `trials` (from inflection, overridable with `plural:`). */
  readonly plural: string;
  /** PascalCase GraphQL type name, e.g. `Trial`. */
  readonly typeName: string;
  readonly description?: string;
  /** True for the built-in `project` entity (stored in the system schema). */
  readonly system: boolean;
  /** Quoted-by-the-SQL-layer table location, e.g. `{ schema: 'app', name: 'trial' }`. */
  readonly table: { readonly schema: string; readonly name: string };
  /** Column holding the tenant (project) id: `project_id`, or `id` for the project entity itself. */
  readonly tenantColumn: string;
  /** All fields in order: `id`, `project_id` (data entities), declared fields, `created_at`, `updated_at`. */
  readonly fields: readonly Field[];
  /** Fields by column name (`experiment_id`, `name`, ...). */
  readonly columns: ReadonlyMap<string, Field>;
  /** Relations whose source is this entity, by field name. */
  readonly relations: ReadonlyMap<string, Relation>;
  /** Declared composite/ordered/partial indexes, in declaration order ([] when none). */
  readonly indexes: readonly EntityIndex[];
}

/** A declared root-field alias, e.g. `trial_metrics(trial_id)` → `metrics` filtered by `trial_id`. */
export interface RootAlias {
  /** Root field name, e.g. `trial_metrics`. */
  readonly name: string;
  /** Target entity name, e.g. `metric`. */
  readonly entity: string;
  /** Columns of the target entity that become required equality arguments, e.g. `['trial_id']`. */
  readonly args: readonly string[];
  readonly description?: string;
}

/** The complete resolved model. */
export interface Model {
  /** Model name, e.g. `experiments`. */
  readonly name: string;
  readonly description?: string;
  /** Naming of generated GraphQL fields and arguments (SPEC G-1). */
  readonly naming: 'snake_case' | 'graphql-default';
  /** Schema holding the data tables (default `app`). */
  readonly dataSchema: string;
  /** PostgreSQL text-search configuration of full-text columns and `search` (default `english`). */
  readonly searchConfig: string;
  /** Schema holding system tables (always `lattice`). */
  readonly systemSchema: string;
  /** Entities by name, including the built-in `project`, in declaration order (project first). */
  readonly entities: ReadonlyMap<string, Entity>;
  readonly aliases: readonly RootAlias[];
  /** The validated source document (plain JSON), kept for versioning and hashing. */
  readonly document: JsonValue;
  /** sha256 hex of the canonical JSON of `document`. */
  readonly hash: string;
}

/**
 * The model document schema (SPEC M-1, M-2): what a user writes in YAML, JSON or `defineModel()`.
 *
 * Validated with zod; structural errors carry the document path (`entities.trial.fields.experiment.to`).
 * Cross-references (ref targets, enum defaults, name collisions) are checked afterwards in `validate.ts`.
 */
import { z } from 'zod';

/** Snake_case identifiers: lower-case letter first, then lower-case letters, digits and single underscores. */
export const SNAKE_CASE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const snake = z.string().regex(SNAKE_CASE, 'expected a snake_case name such as "trial" or "start_time"');
/** GraphQL enum value names (as declared; SPEC G-1). */
const enumValue = z
  .string()
  .regex(/^[_A-Za-z][_0-9A-Za-z]*$/, 'expected an enum value usable as a GraphQL name (letters, digits, _)')
  .refine((v) => !['true', 'false', 'null'].includes(v), 'true, false and null cannot be enum values');

export const FIELD_TYPES = [
  'string',
  'text',
  'int',
  'bigint',
  'float',
  'decimal',
  'boolean',
  'datetime',
  'date',
  'uuid',
  'json',
  'enum',
  'string[]',
  'ref',
  'vector',
] as const;

/** Distance metrics of vector fields (SPEC S-5, G-6): pgvector's `<=>`, `<->`, `<#>`. */
export const VECTOR_METRICS = ['cosine', 'l2', 'inner_product'] as const;

const jsonValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

export const fieldDocument = z.strictObject({
  type: z.enum(FIELD_TYPES, { error: `expected one of: ${FIELD_TYPES.join(', ')}` }),
  required: z.boolean().optional(),
  default: jsonValue.optional(),
  unique: z.boolean().optional(),
  index: z.boolean().optional(),
  searchable: z.boolean().optional(),
  description: z.string().optional(),
  deprecated: z.string().min(1, 'give the deprecation reason').optional(),
  /** enum only */
  values: z.array(enumValue).min(1, 'an enum needs at least one value').optional(),
  /** vector only */
  dimensions: z.number().int().min(1).max(16000).optional(),
  /** vector only: distance metrics to index (one HNSW index each with pgvector; default [cosine]). */
  metrics: z
    .array(z.enum(VECTOR_METRICS, { error: `expected one of: ${VECTOR_METRICS.join(', ')}` }))
    .min(1, 'list at least one metric, e.g. [cosine]')
    .optional(),
  /**
   * A value the database computes from other fields of the row (a generated column, read-only in every API):
   * `{ milliseconds_between: [start_field, end_field] }` — `end − start` of two datetime fields in
   * milliseconds (null while either is null); the field's type must be `float`.
   */
  computed: z.strictObject({ milliseconds_between: z.tuple([snake, snake]) }).optional(),
  /** ref only */
  to: snake.optional(),
  on_delete: z.enum(['cascade', 'restrict', 'set null']).optional(),
  inverse: snake.optional(),
});

/**
 * One column of a declared index: a field name, or `{ field, order, nulls }` (SPEC M-2). A bare name is read
 * as `{ field: name }`, so errors name the exact key (`indexes.0.fields.1.order`).
 */
export const indexFieldDocument = z.preprocess(
  (v) => (typeof v === 'string' ? { field: v } : v),
  z.strictObject(
    {
      field: snake,
      order: z.enum(['asc', 'desc'], { error: 'expected asc or desc' }).optional(),
      nulls: z.enum(['first', 'last'], { error: 'expected first or last' }).optional(),
    },
    { error: 'expected a field name, or { field: <name>, order: asc|desc, nulls: first|last }' },
  ),
);

/**
 * One condition of a partial index's `where`: `{ is_null: true|false }` or `{ eq: <literal> }` (checked against
 * the field's type in src/model/indexes.ts; rendered as a typed SQL literal, never raw SQL).
 */
export const indexConditionDocument = z
  .strictObject({
    is_null: z.boolean().optional(),
    eq: z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, number or boolean' }).optional(),
  })
  .refine((c) => (c.is_null === undefined) !== (c.eq === undefined), 'give exactly one of is_null: true|false or eq: <value>');

/**
 * A declared (composite, ordered, optionally partial) index: `[trial, step]`, or
 * `{ fields: [trial, { field: step, order: desc }], where: { step: { is_null: false } } }`. A list is read as
 * `{ fields: list }`, so errors of both forms have the path `indexes.<i>.fields.<j>`.
 */
export const indexDocument = z.preprocess(
  (v) => (Array.isArray(v) ? { fields: v } : v),
  z.strictObject(
    {
      fields: z.array(indexFieldDocument).min(1, 'list at least one field, e.g. [trial, step]'),
      where: z
        .record(snake, indexConditionDocument, { error: 'expected { <field>: { is_null: true|false } } or { <field>: { eq: <value> } }' })
        .optional(),
    },
    { error: 'expected a list of fields such as [trial, step], or { fields: [...], where: {...} }' },
  ),
);

export const entityDocument = z.strictObject({
  description: z.string().optional(),
  plural: snake.optional(),
  fields: z.record(snake, fieldDocument),
  /** Composite and ordered indexes (SPEC M-2); `project_id` always leads. */
  indexes: z.array(indexDocument).optional(),
});

export const aliasDocument = z.strictObject({
  entity: snake,
  args: z.array(snake).min(1, 'an alias needs at least one argument column, e.g. [trial_id]'),
  description: z.string().optional(),
});

export const modelDocument = z.strictObject({
  name: snake,
  description: z.string().optional(),
  naming: z.enum(['snake_case', 'graphql-default']).optional(),
  schema: snake.optional(),
  /**
   * PostgreSQL text-search configuration of full-text columns and `search` queries (SPEC S-4, G-6), e.g.
   * `english` (the default: stemming) or `simple` (no stemming, no stop words).
   */
  search_config: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'expected a text search configuration name such as "english" or "simple"')
    .optional(),
  entities: z.record(snake, entityDocument),
  aliases: z.record(snake, aliasDocument).optional(),
});

/** A model document as written (input shape). */
export type ModelDocument = z.input<typeof modelDocument>;
export type FieldDocument = z.output<typeof fieldDocument>;
export type EntityDocument = z.output<typeof entityDocument>;
export type IndexDocument = z.output<typeof indexDocument>;

/**
 * Identity helper for models written in TypeScript (`lattice.model.ts`): gives type checking and completion.
 * @example export default defineModel({ name: 'shop', entities: { order: { fields: { total: { type: 'decimal' } } } } })
 */
export function defineModel<const T extends ModelDocument>(doc: T): T {
  return doc;
}

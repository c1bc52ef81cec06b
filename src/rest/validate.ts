/**
 * Validation for the REST plugin: AJV instances for bodies (no coercion, never strip unknown fields) and for
 * query strings and path parameters (strict conversion of numbers and booleans, then no coercion, defaults
 * filled), the Fastify validator compiler that picks between them, compiled per-entity body validators for
 * ingestion events, and AJV errors → `ErrorDetail`s.
 *
 * Query-string numbers are strict (issue 8 item 7): AJV's `coerceTypes` turns any string that `Number()` accepts
 * into a number — `?step=0x10` became 16 and `?duration=%20` (a space) became 0. Here a value converts only when
 * it is spelled as a JSON number; anything else stays a string and fails the schema's type with a 400.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import type { ErrorDetail } from '../errors.js';
import { UUID_JSON_PATTERN } from '../uuid.js';
import type { JsonSchema } from './schemas.js';

// ajv-formats is CommonJS; under NodeNext its default import is the module object in some setups.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

/**
 * The AJV instance every request schema is compiled with: strict types (no coercion), formats of ajv-formats,
 * `uuid` decided by the UUID pattern alone.
 * @param useDefaults fill in schema defaults (query strings) or not (bodies)
 */
export function makeAjv(useDefaults: boolean): Ajv {
  const ajv = new Ajv({
    allErrors: false,
    coerceTypes: false,
    useDefaults,
    removeAdditional: false,
    strict: false,
  });
  addFormats(ajv);
  // Every `format: 'uuid'` comes with the stricter UUID pattern (`UUID_JSON_SCHEMA`), which AJV checks first and
  // which alone decides: the format stays in the schemas for documentation but is not checked a second time
  // (ingestion validates thousands of ids per request).
  ajv.addFormat('uuid', true);
  return ajv;
}

/** A number as JSON writes it (RFC 8259 §6): the only spelling a query-string number may have. */
const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$/;

function typesOf(schema: JsonSchema | undefined): readonly unknown[] {
  const t = schema?.type;
  return Array.isArray(t) ? t : t === undefined ? [] : [t];
}

/**
 * Convert the string values of a query string or path parameters to the types of their properties, strictly and
 * in place: a JSON number for `integer` / `number` properties (finite only), `true` / `false` for `boolean`
 * ones. Properties that also accept a string (e.g. `decimal`) and values of any other spelling are left as they
 * are, for the schema to accept or refuse.
 * @param schema an object schema with `properties`
 */
export function convertQueryValues(schema: JsonSchema, data: unknown): void {
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  if (!properties || data === null || typeof data !== 'object' || Array.isArray(data)) return;
  const values = data as Record<string, unknown>;
  for (const [key, value] of Object.entries(values)) {
    if (typeof value !== 'string' || !Object.hasOwn(properties, key)) continue;
    const types = typesOf(properties[key]);
    if (types.includes('string')) continue;
    if ((types.includes('integer') || types.includes('number')) && JSON_NUMBER.test(value)) {
      const n = Number(value);
      if (Number.isFinite(n)) values[key] = n;
    } else if (types.includes('boolean') && (value === 'true' || value === 'false')) {
      values[key] = value === 'true';
    }
  }
}

/** `validate` preceded by {@link convertQueryValues} (same contract: `errors` set after each call). */
function withStrictConversion(schema: JsonSchema, validate: ValidateFunction): ValidateFunction {
  const run = (data: unknown): boolean => {
    convertQueryValues(schema, data);
    const ok = validate(data);
    strict.errors = validate.errors;
    return ok;
  };
  const strict: ValidateFunction = Object.assign(run as ValidateFunction, { schema: validate.schema, schemaEnv: validate.schemaEnv });
  return strict;
}

/** Validators of one REST plugin instance. */
export interface Validators {
  /** For `FastifyInstance.setValidatorCompiler` in the plugin's scope. */
  readonly compiler: FastifySchemaCompiler<JsonSchema>;
  /** Compile a body schema (no coercion). */
  compileBody(schema: JsonSchema): ValidateFunction;
  /** Compile a query-string or path-parameter schema (strict `"10"` → 10, `"true"` → true; defaults filled). */
  compileQuery(schema: JsonSchema): ValidateFunction;
}

/** Create the AJV instances and the Fastify validator compiler (bodies strict, query strings converted strictly). */
export function createValidators(): Validators {
  const body = makeAjv(false);
  const query = makeAjv(true);
  const compileQuery = (schema: JsonSchema) => withStrictConversion(schema, query.compile(schema));
  return {
    compiler: ({ schema, httpPart }) => (httpPart === 'body' ? body.compile(schema) : compileQuery(schema)),
    compileBody: (schema) => body.compile(schema),
    compileQuery,
  };
}

const valueAjv = makeAjv(false);
const valueValidators = new WeakMap<object, Map<string, ValidateFunction>>();

/**
 * A strict (non-coercing) validator for values inside JSON query parameters (`filter=` operands), compiled
 * once per (`owner`, `tag`) — e.g. a model `Field` and an operand shape — and cached while `owner` lives
 * (a model swap builds new fields, so new validators).
 */
export function valueValidator(owner: object, tag: string, schema: () => JsonSchema): ValidateFunction {
  let byTag = valueValidators.get(owner);
  if (!byTag) valueValidators.set(owner, (byTag = new Map()));
  let v = byTag.get(tag);
  if (!v) byTag.set(tag, (v = valueAjv.compile(schema())));
  return v;
}

/**
 * Run `validate` on `data` the way Fastify runs a route schema (conversions and defaults applied in place).
 * @throws an error carrying `validation` and `validationContext` like Fastify's, so the REST plugin's error
 *         handler answers it with the same BAD_USER_INPUT and details (`body[2].trial_id`, `querystring.limit`)
 */
export function validateOrThrow(validate: ValidateFunction, data: unknown, context: 'body' | 'querystring' | 'params'): void {
  if (validate(data)) return;
  throw Object.assign(new Error(`Invalid ${context}`), { validation: validate.errors ?? [], validationContext: context });
}

/** A readable message for one AJV error (enum errors list the allowed values). */
export function ajvMessage(e: ErrorObject): string {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    return `must be one of: ${params.allowedValues.filter((v) => v !== null).join(', ')}`;
  }
  if (e.keyword === 'format') return `must be a valid ${String(params.format)}`;
  if (e.keyword === 'pattern' && params.pattern === UUID_JSON_PATTERN) {
    return 'must be a UUID written as 8-4-4-4-12 hex digits (e.g. 0190f5a8-7d0e-7c3a-9b1e-3f1e2d4c5b6a)';
  }
  if (e.keyword === 'pattern' && e.instancePath.endsWith('order_by')) {
    return 'must be comma-separated column names, each optionally prefixed by "-" (e.g. -created_at,name)';
  }
  return e.message ?? 'is invalid';
}

/**
 * AJV errors → details with paths like `body.name`, `body[2].trial_id`; `if` errors (from the one-or-many body
 * schema) are dropped as they only repeat the real error.
 * @param root the path prefix (`body`, `querystring`, `batch[3].body`)
 */
export function ajvDetails(root: string, errors: readonly ErrorObject[] | null | undefined): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const e of errors ?? []) {
    if (e.keyword === 'if') continue;
    const path = root + e.instancePath.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`)).join('');
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
      out.push({ path: `${path}.${params.additionalProperty}`, message: 'unknown field; remove it' });
    } else if (e.keyword === 'required' && typeof params.missingProperty === 'string') {
      out.push({ path: `${path}.${params.missingProperty}`, message: 'is required' });
    } else {
      out.push({ path, message: ajvMessage(e) });
    }
  }
  return out;
}

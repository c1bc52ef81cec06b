/**
 * Plan templates (SPEC G-11): a compiled read statement whose bind parameters are rebuilt from new variable
 * values without planning or compiling again. Used by the plan cache (`plan-cache.ts`).
 *
 * The planner and compiler are pure functions of (document, variables, principal, limits, compile options).
 * What a variable value does to the statement is learned from them, not restated here:
 *
 * 1. **Leaves.** The coerced variables are walked with their GraphQL input types. Values of the scalar types
 *    `ID`, `UUID`, `String`, `Int`, `Float`, `BigInt`, `Decimal`, `DateTime` and `Date` (alone, or as a list of
 *    them) are *leaves*: candidates for bind parameters. Everything else — booleans (`@skip`/`@include`,
 *    `is_null`), enums (directions, metrics, group keys), `JSON`, nulls, which fields are present, the length of
 *    lists of objects — is *structure* and always part of the cache key.
 * 2. **Probes.** For each leaf the statement is compiled once more with only that leaf changed to another
 *    value of its kind (a fresh UUID, a fresh word, n ± 1, x / 2...). The leaf is *free* when the SQL text is
 *    unchanged and every parameter that changed is the leaf itself (`$n = v`), the leaf plus a constant
 *    (`first + 1`), one element of an array parameter (`in: [$a, "x"]`), or the leaf as a vector (`[x,y,…]`
 *    text for pgvector, float4 array otherwise). Anything else — the probe fails (a cursor that no longer
 *    decodes), the text changes, a parameter is derived some other way (a cursor fingerprint holding the
 *    search text, a LIKE pattern with escapes) — makes the leaf *baked*: its value goes into the key. Lists
 *    are probed one element longer first; if that is refused (a vector of another dimension) their length is
 *    baked and only the elements are free. The principal's project ids (the `project_id = ANY($n)` scope)
 *    are probed the same way.
 * 3. **Guards.** Values can make the planner or compiler refuse a request without changing the SQL of the
 *    ones they accept. On a cache hit each free leaf is checked against a sufficient (conservative) class
 *    chosen by the type of the parameter it feeds, mirroring the checks of `src/graphql/plan` and
 *    `src/query/sql`: `uuid` → UUID text (`checkUuid`); `int8` from an `Int` → an integer in [0, maxLimit]
 *    (limit / offset / first / last, planner and compiler `checkCount`); `text` → at most 1,000 characters
 *    (`search`) and no trailing backslash (LIKE patterns); `float8` → not negative (`max_distance`);
 *    vectors → finite float4 numbers, not all zero (`checkNearest`); free-length lists → 1 to maxLimit
 *    elements (`by_ids`). A value outside its class is not an error: the request is simply planned afresh,
 *    which gives the same answer or error as without a cache. **A new value check in the planner or
 *    compiler must be mirrored in `GUARDS` below (and `guardFor` in `plan-probe.ts`, which picks them)**;
 *    test/graphql/plan-cache.test.ts compares cached and fresh compilations over every argument kind.
 *
 * This file: the variables' key and leaves, the guards, and rebuilding parameters on a hit. The probes are in
 * `plan-probe.ts`, the cache itself in `plan-cache.ts`.
 */
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  type GraphQLInputType,
} from 'graphql';
import type { Principal } from '../auth/principal.js';
import type { CompiledQuery } from '../query/sql/compile.js';
import type { PlainRows } from '../query/sql/plain.js';
import { MAX_SEARCH_LENGTH } from '../query/sql/search.js';
import { UUID_RE } from '../uuid.js';

/** A declared variable of an operation with its input type. */
export interface VariableType {
  readonly name: string;
  readonly type: GraphQLInputType;
}

/** Kinds of leaf values, by GraphQL scalar. */
export type LeafKind = 'uuid' | 'string' | 'int' | 'float' | 'bigint' | 'decimal' | 'datetime' | 'date';

const KIND_OF_SCALAR: Readonly<Record<string, LeafKind>> = {
  ID: 'uuid',
  UUID: 'uuid',
  String: 'string',
  Int: 'int',
  Float: 'float',
  BigInt: 'bigint',
  Decimal: 'decimal',
  DateTime: 'datetime',
  Date: 'date',
};

const NUMERIC: ReadonlySet<LeafKind> = new Set(['int', 'float', 'bigint']);

/** One leaf of the coerced variables: a scalar, or a non-empty list of scalars, of a `LeafKind`. */
export interface Leaf {
  /** Path text (`$f.name.eq`, `$ids`, `$or[1].id`): the key of its baked marks. */
  readonly id: string;
  readonly path: readonly (string | number)[];
  readonly kind: LeafKind;
  readonly list: boolean;
  readonly value: unknown;
}

/** The cache key of some variables (structure, baked values) and their leaves, in walk order. */
export interface VariablesKey {
  readonly key: string;
  readonly leaves: Leaf[];
}

/** Marks of what the key must hold: `v:<leaf id>` the value, `l:<leaf id>` a list's length, `@p` the principal's ids. */
export type BakedMarks = ReadonlySet<string>;

/** The principal's project ids as a "leaf" in holes. */
export const PRINCIPAL = -1;

/** How one bind parameter (or an element of it) is rebuilt from a leaf. */
export type Hole =
  | { readonly slot: number; readonly leaf: number; readonly op: 'set' | 'vector_text' | 'vector_array' }
  | { readonly slot: number; readonly leaf: number; readonly op: 'add'; readonly delta: number }
  | { readonly slot: number; readonly leaf: number; readonly op: 'at'; readonly index: number };

/** Value classes a free leaf must stay in on a cache hit (see the module comment). */
export type Guard = 'uuid' | 'text' | 'count' | 'nonneg' | 'vector' | 'length';

/** A compiled statement with the recipe of its parameters. */
export interface PlanTemplate {
  readonly text: string;
  /** Parameters of the compilation the template was made from; holes overwrite their slots. */
  readonly params: readonly unknown[];
  readonly holes: readonly Hole[];
  /** Checks per free leaf (index into the walk's leaves). */
  readonly guards: ReadonlyArray<{ readonly leaf: number; readonly checks: readonly Guard[] }>;
  /** `limits.maxLimit` the template was compiled under (bound of `count` and `length`). */
  readonly maxLimit: number;
  /** The plain-row writer of the statement (`CompiledQuery.rows`), when it returns plain rows. */
  readonly rows?: PlainRows;
}

// ---------------------------------------------------------------------------------------------------------
// Walking variables

function leafToken(leaf: Leaf, baked: BakedMarks): string {
  if (baked.has(`v:${leaf.id}`)) return JSON.stringify(leaf.value);
  if (!leaf.list) return `~${leaf.kind}`;
  return baked.has(`l:${leaf.id}`) ? `~${leaf.kind}*${(leaf.value as unknown[]).length}` : `~${leaf.kind}*`;
}

function jsType(kind: LeafKind): 'string' | 'number' {
  return NUMERIC.has(kind) ? 'number' : 'string';
}

function walk(value: unknown, type: GraphQLInputType, id: string, path: (string | number)[], out: { key: string; leaves: Leaf[] }, baked: BakedMarks): void {
  if (value === undefined) {
    out.key += 'u';
    return;
  }
  if (value === null) {
    out.key += 'n';
    return;
  }
  const t = isNonNullType(type) ? type.ofType : type;
  if (isListType(t)) {
    if (!Array.isArray(value) || value.length === 0) {
      out.key += Array.isArray(value) ? '[]' : `!${JSON.stringify(value)}`;
      return;
    }
    const item = t.ofType as GraphQLInputType;
    const itemNamed = getNamedType(item);
    const kind = isListType(isNonNullType(item) ? item.ofType : item) ? undefined : KIND_OF_SCALAR[itemNamed.name];
    if (kind && value.every((v) => typeof v === jsType(kind))) {
      const leaf: Leaf = { id, path: [...path], kind, list: true, value };
      out.leaves.push(leaf);
      out.key += leafToken(leaf, baked);
      return;
    }
    out.key += '[';
    value.forEach((v, i) => {
      path.push(i);
      walk(v, item, `${id}[${i}]`, path, out, baked);
      path.pop();
      out.key += ',';
    });
    out.key += ']';
    return;
  }
  if (isInputObjectType(t)) {
    const fields = t.getFields();
    out.key += '{';
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out.key += `${k}:`;
      const f = fields[k];
      if (!f) out.key += JSON.stringify(v);
      else {
        path.push(k);
        walk(v, f.type, `${id}.${k}`, path, out, baked);
        path.pop();
      }
      out.key += ',';
    }
    out.key += '}';
    return;
  }
  if (isEnumType(t)) {
    out.key += JSON.stringify(t.serialize(value));
    return;
  }
  const kind = KIND_OF_SCALAR[t.name];
  if (kind && typeof value === jsType(kind)) {
    const leaf: Leaf = { id, path: [...path], kind, list: false, value };
    out.leaves.push(leaf);
    out.key += leafToken(leaf, baked);
    return;
  }
  out.key += JSON.stringify(value) ?? 'u';
}

/**
 * The key of coerced variables: their structure, a kind token for each free leaf and the value of each baked
 * one (per `baked`), and the leaves in walk order (the same order for every variables with the same key).
 * @param variables coerced values (graphql-js `getVariableValues`), keyed by variable name
 * @param types the operation's declared variables
 */
export function variablesKey(variables: Readonly<Record<string, unknown>>, types: readonly VariableType[], baked: BakedMarks): VariablesKey {
  const out = { key: '', leaves: [] as Leaf[] };
  for (const v of types) {
    out.key += `$${v.name}=`;
    walk(Object.hasOwn(variables, v.name) ? variables[v.name] : undefined, v.type, `$${v.name}`, [v.name], out, baked);
    out.key += ';';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Rebuilding parameters on a hit

/** Largest finite float4 (vector elements are stored as float4), as in `src/query/sql/nearest.ts`. */
const FLOAT4_MAX = 3.4028234663852886e38;

/** The checks of `Guard`s (see the module comment for the planner/compiler checks each one covers). */
const GUARDS: Readonly<Record<Guard, (v: unknown, maxLimit: number) => boolean>> = {
  uuid: (v) => typeof v === 'string' && UUID_RE.test(v),
  text: (v) => typeof v === 'string' && v.length <= MAX_SEARCH_LENGTH && !v.endsWith('\\'),
  count: (v, maxLimit) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= maxLimit,
  nonneg: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0,
  vector: (v) =>
    Array.isArray(v) &&
    v.every((x) => typeof x === 'number' && Number.isFinite(x) && Math.abs(x) <= FLOAT4_MAX) &&
    v.some((x) => Math.fround(x as number) !== 0),
  length: (v, maxLimit) => Array.isArray(v) && v.length >= 1 && v.length <= maxLimit,
};

/** Checks that apply to a whole list rather than to each element. */
const WHOLE: ReadonlySet<Guard> = new Set(['vector', 'length']);

function passes(check: Guard, leaf: Leaf, maxLimit: number): boolean {
  const test = GUARDS[check];
  if (leaf.list && !WHOLE.has(check)) return (leaf.value as unknown[]).every((x) => test(x, maxLimit));
  return test(leaf.value, maxLimit);
}

export const vectorText = (v: readonly number[]): string => `[${v.map((x) => Math.fround(x)).join(',')}]`;
export const vectorArray = (v: readonly number[]): number[] => v.map((x) => Math.fround(x));

/**
 * The parameters of `template` for new variables (leaves of the same key) and principal.
 * @returns the parameter array, or undefined when a free leaf is outside its guard's class (plan afresh)
 */
export function instantiate(template: PlanTemplate, leaves: readonly Leaf[], principal: Principal): unknown[] | undefined {
  for (const g of template.guards) {
    const leaf = leaves[g.leaf];
    if (!leaf || !g.checks.every((c) => passes(c, leaf, template.maxLimit))) return undefined;
  }
  const params = template.params.slice();
  for (const h of template.holes) {
    const v = h.leaf === PRINCIPAL ? [...principal.projectIds] : leaves[h.leaf].value;
    switch (h.op) {
      case 'set':
        params[h.slot] = v;
        break;
      case 'add':
        params[h.slot] = (v as number) + h.delta;
        break;
      case 'at': {
        if (params[h.slot] === template.params[h.slot]) params[h.slot] = (template.params[h.slot] as unknown[]).slice();
        (params[h.slot] as unknown[])[h.index] = v;
        break;
      }
      case 'vector_text':
        params[h.slot] = vectorText(v as number[]);
        break;
      case 'vector_array':
        params[h.slot] = vectorArray(v as number[]);
        break;
    }
  }
  return params;
}

// ---------------------------------------------------------------------------------------------------------
// Comparing compilations

/** Structural equality of parameter values (primitives, arrays, plain objects). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

/** True when two compilations are the same statement with the same parameters. */
export function sameCompiled(a: CompiledQuery, b: CompiledQuery): boolean {
  return a.text === b.text && sameValue(a.params, b.params);
}

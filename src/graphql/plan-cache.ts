/**
 * The plan cache (SPEC G-11): compiled read statements of GraphQL query operations, so a repeated document
 * skips parse, validate, plan and compile; variable values stay bind parameters.
 *
 * Two LRU levels per Model object (`WeakMap<Model, …>`, so a model swap — `ctx.model()` returning a new Model —
 * starts from an empty cache and the old one is garbage-collected with its model):
 *
 * - **documents**, keyed by sha256 of the document text, the operation name, admin or not (admins have no
 *   project scope, so their SQL has no `project_id = ANY($n)`), the limits, the introspection setting and the
 *   compile options: the validated document, its operation, the declared variable types, and the *baked
 *   marks* learned so far (which variable leaves must be part of the plan key, see `plan-template.ts`);
 * - **plans**, keyed by the document key, the variables' key (structure, baked values, a kind token per free
 *   value) and the principal's project ids when they are baked: a `PlanTemplate` — SQL text plus how to
 *   rebuild each bind parameter from the new variables and principal.
 *
 * A hit coerces the variables with graphql-js (`getVariableValues`: the same coercion and errors as the
 * planner), re-checks the cost limit and the row budget (`plan/cost.ts`, `plan/rows.ts`: list sizes are free
 * parameters, so a cached plan must not let a larger `first` through), builds the key, checks each free value against its guard and fills in the parameters. Everything
 * else (a new document, a new variables key, a value outside its guard, coercion errors) runs the ordinary
 * pipeline, which gives the same answer or error as without a cache; a successful query compilation is then
 * learned and stored. Cached: query operations whose root fields are all compiled (no `__schema` / `__type`,
 * not only `__typename`). Not cached: mutations (their write plans depend on the principal and run
 * several statements), subscriptions (planned by `src/live`), introspection, errors. A document whose
 * variables keep producing new keys (e.g. a new cursor each page) and whose plans are not reused is no longer
 * cached after `MAX_UNUSED_PLANS` plans. A plan is learned the second time its key is seen (learning compiles
 * once more per variable value), so one-off documents cost no extra compilation and never get a plan.
 *
 * Bounded per model by entry count (`max`, default 1,000, for each level) and by the characters of SQL text
 * and parameters held (`maxChars`, default 16 Mi). `LATTICE_PLAN_CACHE_SIZE` sets `max` (0 turns the cache
 * off); `LATTICE_PLAN_CACHE_VERIFY=1` compiles every hit afresh and fails on a difference (for test runs).
 */
import { hash } from 'node:crypto';
import { getVariableValues, typeFromAST, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { LRUCache } from 'lru-cache';
import { isAdmin, type Principal } from '../auth/principal.js';
import { internal } from '../errors.js';
import type { Model } from '../model/types.js';
import { checkJsonNesting } from '../nesting.js';
import { compileOperation, DEFAULT_COMPILE_OPTIONS, type CompiledQuery, type CompileOptions } from '../query/sql/compile.js';
import type { QueryLimits } from '../server/context.js';
import { maxRowsOf, resultRowCheck } from './plan/rows.js';
import { BoundsMemo } from './plan-bounds.js';
import { analyzeOperation } from './plan/operation.js';
import { instantiate, sameCompiled, variablesKey, type PlanTemplate, type VariableType } from './plan-template.js';
import { buildTemplate, type Recompile } from './plan-probe.js';

/** Settings of the plan caches. */
export interface PlanCacheOptions {
  /** Most documents and most plans cached per model (default 1,000); 0 turns the cache off. */
  readonly max?: number;
  /** Most characters of SQL text and JSON parameters held per model (default 16 Mi). */
  readonly maxChars?: number;
  /** Compile every hit afresh as well and fail with INTERNAL on any difference (tests). */
  readonly verify?: boolean;
}

/** Counters of one model's cache. */
export interface PlanCacheStats {
  /** Requests answered with a cached plan. */
  hits: number;
  /** Requests that found no cached plan (including mutations and documents never cached). */
  misses: number;
  /** Cached plans not used because a value was outside its guard's class (planned afresh). */
  fallbacks: number;
  /** Plans learned and stored. */
  stored: number;
  /** Documents and plans held now, and the characters of SQL and parameters held. */
  documents: number;
  plans: number;
  chars: number;
}

/** What a lookup needs to know about the request's server and caller. */
export interface PlanCacheContext {
  readonly model: Model;
  readonly schema: GraphQLSchema;
  readonly principal: Principal;
  readonly limits: QueryLimits;
  readonly introspection?: boolean;
  readonly compile?: CompileOptions;
}

/** The request as sent. */
export interface PlanCacheRequest {
  readonly query: string;
  readonly variables?: Readonly<Record<string, unknown>> | null;
  readonly operationName?: string | null;
}

/** A query operation just compiled afresh, to be learned. */
export interface FreshPlan {
  readonly document: DocumentNode;
  readonly operation: OperationDefinitionNode;
  /** Coerced variable values the plan was made with (`AnalyzedOperation.variables`). */
  readonly variables: Readonly<Record<string, unknown>>;
  readonly compiled: CompiledQuery;
}

/** The answer of `lookupPlan`. */
export interface PlanLookup {
  /** The statement and parameters of this request, when cached. */
  readonly hit?: CompiledQuery;
  /**
   * With a `hit` whose operation has lists without a bound: the result's row count check
   * (`plan/rows.ts` `resultRowCheck`; throws ROW_LIMIT_EXCEEDED), to call on the `data` JSON text before sending it.
   */
  readonly rowCheck?: (dataText: string) => void;
  /** Learn and store a fresh compilation of this request (call only for cacheable query operations). */
  remember(plan: FreshPlan): void;
}

interface DocumentEntry {
  readonly document: DocumentNode;
  readonly operation: OperationDefinitionNode;
  readonly types: readonly VariableType[];
  /** Baked marks (`plan-template.ts`): grows, never shrinks; plans stored under fewer marks become unreachable. */
  readonly baked: Set<string>;
  /** Cost and row-bound walks of hits, remembered by the variables they read (`plan-bounds.ts`). */
  readonly bounds: BoundsMemo;
  hits: number;
  stored: number;
  disabled: boolean;
}

/** Plans a document may store without being reused as often before it is no longer cached. */
export const MAX_UNUSED_PLANS = 32;
/** Plan keys longer than this are hashed (baked vectors and lists make long keys). */
const MAX_KEY_LENGTH = 512;

const DEFAULTS = { max: 1000, maxChars: 16 * 1024 * 1024, verify: false };

/**
 * Plan-cache settings from the environment: `LATTICE_PLAN_CACHE_SIZE` (entries per model, 0 = off; a value that
 * is not a non-negative integer is ignored) and `LATTICE_PLAN_CACHE_VERIFY=1`.
 */
export function planCacheOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): PlanCacheOptions {
  const size = env.LATTICE_PLAN_CACHE_SIZE === undefined ? NaN : Number(env.LATTICE_PLAN_CACHE_SIZE);
  return {
    ...(Number.isSafeInteger(size) && size >= 0 ? { max: size } : {}),
    ...(env.LATTICE_PLAN_CACHE_VERIFY === '1' ? { verify: true } : {}),
  };
}

let settings: Required<PlanCacheOptions> = { ...DEFAULTS, ...planCacheOptionsFromEnv() };

class PlanCache {
  readonly documents: LRUCache<string, DocumentEntry>;
  readonly plans: LRUCache<string, PlanTemplate>;
  /** Plan keys seen once: a plan is learned on its second sighting (see `rememberPlan`). */
  readonly seen: LRUCache<string, true>;
  readonly stats = { hits: 0, misses: 0, fallbacks: 0, stored: 0 };

  constructor(readonly schema: GraphQLSchema, readonly options: Required<PlanCacheOptions>) {
    this.documents = new LRUCache({ max: options.max });
    this.plans = new LRUCache({ max: options.max, maxSize: options.maxChars });
    this.seen = new LRUCache({ max: options.max });
  }
}

let caches = new WeakMap<Model, PlanCache>();

/**
 * Replace the plan-cache settings; every model's cache is dropped (the next request starts a new one).
 * @param options fields left out keep their defaults (or the environment's, see `planCacheOptionsFromEnv`)
 */
export function configurePlanCache(options: PlanCacheOptions): void {
  settings = { ...DEFAULTS, ...planCacheOptionsFromEnv(), ...options };
  caches = new WeakMap();
}

/** Drop the cached plans of `model`, or of every model. */
export function clearPlanCache(model?: Model): void {
  if (model) caches.delete(model);
  else caches = new WeakMap();
}

/** Counters of `model`'s cache (zeros when it has none yet). */
export function planCacheStats(model: Model): PlanCacheStats {
  const c = caches.get(model);
  return {
    ...(c?.stats ?? { hits: 0, misses: 0, fallbacks: 0, stored: 0 }),
    documents: c?.documents.size ?? 0,
    plans: c?.plans.size ?? 0,
    chars: c?.plans.calculatedSize ?? 0,
  };
}

function cacheOf(ctx: PlanCacheContext): PlanCache | undefined {
  if (settings.max === 0) return undefined;
  let c = caches.get(ctx.model);
  if (!c) caches.set(ctx.model, (c = new PlanCache(ctx.schema, settings)));
  // A schema not built from this model object (never the case through the routes): do not mix plans.
  return c.schema === ctx.schema ? c : undefined;
}

/** Limits and compile options as key text, once per object (servers keep theirs for their lifetime). */
const settingsText = new WeakMap<object, string>();
function textOf(o: object): string {
  let t = settingsText.get(o);
  if (t === undefined) settingsText.set(o, (t = JSON.stringify(o)));
  return t;
}

/** sha256 of recent document texts (clients resend the same few): bounded, emptied when full. */
const documentHashes = new Map<string, string>();
const MAX_DOCUMENT_HASHES = 1000;
const MAX_HASHED_TEXT = 16 * 1024;

function documentHash(query: string): string {
  let h = documentHashes.get(query);
  if (h === undefined) {
    h = hash('sha256', query, 'base64url');
    if (query.length <= MAX_HASHED_TEXT) {
      if (documentHashes.size >= MAX_DOCUMENT_HASHES) documentHashes.clear();
      documentHashes.set(query, h);
    }
  }
  return h;
}

function documentKey(ctx: PlanCacheContext, request: PlanCacheRequest): string {
  return [
    documentHash(request.query),
    request.operationName ?? '',
    isAdmin(ctx.principal) ? 'admin' : 'scoped',
    // Every limit (the planner checks values against them) and compile option (they shape the SQL).
    textOf(ctx.limits),
    ctx.introspection === false ? 'closed' : 'open',
    textOf(ctx.compile ?? DEFAULT_COMPILE_OPTIONS),
  ].join('\n');
}

function planKey(docKey: string, entry: DocumentEntry, principal: Principal, variables: string): string {
  const scope = isAdmin(principal) ? '' : entry.baked.has('@p') ? JSON.stringify(principal.projectIds) : '~';
  const key = `${docKey}\n${scope}\n${variables}`;
  return key.length > MAX_KEY_LENGTH ? `${docKey}\n#${hash('sha256', key, 'base64url')}` : key;
}

/** The planner + compiler of one cached operation, for other variables and principals. */
function recompiler(ctx: PlanCacheContext, entry: Pick<DocumentEntry, 'document'>, operationName: string | null | undefined): Recompile {
  return (variables, principal) => {
    const planCtx = { model: ctx.model, schema: ctx.schema, principal, limits: ctx.limits };
    const analyzed = analyzeOperation(planCtx, entry.document, operationName, variables);
    if (analyzed.introspectionKeys.length > 0) throw new Error('introspection operations are not cached');
    return compileOperation(ctx.model, analyzed.plan, ctx.compile);
  };
}

function verifyHit(ctx: PlanCacheContext, entry: DocumentEntry, request: PlanCacheRequest, hit: CompiledQuery): void {
  let fresh: CompiledQuery | undefined;
  let failure: unknown;
  try {
    fresh = recompiler(ctx, entry, request.operationName)({ ...(request.variables ?? {}) }, ctx.principal);
  } catch (err) {
    failure = err;
  }
  if (!fresh || !sameCompiled(fresh, hit)) {
    throw internal(
      `Plan cache: the cached statement differs from a fresh compilation (${failure ? `fresh compilation failed: ${(failure as Error).message}` : 'different SQL or parameters'}).`,
    );
  }
}

function typesOf(schema: GraphQLSchema, operation: OperationDefinitionNode): VariableType[] | undefined {
  const out: VariableType[] = [];
  for (const d of operation.variableDefinitions ?? []) {
    const type = typeFromAST(schema, d.type);
    if (!type) return undefined;
    out.push({ name: d.variable.name.value, type: type as VariableType['type'] });
  }
  return out;
}

/**
 * Look up the compiled statement of a request, or prepare to learn it.
 * @returns `hit` with the statement and parameters a fresh compilation would give (SQL text identical, values
 *          rebuilt from this request's variables and principal), or no `hit` and a `remember` to call after
 *          compiling afresh. Never throws for a bad request: anything a cached plan cannot vouch for is left
 *          to the ordinary pipeline.
 * @throws LatticeError INTERNAL only in verify mode, when a cached statement differs from a fresh one
 */
export function lookupPlan(ctx: PlanCacheContext, request: PlanCacheRequest): PlanLookup {
  const cache = cacheOf(ctx);
  if (!cache) return { remember: () => undefined };
  const docKey = documentKey(ctx, request);
  const entry = cache.documents.get(docKey);
  const learn: PlanLookup = { remember: (fresh) => rememberPlan(cache, ctx, request, docKey, fresh) };
  if (!entry || entry.disabled) {
    cache.stats.misses += 1;
    return entry?.disabled ? { remember: () => undefined } : learn;
  }
  try {
    if (request.variables) checkJsonNesting(request.variables, 'variables');
  } catch {
    cache.stats.misses += 1;
    return { remember: () => undefined };
  }
  const coerced = getVariableValues(ctx.schema, entry.operation.variableDefinitions ?? [], { ...(request.variables ?? {}) });
  if (coerced.errors) {
    cache.stats.misses += 1;
    return { remember: () => undefined };
  }
  // List sizes are bind parameters guarded only by 0 ≤ n ≤ maxLimit: the cost limit is checked on every hit
  // (a walk of the document, no planning, remembered per value of the variables it reads: plan-bounds.ts);
  // above it the ordinary pipeline plans afresh and refuses. The row budget likewise (a static walk); lists
  // without a bound get the result check as on a miss.
  const { rows } = entry.bounds.bounds(ctx.schema, entry.document, entry.operation, coerced.coerced, ctx.limits);
  if (!rows || rows.rows > maxRowsOf(ctx.limits)) {
    cache.stats.fallbacks += 1;
    return { remember: () => undefined };
  }
  const { key, leaves } = variablesKey(coerced.coerced, entry.types, entry.baked);
  const template = cache.plans.get(planKey(docKey, entry, ctx.principal, key));
  if (!template) {
    cache.stats.misses += 1;
    return learn;
  }
  const params = instantiate(template, leaves, ctx.principal);
  if (!params) {
    cache.stats.fallbacks += 1;
    return { remember: () => undefined };
  }
  cache.stats.hits += 1;
  entry.hits += 1;
  const hit: CompiledQuery = { text: template.text, params, ...(template.rows ? { rows: template.rows } : {}) };
  if (cache.options.verify) verifyHit(ctx, entry, request, hit);
  const rowCheck = resultRowCheck(ctx.schema, entry.document, entry.operation, coerced.coerced, ctx.limits, rows);
  return { hit, ...(rowCheck ? { rowCheck } : {}), remember: () => undefined };
}

function rememberPlan(cache: PlanCache, ctx: PlanCacheContext, request: PlanCacheRequest, docKey: string, fresh: FreshPlan): void {
  let entry = cache.documents.get(docKey);
  if (!entry) {
    const types = typesOf(ctx.schema, fresh.operation);
    if (!types) return;
    entry = { document: fresh.document, operation: fresh.operation, types, baked: new Set(), bounds: new BoundsMemo(), hits: 0, stored: 0, disabled: false };
    cache.documents.set(docKey, entry);
  }
  if (entry.stored >= MAX_UNUSED_PLANS && entry.hits < entry.stored) {
    entry.disabled = true;
    return;
  }
  // Learning costs a compilation per variable value: only for keys seen before, so one-off documents (and
  // clients sending a new document each time) cost nothing extra and do not fill the cache.
  const seenKey = planKey(docKey, entry, ctx.principal, variablesKey(fresh.variables, entry.types, entry.baked).key);
  if (!cache.seen.has(seenKey)) {
    cache.seen.set(seenKey, true);
    return;
  }
  cache.seen.delete(seenKey);
  const { template, marks } = buildTemplate({
    recompile: recompiler(ctx, entry, request.operationName),
    variables: fresh.variables,
    types: entry.types,
    principal: ctx.principal,
    scoped: !isAdmin(ctx.principal),
    compiled: fresh.compiled,
    baked: entry.baked,
    maxLimit: ctx.limits.maxLimit,
  });
  for (const m of marks) entry.baked.add(m);
  const { key } = variablesKey(fresh.variables, entry.types, entry.baked);
  const size = template.text.length + (JSON.stringify(template.params)?.length ?? 0) + 1;
  if (size > cache.options.maxChars) return;
  cache.plans.set(planKey(docKey, entry, ctx.principal, key), template, { size });
  cache.stats.stored += 1;
  entry.stored += 1;
}

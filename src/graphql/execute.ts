/**
 * `executeGraphQL`: one GraphQL request → `{ status, body }` (SPEC G-10, G-11, G-14).
 *
 * Pipeline: parse → validate (graphql-js rules; valid documents cached by text) → plan (`src/graphql/plan`) →
 * `compileRead` → ONE statement in `db.queryAs` (one round trip) → the body is written around PostgreSQL's JSON text
 * without parsing it (fast path). A repeated query document skips parse, validate, plan and compile through
 * the plan cache (`plan-cache.ts`): its SQL text is reused and its bind parameters rebuilt from the request's
 * variables and principal. When the operation also asks for introspection (`__schema`, `__type`), the
 * data root fields are still compiled into one statement; graphql-js `execute` then answers the whole
 * operation with a root value holding those results, read by response key.
 *
 * Mutations (SPEC G-7) are planned by `src/graphql/mutation/plan.ts` and run by `mutation/execute.ts` in one
 * transaction (one write statement per entity type and field, one read per field); a failed field answers 200
 * with `data: null` and its error (an execution error in GraphQL-over-HTTP terms), nothing written.
 *
 * Status codes follow GraphQL-over-HTTP for `application/graphql-response+json`: request errors (syntax,
 * validation, variables, arguments, limits) are 4xx without `data`; the HTTP layer downgrades them to 200
 * for `application/json` clients.
 */
import { execute, getVariableValues, type DocumentNode, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import type { Principal } from '../auth/principal.js';
import { queryableAs } from '../db/session.js';
import type { Db, Queryable } from '../db/types.js';
import type { Model } from '../model/types.js';
import { checkDocumentNesting, checkJsonNesting } from '../nesting.js';
import { compileOperation, type CompiledQuery, type CompileOptions } from '../query/sql/compile.js';
import { writePlainRows } from '../query/sql/plain.js';
import type { ServerConfig } from '../server/context.js';
import { cachedDocument, parseDocument, validateDocument, type ValidationOptions } from './document.js';
import { formatErrors, GraphQLRequestError, requestError, statusOf } from './errors.js';
import { executeMutation } from './mutation/execute.js';
import { lookupPlan } from './plan-cache.js';
import { planMutation } from './mutation/plan.js';
import { checkCost } from './plan/cost.js';
import { checkRows } from './plan/rows.js';
import { analyzeOperation, selectOperation } from './plan/operation.js';

/** What `executeGraphQL` needs (an AppContext-like bag for one request). */
export interface GraphQLExecContext {
  readonly model: Model;
  readonly schema: GraphQLSchema;
  readonly db: Db;
  readonly principal: Principal;
  readonly config: Pick<ServerConfig, 'mode' | 'limits' | 'introspection'>;
  /** Logger for internal errors (pino/Fastify compatible). */
  readonly log?: { error(obj: unknown, msg?: string): void };
  /** What the compiler needs to know about the database (vector storage); default pgvector. */
  readonly compile?: CompileOptions;
}

/** A GraphQL request as sent over HTTP. */
export interface GraphQLRequest {
  readonly query: string;
  readonly variables?: Readonly<Record<string, unknown>> | null;
  readonly operationName?: string | null;
}

/** Options of one execution. */
export interface ExecuteOptions {
  /** HTTP method; a mutation sent with GET is refused with 405 (GraphQL-over-HTTP). */
  readonly method?: 'GET' | 'POST';
  /** Report `extensions.tracing` (SPEC G-15: the `x-lattice-trace: 1` header). */
  readonly trace?: boolean;
}

/**
 * Per-request trace (SPEC G-15, first part): phase durations in milliseconds, the number of data statements the
 * request sent (the one-statement rule, G-10, observable from outside the process), and in development mode
 * the SQL text.
 */
export interface GraphQLTrace {
  parse_validate_ms: number;
  plan_ms: number;
  sql_ms: number;
  statements: number;
  /** `hit`: the statement came from the plan cache (parse, validate, plan and compile skipped; `plan_ms` is the look-up). */
  plan_cache?: 'hit' | 'miss';
  sql?: string;
}

/** The HTTP answer: status and JSON text body. */
export interface GraphQLHttpResult {
  readonly status: number;
  readonly body: string;
  /** Present when tracing was asked for (also sent as a `Server-Timing` header). */
  readonly trace?: GraphQLTrace;
  /** `Allow` header of a 405 answer (a mutation over GET: `POST`). */
  readonly allow?: string;
}

/** Wraps a transaction handle so every statement the request sends through it is counted in the trace. */
function counting(tx: Queryable, trace: GraphQLTrace): Queryable {
  return {
    query: (text, params, options) => {
      trace.statements += 1;
      return tx.query(text, params, options);
    },
  };
}

const elapsedMs = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

/** Reads a field's value from its parent by response key (alias-aware), for the mixed introspection path. */
const byResponseKey: GraphQLFieldResolver<unknown, unknown> = (source, _args, _ctx, info) =>
  source === null || typeof source !== 'object' ? undefined : (source as Record<string, unknown>)[info.path.key as string];

function errorResult(ctx: GraphQLExecContext, err: unknown): GraphQLHttpResult {
  const errors = formatErrors(err, {
    mode: ctx.config.mode,
    onInternal: (e) => ctx.log?.error({ err: e }, 'GraphQL request failed with an internal error'),
  });
  return { status: statusOf(err), body: JSON.stringify({ errors }) };
}

function documentOf(schema: GraphQLSchema, request: GraphQLRequest, method: 'GET' | 'POST', validation: ValidationOptions): DocumentNode {
  const cached = cachedDocument(schema, request.query, validation);
  if (!cached) checkDocumentNesting(request.query);
  if (request.variables) checkJsonNesting(request.variables, 'variables');
  const document = cached ?? parseDocument(request.query);
  if (method === 'GET') {
    const op = selectOperation(document, request.operationName);
    if (op.operation !== 'query') {
      throw Object.assign(requestError('BAD_USER_INPUT', `A ${op.operation} cannot be sent with GET; use POST.`, op), { httpStatus: 405, allow: 'POST' });
    }
  }
  return cached ?? validateDocument(schema, request.query, document, validation);
}

async function runData(ctx: GraphQLExecContext, { text, params, rows: plain }: CompiledQuery, trace: GraphQLTrace): Promise<string> {
  if (ctx.config.mode === 'development') trace.sql = text;
  const start = process.hrtime.bigint();
  const db = counting(queryableAs(ctx.db, ctx.principal), trace);
  if (plain) {
    const result = await db.query<Array<string | null>>(text, params, { raw: true });
    trace.sql_ms = elapsedMs(start);
    return writePlainRows(plain, result.rows);
  }
  const rows = await db.query<{ data: unknown }>(text, params);
  trace.sql_ms = elapsedMs(start);
  const data = rows.rows[0]?.data;
  return typeof data === 'string' ? data : JSON.stringify(data ?? {});
}

/**
 * Execute one GraphQL request for `ctx.principal`.
 * @returns `{ status, body }`: 200 with `{"data":...}` on success; request errors 4xx with `{"errors":[...]}`
 *          (each error has `extensions.code`, SPEC G-14); a mutation over GET 405; database or unknown failures
 *          500 INTERNAL (message generic; the original under `extensions.original` in development mode).
 *          Never throws.
 */
export async function executeGraphQL(
  ctx: GraphQLExecContext,
  request: GraphQLRequest,
  options: ExecuteOptions = {},
): Promise<GraphQLHttpResult> {
  const trace: GraphQLTrace = { parse_validate_ms: 0, plan_ms: 0, sql_ms: 0, statements: 0 };
  const traced = (body: string): GraphQLHttpResult =>
    options.trace ? { status: 200, body: `${body.slice(0, -1)},"extensions":{"tracing":${JSON.stringify(trace)}}}`, trace } : { status: 200, body };
  try {
    let phase = process.hrtime.bigint();
    if (typeof request.query !== 'string' || request.query.trim() === '') {
      throw requestError('BAD_USER_INPUT', 'Send a GraphQL document in "query", e.g. { "query": "{ projects { id name } }" }.');
    }
    const cached = lookupPlan(
      { model: ctx.model, schema: ctx.schema, principal: ctx.principal, limits: ctx.config.limits, introspection: ctx.config.introspection, compile: ctx.compile },
      request,
    );
    trace.plan_cache = cached.hit ? 'hit' : 'miss';
    if (cached.hit) {
      trace.plan_ms = elapsedMs(phase);
      const data = await runData(ctx, cached.hit, trace);
      cached.rowCheck?.(data); // row budget (SPEC G-12) of lists without a bound
      return traced(`{"data":${data}}`);
    }
    const document = documentOf(ctx.schema, request, options.method ?? 'POST', { introspection: ctx.config.introspection });
    trace.parse_validate_ms = elapsedMs(phase);
    phase = process.hrtime.bigint();
    const planCtx = { model: ctx.model, schema: ctx.schema, principal: ctx.principal, limits: ctx.config.limits };
    const op = selectOperation(document, request.operationName);
    if (op.operation === 'mutation') {
      const plan = planMutation(planCtx, document, op, request.variables);
      // The cost limit and the static row budget (SPEC G-12) on the mutation's selections, before anything is
      // written; the variables were coerced by planMutation.
      const coerced = getVariableValues(ctx.schema, op.variableDefinitions ?? [], { ...(request.variables ?? {}) });
      if (!coerced.errors) checkCost(ctx.schema, document, op, coerced.coerced, ctx.config.limits);
      if (!coerced.errors) checkRows(ctx.schema, document, op, coerced.coerced, ctx.config.limits);
      trace.plan_ms = elapsedMs(phase);
      try {
        const data = await executeMutation({ model: ctx.model, db: ctx.db, principal: ctx.principal, mode: ctx.config.mode, compile: ctx.compile }, plan, trace);
        return traced(`{"data":${data}}`);
      } catch (err) {
        if (!(err instanceof GraphQLRequestError)) throw err;
        // An execution (field) error: the operation ran and was rolled back; 200 with data null.
        return traced(JSON.stringify({ errors: formatErrors(err, { mode: ctx.config.mode }), data: null }));
      }
    }
    const analyzed = analyzeOperation(planCtx, document, request.operationName, request.variables);
    if (analyzed.operation.operation !== 'query') {
      throw requestError('BAD_USER_INPUT', 'Subscriptions run over WebSocket (graphql-ws protocol) at /graphql or Server-Sent Events (graphql-sse) at /graphql/stream, not over plain HTTP.');
    }
    trace.plan_ms = elapsedMs(phase);
    const hasData = analyzed.plan.roots.some((r) => r.node.kind !== 'typename');
    const compiled = hasData ? compileOperation(ctx.model, analyzed.plan, ctx.compile) : undefined;
    // Cached: operations answered by the statement alone (no introspection, not only `__typename`).
    if (compiled && analyzed.introspectionKeys.length === 0) {
      cached.remember({ document, operation: analyzed.operation, variables: analyzed.variables, compiled });
    }
    // Only `__typename` (or nothing) at the root: no data to read, no statement.
    const dataText = compiled ? await runData(ctx, compiled, trace) : JSON.stringify(Object.fromEntries(analyzed.plan.roots.map((r) => [r.responseKey, 'value' in r.node ? r.node.value : null])));
    if (compiled) analyzed.rowCheck?.(dataText); // row budget (SPEC G-12) of lists without a bound
    if (analyzed.introspectionKeys.length === 0) return traced(`{"data":${dataText}}`);

    const result = await execute({
      schema: ctx.schema,
      document,
      rootValue: JSON.parse(dataText) as Record<string, unknown>,
      variableValues: request.variables ?? undefined,
      operationName: request.operationName ?? undefined,
      fieldResolver: byResponseKey,
    });
    const body: Record<string, unknown> = {};
    if (result.errors?.length) body.errors = result.errors.flatMap((e) => formatErrors(e, { mode: ctx.config.mode, onInternal: (x) => ctx.log?.error({ err: x }, 'GraphQL execution error') }));
    body.data = result.data ?? null;
    return traced(JSON.stringify(body));
  } catch (err) {
    const res = errorResult(ctx, err);
    const { httpStatus, allow } = err as { httpStatus?: number; allow?: string };
    return httpStatus ? { ...res, status: httpStatus, ...(allow ? { allow } : {}) } : res;
  }
}

/**
 * Per-entity REST resources (SPEC R-1) under `/api/v1/<plural>`:
 * - `POST` one object or an array → 201 with the created object(s) (200 when every row already existed: an
 *   idempotent retry); all rows or none (one transaction); per-row problems are listed in `details`;
 * - `GET /{id}` → the object or 404;
 * - `GET` → `{ items, total_count, limit, offset }` with `limit`, `offset`, `order_by` (keys may follow to-one
 *   relations: `-trial.experiment.name`), equality parameters, `filter` (JSON, `filter.ts`), `search` and
 *   `nearest` (`search-params.ts`); with `search` each item also carries `_rank`, with `nearest` `_distance`
 *   (`read.ts` `listItemSelection`); the route has no response schema, so nothing is stripped;
 * - `PATCH /{id}` → the updated object (partial update of writable fields; 404 unknown id);
 * - `DELETE /{id}` → 204 (404 unknown id; 409 while rows reference it through an `on_delete: restrict` ref;
 *   `cascade` refs delete their rows too).
 * Writes use the write plans of `src/query/write` (the ones `<entity>.update` / `.delete` ingestion events run);
 * reads the shared read compiler (`read.ts`). Roles that cannot write (viewers) get 403; ids of other projects
 * are 404, as if absent, and are never changed.
 */
import type { ValidateFunction } from 'ajv';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.js';
import { queryableAs } from '../db/session.js';
import type { Queryable } from '../db/types.js';
import { LatticeError, notFound, type ErrorCode, type ErrorDetail } from '../errors.js';
import type { Entity, Model } from '../model/types.js';
import type { Filter, ListArgs } from '../query/plan.js';
import { executeWrite, withWriteIsolation } from '../query/write/execute.js';
import { isSuccess, type RowOutcome, type WriteMode } from '../query/write/plan.js';
import { requirePrincipal } from '../server/auth-hook.js';
import type { AppContext } from '../server/context.js';
import { parseFilterParam } from './filter.js';
import { listArgs } from './list-args.js';
import { readByIds, readOne, readPage } from './read.js';
import { MAX_BATCH, toWriteRow } from './rows.js';
import { createBodySchema, idParamsSchema, listQuerySchema, patchBodySchema } from './schemas.js';
import { parseNearestParam, parseSearchParam } from './search-params.js';
import { validateOrThrow, type Validators } from './validate.js';

/** Default page size of list requests. */
export const DEFAULT_LIMIT = 100;

/** Error code of a failed row outcome. */
function codeOf(o: RowOutcome): ErrorCode {
  if (o.status === 409) return 'CONFLICT';
  if (o.status === 403) return 'FORBIDDEN';
  if (o.status === 404) return 'NOT_FOUND';
  return 'BAD_USER_INPUT';
}

/**
 * The error of a create request some of whose rows failed: the code of the first failure, its message, and a
 * detail per failed row (`body[2].trial_id` for arrays, `body.trial_id` for one object).
 */
export function rowsError(outcomes: readonly RowOutcome[], many: boolean): LatticeError {
  const failed = outcomes.map((o, i) => [o, i] as const).filter(([o]) => !isSuccess(o));
  const details: ErrorDetail[] = failed.map(([o, i]) => ({
    path: `body${many ? `[${i}]` : ''}${o.column ? `.${o.column}` : ''}`,
    message: o.message ?? 'failed',
  }));
  const [first] = failed[0];
  const more = failed.length > 1 ? ` (${failed.length} rows failed; see details. Nothing was written.)` : '';
  return new LatticeError(codeOf(first), `${first.message ?? 'Row refused.'}${more}`, details);
}

/**
 * List arguments of `GET /api/v1/<plural>`: those of `listArgs` (limit, offset, order_by, equality parameters)
 * plus `filter`, `search` and `nearest`; the equality parameters and `filter` must all hold.
 * @throws LatticeError BAD_USER_INPUT naming the parameter (and the path inside a JSON parameter)
 */
export function restListArgs(model: Model, entity: Entity, query: Readonly<Record<string, unknown>>): ListArgs {
  const base = listArgs(model, entity, query);
  const filters: Filter[] = [];
  if (base.filter) filters.push(base.filter);
  if (typeof query.filter === 'string') filters.push(parseFilterParam(model, entity, query.filter));
  const filter: Filter | undefined = filters.length === 0 ? undefined : filters.length === 1 ? filters[0] : { kind: 'and', items: filters };
  return {
    ...base,
    ...(filter ? { filter } : {}),
    ...(typeof query.search === 'string' ? { search: parseSearchParam(entity, query.search) } : {}),
    ...(typeof query.nearest === 'string' ? { nearest: parseNearestParam(entity, query.nearest) } : {}),
  };
}

/**
 * Write one row by id (`PATCH` / `DELETE`) through the ingestion write path, in one transaction; `then` runs
 * in the same transaction after a successful write (e.g. to read the row back).
 * @throws LatticeError FORBIDDEN for roles that cannot write, NOT_FOUND for an id absent from the principal's
 *         projects, and the write path's per-row errors as `POST` answers them (409 CONFLICT for a unique value
 *         in use or a row still referenced; 400 for a reference to nothing in the row's project or an invalid
 *         value)
 */
async function writeById<T>(
  ctx: AppContext,
  model: Model,
  principal: Principal,
  entity: Entity,
  mode: Extract<WriteMode, 'update' | 'delete'>,
  values: Record<string, unknown>,
  then: (tx: Queryable) => Promise<T>,
): Promise<T> {
  const row = toWriteRow(principal, mode, values);
  return withWriteIsolation(ctx.db, principal, async (tx, isolate) => {
    const [outcome] = await executeWrite(tx, model, { entity: entity.name, mode, rows: [row] }, isolate);
    if (outcome.kind === 'not_found') throw notFound(`No ${entity.name} with id ${String(row.values.id)} in this key's projects; check the id.`);
    if (!isSuccess(outcome)) throw rowsError([outcome], false);
    return then(tx);
  });
}

/** The compiled validators of one entity's routes (per Model object, see `entityRoutesOf`). */
interface EntityRouteValidators {
  readonly entity: Entity;
  readonly createBody: ValidateFunction;
  readonly patchBody: ValidateFunction;
  readonly listQuery: ValidateFunction;
}

/** Route validators by plural, per Model object and compiled on first use: a model swap gets its own. */
const routeValidators = new WeakMap<Model, Map<string, EntityRouteValidators | null>>();

/**
 * The data entity served at `/api/v1/<plural>` in `model`, with its compiled route validators, or undefined.
 * Compiled once per (Model object, entity); a run-time model change (SPEC M-7) builds a new Model, so its
 * routes validate against the new schemas from the next request on, while requests in flight finish with
 * the model they started with.
 */
function entityRoutesOf(model: Model, plural: string, validators: Validators, maxLimit: number): EntityRouteValidators | undefined {
  let byPlural = routeValidators.get(model);
  if (!byPlural) routeValidators.set(model, (byPlural = new Map()));
  let found = byPlural.get(plural);
  if (found === undefined) {
    const entity = [...model.entities.values()].find((e) => !e.system && e.plural === plural);
    found = entity
      ? {
          entity,
          createBody: validators.compileBody(createBodySchema(entity, MAX_BATCH)),
          patchBody: validators.compileBody(patchBodySchema(entity)),
          listQuery: validators.compileQuery(listQuerySchema(entity, maxLimit, DEFAULT_LIMIT)),
        }
      : null;
    byPlural.set(plural, found);
  }
  return found ?? undefined;
}

/** Path prefix of the entity routes; `:plural` is matched against the model served when a request arrives. */
export const ENTITY_ROUTE = '/api/v1/:plural';

/**
 * Register `POST`, `GET /{id}`, `GET`, `PATCH /{id}` and `DELETE /{id}` under `/api/v1/:plural` in the REST
 * plugin's scope. The routes do not depend on the model: each request resolves the entity in the model served
 * when it arrived (`ctx.model()`) and validates against that model's schemas, so a run-time model change adds
 * and removes resources without re-registering routes (Fastify cannot add routes once listening). An unknown
 * plural answers 404 like any unknown route (checked by `isEntityPath` before authentication).
 */
export function registerEntityRoutes(app: FastifyInstance, ctx: AppContext, validators: Validators): void {
  const maxLimit = ctx.config.limits.maxLimit;
  const idParams = validators.compileQuery(idParamsSchema);
  const resolve = (request: FastifyRequest, model: Model): EntityRouteValidators => {
    const plural = (request.params as { plural: string }).plural;
    const routes = entityRoutesOf(model, plural, validators, maxLimit);
    if (!routes) throw unknownRoute(request);
    if ((request.params as { id?: string }).id !== undefined) {
      validateOrThrow(idParams, { id: (request.params as { id: string }).id }, 'params');
    }
    return routes;
  };

  app.post(ENTITY_ROUTE, async (request, reply) => {
    const principal = requirePrincipal(request);
    const model = ctx.model();
    const { entity, createBody } = resolve(request, model);
    validateOrThrow(createBody, request.body, 'body');
    const many = Array.isArray(request.body);
    const bodies = (many ? request.body : [request.body]) as Record<string, unknown>[];
    const rows = bodies.map((body) => toWriteRow(principal, 'create', body));
    const { outcomes, objects } = await withWriteIsolation(ctx.db, principal, async (tx, isolate) => {
      const outcomes = await executeWrite(tx, model, { entity: entity.name, mode: 'create', rows }, isolate);
      if (!outcomes.every(isSuccess)) throw rowsError(outcomes, many);
      const objects = await readByIds(tx, model, principal, entity, outcomes.map((o) => o.id));
      return { outcomes, objects };
    });
    reply.code(outcomes.some((o) => o.kind === 'inserted') ? 201 : 200);
    return many ? objects : objects[0];
  });

  app.get(`${ENTITY_ROUTE}/:id`, async (request) => {
    const principal = requirePrincipal(request);
    const model = ctx.model();
    const { entity } = resolve(request, model);
    const id = (request.params as { id: string }).id.toLowerCase();
    const row = await readOne(queryableAs(ctx.db, principal), model, principal, entity, id);
    if (!row) throw notFound(`No ${entity.name} with id ${id} in this key's projects; check the id.`);
    return row;
  });

  app.get(ENTITY_ROUTE, async (request) => {
    const principal = requirePrincipal(request);
    const model = ctx.model();
    const { entity, listQuery } = resolve(request, model);
    validateOrThrow(listQuery, request.query, 'querystring');
    const args = restListArgs(model, entity, request.query as Record<string, unknown>);
    const page = await readPage(queryableAs(ctx.db, principal), model, principal, entity, args, ctx.compile);
    return { items: page.items, total_count: page.total_count, limit: args.limit, offset: args.offset };
  });

  app.patch(`${ENTITY_ROUTE}/:id`, async (request) => {
    const principal = requirePrincipal(request);
    const model = ctx.model();
    const { entity, patchBody } = resolve(request, model);
    validateOrThrow(patchBody, request.body, 'body');
    const id = (request.params as { id: string }).id.toLowerCase();
    const body = request.body as Record<string, unknown>;
    const read = async (tx: Queryable) => {
      const row = await readOne(tx, model, principal, entity, id);
      if (!row) throw notFound(`No ${entity.name} with id ${id} in this key's projects; check the id.`);
      return row;
    };
    if (Object.keys(body).length === 0) {
      // Nothing to change: no write (which would touch updated_at), but the same 403 / 404 as a real patch.
      toWriteRow(principal, 'update', { id });
      return read(queryableAs(ctx.db, principal));
    }
    return writeById(ctx, model, principal, entity, 'update', { ...body, id }, read);
  });

  app.delete(`${ENTITY_ROUTE}/:id`, async (request, reply) => {
    const principal = requirePrincipal(request);
    const model = ctx.model();
    const { entity } = resolve(request, model);
    const id = (request.params as { id: string }).id.toLowerCase();
    await writeById(ctx, model, principal, entity, 'delete', { id }, async () => undefined);
    return reply.code(204).send();
  });
}

/**
 * Whether `request` is for an entity route whose plural the served model does not have (answered 404 before
 * authentication, like a route that does not exist).
 */
export function isUnknownEntityPath(request: FastifyRequest, ctx: AppContext): boolean {
  const url = request.routeOptions.url;
  if (url !== ENTITY_ROUTE && url !== `${ENTITY_ROUTE}/:id`) return false;
  const plural = (request.params as { plural?: string }).plural ?? '';
  return ![...ctx.model().entities.values()].some((e) => !e.system && e.plural === plural);
}

/** The 404 of a route that does not exist (same words as the server's not-found handler). */
export function unknownRoute(request: FastifyRequest): LatticeError {
  return notFound(`No route ${request.method} ${request.url.split('?')[0]}; use /graphql for GraphQL and /api/v1/<plural> (e.g. /api/v1/experiments) for REST.`);
}

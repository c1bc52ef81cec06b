/**
 * Per-entity REST resources (SPEC R-1, create/get/list) under `/api/v1/<plural>`:
 * - `POST` one object or an array → 201 with the created object(s) (200 when every row already existed: an
 *   idempotent retry); all rows or none (one transaction); per-row problems are listed in `details`;
 * - `GET /{id}` → the object or 404;
 * - `GET` → `{ items, total_count, limit, offset }` with `limit`, `offset`, `order_by`, equality parameters.
 * Writes use the write plans of `src/query/write`; reads the shared read compiler (`read.ts`).
 */
import type { FastifyInstance } from 'fastify';
import { LatticeError, notFound, type ErrorCode, type ErrorDetail } from '../errors.js';
import type { Entity } from '../model/types.js';
import { executeWrite, withWriteIsolation } from '../query/write/execute.js';
import { isSuccess, type RowOutcome } from '../query/write/plan.js';
import { requirePrincipal } from '../server/auth-hook.js';
import type { AppContext } from '../server/context.js';
import { listArgs } from './list-args.js';
import { readByIds, readOne, readPage } from './read.js';
import { MAX_BATCH, toWriteRow } from './rows.js';
import { createBodySchema, idParamsSchema, listQuerySchema } from './schemas.js';

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

/** Register `POST`, `GET /{id}` and `GET` of one entity in the REST plugin's scope. */
export function registerEntityRoutes(app: FastifyInstance, ctx: AppContext, entity: Entity): void {
  const base = `/api/v1/${entity.plural}`;

  app.post(base, { schema: { body: createBodySchema(entity, MAX_BATCH) } }, async (request, reply) => {
    const principal = requirePrincipal(request);
    const model = ctx.model();
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

  app.get(`${base}/:id`, { schema: { params: idParamsSchema } }, async (request) => {
    const principal = requirePrincipal(request);
    const id = (request.params as { id: string }).id.toLowerCase();
    const row = await ctx.db.withPrincipal(principal, (tx) => readOne(tx, ctx.model(), principal, entity, id));
    if (!row) throw notFound(`No ${entity.name} with id ${id} in this key's projects; check the id.`);
    return row;
  });

  app.get(base, { schema: { querystring: listQuerySchema(entity, ctx.config.limits.maxLimit, DEFAULT_LIMIT) } }, async (request) => {
    const principal = requirePrincipal(request);
    const args = listArgs(entity, request.query as Record<string, unknown>);
    const page = await ctx.db.withPrincipal(principal, (tx) => readPage(tx, ctx.model(), principal, entity, args));
    return { items: page.items, total_count: page.total_count, limit: args.limit, offset: args.offset };
  });
}

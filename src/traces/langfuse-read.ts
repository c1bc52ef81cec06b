/**
 * Langfuse's public read API on the traces preset (SPEC R-6), plus `POST /api/public/scores`:
 *
 * - `GET /api/public/traces` (filters `userId`, `name`, `sessionId`, `fromTimestamp`, `toTimestamp`, `tags` —
 *   all of them —, `version`, `release`, `environment`; `orderBy` `<field>.<asc|desc>` over id, timestamp, name,
 *   userId, release, version, public, bookmarked, sessionId; default `timestamp.desc`);
 * - `GET /api/public/traces/{id}` (with its observations and scores);
 * - `GET /api/public/observations` (filters `name`, `userId`, `type`, `traceId`, `parentObservationId`,
 *   `environment`, `fromStartTime`, `toStartTime`, `version`; newest start first) and `/observations/{id}`;
 * - `GET /api/public/scores` and `/api/public/v2/scores` (filters `userId`, `name`, `fromTimestamp`, `toTimestamp`, `source`, `operator` +
 *   `value`, `scoreIds`, `configId`, `dataType`, `traceTags`, `environment`, `traceId`, `observationId`,
 *   `sessionId`; newest first);
 * - `POST /api/public/scores` (`CreateScoreRequest` → `{ id }`), written by the traces store.
 *
 * Pagination is Langfuse's: `page` from 1, `limit` 1–100 (default 50). Ids in paths and filters are the
 * client's ids (mapped with `rowIdFor`). Each read is one statement (`langfuse-read-sql.ts`) as the caller,
 * whose JSON text is sent as it is; an id of another project reads as 404, like an unknown one.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { uuidv7 } from 'uuidv7';
import { canWrite, type Principal } from '../auth/principal.js';
import { badInput, conflict, forbidden, LatticeError, notFound } from '../errors.js';
import { qualified } from '../query/sql/ident.js';
import { scopeOf } from '../rest/read.js';
import type { JsonSchema } from '../rest/schemas.js';
import { requirePrincipal } from '../server/auth-hook.js';
import type { AppContext } from '../server/context.js';
import { rowIdFor } from './ids.js';
import { EVENT_BODY_SCHEMAS, eventToRecord } from './langfuse-events.js';
import { LangfuseSql, type Condition, type ListSpec, type ReadSql } from './langfuse-read-sql.js';
import { requireTracesModel, type TracesModel } from './model.js';
import { writeTraceBatch } from './store.js';
import { traceWriteProject } from './project-header.js';

const text = { type: 'string', minLength: 1, maxLength: 1000 } as const;
const time = { type: 'string', format: 'date-time' } as const;
const strings = { anyOf: [{ type: 'string', maxLength: 1000 }, { type: 'array', items: { type: 'string', maxLength: 1000 }, maxItems: 100 }] } as const;
const paging = { page: { type: 'integer', minimum: 1, default: 1 }, limit: { type: 'integer', minimum: 1, maximum: 100, default: 50 } } as const;
const query = (properties: Record<string, unknown>): JsonSchema => ({ type: 'object', additionalProperties: false, properties: { ...paging, ...properties } });
const idParams = { type: 'object', required: ['id'], properties: { id: text } } as const;

const TRACE_ORDER: Readonly<Record<string, string>> = {
  id: `coalesce(x."external_id", x."id"::text)`, timestamp: 'x."timestamp"', name: 'x."name"', userId: 'x."user_id"', release: 'x."release"',
  version: 'x."version"', public: 'x."public"', bookmarked: 'x."bookmarked"', sessionId: 'x."session_id"',
};

const TRACES_QUERY = query({
  userId: text, name: text, sessionId: text, fromTimestamp: time, toTimestamp: time, tags: strings, version: text, release: text,
  environment: strings, orderBy: { type: 'string', pattern: `^(${Object.keys(TRACE_ORDER).join('|')})\\.(asc|desc)$` },
});
const OBSERVATIONS_QUERY = query({
  name: text, userId: text, type: { enum: ['SPAN', 'GENERATION', 'EVENT', 'AGENT', 'TOOL', 'CHAIN', 'RETRIEVER', 'EVALUATOR', 'EMBEDDING', 'GUARDRAIL'] },
  traceId: text, parentObservationId: text, environment: strings, fromStartTime: time, toStartTime: time, version: text,
});
const OPERATORS = { '<': '<', '>': '>', '<=': '<=', '>=': '>=', '=': '=', '!=': '<>' } as const;
const SCORES_QUERY = query({
  userId: text, name: text, fromTimestamp: time, toTimestamp: time, source: { enum: ['API', 'EVAL', 'ANNOTATION'] },
  operator: { enum: Object.keys(OPERATORS) }, value: { type: 'number' }, scoreIds: text, configId: text,
  dataType: { enum: ['NUMERIC', 'BOOLEAN', 'CATEGORICAL'] }, traceTags: strings, environment: strings, traceId: text, observationId: text,
  sessionId: text,
});

type Query = Record<string, unknown>;
const list = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : [v as string]);

/** Equality of column `col` of alias `x` with a query value. */
const eq = (col: string, value: unknown, type = 'text'): Condition => (p) => `x."${col}"${type === 'text' ? '' : '::text'} = ${p.add(value, 'text')}`;

/** Run one read as the principal and send its JSON text; `null` answers 404 with `missing`. */
async function sendRead(ctx: AppContext, principal: Principal, reply: FastifyReply, sql: ReadSql, missing?: string): Promise<FastifyReply> {
  const { rows } = await ctx.db.queryAs<{ data: string }>(principal, sql.text, sql.params);
  if (rows[0].data === 'null') throw notFound(missing ?? 'Not found.');
  return reply.type('application/json; charset=utf-8').send(rows[0].data);
}

/** Register the read routes and `POST /api/public/scores` (inside the traces plugin scope). */
export function registerLangfuseReads(app: FastifyInstance, ctx: AppContext): void {
  const sqlFor = (principal: Principal, route: string) => new LangfuseSql(requireTracesModel(ctx.model(), route), scopeOf(principal));
  const spec = (q: Query, conditions: Condition[], orderBy: string): ListSpec => ({ conditions, orderBy, page: q.page as number, limit: q.limit as number });

  app.get('/api/public/traces', { schema: { querystring: TRACES_QUERY } }, async (request, reply) => {
    const principal = requirePrincipal(request);
    const q = request.query as Query;
    const c: Condition[] = [];
    if (q.userId !== undefined) c.push(eq('user_id', q.userId));
    if (q.name !== undefined) c.push(eq('name', q.name));
    if (q.version !== undefined) c.push(eq('version', q.version));
    if (q.release !== undefined) c.push(eq('release', q.release));
    if (q.fromTimestamp !== undefined) c.push((p) => `x."timestamp" >= ${p.add(q.fromTimestamp, 'timestamptz')}`);
    if (q.toTimestamp !== undefined) c.push((p) => `x."timestamp" < ${p.add(q.toTimestamp, 'timestamptz')}`);
    if (q.tags !== undefined) c.push((p) => `x."tags" @> ${p.add(list(q.tags), 'text[]')}`);
    if (q.environment !== undefined) c.push((p) => `coalesce(x."environment", 'default') = ANY(${p.add(list(q.environment), 'text[]')})`);
    const tm = requireTracesModel(ctx.model(), 'GET /api/public/traces');
    if (q.sessionId !== undefined) c.push(sessionCondition(tm, q.sessionId as string));
    const [field, dir] = String(q.orderBy ?? 'timestamp.desc').split('.');
    const orderBy = field === 'sessionId' ? sessionOrder(tm, dir) : `${TRACE_ORDER[field]} ${dir === 'asc' ? 'ASC' : 'DESC'}`;
    return sendRead(ctx, principal, reply, new LangfuseSql(tm, scopeOf(principal)).traces(spec(q, c, orderBy)));
  });

  app.get('/api/public/traces/:id', { schema: { params: idParams } }, async (request, reply) => {
    const principal = requirePrincipal(request);
    const { id } = request.params as { id: string };
    const sql = sqlFor(principal, 'GET /api/public/traces/{id}');
    return sendRead(ctx, principal, reply, sql.traceById(rowIdFor('trace', id)), `No trace "${id}" in this key's project; check the id.`);
  });

  app.get('/api/public/observations', { schema: { querystring: OBSERVATIONS_QUERY } }, async (request, reply) => {
    const principal = requirePrincipal(request);
    const q = request.query as Query;
    const tm = requireTracesModel(ctx.model(), 'GET /api/public/observations');
    const c: Condition[] = [];
    if (q.name !== undefined) c.push(eq('name', q.name));
    if (q.type !== undefined) c.push(eq('type', q.type, 'enum'));
    if (q.version !== undefined) c.push(eq('version', q.version));
    if (q.traceId !== undefined) c.push((p) => `x."trace_id" = ${p.add(rowIdFor('trace', q.traceId as string), 'uuid')}`);
    if (q.parentObservationId !== undefined) c.push((p) => `x."parent_id" = ${p.add(rowIdFor('observation', q.parentObservationId as string), 'uuid')}`);
    if (q.fromStartTime !== undefined) c.push((p) => `x."start_time" >= ${p.add(q.fromStartTime, 'timestamptz')}`);
    if (q.toStartTime !== undefined) c.push((p) => `x."start_time" < ${p.add(q.toStartTime, 'timestamptz')}`);
    if (q.environment !== undefined) c.push((p) => `coalesce(x."environment", 'default') = ANY(${p.add(list(q.environment), 'text[]')})`);
    if (q.userId !== undefined) c.push(traceCondition(tm, 'trace_id', (p) => `t."user_id" = ${p.add(q.userId, 'text')}`));
    const sql = new LangfuseSql(tm, scopeOf(principal));
    return sendRead(ctx, principal, reply, sql.observations(spec(q, c, 'x."start_time" DESC NULLS LAST')));
  });

  app.get('/api/public/observations/:id', { schema: { params: idParams } }, async (request, reply) => {
    const principal = requirePrincipal(request);
    const { id } = request.params as { id: string };
    const sql = sqlFor(principal, 'GET /api/public/observations/{id}');
    return sendRead(ctx, principal, reply, sql.observationById(rowIdFor('observation', id)), `No observation "${id}" in this key's project; check the id.`);
  });

  const listScores = async (request: FastifyRequest, reply: FastifyReply) => {
    const principal = requirePrincipal(request);
    const q = request.query as Query;
    const tm = requireTracesModel(ctx.model(), 'GET /api/public/scores');
    if ((q.operator === undefined) !== (q.value === undefined)) throw badInput('Give "operator" and "value" together (e.g. operator=>=&value=0.5).');
    const c: Condition[] = [];
    if (q.name !== undefined) c.push(eq('name', q.name));
    if (q.source !== undefined) c.push(eq('source', q.source, 'enum'));
    if (q.dataType !== undefined) c.push(eq('data_type', q.dataType, 'enum'));
    if (q.configId !== undefined) c.push(eq('config_id', q.configId));
    if (q.fromTimestamp !== undefined) c.push((p) => `x."timestamp" >= ${p.add(q.fromTimestamp, 'timestamptz')}`);
    if (q.toTimestamp !== undefined) c.push((p) => `x."timestamp" < ${p.add(q.toTimestamp, 'timestamptz')}`);
    if (q.operator !== undefined) c.push((p) => `x."value" ${OPERATORS[q.operator as keyof typeof OPERATORS]} ${p.add(q.value, 'float8')}`);
    if (q.scoreIds !== undefined) {
      const ids = String(q.scoreIds).split(',').map((s) => s.trim()).filter(Boolean).map((s) => rowIdFor('score', s));
      c.push((p) => `x."id" = ANY(${p.add(ids, 'uuid[]')})`);
    }
    if (q.environment !== undefined) c.push((p) => `coalesce(x."environment", 'default') = ANY(${p.add(list(q.environment), 'text[]')})`);
    if (q.traceId !== undefined) c.push((p) => `x."trace_id" = ${p.add(rowIdFor('trace', q.traceId as string), 'uuid')}`);
    if (q.observationId !== undefined) c.push((p) => `x."observation_id" = ${p.add(rowIdFor('observation', q.observationId as string), 'uuid')}`);
    if (q.sessionId !== undefined) c.push(sessionCondition(tm, q.sessionId as string));
    if (q.userId !== undefined) c.push(traceCondition(tm, 'trace_id', (p) => `t."user_id" = ${p.add(q.userId, 'text')}`));
    if (q.traceTags !== undefined) c.push(traceCondition(tm, 'trace_id', (p) => `t."tags" @> ${p.add(list(q.traceTags), 'text[]')}`));
    return sendRead(ctx, principal, reply, new LangfuseSql(tm, scopeOf(principal)).scores(spec(q, c, 'x."timestamp" DESC NULLS LAST')));
  };
  // Langfuse serves the score list at /api/public/scores (v1) and /api/public/v2/scores (the SDK's `api.scoreV2Get`).
  app.get('/api/public/scores', { schema: { querystring: SCORES_QUERY } }, listScores);
  app.get('/api/public/v2/scores', { schema: { querystring: SCORES_QUERY } }, listScores);

  app.post('/api/public/scores', { schema: { body: EVENT_BODY_SCHEMAS['score-create'] } }, async (request) => {
    const principal = requirePrincipal(request);
    if (!canWrite(principal)) throw forbidden(`Role '${principal.role}' cannot write scores; use a key with role editor or owner.`);
    const model = ctx.model();
    requireTracesModel(model, 'POST /api/public/scores');
    const record = eventToRecord('score-create', request.body as Record<string, unknown>, uuidv7());
    const [outcome] = await writeTraceBatch(ctx.db, model, principal, [record!], traceWriteProject(principal, request));
    if (outcome.status >= 300) {
      const message = outcome.message ?? 'The score was not written.';
      throw outcome.status === 409 ? conflict(message) : outcome.status === 403 ? forbidden(message) : new LatticeError('BAD_USER_INPUT', message);
    }
    return { id: record!.id };
  });
}

/** Rows whose `session_id` names the session with this client id (same project). */
function sessionCondition(tm: TracesModel, sessionId: string): Condition {
  const session = qualified(tm.session.table.schema, tm.session.table.name);
  return (p) => `EXISTS (SELECT 1 FROM ${session} s WHERE s."project_id" = x."project_id" AND s."id" = x."session_id" AND s."external_id" = ${p.add(sessionId, 'text')})`;
}

/** Ordering of traces by their session's client id. */
function sessionOrder(tm: TracesModel, dir: string): string {
  const session = qualified(tm.session.table.schema, tm.session.table.name);
  return `(SELECT s."external_id" FROM ${session} s WHERE s."project_id" = x."project_id" AND s."id" = x."session_id") ${dir === 'asc' ? 'ASC' : 'DESC'}`;
}

/** Rows whose trace (through `column`, same project) satisfies `predicate` over alias `t`. */
function traceCondition(tm: TracesModel, column: string, predicate: Condition): Condition {
  const trace = qualified(tm.trace.table.schema, tm.trace.table.name);
  return (p) => `EXISTS (SELECT 1 FROM ${trace} t WHERE t."project_id" = x."project_id" AND t."id" = x."${column}" AND ${predicate(p)})`;
}

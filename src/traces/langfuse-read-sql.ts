/**
 * SQL of the Langfuse read routes (`langfuse-read.ts`): ONE statement per request builds the whole answer as
 * JSON text in PostgreSQL (SPEC G-10, G-11), in Langfuse's shapes and field names (camelCase, from the
 * snake_case columns of the traces preset):
 *
 * - ids are answered as the client sent them (`external_id`; rows written through other routes without one
 *   answer their UUID), references too (`traceId`, `parentObservationId`, `sessionId`);
 * - times are ISO-8601 UTC with milliseconds, like Langfuse's;
 * - derived values are computed by the database: an observation's `latency` and `timeToFirstToken` (seconds,
 *   from the generated `latency_ms` / `time_to_first_token_ms` columns), a trace's `latency` (seconds from the
 *   earliest start to the latest start or end of its observations; 0 without observations) and `totalCost`
 *   (sum of its observations' `total_cost`; 0 without);
 * - lists answer `{ data, meta: { page, limit, totalItems, totalPages } }` (Langfuse's `utilsMetaResponse`).
 *
 * Every table read carries the tenant predicate `project_id = ANY($scope)` (row-level security is the
 * guarantee; this keeps the indexes in use), and every correlated read joins on the project too.
 */
import type { Entity } from '../model/types.js';
import type { Scope } from '../query/plan.js';
import { qualified } from '../query/sql/ident.js';
import { ParamContext } from '../query/sql/params.js';
import type { TracesModel } from './model.js';

/** A compiled statement yielding one row `{ data: string }` (JSON text). */
export interface ReadSql {
  readonly text: string;
  readonly params: unknown[];
}

/** One filter condition on the rows of a list: SQL over alias `x`, values bound through `p`. */
export type Condition = (p: ParamContext) => string;

/** A list request: its conditions, ordering (SQL over alias `x`, without the final id tiebreaker), page. */
export interface ListSpec {
  readonly conditions: readonly Condition[];
  readonly orderBy: string;
  readonly page: number;
  readonly limit: number;
}

const tbl = (e: Entity) => qualified(e.table.schema, e.table.name);
/** The client's id of a row (its UUID when written without one). */
const ext = (a: string) => `coalesce(${a}."external_id", ${a}."id"::text)`;
/** ISO-8601 UTC with milliseconds (JavaScript's `toISOString`). */
const ms = (expr: string) => `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const obj = (pairs: ReadonlyArray<readonly [string, string]>) => `json_build_object(${pairs.map(([k, v]) => `'${k}', ${v}`).join(', ')})`;

/** Builds the statements of one model and principal scope. */
export class LangfuseSql {
  constructor(
    private readonly tm: TracesModel,
    private readonly scope: Scope,
  ) {}

  private inScope(p: ParamContext, alias: string): string {
    return this.scope.kind === 'all' ? 'true' : `${alias}."project_id" = ANY(${p.scope(this.scope.projectIds)})`;
  }

  /** The client id of the row of `entity` that `alias.column` references (same project), or null. */
  private refExt(entity: Entity, alias: string, column: string, id = ext('r')): string {
    return `(SELECT ${id} FROM ${tbl(entity)} r WHERE r."project_id" = ${alias}."project_id" AND r."id" = ${alias}."${column}")`;
  }

  /** Langfuse's `ObservationsView` of the observation row `o`. */
  observationJson(o: string): string {
    const { observation: ob, trace, prompt } = this.tm;
    const c = (col: string) => `${o}."${col}"`;
    return obj([
      ['id', ext(o)], ['traceId', this.refExt(trace, o, 'trace_id')], ['type', c('type')], ['name', c('name')],
      ['startTime', ms(c('start_time'))], ['endTime', ms(c('end_time'))], ['completionStartTime', ms(c('completion_start_time'))],
      ['model', c('model')], ['modelParameters', c('model_parameters')], ['input', c('input')], ['output', c('output')],
      ['version', c('version')], ['metadata', c('metadata')], ['level', c('level')], ['statusMessage', c('status_message')],
      ['parentObservationId', this.refExt(ob, o, 'parent_id')], ['promptId', `${c('prompt_id')}::text`],
      ['promptName', this.refExt(prompt, o, 'prompt_id', 'r."name"')], ['promptVersion', this.refExt(prompt, o, 'prompt_id', 'r."version"')],
      ['usage', obj([
        ['input', `coalesce(${c('input_tokens')}, 0)`], ['output', `coalesce(${c('output_tokens')}, 0)`], ['total', `coalesce(${c('total_tokens')}, 0)`],
        ['unit', `'TOKENS'`], ['inputCost', c('input_cost')], ['outputCost', c('output_cost')], ['totalCost', c('total_cost')],
      ])],
      ['usageDetails', `coalesce(${c('usage_details')}, '{}'::jsonb)`], ['costDetails', `coalesce(${c('cost_details')}, '{}'::jsonb)`],
      ['modelId', 'NULL::text'], ['inputPrice', 'NULL::float8'], ['outputPrice', 'NULL::float8'], ['totalPrice', 'NULL::float8'],
      ['calculatedInputCost', c('input_cost')], ['calculatedOutputCost', c('output_cost')], ['calculatedTotalCost', c('total_cost')],
      ['latency', `${c('latency_ms')} / 1000.0`], ['timeToFirstToken', `${c('time_to_first_token_ms')} / 1000.0`],
      ['environment', `coalesce(${c('environment')}, 'default')`], ['projectId', `${c('project_id')}::text`],
      ['createdAt', ms(c('created_at'))], ['updatedAt', ms(c('updated_at'))],
    ]);
  }

  /** Langfuse's score of the score row `s`; `withTrace` adds `trace: { userId, tags, environment }` (GET /scores). */
  scoreJson(s: string, withTrace: boolean): string {
    const { trace, observation, session } = this.tm;
    const c = (col: string) => `${s}."${col}"`;
    const traceInfo = `(SELECT ${obj([['userId', 'r."user_id"'], ['tags', `coalesce(to_json(r."tags"), '[]'::json)`], ['environment', `coalesce(r."environment", 'default')`]])} ` +
      `FROM ${tbl(trace)} r WHERE r."project_id" = ${c('project_id')} AND r."id" = ${c('trace_id')})`;
    return obj([
      ['id', ext(s)], ['traceId', this.refExt(trace, s, 'trace_id')], ['observationId', this.refExt(observation, s, 'observation_id')],
      ['sessionId', this.refExt(session, s, 'session_id', 'r."external_id"')], ['name', c('name')], ['value', c('value')],
      ['stringValue', c('string_value')], ['dataType', c('data_type')], ['source', c('source')], ['comment', c('comment')],
      ['metadata', c('metadata')], ['configId', c('config_id')], ['queueId', 'NULL::text'], ['authorUserId', 'NULL::text'],
      ['timestamp', ms(c('timestamp'))], ['createdAt', ms(c('created_at'))], ['updatedAt', ms(c('updated_at'))],
      ['environment', `coalesce(${c('environment')}, 'default')`], ['projectId', `${c('project_id')}::text`],
      ...(withTrace ? [['trace', traceInfo] as const] : []),
    ]);
  }

  /**
   * Langfuse's trace of row `t` with the aggregates of alias `a` (see {@link traceAggregates}): `full` embeds
   * the observations (`ObservationsView`, by start time) and scores (`TraceWithFullDetails`), otherwise their ids
   * (`TraceWithDetails`).
   */
  traceJson(p: ParamContext, t: string, full: boolean): string {
    const { observation, score, session } = this.tm;
    const c = (col: string) => `${t}."${col}"`;
    const children = (e: Entity, alias: string, item: string, order: string) =>
      `(SELECT coalesce(json_agg(${item} ORDER BY ${order}), '[]'::json) FROM ${tbl(e)} ${alias} ` +
      `WHERE ${this.inScope(p, alias)} AND ${alias}."project_id" = ${c('project_id')} AND ${alias}."trace_id" = ${c('id')})`;
    return obj([
      ['id', ext(t)], ['projectId', `${c('project_id')}::text`], ['timestamp', ms(c('timestamp'))], ['name', c('name')],
      ['input', c('input')], ['output', c('output')], ['sessionId', this.refExt(session, t, 'session_id', 'r."external_id"')],
      ['release', c('release')], ['version', c('version')], ['userId', c('user_id')], ['metadata', c('metadata')],
      ['tags', `coalesce(to_json(${c('tags')}), '[]'::json)`], ['public', `coalesce(${c('public')}, false)`], ['bookmarked', `coalesce(${c('bookmarked')}, false)`],
      ['environment', `coalesce(${c('environment')}, 'default')`], ['createdAt', ms(c('created_at'))], ['updatedAt', ms(c('updated_at'))],
      ['htmlPath', `'/project/' || ${c('project_id')}::text || '/traces/' || ${ext(t)}`],
      ['latency', 'a.latency'], ['totalCost', 'a.total_cost'],
      ['observations', children(observation, 'o', full ? this.observationJson('o') : ext('o'), `o."start_time" NULLS FIRST, o."id"`)],
      ['scores', children(score, 'sc', full ? this.scoreJson('sc', false) : ext('sc'), `sc."timestamp", sc."id"`)],
    ]);
  }

  /** `LEFT JOIN LATERAL` computing alias `a` (`latency` in seconds, `total_cost`) of trace row `t`. */
  traceAggregates(p: ParamContext, t: string): string {
    const o = 'ag';
    return `LEFT JOIN LATERAL (SELECT coalesce(extract(epoch FROM greatest(max(${o}."start_time"), max(${o}."end_time")) - least(min(${o}."start_time"), min(${o}."end_time")))::float8, 0) AS latency, ` +
      `coalesce(sum(${o}."total_cost"), 0)::float8 AS total_cost FROM ${tbl(this.tm.observation)} ${o} ` +
      `WHERE ${this.inScope(p, o)} AND ${o}."project_id" = ${t}."project_id" AND ${o}."trace_id" = ${t}."id") a ON true`;
  }

  /** GET /traces/{id}: the trace with its observations and scores, or JSON null. */
  traceById(rowId: string): ReadSql {
    const p = new ParamContext();
    const t = 'x';
    const text = `SELECT coalesce((SELECT ${this.traceJson(p, t, true)} FROM ${tbl(this.tm.trace)} ${t} ${this.traceAggregates(p, t)} ` +
      `WHERE ${this.inScope(p, t)} AND ${t}."id" = ${p.add(rowId, 'uuid')}), 'null'::json)::text AS data`;
    return { text, params: p.values };
  }

  /** GET /observations/{id}: the observation, or JSON null. */
  observationById(rowId: string): ReadSql {
    const p = new ParamContext();
    const text = `SELECT coalesce((SELECT ${this.observationJson('x')} FROM ${tbl(this.tm.observation)} x ` +
      `WHERE ${this.inScope(p, 'x')} AND x."id" = ${p.add(rowId, 'uuid')}), 'null'::json)::text AS data`;
    return { text, params: p.values };
  }

  /** A page of traces (`TraceWithDetails`: observation and score ids). */
  traces(spec: ListSpec): ReadSql {
    return this.page(this.tm.trace, spec, (p) => this.traceJson(p, 'x', false), (p) => this.traceAggregates(p, 'x'));
  }

  /** A page of observations. */
  observations(spec: ListSpec): ReadSql {
    return this.page(this.tm.observation, spec, () => this.observationJson('x'));
  }

  /** A page of scores (with their trace's user, tags and environment). */
  scores(spec: ListSpec): ReadSql {
    return this.page(this.tm.score, spec, () => this.scoreJson('x', true));
  }

  /** `{ data, meta }` of one page: rows of `entity` (alias `x`) matching the conditions, counted once. */
  private page(entity: Entity, spec: ListSpec, item: (p: ParamContext) => string, join?: (p: ParamContext) => string): ReadSql {
    const p = new ParamContext();
    const where = [this.inScope(p, 'x'), ...spec.conditions.map((c) => c(p))].join(' AND ');
    const order = `${spec.orderBy}, x."id"`;
    const limit = p.add(spec.limit, 'int4');
    const offset = p.add((spec.page - 1) * spec.limit, 'int8');
    const pageRows = `(SELECT x.* FROM ${tbl(entity)} x WHERE ${where} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}) x`;
    const data = `(SELECT coalesce(json_agg(${item(p)} ORDER BY ${order}), '[]'::json) FROM ${pageRows} ${join ? join(p) : ''})`;
    const total = `(SELECT count(*)::int8 FROM ${tbl(entity)} x WHERE ${where})`;
    const meta = `json_build_object('page', ${p.add(spec.page, 'int4')}, 'limit', ${limit}, 'totalItems', n.total, 'totalPages', ceil(n.total::numeric / ${limit})::int8)`;
    return { text: `SELECT json_build_object('data', ${data}, 'meta', ${meta})::text AS data FROM (SELECT ${total} AS total) n`, params: p.values };
  }
}

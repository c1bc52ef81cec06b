/**
 * Mutation execution (SPEC G-7): a `MutationPlan` → the JSON text of `data`, in ONE transaction
 * (`withWriteIsolation`: all or nothing; retried in careful mode when a statement fails, so a unique violation
 * or a refused value becomes a per-row outcome instead of a database error).
 *
 * Root fields run serially in document order. Per field:
 * - create / upsert: one write statement per entity type (`executeWrite`, parents first), then ONE read of the
 *   root ids (`object` or `by_ids` plan compiled by `compileRead`);
 * - update / delete by id: the write, then the read (delete: the read first, so it returns the row as it was);
 * - update / delete by filter: one read of the matching ids (`LIMIT at_most + 1`, under the principal, so
 *   row-level security and the tenant scope apply), the write by those ids, and one read of the items (before a
 *   delete, after an update) — only when `items` or `__typename` is selected.
 * The first row outcome that is not a success aborts the operation: the transaction rolls back and the error
 * (a `GraphQLRequestError` with `path: [responseKey]`, `extensions.code`, `outcome`, `id`, `column`) propagates.
 *
 * The answer is spliced from the reads' JSON texts without parsing them: each read compiles the field under its
 * response key, so its text is `{"<key>" : <value>}` and its members join into `data` as `jsonObject` joins
 * chunks. Only a `<Type>MutationResult` whose `affected_count` comes after `items` in the selection is rebuilt
 * by parsing (to keep the selection's key order).
 */
import type { Principal } from '../../auth/principal.js';
import type { Db, Queryable } from '../../db/types.js';
import type { Model } from '../../model/types.js';
import type { RootNode, RootPlan, Scope } from '../../query/plan.js';
import { compileRead, type CompileOptions } from '../../query/sql/compile.js';
import { executeWrite, withWriteIsolation } from '../../query/write/execute.js';
import { isSuccess, type RowOutcome, type WritePlan } from '../../query/write/plan.js';
import type { GraphQLTrace } from '../execute.js';
import { fieldError, type FieldSite, type MutationFieldPlan, type MutationPlan, type ResultField } from './plan.js';

/** What running a mutation needs. */
export interface MutationExecContext {
  readonly model: Model;
  readonly db: Db;
  readonly principal: Principal;
  readonly mode: 'development' | 'production';
  readonly compile?: CompileOptions;
}

/** One run of the operation (the transaction handle, whether plans run isolated, the statements' SQL). */
interface Run {
  readonly ctx: MutationExecContext;
  readonly tx: Queryable;
  readonly isolate: boolean;
  readonly scope: Scope;
  readonly sql: string[];
}

/** The error of a failed row outcome (G-14 has no CONFLICT: conflicts are BAD_USER_INPUT with `outcome`). */
function outcomeError(site: FieldSite, o: RowOutcome): Error {
  const code = o.kind === 'not_found' ? 'NOT_FOUND' : o.kind === 'forbidden' ? 'FORBIDDEN' : 'BAD_USER_INPUT';
  return fieldError(code, o.message ?? `Row ${o.id} refused (${o.kind}).`, site, { outcome: o.kind, id: o.id, ...(o.column ? { column: o.column } : {}) });
}

async function write(run: Run, site: FieldSite, plan: WritePlan): Promise<RowOutcome[]> {
  const outcomes = await executeWrite(run.tx, run.ctx.model, plan, run.isolate);
  const failed = outcomes.find((o) => !isSuccess(o));
  if (failed) throw outcomeError(site, failed);
  return outcomes;
}

/** Run a read plan of `roots`; returns the JSON object text `{"k" : v, ...}`. */
async function read(run: Run, roots: readonly RootPlan[]): Promise<string> {
  const { text, params } = compileRead(run.ctx.model, { roots, scope: run.scope }, run.ctx.compile);
  if (run.ctx.mode === 'development') run.sql.push(text);
  const res = await run.tx.query<{ data: unknown }>(text, params);
  const data = res.rows[0]?.data;
  return typeof data === 'string' ? data : JSON.stringify(data ?? {});
}

/** The members of a JSON object text, without its braces (`{"a" : 1}` → `"a" : 1`). */
function members(objectText: string): string {
  return objectText.trim().slice(1, -1).trim();
}

/** True when a one-root read answered null (`{"key" : null}`): the row is absent or not visible. */
function isNullRoot(objectText: string): boolean {
  return /^\{\s*"(?:[^"\\]|\\.)*"\s*:\s*null\s*\}$/.test(objectText.trim());
}

function notFound(site: FieldSite, entity: string, id: string): Error {
  return fieldError('NOT_FOUND', `No ${entity} with id ${id} in this key's projects; check the id.`, site, { outcome: 'not_found', id });
}

async function runRows(run: Run, f: Extract<MutationFieldPlan, { kind: 'rows' }>): Promise<string> {
  for (const plan of f.writes) await write(run, f.site, plan);
  const node: RootNode =
    f.op === 'create_one'
      ? { kind: 'object', entity: f.entity, id: f.ids[0], selection: f.selection }
      : { kind: 'by_ids', entity: f.entity, ids: f.ids, selection: f.selection };
  return members(await read(run, [{ responseKey: f.site.responseKey, node }]));
}

async function runById(run: Run, f: Extract<MutationFieldPlan, { kind: 'by_id' }>): Promise<string> {
  const id = String(f.row.values.id);
  const roots: RootPlan[] = [{ responseKey: f.site.responseKey, node: { kind: 'object', entity: f.entity, id, selection: f.selection } }];
  if (f.op === 'delete_one') {
    const before = await read(run, roots);
    if (isNullRoot(before)) throw notFound(f.site, f.entity, id);
    await write(run, f.site, { entity: f.entity, mode: 'delete', rows: [f.row] });
    return members(before);
  }
  if (f.writes) await write(run, f.site, { entity: f.entity, mode: 'update', rows: [f.row] });
  const after = await read(run, roots);
  if (isNullRoot(after)) throw notFound(f.site, f.entity, id);
  return members(after);
}

/** Ids (sorted) of the rows `filter` matches under the principal; more than `atMost` is BAD_USER_INPUT. */
async function matchingIds(run: Run, f: Extract<MutationFieldPlan, { kind: 'by_filter' }>): Promise<string[]> {
  const node: RootNode = {
    kind: 'list',
    entity: f.entity,
    args: { filter: f.filter, orderBy: [], limit: f.atMost + 1 },
    selection: [{ responseKey: 'id', kind: 'column', column: 'id' }],
  };
  const rows = JSON.parse(await read(run, [{ responseKey: 'ids', node }])) as { ids: { id: string }[] };
  if (rows.ids.length > f.atMost) {
    const verb = f.op === 'update_many' ? 'update' : 'delete';
    throw fieldError(
      'BAD_USER_INPUT',
      `${f.site.node.name.value} would ${verb} more than ${f.atMost} row${f.atMost === 1 ? '' : 's'} (its at_most); ` +
        'narrow the filter, or raise at_most up to the server\'s maximum limit. Nothing was changed.',
      f.site,
      { at_most: f.atMost },
    );
  }
  return rows.ids.map((r) => r.id).sort();
}

async function runByFilter(run: Run, f: Extract<MutationFieldPlan, { kind: 'by_filter' }>): Promise<string> {
  const ids = await matchingIds(run, f);
  const readFields = f.fields.filter((x) => x.kind !== 'affected_count');
  const readItems = async () =>
    readFields.length === 0
      ? '{}'
      : read(
          run,
          readFields.map((x) => ({
            responseKey: x.responseKey,
            node: x.kind === 'items' ? { kind: 'by_ids', entity: f.entity, ids, selection: x.selection } : { kind: 'typename', value: x.value },
          })),
        );
  let items: string;
  if (f.op === 'delete_many') {
    items = await readItems();
    if (ids.length) await write(run, f.site, { entity: f.entity, mode: 'delete', rows: ids.map((id) => ({ values: { id } })) });
  } else {
    if (ids.length && Object.keys(f.patch).length) {
      await write(run, f.site, { entity: f.entity, mode: 'update', rows: ids.map((id) => ({ values: { ...f.patch, id } })) });
    }
    items = await readItems();
  }
  return `${JSON.stringify(f.site.responseKey)}:${resultObject(f.fields, ids.length, items)}`;
}

/** `<Type>MutationResult` text: `affected_count` members around the read's members, in selection order. */
function resultObject(fields: readonly ResultField[], count: number, readText: string): string {
  const firstRead = fields.findIndex((x) => x.kind !== 'affected_count');
  const lastCount = fields.map((x) => x.kind).lastIndexOf('affected_count');
  if (firstRead < 0 || lastCount < firstRead) {
    const counts = fields.filter((x) => x.kind === 'affected_count').map((x) => `${JSON.stringify(x.responseKey)}:${count}`);
    const rest = members(readText);
    return `{${[...counts, ...(rest ? [rest] : [])].join(',')}}`;
  }
  const values = JSON.parse(readText) as Record<string, unknown>;
  return JSON.stringify(Object.fromEntries(fields.map((x) => [x.responseKey, x.kind === 'affected_count' ? count : values[x.responseKey]])));
}

async function runField(run: Run, f: MutationFieldPlan): Promise<string> {
  switch (f.kind) {
    case 'typename':
      return `${JSON.stringify(f.responseKey)}:${JSON.stringify(f.value)}`;
    case 'rows':
      return runRows(run, f);
    case 'by_id':
      return runById(run, f);
    case 'by_filter':
      return runByFilter(run, f);
  }
}

/** Counts every statement sent through the handle in the trace (SPEC G-15). */
function counting(tx: Queryable, trace: GraphQLTrace): Queryable {
  return {
    query: (text, params, options) => {
      trace.statements += 1;
      return tx.query(text, params, options);
    },
  };
}

/**
 * Run a planned mutation operation in one transaction as `ctx.principal`.
 * @param trace receives the statement count, the time spent in the database and (development mode) the SQL
 * @returns the JSON text of `data` (an object keyed by the root fields' response keys, in document order)
 * @throws GraphQLRequestError for the first failed root field (the transaction is rolled back: nothing of the
 *         operation is written); database errors that the careful mode cannot attribute to a row
 */
export async function executeMutation(ctx: MutationExecContext, plan: MutationPlan, trace: GraphQLTrace): Promise<string> {
  const start = process.hrtime.bigint();
  let sql: string[] = [];
  try {
    if (!plan.fields.some((f) => f.kind !== 'typename')) {
      return `{${(await Promise.all(plan.fields.map((f) => runField({ ctx, tx: undefined as never, isolate: false, scope: plan.scope, sql }, f)))).join(',')}}`;
    }
    return await withWriteIsolation(ctx.db, ctx.principal, async (tx, isolate) => {
      sql = [];
      const run: Run = { ctx, tx: counting(tx, trace), isolate, scope: plan.scope, sql };
      const parts: string[] = [];
      for (const f of plan.fields) parts.push(await runField(run, f));
      return `{${parts.join(',')}}`;
    });
  } finally {
    trace.sql_ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (ctx.mode === 'development' && sql.length) trace.sql = sql.join(';\n');
  }
}

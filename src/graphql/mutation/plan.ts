/**
 * Mutation planning (SPEC G-7): the root fields of a validated mutation operation → `MutationPlan`, plain data
 * the executor (`execute.ts`) runs in one transaction. Everything that can be decided without the database is
 * decided here, before any statement: arguments coerced by graphql-js (`getArgumentValues`), nested create
 * inputs flattened into rows per entity (ids generated with UUID v7, children given their parent's id and
 * project), projects resolved and write permission checked (`toWriteRow`: a viewer is FORBIDDEN here), batch
 * sizes and `at_most` bounded, filters converted, and the returned selections planned with the read planner
 * (`planSelection`).
 *
 * Errors name the root field in `path` (`[responseKey]`) and say where in the input the problem is.
 */
import {
  getArgumentValues,
  getNamedType,
  GraphQLError,
  GraphQLInputObjectType,
  GraphQLObjectType,
  type DocumentNode,
  type FieldNode,
  type OperationDefinitionNode,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { canWrite, type Principal } from '../../auth/principal.js';
import { LatticeError, type ErrorCode } from '../../errors.js';
import type { Entity, Model } from '../../model/types.js';
import type { Filter, Scope, Selection } from '../../query/plan.js';
import type { WritePlan, WriteRow } from '../../query/write/plan.js';
import { dependencyOrder, MAX_BATCH, toWriteRow } from '../../rest/rows.js';
import { GraphQLRequestError, requestError } from '../errors.js';
import { collectFields } from '../plan/collect.js';
import type { PlanContext } from '../plan/context.js';
import { andFilters, convertFilter, isEmptyFilter } from '../plan/filter.js';
import { scopeOf } from '../plan/operation.js';
import { children, planSelection, walkState, type FieldAt, type WalkState } from '../plan/select.js';
import { metaOf, type ArgMeta, type FieldMeta, type MutationOp, type WriteFieldMeta } from '../schema/meta.js';

/** A field of `<Type>MutationResult` as selected. */
export type ResultField =
  | { readonly responseKey: string; readonly kind: 'affected_count' }
  | { readonly responseKey: string; readonly kind: 'items'; readonly selection: Selection }
  | { readonly responseKey: string; readonly kind: 'typename'; readonly value: string };

/** Where a root field sits in the document, for errors. */
/** `a` or `an` before an entity name, for messages. */
function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

export interface FieldSite {
  readonly responseKey: string;
  readonly node: FieldNode;
}

/** One root field of a mutation operation, planned. */
export type MutationFieldPlan =
  | { readonly kind: 'typename'; readonly responseKey: string; readonly value: string }
  | {
      /** `create_one`, `create_many`, `upsert_many`: write plans in dependency order, then read `ids`. */
      readonly kind: 'rows';
      readonly site: FieldSite;
      readonly entity: string;
      readonly op: Extract<MutationOp, 'create_one' | 'create_many' | 'upsert_many'>;
      readonly writes: readonly WritePlan[];
      /** Ids of the root rows, in input order (the answer's order). */
      readonly ids: readonly string[];
      readonly selection: Selection;
    }
  | {
      /** `update_one` / `delete_one`: one row by id (`row` holds the id and, for updates, the patch). */
      readonly kind: 'by_id';
      readonly site: FieldSite;
      readonly entity: string;
      readonly op: Extract<MutationOp, 'update_one' | 'delete_one'>;
      readonly row: WriteRow;
      /** False for an update with an empty patch: nothing to write (the row is only read back). */
      readonly writes: boolean;
      readonly selection: Selection;
    }
  | {
      /** `update_many` / `delete_many`: rows matching `filter`, at most `atMost` of them. */
      readonly kind: 'by_filter';
      readonly site: FieldSite;
      readonly entity: string;
      readonly op: Extract<MutationOp, 'update_many' | 'delete_many'>;
      readonly filter: Filter | undefined;
      /** Column → value to set (update only; empty: nothing to write). */
      readonly patch: Readonly<Record<string, unknown>>;
      readonly atMost: number;
      readonly fields: readonly ResultField[];
    };

/** A whole mutation operation: root fields in document order (they run serially) and the tenant scope of reads. */
export interface MutationPlan {
  readonly fields: readonly MutationFieldPlan[];
  readonly scope: Scope;
}

/**
 * An error about one root field of a mutation: `path` is `[responseKey]`, `extensions` has the code and
 * anything else given (`outcome`, `id`, `column`).
 */
export function fieldError(code: ErrorCode, message: string, site: FieldSite, extensions: Record<string, unknown> = {}): GraphQLRequestError {
  return new GraphQLRequestError(code, [new GraphQLError(message, { nodes: site.node, path: [site.responseKey], extensions: { code, ...extensions } })]);
}

/** Re-throw a LatticeError (from `toWriteRow`, a filter...) as an error of the root field. */
function rethrow(err: unknown, site: FieldSite, where?: string): never {
  if (err instanceof GraphQLRequestError) {
    const e = err.graphqlErrors[0];
    throw fieldError(err.code, e.message, site);
  }
  if (err instanceof LatticeError) throw fieldError(err.code, where ? `${where}: ${err.message}` : err.message, site);
  throw err;
}

function inputObject(t: GraphQLInputType): GraphQLInputObjectType {
  const named = getNamedType(t);
  if (!(named instanceof GraphQLInputObjectType)) throw new Error(`expected an input object type, got ${String(named)}`);
  return named;
}

interface Ctx {
  readonly st: WalkState;
  readonly model: Model;
  readonly principal: Principal;
  readonly maxLimit: number;
  readonly site: FieldSite;
  /** Rows flattened so far for this field (nested children included). */
  readonly total: { n: number };
}

/**
 * The column values of one create / upsert / patch input object (nested relations left out), vectors checked
 * against their dimensions (PostgreSQL without pgvector stores `real[]`, which would accept any length).
 * @throws GraphQLRequestError BAD_USER_INPUT for a vector of the wrong length
 */
function columnsOf(c: Ctx, entity: Entity, type: GraphQLInputObjectType, value: Readonly<Record<string, unknown>>, where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = type.getFields();
  for (const [key, v] of Object.entries(value)) {
    const meta = metaOf<WriteFieldMeta>(fields[key]);
    if (meta?.kind !== 'write_column' || v === undefined) continue;
    if (meta.type === 'vector' && Array.isArray(v)) {
      const dims = entity.columns.get(meta.column)?.dimensions;
      if (dims !== undefined && v.length !== dims) {
        throw fieldError('BAD_USER_INPUT', `${where}.${key} has ${v.length} numbers; ${entity.name}.${meta.column} has ${dims} dimensions.`, c.site);
      }
    }
    out[meta.column] = v;
  }
  return out;
}

/** Parent of a nested create input: the FK column it fills and the values it gives. */
interface Parent {
  readonly column: string;
  readonly columnKey: string;
  readonly id: string;
  readonly projectId: string;
  readonly entity: string;
}

/**
 * Flatten one create input (and its nested children, depth first) into `rows` (entity → rows in input order).
 * @returns the root row's id
 */
function flattenCreate(
  c: Ctx,
  entity: Entity,
  type: GraphQLInputObjectType,
  value: Readonly<Record<string, unknown>>,
  where: string,
  rows: Map<string, WriteRow[]>,
  parent?: Parent,
): string {
  const body = columnsOf(c, entity, type, value, where);
  if (parent) {
    if (body[parent.column] !== undefined) {
      throw fieldError(
        'BAD_USER_INPUT',
        `${where}.${parent.columnKey} is set, but ${article(entity.name)} ${entity.name} nested in ${article(parent.entity)} ${parent.entity} gets it from its parent; leave it out (or create the ${entity.name} at the top level).`,
        c.site,
      );
    }
    if (body.project_id !== undefined && body.project_id !== null && body.project_id !== parent.projectId) {
      throw fieldError('BAD_USER_INPUT', `${where}: project_id differs from its parent's project ${parent.projectId}; nested rows live in their parent's project, leave project_id out.`, c.site);
    }
    body[parent.column] = parent.id;
    body.project_id = parent.projectId;
  } else if (body.project_id === null) {
    delete body.project_id;
  }
  let row: WriteRow;
  try {
    row = toWriteRow(c.principal, 'create', body);
  } catch (err) {
    rethrow(err, c.site, where);
  }
  const list = rows.get(entity.name) ?? [];
  rows.set(entity.name, list);
  list.push(row);
  count(c);
  const id = String(row.values.id);
  const fields = type.getFields();
  for (const [key, v] of Object.entries(value)) {
    const meta = metaOf<WriteFieldMeta>(fields[key]);
    if (meta?.kind !== 'write_nested' || v === null || v === undefined) continue;
    const target = c.model.entities.get(meta.target)!;
    const childType = inputObject(fields[key].type);
    const next: Parent = {
      column: meta.column,
      columnKey: keyOf(childType, meta.column),
      id,
      projectId: String(row.values.project_id),
      entity: entity.name,
    };
    (v as Record<string, unknown>[]).forEach((child, i) => flattenCreate(c, target, childType, child, `${where}.${key}[${i}]`, rows, next));
  }
  return id;
}

/** The input field name of a column in an input type (its name under the model's naming). */
function keyOf(type: GraphQLInputObjectType, column: string): string {
  for (const [key, f] of Object.entries(type.getFields())) {
    const m = metaOf<WriteFieldMeta>(f);
    if (m?.kind === 'write_column' && m.column === column) return key;
  }
  return column;
}

/** Count one more row; @throws GraphQLRequestError BAD_USER_INPUT when the rows of one field exceed MAX_BATCH. */
function count(c: Ctx): void {
  c.total.n += 1;
  if (c.total.n > MAX_BATCH) {
    throw fieldError('BAD_USER_INPUT', `${c.site.responseKey} writes more than ${MAX_BATCH} rows (nested children included); split it into several mutations.`, c.site);
  }
}

/** Write plans of flattened rows, parents before children (`dependencyOrder`). */
function writePlans(model: Model, rows: Map<string, WriteRow[]>, mode: 'create' | 'upsert'): WritePlan[] {
  return dependencyOrder(model)
    .filter((e) => rows.has(e.name))
    .map((e) => ({ entity: e.name, mode, rows: rows.get(e.name)! }));
}

function argsByRole(c: Ctx, def: GraphQLField<unknown, unknown>): { values: Record<string, unknown>; roles: Map<string, { name: string; type: GraphQLInputType }> } {
  let values: Record<string, unknown>;
  try {
    values = getArgumentValues(def, c.site.node, c.st.variables as Record<string, unknown>);
  } catch (err) {
    if (err instanceof GraphQLError) throw fieldError('BAD_USER_INPUT', err.message, c.site);
    throw err;
  }
  const roles = new Map<string, { name: string; type: GraphQLInputType }>();
  for (const a of def.args) {
    const m = metaOf<ArgMeta>(a);
    if (m) roles.set(m.role, { name: a.name, type: a.type });
  }
  return { values, roles };
}

function result(c: Ctx, at: FieldAt): ResultField[] {
  const type = getNamedType(at.def.type);
  if (!(type instanceof GraphQLObjectType)) throw new Error('mutation result must be an object type');
  const out: ResultField[] = [];
  for (const ch of children(c.st, type, at)) {
    if ('typename' in ch) {
      out.push({ responseKey: ch.key, kind: 'typename', value: ch.typename });
      continue;
    }
    const m = metaOf<FieldMeta>(ch.def);
    if (m?.kind !== 'mutation_result') throw fieldError('BAD_USER_INPUT', `${ch.path}: unexpected field.`, c.site);
    out.push(m.role === 'items' ? { responseKey: ch.key, kind: 'items', selection: planSelection(c.st, ch) } : { responseKey: ch.key, kind: 'affected_count' });
  }
  return out;
}

function requireWriter(c: Ctx): void {
  if (!canWrite(c.principal)) {
    throw fieldError('FORBIDDEN', `Role '${c.principal.role}' cannot write data; use a key with role editor, owner or admin.`, c.site);
  }
}

/**
 * Plan one root field of `Mutation`.
 * @param st walk state (plan context, fragments, coerced variables)
 * @param at the collected field (`def` a field generated by `schema/mutation.ts`)
 * @throws GraphQLRequestError (with `path: [responseKey]`): FORBIDDEN for principals that cannot write (or not
 *         into the project named), BAD_USER_INPUT for argument values graphql-js refuses, a nested child setting
 *         the FK it gets from its parent or another project, more than MAX_BATCH rows, `at_most` outside
 *         1..limits.maxLimit, vectors of the wrong length, bad filters; QUERY_TOO_COMPLEX for selections nested
 *         deeper than limits.maxDepth
 */
export function planMutationField(st: WalkState, at: FieldAt): MutationFieldPlan {
  const site: FieldSite = { responseKey: at.key, node: at.nodes[0] };
  const meta = metaOf<FieldMeta>(at.def);
  if (meta?.kind !== 'mutation') throw fieldError('BAD_USER_INPUT', `Cannot query field "${at.def.name}" on type "Mutation".`, site);
  const c: Ctx = { st, model: st.ctx.model, principal: st.ctx.principal, maxLimit: st.ctx.limits.maxLimit, site, total: { n: 0 } };
  const entity = c.model.entities.get(meta.entity)!;
  // Permission first: a viewer learns nothing else about its input (and no statement runs).
  requireWriter(c);
  const { values, roles } = argsByRole(c, at.def);
  const arg = (role: string) => {
    const r = roles.get(role);
    return r ? { value: values[r.name], type: r.type, name: r.name } : undefined;
  };
  switch (meta.op) {
    case 'create_one':
    case 'create_many': {
      const a = arg(meta.op === 'create_one' ? 'input' : 'inputs')!;
      const inputs = (meta.op === 'create_one' ? [a.value] : (a.value as unknown[])) as Record<string, unknown>[];
      if (inputs.length > MAX_BATCH) throw fieldError('BAD_USER_INPUT', `${a.name} has ${inputs.length} items; at most ${MAX_BATCH} per mutation.`, site);
      const rows = new Map<string, WriteRow[]>();
      const type = inputObject(a.type);
      const ids = inputs.map((input, i) => flattenCreate(c, entity, type, input, meta.op === 'create_one' ? a.name : `${a.name}[${i}]`, rows));
      return { kind: 'rows', site, entity: entity.name, op: meta.op, writes: writePlans(c.model, rows, 'create'), ids, selection: planSelection(st, at) };
    }
    case 'upsert_many': {
      const a = arg('inputs')!;
      const inputs = a.value as Record<string, unknown>[];
      if (inputs.length > MAX_BATCH) throw fieldError('BAD_USER_INPUT', `${a.name} has ${inputs.length} items; at most ${MAX_BATCH} per mutation.`, site);
      const type = inputObject(a.type);
      const rows = inputs.map((input, i) => {
        const body = columnsOf(c, entity, type, input, `${a.name}[${i}]`);
        if (body.project_id === null) delete body.project_id;
        try {
          return toWriteRow(c.principal, 'upsert', body);
        } catch (err) {
          rethrow(err, site, `${a.name}[${i}]`);
        }
      });
      const ids = rows.map((r) => String(r.values.id));
      const writes: WritePlan[] = rows.length ? [{ entity: entity.name, mode: 'upsert', rows }] : [];
      return { kind: 'rows', site, entity: entity.name, op: 'upsert_many', writes, ids, selection: planSelection(st, at) };
    }
    case 'update_one':
    case 'delete_one': {
      const id = arg('id')!.value as string;
      const p = arg('patch');
      const patch = p ? columnsOf(c, entity, inputObject(p.type), p.value as Record<string, unknown>, p.name) : {};
      let row: WriteRow;
      try {
        row = toWriteRow(c.principal, meta.op === 'update_one' ? 'update' : 'delete', { ...patch, id });
      } catch (err) {
        rethrow(err, site);
      }
      const writes = meta.op === 'delete_one' || Object.keys(patch).length > 0;
      return { kind: 'by_id', site, entity: entity.name, op: meta.op, row, writes, selection: planSelection(st, at) };
    }
    case 'update_many':
    case 'delete_many': {
      const f = arg('filter')!;
      let filter: Filter | undefined;
      try {
        filter = andFilters([convertFilter(inputObject(f.type), f.value as Record<string, unknown>, `${at.key}.${f.name}`, site.node)]);
      } catch (err) {
        rethrow(err, site);
      }
      const m = arg('at_most')!;
      const atMost = m.value as number | null;
      if (atMost === null || atMost === undefined || atMost < 1 || atMost > c.maxLimit) {
        throw fieldError('BAD_USER_INPUT', `${m.name} is ${String(atMost)}; it must be between 1 and ${c.maxLimit} (the server's limits.maxLimit).`, site);
      }
      const p = arg('patch');
      const patch = p ? columnsOf(c, entity, inputObject(p.type), p.value as Record<string, unknown>, p.name) : {};
      return { kind: 'by_filter', site, entity: entity.name, op: meta.op, filter: isEmptyFilter(filter) ? undefined : filter, patch, atMost, fields: result(c, at) };
    }
  }
}

/**
 * Plan a mutation operation: coerce its variables, collect its root fields (fragments, `@skip` / `@include`,
 * aliases) and plan each (`planMutationField`); root `__typename` is the constant `Mutation`.
 * @param operation a mutation of a document validated against `ctx.schema`
 * @throws GraphQLRequestError BAD_USER_INPUT for variables graphql-js refuses; see `planMutationField`
 */
export function planMutation(
  ctx: PlanContext,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables?: Readonly<Record<string, unknown>> | null,
): MutationPlan {
  const mutationType = ctx.schema.getMutationType();
  if (!mutationType) throw requestError('BAD_USER_INPUT', 'This model has no data entities, so there is nothing to mutate.', operation);
  const st = walkState(ctx, document, operation, variables);
  const fields: MutationFieldPlan[] = [];
  for (const [key, nodes] of collectFields(st, mutationType.name, [operation.selectionSet])) {
    const name = nodes[0].name.value;
    if (name === '__typename') {
      fields.push({ kind: 'typename', responseKey: key, value: mutationType.name });
      continue;
    }
    const def = mutationType.getFields()[name];
    if (!def) throw requestError('BAD_USER_INPUT', `Cannot query field "${name}" on type "Mutation".`, nodes[0]);
    fields.push(planMutationField(st, { key, nodes, def, parent: mutationType, path: key, depth: 1 }));
  }
  return { fields, scope: scopeOf(ctx) };
}

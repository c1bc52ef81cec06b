/**
 * Aggregates (SPEC G-2, G-3): an `AggregateNode` → one scalar sub-query returning a JSON array with one object
 * per group, `[]` when there are no groups. Without group keys there is exactly one group, even over zero rows
 * (count 0, the other functions null).
 *
 * Layout (three levels, all inside the one statement):
 * ```
 * (SELECT coalesce(json_agg(g.j ORDER BY g."__lattice_o1" ASC NULLS LAST, ...), '[]'::json)
 *  FROM (SELECT json_build_object('key', ..., 'count', count(*), ...) AS j, <order expr> AS "__lattice_o1", ...
 *        FROM (SELECT t1.*, <key expr> AS "__lattice_k1", ... FROM <table> t1
 *              LEFT JOIN <to-one related table> t2 ON <join columns, tenant column, tenant scope> ...
 *              WHERE <tenant scope> AND <correlation> AND <filter> AND <search>) t1
 *        GROUP BY t1."__lattice_k1", ...        -- GROUP BY () without keys: exactly one group
 *        ORDER BY "__lattice_o1" ASC NULLS LAST, ... LIMIT $n) g)
 * ```
 * The innermost level computes the group keys once per row (a related key is a column of a LEFT JOINed to-one
 * row, see `PathJoins`; a time bucket is `date_trunc` in UTC), so GROUP BY only names plain columns; PostgreSQL
 * pulls that derived table up into the grouped query. The grouped level orders and cuts the groups (LIMIT); the
 * outer level fixes the array order with `json_agg(... ORDER BY ...)`. Groups are ordered by the plan's items,
 * then by every group key ascending (nulls last), so the order is total.
 *
 * Output values are those of list queries (`json.ts`): datetimes ISO-8601 UTC with microseconds, decimals
 * (and int8 sums that PostgreSQL widens to numeric) as strings, other numbers as JSON numbers.
 */
import type { Entity, Field, FieldType } from '../../model/types.js';
import type { AggregateField, AggregateFn, AggregateNode, AggregateOrderItem, GroupKey, TimeBucket } from '../plan.js';
import { badInput } from '../../errors.js';
import { and, col, openSource, type CompileContext, type Correlation } from './context.js';
import { quoteIdent } from './ident.js';
import { isoTimestamp, jsonObject, textConst } from './json.js';
import { bindRows, openRows } from './rows.js';

/** Field types usable as group keys and in `count_distinct` (not json, arrays or vectors). */
export const GROUPABLE_TYPES: ReadonlySet<FieldType> = new Set<FieldType>([
  'string',
  'text',
  'int',
  'bigint',
  'float',
  'decimal',
  'boolean',
  'date',
  'datetime',
  'uuid',
  'enum',
  'ref',
]);

const NUMERIC: ReadonlySet<FieldType> = new Set<FieldType>(['int', 'bigint', 'float', 'decimal']);

/** Every time bucket, finest first. */
export const TIME_BUCKETS: readonly TimeBucket[] = ['minute', 'hour', 'day', 'week', 'month'];

/**
 * Whether `fn` applies to a column of `type`:
 * - `sum`: int, bigint, float, decimal; `avg`: those and datetime (the mean instant);
 * - `min` / `max`: numbers, datetime, date, string and enum (enums in declared order);
 * - `count_distinct`: every groupable type (`GROUPABLE_TYPES`);
 * - `p50`, `p90`, `p95`, `p99`: numbers (as float8).
 */
export function aggregateAccepts(fn: AggregateFn, type: FieldType): boolean {
  switch (fn) {
    case 'sum':
      return NUMERIC.has(type);
    case 'avg':
      return NUMERIC.has(type) || type === 'datetime';
    case 'min':
    case 'max':
      return NUMERIC.has(type) || type === 'datetime' || type === 'date' || type === 'string' || type === 'enum';
    case 'count_distinct':
      return GROUPABLE_TYPES.has(type);
    case 'p50':
    case 'p90':
    case 'p95':
    case 'p99':
      return NUMERIC.has(type);
  }
}

/** The fraction of a percentile function: `p95` → 0.95. */
export const PERCENTILE: Readonly<Record<'p50' | 'p90' | 'p95' | 'p99', number>> = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 };

/** Buckets a group key of this type may use: all for datetime, `week` and `month` for date, none otherwise. */
export function bucketsOf(type: FieldType): readonly TimeBucket[] {
  if (type === 'datetime') return TIME_BUCKETS;
  if (type === 'date') return ['week', 'month'];
  return [];
}

/** How a raw SQL value becomes its JSON output: timestamptz → ISO text, numeric → exact text, else as is. */
type JsonKind = 'timestamp' | 'numeric' | 'plain';

function toJson(expr: string, kind: JsonKind): string {
  if (kind === 'timestamp') return isoTimestamp(expr);
  if (kind === 'numeric') return `${expr}::text`;
  return expr;
}

/** JSON kind of a column's own values (as `columnJson` renders them). */
function columnKind(type: FieldType): JsonKind {
  return type === 'datetime' ? 'timestamp' : type === 'decimal' ? 'numeric' : 'plain';
}

/**
 * `date_trunc` of a datetime in UTC (a timestamptz again), or of a date (a date: the first day of the week or
 * month). Weeks start on Monday (ISO 8601), as PostgreSQL's `date_trunc('week', ...)` does.
 */
function bucketSql(expr: string, type: FieldType, bucket: TimeBucket): string {
  if (type === 'date') return `date_trunc('${bucket}', (${expr})::timestamp)::date`;
  return `(date_trunc('${bucket}', (${expr}) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')`;
}

/** One resolved group key: its SQL per row, and the column it becomes in the derived table. */
interface ResolvedKey {
  readonly key: GroupKey;
  readonly expr: string;
  readonly column: string;
  readonly kind: JsonKind;
}

/**
 * The LEFT JOINs that bring to-one related rows next to each aggregated row, one per distinct relation path
 * (`['trial']`, `['trial', 'experiment']`). Each ON clause is `openSource`'s correlation (join columns plus the
 * tenant column) and tenant-scope predicate, so a related value is NULL rather than another project's value.
 * A to-one relation matches at most one row (its target column is the target's `id`, or a `unique` ref for a
 * one-to-one inverse, within one project), so the joins never multiply the aggregated rows. Joins let
 * PostgreSQL hash-join large tables, where a scalar sub-query per row (`path.ts`) costs an index probe per
 * row and hop (about 10x slower over 150,000 metrics grouped by `trial_experiment_kind`).
 */
class PathJoins {
  private readonly joined = new Map<string, { entity: Entity; alias: string }>();
  readonly sql: string[] = [];

  constructor(
    private readonly ctx: CompileContext,
    private readonly root: { entity: Entity; alias: string },
  ) {}

  /** Entity and alias at the end of `path`, joining what is not joined yet. */
  resolve(path: readonly string[]): { entity: Entity; alias: string } {
    let at = this.root;
    for (let i = 0; i < path.length; i++) {
      const id = path.slice(0, i + 1).join('.');
      const done = this.joined.get(id);
      if (done) {
        at = done;
        continue;
      }
      const relation = at.entity.relations.get(path[i]);
      if (!relation || relation.kind !== 'to-one') {
        throw badInput(`"${path[i]}" is not a to-one relation of ${at.entity.name}; group keys follow to-one relations only.`);
      }
      const child = openSource(this.ctx, relation.target, { relation, parentAlias: at.alias });
      this.sql.push(` LEFT JOIN ${child.from} ON ${and(child.where)}`);
      at = { entity: child.entity, alias: child.alias };
      this.joined.set(id, at);
    }
    return at;
  }
}

/**
 * Resolve and check the plan's group keys, joining related rows as needed. A bucket is checked against
 * `bucketsOf` (a fixed list) before it is written into the SQL text.
 */
function resolveKeys(joins: PathJoins, entity: Entity, groupBy: readonly GroupKey[]): ResolvedKey[] {
  const out: ResolvedKey[] = [];
  for (const key of groupBy) {
    const same = out.find((k) => k.key.name === key.name);
    if (same) {
      const a = same.key;
      if (a.column !== key.column || a.bucket !== key.bucket || a.path.join('.') !== key.path.join('.')) {
        throw badInput(`Two different group keys are named "${key.name}"; give each group key its own name.`);
      }
      continue; // the same key twice groups like once
    }
    const at = joins.resolve(key.path);
    const where = [...key.path, key.column].join('.');
    const field = at.entity.columns.get(key.column);
    if (!field) throw badInput(`Cannot group ${entity.name} by ${where}: ${at.entity.name} has no field "${key.column}".`);
    if (!GROUPABLE_TYPES.has(field.type)) {
      throw badInput(`Cannot group ${entity.name} by ${where}: ${field.type} fields are not group keys; group by scalar or enum fields.`);
    }
    let expr = col(at.alias, field.column);
    let kind = columnKind(field.type);
    if (key.bucket !== undefined) {
      const allowed = bucketsOf(field.type);
      if (!allowed.includes(key.bucket)) {
        throw badInput(
          allowed.length === 0
            ? `Cannot bucket ${where} by ${key.bucket}: only datetime and date fields have time buckets.`
            : `Cannot bucket the ${field.type} field ${where} by ${key.bucket}; use one of ${allowed.join(', ')}.`,
        );
      }
      expr = bucketSql(expr, field.type, key.bucket);
      kind = field.type === 'date' ? 'plain' : 'timestamp';
    }
    out.push({ key, expr, column: `__lattice_k${out.length + 1}`, kind });
  }
  return out;
}

/** The column a function reads, checked against what the function accepts. */
function fnField(ctx: CompileContext, entity: Entity, fn: AggregateFn, column: string): Field {
  const field = entity.columns.get(column);
  if (!field) throw badInput(`${entity.name} has no field "${column}" to aggregate.`);
  if (!aggregateAccepts(fn, field.type)) {
    throw badInput(`Cannot compute ${fn} of ${entity.name}.${column}: ${fn} does not apply to ${field.type} fields.`);
  }
  return ctx.field(entity, column);
}

/** Raw SQL value of `fn` over a column (orderable: numbers, timestamps, enums in declared order) and its JSON kind. */
function fnSql(fn: AggregateFn, field: Field, alias: string): { expr: string; kind: JsonKind } {
  const c = col(alias, field.column);
  switch (fn) {
    case 'count_distinct':
      return { expr: `count(DISTINCT ${c})`, kind: 'plain' };
    case 'sum':
      // sum(int4) is int8 (a JSON number); sum(int8) and sum(numeric) are numeric (exact text); sum(float8) float8.
      return { expr: `sum(${c})`, kind: field.type === 'bigint' || field.type === 'decimal' ? 'numeric' : 'plain' };
    case 'avg':
      if (field.type === 'decimal') return { expr: `trim_scale(avg(${c}))`, kind: 'numeric' };
      if (field.type === 'datetime') {
        // The mean instant, exact to the microsecond: mean epoch (numeric) rounded to µs, added to the epoch
        // as a pure time interval (no day part, so independent of the session time zone).
        return {
          expr: `('epoch'::timestamptz + interval '1 microsecond' * round(avg(extract(epoch FROM ${c})) * 1000000)::float8)`,
          kind: 'timestamp',
        };
      }
      return { expr: `avg(${c})::float8`, kind: 'plain' };
    case 'min':
    case 'max':
      return { expr: `${fn}(${c})`, kind: columnKind(field.type) };
    case 'p50':
    case 'p90':
    case 'p95':
    case 'p99':
      // Continuous percentile, interpolated (percentile_cont over float8; nulls are ignored).
      return { expr: `percentile_cont(${PERCENTILE[fn]}) WITHIN GROUP (ORDER BY ${c}::float8)`, kind: 'plain' };
  }
}

/** ORDER BY expression of one plan ordering item in the grouped query. */
function orderTarget(ctx: CompileContext, entity: Entity, alias: string, keys: readonly ResolvedKey[], item: AggregateOrderItem): string {
  const t = item.target;
  switch (t.kind) {
    case 'count':
      return 'count(*)';
    case 'key': {
      const k = keys.find((x) => x.key.name === t.name);
      if (!k) {
        throw badInput(`Cannot order groups by key "${t.name}": it is not in group_by. Add it to group_by, or order by a key you group by.`);
      }
      return col(alias, k.column);
    }
    case 'fn':
      return fnSql(t.fn, fnField(ctx, entity, t.fn, t.column), alias).expr;
  }
}

/** The JSON object of one group, keyed by the plan's response keys in order. */
function groupJson(ctx: CompileContext, entity: Entity, alias: string, keys: readonly ResolvedKey[], fields: readonly AggregateField[]): string {
  const pairs = fields.map((f): readonly [string, string] => {
    switch (f.kind) {
      case 'typename':
        return [f.responseKey, textConst(ctx, f.value)];
      case 'count':
        return [f.responseKey, 'count(*)'];
      case 'key':
        return [
          f.responseKey,
          jsonObject(
            ctx,
            f.fields.map((k): readonly [string, string] => {
              if (k.kind === 'typename') return [k.responseKey, textConst(ctx, k.value)];
              const resolved = keys.find((x) => x.key.name === k.name);
              // A key the operation does not group by is null in every group.
              return [k.responseKey, resolved ? toJson(col(alias, resolved.column), resolved.kind) : 'NULL'];
            }),
          ),
        ];
      case 'fn':
        return [
          f.responseKey,
          jsonObject(
            ctx,
            f.fields.map((c): readonly [string, string] => {
              if (c.kind === 'typename') return [c.responseKey, textConst(ctx, c.value)];
              const { expr, kind } = fnSql(f.fn, fnField(ctx, entity, f.fn, c.column), alias);
              return [c.responseKey, toJson(expr, kind)];
            }),
          ),
        ];
    }
  });
  return jsonObject(ctx, pairs);
}

/**
 * Compile an aggregate node; `corr` correlates it with a parent row when nested (`experiment.trials_aggregate`).
 * @returns a scalar sub-query of type `json` (an array of group objects)
 * @throws LatticeError BAD_USER_INPUT for a negative or non-integer limit, a group key that is not a groupable
 *         column (or a path that is not made of to-one relations), a time bucket on a field that has none,
 *         two different keys with one name, ordering by a key that is not grouped by, a function applied to a
 *         column it does not accept (see `aggregateAccepts`), and `search` on an entity without searchable fields
 */
export function aggregateSql(ctx: CompileContext, node: AggregateNode, corr?: Correlation): string {
  const { filter, search, groupBy, orderBy, limit } = node.args;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) throw badInput('"limit" must be a non-negative integer.');
  // The rows: tenant scope, correlation with the parent row, filter and full-text match (`rows.ts`).
  const read = openRows(ctx, bindRows(ctx, node.entity, { filter, search }, corr));
  const { src, conds: where } = read;
  const entity = src.entity;
  const a = src.alias;
  const joins = new PathJoins(ctx, { entity, alias: a });
  const keys = resolveKeys(joins, entity, groupBy);
  const keyCols = keys.map((k) => `, ${k.expr} AS ${quoteIdent(k.column)}`).join('');
  const rows = `SELECT ${a}.*${keyCols} FROM ${src.from}${joins.sql.join('')} WHERE ${and(where)}`;

  // Explicit ordering first, then every group key ascending so that the order of groups is total.
  const items: Array<{ expr: string; direction: string; nulls: string }> = orderBy.map((item) => ({
    expr: orderTarget(ctx, entity, a, keys, item),
    direction: item.direction === 'DESC' ? 'DESC' : 'ASC',
    nulls: item.nulls === 'FIRST' ? 'FIRST' : 'LAST',
  }));
  for (const k of keys) items.push({ expr: col(a, k.column), direction: 'ASC', nulls: 'LAST' });
  const orderCols = items.map((_, i) => quoteIdent(`__lattice_o${i + 1}`));
  const orderList = (prefix: string) => items.map((it, i) => `${prefix}${orderCols[i]} ${it.direction} NULLS ${it.nulls}`).join(', ');

  const obj = groupJson(ctx, entity, a, keys, node.fields);
  const groupCols = keys.length === 0 ? '()' : keys.map((k) => col(a, k.column)).join(', ');
  let grouped = `SELECT ${obj} AS j${items.map((it, i) => `, ${it.expr} AS ${orderCols[i]}`).join('')} FROM (${rows}) ${a} GROUP BY ${groupCols}`;
  if (items.length > 0) grouped += ` ORDER BY ${orderList('')}`;
  if (limit !== undefined) grouped += ` LIMIT ${ctx.params.add(limit, 'int8')}`;
  const g = ctx.alias();
  const agg = items.length > 0 ? `json_agg(${g}.j ORDER BY ${orderList(`${g}.`)})` : `json_agg(${g}.j)`;
  return `(SELECT coalesce(${agg}, '[]'::json) FROM (${grouped}) ${g})`;
}

import { beforeAll, describe, expect, it } from 'vitest';
import { LatticeError } from '../../src/errors.js';
import { loadPreset } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import type { Filter, OrderItem } from '../../src/query/plan.js';
import { qualified, quoteIdent } from '../../src/query/sql/ident.js';
import { ParamContext } from '../../src/query/sql/params.js';
import { CompileContext } from '../../src/query/sql/context.js';
import { compileFilter, escapeLike } from '../../src/query/sql/filter.js';
import { effectiveOrder, reverseOrder } from '../../src/query/order.js';
import { orderSql, sqlKeys } from '../../src/query/sql/order.js';
import { afterCursor } from '../../src/query/sql/keyset.js';
import { jsonObject } from '../../src/query/sql/json.js';
import { compileRead } from '../../src/query/sql/compile.js';

let model: Model;
beforeAll(async () => {
  model = await loadPreset('experiments');
});

function filterSql(entity: string, f: Filter, scope: string[] | null = null) {
  const ctx = new CompileContext(model, scope ? { kind: 'projects', projectIds: scope } : { kind: 'all' });
  const sql = compileFilter(ctx, model.entities.get(entity)!, 't0', f);
  return { sql, params: ctx.params.values };
}

const cmp = (column: string, op: string, value: unknown, type = 'string'): Filter =>
  ({ kind: 'compare', column, type, op, value }) as Filter;

describe('quoteIdent / qualified', () => {
  it('always quotes and doubles embedded quotes', () => {
    expect(quoteIdent('name')).toBe('"name"');
    expect(quoteIdent('Mixed Case')).toBe('"Mixed Case"');
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(quoteIdent('x"; drop table t; --')).toBe('"x""; drop table t; --"');
    expect(qualified('app', 'trial')).toBe('"app"."trial"');
  });
  it('rejects NUL and empty names', () => {
    expect(() => quoteIdent('a\0b')).toThrow(LatticeError);
    expect(() => quoteIdent('')).toThrow(/empty/);
  });
});

describe('ParamContext', () => {
  it('numbers placeholders, casts explicitly, serialises JSON and shares the scope parameter', () => {
    const p = new ParamContext();
    expect(p.add('x', 'text')).toBe('$1::text');
    expect(p.add({ a: [1] }, 'jsonb')).toBe('$2::jsonb');
    expect(p.add(['a', 'b'], 'text[]')).toBe('$3::text[]');
    expect(p.add(new Date('2026-01-02T03:04:05.678Z'), 'timestamptz')).toBe('$4::timestamptz');
    expect(p.add(12n, 'int8')).toBe('$5::int8');
    expect(p.add('plain string', 'jsonb')).toBe('$6::jsonb');
    expect(p.scope(['p1'])).toBe('$7::uuid[]');
    expect(p.scope(['p1'])).toBe('$7::uuid[]');
    expect(p.values).toEqual(['x', '{"a":[1]}', ['a', 'b'], '2026-01-02T03:04:05.678Z', '12', '"plain string"', ['p1']]);
  });
});

describe('filters', () => {
  it('compiles comparisons with casts and null-aware ne / not_in', () => {
    expect(filterSql('trial', cmp('name', 'eq', 'a'))).toEqual({ sql: 't0."name" = $1::text', params: ['a'] });
    // A trailing escape character would fail in PostgreSQL only once a row reaches it: refused up front.
    expect(() => filterSql('trial', cmp('name', 'like', 'abc\\'))).toThrow(/ends with the escape character/);
    expect(() => filterSql('trial', cmp('name', 'ilike', 'a\\\\\\'))).toThrow(LatticeError);
    expect(filterSql('trial', cmp('name', 'like', 'a\\\\')).params).toEqual(['a\\\\']);
    expect(filterSql('trial', cmp('name', 'eq', null)).sql).toBe('t0."name" IS NULL');
    expect(filterSql('trial', cmp('name', 'ne', 'a')).sql).toBe('t0."name" IS DISTINCT FROM $1::text');
    expect(filterSql('trial', cmp('duration', 'gte', 1.5, 'float'))).toEqual({ sql: 't0."duration" >= $1::float8', params: [1.5] });
    const u = '0190a6a4-8f7e-7c3a-9d4e-1234567890ab';
    expect(filterSql('trial', cmp('id', 'in', [u, u], 'uuid')).sql).toBe('t0."id" = ANY($1::uuid[])');
    expect(() => filterSql('trial', cmp('experiment_id', 'eq', 'nope', 'ref'))).toThrow(/experiment_id must be a UUID/);
    expect(() => filterSql('trial', cmp('id', 'not_in', [u, 'x'], 'uuid'))).toThrow(LatticeError);
    expect(filterSql('trial', cmp('name', 'not_in', ['a'])).sql).toBe('(t0."name" = ANY($1::text[])) IS NOT TRUE');
    expect(filterSql('trial', cmp('duration', 'is_null', false, 'float')).sql).toBe('t0."duration" IS NOT NULL');
  });
  it('compares enums as text for equality and as the enum type for ranges', () => {
    expect(filterSql('trial', cmp('status', 'eq', 'running', 'enum')).sql).toBe('t0."status"::text = $1::text');
    expect(filterSql('trial', cmp('status', 'gt', 'running', 'enum')).sql).toBe('t0."status" > $1::"app"."trial_status"');
  });
  it('escapes LIKE metacharacters for starts_with and contains, passes like patterns as given', () => {
    expect(escapeLike('50%_a\\b')).toBe('50\\%\\_a\\\\b');
    expect(filterSql('trial', cmp('name', 'starts_with', '5%_'))).toEqual({ sql: 't0."name" LIKE $1::text', params: ['5\\%\\_%'] });
    expect(filterSql('trial', cmp('name', 'contains', 'a_b')).params).toEqual(['%a\\_b%']);
    expect(filterSql('trial', cmp('name', 'like', 'a%')).params).toEqual(['a%']);
    expect(filterSql('trial', cmp('name', 'ilike', 'A%')).sql).toBe('t0."name" ILIKE $1::text');
  });
  it('uses jsonb operators for json contains / has_key', () => {
    expect(filterSql('trial', cmp('params', 'contains', { lr: 0.1 }, 'json'))).toEqual({ sql: 't0."params" @> $1::jsonb', params: ['{"lr":0.1}'] });
    expect(filterSql('trial', cmp('params', 'has_key', 'lr', 'json')).sql).toBe('t0."params" ? $1::text');
    expect(() => filterSql('trial', cmp('name', 'has_key', 'lr'))).toThrow(/"has_key" does not apply to name \(a string field\); use one of: eq, ne/);
    expect(() => filterSql('trial', cmp('name', 'in', 'notalist'))).toThrow(/list of values/);
  });
  it('combines and/or/not with empty and = true, empty or = false', () => {
    expect(filterSql('trial', { kind: 'and', items: [] }).sql).toBe('true');
    expect(filterSql('trial', { kind: 'or', items: [] }).sql).toBe('false');
    const f = filterSql('trial', {
      kind: 'or',
      items: [cmp('name', 'eq', 'a'), { kind: 'not', item: { kind: 'and', items: [cmp('name', 'eq', 'b'), cmp('name', 'ne', 'c')] } }],
    });
    expect(f.sql).toBe('(t0."name" = $1::text) OR (((t0."name" = $2::text) AND (t0."name" IS DISTINCT FROM $3::text)) IS NOT TRUE)');
  });
  it('compiles related filters as correlated EXISTS carrying the tenant column and the scope', () => {
    const some = filterSql('experiment', { kind: 'related', relation: 'trials', mode: 'some', filter: cmp('name', 'eq', 'x') }, ['p']);
    expect(some.sql).toBe(
      'EXISTS (SELECT 1 FROM "app"."trial" t1 WHERE (t1."experiment_id" = t0."id") AND (t1."project_id" = t0."project_id") AND (t1."project_id" = ANY($1::uuid[])) AND (t1."name" = $2::text))',
    );
    expect(some.params).toEqual([['p'], 'x']);
    const every = filterSql('experiment', { kind: 'related', relation: 'trials', mode: 'every', filter: cmp('name', 'eq', 'x') });
    expect(every.sql).toMatch(/^NOT EXISTS \(.*\(\(t1."name" = \$1::text\) IS NOT TRUE\)\)$/);
    const none = filterSql('experiment', { kind: 'related', relation: 'trials', mode: 'none', filter: cmp('name', 'eq', 'x') });
    expect(none.sql).toMatch(/^NOT EXISTS \(SELECT 1 FROM "app"."trial" t1 WHERE .*\(t1."name" = \$1::text\)\)$/);
    const is = filterSql('trial', { kind: 'related', relation: 'experiment', mode: 'is', filter: cmp('kind', 'eq', 'k') });
    expect(is.sql).toBe('EXISTS (SELECT 1 FROM "app"."experiment" t1 WHERE (t1."id" = t0."experiment_id") AND (t1."project_id" = t0."project_id") AND (t1."kind" = $1::text))');
  });
});

describe('ordering and keyset predicates', () => {
  const order: OrderItem[] = [
    { column: 'duration', direction: 'DESC', nulls: 'LAST' },
    { column: 'name', direction: 'ASC', nulls: 'FIRST' },
  ];
  it('appends the id tiebreaker unless present, and reverses directions and nulls', () => {
    const trial = model.entities.get('trial')!;
    const ctx = new CompileContext(model, { kind: 'all' });
    const keys = effectiveOrder(model, trial, { orderBy: order });
    expect(orderSql(sqlKeys(ctx, trial, 't', keys, {}))).toBe('t."duration" DESC NULLS LAST, t."name" ASC NULLS FIRST, t."id" ASC NULLS LAST');
    expect(orderSql(sqlKeys(ctx, trial, 't', reverseOrder(keys), {}))).toBe('t."duration" ASC NULLS FIRST, t."name" DESC NULLS LAST, t."id" DESC NULLS FIRST');
    expect(effectiveOrder(model, trial, { orderBy: [{ column: 'id', direction: 'DESC', nulls: 'FIRST' }, ...order] })).toHaveLength(1);
    expect(() => effectiveOrder(model, trial, { orderBy: [{ column: 'nope', direction: 'ASC', nulls: 'LAST' }] })).toThrow(LatticeError);
  });
  it('expands "after cursor" into an OR of ANDs specialised for null values', () => {
    const trial = model.entities.get('trial')!;
    const ctx = new CompileContext(model, { kind: 'all' });
    const keys = sqlKeys(ctx, trial, 't', effectiveOrder(model, trial, { orderBy: order }), {});
    const sql = afterCursor(ctx, keys, { values: ['1.5', null, 'id-1'] });
    expect(sql).toBe(
      '(((t."duration" < $1::float8 OR t."duration" IS NULL)) OR (t."duration" = $1::float8 AND t."name" IS NOT NULL) OR (t."duration" = $1::float8 AND t."name" IS NULL AND t."id" > $2::uuid))',
    );
    const ctx2 = new CompileContext(model, { kind: 'all' });
    // duration null under NULLS LAST: nothing after it on that key; equality on null is IS NULL.
    expect(afterCursor(ctx2, keys, { values: [null, 'b', 'id-1'] }, true)).toBe(
      '((t."duration" IS NULL AND t."name" > $1::text) OR (t."duration" IS NULL AND t."name" = $1::text AND t."id" > $2::uuid) OR (t."duration" IS NULL AND t."name" = $1::text AND t."id" = $2::uuid))',
    );
  });
});

describe('JSON objects', () => {
  it('chunks more than 50 keys and merges them textually, keeping order', () => {
    const ctx = new CompileContext(model, { kind: 'all' });
    const pairs = Array.from({ length: 120 }, (_, i) => [`k${i}`, `${i}`] as const);
    const sql = jsonObject(ctx, pairs);
    expect(sql.match(/json_build_object\(/g)).toHaveLength(3);
    expect(sql.startsWith("(left(json_build_object('k0'::text, 0")).toBe(true);
    expect(jsonObject(ctx, [])).toBe(`'{}'::json`);
  });
  it('binds response keys that are not plain names instead of inlining them', () => {
    const ctx = new CompileContext(model, { kind: 'all' });
    const sql = jsonObject(ctx, [["it's", '1']]);
    expect(sql).toBe('json_build_object($1::text, 1)');
    expect(ctx.params.values).toEqual(["it's"]);
  });
});

describe('compileRead', () => {
  it('produces one SELECT with a data column and scope on every table', () => {
    const q = compileRead(model, {
      scope: { kind: 'projects', projectIds: ['00000000-0000-0000-0000-000000000001'] },
      roots: [
        { responseKey: '__typename', node: { kind: 'typename', value: 'Query' } },
        {
          responseKey: 'experiments',
          node: {
            kind: 'list',
            entity: 'experiment',
            args: { orderBy: [], limit: 5 },
            selection: [
              { responseKey: 'id', kind: 'column', column: 'id' },
              { responseKey: 'trials', kind: 'to_many', relation: 'trials', node: { kind: 'list', entity: 'trial', args: { orderBy: [] }, selection: [{ responseKey: 'name', kind: 'column', column: 'name' }] } },
            ],
          },
        },
      ],
    });
    expect(q.text.startsWith("SELECT (json_build_object('__typename'::text, 'Query'::text, 'experiments'::text, (SELECT coalesce(json_agg(")).toBe(true);
    expect(q.text.endsWith(')::text AS data')).toBe(true);
    expect(q.text.match(/= ANY\(\$1::uuid\[\]\)/g)).toHaveLength(2);
    expect(q.params[0]).toEqual(['00000000-0000-0000-0000-000000000001']);
  });
  it('refuses malformed ids and first together with last with BAD_USER_INPUT', () => {
    const scope = { kind: 'all' } as const;
    expect(() => compileRead(model, { scope, roots: [{ responseKey: 'x', node: { kind: 'object', entity: 'trial', id: "1' or 1=1", selection: [] } }] })).toThrow(/id must be a UUID/);
    expect(() => compileRead(model, { scope, roots: [{ responseKey: 'x', node: { kind: 'by_ids', entity: 'trial', ids: ['nope'], selection: [] } }] })).toThrow(/ids\[0\] must be a UUID/);
    expect(() => compileRead(model, { scope, roots: [{ responseKey: 'x', node: { kind: 'connection', entity: 'trial', args: { orderBy: [], first: 1, last: 1 }, fields: [] } }] })).toThrow(/either "first" or "last"/);
    expect(() => compileRead(model, { scope, roots: [{ responseKey: 'x', node: { kind: 'list', entity: 'trial', args: { orderBy: [], limit: -1 }, selection: [] } }] })).toThrow(/non-negative/);
  });
});

describe('search and nearest: work PostgreSQL does once per row', () => {
  const book = (extra: Record<string, unknown>, selection: { responseKey: string; kind: string; column?: string }[]) =>
    ({
      roots: [{ responseKey: 'books', node: { kind: 'list', entity: 'book', args: { orderBy: [], limit: 5, ...extra }, selection } }],
      scope: { kind: 'all' },
    }) as unknown as Parameters<typeof compileRead>[1];
  const count = (text: string, needle: string) => text.split(needle).length - 1;
  const nearest = { column: 'embedding', vector: [1, 0, 0, 0], metric: 'cosine' };

  it('computes ts_rank only when _rank is selected or orders the rows', async () => {
    const { libraryModel } = await import('./library-model.js');
    const m = libraryModel();
    const title = [{ responseKey: 'title', kind: 'column', column: 'title' }];
    const byYear = [{ column: 'year', direction: 'ASC', nulls: 'LAST' }];
    expect(compileRead(m, book({ search: 'dune', orderBy: byYear }, title)).text).not.toContain('ts_rank');
    expect(compileRead(m, book({ search: 'dune', orderBy: byYear }, [...title, { responseKey: '_rank', kind: 'rank' }])).text).toContain('ts_rank');
    // Default ordering by rank needs it even when it is not selected.
    expect(compileRead(m, book({ search: 'dune' }, title)).text).toContain('ts_rank');
  });

  it('without pgvector, calls the distance function once, in a fenced derived table', async () => {
    const { libraryModel } = await import('./library-model.js');
    const m = libraryModel();
    const sel = [{ responseKey: 'title', kind: 'column', column: 'title' }, { responseKey: '_distance', kind: 'distance' }];
    const array = compileRead(m, book({ nearest }, sel), { vectors: 'array' }).text;
    expect(count(array, '"vec_cosine_distance"(')).toBe(1);
    expect(array).toContain('OFFSET 0');
    // With pgvector the operator stays on the base table, where an HNSW index can order by it.
    const pgvector = compileRead(m, book({ nearest }, sel), { vectors: 'pgvector' }).text;
    expect(pgvector).toMatch(/ORDER BY \(t\d+\."embedding" <=> \$\d+::vector\)/);
    expect(pgvector).not.toContain('OFFSET 0');
  });
});

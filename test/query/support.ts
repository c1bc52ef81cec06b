/**
 * Helpers for query-compiler tests: deterministic ids, plan builders and a runner that compiles a plan, runs
 * it under a principal and checks the one-statement rule (SPEC G-10).
 */
import { expect } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import type { Db } from '../../src/db/types.js';
import type { Model } from '../../src/model/types.js';
import type { Filter, OrderItem, RootNode, Scope, Selection, SelectionItem } from '../../src/query/plan.js';
import { compileRead, type CompileOptions } from '../../src/query/sql/compile.js';
import { readCompileOptions } from '../../src/db/migrate/index.js';

/** A deterministic UUID whose order follows `n`. */
export const uid = (n: number): string => `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;

/** Column selection items for the given column names (response key = column). */
export const cols = (...names: string[]): SelectionItem[] =>
  names.map((c) => ({ responseKey: c, kind: 'column', column: c }) as const);

export const asc = (column: string, nulls: 'FIRST' | 'LAST' = 'LAST'): OrderItem => ({ column, direction: 'ASC', nulls });
export const desc = (column: string, nulls: 'FIRST' | 'LAST' = 'FIRST'): OrderItem => ({ column, direction: 'DESC', nulls });

export const cmp = (column: string, op: string, value: unknown, type = 'string'): Filter =>
  ({ kind: 'compare', column, type, op, value }) as Filter;

/** A list node. */
export const list = (entity: string, selection: Selection, args: { filter?: Filter; orderBy?: OrderItem[]; limit?: number; offset?: number } = {}): RootNode => ({
  kind: 'list',
  entity,
  args: { orderBy: [], ...args },
  selection,
});

/** Scope of a principal, as the API layers set it. */
export function scopeOf(p: Principal): Scope {
  return p.role === 'admin' ? { kind: 'all' } : { kind: 'projects', projectIds: p.projectIds };
}

const optionsCache = new WeakMap<Db, Promise<CompileOptions>>();

/** The compile options of a test database (how it stores vectors), read once per Db (one catalog query). */
export function compileOptionsOf(db: Db): Promise<CompileOptions> {
  let o = optionsCache.get(db);
  if (!o) optionsCache.set(db, (o = readCompileOptions(db)));
  return o;
}

/**
 * Compile `roots` and run them as `principal`; asserts exactly one statement and one row with a TEXT `data`
 * column, returns the parsed JSON (and the raw text, for key-order checks).
 */
export async function runPlan(
  db: Db,
  model: Model,
  principal: Principal,
  roots: Array<[string, RootNode]>,
  scope: Scope = scopeOf(principal),
): Promise<{ data: Record<string, unknown>; text: string }> {
  const q = compileRead(model, { scope, roots: roots.map(([responseKey, node]) => ({ responseKey, node })) }, await compileOptionsOf(db));
  // Every bind parameter is referenced (PostgreSQL cannot type a parameter the text never mentions).
  q.params.forEach((_, i) => expect(q.text).toMatch(new RegExp(`\\$${i + 1}::`)));
  const before = db.stats.statements;
  const r = await db.withPrincipal(principal, (tx) => tx.query<{ data: unknown }>(q.text, q.params));
  expect(db.stats.statements - before).toBe(1);
  expect(r.rows).toHaveLength(1);
  const text = r.rows[0].data;
  expect(typeof text).toBe('string');
  const data = JSON.parse(text as string) as Record<string, unknown>;
  expect(Object.keys(data)).toEqual(roots.map(([k]) => k));
  return { data, text: text as string };
}

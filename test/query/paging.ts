/**
 * Keyset-pagination checks shared by the search, similarity and nested-ordering tests: walk a connection
 * forward (`first` + `after`) and backward (`last` + `before`) page by page and compare the concatenation with
 * the expected order — no duplicates, no gaps, page flags and cursors consistent, cursors stable.
 */
import { expect } from 'vitest';
import type { ConnectionArgs, ConnectionField, Cursor, Selection } from '../../src/query/plan.js';
import { cols } from './support.js';

/** A connection page as selected by `PAGE_FIELDS`. */
export interface Page {
  total_count: number;
  edges: Array<{ cursor: string; node: Record<string, unknown> & { id: string } }>;
  nodes: Array<Record<string, unknown> & { id: string }>;
  page_info: { has_next_page: boolean; has_previous_page: boolean; start_cursor: string | null; end_cursor: string | null };
}

/** Every connection field; nodes select `id` plus `more`. */
export function pageFields(more: Selection = []): ConnectionField[] {
  const sel = [...cols('id'), ...more];
  return [
    { responseKey: 'total_count', kind: 'total_count' },
    { responseKey: 'edges', kind: 'edges', fields: [{ responseKey: 'cursor', kind: 'cursor' }, { responseKey: 'node', kind: 'node', selection: sel }] },
    { responseKey: 'nodes', kind: 'nodes', selection: sel },
    {
      responseKey: 'page_info',
      kind: 'page_info',
      fields: [
        { responseKey: 'has_next_page', kind: 'has_next_page' },
        { responseKey: 'has_previous_page', kind: 'has_previous_page' },
        { responseKey: 'start_cursor', kind: 'start_cursor' },
        { responseKey: 'end_cursor', kind: 'end_cursor' },
      ],
    },
  ];
}

/**
 * Walk forward and backward with pages of `size` and expect exactly `expected` (ids in order) both ways.
 * @param page fetches one page for the given paging arguments (the caller adds ordering, search, ...)
 * @param decode turns a cursor string into the plan's cursor (through `decodeCursor`, as the API layers do)
 */
export async function walk(
  page: (paging: Pick<ConnectionArgs, 'first' | 'last' | 'after' | 'before'>) => Promise<Page>,
  decode: (raw: string) => Cursor,
  expected: readonly string[],
  size: number,
): Promise<void> {
  const check = (p: Page) => {
    expect(p.nodes.map((n) => n.id)).toEqual(p.edges.map((e) => e.node.id));
    expect(p.page_info.start_cursor).toBe(p.edges[0]?.cursor ?? null);
    expect(p.page_info.end_cursor).toBe(p.edges.at(-1)?.cursor ?? null);
    expect(p.total_count).toBe(expected.length);
  };
  const forward: string[] = [];
  let after: string | null = null;
  for (let i = 0; ; i++) {
    const p: Page = await page({ first: size, ...(after ? { after: decode(after) } : {}) });
    check(p);
    expect(p.page_info.has_previous_page).toBe(i > 0);
    forward.push(...p.nodes.map((n) => n.id));
    expect(p.page_info.has_next_page).toBe(forward.length < expected.length);
    if (after) {
      // The same cursor gives the same page again (cursors are stable).
      const again: Page = await page({ first: size, after: decode(after) });
      expect(again.edges).toEqual(p.edges);
    }
    if (!p.page_info.has_next_page) break;
    after = p.page_info.end_cursor;
  }
  expect(forward).toEqual(expected);
  const backward: string[] = [];
  let before: string | null = null;
  for (let i = 0; ; i++) {
    const p: Page = await page({ last: size, ...(before ? { before: decode(before) } : {}) });
    check(p);
    expect(p.page_info.has_next_page).toBe(i > 0);
    backward.unshift(...p.nodes.map((n) => n.id));
    expect(p.page_info.has_previous_page).toBe(backward.length < expected.length);
    if (!p.page_info.has_previous_page) break;
    before = p.page_info.start_cursor;
  }
  expect(backward).toEqual(expected);
}

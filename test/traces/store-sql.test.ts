/**
 * The traces store's merge statement without a database (`src/traces/store-sql.ts`): column-wise input shared
 * with the generic write (`src/query/write/columns.ts`) — one array per column, presence only for columns some
 * rows omit, the placeholder flag as one more `boolean[]` — and compact outcomes (exceptions plus a count).
 * Its behaviour on both databases is covered by `store.test.ts`, `langfuse-ingestion.test.ts` and the OTLP tests.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPreset } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import { RULES } from '../../src/traces/records.js';
import { compileMerge } from '../../src/traces/store-sql.js';

let model: Model;
beforeAll(async () => {
  model = await loadPreset('traces');
});

const P = '0190a0a0-0000-7000-8000-0000000000aa';
const T1 = '0190a0a0-0000-7000-8000-000000000001';
const T2 = '0190a0a0-0000-7000-8000-000000000002';

describe('compileMerge', () => {
  it('sends one array per column, presence only where rows differ, and the placeholder flag', () => {
    const { text, params } = compileMerge(model, {
      entity: model.entities.get('trace')!,
      rules: RULES.trace,
      rows: [
        { values: { id: T1, project_id: P, name: 'a "b"', tags: ['x', 'y,z'], metadata: { k: 1 } }, stub: false },
        { values: { id: T2, project_id: P, tags: [] }, stub: true },
      ],
    });
    expect(text).toContain('ROWS FROM (unnest($');
    expect(text).not.toContain('jsonb_populate_record(NULL::"app"."trace", e.');
    expect(params).toContain(`{"${T1}","${T2}"}`);
    expect(params).toContain('{"a \\"b\\"",NULL}'); // name: given by one row ...
    expect(params).toContain('{t,f}'); // ... so it has a presence array; the placeholder flag is {f,t}
    expect(params).toContain('{f,t}');
    expect(params).toContain('{"{\\"x\\",\\"y,z\\"}","{}"}');
    expect(params).toContain(JSON.stringify([{ k: 1 }, null]));
    expect(text).toMatch(/SELECT ord, outcome, col FROM r WHERE outcome <> 'inserted' UNION ALL SELECT NULL, 'inserted', count\(\*\)::text FROM r WHERE outcome = 'inserted'$/);
    for (let i = 1; i <= params.length; i++) expect(text).toMatch(new RegExp(`\\$${i}(?![0-9])`));
  });

  it('probes the existing row by id per row and each distinct parent by id once (never an EXISTS over the whole table)', () => {
    const O1 = '0190a0a0-0000-7000-8000-000000000011';
    const { text } = compileMerge(model, {
      entity: model.entities.get('observation')!,
      rules: RULES.observation,
      rows: [{ values: { id: O1, project_id: P, trace_id: T1, parent_id: null, name: 'span' }, stub: false }],
    });
    expect(text).toContain('LEFT JOIN LATERAL (SELECT * FROM "app"."observation" o WHERE o."id" = c."id" LIMIT 1) o ON true');
    // Each distinct (project, parent) pair of the batch probed once by id in a materialized CTE, joined back to
    // the rows by the pair.
    for (const [table, column] of [['trace', 'trace_id'], ['observation', 'parent_id']]) {
      const cte = text.match(
        new RegExp(
          `(r\\d) AS MATERIALIZED \\(SELECT v\\."\\$pid", v\\."\\$val", \\(SELECT p\\."project_id" = v\\."\\$pid" FROM "app"\\."${table}" p WHERE p\\."id" = v\\."\\$val" LIMIT 1\\) AS "\\$ok" ` +
            `FROM \\(SELECT DISTINCT s\\."project_id" AS "\\$pid", s\\."${column}" AS "\\$val" FROM c s WHERE s\\."${column}" IS NOT NULL\\) v\\)`,
        ),
      );
      expect(cte).not.toBeNull();
      const r = cte![1];
      expect(text).toContain(`LEFT JOIN ${r} ON ${r}."$val" = c."${column}" AND ${r}."$pid" = c."project_id"`);
    }
    expect(text).not.toMatch(/EXISTS \(SELECT 1 FROM "app"\."(trace|observation)"/);
  });

  it('refuses a plan that repeats an id', () => {
    const row = { values: { id: T1, project_id: P }, stub: false };
    expect(() => compileMerge(model, { entity: model.entities.get('trace')!, rules: RULES.trace, rows: [row, row] })).toThrow(/repeats id/);
  });
});

/**
 * Write-plan compilation without a database (`src/query/write/sql.ts`): one statement per plan, values only
 * as bind parameters (one array per column), identifiers quoted, and the expected CTEs per mode.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPreset } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import { compileWrite } from '../../src/query/write/sql.js';
import { dependencyOrder } from '../../src/rest/rows.js';

let model: Model;
beforeAll(async () => {
  model = await loadPreset('experiments');
});

const hostile = "x'); DROP TABLE app.trial; --";
const row = { id: '0190a0a0-0000-7000-8000-000000000001', project_id: '0190a0a0-0000-7000-8000-0000000000aa', experiment_id: '0190a0a0-0000-7000-8000-000000000002', name: hostile };

describe('compileWrite', () => {
  it.each(['create', 'upsert', 'update', 'delete'] as const)('%s: one statement, values bound, every placeholder used', (mode) => {
    const { text, params } = compileWrite(model, { entity: 'trial', mode, rows: [{ values: row }] });
    expect(text.startsWith('WITH ')).toBe(true);
    expect(text).not.toContain(hostile);
    expect(text).not.toContain(row.id);
    expect(text.split(';')).toHaveLength(1);
    // Column-wise input: one array literal per column (`columns.ts`), the id column first.
    expect(params[0]).toBe(`{"${row.id}"}`);
    if (mode !== 'delete') expect(params).toContain(`{"${hostile}"}`);
    for (let i = 1; i <= params.length; i++) expect(text).toMatch(new RegExp(`\\$${i}(?![0-9])`));
    expect(text).not.toMatch(new RegExp(`\\$${params.length + 1}(?![0-9])`));
  });

  it('pre-checks references in the same project and never uses ON CONFLICT DO UPDATE', () => {
    const { text } = compileWrite(model, { entity: 'trial', mode: 'upsert', rows: [{ values: row }] });
    // One index probe per DISTINCT (project, parent) pair of the input by the parent's id (a scalar sub-select
    // with LIMIT 1, never an EXISTS the planner may hash over the whole parent table), the project compared on
    // the row found, in a materialized CTE joined back to the rows by the pair.
    expect(text).toContain(
      'r0 AS MATERIALIZED (SELECT v."$pid", v."$val", (SELECT p."project_id" = v."$pid" FROM "app"."experiment" p WHERE p."id" = v."$val" LIMIT 1) AS "$ok" ' +
        'FROM (SELECT DISTINCT s."project_id" AS "$pid", s."experiment_id" AS "$val" FROM c s WHERE s."experiment_id" IS NOT NULL) v)',
    );
    expect(text).toContain('LEFT JOIN r0 ON r0."$val" = c."experiment_id" AND r0."$pid" = c."project_id"');
    expect(text).toContain('r0."$ok" IS NOT TRUE');
    // An update's project is the existing row's: one lateral probe per row.
    const update = compileWrite(model, { entity: 'trial', mode: 'update', rows: [{ values: row }] }).text;
    expect(update).toContain(
      'LEFT JOIN LATERAL (SELECT p."project_id" = o."project_id" AS "$ok" FROM "app"."experiment" p WHERE p."id" = c."experiment_id" LIMIT 1) r0 ON true',
    );
    expect(text).not.toContain('EXISTS (SELECT 1 FROM "app"."experiment"');
    expect(text).toContain('ON CONFLICT ("id") DO NOTHING');
    expect(text).not.toContain('DO UPDATE');
    expect(text).toContain('UPDATE "app"."trial" t SET');
  });

  it('looks existing rows up by index (LATERAL ... LIMIT 1), a create only for the rows its insert skipped', () => {
    const lookup = 'LEFT JOIN LATERAL (SELECT * FROM "app"."trial" o WHERE o."id" = ';
    const update = compileWrite(model, { entity: 'trial', mode: 'update', rows: [{ values: row }] }).text;
    expect(update).toContain(`${lookup}c."id" LIMIT 1) o ON true`);
    const create = compileWrite(model, { entity: 'trial', mode: 'create', rows: [{ values: row }] }).text;
    expect(create).toContain(`${lookup}k."id" LIMIT 1) o ON true WHERE k."id" NOT IN (SELECT w."id" FROM w)`);
    expect(create).toMatch(/UNION ALL SELECT NULL, \$\d+::text, count\(\*\)::text FROM w$/);
  });

  it('refuses the system project entity', () => {
    expect(() => compileWrite(model, { entity: 'project', mode: 'create', rows: [{ values: row }] })).toThrow(/not a data entity/);
  });
});

describe('dependencyOrder', () => {
  it('puts parents before children', () => {
    expect(dependencyOrder(model).map((e) => e.name)).toEqual(['experiment', 'trial', 'run', 'metric']);
  });
});

describe('eventRowId (idempotent ingestion without body ids)', () => {
  it('uses a UUID envelope id as is, and derives a stable per-project UUID otherwise', async () => {
    const { eventRowId } = await import('../../src/rest/rows.js');
    const p1 = '01a1ff01-ef0c-768d-a400-bcd720db334d';
    const p2 = '01a1ff01-ef0c-768d-a400-bcd720db334e';
    expect(eventRowId(p1, 'metric', '01A1FF01-EF4D-78E8-8502-95CFFCAEB3B6')).toBe('01a1ff01-ef4d-78e8-8502-95cffcaeb3b6');
    const a = eventRowId(p1, 'metric', 'm-1');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(eventRowId(p1, 'metric', 'm-1')).toBe(a);
    expect(eventRowId(p2, 'metric', 'm-1')).not.toBe(a);
    expect(eventRowId(p1, 'run', 'm-1')).not.toBe(a);
  });
});

/**
 * Declared indexes in the model (SPEC M-2; src/model/indexes.ts): `indexes:` resolved into `Entity.indexes`,
 * path-precise validation errors, deterministic names within 63 bytes, and the DDL text of tableDdl.
 */
import { describe, expect, it } from 'vitest';
import { LatticeError } from '../../src/errors.js';
import { loadModelDocument, loadPreset } from '../../src/model/load.js';
import { declaredIndexName } from '../../src/model/indexes.js';
import { tableDdl } from '../../src/db/migrate/tables.js';

function problems(doc: unknown): Array<{ path: string; message: string }> {
  try {
    loadModelDocument(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(LatticeError);
    expect((err as LatticeError).code).toBe('BAD_USER_INPUT');
    return [...(err as LatticeError).details];
  }
  throw new Error('expected the model to be rejected');
}

/** A one-entity model `metric` (ref to trial) with the given `indexes:`. */
function doc(indexes: unknown, extra: Record<string, unknown> = {}) {
  return {
    name: 'm',
    entities: {
      trial: { fields: { name: { type: 'string' } } },
      metric: {
        fields: {
          trial: { type: 'ref', to: 'trial', required: true },
          key: { type: 'string', required: true, index: true },
          step: { type: 'int' },
          status: { type: 'enum', values: ['ok', 'bad'] },
          done: { type: 'boolean' },
          meta: { type: 'json' },
          embedding: { type: 'vector', dimensions: 3 },
          ...extra,
        },
        indexes,
      },
    },
  };
}

describe('declared indexes: resolution', () => {
  it('resolves lists and objects: ref fields by model name, order, nulls, where', () => {
    const m = loadModelDocument(
      doc([
        ['trial', 'step'],
        { fields: ['key', { field: 'step', order: 'desc', nulls: 'last' }], where: { step: { is_null: false }, status: { eq: 'ok' } } },
      ]),
    );
    expect(m.entities.get('metric')!.indexes).toEqual([
      { name: 'metric_trial_id_step_idx', columns: [{ column: 'trial_id', order: 'asc' }, { column: 'step', order: 'asc' }], where: [] },
      {
        name: 'metric_key_step_idx',
        columns: [{ column: 'key', order: 'asc' }, { column: 'step', order: 'desc', nulls: 'last' }],
        where: [{ column: 'step', isNull: false }, { column: 'status', eq: 'ok' }],
      },
    ]);
    expect(m.entities.get('trial')!.indexes).toEqual([]);
    expect(m.entities.get('project')!.indexes).toEqual([]);
  });

  it('the experiments preset declares metrics by (trial, step) and (run, step)', async () => {
    const m = await loadPreset('experiments');
    expect(m.entities.get('metric')!.indexes.map((i) => i.name)).toEqual(['metric_trial_id_step_idx', 'metric_run_id_step_idx']);
  });

  it('keeps long names within 63 bytes and distinct', () => {
    const table = 'a_table_with_a_rather_long_name';
    const a = declaredIndexName(table, ['first_long_column_name', 'second_long_column_name_x']);
    const b = declaredIndexName(table, ['first_long_column_name', 'second_long_column_name_y']);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(b.length).toBeLessThanOrEqual(63);
    expect(a).not.toBe(b);
    expect(a).toMatch(/_[0-9a-f]{8}_idx$/);
    expect(declaredIndexName('metric', ['trial_id', 'step'])).toBe('metric_trial_id_step_idx');
  });
});

describe('declared indexes: validation errors with paths', () => {
  it('unknown fields, project, vector/json, duplicates within an index', () => {
    const p = problems(doc([['trial', 'stepp'], { fields: ['project', 'meta', { field: 'embedding' }] }, ['step', 'step']]));
    expect(p).toEqual(
      expect.arrayContaining([
        { path: 'entities.metric.indexes.0.fields.1', message: expect.stringContaining('unknown field "stepp"') },
        { path: 'entities.metric.indexes.1.fields.0', message: expect.stringContaining('project_id always leads') },
        { path: 'entities.metric.indexes.1.fields.1', message: expect.stringContaining('json field "meta" cannot be in a btree index') },
        { path: 'entities.metric.indexes.1.fields.2', message: expect.stringContaining('vector field "embedding"') },
        { path: 'entities.metric.indexes.2.fields.1', message: expect.stringContaining('listed twice') },
      ]),
    );
    expect(p).toHaveLength(5);
  });

  it('the same column list twice, and a per-field index name, are refused', () => {
    const p = problems(doc([['trial', 'step'], { fields: ['trial', { field: 'step', order: 'desc' }] }, ['key']]));
    expect(p).toEqual([
      { path: 'entities.metric.indexes.1', message: expect.stringContaining('same columns as entities.metric.indexes.0') },
      { path: 'entities.metric.indexes.2', message: expect.stringContaining('"metric_key_idx" already exists') },
    ]);
  });

  it('where: unknown field, literals checked against the field type, one operator at a time', () => {
    const p = problems(
      doc([
        {
          fields: ['trial', 'done'],
          where: { stepp: { is_null: false }, step: { eq: 'three' }, status: { eq: 'maybe' }, done: { eq: 1 }, meta: { eq: 'x' } },
        },
        { fields: ['step'], where: { key: { is_null: true } } },
        { fields: ['key', 'step'], where: { step: { is_null: true, eq: 1 } } },
      ]),
    );
    expect(p).toEqual(
      expect.arrayContaining([
        { path: 'entities.metric.indexes.2.where.step', message: expect.stringContaining('exactly one of is_null') },
      ]),
    );
    // Structural errors come first (zod); fix them to see the semantic ones.
    const q = problems(
      doc([
        {
          fields: ['trial', 'done'],
          where: { stepp: { is_null: false }, step: { eq: 'three' }, status: { eq: 'maybe' }, done: { eq: 1 }, meta: { eq: 'x' } },
        },
        { fields: ['step'], where: { key: { is_null: true } } },
      ]),
    );
    expect(q).toEqual([
      { path: 'entities.metric.indexes.0.where.stepp', message: expect.stringContaining('unknown field "stepp"') },
      { path: 'entities.metric.indexes.0.where.step.eq', message: 'expected an integer for the int field "step"' },
      { path: 'entities.metric.indexes.0.where.status.eq', message: 'expected one of ok, bad for the enum field "status"' },
      { path: 'entities.metric.indexes.0.where.done.eq', message: 'expected true or false for the boolean field "done"' },
      { path: 'entities.metric.indexes.0.where.meta.eq', message: expect.stringContaining('eq is not supported') },
      { path: 'entities.metric.indexes.1.where.key', message: expect.stringContaining('"key" is required') },
    ]);
  });

  it('rejects raw SQL shapes: unknown keys and non-literal values', () => {
    const p = problems(doc([{ fields: ['step'], where: { step: { sql: '1=1' } } }, { fields: ['step'], where: 'step > 0' }, [{ field: 'step', order: 'down' }], 'step']));
    expect(p).toEqual([
      { path: 'entities.metric.indexes.0.where.step', message: 'unknown key(s): sql' },
      { path: 'entities.metric.indexes.0.where.step', message: expect.stringContaining('exactly one of is_null') },
      { path: 'entities.metric.indexes.1.where', message: expect.stringContaining('is_null: true|false') },
      { path: 'entities.metric.indexes.2.fields.0.order', message: 'expected asc or desc' },
      { path: 'entities.metric.indexes.3', message: expect.stringContaining('expected a list of fields') },
    ]);
  });
});

describe('declared indexes: DDL', () => {
  it('CREATE INDEX IF NOT EXISTS led by project_id, with DESC, NULLS and a typed WHERE, and a marking comment', () => {
    const m = loadModelDocument(
      doc([
        ['trial', 'step'],
        { fields: ['key', { field: 'step', order: 'desc', nulls: 'last' }], where: { step: { is_null: false }, status: { eq: 'ok' }, done: { eq: true } } },
        { fields: ['trial', 'done'], where: { step: { eq: 3 }, key: { eq: "it's" } } },
      ]),
    );
    const ddl = tableDdl(m, m.entities.get('metric')!, { vector: false });
    expect(ddl).toContain('CREATE INDEX IF NOT EXISTS "metric_trial_id_step_idx" ON "app"."metric" (project_id, "trial_id", "step")');
    expect(ddl).toContain(`COMMENT ON INDEX "app"."metric_trial_id_step_idx" IS 'lattice:declared (project_id, "trial_id", "step")'`);
    expect(ddl).toContain(
      `CREATE INDEX IF NOT EXISTS "metric_key_step_idx" ON "app"."metric" (project_id, "key", "step" DESC NULLS LAST) WHERE "step" IS NOT NULL AND "status" = 'ok'::"app"."metric_status" AND "done" = true`,
    );
    expect(ddl).toContain(
      `CREATE INDEX IF NOT EXISTS "metric_trial_id_done_idx" ON "app"."metric" (project_id, "trial_id", "done") WHERE "step" = '3'::integer AND "key" = 'it''s'::text`,
    );
  });
});

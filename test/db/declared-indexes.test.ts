/**
 * Migrations of declared indexes (SPEC M-2, S-3; src/db/migrate/alter.ts `declaredIndexDdl`): `indexes:` are
 * created led by project_id with their order and partial condition, a second migrate is a no-op, a changed
 * definition is re-created, a removed one dropped (only indexes Lattice marked as declared), and the
 * experiments preset gets its metric-curve index — on PGlite and PostgreSQL 15.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate/index.js';
import { loadModelDocument, loadPreset } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, type TestDb } from '../support/db.js';

/** Index definitions of a table by name, as `pg_indexes` deparses them (without the `CREATE INDEX … ON …` head). */
async function indexDefs(t: TestDb, table: string): Promise<Record<string, string>> {
  const { rows } = await t.db.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE schemaname = 'app' AND tablename = $1`,
    [table],
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.def.replace(/^.* USING btree /, '')]));
}

function model(indexes: unknown): Model {
  return loadModelDocument({
    name: 'm',
    entities: {
      trial: { fields: { name: { type: 'string' } } },
      metric: {
        fields: {
          trial: { type: 'ref', to: 'trial', required: true, on_delete: 'cascade' },
          key: { type: 'string', required: true },
          step: { type: 'int' },
          status: { type: 'enum', values: ['ok', 'bad'] },
        },
        indexes,
      },
    },
  });
}

const FIRST = model([
  ['trial', 'step'],
  { fields: ['key', { field: 'step', order: 'desc' }], where: { step: { is_null: false } } },
]);

describe.each(TEST_KINDS)('declared index migrations on %s', (kind) => {
  let t: TestDb | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('creates declared indexes led by project_id, with DESC and WHERE; applying the model again is a no-op', async () => {
    t = await createTestDb(kind, FIRST);
    const defs = await indexDefs(t, 'metric');
    expect(defs.metric_trial_id_step_idx).toBe('(project_id, trial_id, step)');
    expect(defs.metric_key_step_idx).toBe('(project_id, key, step DESC) WHERE (step IS NOT NULL)');
    expect(defs.metric_trial_id_idx).toBe('(project_id, trial_id)');
    const { rows } = await t.db.query<{ c: string }>(`SELECT obj_description('app.metric_trial_id_step_idx'::regclass, 'pg_class') AS c`);
    expect(rows[0].c).toBe('lattice:declared (project_id, "trial_id", "step")');
    const again = await migrate(t.db, FIRST);
    expect(again).toMatchObject({ applied: false, statements: [] });
  });

  it('re-creates a changed index, drops a removed one, adds a new one, and leaves hand-made indexes alone', async () => {
    t = await createTestDb(kind, FIRST);
    const p = await createProject(t.db, 'p');
    const [trial] = await insertRows<{ id: string }>(t.db, 'trial', [{ project_id: p, name: 'a' }]);
    await insertRows(t.db, 'metric', [
      { project_id: p, trial_id: trial.id, key: 'loss', step: 1, status: 'ok' },
      { project_id: p, trial_id: trial.id, key: 'loss', step: 2, status: 'bad' },
    ]);
    await t.db.query(`CREATE INDEX metric_by_hand_idx ON app.metric (key)`);
    await t.db.query(`CREATE INDEX metric_commented_idx ON app.metric (step)`);
    await t.db.query(`COMMENT ON INDEX app.metric_commented_idx IS 'mine'`);

    const second = model([
      { fields: ['key', { field: 'step', nulls: 'first' }], where: { status: { eq: 'ok' } } },
      ['key', 'trial'],
    ]);
    const r = await migrate(t.db, second);
    expect(r.applied).toBe(true);
    expect(r.statements).toContain('DROP INDEX IF EXISTS "app"."metric_trial_id_step_idx"');
    expect(r.statements).toContain('DROP INDEX IF EXISTS "app"."metric_key_step_idx"');
    expect(r.statements.filter((s) => s.startsWith('DROP INDEX'))).toHaveLength(2);
    const defs = await indexDefs(t, 'metric');
    expect(defs).not.toHaveProperty('metric_trial_id_step_idx');
    expect(defs.metric_key_step_idx).toBe(`(project_id, key, step NULLS FIRST) WHERE (status = 'ok'::app.metric_status)`);
    expect(defs.metric_key_trial_id_idx).toBe('(project_id, key, trial_id)');
    expect(defs.metric_by_hand_idx).toBe('(key)');
    expect(defs.metric_commented_idx).toBe('(step)');
    expect((await migrate(t.db, second)).applied).toBe(false);
    const { rows } = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM app.metric`);
    expect(rows[0].n).toBe(2);

    // No declared index left: the declared ones go, the hand-made ones stay.
    const none = model(undefined);
    const r2 = await migrate(t.db, none);
    expect(r2.statements.filter((s) => s.startsWith('DROP INDEX')).sort()).toEqual([
      'DROP INDEX IF EXISTS "app"."metric_key_step_idx"',
      'DROP INDEX IF EXISTS "app"."metric_key_trial_id_idx"',
    ]);
    expect(Object.keys(await indexDefs(t, 'metric')).sort()).toEqual([
      'metric_by_hand_idx',
      'metric_commented_idx',
      'metric_created_at_idx',
      'metric_id_key',
      'metric_pkey',
      'metric_trial_id_idx',
    ]);
    expect((await migrate(t.db, none)).applied).toBe(false);
  });

  it('the experiments preset has the metric-curve indexes (trial, step) and (run, step)', async () => {
    t = await createTestDb(kind, await loadPreset('experiments'));
    const defs = await indexDefs(t, 'metric');
    expect(defs.metric_trial_id_step_idx).toBe('(project_id, trial_id, step)');
    expect(defs.metric_run_id_step_idx).toBe('(project_id, run_id, step)');
  });
});

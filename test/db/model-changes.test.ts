/**
 * Migrating a database whose tables already exist to a changed model (src/db/migrate/alter.ts): additive
 * changes are applied to the existing tables, destructive ones are refused with nothing applied, and a
 * migrated database is a no-op afterwards — on PGlite and PostgreSQL.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate/index.js';
import { LatticeError } from '../../src/errors.js';
import { loadModelDocument, loadPreset } from '../../src/model/load.js';
import type { JsonValue, Model } from '../../src/model/types.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, type TestDb } from '../support/db.js';

type Doc = { entities: Record<string, { fields: Record<string, Record<string, JsonValue>> } & Record<string, JsonValue>> };

/** The experiments preset with `edit` applied to a deep copy of its document. */
async function changedPreset(edit: (doc: Doc) => void): Promise<Model> {
  const base = await loadPreset('experiments');
  const doc = JSON.parse(JSON.stringify(base.document)) as Doc;
  edit(doc);
  return loadModelDocument(doc as unknown as JsonValue);
}

async function columns(t: TestDb, table: string): Promise<Record<string, { type: string; notNull: boolean }>> {
  const { rows } = await t.db.query<{ name: string; type: string; not_null: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null
       FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
    [table],
  );
  return Object.fromEntries(rows.map((r) => [r.name, { type: r.type, notNull: r.not_null }]));
}

async function versions(t: TestDb): Promise<number[]> {
  const { rows } = await t.db.query<{ version: number }>('SELECT version FROM lattice.model_versions ORDER BY version');
  return rows.map((r) => r.version);
}

describe.each(TEST_KINDS)('model changes on existing tables on %s', (kind) => {
  let t: TestDb;
  let project: string;
  let experimentId: string;

  beforeEach(async () => {
    t = await createTestDb(kind);
    project = await createProject(t.db, 'p');
    [{ id: experimentId }] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: project, name: 'e1' }]);
    await insertRows(t.db, 'trial', [{ project_id: project, experiment_id: experimentId, name: 't1' }]);
  });
  afterEach(async () => {
    await t?.close();
  });

  it('adds new fields to a table with rows (default, ref with tenant foreign key, searchable), then is a no-op', async () => {
    const next = await changedPreset((doc) => {
      doc.entities.trial.fields.priority = { type: 'int', default: 3 };
      doc.entities.trial.fields.notes = { type: 'text', searchable: true };
      doc.entities.trial.fields.baseline = { type: 'ref', to: 'experiment', inverse: 'baseline_trials' };
    });
    const result = await migrate(t.db, next);
    expect(result.applied).toBe(true);
    expect(result.version).toBe(2);
    expect(result.statements).toContain('ALTER TABLE "app"."trial" ADD COLUMN "priority" integer DEFAULT \'3\'::integer');
    const cols = await columns(t, 'app.trial');
    expect(cols).toMatchObject({
      priority: { type: 'integer', notNull: false },
      notes: { type: 'text' },
      baseline_id: { type: 'uuid' },
      search_vector: { type: 'tsvector' },
    });
    // The existing row got the default; the new ref is a tenant-composite foreign key with its index.
    const { rows } = await t.db.query('SELECT priority, baseline_id FROM app.trial');
    expect(rows).toEqual([{ priority: 3, baseline_id: null }]);
    const other = await createProject(t.db, 'other');
    const [foreign] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: other, name: 'theirs' }]);
    await expect(
      insertRows(t.db, 'trial', [{ project_id: project, experiment_id: experimentId, name: 't2', baseline_id: foreign.id }]),
    ).rejects.toMatchObject({ code: '23503' });
    const { rows: idx } = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = 'app' AND indexname IN ('trial_baseline_id_idx', 'trial_search_vector_idx')`,
    );
    expect(idx[0].n).toBe(2);
    // Full text of the new searchable field is generated for rows written from now on.
    await t.db.query(`UPDATE app.trial SET notes = 'learning rate sweep'`);
    const { rows: found } = await t.db.query(`SELECT name FROM app.trial WHERE search_vector @@ websearch_to_tsquery('english', 'sweep')`);
    expect(found).toEqual([{ name: 't1' }]);

    expect(await migrate(t.db, next)).toEqual({ applied: false, version: 2, statements: [], destructive: [] });
    expect(await versions(t)).toEqual([1, 2]);
  });

  it('makes a field optional or required, and adds or removes unique', async () => {
    const next = await changedPreset((doc) => {
      doc.entities.trial.fields.name = { type: 'string' }; // was required
      doc.entities.experiment.fields.kind = { type: 'string', required: true, default: 'sweep' };
      doc.entities.experiment.fields.name = { type: 'string', required: true, unique: true };
    });
    const before = await columns(t, 'app.experiment');
    expect(before.kind.notNull).toBe(false);
    await t.db.query(`UPDATE app.experiment SET kind = 'grid'`);
    const result = await migrate(t.db, next);
    expect(result.applied).toBe(true);
    expect((await columns(t, 'app.trial')).name.notNull).toBe(false);
    expect((await columns(t, 'app.experiment')).kind.notNull).toBe(true);
    await insertRows(t.db, 'trial', [{ project_id: project, experiment_id: experimentId }]);
    await expect(insertRows(t.db, 'experiment', [{ project_id: project, name: 'e1' }])).rejects.toMatchObject({ code: '23505' });

    // The new default applies to rows written from now on; existing values stay.
    const [added] = await insertRows<{ kind: string }>(t.db, 'experiment', [{ project_id: project, name: 'e2' }]);
    expect(added.kind).toBe('sweep');

    // And back: unique removed drops the constraint, the default removed drops the column default.
    const back = await changedPreset((doc) => {
      doc.entities.trial.fields.name = { type: 'string' };
      doc.entities.experiment.fields.kind = { type: 'string' };
    });
    const undo = await migrate(t.db, back);
    expect(undo.statements).toContain('ALTER TABLE "app"."experiment" DROP CONSTRAINT "experiment_name_key"');
    expect(undo.statements).toContain('ALTER TABLE "app"."experiment" ALTER COLUMN "kind" DROP DEFAULT');
    const [plain] = await insertRows<{ kind: string | null }>(t.db, 'experiment', [{ project_id: project, name: 'e1' }]);
    expect(plain.kind).toBeNull();
    expect(await versions(t)).toEqual([1, 2, 3]);
  });

  it('refuses a new required field without a default on a table with rows, naming the cause; nothing applied', async () => {
    const next = await changedPreset((doc) => {
      doc.entities.trial.fields.owner = { type: 'string', required: true };
      doc.entities.tag = { fields: { label: { type: 'string' } } };
    });
    const err = await migrate(t.db, next).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/^Migration failed at "ALTER TABLE "app"."trial" ADD COLUMN "owner" text NOT NULL".*null values.*give the new required field a default/);
    expect(await columns(t, 'app.trial')).not.toHaveProperty('owner');
    const { rows } = await t.db.query<{ reg: string | null }>(`SELECT to_regclass('app.tag')::text AS reg`);
    expect(rows[0].reg).toBeNull();
    expect(await versions(t)).toEqual([1]);
  });

  it('refuses type changes and removed fields with a CONFLICT naming each, before running any DDL', async () => {
    const next = await changedPreset((doc) => {
      doc.entities.trial.fields.duration = { type: 'int' }; // was float
      delete doc.entities.run.fields.meta;
      doc.entities.trial.fields.status = { type: 'string' }; // was an enum
      doc.entities.tag = { fields: { label: { type: 'string' } } };
    });
    const err = await migrate(t.db, next).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LatticeError);
    expect((err as LatticeError).code).toBe('CONFLICT');
    expect((err as LatticeError).details).toEqual([
      { path: 'entities.trial.fields.duration', message: 'column "duration" is double precision, the model says integer' },
      { path: 'entities.trial.fields.status', message: 'column "status" is app.trial_status, the model says text' },
      { path: 'entities.run', message: 'column "meta" has no field in the model (was a field removed or renamed?)' },
    ]);
    expect((err as Error).message).toMatch(/never drops or converts data/);
    const { rows } = await t.db.query<{ reg: string | null }>(`SELECT to_regclass('app.tag')::text AS reg`);
    expect(rows[0].reg).toBeNull();
    // The dry run refuses the same way.
    await expect(migrate(t.db, next, { dryRun: true })).rejects.toBeInstanceOf(LatticeError);
  });

  it('dry run shows the ALTER statements without running them; a column dropped by hand is re-added', async () => {
    const next = await changedPreset((doc) => {
      doc.entities.run.fields.host = { type: 'string', index: true };
    });
    const dry = await migrate(t.db, next, { dryRun: true });
    expect(dry).toMatchObject({ applied: false, version: 2 });
    expect(dry.statements).toContain('ALTER TABLE "app"."run" ADD COLUMN "host" text');
    expect(await columns(t, 'app.run')).not.toHaveProperty('host');
    await migrate(t.db, next);
    expect((await columns(t, 'app.run')).host).toEqual({ type: 'text', notNull: false });

    await t.db.query('ALTER TABLE app.run DROP COLUMN host');
    const again = await migrate(t.db, next);
    expect(again).toMatchObject({ applied: true, version: 3 });
    expect(await columns(t, 'app.run')).toHaveProperty('host');
    expect(await migrate(t.db, next)).toEqual({ applied: false, version: 3, statements: [], destructive: [] });
  });

  it('compares json defaults by value, not key order (jsonb reorders keys): no spurious versions', async () => {
    const next = await changedPreset((doc) => {
      doc.entities.trial.fields.config = { type: 'json', default: { zeta: 1, alpha: { b: 2, a: [1, { y: 1, x: 2 }] } } };
    });
    expect((await migrate(t.db, next)).applied).toBe(true);
    expect(await migrate(t.db, next)).toEqual({ applied: false, version: 2, statements: [], destructive: [] });
    expect(await versions(t)).toEqual([1, 2]);
  });

  it('adds enum values in their declared position and may use a new one as the default at once; refuses removing one', async () => {
    const next = await changedPreset((doc) => {
      doc.entities.trial.fields.status = {
        type: 'enum',
        values: ['queued', 'pending', 'running', 'paused', 'completed', 'cancelled', 'failed'],
        default: 'queued',
      };
    });
    const result = await migrate(t.db, next);
    expect(result.applied).toBe(true);
    const { rows } = await t.db.query<{ labels: string[] }>(
      `SELECT array_agg(enumlabel::text ORDER BY enumsortorder) AS labels FROM pg_enum WHERE enumtypid = 'app.trial_status'::regtype`,
    );
    expect(rows[0].labels).toEqual(['queued', 'pending', 'running', 'paused', 'completed', 'cancelled', 'failed']);
    const [trial] = await insertRows<{ status: string }>(t.db, 'trial', [{ project_id: project, experiment_id: experimentId, name: 't2' }]);
    expect(trial.status).toBe('queued');
    expect(await migrate(t.db, next)).toMatchObject({ applied: false, version: 2 });

    const shrunk = await changedPreset((doc) => {
      doc.entities.trial.fields.status = { type: 'enum', values: ['pending', 'running', 'completed', 'cancelled', 'failed'] };
    });
    await expect(migrate(t.db, shrunk)).rejects.toMatchObject({
      code: 'CONFLICT',
      details: [{ path: 'entities.trial.fields.status.values', message: expect.stringMatching(/"queued", "paused" are no longer in the model/) }],
    });
  });

  it('replaces a foreign key whose on_delete or target changed, and drops it when the ref becomes a plain uuid', async () => {
    const next = await changedPreset((doc) => {
      doc.entities.trial.fields.experiment = { ...doc.entities.trial.fields.experiment, on_delete: 'restrict' };
      doc.entities.metric.fields.run = { ...doc.entities.metric.fields.run, to: 'experiment', inverse: 'run_metrics' };
      const { trial: _trial, ...rest } = doc.entities.metric.fields;
      doc.entities.metric.fields = { ...rest, trial_id: { type: 'uuid', required: true } };
      doc.entities.metric.indexes = [['trial_id', 'step'], ['run', 'step']]; // same columns, now a plain field
    });
    await migrate(t.db, next);
    const { rows } = await t.db.query<{ name: string; def: string }>(
      `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conrelid IN ('app.trial'::regclass, 'app.metric'::regclass) AND contype = 'f' ORDER BY 1`,
    );
    const defs = Object.fromEntries(rows.map((r) => [r.name, r.def]));
    expect(defs.trial_experiment_id_fkey).toMatch(/REFERENCES app\.experiment\(project_id, id\) ON DELETE RESTRICT/);
    expect(defs.metric_run_id_fkey).toMatch(/REFERENCES app\.experiment\(project_id, id\)/);
    expect(defs).not.toHaveProperty('metric_trial_id_fkey');
    // restrict now protects the experiment's trials instead of cascading.
    // (foreign_key_violation on PostgreSQL 15, restrict_violation on PGlite's PostgreSQL 17)
    await expect(t.db.query('DELETE FROM app.experiment WHERE id = $1', [experimentId])).rejects.toMatchObject({
      code: expect.stringMatching(/^23(503|001)$/),
    });
    expect(await migrate(t.db, next)).toMatchObject({ applied: false, version: 2 });
  });

  it('compares names as PostgreSQL stores them (cut to 63 bytes): long generated names stay a no-op', async () => {
    const next = await changedPreset((doc) => {
      doc.entities.experiment_configuration_snapshot = {
        fields: {
          parent_configuration_snapshot: { type: 'ref', to: 'experiment_configuration_snapshot', inverse: 'children' },
          a_rather_long_unique_label_for_the_configuration: { type: 'string', unique: true },
          evaluation_status_of_the_latest_snapshot_run: { type: 'enum', values: ['a', 'b'] },
        },
      };
    });
    expect((await migrate(t.db, next)).applied).toBe(true);
    expect(await migrate(t.db, next)).toMatchObject({ applied: false, version: 2 });
  });

  it('says what to do when a new required ref meets existing rows', async () => {
    const next = await changedPreset((doc) => {
      doc.entities.trial.fields.owner_experiment = { type: 'ref', to: 'experiment', required: true, inverse: 'owned_trials' };
    });
    await expect(migrate(t.db, next)).rejects.toThrow(/give the new required field a default, or make it optional/);
  });

  it.skipIf(kind !== 'pglite')('converts a real[] vector column (created without pgvector) to vector(n) once pgvector is there', async () => {
    const next = await changedPreset((doc) => {
      doc.entities.run.fields.embedding = { type: 'vector', dimensions: 3 };
    });
    await migrate(t.db, next);
    // What a database created on a server without pgvector holds (SPEC S-5).
    await t.db.query('DROP INDEX app.run_embedding_hnsw_idx');
    await t.db.query('ALTER TABLE app.run ALTER COLUMN embedding TYPE real[] USING embedding::real[]');
    const [run] = await insertRows<{ id: string }>(t.db, 'run', [{ project_id: project, trial_id: (await t.db.query<{ id: string }>('SELECT id FROM app.trial')).rows[0].id }]);
    await t.db.query(`UPDATE app.run SET embedding = '{1,2,3}' WHERE id = $1`, [run.id]);
    const result = await migrate(t.db, next);
    expect(result.statements).toContain('ALTER TABLE "app"."run" ALTER COLUMN "embedding" TYPE vector(3) USING "embedding"::vector(3)');
    expect((await columns(t, 'app.run')).embedding.type).toBe('vector(3)');
    const { rows } = await t.db.query<{ e: string }>('SELECT embedding::text AS e FROM app.run WHERE id = $1', [run.id]);
    expect(rows[0].e).toBe('[1,2,3]');
  });
});

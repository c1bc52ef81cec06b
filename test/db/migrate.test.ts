import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDdl, migrate } from '../../src/db/migrate/index.js';
import { loadModelDocument, loadPreset } from '../../src/model/load.js';
import type { JsonValue, Model } from '../../src/model/types.js';
import { createProject, createTestDb, insertRows, TEST_KINDS, type TestDb } from '../support/db.js';

/** The preset plus a `tag` entity whose optional ref uses ON DELETE SET NULL (PostgreSQL 15 column list). */
async function extendedModel(): Promise<Model> {
  const base = await loadPreset();
  const doc = JSON.parse(JSON.stringify(base.document)) as { entities: Record<string, JsonValue> };
  doc.entities.tag = {
    fields: {
      experiment: { type: 'ref', to: 'experiment', on_delete: 'set null' },
      label: { type: 'string', required: true, unique: true },
      color: { type: 'enum', values: ['red', 'green'], default: 'red' },
      weights: { type: 'string[]', default: ['a', "b'c"] },
    },
  };
  return loadModelDocument(doc);
}

describe('generateDdl (pure)', () => {
  it('emits typed tables, composite keys, tenant-scoped foreign keys and RLS for every data table', async () => {
    const ddl = generateDdl(await loadPreset()).join(';\n');
    expect(ddl).toContain('CREATE TABLE IF NOT EXISTS "app"."trial"');
    expect(ddl).toContain('PRIMARY KEY (project_id, id)');
    expect(ddl).toContain('"trial_id_key" UNIQUE (id)');
    expect(ddl).toContain('FOREIGN KEY (project_id, "experiment_id") REFERENCES "app"."experiment" (project_id, id) ON DELETE CASCADE');
    expect(ddl).toContain('"duration" double precision');
    expect(ddl).toContain(`"status" "app"."trial_status" DEFAULT 'pending'::"app"."trial_status"`);
    expect(ddl).toContain('ON "app"."metric" (project_id, "run_id")');
    for (const t of ['experiment', 'trial', 'run', 'metric']) {
      expect(ddl).toContain(`ALTER TABLE "app"."${t}" FORCE ROW LEVEL SECURITY`);
    }
    expect(ddl).toContain('ALTER TABLE "lattice"."projects" FORCE ROW LEVEL SECURITY');
  });

  it('maps vectors to vector(n) with an HNSW index, or real[] without pgvector; set null keeps project_id', () => {
    const model = loadModelDocument({
      name: 'v',
      entities: {
        doc: { fields: { embedding: { type: 'vector', dimensions: 3 } } },
        chunk: { fields: { doc: { type: 'ref', to: 'doc', on_delete: 'set null' } } },
      },
    });
    const withVector = generateDdl(model, { vector: true }).join('\n');
    expect(withVector).toContain('"embedding" vector(3)');
    expect(withVector).toContain('USING hnsw ("embedding" vector_cosine_ops)');
    const without = generateDdl(model, { vector: false }).join('\n');
    expect(without).toContain('"embedding" real[]');
    expect(without).not.toContain('hnsw');
    expect(without).not.toContain('CREATE EXTENSION IF NOT EXISTS vector');
    expect(without).toContain('ON DELETE SET NULL ("doc_id")');
  });
});

describe.each(TEST_KINDS)('migrate on %s', (kind) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(kind);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is idempotent and records each applied version with its DDL', async () => {
    const again = await migrate(t.db, t.model);
    expect(again).toEqual({ applied: false, version: 1, statements: [], destructive: [] });
    const { rows } = await t.db.query<{ version: number; hash: string; ddl: string; document: JsonValue }>(
      'SELECT version, hash, ddl, document FROM lattice.model_versions ORDER BY version',
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].version).toBe(1);
    expect(rows[0].hash).toBe(t.model.hash);
    expect(rows[0].ddl).toContain('CREATE TABLE IF NOT EXISTS "app"."metric"');
    expect(rows[0].document).toEqual(t.model.document);
  });

  it('dry run returns the DDL without applying anything', async () => {
    const dry = await migrate(t.db, t.model, { dryRun: true });
    expect(dry.applied).toBe(false);
    expect(dry.version).toBe(1);
    expect(dry.statements.length).toBeGreaterThan(20);
    const next = await extendedModel();
    const dryNext = await migrate(t.db, next, { dryRun: true });
    expect(dryNext).toMatchObject({ applied: false, version: 2 });
    expect(dryNext.statements.join('\n')).toContain('"app"."tag"');
    const { rows } = await t.db.query<{ reg: string | null }>(`SELECT to_regclass('app.tag')::text AS reg`);
    expect(rows[0].reg).toBeNull();
  });

  it('enables and forces RLS on every data table and on lattice.projects', async () => {
    const { rows } = await t.db.query<{ name: string; rls: boolean; force: boolean }>(
      `SELECT n.nspname || '.' || c.relname AS name, c.relrowsecurity AS rls, c.relforcerowsecurity AS force
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND (n.nspname = 'app' OR (n.nspname = 'lattice' AND c.relname = 'projects'))
        ORDER BY 1`,
    );
    expect(rows.map((r) => r.name)).toEqual(['app.experiment', 'app.metric', 'app.run', 'app.trial', 'lattice.projects']);
    expect(rows.every((r) => r.rls && r.force)).toBe(true);
  });

  it('applies an additive model change once, even when two migrations race', async () => {
    const next = await extendedModel();
    const results = await Promise.all([migrate(t.db, next), migrate(t.db, next)]);
    expect(results.map((r) => r.applied).sort()).toEqual([false, true]);
    expect(results.map((r) => r.version)).toEqual([2, 2]);
    const p = await createProject(t.db, 'tags');
    const [exp] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: p, name: 'e' }]);
    const [tag] = await insertRows<Record<string, unknown>>(t.db, 'tag', [{ project_id: p, experiment_id: exp.id, label: 'x' }]);
    expect(tag).toMatchObject({ color: 'red', weights: ['a', "b'c"] });
    // unique: true is unique per project
    await expect(insertRows(t.db, 'tag', [{ project_id: p, label: 'x' }])).rejects.toMatchObject({ code: '23505' });
    const other = await createProject(t.db, 'other');
    await insertRows(t.db, 'tag', [{ project_id: other, label: 'x' }]);
    // ON DELETE SET NULL (experiment_id) keeps the row and its project.
    await t.db.query('DELETE FROM app.experiment WHERE id = $1', [exp.id]);
    const { rows } = await t.db.query('SELECT project_id, experiment_id FROM app.tag WHERE id = $1', [tag.id]);
    expect(rows).toEqual([{ project_id: p, experiment_id: null }]);
  });

  it('generates UUID v7 ids: version 7, RFC variant, current time, ordered across milliseconds', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await t.db.query<{ id: string }>('SELECT lattice.uuid_generate_v7()::text AS id')).rows[0].id);
      await new Promise((r) => setTimeout(r, 3));
    }
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const ms = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
      expect(Math.abs(ms - Date.now())).toBeLessThan(60_000);
    }
    expect([...ids].sort()).toEqual(ids);
    const p = await createProject(t.db, 'v7');
    const [row] = await insertRows<{ id: string }>(t.db, 'experiment', [{ project_id: p, name: 'n' }]);
    expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(p).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  });

  it('maintains updated_at by trigger', async () => {
    const p = await createProject(t.db, 'stamps');
    const [row] = await insertRows<{ id: string; created_at: Date; updated_at: Date }>(t.db, 'experiment', [{ project_id: p, name: 'n' }]);
    await new Promise((r) => setTimeout(r, 5));
    const { rows } = await t.db.query<{ updated_at: Date }>(`UPDATE app.experiment SET name = 'm' WHERE id = $1 RETURNING updated_at`, [row.id]);
    expect(rows[0].updated_at.getTime()).toBeGreaterThan(row.created_at.getTime());
  });
});

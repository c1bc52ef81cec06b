/**
 * The demo end to end against the real server (`buildServer`) and a real database (PGlite always, PostgreSQL
 * when TEST_DATABASE_URL is set): every row arrives through `POST /api/v1/ingest`, lands in the right project,
 * and the stored metric values are exactly the numbers training produces.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { runDemo } from '../../src/demo/run.js';
import { demoSweep } from '../../src/demo/sweep.js';
import { train } from '../../src/demo/train.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

describe.each(TEST_KINDS)('demo through the REST ingestion API (%s)', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let baseUrl: string;
  let projectA: string;
  let projectB: string;

  beforeAll(async () => {
    t = await createTestDb(kind);
    projectA = await createProject(t.db, 'demo-a');
    projectB = await createProject(t.db, 'demo-b');
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  const count = async (table: string, projectId: string): Promise<number> => {
    const { rows } = await t.db.query<{ n: number | string }>(`SELECT count(*) AS n FROM app.${table} WHERE project_id = $1`, [projectId]);
    return Number(rows[0].n);
  };

  it('ingests the sweep with a project editor key; rows match the summary and real training', async () => {
    const key = await createApiKey(t.db, { projectId: projectA, role: 'editor' });
    const summary = await runDemo({ baseUrl, auth: `Bearer ${key.secret_key}` });
    expect(summary).toEqual({ experiments: 2, trials: 10, runs: 30, metrics: 2700 });
    expect(await count('experiment', projectA)).toBe(2);
    expect(await count('trial', projectA)).toBe(10);
    expect(await count('run', projectA)).toBe(30);
    expect(await count('metric', projectA)).toBe(2700);
    expect(await count('metric', projectB)).toBe(0);

    const { rows: trials } = await t.db.query<{ status: string; duration: number; params: Record<string, number>; kind: string }>(
      `SELECT tr.status::text AS status, tr.duration, tr.params, e.kind
       FROM app.trial tr JOIN app.experiment e ON e.project_id = tr.project_id AND e.id = tr.experiment_id
       WHERE tr.project_id = $1`,
      [projectA],
    );
    expect(trials.every((r) => r.status === 'completed' && r.duration > 0)).toBe(true);
    expect(new Set(trials.map((r) => r.kind))).toEqual(new Set(['softmax', 'mlp']));

    // The stored curve of one MLP run equals what train() computes for that trial and seed.
    const spec = demoSweep()[1].trials[3];
    const { rows: curve } = await t.db.query<{ key: string; value: number; step: number }>(
      `SELECT m.key, m.value, m.step FROM app.metric m
       JOIN app.run r ON r.project_id = m.project_id AND r.id = m.run_id
       JOIN app.trial tr ON tr.project_id = m.project_id AND tr.id = m.trial_id
       WHERE m.project_id = $1 AND tr.name = $2 AND (r.meta->>'seed')::int = 2 AND m.key = 'test_accuracy'
       ORDER BY m.step`,
      [projectA, spec.name],
    );
    const expected = train({ ...spec.config, seed: 2 }).metrics;
    expect(curve.map((r) => Number(r.step))).toEqual(expected.map((m) => m.epoch));
    expect(curve.map((r) => r.value)).toEqual(expected.map((m) => m.testAccuracy));

    // The dashboard reads the demo data back through GraphQL (seed 000's trial_metrics).
    const { rows: ids } = await t.db.query<{ id: string }>(`SELECT id FROM app.trial WHERE project_id = $1 AND name = $2`, [projectA, spec.name]);
    const res = await fetch(`${baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key.secret_key}` },
      body: JSON.stringify({ query: 'query($id: ID!) { trial_metrics(trial_id: $id) { key value step run_id } }', variables: { id: ids[0].id } }),
    });
    const answer = (await res.json()) as { data?: { trial_metrics: { key: string; value: number; step: number }[] }; errors?: unknown };
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.trial_metrics).toHaveLength(3 * 30 * 3);
    expect(new Set(answer.data!.trial_metrics.map((m) => m.key))).toEqual(new Set(['train_loss', 'test_loss', 'test_accuracy']));
  });

  it('writes into the named project with an admin key', async () => {
    const key = await createApiKey(t.db, { projectId: null, role: 'admin' });
    const summary = await runDemo({ baseUrl, auth: `Bearer ${key.secret_key}`, projectId: projectB });
    expect(await count('run', projectB)).toBe(summary.runs);
    expect(await count('metric', projectB)).toBe(summary.metrics);
  });

  it('fails loudly for a viewer key (no write access) and writes nothing', async () => {
    const key = await createApiKey(t.db, { projectId: projectA, role: 'viewer' });
    const before = await count('experiment', projectA);
    await expect(runDemo({ baseUrl, auth: `Bearer ${key.secret_key}` })).rejects.toThrow(/HTTP 403/);
    expect(await count('experiment', projectA)).toBe(before);
  });
});

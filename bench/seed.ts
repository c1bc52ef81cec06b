/**
 * Benchmark data: a fresh PostgreSQL database migrated with the experiments preset and filled by a handful of
 * set-based SQL statements (generate_series), then ANALYZEd. Default size: 1 project, 20 experiments,
 * 400 trials, 2,000 runs, 300,000 metrics (about 20 s on PostgreSQL 15 here, most of it index
 * maintenance and foreign-key checks of the metric rows).
 *
 * Timestamps are distinct per level (experiments one minute apart, trials and runs one second apart) so the
 * dashboard query's orderings are total without relying on the id tiebreaker.
 */
import pg from 'pg';
import { createProject } from '../src/auth/projects.js';
import { enumType } from '../src/db/migrate/tables.js';
import type { Db } from '../src/db/types.js';
import type { Entity, Model } from '../src/model/types.js';
import { qualified, quoteIdent } from '../src/query/sql/ident.js';

/** Rows per level. */
export interface SeedSize {
  readonly experiments: number;
  readonly trialsPerExperiment: number;
  readonly runsPerTrial: number;
  /** Metric rows per run: `steps` × 3 keys. */
  readonly stepsPerRun: number;
}

export const DEFAULT_SEED_SIZE: SeedSize = { experiments: 20, trialsPerExperiment: 20, runsPerTrial: 5, stepsPerRun: 50 };

/** Row counts as found in the database after seeding. */
export interface RowCounts {
  projects: number;
  experiments: number;
  trials: number;
  runs: number;
  metrics: number;
}

/**
 * Drop (if present) and create database `name` on the server of `adminUrl`.
 * @returns the URL of the new database (same server and credentials)
 * @throws the driver's error when the server is unreachable or the user may not create databases
 */
export async function createFreshDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drop database `name` (after the benchmark). */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

function entity(model: Model, name: string): Entity {
  const e = model.entities.get(name);
  if (!e) throw new Error(`The model has no entity '${name}'; the benchmark needs the experiments preset.`);
  return e;
}

const table = (e: Entity): string => qualified(e.table.schema, e.table.name);

/**
 * Insert the benchmark rows into a migrated database (as the owner: row-level security does not apply).
 *
 * @param db a migrated experiments-preset database
 * @returns the project id, the ids the list and point cases read (the newest experiment and its first trial by
 *          name) and the row counts read back from the tables
 * @throws the driver's error when the schema does not match the experiments preset
 */
export async function seed(
  db: Db,
  model: Model,
  size: SeedSize = DEFAULT_SEED_SIZE,
): Promise<{ projectId: string; experimentId: string; trialId: string; counts: RowCounts }> {
  const experiment = entity(model, 'experiment');
  const trial = entity(model, 'trial');
  const run = entity(model, 'run');
  const metric = entity(model, 'metric');
  const trialStatus = enumType(model, trial, trial.columns.get('status')!);
  const runStatus = enumType(model, run, run.columns.get('status')!);
  const project = await createProject(db, 'bench');
  const base = '2026-01-01T00:00:00Z';
  // UUID v7 ids like Lattice's own (time-ordered, so index inserts stay local), from the function it installs.
  const uuid = `${qualified(model.systemSchema, 'uuid_generate_v7')}()`;

  await db.query(
    `INSERT INTO ${table(experiment)} (id, project_id, name, description, kind, meta, created_at, updated_at)
     SELECT ${uuid}, $1, 'experiment-' || lpad(i::text, 3, '0'),
            'Benchmark experiment number ' || i || ' sweeping learning rate, batch size and width.',
            (ARRAY['softmax', 'mlp', 'cnn', 'gbdt'])[1 + i % 4],
            jsonb_build_object('owner', 'user-' || (i % 5), 'tags', jsonb_build_array('bench', 'iris'), 'priority', i % 3),
            $2::timestamptz + i * interval '1 minute', $2::timestamptz + i * interval '1 minute'
     FROM generate_series(1, $3::int) AS i`,
    [project.id, base, size.experiments],
  );
  await db.query(
    `INSERT INTO ${table(trial)} (id, project_id, experiment_id, name, description, params, meta, duration, status, created_at, updated_at)
     SELECT ${uuid}, e.project_id, e.id, 'trial-' || lpad(t::text, 3, '0'), 'Trial ' || t || ' of ' || e.name,
            jsonb_build_object('learning_rate', 0.001 * power(10, t % 4), 'batch_size', 16 * (1 + t % 4), 'hidden', 8 * (1 + t % 3)),
            jsonb_build_object('gpu', t % 2 = 0),
            10.5 + (t * 7) % 50,
            (CASE WHEN t % 10 = 0 THEN 'failed' WHEN t % 10 = 1 THEN 'running' ELSE 'completed' END)::${trialStatus},
            e.created_at + t * interval '1 second', e.created_at + t * interval '1 second'
     FROM ${table(experiment)} e CROSS JOIN generate_series(1, $2::int) AS t
     WHERE e.project_id = $1`,
    [project.id, size.trialsPerExperiment],
  );
  await db.query(
    `INSERT INTO ${table(run)} (id, project_id, trial_id, meta, status, created_at, updated_at)
     SELECT ${uuid}, t.project_id, t.id, jsonb_build_object('seed', r, 'host', 'node-' || (r % 3)),
            (CASE WHEN t.status::text = 'failed' AND r = 1 THEN 'failed' ELSE 'completed' END)::${runStatus},
            t.created_at + r * interval '1 second', t.created_at + r * interval '1 second'
     FROM ${table(trial)} t CROSS JOIN generate_series(1, $2::int) AS r
     WHERE t.project_id = $1`,
    [project.id, size.runsPerTrial],
  );
  // Loss curves decay with the step; accuracy rises; a per-run phase adds deterministic variation.
  await db.query(
    `INSERT INTO ${table(metric)} (id, project_id, trial_id, run_id, key, value, step, created_at, updated_at)
     SELECT ${uuid}, r.project_id, r.trial_id, r.id, k.key,
            CASE k.key
              WHEN 'train_loss' THEN exp(-s / 15.0) + 0.05 * (1 + sin(s + (r.meta->>'seed')::int))
              WHEN 'test_loss' THEN exp(-s / 18.0) + 0.08 * (1 + cos(s + (r.meta->>'seed')::int))
              ELSE 1 - 0.6 * exp(-s / 10.0) END,
            s, r.created_at + s * interval '1 second', r.created_at + s * interval '1 second'
     FROM ${table(run)} r
     CROSS JOIN generate_series(1, $2::int) AS s
     CROSS JOIN (VALUES ('train_loss'), ('test_loss'), ('test_accuracy')) AS k(key)
     WHERE r.project_id = $1`,
    [project.id, size.stepsPerRun],
  );
  await db.query('ANALYZE');
  const { rows } = await db.query<Record<keyof RowCounts, number | string>>(
    `SELECT (SELECT count(*) FROM ${qualified(model.systemSchema, 'projects')}) AS projects,
            (SELECT count(*) FROM ${table(experiment)}) AS experiments,
            (SELECT count(*) FROM ${table(trial)}) AS trials,
            (SELECT count(*) FROM ${table(run)}) AS runs,
            (SELECT count(*) FROM ${table(metric)}) AS metrics`,
  );
  const r = rows[0];
  const counts: RowCounts = {
    projects: Number(r.projects),
    experiments: Number(r.experiments),
    trials: Number(r.trials),
    runs: Number(r.runs),
    metrics: Number(r.metrics),
  };
  const { rows: sample } = await db.query<{ experiment_id: string; trial_id: string }>(
    `SELECT t.experiment_id, t.id AS trial_id FROM ${table(trial)} t
     WHERE t.project_id = $1
       AND t.experiment_id = (SELECT id FROM ${table(experiment)} WHERE project_id = $1 ORDER BY created_at DESC, id LIMIT 1)
     ORDER BY t.name, t.id LIMIT 1`,
    [project.id],
  );
  if (!sample[0]) throw new Error('Seeding left no trial; the seed size needs at least one experiment and one trial.');
  return { projectId: project.id, experimentId: sample[0].experiment_id, trialId: sample[0].trial_id, counts };
}

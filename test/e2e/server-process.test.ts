/**
 * End to end, as a user runs it: `lattice serve` as a separate process (bin/lattice.mjs), data ingested over
 * REST, read back over GraphQL with the seed-000 queries, and the one-statement rule (G-10) checked from
 * outside the process through `x-lattice-trace: 1`. Runs on PGlite (data directory) and on PostgreSQL
 * (a fresh database given by --database-url).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { uuidv7 } from 'uuidv7';
import { TEST_KINDS, type TestKind } from '../support/db.js';

const BIN = fileURLToPath(new URL('../../bin/lattice.mjs', import.meta.url));

interface Served {
  child: ChildProcess;
  url: string;
  key: string;
  projectId: string;
  output: () => string;
  cleanup: () => Promise<void>;
}

async function createPgDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = process.env.TEST_DATABASE_URL!;
  const name = `lattice_e2e_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

async function serve(kind: TestKind): Promise<Served> {
  const cwd = mkdtempSync(path.join(tmpdir(), 'lattice-e2e-'));
  const pgDb = kind === 'postgres' ? await createPgDatabase() : undefined;
  const args = [BIN, 'serve', '--port', '0', '--no-demo', ...(pgDb ? ['--database-url', pgDb.url] : ['--data-dir', path.join(cwd, 'data')])];
  const child = spawn(process.execPath, args, { cwd, env: { ...process.env, LATTICE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 90_000);
    const check = () => {
      const m = /Lattice is running at (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
  const creds = JSON.parse(readFileSync(path.join(cwd, '.lattice', 'credentials'), 'utf8')) as { secret_key: string; project_id: string };
  return {
    child,
    url,
    key: creds.secret_key,
    projectId: creds.project_id,
    output: () => out,
    cleanup: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      await pgDb?.drop();
      rmSync(cwd, { recursive: true, force: true });
    },
  };
}

describe.each(TEST_KINDS)('lattice serve as a separate process on %s', (kind) => {
  let s: Served;
  const ids = { experiment: uuidv7(), trial: uuidv7(), runs: [uuidv7(), uuidv7()] };

  const call = async (method: string, p: string, body?: unknown, key = s.key, headers: Record<string, string> = {}) => {
    const res = await fetch(`${s.url}${p}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, json: (await res.json()) as any };
  };
  const gql = (query: string, key = s.key) => call('POST', '/graphql', { query }, key, { 'x-lattice-trace': '1' });

  beforeAll(async () => {
    s = await serve(kind);
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  it('ingests a sweep over REST (207, idempotent on retry)', async () => {
    const batch = [
      // Children first: the server orders entity types parents-first within a batch.
      ...[0, 1].flatMap((r) =>
        [1, 2, 3].map((step) => ({
          id: `m-${r}-${step}`,
          type: 'metric.create',
          body: { trial_id: ids.trial, run_id: ids.runs[r], key: 'loss', value: 1 / (step + r), step, project_id: s.projectId },
        })),
      ),
      ...ids.runs.map((id, r) => ({ id: `r-${r}`, type: 'run.create', body: { id, trial_id: ids.trial, status: 'completed', meta: { seed: r }, project_id: s.projectId } })),
      { id: 't', type: 'trial.create', body: { id: ids.trial, experiment_id: ids.experiment, name: 'lr=0.1', params: { lr: 0.1 }, duration: 1.5, status: 'completed', project_id: s.projectId } },
      { id: 'e', type: 'experiment.create', body: { id: ids.experiment, name: 'sweep', kind: 'softmax', project_id: s.projectId } },
      { id: 'bad', type: 'trial.create', body: { name: 'orphan', experiment_id: uuidv7(), project_id: s.projectId } },
    ];
    const first = await call('POST', '/api/v1/ingest', { batch });
    expect(first.status).toBe(207);
    expect(first.json.successes).toHaveLength(10);
    expect(first.json.errors).toEqual([{ id: 'bad', status: 422, message: expect.stringContaining('experiment') }]);
    const retry = await call('POST', '/api/v1/ingest', { batch: batch.slice(0, -1) });
    expect(retry.status).toBe(207);
    expect(retry.json.errors).toEqual([]);
    expect(retry.json.successes.every((x: { status: number }) => x.status === 200)).toBe(true);
  });

  it('answers the seed-000 queries over GraphQL, each in exactly one SQL statement', async () => {
    const queries: Array<[string, (data: any) => void]> = [
      ['{ projects { id name } }', (d) => expect(d.projects).toEqual([{ id: s.projectId, name: 'default' }])],
      [`{ project(id: "${s.projectId}") { name experiments { name } } }`, (d) => expect(d.project).toEqual({ name: 'default', experiments: [{ name: 'sweep' }] })],
      ['{ experiments { id name kind } }', (d) => expect(d.experiments).toEqual([{ id: ids.experiment, name: 'sweep', kind: 'softmax' }])],
      [`{ experiment(id: "${ids.experiment}") { name } }`, (d) => expect(d.experiment).toEqual({ name: 'sweep' })],
      [`{ trials(experiment_id: "${ids.experiment}") { id params duration status } }`, (d) => expect(d.trials).toEqual([{ id: ids.trial, params: { lr: 0.1 }, duration: 1.5, status: 'completed' }])],
      [`{ trial(id: "${ids.trial}") { name experiment { name } } }`, (d) => expect(d.trial).toEqual({ name: 'lr=0.1', experiment: { name: 'sweep' } })],
      [`{ runs(trial_id: "${ids.trial}") { id meta } }`, (d) => expect(d.runs).toEqual(ids.runs.map((id, r) => ({ id, meta: { seed: r } }))) ],
      [`{ run(id: "${ids.runs[1]}") { status } }`, (d) => expect(d.run).toEqual({ status: 'completed' })],
      [
        `{ trial_metrics(trial_id: "${ids.trial}", order_by: [{ step: ASC }], filter: { run_id: { eq: "${ids.runs[0]}" } }) { key value step } }`,
        (d) => expect(d.trial_metrics).toEqual([1, 2, 3].map((step) => ({ key: 'loss', value: 1 / step, step }))),
      ],
      [
        '{ experiments { name trials { name runs { id metrics_list(limit: 1, offset: 0) { total_count } } } } }',
        (d) => expect(d.experiments[0].trials[0].runs.map((r: any) => r.metrics_list.total_count)).toEqual([3, 3]),
      ],
    ];
    for (const [query, check] of queries) {
      const res = await gql(query);
      expect(res.status, query).toBe(200);
      expect(res.json.errors, query).toBeUndefined();
      check(res.json.data);
      expect(res.json.extensions.tracing.statements, query).toBe(1);
      expect(res.headers.get('server-timing')).toMatch(/sql;dur=/);
    }
    // Several root fields, nested three levels: still one statement.
    const many = await gql(`{ a: experiments { trials { runs { id } } } b: trial(id: "${ids.trial}") { runs { metrics { value } } } c: trial_metrics(trial_id: "${ids.trial}") { id } }`);
    expect(many.json.data.c).toHaveLength(6);
    expect(many.json.extensions.tracing.statements).toBe(1);
  });

  it('keeps projects apart across the process boundary (A-4) and refuses viewers writing', async () => {
    const project = await call('POST', '/api/v1/projects', { name: 'other' });
    expect(project.status).toBe(201);
    const viewer = await call('POST', `/api/v1/projects/${project.json.id}/keys`, { role: 'viewer' });
    expect(viewer.status).toBe(201);
    const other = viewer.json.secret_key as string;
    const seen = await gql(`{ experiments { id } trial(id: "${ids.trial}") { id } metric_list(limit: 10, offset: 0) { total_count } projects { name } }`, other);
    expect(seen.json.data).toEqual({ experiments: [], trial: null, metric_list: { total_count: 0 }, projects: [{ name: 'other' }] });
    const write = await call('POST', '/api/v1/experiments', { name: 'x' }, other);
    expect(write.status).toBe(403);
    expect(write.json.error.code).toBe('FORBIDDEN');
    const anonymous = await fetch(`${s.url}/api/v1/experiments`);
    expect(anonymous.status).toBe(401);
  });

  it('shuts down cleanly on SIGTERM', async () => {
    s.child.kill('SIGTERM');
    const code = await new Promise((r) => s.child.once('exit', r));
    expect(code, s.output()).toBe(0);
  });
});

/**
 * `lattice ingest` (SPEC C, issue 7 item 6) against a real in-process server: JSONL and CSV with typed values,
 * the rejected-lines report and exit code 2, resuming after an interruption without duplicates (also when the
 * checkpoint lags behind what the server already has), a changed file refused, 503 retried, and
 * `--format langfuse`. PGlite and PostgreSQL.
 */
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { checkpointPath, readCheckpoint } from '../../src/cli/ingest-checkpoint.js';
import { runIngest } from '../../src/cli/ingest.js';
import { runCli } from '../../src/cli/program.js';
import { loadPreset } from '../../src/model/load.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const silent = { out: () => undefined, err: () => undefined };

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const a = app.server.address();
  return `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
}

describe.each(TEST_KINDS)('lattice ingest (generic) on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let url: string;
  let secret: string;
  let dir: string;
  let experimentId: string;
  let trialId: string;
  let target: string[];

  const post = async (resource: string, body: object) => {
    const res = await fetch(`${url}/api/v1/${resource}`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string };
  };
  const metricsOf = async (trial: string) =>
    (await t.db.query<{ key: string; value: number; step: number | null }>('SELECT key, value, step FROM app.metric WHERE trial_id = $1 ORDER BY key', [trial])).rows;
  const metricLines = (trial: string, n: number, prefix: string) =>
    Array.from({ length: n }, (_, i) => JSON.stringify({ trial_id: trial, key: `${prefix}${String(i).padStart(3, '0')}`, value: i / 4, step: i })).join('\n') + '\n';

  beforeAll(async () => {
    t = await createTestDb(kind);
    const project = await createProject(t.db, 'ingest');
    secret = (await createApiKey(t.db, { projectId: project, role: 'editor' })).secret_key;
    ({ app } = await buildServer({ db: t.db, model: t.model, followModelChanges: false }));
    url = await listen(app);
    dir = await mkdtemp(path.join(tmpdir(), 'lattice-ingest-'));
    target = ['--url', url, '--key', secret, '--credentials-file', path.join(dir, 'none')];
    experimentId = (await post('experiments', { name: 'ingest' })).id;
    trialId = (await post('trials', { experiment_id: experimentId, name: 't1' })).id;
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('ingests a JSONL file in batches; exit 0, no checkpoint left, empty rejected report', async () => {
    const trial = (await post('trials', { experiment_id: experimentId, name: 'jsonl' })).id;
    const file = path.join(dir, 'metrics.jsonl');
    await writeFile(file, metricLines(trial, 25, 'm') + '\n'); // a trailing blank line is ignored
    const res = await cli('ingest', file, '--entity', 'metric', '--batch-size', '10', ...target);
    expect(res.code, res.err).toBe(0);
    expect(res.out).toMatch(/25 rows accepted, 0 rejected, 3 batches/);
    const rows = await metricsOf(trial);
    expect(rows).toHaveLength(25);
    expect(rows[7]).toEqual({ key: 'm007', value: 1.75, step: 7 });
    expect(existsSync(checkpointPath(file))).toBe(false);
    expect(await readFile(`${file}.rejected.jsonl`, 'utf8')).toBe('');
    // Running the same file again changes nothing: the same lines get the same row ids.
    expect((await cli('ingest', file, '--entity', 'metric', ...target)).code).toBe(0);
    expect(await metricsOf(trial)).toHaveLength(25);
  });

  it('types CSV cells by the served field types (float, json, enum, text), empty cells omitted, --delimiter', async () => {
    const file = path.join(dir, 'trials.csv');
    await writeFile(
      file,
      'experiment_id;name;duration;params;status;description\n' +
        `${experimentId};csv-a;1.5;"{""lr"": 0.01, ""layers"": [2, 3]}";completed;first\n` +
        `${experimentId};csv-b;;;;\n`,
    );
    const res = await cli('ingest', file, '--entity', 'trial', '--delimiter', ';', ...target);
    expect(res.code, res.err).toBe(0);
    const { rows } = await t.db.query<{ name: string; duration: number | null; params: unknown; status: string; description: string | null }>(
      `SELECT name, duration, params, status, description FROM app.trial WHERE name LIKE 'csv-%' ORDER BY name`,
    );
    expect(rows).toEqual([
      { name: 'csv-a', duration: 1.5, params: { lr: 0.01, layers: [2, 3] }, status: 'completed', description: 'first' },
      { name: 'csv-b', duration: null, params: null, status: 'pending', description: null }, // default applied
    ]);
    // A header naming an unknown column is refused before anything is sent.
    await writeFile(file, 'name;colour\nx;red\n');
    const bad = await cli('ingest', file, '--entity', 'trial', '--delimiter', ';', ...target);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/column\(s\) "colour" that the entity does not have/);
  });

  it('reports rejected lines with line number and reason; the others are written; exit 2', async () => {
    const trial = (await post('trials', { experiment_id: experimentId, name: 'rejects' })).id;
    const file = path.join(dir, 'bad.jsonl');
    await writeFile(
      file,
      [
        JSON.stringify({ trial_id: trial, key: 'ok1', value: 1 }),
        '{"trial_id": oops',
        JSON.stringify({ trial_id: trial, value: 2 }),
        JSON.stringify({ trial_id: trial, key: 'ok2', value: 'high' }),
        JSON.stringify({ trial_id: trial, key: 'ok3', value: 3, colour: 'red' }),
        JSON.stringify({ trial_id: trial, key: 'ok4', value: 4 }),
      ].join('\n'),
    );
    const res = await cli('ingest', file, '--entity', 'metric', '--batch-size', '2', ...target);
    expect(res.code).toBe(2);
    expect(res.out).toMatch(/2 rows accepted, 4 rejected/);
    expect(res.err).toContain('bad.jsonl.rejected.jsonl');
    const report = (await readFile(`${file}.rejected.jsonl`, 'utf8')).trim().split('\n').map((l) => JSON.parse(l)).sort((a, b) => a.line - b.line);
    expect(report.map((r) => [r.line, r.status])).toEqual([[2, 0], [3, 400], [4, 400], [5, 400]]);
    expect(report[0].reason).toMatch(/invalid JSON/);
    expect(report[1].reason).toMatch(/key/);
    expect(report[2].reason).toMatch(/value/);
    expect(report[3].reason).toMatch(/colour/);
    expect((await metricsOf(trial)).map((r) => r.key)).toEqual(['ok1', 'ok4']);

    // A CSV cell that does not fit its field's type is rejected locally.
    const csv = path.join(dir, 'bad.csv');
    await writeFile(csv, `trial_id,key,value,step\n${trial},c1,1,1\n${trial},c2,2,two\n`);
    const r2 = await cli('ingest', csv, '--entity', 'metric', ...target);
    expect(r2.code).toBe(2);
    const lines = (await readFile(`${csv}.rejected.jsonl`, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([{ line: 3, status: 0, reason: 'column "step": expected an integer, got "two"' }]);
  });

  it('sends a line over 4 MiB alone; one over the server body limit (413) is a rejected line, not a failure', async () => {
    const file = path.join(dir, 'huge.jsonl');
    const line = (name: string, description = '') => JSON.stringify({ experiment_id: experimentId, name, description });
    await writeFile(file, [line('huge-1'), line('huge-2', 'x'.repeat(11 * 1024 * 1024)), line('huge-3', 'y'.repeat(5 * 1024 * 1024)), line('huge-4')].join('\n'));
    const res = await cli('ingest', file, '--entity', 'trial', ...target);
    expect(res.code, res.err).toBe(2);
    expect(res.out).toMatch(/3 rows accepted, 1 rejected, 4 batches/);
    const report = JSON.parse((await readFile(`${file}.rejected.jsonl`, 'utf8')).trim());
    expect(report).toMatchObject({ line: 2, status: 413, reason: expect.stringMatching(/larger than the server accepts/) });
    const { rows } = await t.db.query<{ name: string; n: number }>(`SELECT name, length(description) AS n FROM app.trial WHERE name LIKE 'huge-%' ORDER BY name`);
    expect(rows).toEqual([{ name: 'huge-1', n: 0 }, { name: 'huge-3', n: 5 * 1024 * 1024 }, { name: 'huge-4', n: 0 }]);
  });

  it('resumes after an interruption without duplicates, also when the checkpoint lags behind the server', async () => {
    const trial = (await post('trials', { experiment_id: experimentId, name: 'resume' })).id;
    const file = path.join(dir, 'resume.jsonl');
    await writeFile(file, metricLines(trial, 100, 'r'));
    const abort = new AbortController();
    const first = await runIngest(
      { file, entity: 'metric', format: 'auto', url, auth: `Bearer ${secret}`, batchSize: 10, concurrency: 2, signal: abort.signal, onBatch: (n) => n === 3 && abort.abort() },
      silent,
    );
    expect(first.interrupted).toBe(true);
    const cp = await readCheckpoint(file);
    expect(cp).toBeDefined();
    expect(cp!.line).toBeGreaterThanOrEqual(20);
    expect(cp!.line).toBeLessThan(100);
    const partial = (await metricsOf(trial)).length;
    expect(partial).toBeLessThan(100);
    expect(partial).toBeGreaterThanOrEqual(cp!.line);

    const second = await cli('ingest', file, '--entity', 'metric', '--batch-size', '10', ...target);
    expect(second.code, second.err).toBe(0);
    expect(second.err).toMatch(new RegExp(`Resuming .* after line ${cp!.line}`));
    expect(second.out).toMatch(/100 rows accepted, 0 rejected/);
    let rows = await metricsOf(trial);
    expect(rows).toHaveLength(100);
    expect(new Set(rows.map((r) => r.key)).size).toBe(100);

    // A crash right after the server committed but before the checkpoint was written: the rerun resends
    // those lines, and their deterministic ids make the resend a no-op.
    await writeFile(checkpointPath(file), JSON.stringify({ ...cp!, line: 10, offset: Buffer.byteLength(metricLines(trial, 10, 'r')), accepted: 10 }));
    const third = await cli('ingest', file, '--entity', 'metric', ...target);
    expect(third.code, third.err).toBe(0);
    rows = await metricsOf(trial);
    expect(rows).toHaveLength(100);
  });

  it('refuses to resume a file that changed since the checkpoint; --restart starts over', async () => {
    const trial = (await post('trials', { experiment_id: experimentId, name: 'changed' })).id;
    const file = path.join(dir, 'changed.jsonl');
    await writeFile(file, metricLines(trial, 30, 'c'));
    const abort = new AbortController();
    await runIngest({ file, entity: 'metric', format: 'jsonl', url, auth: `Bearer ${secret}`, batchSize: 10, concurrency: 1, signal: abort.signal, onBatch: () => abort.abort() }, silent);
    expect((await readCheckpoint(file))?.line).toBe(10);
    await appendFile(file, JSON.stringify({ trial_id: trial, key: 'c-new', value: 1 }) + '\n');
    const refused = await cli('ingest', file, '--entity', 'metric', ...target);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/changed since the interrupted run .* cannot be resumed\. Pass --restart/);
    expect(await metricsOf(trial)).toHaveLength(10);
    const restarted = await cli('ingest', file, '--entity', 'metric', '--restart', ...target);
    expect(restarted.code, restarted.err).toBe(0);
    expect(restarted.out).toMatch(/31 rows accepted/);
  });

  it('retries batches answered 503 (nothing lost or duplicated) and prints progress lines', async () => {
    const trial = (await post('trials', { experiment_id: experimentId, name: 'retry' })).id;
    const file = path.join(dir, 'retry.jsonl');
    await writeFile(file, metricLines(trial, 30, 'x'));
    let refused = 0;
    // A proxy that answers 503 to every other ingestion request, and forwards the rest.
    const proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/api/v1/ingest' && refused < 3 && (refused++, true)) {
          res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"UNAVAILABLE","message":"busy"}}');
          return;
        }
        fetch(url + req.url, { method: req.method, headers: req.headers as Record<string, string>, body: chunks.length ? Buffer.concat(chunks) : undefined }).then(
          async (r) => res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await r.arrayBuffer())),
          () => res.writeHead(502).end(),
        );
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const a = proxy.address();
    const proxyUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    const progress: string[] = [];
    try {
      const s = await runIngest(
        { file, entity: 'metric', format: 'jsonl', url: proxyUrl, auth: `Bearer ${secret}`, batchSize: 10, backoffMs: 10, progress: 'lines', progressIntervalMs: 60_000 },
        { out: () => undefined, err: (l) => progress.push(l) },
      );
      expect(s).toMatchObject({ accepted: 30, rejected: 0, batches: 3, interrupted: false });
    } finally {
      await new Promise((r) => proxy.close(r));
    }
    expect(refused).toBe(3);
    expect(await metricsOf(trial)).toHaveLength(30);
    expect(progress.at(-1)).toMatch(/30 rows answered \(30 accepted, 0 rejected\), \d+ rows\/s, 100% of the file/);
  });

  it('refuses an unknown entity and a batch size above the server limit', async () => {
    const file = path.join(dir, 'x.jsonl');
    await writeFile(file, '{}\n');
    const unknown = await cli('ingest', file, '--entity', 'nope', ...target);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/no entity "nope"; its entities: experiment, metric, run, trial/);
    const big = await cli('ingest', file, '--entity', 'metric', '--batch-size', '5000', ...target);
    expect(big.err).toMatch(/--batch-size must be 1–1000/);
  });
});

describe.each(TEST_KINDS)('lattice ingest --format langfuse on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let url: string;
  let key: string;
  let dir: string;

  beforeAll(async () => {
    t = await createTestDb(kind, await loadPreset('traces'));
    const project = await createProject(t.db, 'lf');
    const k = await createApiKey(t.db, { projectId: project, role: 'editor' });
    key = `${k.public_key}:${k.secret_key}`;
    ({ app } = await buildServer({ db: t.db, model: t.model, followModelChanges: false }));
    url = await listen(app);
    dir = await mkdtemp(path.join(tmpdir(), 'lattice-ingest-lf-'));
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('sends exported Langfuse events to /api/public/ingestion; bad events are reported by line', async () => {
    const ts = '2026-03-01T12:00:00.000Z';
    const file = path.join(dir, 'events.jsonl');
    await writeFile(
      file,
      [
        { id: 'e1', type: 'trace-create', timestamp: ts, body: { id: 'tr-1', name: 'chat', timestamp: ts } },
        { id: 'e2', type: 'generation-create', timestamp: ts, body: { id: 'g-1', traceId: 'tr-1', name: 'llm', model: 'gpt-x', startTime: ts, usage: { input: 10, output: 5, total: 15 } } },
        { id: 'e3', type: 'score-create', timestamp: ts, body: { id: 's-1', traceId: 'tr-1', name: 'ok', value: 1 } },
        { id: 'e4', type: 'teleport-create', timestamp: ts, body: { id: 'x' } },
        { type: 'trace-create', body: { id: 'tr-2' } },
      ]
        .map((e) => JSON.stringify(e))
        .join('\n') + '\n',
    );
    const res = await cli('ingest', file, '--format', 'langfuse', '--url', url, '--key', key, '--credentials-file', path.join(dir, 'none'));
    expect(res.code).toBe(2);
    expect(res.out).toMatch(/3 rows accepted, 2 rejected/);
    const report = (await readFile(`${file}.rejected.jsonl`, 'utf8')).trim().split('\n').map((l) => JSON.parse(l)).sort((a, b) => a.line - b.line);
    expect(report.map((r) => r.line)).toEqual([4, 5]);
    expect(report[0].reason).toMatch(/teleport-create/);
    expect(report[1].reason).toMatch(/"id" and "type"/);
    const trace = await fetch(`${url}/api/public/traces/tr-1`, { headers: { authorization: `Basic ${Buffer.from(key).toString('base64')}` } });
    expect(trace.status).toBe(200);
    const body = (await trace.json()) as { name: string; observations: Array<{ id: string; model: string }>; scores: Array<{ name: string; value: number }> };
    expect(body.name).toBe('chat');
    expect(body.observations).toEqual([expect.objectContaining({ id: 'g-1', model: 'gpt-x' })]);
    expect(body.scores).toEqual([expect.objectContaining({ name: 'ok', value: 1 })]);
  });
});

/**
 * The demo against a fake ingestion endpoint (node:http) that records every batch and answers 207 like
 * SPEC R-2. The real-server end-to-end test is in `demo-e2e.test.ts`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { IngestClient, IngestError, sendBatch, type IngestEvent } from '../../src/demo/ingest-client.js';
import { DEMO_METRIC_KEYS, runDemo } from '../../src/demo/run.js';

interface Recorded {
  auth: string | undefined;
  url: string | undefined;
  batch: IngestEvent[];
}

type Answer = (batch: IngestEvent[], n: number) => { status: number; body: unknown };

const ok207: Answer = (batch) => ({ status: 207, body: { successes: batch.map((e) => ({ id: e.id, status: 201 })), errors: [] } });

let server: Server | undefined;

async function fakeServer(answer: Answer = ok207): Promise<{ baseUrl: string; requests: Recorded[] }> {
  const requests: Recorded[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { batch } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { batch: IngestEvent[] };
      requests.push({ auth: req.headers.authorization, url: req.url, batch });
      const { status, body } = answer(batch, requests.length);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}/`, requests };
}

afterEach(async () => {
  if (server) await new Promise((resolve) => server!.close(resolve));
  server = undefined;
});

describe('runDemo against a fake ingestion server', () => {
  it('ingests the whole sweep, parents first, in batches of at most 500', async () => {
    const { baseUrl, requests } = await fakeServer();
    const lines: string[] = [];
    const summary = await runDemo({ baseUrl, auth: 'Bearer lk-sk-test', projectId: 'p-1', log: (l) => lines.push(l) });

    expect(summary).toEqual({ experiments: 2, trials: 10, runs: 30, metrics: 2700 });
    expect(requests.every((r) => r.url === '/api/v1/ingest' && r.auth === 'Bearer lk-sk-test')).toBe(true);
    expect(requests.every((r) => r.batch.length >= 1 && r.batch.length <= 500)).toBe(true);
    const events = requests.flatMap((r) => r.batch);
    expect(events).toHaveLength(2 + 10 + 30 + 2700);
    expect(requests.length).toBe(Math.ceil(events.length / 500));
    expect(lines.at(-1)).toMatch(/2 experiments, 10 trials, 30 runs, 2700 metrics/);

    // Ids are unique UUIDs, the envelope id is the row id, every row names the project.
    const ids = new Set(events.map((e) => e.id));
    expect(ids.size).toBe(events.length);
    for (const e of events) {
      expect(e.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(e.body.id).toBe(e.id);
      expect(e.body.project_id).toBe('p-1');
    }

    // Every reference points to an event sent earlier.
    const seen = new Map<string, string>();
    for (const e of events) {
      const entity = e.type.replace(/\.create$/, '');
      if (entity === 'trial') expect(seen.get(e.body.experiment_id as string)).toBe('experiment');
      if (entity === 'run') expect(seen.get(e.body.trial_id as string)).toBe('trial');
      if (entity === 'metric') {
        expect(seen.get(e.body.trial_id as string)).toBe('trial');
        expect(seen.get(e.body.run_id as string)).toBe('run');
      }
      seen.set(e.id, entity);
    }

    const byType = (t: string) => events.filter((e) => e.type === t).map((e) => e.body);
    const experiments = byType('experiment.create');
    expect(experiments.map((e) => e.kind)).toEqual(['softmax', 'mlp']);
    for (const t of byType('trial.create')) {
      expect(t.status).toBe('completed');
      expect(typeof t.duration).toBe('number');
      expect(t.duration as number).toBeGreaterThan(0);
      expect(t.duration as number).toBeLessThan(5);
      expect(t.params).toHaveProperty('learning_rate');
    }
    const runs = byType('run.create');
    expect(runs.map((r) => (r.meta as { seed: number }).seed).slice(0, 3)).toEqual([1, 2, 3]);
    const metrics = byType('metric.create');
    expect(new Set(metrics.map((m) => m.key))).toEqual(new Set(DEMO_METRIC_KEYS));
    for (const m of metrics) {
      expect(Number.isFinite(m.value)).toBe(true);
      expect(Number.isInteger(m.step)).toBe(true);
    }
    // Real training: the MLP runs end far more accurate than chance.
    const mlpRuns = runs.slice(18);
    expect(mlpRuns.every((r) => (r.meta as { final_test_accuracy: number }).final_test_accuracy > 0.7)).toBe(true);
  });

  it('omits project_id when no project is given', async () => {
    const { baseUrl, requests } = await fakeServer();
    await runDemo({ baseUrl, auth: 'Bearer k' });
    expect(requests.flatMap((r) => r.batch).some((e) => 'project_id' in e.body)).toBe(false);
  });

  it('fails loudly when the server rejects any event', async () => {
    const { baseUrl } = await fakeServer((batch, n) =>
      n === 2
        ? {
            status: 207,
            body: {
              successes: batch.slice(1).map((e) => ({ id: e.id, status: 201 })),
              errors: [{ id: batch[0].id, status: 400, message: 'Unknown field "bogus"' }],
            },
          }
        : ok207(batch, n),
    );
    const err = await runDemo({ baseUrl, auth: 'Bearer k' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IngestError);
    expect((err as IngestError).message).toMatch(/1 of 500 events were rejected: .*Unknown field "bogus"/);
    expect((err as IngestError).failures).toHaveLength(1);
  });

  it('fails on a non-2xx answer without retrying 4xx', async () => {
    const { baseUrl, requests } = await fakeServer(() => ({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } }));
    await expect(runDemo({ baseUrl, auth: 'Bearer bad' })).rejects.toThrow(/HTTP 401.*UNAUTHENTICATED/);
    expect(requests).toHaveLength(1);
  });
});

describe('ingest client', () => {
  const events = (n: number): IngestEvent[] =>
    Array.from({ length: n }, (_, i) => ({ id: `e${i}`, type: 'metric.create', body: { id: `e${i}` } }));

  it('retries a 503 with the same batch (same ids), then succeeds', async () => {
    const { baseUrl, requests } = await fakeServer((batch, n) => (n === 1 ? { status: 503, body: {} } : ok207(batch, n)));
    const answer = await sendBatch({ baseUrl, auth: 'Bearer k', retries: 2 }, events(3));
    expect(answer.successes).toHaveLength(3);
    expect(requests).toHaveLength(2);
    expect(requests[1].batch).toEqual(requests[0].batch);
  });

  it('gives up after the configured retries', async () => {
    const { baseUrl, requests } = await fakeServer(() => ({ status: 500, body: {} }));
    await expect(sendBatch({ baseUrl, auth: 'Bearer k', retries: 1 }, events(1))).rejects.toThrow(/HTTP 500/);
    expect(requests).toHaveLength(2);
  });

  it('refuses an answer that acknowledges fewer events than sent', async () => {
    const { baseUrl } = await fakeServer(() => ({ status: 207, body: { successes: [], errors: [] } }));
    await expect(sendBatch({ baseUrl, auth: 'Bearer k' }, events(2))).rejects.toThrow(/acknowledged 0/);
  });

  it('reports an unreachable server clearly', async () => {
    await expect(sendBatch({ baseUrl: 'http://127.0.0.1:1', auth: 'Bearer k', retries: 0 }, events(1))).rejects.toThrow(
      /Could not reach .*Is the server running/,
    );
  });

  it('batches in insertion order and validates the batch size', async () => {
    const { baseUrl, requests } = await fakeServer();
    const client = new IngestClient({ baseUrl, auth: 'Bearer k', batchSize: 4 });
    for (const e of events(10)) await client.add(e);
    await client.flush();
    expect(requests.map((r) => r.batch.length)).toEqual([4, 4, 2]);
    expect(requests.flatMap((r) => r.batch.map((e) => e.id))).toEqual(events(10).map((e) => e.id));
    expect(client.sent).toBe(10);
    expect(() => new IngestClient({ baseUrl, auth: 'x', batchSize: 501 })).toThrow(RangeError);
  });
});

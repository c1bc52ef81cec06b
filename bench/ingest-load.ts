/**
 * The ingestion benchmark's load generator (`ingest.ts`): pre-serialised request bodies POSTed by `clients`
 * concurrent clients over keep-alive HTTP/1.1 connections (one connection per client), each taking the next
 * unsent body until none is left, in the benchmark's process. Every answer is read and checked: a request that
 * does not acknowledge every one of its events fails the run (the benchmark's data is valid, so a rejected
 * event is a bug in the benchmark or in the server, not a result).
 */
import http from 'node:http';
import { decodeExportResponse } from '../src/traces/otlp-decode.js';

/** How a path's answers are read. */
export type AnswerKind = 'batch207' | 'otlp';

/** One HTTP ingestion path. */
export interface IngestTarget {
  /** Full URL, e.g. `http://127.0.0.1:4000/api/v1/ingest`. */
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly answer: AnswerKind;
}

/** What the load generator saw. */
export interface PostResult {
  /** Events acknowledged by the server (successes of 207 answers; OTLP spans not rejected). */
  readonly acknowledged: number;
  readonly requests: number;
  /** Wall-clock time from the first request to the last answer, seconds. */
  readonly seconds: number;
}

function post(agent: http.Agent, target: IngestTarget, body: string | Buffer): Promise<{ status: number; body: Buffer }> {
  const url = new URL(target.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...target.headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Events acknowledged by one answer.
 * @throws Error when the answer is not a success or not every one of the `expected` events was acknowledged
 */
export function acknowledged(kind: AnswerKind, status: number, body: Buffer, expected: number): number {
  const head = () => body.toString('utf8').slice(0, 500);
  if (kind === 'otlp') {
    if (status !== 200) throw new Error(`OTLP answered ${status}: ${head()}`);
    const partial = decodeExportResponse(body).partialSuccess;
    const rejected = partial?.rejectedSpans ?? 0;
    if (rejected > 0) throw new Error(`OTLP rejected ${rejected} of ${expected} spans: ${partial?.errorMessage}`);
    return expected - rejected;
  }
  if (status !== 207 && status !== 200) throw new Error(`ingestion answered ${status}: ${head()}`);
  const answer = JSON.parse(body.toString('utf8')) as { successes?: { status: number }[]; errors?: { status: number; message: string }[] };
  const errors = answer.errors ?? [];
  if (errors.length) throw new Error(`ingestion rejected ${errors.length} of ${expected} events, first: ${errors[0].status} ${errors[0].message}`);
  const ok = (answer.successes ?? []).filter((s) => s.status === 200 || s.status === 201).length;
  if (ok !== expected) throw new Error(`ingestion acknowledged ${ok} of ${expected} events`);
  return ok;
}

/**
 * POST every body with `clients` concurrent clients.
 * @param counts events in each body (to check the answers)
 * @throws Error on the first failed request or event (see the module comment)
 */
export async function postAll(target: IngestTarget, bodies: readonly (string | Buffer)[], counts: readonly number[], clients: number): Promise<PostResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  let next = 0;
  let acked = 0;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (next < bodies.length) {
          const i = next++;
          const res = await post(agent, target, bodies[i]);
          acked += acknowledged(target.answer, res.status, res.body, counts[i]);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return { acknowledged: acked, requests: bodies.length, seconds: (performance.now() - started) / 1000 };
}

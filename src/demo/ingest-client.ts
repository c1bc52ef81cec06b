/**
 * A small client of Lattice's batch ingestion API (SPEC R-2, `POST /api/v1/ingest`), used by the demo exactly
 * as any external client would: global `fetch`, client-generated ids (so a retried batch is idempotent),
 * batches of at most 500 events, events sent in the order they were added (parents before children).
 */
import type { JsonValue } from '../model/types.js';

/** One ingestion event: `type` is `<entity>.create` (or `.upsert`, `.update`, `.delete`). */
export interface IngestEvent {
  readonly id: string;
  readonly type: string;
  readonly body: { readonly [key: string]: JsonValue };
}

/** One rejected event of a 207 answer. */
export interface IngestFailure {
  readonly id: string;
  readonly status: number;
  readonly message: string;
}

/** The server's 207 answer. */
export interface IngestResponse {
  readonly successes: readonly { readonly id: string; readonly status: number }[];
  readonly errors: readonly IngestFailure[];
}

/** Thrown when the server rejects a batch or any event in it; `failures` lists the rejected events. */
export class IngestError extends Error {
  readonly failures: readonly IngestFailure[];
  readonly status?: number;
  constructor(message: string, failures: readonly IngestFailure[] = [], status?: number) {
    super(message);
    this.name = 'IngestError';
    this.failures = failures;
    this.status = status;
  }
}

export interface IngestClientOptions {
  /** Server origin, e.g. `http://127.0.0.1:4000` (a trailing slash is ignored). */
  readonly baseUrl: string;
  /** Full `Authorization` header value, e.g. `Bearer lk-sk-…` or `Basic …`. */
  readonly auth: string;
  /** Events per request, 1..500 (default 500, the server's documented maximum batch the demo uses). */
  readonly batchSize?: number;
  /** Extra attempts after a network error, 429 or 5xx (default 3, exponential back-off from 200 ms). */
  readonly retries?: number;
}

/** Largest batch the client sends. */
export const MAX_BATCH = 500;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * POST one batch to `{baseUrl}/api/v1/ingest`, retrying transient failures (the ids make retries idempotent).
 *
 * @returns the 207 answer when every event succeeded
 * @throws IngestError when the answer is not 2xx (after retries for 429/5xx), is not a valid ingestion answer,
 *         or lists any error (the message names the first few failures)
 */
export async function sendBatch(options: IngestClientOptions, batch: readonly IngestEvent[]): Promise<IngestResponse> {
  const url = `${options.baseUrl.replace(/\/+$/, '')}/api/v1/ingest`;
  const retries = options.retries ?? 3;
  let attempt = 0;
  for (;;) {
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: options.auth },
        body: JSON.stringify({ batch }),
      });
    } catch (err) {
      if (attempt++ < retries) {
        await sleep(200 * 2 ** (attempt - 1));
        continue;
      }
      throw new IngestError(`Could not reach ${url}: ${(err as Error).message}. Is the server running?`);
    }
    const text = await res.text();
    if ((res.status === 429 || res.status >= 500) && attempt++ < retries) {
      await sleep(200 * 2 ** (attempt - 1));
      continue;
    }
    if (!res.ok) {
      throw new IngestError(`Ingestion failed with HTTP ${res.status}: ${text.slice(0, 500)}`, [], res.status);
    }
    let answer: IngestResponse;
    try {
      answer = JSON.parse(text) as IngestResponse;
    } catch {
      throw new IngestError(`Ingestion answered HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
    }
    if (!Array.isArray(answer.successes) || !Array.isArray(answer.errors)) {
      throw new IngestError(`Ingestion answer lacks "successes"/"errors" lists: ${text.slice(0, 200)}`);
    }
    if (answer.errors.length > 0) {
      const first = answer.errors
        .slice(0, 3)
        .map((e) => `${e.id} (${e.status}): ${e.message}`)
        .join('; ');
      throw new IngestError(`${answer.errors.length} of ${batch.length} events were rejected: ${first}`, answer.errors, res.status);
    }
    if (answer.successes.length !== batch.length) {
      throw new IngestError(`Sent ${batch.length} events but the server acknowledged ${answer.successes.length}`);
    }
    return answer;
  }
}

/**
 * Buffers events and sends them in order, `batchSize` at a time. Because batches preserve insertion order,
 * adding parents before their children keeps every parent in the same or an earlier batch.
 */
export class IngestClient {
  private readonly options: IngestClientOptions;
  private readonly batchSize: number;
  private buffer: IngestEvent[] = [];
  /** Events acknowledged by the server so far. */
  sent = 0;
  /** Requests made so far (one per batch). */
  batches = 0;

  /** @throws RangeError when `batchSize` is not an integer in 1..500 */
  constructor(options: IngestClientOptions) {
    const size = options.batchSize ?? MAX_BATCH;
    if (!Number.isInteger(size) || size < 1 || size > MAX_BATCH) {
      throw new RangeError(`batchSize must be an integer in 1..${MAX_BATCH}, got ${size}`);
    }
    this.options = options;
    this.batchSize = size;
  }

  /** Queue one event; sends a batch when the buffer is full. @throws IngestError as `sendBatch` */
  async add(event: IngestEvent): Promise<void> {
    this.buffer.push(event);
    if (this.buffer.length >= this.batchSize) await this.flush();
  }

  /** Send everything buffered (in batches of at most `batchSize`). @throws IngestError as `sendBatch` */
  async flush(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.batchSize);
      await sendBatch(this.options, batch);
      this.buffer = this.buffer.slice(batch.length);
      this.sent += batch.length;
      this.batches++;
    }
  }
}

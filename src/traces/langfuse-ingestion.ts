/**
 * `POST /api/public/ingestion`: Langfuse's batch ingestion API (SPEC R-6), as the v3 JS SDK (`langfuse`) and
 * the Python SDK v2 send it: `{ batch: [{ id, type, timestamp, body, metadata? }], metadata? }` →
 * `207 { successes: [{ id, status }], errors: [{ id, status, message }] }`, `id` being the envelope id.
 *
 * - Each event is checked on its own (envelope, type, body schema of `langfuse-events.ts`): a bad event is a
 *   4xx entry and never sinks the good events of the batch.
 * - Deduplication by envelope id (`dedupe.ts`): an event already applied in this project is answered 201
 *   again without being applied twice (the SDK resends the whole batch after a 207 that lists errors). An id
 *   repeated inside one batch with the same type and body is processed once; with another, it is a 409.
 * - The valid events are written by the traces store (`store.ts`) in one transaction as the caller: one merge
 *   statement per entity, update events merged into their row (only the given fields change).
 * - Successes are 201 (as Langfuse answers); failures carry the store's status (409 id of another project,
 *   422, 403, 400) and a message naming the event's ids.
 * Whole-request errors: 401, 403 (a key that cannot write), 400 (body not `{ batch: [...] }`, or a key of
 * several projects), 413 (more than `MAX_BATCH` events).
 */
import type { ValidateFunction } from 'ajv';
import type { FastifyInstance } from 'fastify';
import { isDeepStrictEqual } from 'node:util';
import { canWrite } from '../auth/principal.js';
import { forbidden, LatticeError } from '../errors.js';
import { withWriteIsolation } from '../query/write/execute.js';
import { MAX_BATCH } from '../rest/rows.js';
import { ajvDetails } from '../rest/validate.js';
import { requirePrincipal } from '../server/auth-hook.js';
import type { AppContext } from '../server/context.js';
import { metrics } from '../server/metrics.js';
import { claimEvents, pruneEvents, releaseEvents } from './dedupe.js';
import { EVENT_BODY_SCHEMAS, EVENT_TYPES, eventToRecord, type EventType } from './langfuse-events.js';
import { createEventCompiler } from './langfuse-validate.js';
import { requireTracesModel } from './model.js';
import { writeTraceEvents, type TraceStoreRecord } from './store.js';
import { traceWriteProject } from './project-header.js';

/** The 207 answer (Langfuse's `IngestionResponse`). */
export interface IngestionResponse {
  readonly successes: Array<{ id: string; status: number }>;
  readonly errors: Array<{ id: string; status: number; message: string }>;
}

const ENVELOPE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type', 'body'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 200 },
    type: { type: 'string', maxLength: 100 },
    timestamp: { type: 'string', format: 'date-time' },
    body: { type: 'object' },
    metadata: {},
  },
} as const;

/** Route schema of the request body (the envelopes are checked one by one). */
export const INGESTION_BODY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['batch'],
  properties: { batch: { type: 'array' }, metadata: {} },
} as const;

interface Envelope {
  readonly id: string;
  readonly type: string;
  readonly timestamp?: string;
  readonly body: Record<string, unknown>;
}

/** Result of one event. */
interface Result {
  readonly status: number;
  readonly message?: string;
}

/** The result of an event applied (or applied before): shared, never mutated. */
const CREATED: Result = { status: 201 };

/**
 * Register the route (inside the traces plugin scope, whose `onRequest` hook has checked the model). The route
 * schema is compiled by the scope's validator compiler; the envelopes and bodies by `langfuse-validate.ts`, with
 * the same options and a cheaper `date-time` check.
 */
export function registerLangfuseIngestion(app: FastifyInstance, ctx: AppContext): void {
  const compile = createEventCompiler();
  const envelope = compile(ENVELOPE_SCHEMA);
  const bodies = new Map<string, ValidateFunction>(EVENT_TYPES.map((t) => [t, compile(EVENT_BODY_SCHEMAS[t])]));

  app.post('/api/public/ingestion', { schema: { body: INGESTION_BODY_SCHEMA } }, async (request, reply): Promise<IngestionResponse> => {
    const principal = requirePrincipal(request);
    if (!canWrite(principal)) throw forbidden(`Role '${principal.role}' cannot write traces; use a key with role editor or owner.`);
    const model = ctx.model();
    requireTracesModel(model, 'POST /api/public/ingestion');
    const batch = (request.body as { batch: unknown[] }).batch;
    if (batch.length > MAX_BATCH) {
      throw new LatticeError('PAYLOAD_TOO_LARGE', `The batch has ${batch.length} events; send at most ${MAX_BATCH} per request (the SDK's flushAt).`);
    }
    const projectId = traceWriteProject(principal, request);

    const n = batch.length;
    const results: Array<Result | undefined> = new Array(n);
    const ids: string[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const raw = (batch[i] as { id?: unknown } | null)?.id;
      ids[i] = typeof raw === 'string' ? raw : `batch[${i}]`;
    }
    const firstIndex = new Map<string, number>();
    const repeats: Array<[number, number]> = [];
    const records: TraceStoreRecord[] = [];
    const recordEvent: number[] = [];

    for (let i = 0; i < n; i++) {
      const event = batch[i];
      if (!envelope(event)) {
        const d = ajvDetails(`batch[${i}]`, envelope.errors);
        results[i] = { status: 400, message: `Invalid event: ${d.map((x) => `${x.path} ${x.message}`).join('; ')}.` };
        continue;
      }
      const ev = event as Envelope;
      const seen = firstIndex.get(ev.id);
      if (seen !== undefined) {
        const first = batch[seen] as Envelope;
        if (first.type === ev.type && isDeepStrictEqual(first.body, ev.body)) repeats.push([i, seen]);
        else results[i] = { status: 409, message: `Event id "${ev.id}" is used by batch[${seen}] with another type or body; give every event its own id.` };
        continue;
      }
      firstIndex.set(ev.id, i);
      const validate = bodies.get(ev.type);
      if (!validate) {
        results[i] = { status: 400, message: `Unknown event type "${ev.type}"; supported: ${EVENT_TYPES.join(', ')}.` };
        continue;
      }
      if (!validate(ev.body)) {
        const d = ajvDetails('body', validate.errors);
        results[i] = { status: 400, message: `Invalid ${ev.type} event: ${d.map((x) => `${x.path} ${x.message}`).join('; ')}.` };
        continue;
      }
      if (ev.type === 'sdk-log') {
        request.log.debug({ event_id: ev.id, log: ev.body.log }, 'Langfuse SDK log');
        results[i] = CREATED;
        continue;
      }
      try {
        const record = eventToRecord(ev.type as EventType, withEventTime(ev), ev.id);
        if (record) {
          records.push(record);
          recordEvent.push(i);
        }
      } catch (err) {
        if (!(err instanceof LatticeError)) throw err;
        results[i] = { status: err.status, message: err.message };
      }
    }

    if (records.length > 0) {
      const outcomes = await withWriteIsolation(ctx.db, principal, async (tx, isolate) => {
        await pruneEvents(tx, model, projectId);
        const fresh = await claimEvents(tx, model, projectId, recordEvent.map((i) => ids[i]));
        const todo = records.map((_, j) => j).filter((j) => fresh.has(ids[recordEvent[j]]));
        const written = await writeTraceEvents(tx, model, principal, todo.map((j) => records[j]), { projectId, isolate });
        const out: Result[] = records.map(() => CREATED); // already applied: acknowledged again
        todo.forEach((j, k) => (out[j] = written[k].status < 300 ? CREATED : { status: written[k].status, message: written[k].message }));
        await releaseEvents(tx, model, projectId, todo.filter((j) => out[j].status >= 300).map((j) => ids[recordEvent[j]]));
        return out;
      });
      outcomes.forEach((r, j) => (results[recordEvent[j]] = r));
    }
    for (const [i, first] of repeats) results[i] = results[first];

    const response: IngestionResponse = { successes: [], errors: [] };
    results.forEach((r, i) => {
      if (r!.status < 300) response.successes.push({ id: ids[i], status: r!.status });
      else response.errors.push({ id: ids[i], status: r!.status, message: r!.message ?? 'failed' });
    });
    // Metrics: the event's type when it is one of Langfuse's (bounded label), else `unknown`.
    metrics.countIngestion('langfuse', results.map((r, i) => {
      const type = (batch[i] as { type?: unknown } | null)?.type;
      return { type: typeof type === 'string' && bodies.has(type) ? type : 'unknown', status: r!.status };
    }));
    reply.code(207);
    return response;
  });
}

/**
 * The body with Langfuse's defaults from the envelope time: a trace without `timestamp` and an observation
 * without `startTime` take the event's `timestamp` (the earliest start is kept, so a later update's time never
 * moves an existing start).
 */
function withEventTime(ev: Envelope): Record<string, unknown> {
  if (!ev.timestamp) return ev.body;
  if (ev.type === 'trace-create') return ev.body.timestamp == null ? { ...ev.body, timestamp: ev.timestamp } : ev.body;
  if (ev.type === 'score-create' || ev.type === 'sdk-log') return ev.body;
  return ev.body.startTime === undefined ? { ...ev.body, startTime: ev.timestamp } : ev.body;
}

/**
 * Batch ingestion (SPEC R-2): `POST /api/v1/ingest` with `{ batch: [{ id, type: "<entity>.<op>", body }] }`
 * → `207 { successes: [{id, status}], errors: [{id, status, message}] }`.
 *
 * - Each event is validated on its own (envelope, entity, op, body against the entity's schema), so one bad
 *   event never sinks the others.
 * - An event repeating an earlier envelope `id` of the batch with the same type and body is processed once and
 *   gets the first one's result; with a different type or body it fails with 409 (never acknowledged unwritten).
 * - A create of a row that already exists in the same project answers 200 when the given fields match (a
 *   retry), 409 when they differ (send an upsert or update to change a row).
 * - Valid events are grouped by entity and op and written with ONE statement per group (`src/query/write`),
 *   parents before children (create, upsert, update), then deletes children before parents, all in one
 *   transaction as the principal. Retries are idempotent: the body's `id` is the row id (when the body has
 *   none, it is derived from the envelope `id`, see `eventRowId`), and a create of a row that already exists
 *   in the same project answers 200.
 */
import type { ValidateFunction } from 'ajv';
import type { FastifyInstance } from 'fastify';
import { isDeepStrictEqual } from 'node:util';
import { canWrite } from '../auth/principal.js';
import { forbidden, LatticeError } from '../errors.js';
import type { Entity, Model } from '../model/types.js';
import { executeWrite, withWriteIsolation } from '../query/write/execute.js';
import type { RowOutcome, WriteMode, WriteRow } from '../query/write/plan.js';
import { requirePrincipal } from '../server/auth-hook.js';
import type { AppContext } from '../server/context.js';
import { metrics } from '../server/metrics.js';
import { dependencyOrder, MAX_BATCH, toWriteRow } from './rows.js';
import { eventEnvelopeSchema, ingestBodySchema, rowBodySchema } from './schemas.js';
import { ajvDetails, type Validators } from './validate.js';

/** Result of one event. */
export interface EventResult {
  /** The envelope id (null when the event had none). */
  readonly id: string | null;
  readonly status: number;
  readonly message?: string;
}

/** The 207 answer. */
export interface IngestResponse {
  readonly successes: Array<{ id: string | null; status: number }>;
  readonly errors: Array<{ id: string | null; status: number; message: string }>;
}

const MODES: readonly WriteMode[] = ['create', 'upsert', 'update', 'delete'];

/** Valid events of one entity and op, written by one statement. */
interface Group {
  readonly entity: Entity;
  readonly mode: WriteMode;
  readonly rows: WriteRow[];
  /** Batch index of each row. */
  readonly events: number[];
}

/** Groups in execution order: per entity parents first create → upsert → update; then deletes children first. */
function orderGroups(model: Model, groups: Map<string, Group>): Group[] {
  const entities = dependencyOrder(model);
  const out: Group[] = [];
  for (const e of entities) for (const m of MODES.slice(0, 3)) { const g = groups.get(`${e.name}.${m}`); if (g) out.push(g); }
  for (const e of [...entities].reverse()) { const g = groups.get(`${e.name}.delete`); if (g) out.push(g); }
  return out;
}

/**
 * Register `POST /api/v1/ingest` in the REST plugin's scope.
 * Whole-request errors: 401 without credentials, 403 for a role that cannot write, 413 for more than
 * `MAX_BATCH` events, 400 for a malformed envelope (`batch` missing or not an array).
 */
export function registerIngestRoute(app: FastifyInstance, ctx: AppContext, validators: Validators): void {
  const envelope = validators.compileBody(eventEnvelopeSchema);
  // Body validators per Model object, compiled on first use: after a run-time model change (SPEC M-7) the
  // next batch validates against the new model; a batch in flight finishes with the model it started with.
  const perModel = new WeakMap<Model, { bodies: Map<string, ValidateFunction>; known: string[] }>();
  const compiled = (model: Model) => {
    let c = perModel.get(model);
    if (!c) {
      const bodies = new Map<string, ValidateFunction>();
      for (const e of model.entities.values()) {
        if (e.system) continue;
        for (const m of MODES) bodies.set(`${e.name}.${m}`, validators.compileBody(rowBodySchema(e, m)));
      }
      perModel.set(model, (c = { bodies, known: [...model.entities.values()].filter((e) => !e.system).map((e) => e.name) }));
    }
    return c;
  };

  app.post('/api/v1/ingest', { schema: { body: ingestBodySchema } }, async (request, reply): Promise<IngestResponse> => {
    const principal = requirePrincipal(request);
    if (!canWrite(principal)) throw forbidden(`Role '${principal.role}' cannot write data; use a key with role editor, owner or admin.`);
    const model = ctx.model();
    const { bodies, known } = compiled(model);
    const batch = (request.body as { batch: unknown[] }).batch;
    if (batch.length > MAX_BATCH) {
      throw new LatticeError('PAYLOAD_TOO_LARGE', `The batch has ${batch.length} events; send at most ${MAX_BATCH} events per request.`);
    }
    const results: EventResult[] = new Array(batch.length);
    const firstIndex = new Map<string, number>();
    const duplicates: Array<[number, number]> = [];
    const groups = new Map<string, Group>();

    batch.forEach((event, i) => {
      const rawId = (event as { id?: unknown } | null)?.id;
      const id = typeof rawId === 'string' ? rawId : null;
      const fail = (status: number, message: string) => (results[i] = { id, status, message });
      if (!envelope(event)) {
        const d = ajvDetails(`batch[${i}]`, envelope.errors);
        return fail(400, `Invalid event: ${d.map((x) => `${x.path} ${x.message}`).join('; ')}.`);
      }
      const ev = event as { id: string; type: string; body: Record<string, unknown> };
      const seen = firstIndex.get(ev.id);
      if (seen !== undefined) {
        // The same event sent twice is processed once; another event under a used id would be acknowledged
        // without being written.
        const first = batch[seen] as { type?: unknown; body?: unknown };
        if (first.type === ev.type && isDeepStrictEqual(first.body, ev.body)) return void duplicates.push([i, seen]);
        return fail(409, `Event id "${ev.id}" is already used by batch[${seen}] with a different type or body; give every event its own id.`);
      }
      firstIndex.set(ev.id, i);
      const [entityName, mode] = ev.type.split('.') as [string, WriteMode];
      const validate = bodies.get(ev.type);
      if (!validate) return fail(400, `Unknown entity "${entityName}" in type "${ev.type}"; known entities: ${known.join(', ')}.`);
      if (!validate(ev.body)) {
        const d = ajvDetails('body', validate.errors);
        return fail(400, `Invalid ${ev.type} body: ${d.map((x) => `${x.path} ${x.message}`).join('; ')}.`);
      }
      let row: WriteRow;
      try {
        row = toWriteRow(principal, mode, ev.body, { entity: entityName, eventId: ev.id });
      } catch (err) {
        if (err instanceof LatticeError) return fail(err.status, err.message);
        throw err;
      }
      let g = groups.get(ev.type);
      if (!g) groups.set(ev.type, (g = { entity: model.entities.get(entityName)!, mode, rows: [], events: [] }));
      g.rows.push(row);
      g.events.push(i);
    });

    const ordered = orderGroups(model, groups);
    const written = await withWriteIsolation(ctx.db, principal, async (tx, isolate) => {
      const out: Array<[Group, RowOutcome[]]> = [];
      for (const g of ordered) out.push([g, await executeWrite(tx, model, { entity: g.entity.name, mode: g.mode, rows: g.rows }, isolate)]);
      return out;
    });
    for (const [g, outcomes] of written) {
      outcomes.forEach((o, j) => {
        const i = g.events[j];
        results[i] = { id: results[i]?.id ?? (batch[i] as { id: string }).id, status: o.status, ...(o.message ? { message: `${g.entity.name}.${g.mode}: ${o.message}` } : {}) };
      });
    }
    for (const [i, first] of duplicates) results[i] = { ...results[first], id: (batch[i] as { id: string }).id };

    const response: IngestResponse = { successes: [], errors: [] };
    for (const r of results) {
      if (r.status < 300) response.successes.push({ id: r.id, status: r.status });
      else response.errors.push({ id: r.id, status: r.status, message: r.message ?? 'failed' });
    }
    // Metrics: the event's type when the model knows it (bounded label), else `unknown`.
    metrics.countIngestion('lattice', results.map((r, i) => {
      const type = (batch[i] as { type?: unknown } | null)?.type;
      return { type: typeof type === 'string' && bodies.has(type) ? type : 'unknown', status: r.status };
    }));
    reply.code(207);
    return response;
  });
}

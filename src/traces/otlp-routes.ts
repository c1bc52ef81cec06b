/**
 * `POST /api/public/otel/v1/traces` (SPEC R-6): OTLP/HTTP trace ingestion, where Langfuse's SDKs
 * (`@langfuse/otel`, Python v3) and any OpenTelemetry exporter send spans.
 *
 * - Bodies: binary protobuf or OTLP/JSON, gzip or not (`otlp-decode.ts`); spans are read one by one
 *   (`otlp-spans.ts`), mapped to the traces store's records (`otlp-map.ts`) and written in one transaction by
 *   the store shared with the Langfuse batch API (`store.ts`).
 * - Credentials: the usual ones (`Authorization: Basic base64(<public key>:<secret key>)` as Langfuse's SDKs send,
 *   or `Bearer`); a role that can write. A principal that may write into several projects (an admin key, a
 *   user) names the project with the `x-lattice-project-id` header (OTel exporters send extra headers with
 *   `OTEL_EXPORTER_OTLP_HEADERS`).
 * - Answers follow OTLP/HTTP: 200 with an `ExportTraceServiceResponse` in the request's encoding; spans that
 *   could not be stored are counted in `partialSuccess.rejectedSpans`, with the reasons (and warnings about
 *   stored spans) in `errorMessage`; the other spans of the export are stored. A body that cannot be decoded
 *   is 400, an unsupported media type or content coding 415, a body (or its decompressed size) over the body
 *   limit 413. Errors of protobuf requests are a protobuf `google.rpc.Status`; the others use Lattice's JSON
 *   error shape.
 * - The route needs a model with the traces preset's shape (`model.ts`); a server serving another model answers
 *   404.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requirePrincipal } from '../server/auth-hook.js';
import type { AppContext } from '../server/context.js';
import { sendError, toErrorResponse } from '../server/errors.js';
import { metrics } from '../server/metrics.js';
import { decodeExport, decompress, encodeExportResponse, encodeStatus, encodingOf, requireOtlpContentType, unsupportedContentType, type DecodedExport } from './otlp-decode.js';
import { requireTracesModel, tracesModelOf } from './model.js';
import { mapSpan } from './otlp-map.js';
import { DEFAULT_SPAN_LIMITS, readSpans, type SpanLimits } from './otlp-spans.js';
import { writeTraceBatch, type TraceStoreRecord } from './store.js';
import { traceWriteProject } from './project-header.js';

/** Where OTLP/HTTP exporters send traces (Langfuse's path; the OTLP default `/v1/traces` under a base URL). */
export const OTLP_TRACES_PATH = '/api/public/otel/v1/traces';

export { PROJECT_HEADER } from './project-header.js';

export interface OtlpRouteOptions {
  /** Per-span size limit (default {@link DEFAULT_SPAN_LIMITS}). */
  readonly spanLimits?: SpanLimits;
  /** Most spans per export (default 10,000). */
  readonly maxSpans?: number;
  /** Largest decompressed body in bytes (default: the server's body limit). */
  readonly maxDecompressedBytes?: number;
}

/** How many rejection reasons the answer lists before summarising the rest. */
const LISTED_REASONS = 10;

/**
 * Register the route in its own scope (it replaces the content-type parsers and the error handler there).
 * @param app an encapsulated Fastify scope
 */
export async function otlpRoutes(app: FastifyInstance, ctx: AppContext, options: OtlpRouteOptions = {}): Promise<void> {
  // Like the Langfuse routes (routes.ts): registered when the model served at start has the traces shape.
  if (!tracesModelOf(ctx.model())) return;
  const maxDecompressed = options.maxDecompressedBytes ?? ctx.config.bodyLimit;

  // The raw body of every media type: the route answers 415 itself, with OTLP's media types in the message.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, async (request: FastifyRequest, body: Buffer | string): Promise<DecodedExport> => {
    requirePrincipal(request); // 401 before any decompression or decoding work
    const encoding = requireOtlpContentType(request.headers['content-type']);
    const raw = await decompress(typeof body === 'string' ? Buffer.from(body) : body, header(request, 'content-encoding'), maxDecompressed);
    return decodeExport(raw, encoding);
  });

  app.setErrorHandler((err: Error & { code?: string }, request, reply) => {
    const error = err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? unsupportedContentType(request.headers['content-type']) : err;
    if (encodingOf(request.headers['content-type']) !== 'protobuf') return sendError(request, reply, error, ctx.config.mode);
    const res = toErrorResponse(error, String(request.id), ctx.config.mode, request.headers['content-type']);
    if (res.internal) request.log.error({ err }, 'request failed');
    else request.log.info({ code: res.body.error.code, status: res.status }, res.body.error.message);
    return reply.code(res.status).type('application/x-protobuf').send(encodeStatus(res.status, res.body.error.message));
  });

  app.post(OTLP_TRACES_PATH, async (request: FastifyRequest, reply: FastifyReply) => {
    const principal = requirePrincipal(request);
    // No body at all (no length): the parser never ran; an empty body is an empty request (or invalid JSON).
    const decoded = (request.body as DecodedExport | undefined) ?? decodeExport(Buffer.alloc(0), requireOtlpContentType(request.headers['content-type']));
    const model = ctx.model();
    requireTracesModel(model, `POST ${OTLP_TRACES_PATH}`);
    const projectId = traceWriteProject(principal, request);
    const { spans, rejected } = readSpans(decoded.request, decoded.encoding, options.spanLimits ?? DEFAULT_SPAN_LIMITS, options.maxSpans);

    // Every span gives [trace record, span observation, event observations…]; `first[i]` is where span i starts.
    const records: TraceStoreRecord[] = [];
    const first: number[] = [];
    for (const span of spans) {
      const mapped = mapSpan(span);
      first.push(records.length);
      records.push(mapped.trace, ...mapped.observations);
    }
    const outcomes = records.length ? await writeTraceBatch(ctx.db, model, principal, records, projectId) : [];

    const reasons = rejected.map((r) => `${r.path}${r.spanId ? ` (span ${r.spanId})` : ''}: ${r.reason}`);
    const warnings: string[] = [];
    spans.forEach((span, i) => {
      const end = i + 1 < first.length ? first[i + 1] : records.length;
      // The span's own observation (after its trace record) fails with its trace's reason when the trace failed.
      const own = outcomes[first[i] + 1];
      if (own.status >= 300) return void reasons.push(`span ${span.spanId}: ${own.message ?? `status ${own.status}`}`);
      for (let k = first[i] + 2; k < end; k++) if (outcomes[k].status >= 300) warnings.push(outcomes[k].message ?? `an event of span ${span.spanId} failed`);
    });
    const total = spans.length + rejected.length;
    const parts: string[] = [];
    if (reasons.length) {
      const listed = reasons.slice(0, LISTED_REASONS).join('; ');
      const more = reasons.length > LISTED_REASONS ? `; and ${reasons.length - LISTED_REASONS} more` : '';
      parts.push(`${reasons.length} of ${total} spans rejected: ${listed}${more}.`);
    }
    if (warnings.length) parts.push(`Stored with warnings: ${warnings.slice(0, LISTED_REASONS).join('; ')}.`);
    request.log.debug({ spans: total, rejected: reasons.length, project_id: projectId }, 'OTLP traces export');
    // Metrics: each span by its own observation's outcome; spans refused before storing as 400.
    metrics.countIngestion('otlp', [
      ...spans.map((_, i) => ({ type: 'span', status: outcomes[first[i] + 1].status })),
      ...rejected.map(() => ({ type: 'span', status: 400 })),
    ]);

    const answer = encodeExportResponse(decoded.encoding, reasons.length, parts.join(' '));
    return reply.code(200).type(answer.contentType).send(answer.body);
  });
}

/** A single-valued request header (the first when repeated). */
function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

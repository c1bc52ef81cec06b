/**
 * OTLP/HTTP trace export bodies (SPEC R-6): content negotiation, bounded gzip, decoding and answer encoding.
 *
 * - `Content-Type: application/x-protobuf` (binary protobuf) or `application/json` (OTLP/JSON: lowerCamelCase
 *   field names, trace and span ids as hex, enums as integers, 64-bit integers as decimal strings), per the OTLP
 *   specification (https://opentelemetry.io/docs/specs/otlp/#otlphttp). Anything else is 415.
 * - `Content-Encoding: gzip` (or none / `identity`); other codings are 415. The decompressed body may be at most
 *   the server's body limit: a larger one (a gzip bomb) is refused with 413 as soon as the limit is passed.
 * - Protobuf is decoded with protobufjs's generated decoder from the official `.proto` files (`./otlp-proto`,
 *   loaded once); its message objects (OTLP/JSON field names, bytes as `Buffer`, 64-bit integers as `Long`) are
 *   read as they are by `otlp-spans-proto.ts`, without a `toObject` copy. The server's generic body checks
 *   (nesting depth, non-finite numbers; `src/nesting.ts`) walk parsed bodies; a decoded message is kept out of
 *   that walk and checked here instead, with the same answers (`otlp-proto-checks.ts`).
 * - Answers: `ExportTraceServiceResponse` in the request's encoding; errors of protobuf requests as a protobuf
 *   `google.rpc.Status` (OTLP: "the response body for all HTTP 4xx and 5xx responses MUST be a Status").
 */
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import protobuf from 'protobufjs';
import { badInput, LatticeError } from '../errors.js';
import { latticeRoot } from '../package-root.js';
import { checkDecodedExport } from './otlp-proto-checks.js';
import type { ExportTraceServiceRequest } from './otlp-spans-proto.js';

/** The two OTLP/HTTP encodings. */
export type OtlpEncoding = 'protobuf' | 'json';

/** A decoded export request (not yet validated, see `otlp-spans.ts`). */
export interface DecodedExport {
  readonly encoding: OtlpEncoding;
  /**
   * The request's top-level object (`{ resourceSpans?: [...] }`): plain objects for OTLP/JSON, the protobufjs
   * `ExportTraceServiceRequest` message for protobuf.
   */
  readonly request: Record<string, unknown>;
}

/**
 * A decoded protobuf export. The message is behind a getter (not an own enumerable property), so the server's
 * generic walk of parsed bodies (`checkJsonNesting` in `app.ts`'s preValidation hook) does not walk it again:
 * {@link decodeExport} made the same checks with {@link checkDecodedExport}.
 */
class ProtobufExport implements DecodedExport {
  readonly encoding = 'protobuf' as const;
  readonly #message: Record<string, unknown>;

  constructor(message: Record<string, unknown>) {
    this.#message = message;
  }

  get request(): Record<string, unknown> {
    return this.#message;
  }
}

const gunzipAsync = promisify(gunzip);
// From the package root, so the compiled build (`dist/src/traces/`) finds the `.proto` files of the source tree.
const PROTO_DIR = join(latticeRoot(), 'src', 'traces', 'otlp-proto');

/** A 415 answer (code BAD_USER_INPUT, as Lattice's other unsupported-media-type answers; see src/server/errors.ts). */
class UnsupportedMedia extends LatticeError {
  constructor(message: string) {
    super('BAD_USER_INPUT', message);
  }

  override get status(): number {
    return 415;
  }
}

function unsupported(message: string): LatticeError {
  return new UnsupportedMedia(message);
}

/** A 413 answer. */
function tooLarge(message: string): LatticeError {
  return new LatticeError('PAYLOAD_TOO_LARGE', message);
}

/**
 * The encoding named by a `Content-Type` header.
 * @returns the encoding, or null for any other media type (or none)
 */
export function encodingOf(contentType: string | undefined): OtlpEncoding | null {
  const type = contentType?.split(';')[0].trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return null;
}

/**
 * Check the `Content-Type` of an export request.
 * @throws LatticeError (415) naming the media types OTLP/HTTP uses
 */
export function requireOtlpContentType(contentType: string | undefined): OtlpEncoding {
  const encoding = encodingOf(contentType);
  if (encoding) return encoding;
  throw unsupportedContentType(contentType);
}

/** The 415 error for a `Content-Type` that is not one of OTLP/HTTP's (or is malformed, or absent). */
export function unsupportedContentType(contentType: string | undefined): LatticeError {
  const type = contentType?.split(';')[0].trim().slice(0, 100);
  return unsupported(
    `Unsupported media type${type ? ` "${type}"` : ' (no Content-Type)'}: OTLP/HTTP trace exports are "application/x-protobuf" (binary protobuf) or "application/json" (OTLP/JSON).`,
  );
}

/**
 * Undo `Content-Encoding`, bounded.
 * @param body the request body as received
 * @param contentEncoding the header (`gzip`, `x-gzip`, `identity` or absent)
 * @param maxBytes largest accepted decompressed size
 * @throws LatticeError 415 for another coding, 400 for a corrupt or truncated gzip stream, 413 past `maxBytes`
 */
export async function decompress(body: Buffer, contentEncoding: string | undefined, maxBytes: number): Promise<Buffer> {
  const coding = (contentEncoding ?? '').trim().toLowerCase();
  if (coding === '' || coding === 'identity') return body;
  if (coding !== 'gzip' && coding !== 'x-gzip') {
    throw unsupported(`Unsupported Content-Encoding "${coding.slice(0, 50)}": send the body uncompressed or with "Content-Encoding: gzip".`);
  }
  try {
    return await gunzipAsync(body, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw tooLarge(
        `The gzip body expands to more than ${formatBytes(maxBytes)}, the largest decompressed export this server accepts; send smaller batches (e.g. a lower maxExportBatchSize).`,
      );
    }
    throw badInput(`The body is not a valid gzip stream (${(err as Error).message}); send it gzip-compressed as a whole, or uncompressed without "Content-Encoding: gzip".`);
  }
}

/** `n` bytes in MiB or KiB for messages. */
function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${+(n / (1024 * 1024)).toFixed(1)} MiB` : `${+(n / 1024).toFixed(1)} KiB`;
}

interface OtlpTypes {
  readonly request: protobuf.Type;
  readonly response: protobuf.Type;
  readonly status: protobuf.Type;
}

let types: OtlpTypes | undefined;

/** The protobuf types, loaded from the vendored `.proto` files on first use. */
function otlpTypes(): OtlpTypes {
  if (types) return types;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_DIR, target));
  root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto');
  // google.rpc.Status (https://github.com/googleapis/googleapis/blob/master/google/rpc/status.proto), which OTLP
  // answers errors with; `details` (repeated google.protobuf.Any) is never filled here, so it is left out.
  protobuf.parse('syntax = "proto3"; package google.rpc; message Status { int32 code = 1; string message = 2; }', root);
  types = {
    request: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
    response: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
    status: root.lookupType('google.rpc.Status'),
  };
  return types;
}

/**
 * Decode an `ExportTraceServiceRequest`.
 * @param body the decompressed body
 * @returns the request (OTLP/JSON objects, or the protobufjs message: see {@link DecodedExport})
 * @throws LatticeError 400 for a body that is not valid protobuf / JSON of that message (truncated, corrupt,
 *         not an object, nested too deeply), with what was wrong; for protobuf also the server's body checks'
 *         400s (attribute values nested more than 128 levels in the request's object form, a non-finite double)
 */
export function decodeExport(body: Buffer, encoding: OtlpEncoding): DecodedExport {
  if (encoding === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw badInput(`The body is not valid JSON (${(err as Error).message}); send an OTLP/JSON ExportTraceServiceRequest ({"resourceSpans": [...]}).`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw badInput('The body must be a JSON object: an OTLP/JSON ExportTraceServiceRequest ({"resourceSpans": [...]}).');
    }
    return { encoding, request: parsed as Record<string, unknown> };
  }
  const { request } = otlpTypes();
  let message: protobuf.Message;
  try {
    message = request.decode(body);
  } catch (err) {
    const why = (err as Error).message;
    const truncated = /index out of range/.test(why);
    throw badInput(
      truncated
        ? `The protobuf body is truncated (${why}): the ${body.length} bytes received end inside a field; send the complete ExportTraceServiceRequest (check proxies and the Content-Length).`
        : `The body is not a valid protobuf ExportTraceServiceRequest (${why}); send OTLP binary protobuf with "Content-Type: application/x-protobuf", or OTLP/JSON with "Content-Type: application/json".`,
    );
  }
  checkDecodedExport(message as unknown as ExportTraceServiceRequest, () => ({
    encoding,
    request: request.toObject(message, { longs: String, enums: Number, bytes: String, defaults: false, json: true }),
  }));
  return new ProtobufExport(message as unknown as Record<string, unknown>);
}

/**
 * Encode the `ExportTraceServiceResponse` of an export.
 * @param rejectedSpans spans not stored (0: full success, `partialSuccess` is then left out as OTLP allows)
 * @param errorMessage why spans were rejected, or a warning about accepted ones (OTLP allows both)
 * @returns the body and its content type, in the request's encoding
 */
export function encodeExportResponse(encoding: OtlpEncoding, rejectedSpans: number, errorMessage: string): { body: Buffer | string; contentType: string } {
  const partial = rejectedSpans > 0 || errorMessage !== '';
  if (encoding === 'json') {
    // OTLP/JSON writes 64-bit integers as decimal strings.
    const body = partial ? { partialSuccess: { rejectedSpans: String(rejectedSpans), errorMessage } } : {};
    return { body: JSON.stringify(body), contentType: 'application/json' };
  }
  const { response } = otlpTypes();
  const message = response.fromObject(partial ? { partialSuccess: { rejectedSpans, errorMessage } } : {});
  return { body: Buffer.from(response.encode(message).finish()), contentType: 'application/x-protobuf' };
}

/** gRPC status codes (google.rpc.Code) for HTTP statuses, as OTLP/HTTP error bodies carry them. */
const GRPC_CODE: Readonly<Record<number, number>> = { 400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14 };

/**
 * Encode an error answer of a protobuf request as `google.rpc.Status`.
 * @param status the HTTP status
 * @param message the error message (the same text the JSON error shape carries)
 */
export function encodeStatus(status: number, message: string): Buffer {
  const { status: type } = otlpTypes();
  const code = GRPC_CODE[status] ?? (status >= 500 ? 13 : 3);
  return Buffer.from(type.encode(type.fromObject({ code, message })).finish());
}

/**
 * Decode a `google.rpc.Status` (for tests and clients of this module).
 * @throws Error for bytes that are not one
 */
export function decodeStatus(body: Uint8Array): { code: number; message: string } {
  const { status: type } = otlpTypes();
  return type.toObject(type.decode(body), { defaults: true }) as { code: number; message: string };
}

/**
 * Decode an `ExportTraceServiceResponse` (for tests).
 * @returns `partialSuccess` with `rejectedSpans` as a number, or an empty object
 */
export function decodeExportResponse(body: Uint8Array): { partialSuccess?: { rejectedSpans: number; errorMessage: string } } {
  const { response } = otlpTypes();
  const o = response.toObject(response.decode(body), { longs: Number, defaults: false }) as { partialSuccess?: { rejectedSpans?: number; errorMessage?: string } };
  return o.partialSuccess ? { partialSuccess: { rejectedSpans: o.partialSuccess.rejectedSpans ?? 0, errorMessage: o.partialSuccess.errorMessage ?? '' } } : {};
}

/**
 * Encode an `ExportTraceServiceRequest` from an object in OTLP/JSON shape (for tests and tools). Ids may be
 * hex strings; they are converted to bytes.
 */
export function encodeExportRequest(request: Record<string, unknown>): Buffer {
  const { request: type } = otlpTypes();
  const hexToBytes = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'hex') : v);
  const withBytes = JSON.parse(JSON.stringify(request), (key, value) =>
    key === 'traceId' || key === 'spanId' || key === 'parentSpanId' ? hexToBytes(value) : value,
  ) as Record<string, unknown>;
  return Buffer.from(type.encode(type.fromObject(withBytes)).finish());
}

/**
 * The shapes OTLP spans are read into (`otlp-spans.ts` for OTLP/JSON, `otlp-spans-proto.ts` for decoded protobuf
 * messages) and the per-span size budget both readers count against (SPEC R-6).
 */
import { badInput, LatticeError } from '../errors.js';

/** Plain JSON value of an OTLP attribute. */
export type AttrValue = string | number | boolean | null | AttrValue[] | { [key: string]: AttrValue };
/** Attributes by key (later duplicates win, as the OTLP data model says keys are unique). */
export type Attributes = Record<string, AttrValue>;

/** A span event (OTLP `Span.Event`). */
export interface OtlpEvent {
  readonly name: string;
  /** Nanoseconds since the Unix epoch (0 when absent). */
  readonly timeNanos: bigint;
  readonly attributes: Attributes;
  readonly droppedAttributesCount?: number;
}

/** One span with its resource and instrumentation scope. */
export interface OtlpSpan {
  /** 32 lower-case hex digits. */
  readonly traceId: string;
  /** 16 lower-case hex digits. */
  readonly spanId: string;
  /** 16 hex digits, or null for a root span. */
  readonly parentSpanId: string | null;
  readonly name: string;
  /** `SpanKind` number (0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer). */
  readonly kind: number;
  readonly startNanos: bigint;
  /** 0n when absent. */
  readonly endNanos: bigint;
  readonly attributes: Attributes;
  readonly events: readonly OtlpEvent[];
  /** Links as `{ trace_id, span_id, trace_state?, attributes? }`, kept as metadata. */
  readonly links: readonly Record<string, AttrValue>[];
  /** `StatusCode` (0 unset, 1 ok, 2 error) and message. */
  readonly status: { readonly code: number; readonly message: string };
  readonly traceState: string;
  readonly flags: number;
  readonly dropped: { readonly attributes: number; readonly events: number; readonly links: number };
  readonly resource: Attributes;
  readonly scope: { readonly name: string; readonly version: string; readonly attributes: Attributes };
}

/** A span that could not be read. */
export interface SpanRejection {
  /** `resourceSpans[i].scopeSpans[j].spans[k]`. */
  readonly path: string;
  /** The span id when it could be read, for messages. */
  readonly spanId?: string;
  readonly reason: string;
}

/** Limits applied per span. */
export interface SpanLimits {
  /** Largest span, counted as the characters of its attribute and event keys and string values (+8 per other value). */
  readonly maxSpanChars: number;
}

/** Default: 4 Mi characters per span (an LLM prompt of ~1M tokens). */
export const DEFAULT_SPAN_LIMITS: SpanLimits = { maxSpanChars: 4 * 1024 * 1024 };

/** The spans of a request, and the ones that could not be read. */
export interface ReadSpans {
  readonly spans: OtlpSpan[];
  readonly rejected: SpanRejection[];
}

/** Thrown inside one span's conversion; becomes a {@link SpanRejection} (or a 400 above the spans). */
export class SpanError extends Error {}

/** Counts a span's size while its values are converted. */
export class Budget {
  used = 0;
  constructor(readonly max: number) {}

  /**
   * Count `n` characters.
   * @param where the place counted, for the message (called only when the budget is exceeded)
   * @throws SpanError past the budget
   */
  add(n: number, where: () => string): void {
    this.used += n;
    if (this.used > this.max) this.fail(where());
  }

  /** @throws SpanError saying the span is too large, at `where` */
  fail(where: string): never {
    throw new SpanError(
      `the span is larger than ${this.max} characters of attributes and events (at ${where}); shorten the value (e.g. truncate large prompts or completions) or send it in several spans`,
    );
  }
}

/**
 * Set `out[key] = value` as an own data property, also for the key `__proto__` (which plain assignment would
 * take as the prototype): attribute objects are plain objects holding exactly the keys a client sent.
 */
export function setAttribute(out: Attributes, key: string, value: AttrValue): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/** The 400 for a malformed structure above the spans (`path`: e.g. `resourceSpans[0]`). */
export function invalidStructure(path: string, message: string): LatticeError {
  return badInput(`Invalid ExportTraceServiceRequest: ${path}: ${message}.`);
}

/**
 * Run `fn`, reading part of the structure above the spans: a `SpanError` becomes the whole export's
 * {@link invalidStructure} error at `path`.
 * @throws LatticeError BAD_USER_INPUT for a malformed structure; anything else `fn` throws
 */
export function structure<T>(fn: () => T, path: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SpanError) throw invalidStructure(path, err.message);
    throw err;
  }
}

/** The 413 for an export of more than `maxSpans` spans. */
export function tooManySpans(maxSpans: number): LatticeError {
  return new LatticeError('PAYLOAD_TOO_LARGE', `The export has more than ${maxSpans} spans; send at most ${maxSpans} spans per request (e.g. a lower maxExportBatchSize).`);
}

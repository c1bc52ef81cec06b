/**
 * A decoded OTLP export (`otlp-decode.ts`, protobuf or JSON) → typed spans, checked one by one (SPEC R-6).
 *
 * Both encodings arrive with the OTLP/JSON field names; they differ only in ids (base64 text of the protobuf
 * bytes vs. hex text) and 64-bit integers (decimal strings, sometimes JSON numbers), handled here.
 * Attribute values (`AnyValue`) become plain JSON values: strings, booleans, numbers (an `intValue` beyond
 * ±2^53 stays a decimal string, never a rounded number), arrays, objects (`kvlistValue`), base64 text (`bytesValue`).
 *
 * A span that cannot be read (bad ids, missing start time, too large, malformed attributes) is reported as
 * rejected with the reason and its position; the others are kept. A request whose top level is malformed
 * (`resourceSpans` not an array) is refused as a whole (400).
 */
import { badInput, LatticeError } from '../errors.js';
import type { OtlpEncoding } from './otlp-decode.js';

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

/** Thrown inside one span's conversion; becomes a {@link SpanRejection}. */
class SpanError extends Error {}

const SPAN_KINDS = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
const STATUS_CODES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A list field: absent → [], else it must be an array. */
function list(v: unknown, what: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new SpanError(`${what} must be an array`);
  return v;
}

/** How ids arrive: hex text (OTLP/JSON) or base64 text (protobuf bytes, as `otlp-decode.ts` converts them). */
type IdText = 'hex' | 'base64';

/** An id of `bytes` bytes → lower-case hex; all-zero ids are invalid (OTLP). */
function readId(v: unknown, bytes: number, what: string, optional: boolean, text: IdText): string | null {
  if (v === undefined || v === null || v === '') {
    if (optional) return null;
    throw new SpanError(`${what} is missing`);
  }
  if (typeof v !== 'string') throw new SpanError(`${what} must be ${bytes * 2} hex digits`);
  let hex: string;
  if (text === 'base64') {
    const raw = Buffer.from(v, 'base64');
    if (raw.length !== bytes) throw new SpanError(`${what} has ${raw.length} bytes; it must have ${bytes}`);
    hex = raw.toString('hex');
  } else {
    if (!new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(v)) {
      throw new SpanError(`${what} "${v.slice(0, 40)}" must be ${bytes * 2} hex digits (OTLP/JSON writes ids as hex, not base64)`);
    }
    hex = v.toLowerCase();
  }
  if (/^0+$/.test(hex)) {
    if (optional) return null;
    throw new SpanError(`${what} is all zeros, which OTLP defines as invalid`);
  }
  return hex;
}

/** A fixed64 / uint64 timestamp: decimal string or JSON number → bigint (0n when absent). */
function readNanos(v: unknown, what: string): bigint {
  if (v === undefined || v === null || v === '') return 0n;
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw new SpanError(`${what} must be a non-negative integer of nanoseconds (a decimal string in OTLP/JSON)`);
}

/** An enum: its number, or its name (accepted from lenient OTLP/JSON writers). */
function readEnum(v: unknown, names: readonly string[], what: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string') {
    const i = names.indexOf(v);
    if (i >= 0) return i;
  }
  throw new SpanError(`${what} must be an enum number (e.g. ${names[1]} is 1)`);
}

/** A uint32 counter (0 when absent or malformed: these are informational). */
function readCount(v: unknown): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : 0;
}

/** Counts a span's size while its values are converted. */
class Budget {
  used = 0;
  constructor(private readonly max: number) {}
  add(n: number, where: () => string): void {
    this.used += n;
    if (this.used > this.max) {
      throw new SpanError(
        `the span is larger than ${this.max} characters of attributes and events (at ${where()}); shorten the value (e.g. truncate large prompts or completions) or send it in several spans`,
      );
    }
  }
}

/** An `AnyValue` → plain JSON value. Recursion is bounded by the decoders (protobuf 100 levels, JSON 128). */
function readValue(v: unknown, budget: Budget, where: () => string): AttrValue {
  if (!isObject(v)) return null; // an empty AnyValue: OTLP's "null"
  if (typeof v.stringValue === 'string') {
    budget.add(v.stringValue.length, where);
    return v.stringValue;
  }
  budget.add(8, where);
  if (typeof v.boolValue === 'boolean') return v.boolValue;
  if (v.intValue !== undefined) {
    const raw = v.intValue;
    if (typeof raw === 'number' && Number.isInteger(raw)) return raw;
    if (typeof raw === 'string' && /^-?\d{1,20}$/.test(raw)) {
      const n = Number(raw);
      return Number.isSafeInteger(n) ? n : raw;
    }
    throw new SpanError(`${where()}: intValue must be an integer (a decimal string in OTLP/JSON)`);
  }
  if (v.doubleValue !== undefined) {
    const raw = v.doubleValue;
    if (typeof raw === 'number') return Number.isFinite(raw) ? raw : String(raw);
    // OTLP/JSON writes NaN and ±Infinity as strings; JSON columns cannot hold them, so they stay text.
    if (typeof raw === 'string') return Number.isFinite(Number(raw)) && raw.trim() !== '' ? Number(raw) : raw;
    throw new SpanError(`${where()}: doubleValue must be a number`);
  }
  if (v.bytesValue !== undefined) {
    if (typeof v.bytesValue === 'string') {
      budget.add(v.bytesValue.length, where);
      return v.bytesValue;
    }
    throw new SpanError(`${where()}: bytesValue must be base64 text`);
  }
  if (v.arrayValue !== undefined) {
    const values = isObject(v.arrayValue) ? list(v.arrayValue.values, `${where()}.arrayValue.values`) : [];
    return values.map((x, i) => readValue(x, budget, () => `${where()}[${i}]`));
  }
  if (v.kvlistValue !== undefined) {
    const values = isObject(v.kvlistValue) ? list(v.kvlistValue.values, `${where()}.kvlistValue.values`) : [];
    return readAttributes(values, budget, where);
  }
  return null;
}

/** A `KeyValue` list → attributes. */
function readAttributes(kvs: unknown[], budget: Budget, where: () => string): Attributes {
  const out: Attributes = Object.create(null) as Attributes;
  kvs.forEach((kv, i) => {
    if (!isObject(kv) || typeof kv.key !== 'string') throw new SpanError(`${where()}[${i}] must be {key, value} (OTLP attributes are a list of KeyValue, not an object)`);
    const key = kv.key;
    budget.add(key.length, where);
    out[key] = readValue(kv.value, budget, () => `${where()}["${key.slice(0, 60)}"]`);
  });
  return { ...out };
}

/** Attributes of a resource or scope (not counted against a span; bounded by the body limit). */
function readSharedAttributes(v: unknown, what: string): Attributes {
  return readAttributes(list(v, what), new Budget(Number.POSITIVE_INFINITY), () => what);
}

/** One span. @throws SpanError */
function readSpan(
  s: unknown,
  resource: Attributes,
  scope: OtlpSpan['scope'],
  limits: SpanLimits,
  ids: IdText,
): OtlpSpan {
  if (!isObject(s)) throw new SpanError('the span must be an object');
  const traceId = readId(s.traceId, 16, 'traceId', false, ids)!;
  const spanId = readId(s.spanId, 8, 'spanId', false, ids)!;
  const parentSpanId = readId(s.parentSpanId, 8, 'parentSpanId', true, ids);
  const startNanos = readNanos(s.startTimeUnixNano, 'startTimeUnixNano');
  const endNanos = readNanos(s.endTimeUnixNano, 'endTimeUnixNano');
  if (startNanos === 0n && endNanos === 0n) throw new SpanError('startTimeUnixNano is missing');
  const budget = new Budget(limits.maxSpanChars);
  const name = typeof s.name === 'string' ? s.name : '';
  budget.add(name.length, () => 'name');
  const attributes = readAttributes(list(s.attributes, 'attributes'), budget, () => 'attributes');
  const events = list(s.events, 'events').map((e, i): OtlpEvent => {
    if (!isObject(e)) throw new SpanError(`events[${i}] must be an object`);
    const eventName = typeof e.name === 'string' ? e.name : '';
    budget.add(eventName.length, () => `events[${i}].name`);
    const dropped = readCount(e.droppedAttributesCount);
    return {
      name: eventName,
      timeNanos: readNanos(e.timeUnixNano, `events[${i}].timeUnixNano`),
      attributes: readAttributes(list(e.attributes, `events[${i}].attributes`), budget, () => `events[${i}].attributes`),
      ...(dropped ? { droppedAttributesCount: dropped } : {}),
    };
  });
  const links = list(s.links, 'links').map((l, i) => {
    if (!isObject(l)) throw new SpanError(`links[${i}] must be an object`);
    const link: Record<string, AttrValue> = {
      trace_id: readId(l.traceId, 16, `links[${i}].traceId`, false, ids),
      span_id: readId(l.spanId, 8, `links[${i}].spanId`, false, ids),
    };
    if (typeof l.traceState === 'string' && l.traceState) link.trace_state = l.traceState;
    const attrs = readAttributes(list(l.attributes, `links[${i}].attributes`), budget, () => `links[${i}].attributes`);
    if (Object.keys(attrs).length) link.attributes = attrs;
    return link;
  });
  const status = isObject(s.status) ? s.status : {};
  return {
    traceId,
    spanId,
    parentSpanId,
    name,
    kind: readEnum(s.kind, SPAN_KINDS, 'kind'),
    startNanos: startNanos || endNanos,
    endNanos,
    attributes,
    events,
    links,
    status: { code: readEnum(status.code, STATUS_CODES, 'status.code'), message: typeof status.message === 'string' ? status.message : '' },
    traceState: typeof s.traceState === 'string' ? s.traceState : '',
    flags: typeof s.flags === 'number' ? s.flags : 0,
    dropped: { attributes: readCount(s.droppedAttributesCount), events: readCount(s.droppedEventsCount), links: readCount(s.droppedLinksCount) },
    resource,
    scope,
  };
}

/** The spans of a request, and the ones that could not be read. */
export interface ReadSpans {
  readonly spans: OtlpSpan[];
  readonly rejected: SpanRejection[];
}

/**
 * Read every span of a decoded `ExportTraceServiceRequest`.
 * @param request the decoded request (`DecodedExport.request`)
 * @param encoding the request's encoding (ids are hex text in OTLP/JSON, base64 text from protobuf)
 * @param maxSpans most spans accepted in one export
 * @throws LatticeError BAD_USER_INPUT when the structure above the spans is malformed (e.g. `resourceSpans` or
 *         `scopeSpans` not an array, resource attributes not a KeyValue list); PAYLOAD_TOO_LARGE past `maxSpans`
 */
export function readSpans(request: Record<string, unknown>, encoding: OtlpEncoding, limits: SpanLimits = DEFAULT_SPAN_LIMITS, maxSpans = 10_000): ReadSpans {
  const ids: IdText = encoding === 'json' ? 'hex' : 'base64';
  const spans: OtlpSpan[] = [];
  const rejected: SpanRejection[] = [];
  const structure = <T>(fn: () => T, path: string): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof SpanError) throw badInput(`Invalid ExportTraceServiceRequest: ${path}: ${err.message}.`);
      throw err;
    }
  };
  const resourceSpans = structure(() => list(request.resourceSpans, 'resourceSpans'), 'resourceSpans');
  let count = 0;
  resourceSpans.forEach((rs, i) => {
    const at = `resourceSpans[${i}]`;
    if (!isObject(rs)) throw badInput(`Invalid ExportTraceServiceRequest: ${at} must be an object.`);
    const resource = structure(() => readSharedAttributes(isObject(rs.resource) ? rs.resource.attributes : undefined, 'resource.attributes'), at);
    const scopeSpans = structure(() => list(rs.scopeSpans, 'scopeSpans'), at);
    scopeSpans.forEach((ss, j) => {
      const sat = `${at}.scopeSpans[${j}]`;
      if (!isObject(ss)) throw badInput(`Invalid ExportTraceServiceRequest: ${sat} must be an object.`);
      const sc = isObject(ss.scope) ? ss.scope : {};
      const scope = {
        name: typeof sc.name === 'string' ? sc.name : '',
        version: typeof sc.version === 'string' ? sc.version : '',
        attributes: structure(() => readSharedAttributes(sc.attributes, 'scope.attributes'), sat),
      };
      const list_ = structure(() => list(ss.spans, 'spans'), sat);
      count += list_.length;
      if (count > maxSpans) {
        throw new LatticeError('PAYLOAD_TOO_LARGE', `The export has more than ${maxSpans} spans; send at most ${maxSpans} spans per request (e.g. a lower maxExportBatchSize).`);
      }
      list_.forEach((s, k) => {
        const path = `${sat}.spans[${k}]`;
        try {
          spans.push(readSpan(s, resource, scope, limits, ids));
        } catch (err) {
          if (!(err instanceof SpanError)) throw err;
          const rawId = isObject(s) ? s.spanId : undefined;
          const spanId = typeof rawId !== 'string' || rawId === '' ? undefined : ids === 'base64' ? Buffer.from(rawId, 'base64').toString('hex').slice(0, 32) : rawId.slice(0, 32);
          rejected.push({ path, ...(spanId ? { spanId } : {}), reason: err.message });
        }
      });
    });
  });
  return { spans, rejected };
}

/**
 * A decoded OTLP export (`otlp-decode.ts`) → typed spans, checked one by one (SPEC R-6). OTLP/JSON objects are
 * read here; decoded protobuf messages by `otlp-spans-proto.ts`, into the same shapes (`otlp-span-model.ts`)
 * with the same checks and messages.
 *
 * In OTLP/JSON, ids are hex text and 64-bit integers decimal strings (sometimes JSON numbers).
 * Attribute values (`AnyValue`) become plain JSON values: strings, booleans, numbers (an `intValue` beyond
 * ±2^53 stays a decimal string, never a rounded number), arrays, objects (`kvlistValue`), base64 text (`bytesValue`).
 *
 * A span that cannot be read (bad ids, missing start time, too large, malformed attributes) is reported as
 * rejected with the reason and its position; the others are kept. A request whose top level is malformed
 * (`resourceSpans` not an array) is refused as a whole (400).
 */
import { badInput } from '../errors.js';
import type { OtlpEncoding } from './otlp-decode.js';
import { Budget, DEFAULT_SPAN_LIMITS, SpanError, structure, tooManySpans, type AttrValue, type Attributes, type OtlpEvent, type OtlpSpan, type ReadSpans, type SpanLimits, type SpanRejection } from './otlp-span-model.js';
import { readProtobufSpans, type ExportTraceServiceRequest } from './otlp-spans-proto.js';

export { DEFAULT_SPAN_LIMITS } from './otlp-span-model.js';
export type { AttrValue, Attributes, OtlpEvent, OtlpSpan, ReadSpans, SpanLimits, SpanRejection } from './otlp-span-model.js';

const SPAN_KINDS = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
const STATUS_CODES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A list field: absent → [], else it must be an array. */
function list(v: unknown, what: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new SpanError(`${what} must be an array`);
  return v;
}

/** An id of `bytes` bytes → lower-case hex; all-zero ids are invalid (OTLP). */
function readId(v: unknown, bytes: number, what: string, optional: boolean): string | null {
  if (v === undefined || v === null || v === '') {
    if (optional) return null;
    throw new SpanError(`${what} is missing`);
  }
  if (typeof v !== 'string') throw new SpanError(`${what} must be ${bytes * 2} hex digits`);
  if (!new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(v)) {
    throw new SpanError(`${what} "${v.slice(0, 40)}" must be ${bytes * 2} hex digits (OTLP/JSON writes ids as hex, not base64)`);
  }
  const hex = v.toLowerCase();
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
): OtlpSpan {
  if (!isObject(s)) throw new SpanError('the span must be an object');
  const traceId = readId(s.traceId, 16, 'traceId', false)!;
  const spanId = readId(s.spanId, 8, 'spanId', false)!;
  const parentSpanId = readId(s.parentSpanId, 8, 'parentSpanId', true);
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
      trace_id: readId(l.traceId, 16, `links[${i}].traceId`, false),
      span_id: readId(l.spanId, 8, `links[${i}].spanId`, false),
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

/**
 * Read every span of a decoded `ExportTraceServiceRequest`.
 * @param request the decoded request (`DecodedExport.request`: OTLP/JSON objects, or the decoded protobuf message)
 * @param encoding the request's encoding (for `protobuf`, `request` must be the message `decodeExport` decoded)
 * @param maxSpans most spans accepted in one export
 * @throws LatticeError BAD_USER_INPUT when the structure above the spans is malformed (e.g. `resourceSpans` or
 *         `scopeSpans` not an array, resource attributes not a KeyValue list); PAYLOAD_TOO_LARGE past `maxSpans`
 */
export function readSpans(request: Record<string, unknown>, encoding: OtlpEncoding, limits: SpanLimits = DEFAULT_SPAN_LIMITS, maxSpans = 10_000): ReadSpans {
  if (encoding === 'protobuf') return readProtobufSpans(request as unknown as ExportTraceServiceRequest, limits, maxSpans);
  const spans: OtlpSpan[] = [];
  const rejected: SpanRejection[] = [];
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
        throw tooManySpans(maxSpans);
      }
      list_.forEach((s, k) => {
        const path = `${sat}.spans[${k}]`;
        try {
          spans.push(readSpan(s, resource, scope, limits));
        } catch (err) {
          if (!(err instanceof SpanError)) throw err;
          const rawId = isObject(s) ? s.spanId : undefined;
          const spanId = typeof rawId !== 'string' || rawId === '' ? undefined : rawId.slice(0, 32);
          rejected.push({ path, ...(spanId ? { spanId } : {}), reason: err.message });
        }
      });
    });
  });
  return { spans, rejected };
}

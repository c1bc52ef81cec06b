/**
 * A decoded protobuf `ExportTraceServiceRequest` (the protobufjs message objects of `otlp-decode.ts`, read as
 * they are, without `toObject` copies) → typed spans (SPEC R-6): the same spans, rejections and messages as
 * reading the message's OTLP/JSON form with `otlp-spans.ts` (ids as lower-case hex, `fixed64` times as exact
 * bigints, `int64` values as numbers within ±2^53 and decimal text beyond, `bytesValue` as base64 text).
 *
 * protobufjs (8) keeps a proto3 scalar as an own property only when it is not the default (an empty string,
 * 0, empty bytes) and every other one on the prototype; an `AnyValue` holds at most one own oneof member. A
 * field absent from the OTLP/JSON form is thus an empty string / empty bytes / 0 / null here.
 */
import protobuf from 'protobufjs';
import { Budget, setAttribute, SpanError, structure, tooManySpans, type AttrValue, type Attributes, type OtlpEvent, type OtlpSpan, type ReadSpans, type SpanLimits, type SpanRejection } from './otlp-span-model.js';

/** A protobufjs 64-bit integer (`long` installed), or a number (without it). */
export type PbLong = { readonly low: number; readonly high: number; readonly unsigned?: boolean } | number;

/** `opentelemetry.proto.common.v1.AnyValue` as protobufjs decodes it (fields named as in OTLP/JSON). */
export interface PbAnyValue {
  readonly stringValue: string;
  readonly boolValue: boolean;
  readonly intValue: PbLong;
  readonly doubleValue: number;
  readonly arrayValue: { readonly values: readonly PbAnyValue[] } | null;
  readonly kvlistValue: { readonly values: readonly PbKeyValue[] } | null;
  readonly bytesValue: Uint8Array;
}

/** `KeyValue`. */
export interface PbKeyValue {
  readonly key: string;
  readonly value: PbAnyValue | null;
}

interface PbEvent {
  readonly timeUnixNano: PbLong;
  readonly name: string;
  readonly attributes: readonly PbKeyValue[];
  readonly droppedAttributesCount: number;
}

interface PbLink {
  readonly traceId: Uint8Array;
  readonly spanId: Uint8Array;
  readonly traceState: string;
  readonly attributes: readonly PbKeyValue[];
}

interface PbSpan {
  readonly traceId: Uint8Array;
  readonly spanId: Uint8Array;
  readonly traceState: string;
  readonly parentSpanId: Uint8Array;
  readonly flags: number;
  readonly name: string;
  readonly kind: number;
  readonly startTimeUnixNano: PbLong;
  readonly endTimeUnixNano: PbLong;
  readonly attributes: readonly PbKeyValue[];
  readonly droppedAttributesCount: number;
  readonly events: readonly PbEvent[];
  readonly droppedEventsCount: number;
  readonly links: readonly PbLink[];
  readonly droppedLinksCount: number;
  readonly status: { readonly code: number; readonly message: string } | null;
}

/** `ExportTraceServiceRequest` as protobufjs decodes it. */
export interface ExportTraceServiceRequest {
  readonly resourceSpans: ReadonlyArray<{
    readonly resource: { readonly attributes: readonly PbKeyValue[] } | null;
    readonly scopeSpans: ReadonlyArray<{
      readonly scope: { readonly name: string; readonly version: string; readonly attributes: readonly PbKeyValue[] } | null;
      readonly spans: readonly PbSpan[];
    }>;
  }>;
}

const hasOwn = Object.prototype.hasOwnProperty;
const TWO_32 = 4294967296;

/** An id of `bytes` bytes → lower-case hex; empty is missing, all-zero ids are invalid (OTLP). */
function readId(v: Uint8Array, bytes: number, what: string, optional: boolean): string | null {
  if (v.length === 0) {
    if (optional) return null;
    throw new SpanError(`${what} is missing`);
  }
  if (v.length !== bytes) throw new SpanError(`${what} has ${v.length} bytes; it must have ${bytes}`);
  let zero = true;
  for (let i = 0; i < bytes; i++) {
    if (v[i] !== 0) {
      zero = false;
      break;
    }
  }
  if (zero) {
    if (optional) return null;
    throw new SpanError(`${what} is all zeros, which OTLP defines as invalid`);
  }
  return hex(v);
}

/** Bytes as lower-case hex. */
function hex(v: Uint8Array): string {
  return (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)).toString('hex');
}

/** An unsigned `fixed64` → bigint (0n when absent). */
function readNanos(v: PbLong, what: string): bigint {
  if (typeof v === 'number') {
    // Without `long`, protobufjs gives numbers; read them as their decimal text was read (OTLP/JSON rules).
    const text = String(v);
    if (/^\d{1,20}$/.test(text)) return BigInt(text);
    throw new SpanError(`${what} must be a non-negative integer of nanoseconds (a decimal string in OTLP/JSON)`);
  }
  if (v.high === 0) return BigInt(v.low >>> 0);
  return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
}

/** An `int64` attribute value: a number when safe, else its exact decimal text. */
function readInt(v: PbLong, where: () => string): number | string {
  if (typeof v === 'number') {
    const text = String(v);
    if (!/^-?\d{1,20}$/.test(text)) throw new SpanError(`${where()}: intValue must be an integer (a decimal string in OTLP/JSON)`);
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : text;
  }
  // high * 2^32 is exact; the sum is exact whenever the value is a safe integer, and unsafe otherwise.
  const n = v.high * TWO_32 + (v.low >>> 0);
  return Number.isSafeInteger(n) ? n : BigInt.asIntN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0)).toString();
}

/** Where a value is, for messages: `base` (a list's place) and the attribute key, built only when needed. */
function placeOf(base: string, key: string | null): string {
  return key === null ? base : `${base}["${key.slice(0, 60)}"]`;
}

/**
 * An `AnyValue` → plain JSON value, counted against `budget`.
 * @param base the place of the attribute list (or of the array) holding the value
 * @param key the attribute's key, or null when `base` is already the value's place (array elements)
 */
function readValue(v: PbAnyValue | null, budget: Budget, base: string, key: string | null): AttrValue {
  if (v === null) return null; // a KeyValue without a value: OTLP's "null"
  if (hasOwn.call(v, 'stringValue')) {
    budget.used += v.stringValue.length;
    if (budget.used > budget.max) budget.fail(placeOf(base, key));
    return v.stringValue;
  }
  budget.used += 8;
  if (budget.used > budget.max) budget.fail(placeOf(base, key));
  if (hasOwn.call(v, 'boolValue')) return v.boolValue;
  if (hasOwn.call(v, 'intValue')) return readInt(v.intValue, () => placeOf(base, key));
  if (hasOwn.call(v, 'doubleValue')) return Number.isFinite(v.doubleValue) ? v.doubleValue : String(v.doubleValue);
  if (hasOwn.call(v, 'bytesValue')) {
    const text = protobuf.util.base64.encode(v.bytesValue, 0, v.bytesValue.length);
    budget.used += text.length;
    if (budget.used > budget.max) budget.fail(placeOf(base, key));
    return text;
  }
  if (v.arrayValue !== null && hasOwn.call(v, 'arrayValue')) {
    const where = placeOf(base, key);
    const values = v.arrayValue.values;
    const out: AttrValue[] = new Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = readValue(values[i], budget, `${where}[${i}]`, null);
    return out;
  }
  if (v.kvlistValue !== null && hasOwn.call(v, 'kvlistValue')) return readKeyValues(v.kvlistValue.values, budget, placeOf(base, key));
  return null;
}

/** A `KeyValue` list → attributes; `where` is the list's place. */
function readKeyValues(kvs: readonly PbKeyValue[], budget: Budget, where: string): Attributes {
  const out: Attributes = {};
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i];
    const key = kv.key;
    // An empty key is not on the message at all (proto3 default): the OTLP/JSON form has no `key`.
    if (key === '') throw new SpanError(`${where}[${i}] must be {key, value} (OTLP attributes are a list of KeyValue, not an object)`);
    budget.used += key.length;
    if (budget.used > budget.max) budget.fail(where);
    setAttribute(out, key, readValue(kv.value, budget, where, key));
  }
  return out;
}

/** Attributes of a resource or scope (not counted against a span; bounded by the body limit). */
function readSharedAttributes(kvs: readonly PbKeyValue[] | undefined, what: string): Attributes {
  return kvs === undefined ? {} : readKeyValues(kvs, new Budget(Number.POSITIVE_INFINITY), what);
}

/** A uint32 counter. */
const count = (v: number): number => (Number.isInteger(v) && v >= 0 ? v : 0);

/** One span. @throws SpanError */
function readSpan(s: PbSpan, resource: Attributes, scope: OtlpSpan['scope'], limits: SpanLimits): OtlpSpan {
  const traceId = readId(s.traceId, 16, 'traceId', false)!;
  const spanId = readId(s.spanId, 8, 'spanId', false)!;
  const parentSpanId = readId(s.parentSpanId, 8, 'parentSpanId', true);
  const startNanos = readNanos(s.startTimeUnixNano, 'startTimeUnixNano');
  const endNanos = readNanos(s.endTimeUnixNano, 'endTimeUnixNano');
  if (startNanos === 0n && endNanos === 0n) throw new SpanError('startTimeUnixNano is missing');
  const budget = new Budget(limits.maxSpanChars);
  const name = s.name;
  budget.used += name.length;
  if (budget.used > budget.max) budget.fail('name');
  const attributes = readKeyValues(s.attributes, budget, 'attributes');
  const events: OtlpEvent[] = s.events.length ? new Array(s.events.length) : [];
  for (let i = 0; i < s.events.length; i++) {
    const e = s.events[i];
    budget.used += e.name.length;
    if (budget.used > budget.max) budget.fail(`events[${i}].name`);
    const dropped = count(e.droppedAttributesCount);
    const event = {
      name: e.name,
      timeNanos: readNanos(e.timeUnixNano, `events[${i}].timeUnixNano`),
      attributes: e.attributes.length ? readKeyValues(e.attributes, budget, `events[${i}].attributes`) : {},
    };
    events[i] = dropped ? { ...event, droppedAttributesCount: dropped } : event;
  }
  const links: Record<string, AttrValue>[] = s.links.length ? new Array(s.links.length) : [];
  for (let i = 0; i < s.links.length; i++) {
    const l = s.links[i];
    const link: Record<string, AttrValue> = {
      trace_id: readId(l.traceId, 16, `links[${i}].traceId`, false),
      span_id: readId(l.spanId, 8, `links[${i}].spanId`, false),
    };
    if (l.traceState) link.trace_state = l.traceState;
    if (l.attributes.length) {
      const attrs = readKeyValues(l.attributes, budget, `links[${i}].attributes`);
      if (Object.keys(attrs).length) link.attributes = attrs;
    }
    links[i] = link;
  }
  const status = s.status;
  return {
    traceId,
    spanId,
    parentSpanId,
    name,
    kind: s.kind,
    startNanos: startNanos || endNanos,
    endNanos,
    attributes,
    events,
    links,
    status: status === null ? { code: 0, message: '' } : { code: status.code, message: status.message },
    traceState: s.traceState,
    flags: s.flags,
    dropped: { attributes: count(s.droppedAttributesCount), events: count(s.droppedEventsCount), links: count(s.droppedLinksCount) },
    resource,
    scope,
  };
}

/** The span id of a span that could not be read, for its rejection (at most 32 hex digits), if it has one. */
function rejectedSpanId(s: PbSpan): string | undefined {
  return s.spanId.length ? hex(s.spanId).slice(0, 32) : undefined;
}

/**
 * Read every span of a decoded protobuf `ExportTraceServiceRequest` (see `readSpans` in `otlp-spans.ts`).
 * @throws LatticeError BAD_USER_INPUT for a resource or scope attribute without a key; PAYLOAD_TOO_LARGE past
 *         `maxSpans`
 */
export function readProtobufSpans(request: ExportTraceServiceRequest, limits: SpanLimits, maxSpans: number): ReadSpans {
  const spans: OtlpSpan[] = [];
  const rejected: SpanRejection[] = [];
  let total = 0;
  const resourceSpans = request.resourceSpans;
  for (let i = 0; i < resourceSpans.length; i++) {
    const rs = resourceSpans[i];
    const at = `resourceSpans[${i}]`;
    const resource = structure(() => readSharedAttributes(rs.resource?.attributes, 'resource.attributes'), at);
    for (let j = 0; j < rs.scopeSpans.length; j++) {
      const ss = rs.scopeSpans[j];
      const sat = `${at}.scopeSpans[${j}]`;
      const sc = ss.scope;
      const scope = {
        name: sc === null ? '' : sc.name,
        version: sc === null ? '' : sc.version,
        attributes: structure(() => readSharedAttributes(sc?.attributes, 'scope.attributes'), sat),
      };
      total += ss.spans.length;
      if (total > maxSpans) throw tooManySpans(maxSpans);
      for (let k = 0; k < ss.spans.length; k++) {
        const s = ss.spans[k];
        try {
          spans.push(readSpan(s, resource, scope, limits));
        } catch (err) {
          if (!(err instanceof SpanError)) throw err;
          const spanId = rejectedSpanId(s);
          rejected.push({ path: `${sat}.spans[${k}]`, ...(spanId ? { spanId } : {}), reason: err.message });
        }
      }
    }
  }
  return { spans, rejected };
}

/**
 * Decoded protobuf exports are read from the protobufjs messages directly (`otlp-spans-proto.ts`), without an
 * OTLP/JSON copy: the spans and rejections must be exactly those of the same export sent as OTLP/JSON, and the
 * records mapped from them the same. No database.
 */
import { describe, expect, it } from 'vitest';
import { decodeExport, encodeExportRequest } from '../../src/traces/otlp-decode.js';
import { mapSpan, nanosToIso } from '../../src/traces/otlp-map.js';
import { readSpans } from '../../src/traces/otlp-spans.js';

const TRACE = '5b8efff798038103d269b633813fc60c';
const kv = (key: string, value: Record<string, unknown>) => ({ key, value });
const s = (v: string) => ({ stringValue: v });

/** Every kind of value and span field, in both encodings' terms (ids hex, int64 as decimal text). */
const rich = {
  resourceSpans: [
    {
      resource: { attributes: [kv('service.name', s('svc')), kv('langfuse.environment', s('prod'))] },
      scopeSpans: [
        {
          scope: { name: 'lib', version: '2', attributes: [kv('k', { intValue: '7' })] },
          spans: [
            {
              traceId: TRACE,
              spanId: 'eee19b7ec3c1b174',
              parentSpanId: 'eee19b7ec3c1b173',
              name: 'chat',
              kind: 3,
              startTimeUnixNano: '1700000000123456789',
              endTimeUnixNano: '18446744073709551615',
              attributes: [
                kv('int.min', { intValue: '-9223372036854775808' }),
                kv('int.max', { intValue: '9223372036854775807' }),
                kv('int.neg', { intValue: '-4294967297' }),
                kv('int.safe', { intValue: '9007199254740991' }),
                kv('int.unsafe', { intValue: '-9007199254740993' }),
                kv('__proto__', s('kept as a key')),
                kv('dup', s('first')),
                kv('dup', s('second')),
                kv('bytes', { bytesValue: '/w==' }),
                kv('nested', { arrayValue: { values: [{ kvlistValue: { values: [kv('a', { arrayValue: {} }), kv('b', {})] } }, { doubleValue: 2.5 }] } }),
                { key: 'no.value' },
                kv('gen_ai.request.model', s('gpt')),
                kv('gen_ai.usage.input_tokens', { intValue: '12' }),
              ],
              droppedAttributesCount: 1,
              events: [
                { name: 'exception', timeUnixNano: '1700000000200000000', attributes: [kv('exception.type', s('E')), kv('exception.message', s('m'))], droppedAttributesCount: 2 },
                { name: 'empty' },
              ],
              droppedEventsCount: 3,
              links: [{ traceId: TRACE, spanId: 'eee19b7ec3c1b171', traceState: 'a=b', attributes: [kv('l', { boolValue: true })] }, { traceId: TRACE, spanId: 'eee19b7ec3c1b172' }],
              droppedLinksCount: 4,
              status: { code: 2, message: 'failed' },
              traceState: 'k=v',
              flags: 257,
            },
            { traceId: TRACE, spanId: 'eee19b7ec3c1b175', name: 'only-end', endTimeUnixNano: '1700000000000000001' },
          ],
        },
      ],
    },
  ],
};

const fromJson = (request: unknown) => readSpans(decodeExport(Buffer.from(JSON.stringify(request)), 'json').request, 'json');
const fromProto = (request: Record<string, unknown>, maxSpanChars?: number) =>
  readSpans(decodeExport(encodeExportRequest(request), 'protobuf').request, 'protobuf', maxSpanChars ? { maxSpanChars } : undefined);

describe('reading decoded protobuf messages directly', () => {
  it('gives the spans and records of the same export in OTLP/JSON', () => {
    const json = fromJson(rich);
    const proto = fromProto(rich);
    expect(proto).toEqual(json);
    expect(proto.spans.map(mapSpan)).toEqual(json.spans.map(mapSpan));
    const [span] = proto.spans;
    expect(span.endNanos).toBe(18446744073709551615n);
    expect(span.attributes).toMatchObject({ 'int.min': '-9223372036854775808', 'int.max': '9223372036854775807', 'int.neg': -4294967297, 'int.safe': 9007199254740991, 'int.unsafe': '-9007199254740993', dup: 'second', bytes: '/w==', 'no.value': null });
    expect(Object.keys(span.attributes)).toContain('__proto__');
    expect(Object.getPrototypeOf(span.attributes)).toBe(Object.prototype);
    expect(span.attributes.nested).toEqual([{ a: [], b: null }, 2.5]);
  });

  it('rejects spans with ids of the wrong length, all-zero or missing ids, and counts the span size budget alike', () => {
    const spans = [
      { traceId: 'abcd', spanId: 'eee19b7ec3c1b174', startTimeUnixNano: '1' },
      { traceId: TRACE, spanId: '0000000000000000', startTimeUnixNano: '1' },
      { traceId: TRACE, startTimeUnixNano: '1' },
      { traceId: TRACE, spanId: 'eee19b7ec3c1b174', links: [{ traceId: TRACE, spanId: 'ab' }], startTimeUnixNano: '1' },
      { traceId: TRACE, spanId: 'eee19b7ec3c1b176', attributes: [kv('big', { arrayValue: { values: [s('x'.repeat(50))] } })], startTimeUnixNano: '1' },
      { traceId: TRACE, spanId: 'eee19b7ec3c1b177', attributes: [kv('', s('no key'))], startTimeUnixNano: '1' },
    ];
    const { rejected } = fromProto({ resourceSpans: [{ scopeSpans: [{ spans }] }] }, 40);
    expect(rejected).toEqual([
      { path: 'resourceSpans[0].scopeSpans[0].spans[0]', spanId: 'eee19b7ec3c1b174', reason: 'traceId has 2 bytes; it must have 16' },
      { path: 'resourceSpans[0].scopeSpans[0].spans[1]', spanId: '0000000000000000', reason: 'spanId is all zeros, which OTLP defines as invalid' },
      { path: 'resourceSpans[0].scopeSpans[0].spans[2]', reason: 'spanId is missing' },
      { path: 'resourceSpans[0].scopeSpans[0].spans[3]', spanId: 'eee19b7ec3c1b174', reason: 'links[0].spanId has 1 bytes; it must have 8' },
      {
        path: 'resourceSpans[0].scopeSpans[0].spans[4]',
        spanId: 'eee19b7ec3c1b176',
        reason: expect.stringMatching(/^the span is larger than 40 characters of attributes and events \(at attributes\["big"\]\[0\]\)/),
      },
      { path: 'resourceSpans[0].scopeSpans[0].spans[5]', spanId: 'eee19b7ec3c1b177', reason: 'attributes[0] must be {key, value} (OTLP attributes are a list of KeyValue, not an object)' },
    ]);
  });

  it('refuses a resource attribute without a key as a whole, as for OTLP/JSON', () => {
    const request = { resourceSpans: [{ resource: { attributes: [kv('', s('x'))] }, scopeSpans: [] }] };
    expect(() => fromProto(request)).toThrow('Invalid ExportTraceServiceRequest: resourceSpans[0]: resource.attributes[0] must be {key, value}');
  });
});

describe('nanosToIso', () => {
  it('writes each time exactly when consecutive times change second, minute or year', () => {
    const times = [1700000000999999999n, 1700000001000000000n, 1700000000000000001n, 1735689599999999000n, 1735689600000001000n, 0n];
    expect(times.map(nanosToIso)).toEqual([
      '2023-11-14T22:13:20.999999Z',
      '2023-11-14T22:13:21.000000Z',
      '2023-11-14T22:13:20.000000Z',
      '2024-12-31T23:59:59.999999Z',
      '2025-01-01T00:00:00.000001Z',
      '1970-01-01T00:00:00.000000Z',
    ]);
  });
});

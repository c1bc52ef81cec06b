/**
 * Reading OTLP spans and mapping them to trace and observation records (SPEC R-6), without a database:
 * both encodings read alike, attribute values keep their types, and Langfuse's and the GenAI conventions'
 * attributes land in the right fields while everything else stays in metadata.
 */
import { describe, expect, it } from 'vitest';
import { decodeExport, encodeExportRequest } from '../../src/traces/otlp-decode.js';
import { unflatten } from '../../src/traces/otlp-io.js';
import { mapSpan, nanosToIso } from '../../src/traces/otlp-map.js';
import { readSpans, type OtlpSpan } from '../../src/traces/otlp-spans.js';

const TRACE = '5b8efff798038103d269b633813fc60c';
const SPAN = 'eee19b7ec3c1b174';
const PARENT = 'eee19b7ec3c1b173';

type AnyValue = Record<string, unknown>;
const kv = (key: string, value: AnyValue) => ({ key, value });
const s = (v: string) => ({ stringValue: v });

/** A span read from an OTLP/JSON request with these attributes (and extra span fields). */
function read(attributes: Array<{ key: string; value: AnyValue }>, extra: Record<string, unknown> = {}): OtlpSpan {
  const request = {
    resourceSpans: [
      {
        resource: { attributes: [kv('service.name', s('svc')), kv('service.version', s('3.1.0'))] },
        scopeSpans: [{ scope: { name: 'scope-x', version: '1' }, spans: [{ traceId: TRACE, spanId: SPAN, name: 'op', startTimeUnixNano: '1000000000000123456', endTimeUnixNano: '1000000002000000000', attributes, ...extra }] }],
      },
    ],
  };
  const { spans, rejected } = readSpans(request, 'json');
  expect(rejected).toEqual([]);
  return spans[0];
}

describe('reading OTLP spans', () => {
  const request = {
    resourceSpans: [
      {
        resource: { attributes: [kv('service.name', s('svc'))] },
        scopeSpans: [
          {
            scope: { name: 'lib', version: '2.0', attributes: [kv('scope.attr', { boolValue: true })] },
            spans: [
              {
                traceId: TRACE,
                spanId: SPAN,
                parentSpanId: PARENT,
                name: 'op',
                kind: 3,
                startTimeUnixNano: '1700000000123456789',
                endTimeUnixNano: '1700000000223456789',
                attributes: [
                  kv('int.small', { intValue: '42' }),
                  kv('int.huge', { intValue: '9007199254740993' }),
                  kv('double', { doubleValue: 0.5 }),
                  kv('bool', { boolValue: false }),
                  kv('bytes', { bytesValue: 'AAEC' }),
                  kv('list', { arrayValue: { values: [s('a'), { intValue: '1' }] } }),
                  kv('map', { kvlistValue: { values: [kv('nested', s('x'))] } }),
                  kv('empty', {}),
                ],
                events: [{ name: 'e', timeUnixNano: '1700000000173456789', attributes: [kv('k', s('v'))] }],
                links: [{ traceId: TRACE, spanId: PARENT, attributes: [kv('l', s('1'))] }],
                status: { code: 2, message: 'bad' },
                droppedAttributesCount: 3,
              },
            ],
          },
        ],
      },
    ],
  };

  it('reads protobuf and OTLP/JSON alike: hex ids, int64 as numbers (as text beyond 2^53), nested values, base64 bytes', () => {
    const fromJson = readSpans(decodeExport(Buffer.from(JSON.stringify(request)), 'json').request, 'json');
    const fromProto = readSpans(decodeExport(encodeExportRequest(request), 'protobuf').request, 'protobuf');
    expect(fromProto).toEqual(fromJson);
    const [span] = fromJson.spans;
    expect(span).toMatchObject({
      traceId: TRACE,
      spanId: SPAN,
      parentSpanId: PARENT,
      kind: 3,
      startNanos: 1700000000123456789n,
      status: { code: 2, message: 'bad' },
      dropped: { attributes: 3, events: 0, links: 0 },
      resource: { 'service.name': 'svc' },
      scope: { name: 'lib', version: '2.0', attributes: { 'scope.attr': true } },
      links: [{ trace_id: TRACE, span_id: PARENT, attributes: { l: '1' } }],
      events: [{ name: 'e', timeNanos: 1700000000173456789n, attributes: { k: 'v' } }],
    });
    expect(span.attributes).toEqual({
      'int.small': 42,
      'int.huge': '9007199254740993',
      double: 0.5,
      bool: false,
      bytes: 'AAEC',
      list: ['a', 1],
      map: { nested: 'x' },
      empty: null,
    });
  });

  it('accepts enum names and JSON numbers from lenient OTLP/JSON writers; keeps NaN as text', () => {
    const span = read([kv('d', { doubleValue: 'NaN' })], { kind: 'SPAN_KIND_SERVER', status: { code: 'STATUS_CODE_ERROR' }, startTimeUnixNano: 1_000_000 });
    expect(span).toMatchObject({ kind: 2, status: { code: 2 }, startNanos: 1_000_000n, attributes: { d: 'NaN' } });
  });

  it('writes nanoseconds as ISO-8601 with microseconds', () => {
    expect(nanosToIso(1700000000123456789n)).toBe('2023-11-14T22:13:20.123456Z');
    expect(nanosToIso(1n)).toBe('1970-01-01T00:00:00.000000Z');
  });
});

describe('mapping spans to records', () => {
  it('takes the type from langfuse.observation.type, then OpenInference, gen_ai.operation.name, gen_ai.tool.*, a model; else SPAN', () => {
    const type = (attrs: Array<{ key: string; value: AnyValue }>) => mapSpan(read(attrs)).observations[0].type;
    expect(type([kv('langfuse.observation.type', s('agent')), kv('gen_ai.operation.name', s('chat'))])).toBe('AGENT');
    expect(type([kv('openinference.span.kind', s('RETRIEVER')), kv('gen_ai.request.model', s('m'))])).toBe('RETRIEVER');
    expect(type([kv('gen_ai.operation.name', s('embeddings')), kv('gen_ai.request.model', s('m'))])).toBe('EMBEDDING');
    expect(type([kv('gen_ai.operation.name', s('execute_tool'))])).toBe('TOOL');
    expect(type([kv('gen_ai.tool.name', s('search'))])).toBe('TOOL');
    expect(type([kv('gen_ai.response.model', s('m'))])).toBe('GENERATION');
    expect(type([kv('http.method', s('GET'))])).toBe('SPAN');
    // An unknown Langfuse type falls through and is kept as an attribute.
    const unknown = mapSpan(read([kv('langfuse.observation.type', s('quantum'))])).observations[0];
    expect(unknown.type).toBe('SPAN');
    expect(unknown.metadata).toMatchObject({ attributes: { 'langfuse.observation.type': 'quantum' } });
  });

  it('reads Langfuse usage and cost details as the batch API does (OpenAI usage objects split into kinds)', () => {
    const o = mapSpan(
      read([
        kv('langfuse.observation.type', s('generation')),
        kv('langfuse.observation.usage_details', s(JSON.stringify({ prompt_tokens: 100, completion_tokens: 20, total_tokens: 120, prompt_tokens_details: { cached_tokens: 30 } }))),
        kv('langfuse.observation.cost_details', s(JSON.stringify({ input: 0.001, output: 0.002 }))),
      ]),
    ).observations[0];
    expect(o).toMatchObject({
      inputTokens: 70,
      outputTokens: 20,
      totalTokens: 120,
      usageDetails: { input: 70, input_cached_tokens: 30, output: 20, total: 120 },
      inputCost: 0.001,
      outputCost: 0.002,
      costDetails: { input: 0.001, output: 0.002, total: 0.003 },
    });
    expect(o.metadata).not.toHaveProperty('attributes');
    // Values that are not counts are not lost: the attribute stays in metadata too.
    const odd = mapSpan(read([kv('langfuse.observation.usage_details', s('{"input":5,"note":"estimated"}'))])).observations[0];
    expect(odd).toMatchObject({ inputTokens: 5, totalTokens: 5 });
    expect(odd.metadata).toMatchObject({ attributes: { 'langfuse.observation.usage_details': '{"input":5,"note":"estimated"}' } });
  });

  it('reads GenAI usage: input + output is the total when none is given; cost from gen_ai.usage.cost', () => {
    const o = mapSpan(read([kv('gen_ai.usage.input_tokens', { intValue: '7' }), kv('gen_ai.usage.output_tokens', { intValue: '5' }), kv('gen_ai.usage.cache_read.input_tokens', { intValue: '2' }), kv('gen_ai.usage.cost', { doubleValue: 0.25 })])).observations[0];
    expect(o).toMatchObject({ inputTokens: 7, outputTokens: 5, totalTokens: 12, usageDetails: { input_tokens: 7, output_tokens: 5, 'cache_read.input_tokens': 2 }, totalCost: 0.25 });
  });

  it('takes input and output from GenAI message events, which then are not EVENT observations; other events are', () => {
    const span = read([kv('gen_ai.request.model', s('m'))], {
      events: [
        { name: 'gen_ai.system.message', timeUnixNano: '1000000000100000000', attributes: [kv('content', s('Be kind'))] },
        { name: 'gen_ai.user.message', timeUnixNano: '1000000000100000000', attributes: [kv('content', s('Hi'))] },
        { name: 'gen_ai.choice', timeUnixNano: '1000000000200000000', attributes: [kv('index', { intValue: '0' }), kv('message', s('{"role":"assistant","content":"Hello"}'))] },
        { name: 'cache.lookup', timeUnixNano: '1000000000150000000', attributes: [kv('hit', { boolValue: false })] },
      ],
    });
    const [o, ...events] = mapSpan(span).observations;
    expect(o.input).toEqual([
      { role: 'system', content: 'Be kind' },
      { role: 'user', content: 'Hi' },
    ]);
    expect(o.output).toEqual({ index: 0, message: { role: 'assistant', content: 'Hello' } });
    expect(events).toEqual([
      expect.objectContaining({ id: `${SPAN}-event-3`, type: 'EVENT', name: 'cache.lookup', parentObservationId: SPAN, traceId: TRACE, startTime: '2001-09-09T01:46:40.150000Z', metadata: { attributes: { hit: false }, otel: { span_id: SPAN, event_index: 3 } } }),
    ]);
  });

  it('takes input and output from the GenAI operation-details event, tool call arguments, OpenInference and flattened prompts', () => {
    const io = (attrs: Array<{ key: string; value: AnyValue }>, extra: Record<string, unknown> = {}) => {
      const [o] = mapSpan(read(attrs, extra)).observations;
      return { input: o.input, output: o.output };
    };
    expect(
      io([], { events: [{ name: 'gen_ai.client.inference.operation.details', timeUnixNano: '1000000000100000000', attributes: [kv('gen_ai.input.messages', s('[{"role":"user"}]')), kv('gen_ai.output.messages', s('[{"role":"assistant"}]'))] }] }),
    ).toEqual({ input: [{ role: 'user' }], output: [{ role: 'assistant' }] });
    expect(io([kv('gen_ai.tool.call.arguments', s('{"q":"x"}')), kv('gen_ai.tool.call.result', s('found'))])).toEqual({ input: { q: 'x' }, output: 'found' });
    expect(io([kv('input.value', s('question')), kv('output.value', s('answer'))])).toEqual({ input: 'question', output: 'answer' });
    expect(io([kv('gen_ai.prompt.0.role', s('user')), kv('gen_ai.prompt.0.content', s('Hi')), kv('gen_ai.prompt.1.role', s('user'))])).toEqual({
      input: [{ role: 'user', content: 'Hi' }, { role: 'user' }],
      output: null,
    });
    // Langfuse's own attributes win over the others.
    expect(io([kv('langfuse.observation.input', s('"quoted"')), kv('input.value', s('other'))])).toEqual({ input: '"quoted"', output: null });
  });

  it('rebuilds flattened attributes without sparse lists or prototype keys', () => {
    expect(unflatten([['5.role', 'user']])).toEqual({ 5: { role: 'user' } });
    const polluted = unflatten([['__proto__.polluted', 'yes']]) as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(polluted)).toEqual(['__proto__']);
  });

  it('sets trace fields from any span, and from a root span its name, input, output, version and resource', () => {
    const root = mapSpan(
      read([
        kv('langfuse.observation.input', s('{"q":1}')),
        kv('user.id', s('u-9')),
        kv('langfuse.session.id', s('s-9')),
        kv('langfuse.trace.tags', { arrayValue: { values: [s('x'), s('y')] } }),
        kv('langfuse.trace.metadata.team', s('search')),
        kv('langfuse.trace.public', { boolValue: true }),
      ]),
    );
    expect(root.trace).toEqual({
      kind: 'trace',
      id: TRACE,
      timestamp: '2001-09-09T01:46:40.000123Z',
      name: 'op',
      userId: 'u-9',
      sessionId: 's-9',
      tags: ['x', 'y'],
      public: true,
      input: { q: 1 },
      version: '3.1.0',
      metadata: { team: 'search', resourceAttributes: { 'service.name': 'svc', 'service.version': '3.1.0' } },
    });
    // A child sets only what it carries explicitly.
    const child = mapSpan(read([kv('langfuse.observation.input', s('{"q":2}'))], { parentSpanId: PARENT }));
    expect(child.trace).toEqual({ kind: 'trace', id: TRACE, timestamp: '2001-09-09T01:46:40.000123Z' });
    // langfuse.internal.as_root makes a child the trace's root.
    const asRoot = mapSpan(read([kv('langfuse.internal.as_root', { boolValue: true }), kv('langfuse.trace.name', s('named'))], { parentSpanId: PARENT }));
    expect(asRoot.trace).toMatchObject({ name: 'named', version: '3.1.0' });
  });

  it('keeps user metadata at the top level and every unmapped attribute, resource, scope and span detail in metadata', () => {
    const [o] = mapSpan(
      read(
        [
          kv('langfuse.observation.metadata.customer', s('acme')),
          kv('langfuse.observation.metadata', s('{"plan":"pro"}')),
          kv('langfuse.observation.level', s('warning')),
          kv('langfuse.observation.prompt.name', s('greeting')),
          kv('langfuse.observation.prompt.version', { intValue: '3' }),
          kv('http.route', s('/ask')),
        ],
        { parentSpanId: PARENT, kind: 2, status: { code: 2, message: 'upstream failed' }, traceState: 'a=b', links: [{ traceId: TRACE, spanId: PARENT }] },
      ),
    ).observations;
    expect(o).toMatchObject({ level: 'WARNING', statusMessage: 'upstream failed', promptName: 'greeting', promptVersion: 3, version: '3.1.0', startTime: '2001-09-09T01:46:40.000123Z' });
    expect(o.metadata).toEqual({
      customer: 'acme',
      plan: 'pro',
      attributes: { 'langfuse.observation.prompt.name': 'greeting', 'langfuse.observation.prompt.version': 3, 'http.route': '/ask' },
      resourceAttributes: { 'service.name': 'svc', 'service.version': '3.1.0' },
      scope: { name: 'scope-x', version: '1' },
      otel: { trace_id: TRACE, span_id: SPAN, parent_span_id: PARENT, kind: 'server', status_code: 'error', trace_state: 'a=b', links: [{ trace_id: TRACE, span_id: PARENT }] },
    });
    // Without an explicit level, an error status is ERROR.
    expect(mapSpan(read([], { status: { code: 2 } })).observations[0].level).toBe('ERROR');
  });

  it('keeps attributes and metadata keys named __proto__ as own keys, never as the prototype', () => {
    const [o] = mapSpan(
      read([
        kv('__proto__', s('unknown attribute')),
        kv('langfuse.observation.metadata.__proto__', s('{"a":1}')),
        kv('langfuse.trace.metadata', s('{"__proto__":{"b":2},"c":3}')),
      ]),
    ).observations;
    const metadata = o.metadata as Record<string, unknown>;
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.keys(metadata)).toContain('__proto__');
    expect(Object.getOwnPropertyDescriptor(metadata, '__proto__')?.value).toEqual({ a: 1 });
    const attributes = metadata.attributes as Record<string, unknown>;
    expect(Object.getOwnPropertyDescriptor(attributes, '__proto__')?.value).toBe('unknown attribute');
    expect(JSON.parse(JSON.stringify(metadata))).toMatchObject({ __proto__: { a: 1 }, attributes: { __proto__: 'unknown attribute' } });
    const trace = mapSpan(read([kv('langfuse.trace.metadata', s('{"__proto__":{"b":2},"c":3}'))])).trace as { metadata?: Record<string, unknown> };
    expect(Object.getOwnPropertyDescriptor(trace.metadata, '__proto__')?.value).toEqual({ b: 2 });
    expect(trace.metadata?.c).toBe(3);
  });

  it('turns an exception event into an ERROR event observation with the exception as its status message', () => {
    const [, event] = mapSpan(
      read([], { events: [{ name: 'exception', timeUnixNano: '1000000001000000000', attributes: [kv('exception.type', s('TypeError')), kv('exception.message', s('x is undefined'))] }] }),
    ).observations;
    expect(event).toMatchObject({ type: 'EVENT', level: 'ERROR', statusMessage: 'TypeError: x is undefined', name: 'exception' });
  });
});

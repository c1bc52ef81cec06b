/**
 * OpenTelemetry tracing and per-request context (SPEC G-15, R-4; issue 7 item 5).
 *
 * - **Configuration** by the standard `OTEL_*` environment variables (`telemetryFromEnv`): tracing is on when
 *   `OTEL_TRACES_EXPORTER` names `otlp` (OTLP/HTTP protobuf, `@opentelemetry/exporter-trace-otlp-proto`, which
 *   reads `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`, `_HEADERS`, `_TIMEOUT`, `_COMPRESSION`) or `console`, or when it
 *   is unset and an OTLP endpoint variable is set. `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turns
 *   it off. The SDK itself reads `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_BSP_*` and span limits; the resource reads
 *   `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` (service name `lattice` by default).
 * - **Off** (no exporter): no tracer, no span objects; the request hook only sets up the request context.
 * - The tracer provider is **not** registered globally: Lattice's spans never mix with an application's own
 *   OpenTelemetry SDK in the same process (e.g. tests or the demo exporting to Lattice's OTLP route). Parents are
 *   carried in Lattice's own request context ({@link requestContext}), not the global context manager.
 * - **Spans**: one SERVER span per HTTP request (`{method} {route}`; `http.request.method`, `http.route`,
 *   `url.path`, `http.response.status_code`, `graphql.operation.name` for GraphQL; status ERROR for 5xx), whose
 *   parent is the caller's W3C `traceparent` when sent; and one CLIENT span per SQL statement sent during the
 *   request (see `instrument-db.ts`).
 * - **Request context**: every request runs in an `AsyncLocalStorage` store holding its id and span, so code
 *   without the request at hand (the database wrapper, the server logger's `mixin`) can find them.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import pino from 'pino';
import { badInput } from '../errors.js';
import { metrics as processMetrics, type LatticeMetrics } from './metrics.js';

/** What the request context holds. */
export interface RequestStore {
  readonly requestId: string;
  /** The request's SERVER span, when tracing is on. */
  span?: Span;
}

/** The current request (id, span), in code running on its behalf; undefined outside requests. */
export const requestContext = new AsyncLocalStorage<RequestStore>();

/** Tracing as configured: a tracer when an exporter is configured, else none (no-op: nothing is created). */
export interface Telemetry {
  readonly tracer?: Tracer;
  /** Flush and stop the exporter (called when the server closes). */
  shutdown(): Promise<void>;
}

/** Tracing off. */
export const NO_TELEMETRY: Telemetry = { shutdown: async () => undefined };

/**
 * Tracing from the standard environment variables (see the file comment); {@link NO_TELEMETRY} when none names
 * an exporter. The OpenTelemetry SDK (`telemetry-sdk.ts`) is imported only when one does, so a server without
 * tracing never loads it (about 10 MiB of RSS).
 * @throws LatticeError BAD_USER_INPUT when `OTEL_TRACES_EXPORTER` names an exporter other than otlp, console, none
 */
export async function telemetryFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Telemetry> {
  const exporter = tracesExporterFromEnv(env);
  if (!exporter) return NO_TELEMETRY;
  const sdk = await import('./telemetry-sdk.js');
  return sdk.createTelemetry(sdk.createExporter(exporter));
}

/**
 * The trace exporter the `OTEL_*` variables name: `otlp`, `console`, or undefined for none (see the file comment).
 * @throws LatticeError BAD_USER_INPUT when `OTEL_TRACES_EXPORTER` names an exporter other than otlp, console, none
 */
export function tracesExporterFromEnv(env: NodeJS.ProcessEnv = process.env): 'otlp' | 'console' | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const named = env.OTEL_TRACES_EXPORTER?.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const exporters = named && named.length > 0 ? named : endpoint ? ['otlp'] : [];
  const unknown = exporters.filter((e) => !['otlp', 'console', 'none'].includes(e));
  if (unknown.length) {
    throw badInput(`OTEL_TRACES_EXPORTER names "${unknown.join(', ')}"; Lattice supports otlp (OTLP/HTTP protobuf), console and none.`);
  }
  if (exporters.includes('none') || exporters.length === 0) return undefined;
  return exporters.includes('otlp') ? 'otlp' : 'console';
}

const propagator = new W3CTraceContextPropagator();
const headerGetter = {
  keys: (carrier: Record<string, unknown>) => Object.keys(carrier),
  get: (carrier: Record<string, unknown>, key: string) => {
    const v = carrier[key];
    return typeof v === 'string' || Array.isArray(v) ? (v as string | string[]) : undefined;
  },
};

/** Each request's store, for hooks that run outside its async context. */
const stores = new WeakMap<FastifyRequest, RequestStore>();

/**
 * Install the request context, the SERVER span and the HTTP duration metric on `app`: register it before any
 * hook that does work for the request (the authentication hook reads keys from the database).
 */
export function registerRequestObservability(app: FastifyInstance, options: { telemetry: Telemetry; metrics?: LatticeMetrics }): void {
  const tracer = options.telemetry.tracer;
  const m = options.metrics ?? processMetrics;
  // A callback hook running the rest of the request inside the store (AsyncLocalStorage.run, as
  // @fastify/request-context does): every later hook, the handler and what they await see it.
  app.addHook('onRequest', (request, _reply, done) => {
    const store: RequestStore = { requestId: String(request.id) };
    stores.set(request, store);
    if (tracer) {
      const route = request.routeOptions.url;
      const parent = propagator.extract(ROOT_CONTEXT, request.headers, headerGetter);
      store.span = tracer.startSpan(
        route ? `${request.method} ${route}` : request.method,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': request.method,
            'url.path': request.url.split('?')[0],
            ...(route ? { 'http.route': route } : {}),
            'lattice.request_id': store.requestId,
          },
        },
        parent,
      );
    }
    requestContext.run(store, done);
  });
  // Label children by method, route and status, resolved once: observing through them skips prom-client's
  // per-call label validation and hashing. Bounded (routes and methods are finite, statuses nearly so).
  const durations = new Map<string, Observer>();
  const durationOf = (method: string, route: string, status: number): Observer => {
    const key = `${method} ${status} ${route}`;
    let o = durations.get(key);
    if (!o) {
      o = m.httpDuration.labels({ method, route, status_code: String(status) });
      if (durations.size < MAX_DURATION_CHILDREN) durations.set(key, o);
    }
    return o;
  };
  // A callback hook (an async one costs a promise per request).
  app.addHook('onResponse', (request, reply, done) => {
    durationOf(request.method, request.routeOptions.url ?? '(unmatched)', reply.statusCode).observe(reply.elapsedTime / 1000);
    // onResponse runs from the socket's 'finish' event, outside the request's async context: the store is kept by request.
    const span = stores.get(request)?.span;
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}

/** An HTTP duration histogram child (`Histogram.labels`). */
type Observer = { observe(seconds: number): void };
/** Most label children kept per server (beyond: resolved per request). */
const MAX_DURATION_CHILDREN = 1000;

/** Set an attribute on the current request's span (no-op without tracing or outside a request). */
export function setRequestSpanAttribute(key: string, value: string | number | boolean): void {
  requestContext.getStore()?.span?.setAttribute(key, value);
}

/** The current request's span as a parent context for child spans, if tracing. */
export function requestSpanContext() {
  const span = requestContext.getStore()?.span;
  return span ? trace.setSpan(ROOT_CONTEXT, span) : undefined;
}

/**
 * A pino `mixin` adding `request_id` to log lines written during a request through a logger that is not the
 * request's own child logger (which already carries it): the server logger used by the database layer, the model
 * registry or the live hub on behalf of a request. Lines written outside any request (start, timers, NOTIFY
 * handlers, subscription pushes after the subscribing request ended) have no request id.
 */
export function requestIdMixin(_merge: object, _level: number, logger: unknown): Record<string, string> {
  const store = requestContext.getStore();
  if (!store) return {};
  const bindings = (logger as Record<symbol, unknown> | undefined)?.[pino.symbols.chindingsSym];
  if (typeof bindings === 'string' && bindings.includes('"request_id"')) return {};
  return { request_id: store.requestId };
}

/**
 * Fastify's `logger` option with {@link requestIdMixin} added: `false` stays off, `true` becomes
 * `{ mixin }` (info level), pino options gain the mixin (an existing `mixin` is kept and merged).
 */
export function withRequestIdMixin(logger: boolean | object): boolean | object {
  if (logger === false) return false;
  const base = logger === true ? {} : (logger as { mixin?: (o: object, l: number, log: unknown) => object });
  const own = base.mixin;
  return { ...base, mixin: (o: object, l: number, log: unknown) => ({ ...(own ? own(o, l, log) : {}), ...requestIdMixin(o, l, log) }) };
}

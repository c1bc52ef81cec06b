/**
 * The HTTP server (GUIDE "src/server"): Fastify 5 with pino logging, request ids, a body limit, the
 * authentication hook, one error shape for every failure, and the route plugins — GraphQL
 * (`src/graphql/routes.ts`), REST (`src/rest/routes.ts`), administration and health.
 *
 * Error shape (SPEC R-1, G-14): `{ "error": { code, message, details }, "request_id" }`, also for 404 and 413.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Db } from '../db/types.js';
import type { Model } from '../model/types.js';
import { badInput, notFound } from '../errors.js';
import { graphqlRoutes } from '../graphql/routes.js';
import { readCompileOptions } from '../db/migrate/index.js';
import { DEFAULT_COMPILE_OPTIONS, type CompileOptions } from '../query/sql/compile.js';
import { restRoutes } from '../rest/routes.js';
import { otlpRoutes } from '../traces/otlp-routes.js';
import { tracesRoutes } from '../traces/routes.js';
import { adminRoutes } from './admin.js';
import { modelRoutes } from './model-routes.js';
import { latestModelVersion, ModelRegistry } from '../model-change/registry.js';
import { checkJsonNesting } from '../nesting.js';
import { registerAuthHook } from './auth-hook.js';
import { cancelOnDisconnectFromEnv, registerCancelOnDisconnect } from './disconnect.js';
import { registerRateLimit } from './rate-limit.js';
import { DEFAULT_LIMITS, DEFAULT_RATE_LIMIT, type AppContext, type QueryLimits, type ServerConfig } from './context.js';
import { sendError } from './errors.js';
import { healthRoutes } from './health.js';
import { RequestLogController } from './logging.js';
import { registerLive } from '../live/transports.js';
import type { LiveOptions } from '../live/hub.js';
import { apiDocsRoutes } from '../rest/api-docs.js';
import { buildValidator } from './validation.js';
import { clientErrorHandler, frameworkErrorHandler, registerBodyLimit } from './http-edges.js';
import { persistedDocumentsFromEnv, type PersistedDocuments } from '../graphql/persisted.js';
import { metrics, metricsPublicFromEnv, metricsRoutes } from './metrics.js';
import { instrumentDb } from './instrument-db.js';
import { registerRequestObservability, telemetryFromEnv, withRequestIdMixin, type Telemetry } from './telemetry.js';

/** Default request body limit: 10 MB (SPEC G-12). */
export const DEFAULT_BODY_LIMIT = 10 * 1024 * 1024;

export interface BuildServerOptions {
  readonly db: Db;
  readonly model: Model;
  readonly config?: Partial<ServerConfig>;
  /** Fastify/pino logger options: `false` (default) silences logging, `true` logs JSON at info, or pino options. */
  readonly logger?: boolean | object;
  /** Subscription tunables (coalescing window, credential re-check interval; see src/live/hub.ts). */
  readonly live?: LiveOptions;
  /**
   * The recorded version of `model` (`lattice.model_versions`); by default the latest recorded version when
   * its hash is the model's, else 0 (unknown).
   */
  readonly modelVersion?: number;
  /**
   * Swap to model versions applied through other instances (LISTEN, SPEC M-7). Default true.
   */
  readonly followModelChanges?: boolean;
  /**
   * Persisted documents (SPEC G-13): by default APQ, plus trusted-documents mode when `LATTICE_TRUSTED_DOCUMENTS`
   * names a file (`persistedDocumentsFromEnv`).
   */
  readonly persisted?: PersistedDocuments;
  /**
   * OpenTelemetry tracing (`telemetry.ts`): by default from the `OTEL_*` environment variables (off when none
   * names an exporter); shut down with the server when built here.
   */
  readonly telemetry?: Telemetry;
  /** `GET /metrics` without credentials; default `LATTICE_METRICS_PUBLIC` (`metricsPublicFromEnv`), else admin only. */
  readonly metricsPublic?: boolean;
}

/** The recorded version of `model`: the latest one when it is this model, else 0. */
async function recordedVersionOf(db: Db, model: Model, log: FastifyBaseLogger): Promise<number> {
  try {
    const latest = await latestModelVersion(db, model.systemSchema);
    return latest && latest.hash === model.hash ? latest.version : 0;
  } catch (err) {
    log.warn({ err }, 'Could not read the recorded model version at start');
    return 0;
  }
}

/**
 * `LATTICE_INTROSPECTION`: `true`/`1`/`on`/`yes` or `false`/`0`/`off`/`no` (any case); unset means on.
 * @throws LatticeError BAD_USER_INPUT for any other value (a typo must not silently leave introspection on)
 */
export function introspectionFromEnv(value: string | undefined): boolean {
  if (value === undefined || value.trim() === '') return true;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'on', 'yes'].includes(v)) return true;
  if (['false', '0', 'off', 'no'].includes(v)) return false;
  throw badInput(`LATTICE_INTROSPECTION is "${value}"; set it to true or false.`);
}

/** Environment variable of each limit (SPEC G-12; README "Limits"). */
const LIMIT_ENV: Readonly<Record<keyof typeof DEFAULT_LIMITS, string>> = {
  maxLimit: 'LATTICE_MAX_LIMIT',
  maxDepth: 'LATTICE_MAX_DEPTH',
  maxCost: 'LATTICE_MAX_COST',
  defaultListSize: 'LATTICE_DEFAULT_LIST_SIZE',
  maxRows: 'LATTICE_MAX_ROWS',
};

/**
 * A positive integer setting from the environment, or undefined when unset.
 * @throws LatticeError BAD_USER_INPUT for anything but a decimal integer ≥ `min` (a typo must not turn a limit off)
 */
function intFromEnv(env: NodeJS.ProcessEnv, name: string, min: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw badInput(`${name} is "${raw}"; set it to a whole number of at least ${min}.`);
  return n;
}

/**
 * Query limits from `LATTICE_MAX_LIMIT`, `LATTICE_MAX_DEPTH`, `LATTICE_MAX_COST`, `LATTICE_DEFAULT_LIST_SIZE`, `LATTICE_MAX_ROWS`
 * (each a whole number ≥ 1; unset keeps the default).
 * @throws LatticeError BAD_USER_INPUT for an invalid value
 */
export function limitsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<QueryLimits> {
  const out: Record<string, number> = {};
  for (const [key, name] of Object.entries(LIMIT_ENV)) {
    const v = intFromEnv(env, name, 1);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/**
 * `LATTICE_RATE_LIMIT`: requests per minute per principal; 0 turns rate limiting off; unset: `DEFAULT_RATE_LIMIT`.
 * @throws LatticeError BAD_USER_INPUT for anything but a whole number ≥ 0
 */
export function rateLimitFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return intFromEnv(env, 'LATTICE_RATE_LIMIT', 0) ?? DEFAULT_RATE_LIMIT;
}

/**
 * Complete a partial configuration with defaults. `mode` defaults to `development` only when
 * `LATTICE_MODE=development` or `NODE_ENV=development`, else `production` (no internal error text to clients).
 * `introspection` defaults to `LATTICE_INTROSPECTION` (see `introspectionFromEnv`), else on. Limits: given ones,
 * else the environment's (`limitsFromEnv`), else `DEFAULT_LIMITS`; `rateLimit` likewise (`rateLimitFromEnv`).
 * @throws LatticeError BAD_USER_INPUT for an invalid `LATTICE_INTROSPECTION` or limit variable
 */
export function resolveServerConfig(partial: Partial<ServerConfig> = {}): ServerConfig {
  const envMode = process.env.LATTICE_MODE ?? process.env.NODE_ENV;
  return {
    mode: partial.mode ?? (envMode === 'development' ? 'development' : 'production'),
    limits: { ...DEFAULT_LIMITS, ...limitsFromEnv(), ...partial.limits },
    bodyLimit: partial.bodyLimit ?? DEFAULT_BODY_LIMIT,
    introspection: partial.introspection ?? introspectionFromEnv(process.env.LATTICE_INTROSPECTION),
    rateLimit: partial.rateLimit ?? rateLimitFromEnv(),
  };
}

/**
 * The read compiler's options for this database (vector storage, SPEC S-5), read once at start. A database
 * unreachable at start (the server still starts and reports it on /api/health) gets the default (pgvector),
 * with a warning.
 */
async function startCompileOptions(db: Db, log: FastifyBaseLogger): Promise<CompileOptions> {
  try {
    return await readCompileOptions(db);
  } catch (err) {
    log.warn({ err }, 'Could not read the database\'s vector support at start; assuming pgvector');
    return DEFAULT_COMPILE_OPTIONS;
  }
}

/** Use a client's `x-request-id` when it is a sane token (≤ 128 chars of [A-Za-z0-9._:-]), else a UUID. */
function requestId(header: string | string[] | undefined): string {
  return typeof header === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(header) ? header : randomUUID();
}

/**
 * Build the server (not yet listening).
 * @returns the Fastify instance and the AppContext handed to every route plugin
 * @throws when a route plugin fails to register; LatticeError BAD_USER_INPUT for an invalid
 *         `LATTICE_TRUSTED_DOCUMENTS` file (or JWT / proxy settings)
 */
export async function buildServer(options: BuildServerOptions): Promise<{ app: FastifyInstance; ctx: AppContext }> {
  const config = resolveServerConfig(options.config);
  const fastifyOptions: FastifyServerOptions = {
    logger: withRequestIdMixin(options.logger ?? false),
    bodyLimit: config.bodyLimit,
    genReqId: (req) => requestId(req.headers['x-request-id']),
    // Per-request lines at debug (logging.ts): quiet at info.
    logController: new RequestLogController({ requestIdLogLabel: 'request_id' }),
    // SPEC R-1: unknown fields and wrong types in bodies are a 400 (see validation.ts).
    schemaController: { compilersFactory: { buildValidator } },
    // JSON bodies are parsed by plain JSON.parse: a "__proto__" or "constructor" key is an own property (data a
    // `json` field stores as sent), never the prototype; secure-json-parse's default refused such bodies with 400.
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
    // Bad URLs, over-long path parameters and what Node's HTTP parser refuses, in the error shape (http-edges.ts).
    frameworkErrors: frameworkErrorHandler(config.mode),
    clientErrorHandler,
  };
  const persisted = options.persisted ?? persistedDocumentsFromEnv();
  const metricsPublic = options.metricsPublic ?? metricsPublicFromEnv(process.env.LATTICE_METRICS_PUBLIC);
  const telemetry = options.telemetry ?? (await telemetryFromEnv());
  // Every statement timed (and traced during traced requests); the pool's counters in /metrics (issue 7 item 5).
  const db = instrumentDb(options.db, { metrics, tracer: telemetry.tracer, includeQueryText: config.mode === 'development' });
  const app = Fastify(fastifyOptions);
  const source = options.db.poolStats?.bind(options.db);
  if (source) {
    const unwatch = metrics.watchPool(source);
    app.addHook('onClose', async () => unwatch());
  }
  if (!options.telemetry) app.addHook('onClose', async () => telemetry.shutdown().catch(() => undefined));
  // Only JSON bodies (415 otherwise): Fastify's text/plain parser would hand routes a string.
  app.removeContentTypeParser('text/plain');
  registerBodyLimit(app, config.bodyLimit);
  if (persisted.trusted) app.log.info({ file: persisted.trusted.source, documents: persisted.trusted.byId.size }, 'Trusted documents: only allow-listed GraphQL documents run');
  const model = options.model;
  const compile = await startCompileOptions(db, app.log);
  if (compile.vectors === 'array') {
    // SPEC S-5: said once, at start.
    app.log.warn(
      'pgvector is not available on this database: vectors stored as real[], exact distances computed by SQL functions; slower (install the "vector" extension and restart to get vector(n) columns and HNSW indexes)',
    );
  }
  const models = new ModelRegistry(model, options.modelVersion ?? (await recordedVersionOf(db, model, app.log)));
  const ctx: AppContext = { db, config, log: app.log, model: () => models.current(), models, compile, persisted };
  if (options.followModelChanges !== false) {
    try {
      const stop = await models.follow(db, app.log);
      app.addHook('onClose', async () => stop().catch(() => undefined));
    } catch (err) {
      app.log.warn({ err }, 'Cannot LISTEN for model changes made through other instances; this instance keeps its model until restarted');
    }
  }

  // Callback hooks here (an async hook costs a promise per request).
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', String(request.id));
    done();
  });
  // Request context, request span and HTTP duration: before the auth hook, whose key look-up is SQL of the request.
  registerRequestObservability(app, { telemetry, metrics });
  // A client that disconnects before the answer gets its database work cancelled (disconnect.ts).
  registerCancelOnDisconnect(app, cancelOnDisconnectFromEnv(process.env.LATTICE_CANCEL_ON_DISCONNECT));
  registerAuthHook(app, db);
  // Per-principal rate limit (SPEC G-12): after authentication, before the routes (rate-limit.ts).
  await registerRateLimit(app, config.rateLimit ?? 0);
  // Parsed JSON bodies are checked for depth before any recursive validation or database JSON parsing.
  app.addHook('preValidation', (request, _reply, done) => {
    try {
      if (request.body !== null && typeof request.body === 'object') checkJsonNesting(request.body, 'The request body');
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  });

  app.setErrorHandler((err, request, reply) => sendError(request, reply, err, config.mode));
  app.setNotFoundHandler((request, reply) =>
    sendError(
      request,
      reply,
      notFound(
        request.url.startsWith('/api/public/')
          ? `No route ${request.method} ${request.url.split('?')[0]} on this server: the Langfuse-compatible and OTLP routes (/api/public/…) are served when the model is the traces preset (lattice serve --preset traces) or has its shape.`
          : `No route ${request.method} ${request.url.split('?')[0]}; use /graphql for GraphQL and /api/v1/<plural> (e.g. /api/v1/experiments) for REST.`,
      ),
      config.mode,
    ),
  );

  await app.register(async (scope) => healthRoutes(scope, ctx));
  await app.register(async (scope) => metricsRoutes(scope, { isPublic: metricsPublic }));
  await app.register(async (scope) => apiDocsRoutes(scope, ctx));
  await app.register(async (scope) => adminRoutes(scope, ctx));
  await app.register(async (scope) => modelRoutes(scope, ctx));
  await app.register(async (scope) => graphqlRoutes(scope, ctx));
  await app.register(async (scope) => restRoutes(scope, ctx));
  await app.register(async (scope) => otlpRoutes(scope, ctx));
  // The traces preset's Langfuse-compatible API (SPEC R-6), when the served model has its shape.
  await app.register(async (scope) => tracesRoutes(scope, ctx));
  // Subscriptions (SPEC G-8): WebSocket upgrade at /graphql, SSE at /graphql/stream, closed first on shutdown.
  registerLive(app, ctx, options.live);
  return { app, ctx };
}

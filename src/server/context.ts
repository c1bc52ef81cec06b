/**
 * What every route plugin receives: the running model, the database, configuration and the logger.
 * `src/server/app.ts` builds it; GraphQL (`src/graphql`), REST (`src/rest`) and admin routes read it.
 *
 * The model is read through `current()` so a later model swap (SPEC M-7) changes it for new requests only.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Principal } from '../auth/principal.js';
import type { Db } from '../db/types.js';
import type { Model } from '../model/types.js';
import type { CompileOptions } from '../query/sql/compile.js';
import type { ModelRegistry } from '../model-change/registry.js';
import type { PersistedDocuments } from '../graphql/persisted.js';

/** Limits applied to reads (SPEC G-12 grows this). */
export interface QueryLimits {
  /** Largest accepted `limit` / `first` / `last` argument. */
  readonly maxLimit: number;
  /** Largest GraphQL selection depth. */
  readonly maxDepth: number;
  /**
   * Largest estimated cost of a GraphQL operation (`src/graphql/plan/cost.ts`; COST_LIMIT_EXCEEDED beyond);
   * absent: `DEFAULT_LIMITS.maxCost` (the limit is always on).
   */
  readonly maxCost?: number;
  /** Cost estimate of the length of a list without `limit` / `first` / `last`; absent: `DEFAULT_LIMITS.defaultListSize`. */
  readonly defaultListSize?: number;
  /**
   * Row budget of a GraphQL operation: the most rows (elements of lists of objects: entities, connection
   * edges / nodes, aggregate groups) it may return, bounded statically from its page sizes before any SQL runs
   * and, when it has lists without `limit` / `first` / `last`, counted on its result
   * (`src/graphql/plan/rows.ts`; 400 ROW_LIMIT_EXCEEDED beyond, never a truncation). `LATTICE_MAX_ROWS`;
   * absent: `DEFAULT_LIMITS.maxRows` (the budget is always on).
   */
  readonly maxRows?: number;
}

export interface ServerConfig {
  /** `development` shows database error text and SQL in errors and traces; `production` never does. */
  readonly mode: 'development' | 'production';
  readonly limits: QueryLimits;
  /** Maximum request body in bytes (413 beyond). */
  readonly bodyLimit: number;
  /**
   * GraphQL introspection (`__schema`, `__type`; SPEC G-16): on unless `false`. When off, such documents fail
   * validation (graphql-js `NoSchemaIntrospectionCustomRule`) with BAD_USER_INPUT; `__typename` still works.
   * Set by `lattice serve --no-introspection` or `LATTICE_INTROSPECTION=false`.
   */
  readonly introspection?: boolean;
  /**
   * Requests per minute per principal (API key / user id, else client IP), 429 RATE_LIMITED beyond; 0 = off.
   * `LATTICE_RATE_LIMIT`, default {@link DEFAULT_RATE_LIMIT}. `/api/health` is never limited.
   */
  readonly rateLimit?: number;
}

export interface AppContext {
  readonly db: Db;
  readonly config: ServerConfig;
  readonly log: FastifyBaseLogger;
  /** The model currently served: read it once per request and keep it (a swap must not change a request). */
  model(): Model;
  /**
   * The served model and its version, for run-time model changes (SPEC M-7, `src/model-change`); `model()` is
   * `models.current()`. Absent in contexts built by hand for tests of single route plugins.
   */
  readonly models?: ModelRegistry;
  /**
   * What the read compiler needs to know about the database (how vectors are stored, SPEC S-5), decided once
   * at start by `buildServer` (`readCompileOptions`); absent means pgvector (`compileRead`'s default).
   */
  readonly compile?: CompileOptions;
  /**
   * Persisted documents (SPEC G-13, `src/graphql/persisted.ts`): the APQ store of this instance and, in
   * trusted-documents mode, the allow-list. Absent in hand-built contexts: `/graphql` then makes its own (APQ only).
   */
  readonly persisted?: PersistedDocuments;
}

export const DEFAULT_LIMITS: Required<QueryLimits> = { maxLimit: 10_000, maxDepth: 12, maxCost: 5_000_000, defaultListSize: 10, maxRows: 100_000 };

/** Default of `ServerConfig.rateLimit`: 600 requests per minute per principal (10 per second on average). */
export const DEFAULT_RATE_LIMIT = 600;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook (`src/server/auth-hook.ts`) on every request that carried valid credentials. */
    principal?: Principal;
  }
}

/**
 * Per-principal rate limiting (SPEC G-12, issue 8 item 5): 429 RATE_LIMITED with Retry-After in Lattice's
 * error shape, keyed by API key (else IP), health never limited; limit settings from the environment.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { buildServer, limitsFromEnv, rateLimitFromEnv, resolveServerConfig } from '../../src/server/app.js';
import { DEFAULT_LIMITS, DEFAULT_RATE_LIMIT } from '../../src/server/context.js';
import { createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

describe.each(TEST_KINDS)('rate limiting on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let keyA: { authorization: string };
  let keyB: { authorization: string };

  beforeAll(async () => {
    t = await createTestDb(kind);
    ({ app } = await buildServer({ db: t.db, model: t.model, config: { rateLimit: 3 }, followModelChanges: false }));
    keyA = { authorization: `Bearer ${(await createApiKey(t.db, { projectId: null, role: 'admin' })).secret_key}` };
    keyB = { authorization: `Bearer ${(await createApiKey(t.db, { projectId: null, role: 'admin' })).secret_key}` };
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('answers 429 RATE_LIMITED with Retry-After once a key has used its requests, per key, in the error shape', async () => {
    const get = (headers: Record<string, string>) => app.inject({ method: 'GET', url: '/api/v1/experiments', headers });
    for (let i = 0; i < 3; i++) expect((await get(keyA)).statusCode).toBe(200);
    const limited = await get(keyA);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json()).toEqual({
      error: { code: 'RATE_LIMITED', message: expect.stringMatching(/at most 3 per minute .*LATTICE_RATE_LIMIT.*retry in/), details: [] },
      request_id: expect.any(String),
    });
    // GraphQL counts against the same key.
    expect((await app.inject({ method: 'POST', url: '/graphql', headers: keyA, payload: { query: '{ __typename }' } })).statusCode).toBe(429);
    // Another key has its own window.
    expect((await get(keyB)).statusCode).toBe(200);
  });

  it('keys requests without credentials by IP and never limits /api/health', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await app.inject({ method: 'GET', url: '/api/v1/experiments', remoteAddress: '10.0.0.9' })).statusCode);
    expect(codes).toEqual([401, 401, 401, 429]);
    expect((await app.inject({ method: 'GET', url: '/api/v1/experiments', remoteAddress: '10.0.0.10' })).statusCode).toBe(401);
    for (let i = 0; i < 5; i++) {
      expect((await app.inject({ method: 'GET', url: '/api/health', remoteAddress: '10.0.0.9' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/api/public/health', remoteAddress: '10.0.0.9' })).statusCode).toBe(200);
    }
  });
});

describe('limit settings', () => {
  it('reads the limits and the rate limit from the environment, and refuses invalid values', () => {
    expect(limitsFromEnv({ LATTICE_MAX_COST: '1000', LATTICE_MAX_DEPTH: '5', LATTICE_MAX_LIMIT: '50', LATTICE_DEFAULT_LIST_SIZE: '20' })).toEqual({
      maxCost: 1000,
      maxDepth: 5,
      maxLimit: 50,
      defaultListSize: 20,
    });
    expect(() => limitsFromEnv({ LATTICE_MAX_COST: '1e6' })).toThrow(/LATTICE_MAX_COST is "1e6"; set it to a whole number of at least 1/);
    expect(() => limitsFromEnv({ LATTICE_MAX_DEPTH: '0' })).toThrow(/LATTICE_MAX_DEPTH/);
    expect(rateLimitFromEnv({})).toBe(DEFAULT_RATE_LIMIT);
    expect(rateLimitFromEnv({ LATTICE_RATE_LIMIT: '0' })).toBe(0);
    expect(() => rateLimitFromEnv({ LATTICE_RATE_LIMIT: 'lots' })).toThrow(/LATTICE_RATE_LIMIT/);
    // All on by default.
    const config = resolveServerConfig();
    expect(config.limits).toEqual(DEFAULT_LIMITS);
    expect(config.rateLimit).toBe(DEFAULT_RATE_LIMIT);
  });
});

describe.each(TEST_KINDS)('rate limiting off on %s', (kind) => {
  it('is off with rateLimit 0', async () => {
    const t = await createTestDb(kind);
    const { app } = await buildServer({ db: t.db, model: t.model, config: { rateLimit: 0 }, followModelChanges: false });
    try {
      const codes = new Set<number>();
      for (let i = 0; i < 5; i++) codes.add((await app.inject({ method: 'GET', url: '/api/v1/experiments', remoteAddress: '10.0.0.11' })).statusCode);
      expect([...codes]).toEqual([401]);
    } finally {
      await app.close();
      await t.close();
    }
  });
});

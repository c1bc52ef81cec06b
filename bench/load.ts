/**
 * The benchmark's load generator and request targets: each case of `bench/cases.ts` sent to Lattice and to the
 * peers as a GraphQL POST and to the baseline as a GET, under autocannon.
 *
 * autocannon runs in a worker thread (`workers: 1`) of the benchmark's process; every server runs in a process
 * of its own (`processes.ts`).
 */
import autocannon from 'autocannon';
import { isDeepStrictEqual } from 'node:util';
import type { BenchCase, CaseContext, PostGraphileQuery } from './cases.js';

/** One HTTP request description for autocannon and for the equality check. */
export interface Target {
  readonly name: string;
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/** Lattice's GraphQL request for a case. */
export function latticeTarget(baseUrl: string, auth: string, benchCase: BenchCase, context: CaseContext): Target {
  return {
    name: 'Lattice (GraphQL)',
    url: `${baseUrl}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: auth },
    body: JSON.stringify({ query: benchCase.query, variables: benchCase.variables(context) }),
  };
}

/**
 * The graphql-js + DataLoader peer's request for a case: Lattice's very document and variables; the project
 * in the `x-project-id` header (the peer has no authentication).
 */
export function dataloaderTarget(baseUrl: string, benchCase: BenchCase, context: CaseContext): Target {
  return {
    name: 'graphql-js + DataLoader',
    url: `${baseUrl}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-project-id': context.projectId },
    body: JSON.stringify({ query: benchCase.query, variables: benchCase.variables(context) }),
  };
}

/** PostGraphile's request for a case (its own document over the same data, `BenchCase.postgraphile`). */
export function postgraphileTarget(baseUrl: string, query: PostGraphileQuery, context: CaseContext): Target {
  return {
    name: 'PostGraphile 5',
    url: `${baseUrl}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: query.query, variables: query.variables(context) }),
  };
}

/** The baseline's GET request for a case (`baselineUrl` is the baseline server's origin). */
export function baselineTarget(baselineUrl: string, benchCase: BenchCase, projectId: string): Target {
  return {
    name: 'Baseline (node:http + 1 SQL)',
    url: `${baselineUrl}/${benchCase.id}?project_id=${projectId}`,
    method: 'GET',
    headers: {},
  };
}

/**
 * Fetch a target once and parse its JSON answer.
 * @throws Error when the answer is not 200 or not JSON (the body is quoted)
 */
export async function fetchJson(target: Target): Promise<{ value: unknown; bytes: number }> {
  const res = await fetch(target.url, { method: target.method, headers: target.headers, body: target.body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${target.name} answered HTTP ${res.status}: ${text.slice(0, 500)}`);
  const value = JSON.parse(text) as unknown;
  if (value && typeof value === 'object' && 'errors' in value) throw new Error(`${target.name} answered with errors: ${text.slice(0, 500)}`);
  return { value, bytes: Buffer.byteLength(text) };
}

/**
 * A readable path to the first difference of two JSON values (for the equality check's error). Numbers count
 * as equal within a relative 1e-9: two statements may sum floating-point values in another order.
 */
export function firstDifference(a: unknown, b: unknown, path = '$'): string | null {
  if (isDeepStrictEqual(a, b)) return null;
  if (typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b))) return null;
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const ka = Object.keys(a as object);
    const kb = Object.keys(b as object);
    if (!Array.isArray(a) && !isDeepStrictEqual([...ka].sort(), [...kb].sort())) return `${path}: keys ${ka} vs ${kb}`;
    if (Array.isArray(a) && a.length !== (b as unknown[]).length) return `${path}: length ${a.length} vs ${(b as unknown[]).length}`;
    for (const k of ka) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      if (d) return d;
    }
    return null; // same keys (or length), every member equal within the tolerance
  }
  return `${path}: ${JSON.stringify(a)?.slice(0, 120)} vs ${JSON.stringify(b)?.slice(0, 120)}`;
}

/** Measured numbers of one target. Latencies in milliseconds. */
export interface LoadResult {
  readonly name: string;
  readonly requestsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly requests: number;
  readonly seconds: number;
}

export interface LoadOptions {
  /** Concurrent connections (default 10). */
  readonly connections?: number;
  /** Measured seconds (default 10). */
  readonly duration?: number;
  /** Warm-up seconds before measuring, results discarded (default 3). */
  readonly warmup?: number;
}

/**
 * Warm up, then measure one target with autocannon.
 * @throws Error when any request failed (non-2xx, connection error or timeout) in the measured phase —
 *         throughput of errors is not a result
 */
export async function measure(target: Target, options: LoadOptions = {}): Promise<LoadResult> {
  const base = {
    url: target.url,
    method: target.method,
    headers: target.headers,
    body: target.body,
    connections: options.connections ?? 10,
    workers: 1,
    timeout: 30,
  };
  const warmup = options.warmup ?? 3;
  if (warmup > 0) await autocannon({ ...base, duration: warmup });
  const r = await autocannon({ ...base, duration: options.duration ?? 10, title: target.name });
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) {
    throw new Error(`${target.name}: ${r.non2xx} non-2xx answers, ${r.errors} errors, ${r.timeouts} timeouts under load`);
  }
  return {
    name: target.name,
    requestsPerSecond: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    requests: r.requests.total,
    seconds: r.duration,
  };
}

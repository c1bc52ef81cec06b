/**
 * Lattice on embedded PGlite against Lattice on PostgreSQL (issue 9: "on PGlite, the same queries within 2× of
 * PostgreSQL"). `startPgliteServer` runs `pglite-server.ts` in its own process on a temporary data directory
 * (created here, removed on close), seeded with the same `seed.ts` statements and size as the PostgreSQL
 * database; `measurePgliteCases` checks its answers against Lattice-on-PostgreSQL's and measures it with the
 * same autocannon settings as the other servers (warm-up, then rounds; CPU per request and peak RSS of its
 * process, which does the database work too).
 *
 * The two databases hold the same rows under different ids (UUID v7 from `lattice.uuid_generate_v7()`), so
 * answers are compared with every UUID replaced by `<id>`; where rows tie on the case's sort key the id
 * tiebreaker orders them differently, so arrays that differ only in order are then compared as multisets
 * (`compareModuloIds`). The list case takes `LIST_LIMIT` of a trial's metrics ordered by step, 15 per step: the
 * limit cuts the last step's group, and which of its rows it keeps depends on the ids, so that group is
 * compared by step and count only (`compareCutList`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LIST_LIMIT, type BenchCase } from './cases.js';
import { buildOnce, compiledServerArgs, REPO_DIR } from './compiled.js';
import { fetchJson, firstDifference, latticeTarget, measure, type LoadResult, type Target } from './load.js';
import { combineRounds, median, type MeasureOptions } from './measure.js';
import { parseServerContext, type PgliteServerContext } from './pglite-server.js';
import { cpuTicks, PeakRss, startServerProcess, TICKS_PER_SECOND, type ServerProcess } from './processes.js';
import { DEFAULT_SEED_SIZE, type SeedSize } from './seed.js';

/** The cases measured on PGlite (experiments preset). */
export const PGLITE_CASE_IDS: readonly string[] = ['dashboard', 'list', 'point'];

/** A started PGlite bench server. */
export interface PgliteServer {
  readonly process: ServerProcess;
  readonly info: PgliteServerContext;
  /** Wall time from spawning to `listening` (open, migrate, seed, analyse), seconds. */
  readonly startSeconds: number;
  /** The temporary directory holding the data directory (removed by `close`). */
  readonly dir: string;
  /** Stop the process and remove its data directory. */
  close(): Promise<void>;
}

/**
 * Start `pglite-server.ts` on a fresh temporary data directory.
 * @param options.size seed size (default `DEFAULT_SEED_SIZE`, the PostgreSQL database's)
 * @param options.compiled run `dist/bench/pglite-server.js` after `buildOnce()` (default, as the other
 *        servers); false runs the TypeScript source under tsx (tests)
 * @throws Error with the server's stderr when it exits or does not listen within `timeoutMs` (default 10 min)
 */
export async function startPgliteServer(options: { size?: SeedSize; compiled?: boolean; timeoutMs?: number } = {}): Promise<PgliteServer> {
  const compiled = options.compiled ?? true;
  if (compiled) await buildOnce();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lattice-bench-pglite-'));
  const started = performance.now();
  let server: ServerProcess;
  try {
    server = await startServerProcess({
      name: 'Lattice on PGlite',
      command: process.execPath,
      args: compiled ? compiledServerArgs('./pglite-server.ts') : ['--import', 'tsx', path.join(REPO_DIR, 'bench', 'pglite-server.ts')],
      cwd: REPO_DIR,
      env: {
        NODE_ENV: 'production',
        BENCH_PGLITE_DATA_DIR: path.join(dir, 'data'),
        BENCH_PGLITE_SEED: JSON.stringify(options.size ?? DEFAULT_SEED_SIZE),
      },
      timeoutMs: options.timeoutMs ?? 600_000,
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const startSeconds = (performance.now() - started) / 1000;
  const close = async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    return { process: server, info: parseServerContext(server.startupOutput()), startSeconds, dir, close };
  } catch (err) {
    await close();
    throw err;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A JSON value with every UUID string replaced by `<id>`. */
export function withoutIds(value: unknown): unknown {
  if (typeof value === 'string') return UUID.test(value) ? '<id>' : value;
  if (Array.isArray(value)) return value.map(withoutIds);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutIds(v)]));
  return value;
}

/** A JSON value with every array sorted by its elements' JSON text (arrays as multisets). */
function sortedArrays(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value
      .map(sortedArrays)
      .map((v) => [JSON.stringify(v), v] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([, v]) => v);
  }
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sortedArrays(v)]));
  return value;
}

/** Where a case's answer holds rows ordered by `key` (ties by id) and cut at `limit` rows. */
export interface CutList {
  /** Property path from the answer's root to the array. */
  readonly path: readonly string[];
  /** The ordering key tied rows share. */
  readonly key: string;
  readonly limit: number;
}

/** Cases whose answer is a list cut at a limit inside a group of tied rows (see the file comment). */
const CUT_LISTS: Readonly<Record<string, CutList>> = {
  list: { path: ['data', 'trial_metrics'], key: 'step', limit: LIST_LIMIT },
};

/** Matched with the last group of tied rows compared by key and count only. */
export const CUT_LIST_MATCH = 'equal modulo ids, rows tied on the sort key as multisets, the group cut by the limit by key and count';

/** Consecutive runs of rows with the same `key` value (JSON text of the value). */
function groupsOf(rows: readonly unknown[], key: string): unknown[][] {
  const groups: unknown[][] = [];
  let last: string | undefined;
  for (const row of rows) {
    const k = JSON.stringify((row as Record<string, unknown> | null)?.[key] ?? null);
    if (groups.length === 0 || k !== last) groups.push([]);
    groups[groups.length - 1].push(row);
    last = k;
  }
  return groups;
}

/**
 * Compare two answers (UUIDs already masked) holding a list ordered by `cut.key` and cut at `cut.limit`:
 * everything outside the list must be equal; the list must have the same length and the same runs of tied
 * rows (key and count); every run is compared as a multiset, except the last when the list is full (`limit`
 * rows), whose rows depend on the ids.
 * @returns the JSON path of the first difference, or null when they match so
 */
export function compareCutList(cut: CutList, a: unknown, b: unknown): string | null {
  const at = (v: unknown) => cut.path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), v);
  const path = `$.${cut.path.join('.')}`;
  const [la, lb] = [at(a), at(b)];
  if (!Array.isArray(la) || !Array.isArray(lb)) return `${path}: not a list in both answers`;
  const blank = (v: unknown): unknown => {
    const copy = structuredClone(v) as Record<string, unknown>;
    let o = copy;
    for (const k of cut.path.slice(0, -1)) o = o[k] as Record<string, unknown>;
    o[cut.path[cut.path.length - 1]] = [];
    return copy;
  };
  const outside = firstDifference(blank(a), blank(b));
  if (outside) return outside;
  if (la.length !== lb.length) return `${path}: length ${la.length} vs ${lb.length}`;
  const [ga, gb] = [groupsOf(la, cut.key), groupsOf(lb, cut.key)];
  const cutLast = la.length === cut.limit;
  let start = 0;
  for (let i = 0; i < Math.max(ga.length, gb.length); i++) {
    const [x, y] = [ga[i] ?? [], gb[i] ?? []];
    const where = `${path}[${start}..] (${cut.key} group ${i + 1})`;
    const keyOf = (g: unknown[]) => JSON.stringify((g[0] as Record<string, unknown> | undefined)?.[cut.key] ?? null);
    if (keyOf(x) !== keyOf(y) || x.length !== y.length) return `${where}: ${cut.key} ${keyOf(x)} × ${x.length} vs ${keyOf(y)} × ${y.length}`;
    if (!(cutLast && i === ga.length - 1)) {
      const diff = firstDifference(sortedArrays(x), sortedArrays(y), where);
      if (diff) return diff;
    }
    start += x.length;
  }
  return null;
}

/**
 * Compare Lattice-on-PGlite's answer with Lattice-on-PostgreSQL's, ids aside.
 * @returns how they matched: `'equal modulo ids'`; `'equal modulo ids and the order of rows tied on the sort key'`
 *          when only the order inside some arrays differs; `CUT_LIST_MATCH` for a case in `CUT_LISTS` whose list
 *          differs only in the order of tied rows and in the rows of the group its limit cuts
 * @throws Error naming the JSON path of the first difference otherwise (numbers within a relative 1e-9)
 */
export function compareModuloIds(caseId: string, postgres: unknown, pglite: unknown): string {
  const a = withoutIds(postgres);
  const b = withoutIds(pglite);
  if (!firstDifference(a, b)) return 'equal modulo ids';
  const cut = CUT_LISTS[caseId];
  const diff = cut ? compareCutList(cut, a, b) : firstDifference(sortedArrays(a), sortedArrays(b));
  if (!diff) return cut ? CUT_LIST_MATCH : 'equal modulo ids and the order of rows tied on the sort key';
  throw new Error(`${caseId}: Lattice on PGlite and on PostgreSQL answer differently (ids aside); first difference at ${diff}`);
}

/** Lattice on PGlite in one case, with Lattice on PostgreSQL's numbers from the same run. */
export interface PgliteCaseResult {
  readonly id: string;
  /** How the answers matched (`compareModuloIds`). */
  readonly comparison: string;
  /** Medians over the rounds. */
  readonly load: LoadResult;
  /** CPU time of the PGlite server process (Lattice and the database) per request, ms; null when unreadable. */
  readonly cpuMsPerRequest: number | null;
  readonly peakRssBytes: number | null;
}

/** The PGlite part of a run. */
export interface PgliteResult {
  /** One line: the data and how long the server took to seed and start. */
  readonly data: string;
  readonly cases: readonly PgliteCaseResult[];
  /** Cases of the run not measured on PGlite, and why. */
  readonly skipped: readonly { readonly id: string; readonly reason: string }[];
}

/**
 * Check and measure Lattice on PGlite on every case of `cases` it serves (`PGLITE_CASE_IDS`).
 * @param postgres Lattice on PostgreSQL: origin and viewer Authorization of its server and its case context,
 *        to fetch the reference answers
 * @throws Error when an answer differs (`compareModuloIds`) or a request fails under load
 */
export async function measurePgliteCases(
  server: PgliteServer,
  cases: readonly BenchCase[],
  postgres: { url: string; auth: string; context: Parameters<typeof latticeTarget>[3] },
  o: MeasureOptions,
  log: (line: string) => void,
): Promise<{ cases: PgliteCaseResult[]; skipped: { id: string; reason: string }[] }> {
  const results: PgliteCaseResult[] = [];
  const skipped: { id: string; reason: string }[] = [];
  for (const c of cases) {
    if (!PGLITE_CASE_IDS.includes(c.id)) {
      skipped.push({ id: c.id, reason: 'not measured on PGlite (only dashboard, list and point are)' });
      continue;
    }
    const target: Target = { ...latticeTarget(server.process.url, server.info.auth, c, server.info.context), name: 'Lattice on PGlite' };
    const [reference, answer] = [await fetchJson(latticeTarget(postgres.url, postgres.auth, c, postgres.context)), await fetchJson(target)];
    const comparison = compareModuloIds(c.id, reference.value, answer.value);
    log(`${c.id} on PGlite: answer ${comparison} to Lattice on PostgreSQL's; ${o.warmup} s warm-up, then ${o.rounds} rounds of ${o.duration} s ...`);
    const pid = server.process.pid;
    const peak = new PeakRss(pid);
    peak.start();
    await measure(target, { connections: o.connections, warmup: 0, duration: o.warmup });
    const rounds: { load: LoadResult; cpu: number | null }[] = [];
    for (let round = 0; round < o.rounds; round++) {
      const cpu0 = cpuTicks(pid);
      const load = await measure(target, { connections: o.connections, warmup: 0, duration: o.duration });
      const cpu1 = cpuTicks(pid);
      const cpu = cpu0 === null || cpu1 === null || load.requests === 0 ? null : (((cpu1 - cpu0) / TICKS_PER_SECOND) * 1000) / load.requests;
      rounds.push({ load, cpu });
      log(`  round ${round + 1}: Lattice on PGlite ${load.requestsPerSecond.toFixed(1)} req/s`);
    }
    const cpus = rounds.map((r) => r.cpu).filter((x): x is number => x !== null);
    results.push({
      id: c.id,
      comparison,
      load: combineRounds(rounds.map((r) => r.load)),
      cpuMsPerRequest: cpus.length ? median(cpus) : null,
      peakRssBytes: peak.stop(),
    });
  }
  return { cases: results, skipped };
}

/**
 * Whether the run measures PGlite: only when `BENCH_PGLITE` is `1`/`true`/`yes`/`on` (it adds about 2.5 minutes
 * to a run, most of it seeding PGlite; see bench/README.md).
 * @throws Error for any other non-empty value
 */
export function pgliteWanted(env: string | undefined): boolean {
  const v = (env ?? '').trim();
  if (v === '' || /^(0|false|no|off)$/i.test(v)) return false;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  throw new Error(`BENCH_PGLITE must be 1 or 0, got '${env}'`);
}

/**
 * The PGlite part of a run: start the PGlite server (same seed size as PostgreSQL), check and measure it on the
 * run's cases it serves, stop it and remove its data directory. A server that does not start is a note in the
 * result, not a failed run; a differing answer or a failed request under load fails the run.
 * @returns null when none of `cases` is one PGlite serves
 */
export async function runPglite(
  cases: readonly BenchCase[],
  postgres: Parameters<typeof measurePgliteCases>[2],
  o: MeasureOptions,
  log: (line: string) => void,
  size: SeedSize = DEFAULT_SEED_SIZE,
): Promise<PgliteResult | null> {
  if (!cases.some((c) => PGLITE_CASE_IDS.includes(c.id))) return null;
  log('Starting Lattice on PGlite (temporary data directory, migrating and seeding the experiments data) ...');
  let server: PgliteServer;
  try {
    server = await startPgliteServer({ size });
  } catch (err) {
    const reason = `the PGlite server did not start: ${(err as Error).message.slice(0, 300)}`;
    log(reason);
    return { data: `PGlite: ${reason}`, cases: [], skipped: cases.map((c) => ({ id: c.id, reason })) };
  }
  try {
    const n = server.info.counts;
    const data =
      `PGlite: the same ${n.experiments} experiments, ${n.trials} trials, ${n.runs} runs, ${n.metrics} metrics in a temporary data directory ` +
      `(opened, migrated, seeded and analysed in ${server.info.seedSeconds.toFixed(1)} s; listening after ${server.startSeconds.toFixed(1)} s)`;
    log(data);
    return { data, ...(await measurePgliteCases(server, cases, postgres, o, log)) };
  } finally {
    await server.close();
  }
}

/**
 * `npm run bench` (SPEC §8 "Performance", issue 9 item 7): seed PostgreSQL, then measure side by side in one run
 * Lattice (GraphQL over HTTP, a project viewer key), the baseline (bare node:http + one hand-written SQL
 * statement) and the peers — PostGraphile 5 and a graphql-js + DataLoader server (`bench/peers/`, installed on
 * demand, skipped with a note when they cannot be) — answering the same queries: every case of
 * `bench/cases.ts`. Every server runs in a process of its own (CPU time and peak RSS read from /proc). Prints
 * markdown tables and writes them to `bench/results/latest.md`.
 *
 * Environment: BENCH_DATABASE_URL || TEST_DATABASE_URL || postgres://postgres@127.0.0.1:5432/postgres (a server
 * where the user may create databases; `lattice_bench` and `lattice_bench_catalog` are dropped and recreated),
 * BENCH_CASES (comma-separated case ids, default all query cases and `ingest`), BENCH_PEERS (comma-separated peer
 * ids or `none`, default all), BENCH_CONNECTIONS (10), BENCH_DURATION (5 s), BENCH_WARMUP (3 s), BENCH_ROUNDS (3);
 * the ingestion cases (`ingest.ts`): BENCH_INGEST_ROWS (200,000), BENCH_INGEST_CLIENTS (`1,4`), BENCH_INGEST_BATCH
 * (1,000); BENCH_PGLITE (`1` adds Lattice on PGlite, `pglite.ts`).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createApiKey } from '../src/auth/api-keys.js';
import type { Principal } from '../src/auth/principal.js';
import { migrate } from '../src/db/migrate/index.js';
import { openDb } from '../src/db/open.js';
import { principalParams, SETTING, statementTimeoutMs } from '../src/db/session.js';
import { REQUEST_ROLE, type Db } from '../src/db/types.js';
import { loadPreset } from '../src/model/load.js';
import type { Model } from '../src/model/types.js';
import { BASELINE_APPLICATION_NAME } from './baseline-server.js';
import { CASES, resolveCases, type BenchCase, type CaseContext } from './cases.js';
import { seedCatalog } from './catalog-seed.js';
import { buildOnce, compiledServerArgs } from './compiled.js';
import { LATTICE_APPLICATION_NAME } from './lattice-server.js';
import { baselineTarget, dataloaderTarget, latticeTarget, postgraphileTarget } from './load.js';
import { measureCase, type CaseResult, type CaseServer, type MeasureOptions, type ServerId } from './measure.js';
import { preparePeers, startDataLoaderServer, startPostGraphile, wantedPeers, type PeerId, type PeerStatus } from './peers.js';
import { startServerProcess, type ServerProcess } from './processes.js';
import { DEFAULT_INGEST_CASES, DEFAULT_INGEST_ROWS, INGEST_CASE_IDS, runIngestBench, type IngestCaseId, type IngestResult } from './ingest.js';
import { pgliteWanted, runPglite, type PgliteResult } from './pglite.js';
import { formatReport, type BenchReport } from './report.js';
import { createFreshDatabase, DEFAULT_SEED_SIZE, seed } from './seed.js';

const DB_NAME = 'lattice_bench';
const RESULTS_FILE = fileURLToPath(new URL('./results/latest.md', import.meta.url));
const REPO_DIR = fileURLToPath(new URL('../', import.meta.url));
const POSTGRAPHILE_APPLICATION_NAME = 'lattice-bench-postgraphile';
const DATALOADER_APPLICATION_NAME = 'lattice-bench-dataloader';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got '${raw}'`);
  return value;
}

const fmt = (n: number, digits = 1): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const int = (n: number): string => n.toLocaleString('en-US');

/**
 * Share (0–1) of all CPUs' time spent not idle during `ms` milliseconds, from `os.cpus()` tick counters.
 * @param ms sampling interval in milliseconds
 */
export async function measureCpuBusy(ms = 1000): Promise<number> {
  const totals = () =>
    os.cpus().reduce(
      (acc, c) => {
        const t = c.times;
        acc.all += t.user + t.nice + t.sys + t.idle + t.irq;
        acc.idle += t.idle;
        return acc;
      },
      { all: 0, idle: 0 },
    );
  const a = totals();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = totals();
  const all = b.all - a.all;
  return all > 0 ? Math.min(1, Math.max(0, 1 - (b.idle - a.idle) / all)) : 0;
}

/**
 * The settings Lattice sets for a principal's request transaction (`PRINCIPAL_SETTINGS_SQL`), as PostGraphile
 * `pgSettings`: the same role, principal and session settings, so the same row-level-security policies apply.
 */
export function principalPgSettings(principal: Principal): Record<string, string> {
  const [role, projectIds, userId, timeout, writeProjectIds] = principalParams(principal, statementTimeoutMs());
  return {
    role: REQUEST_ROLE,
    [SETTING.role]: role,
    [SETTING.projectIds]: projectIds,
    [SETTING.userId]: userId,
    statement_timeout: timeout,
    TimeZone: 'UTC',
    extra_float_digits: '1',
    [SETTING.writeProjectIds]: writeProjectIds,
  };
}

/** Start a server of this folder in its own process, compiled (`compiled.ts`: `node dist/bench/<file>.js`). */
async function startTsServer(name: string, file: string, env: Record<string, string>): Promise<ServerProcess> {
  await buildOnce();
  return startServerProcess({
    name,
    command: process.execPath,
    args: compiledServerArgs(file),
    cwd: REPO_DIR,
    env: { NODE_ENV: 'production', ...env },
  });
}

/** The servers of one database, started. */
interface DatabaseServers {
  readonly lattice: ServerProcess;
  readonly baseline: ServerProcess;
  readonly peers: Partial<Record<PeerId, ServerProcess>>;
  /** Peers that were available but did not start, and why. */
  readonly failed: Partial<Record<PeerId, string>>;
}

/** The request of each server for one case, and the servers left out with the reason. */
function caseServers(
  c: BenchCase,
  servers: DatabaseServers,
  peers: Record<PeerId, PeerStatus>,
  context: CaseContext,
  auth: string,
): { list: CaseServer[]; notMeasured: { server: ServerId; reason: string }[] } {
  const list: CaseServer[] = [
    { id: 'baseline', target: baselineTarget(servers.baseline.url, c, context.projectId), pid: servers.baseline.pid, applicationName: BASELINE_APPLICATION_NAME },
    { id: 'lattice', target: latticeTarget(servers.lattice.url, auth, c, context), pid: servers.lattice.pid, applicationName: LATTICE_APPLICATION_NAME },
  ];
  const notMeasured: { server: ServerId; reason: string }[] = [];
  // A peer skipped for the whole run is explained once, under "Servers"; a failed start here.
  const skipped = (id: PeerId): string | null => (peers[id].available ? (servers.failed[id] ?? null) : 'skipped (see Servers)');
  const pgl = servers.peers.postgraphile;
  const pglSkip = skipped('postgraphile');
  if ('notComparable' in c.postgraphile) notMeasured.push({ server: 'postgraphile', reason: c.postgraphile.notComparable });
  else if (pglSkip || !pgl) notMeasured.push({ server: 'postgraphile', reason: pglSkip ?? 'not started' });
  else {
    list.push({
      id: 'postgraphile',
      target: postgraphileTarget(pgl.url, c.postgraphile, context),
      toLattice: c.postgraphile.toLattice,
      pid: pgl.pid,
      applicationName: POSTGRAPHILE_APPLICATION_NAME,
    });
  }
  const dl = servers.peers.dataloader;
  const dlSkip = skipped('dataloader');
  if (dlSkip || !dl) notMeasured.push({ server: 'dataloader', reason: dlSkip ?? 'not started' });
  else list.push({ id: 'dataloader', target: dataloaderTarget(dl.url, c, context), pid: dl.pid, applicationName: DATALOADER_APPLICATION_NAME });
  return { list, notMeasured };
}

/**
 * Run the whole benchmark: every case of `CASES` (or those named in `BENCH_CASES`, comma-separated) on every
 * server (the peers named in `BENCH_PEERS`, default both).
 * @throws Error when PostgreSQL is unreachable, Lattice or the baseline does not start, two answers differ,
 *         or any request fails under load (a peer that cannot be installed or started is skipped instead)
 */
export async function runBench(log: (line: string) => void = console.log): Promise<BenchReport> {
  const cpuBusyAtStart = await measureCpuBusy();
  const adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const o: MeasureOptions = {
    connections: envNumber('BENCH_CONNECTIONS', 10),
    duration: envNumber('BENCH_DURATION', 5),
    warmup: envNumber('BENCH_WARMUP', 3),
    rounds: Math.max(1, Math.round(envNumber('BENCH_ROUNDS', 3))),
  };
  const withPglite = pgliteWanted(process.env.BENCH_PGLITE);
  const wanted = (process.env.BENCH_CASES ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const known = [...CASES.map((c) => c.id), ...INGEST_CASE_IDS];
  const unknown = wanted.filter((w) => !known.includes(w));
  if (unknown.length) throw new Error(`BENCH_CASES names unknown cases: ${unknown.join(', ')}; known: ${known.join(', ')}`);
  const cases = CASES.filter((c) => wanted.length === 0 || wanted.includes(c.id));
  const ingestCases = INGEST_CASE_IDS.filter((id) => (wanted.length === 0 ? DEFAULT_INGEST_CASES.includes(id) : wanted.includes(id)));
  // Only ingestion cases: no query servers, so no peers to install.
  const peers = await preparePeers(wantedPeers(cases.length ? process.env.BENCH_PEERS : 'none'), log);
  const peerLines = (Object.entries(peers) as [PeerId, PeerStatus][]).map(
    ([id, st]) => `${id === 'postgraphile' ? 'PostGraphile' : 'graphql-js + DataLoader'}: ${st.available ? st.versions : st.note}`,
  );

  const data: string[] = [];
  const results: CaseResult[] = [];
  let pglite: PgliteResult | null = null;
  let version = '';
  for (const database of ['experiments', 'catalog'] as const) {
    const here = cases.filter((c) => c.database === database);
    if (here.length === 0) continue;
    const closers: (() => Promise<unknown>)[] = [];
    try {
      const dbName = database === 'experiments' ? DB_NAME : `${DB_NAME}_catalog`;
      log(`Creating database ${dbName} on ${new URL(adminUrl).host} ...`);
      const url = await createFreshDatabase(adminUrl, dbName);
      const db = await openDb({ url });
      closers.push(() => db.close());
      const model = await loadPreset(database);
      await migrate(db, model);
      version ||= (await db.query<{ v: string }>(`SELECT 'PostgreSQL ' || current_setting('server_version') AS v`)).rows[0].v;
      const admin = await createApiKey(db, { projectId: null, role: 'admin', name: 'bench-seed' });
      const latticeEnv = { BENCH_SERVER_DATABASE_URL: url, BENCH_SERVER_PRESET: database, BENCH_SERVER_APPLICATION_NAME: LATTICE_APPLICATION_NAME };
      // The catalog is loaded through Lattice's REST ingestion; that server is then replaced by a fresh one so
      // the measured Lattice starts like every other server, without the heap the loading left behind.
      const loader = await startTsServer('Lattice', './lattice-server.ts', latticeEnv);
      let seeded: Awaited<ReturnType<typeof seedDatabase>>;
      try {
        seeded = await seedDatabase(database, db, model, loader.url, `Bearer ${admin.secret_key}`);
      } finally {
        await loader.close();
      }
      data.push(seeded.description);
      log(seeded.description);
      const lattice = await startTsServer('Lattice', './lattice-server.ts', latticeEnv);
      closers.push(() => lattice.close());
      const context = seeded.context;
      // The measured requests: a project viewer, so through row-level security like a real client's.
      const viewer = await createApiKey(db, { projectId: context.projectId, role: 'viewer', name: 'bench' });
      const auth = `Bearer ${viewer.secret_key}`;
      const principal: Principal = { kind: 'api_key', id: viewer.id, role: 'viewer', projectIds: [context.projectId] };
      // The catalog statements compute distances the way this server stores vectors (pgvector or real[]).
      const { rows: ext } = await db.query<{ on: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AS on`);
      const vectors = ext[0]?.on ? 'vector' : 'real[]';
      const resolved = resolveCases(here.map((c) => c.id), vectors);
      const baseline = await startTsServer('the baseline', './baseline-server.ts', {
        BENCH_SERVER_DATABASE_URL: url,
        BENCH_SERVER_CASES: resolved.map((c) => c.id).join(','),
        BENCH_SERVER_VECTORS: vectors,
        BENCH_SERVER_CONTEXT: JSON.stringify(context),
      });
      closers.push(() => baseline.close());
      const servers: DatabaseServers = { lattice, baseline, peers: {}, failed: {} };
      const startPeer = async (id: PeerId, start: () => Promise<ServerProcess>) => {
        if (!peers[id].available) return;
        try {
          const server = await start();
          closers.push(() => server.close());
          servers.peers[id] = server;
        } catch (err) {
          servers.failed[id] = `skipped: did not start (${(err as Error).message.slice(0, 300)})`;
          log(`${id}: ${servers.failed[id]}`);
        }
      };
      if (resolved.some((c) => !('notComparable' in c.postgraphile))) {
        await startPeer('postgraphile', () =>
          startPostGraphile({
            url,
            schemas: [model.dataSchema, model.systemSchema],
            settings: principalPgSettings(principal),
            applicationName: POSTGRAPHILE_APPLICATION_NAME,
          }),
        );
      }
      await startPeer('dataloader', () => startDataLoaderServer({ url, vectors, applicationName: DATALOADER_APPLICATION_NAME }));
      const stats = new pg.Client({ connectionString: url, application_name: 'lattice-bench-stats' });
      await stats.connect();
      closers.push(() => stats.end());
      for (const c of resolved) {
        const { list, notMeasured } = caseServers(c, servers, peers, context, auth);
        results.push(await measureCase(c, list, o, log, { client: stats, database: dbName }, notMeasured));
      }
      // Lattice on PGlite (issue 9), compared with the Lattice-on-PostgreSQL server still running here.
      if (database === 'experiments' && withPglite) {
        pglite = await runPglite(resolved, { url: lattice.url, auth, context }, o, log);
      }
    } finally {
      for (const close of closers.reverse()) await close();
    }
  }
  const ingest = ingestCases.length ? await runIngest(adminUrl, ingestCases, log) : undefined;
  if (!version) {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    version = (await client.query<{ v: string }>(`SELECT 'PostgreSQL ' || current_setting('server_version') AS v`).finally(() => client.end())).rows[0].v;
  }
  return {
    date: new Date().toISOString(),
    node: process.version,
    postgres: version,
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}`,
    cpuCount: os.cpus().length,
    cpuBusyAtStart,
    data,
    connections: o.connections,
    duration: o.duration,
    warmup: o.warmup,
    rounds: o.rounds,
    peers: peerLines,
    cases: results,
    ingest,
    pglite,
  };
}

/** The ingestion cases (`ingest.ts`) with the `BENCH_INGEST_*` settings. */
async function runIngest(adminUrl: string, ids: readonly IngestCaseId[], log: (line: string) => void): Promise<IngestResult> {
  const clients = (process.env.BENCH_INGEST_CLIENTS || '1,4').split(',').map((s) => Number(s.trim()));
  if (!clients.every((c) => Number.isInteger(c) && c >= 1)) throw new Error(`BENCH_INGEST_CLIENTS must list positive integers, got '${process.env.BENCH_INGEST_CLIENTS}'`);
  return runIngestBench(
    adminUrl,
    ids,
    { rows: Math.round(envNumber('BENCH_INGEST_ROWS', DEFAULT_INGEST_ROWS)), batchSize: Math.round(envNumber('BENCH_INGEST_BATCH', 1000)), clients, database: `${DB_NAME}_ingest` },
    log,
  );
}

/**
 * Fill one benchmark database.
 * @returns the request context of its cases and one line describing the data
 */
async function seedDatabase(
  database: 'experiments' | 'catalog',
  db: Db,
  model: Model,
  latticeUrl: string,
  auth: string,
): Promise<{ context: CaseContext; description: string }> {
  const started = performance.now();
  if (database === 'experiments') {
    const { projectId, experimentId, trialId, counts } = await seed(db, model, DEFAULT_SEED_SIZE);
    const seconds = (performance.now() - started) / 1000;
    return {
      context: { projectId, experimentId, trialId },
      description:
        `experiments: ${int(counts.projects)} project, ${int(counts.experiments)} experiments, ${int(counts.trials)} trials, ` +
        `${int(counts.runs)} runs, ${int(counts.metrics)} metrics (seeded and analysed in ${fmt(seconds)} s)`,
    };
  }
  const seeded = await seedCatalog(db, model, latticeUrl, auth);
  const seconds = (performance.now() - started) / 1000;
  return { context: seeded.context, description: `catalog: ${seeded.description} (loaded in ${fmt(seconds)} s)` };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  runBench()
    .then(async (report) => {
      const md = formatReport(report);
      await mkdir(new URL('./results/', import.meta.url), { recursive: true });
      await writeFile(RESULTS_FILE, md);
      console.log(`\n${md}`);
      console.log(`Written to bench/results/latest.md (total ${fmt((performance.now() - started) / 1000)} s).`);
    })
    .catch((err: unknown) => {
      console.error(`Benchmark failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    });
}

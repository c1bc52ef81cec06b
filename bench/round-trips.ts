/**
 * Micro-benchmark of the request transaction plumbing on PostgreSQL (issue 9 item 1): a point lookup of one
 * experiment by id (the REST `GET /api/v1/experiments/:id` statement from `readOne`, through row-level
 * security) sent in each of these ways:
 *
 * - `4 round trips (before)`: BEGIN; the named settings statement; the named data statement; COMMIT — each
 *   awaited, as `Db.withPrincipal` did before pipelining;
 * - `withPrincipal`: the lazily started transaction (BEGIN + settings + statement in one pipeline, then COMMIT);
 * - `one pipeline with explicit BEGIN … COMMIT`: all four in one pipeline with one Sync;
 * - `queryAs`: settings + statement in one pipeline, one Sync (implicit transaction): one round trip;
 * - `single statement, no RLS`: the data statement alone as the owner (`pool.query` with a named statement),
 *   like the hand-written baseline server: the floor.
 *
 * Reports, per mode: sequential latency (mean µs per request), throughput with 10 concurrent callers over a pool
 * of 10, and CPU per request of this process and of the pool's PostgreSQL backends (from /proc, so PostgreSQL
 * must run on this machine for that column). Run: `npx tsx bench/round-trips.ts` (`BENCH_DATABASE_URL` or
 * `TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`; creates and drops a scratch database).
 * `ROUNDS=3` repeats every measurement and keeps the best (the machine is shared).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Principal } from '../src/auth/principal.js';
import { migrate } from '../src/db/migrate/index.js';
import { PG_TYPES } from '../src/db/parsers.js';
import { openPostgres } from '../src/db/postgres.js';
import { preparedStep, resultsOf, runSteps } from '../src/db/prepared.js';
import { PRINCIPAL_SETTINGS_SQL, principalParams } from '../src/db/session.js';
import type { Db, Queryable } from '../src/db/types.js';
import { loadPreset } from '../src/model/load.js';
import { readOne } from '../src/rest/read.js';

const BASE_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SEQUENTIAL = Number(process.env.SEQUENTIAL ?? 5000);
const CONCURRENT_TOTAL = Number(process.env.CONCURRENT ?? 5000);
const WORKERS = 10;
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const APP = `lattice_rt_${randomBytes(3).toString('hex')}`;

type Lookup = (id: string) => Promise<unknown>;

/**
 * CPU (clock ticks) of every PostgreSQL process on this machine: utime + stime of each, plus the children's
 * times the postmaster collected from backends that exited (so a backend closing mid-measurement still counts).
 * Other clients of the same server add noise: hence the best of several rounds.
 */
function postgresTicks(): number {
  let sum = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      sum += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      /* gone */
    }
  }
  return sum;
}
const TICK_US = 1e6 / 100; // USER_HZ is 100 on Linux

async function measure(lookup: Lookup, ids: string[]) {
  for (let i = 0; i < 500; i++) await lookup(ids[i % ids.length]); // warm up: prepare on every connection
  let best = { seqUs: Infinity, rps: 0, nodeCpuUs: Infinity, pgCpuUs: Infinity };
  for (let round = 0; round < ROUNDS; round++) {
    let t = process.hrtime.bigint();
    for (let i = 0; i < SEQUENTIAL; i++) await lookup(ids[i % ids.length]);
    const seqUs = Number(process.hrtime.bigint() - t) / 1e3 / SEQUENTIAL;

    const pg0 = postgresTicks();
    const cpu0 = process.cpuUsage();
    t = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (next < CONCURRENT_TOTAL) await lookup(ids[next++ % ids.length]);
      }),
    );
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const pgTicks = postgresTicks() - pg0;
    const result = {
      seqUs,
      rps: CONCURRENT_TOTAL / seconds,
      nodeCpuUs: (cpu.user + cpu.system) / CONCURRENT_TOTAL,
      pgCpuUs: (pgTicks * TICK_US) / CONCURRENT_TOTAL,
    };
    best = {
      seqUs: Math.min(best.seqUs, result.seqUs),
      rps: Math.max(best.rps, result.rps),
      nodeCpuUs: Math.min(best.nodeCpuUs, result.nodeCpuUs),
      pgCpuUs: Math.min(best.pgCpuUs, result.pgCpuUs),
    };
  }
  return best;
}

async function main(): Promise<void> {
  const name = `lattice_rt_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  let db: Db | undefined;
  const pool = new pg.Pool({ connectionString: url.toString(), max: WORKERS, application_name: APP, types: PG_TYPES, options: '-c TimeZone=UTC' });
  pool.on('error', () => undefined); // connections ended by the final DROP DATABASE ... WITH (FORCE)
  try {
    db = await openPostgres({ connectionString: url.toString(), max: WORKERS, applicationName: APP });
    const model = await loadPreset('experiments');
    await migrate(db, model);
    const project = (await db.query<{ id: string }>(`INSERT INTO lattice.projects (name) VALUES ('bench') RETURNING id`)).rows[0].id;
    const ids = (
      await db.query<{ id: string }>(
        `INSERT INTO app.experiment (project_id, name) SELECT $1, 'e' || g FROM generate_series(1, 1000) g RETURNING id`,
        [project],
      )
    ).rows.map((r) => r.id);
    await db.query('ANALYZE');
    const entity = model.entities.get('experiment')!;
    const principal: Principal = { kind: 'api_key', id: 'bench', role: 'viewer', projectIds: [project] };
    const openDb = db;

    // The statement readOne sends (compiled once: every mode then does the same work in Node but the plumbing).
    let captured: { text: string; params: readonly unknown[] } | undefined;
    const capture: Queryable = { query: async (t, p) => ((captured = { text: t, params: p ?? [] }), openDb.queryAs(principal, t, p)) };
    await readOne(capture, model, principal, entity, ids[0]);
    const { text } = captured!;
    const paramsFor = (id: string) => captured!.params.map((p) => (p === ids[0] ? id : p));

    const settings = principalParams(principal, 30_000);
    const fourRoundTrips: Lookup = async (id) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query({ name: 'lattice_principal_settings', text: PRINCIPAL_SETTINGS_SQL, values: settings });
        const res = await client.query({ name: 'rt_point', text, values: paramsFor(id) });
        await client.query('COMMIT');
        return res.rows;
      } finally {
        client.release();
      }
    };
    const modes: Array<[string, Lookup]> = [
      ['4 round trips (before)', fourRoundTrips],
      ['withPrincipal (lazy BEGIN, then COMMIT)', (id) => openDb.withPrincipal(principal, (tx) => tx.query(text, paramsFor(id)))],
      ['one pipeline with explicit BEGIN … COMMIT', async (id) => {
        const client = await pool.connect();
        try {
          const steps = [{ text: 'BEGIN' }, { name: 'lattice_principal_settings', text: PRINCIPAL_SETTINGS_SQL, values: settings }, preparedStep(client, text, paramsFor(id)), { text: 'COMMIT' }];
          return resultsOf(await runSteps(client, steps, PG_TYPES))[2].rows;
        } finally {
          client.release();
        }
      }],
      ['queryAs (one pipeline, one Sync)', (id) => openDb.queryAs(principal, text, paramsFor(id))],
      ['single statement, no RLS (floor)', (id) => pool.query({ name: 'rt_floor', text, values: paramsFor(id) })],
    ];
    console.log(`PostgreSQL ${(await pool.query('SHOW server_version')).rows[0].server_version}; ${SEQUENTIAL} sequential + ${CONCURRENT_TOTAL} with ${WORKERS} concurrent callers; best of ${ROUNDS}\n`);
    console.log('| mode | sequential µs/request | req/s (10 concurrent) | Node CPU µs/request | PostgreSQL CPU µs/request |');
    console.log('|---|---|---|---|---|');
    for (const [label, lookup] of modes) {
      const r = await measure(lookup, ids);
      console.log(`| ${label} | ${r.seqUs.toFixed(0)} | ${r.rps.toFixed(0)} | ${r.nodeCpuUs.toFixed(0)} | ${r.pgCpuUs.toFixed(0)} |`);
    }
  } finally {
    await pool.end();
    await db?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

await main();

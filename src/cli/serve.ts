/**
 * `lattice serve` (SPEC C, S-1, A-5): load the model, open the database (PGlite on disk by default, locked
 * against a second process; or `DATABASE_URL`), migrate, listen, create the default project and admin key
 * on first start, print the URL, the key and a first query, and load the demo data on first start.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { DataDirLockedError, lockPathFor, openDb } from '../db/open.js';
import type { Db } from '../db/types.js';
import type { Model } from '../model/types.js';
import { demoForModel } from '../demo/registry.js';
import { buildServer } from '../server/app.js';
import { bootstrap, type BootstrapResult } from '../server/bootstrap.js';
import { loggerOptions } from '../server/logging.js';
import { CliError, type CliIo } from './io.js';
import { loadModelOption, migrateModel } from './model-option.js';
import type { AppContext } from '../server/context.js';
import { latestModelVersion } from '../model-change/registry.js';
import { watchModelFile } from '../model-change/watch.js';
import { loadModelDocument } from '../model/load.js';

/** Options of `lattice serve` after flag/environment resolution. */
export interface ServeOptions {
  port: number;
  host: string;
  /** PostgreSQL URL; when unset, PGlite in `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  preset: string;
  /** Model file; overrides `preset`. */
  model?: string;
  /** Load the demo data on first start of an empty database. */
  demo: boolean;
  credentialsFile?: string;
  /** pino level (`fatal` … `trace`, or `silent`). */
  logLevel: string;
  /**
   * `false` (`--no-introspection`) refuses GraphQL introspection (SPEC G-16); otherwise `LATTICE_INTROSPECTION`
   * decides (default on).
   */
  introspection?: boolean;
  /** Apply the model file (`model`, required) whenever it changes (SPEC M-7, `src/model-change/watch.ts`). */
  watch?: boolean;
}

/** A running server, as `startServe` returns it. */
export interface RunningServer {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly db: Db;
  readonly model: Model;
  readonly bootstrap: BootstrapResult;
  /** Settles when the first-start demo finished (or at once when none runs). Never rejects. */
  readonly demo: Promise<void>;
  /** Graceful shutdown: stop accepting, drain requests (Fastify close), then close the database. Idempotent. */
  close(): Promise<void>;
}

/** The address clients use: wildcard binds are reached through the loopback address. */
function publicUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

/** Record the server URL in the PGlite lock file (`<dataDir>.lock`) so CLIs can find the running server. */
function recordUrlInLock(dataDir: string, url: string): void {
  const file = lockPathFor(dataDir);
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as { pid?: number };
    if (info.pid === process.pid) writeFileSync(file, JSON.stringify({ ...info, url }), { mode: 0o600 });
  } catch {
    /* no lock file (in-memory PGlite): nothing to record */
  }
}

/** The banner's first query: the preset demo's, else one that works for every model. */
function firstQuery(model: Model): string {
  return demoForModel(model.name)?.firstQuery ?? '{ projects { id name } }';
}

/** The banner: URL, key, and a first query to paste. */
function printBanner(io: CliIo, url: string, where: string, model: Model, boot: BootstrapResult): void {
  const rel = path.relative(process.cwd(), boot.credentialsFile) || boot.credentialsFile;
  io.out('');
  io.out(`Lattice is running at ${url}  (model "${model.name}", ${where})`);
  io.out(`  GraphQL  ${url}/graphql`);
  io.out(`  REST     ${url}/api/v1/…   health ${url}/api/health`);
  io.out('');
  const c = boot.credentials;
  let auth: string;
  if (boot.created && c) {
    io.out(`First start: created project "default" (${c.project_id}) and an admin key. The secret is shown only now`);
    io.out(`and saved to ${rel} (mode 0600):`);
    io.out(`  public key  ${c.public_key}`);
    io.out(`  secret key  ${c.secret_key}`);
    auth = c.secret_key;
  } else if (c) {
    io.out(`Admin key ${c.public_key} (secret in ${rel})${boot.stale ? ' — WARNING: this database does not know that key' : ''}`);
    io.out(`  export LATTICE_KEY=$(node -p "JSON.parse(require('fs').readFileSync('${rel}','utf8')).secret_key")`);
    auth = '$LATTICE_KEY';
  } else {
    io.out(`No credentials file at ${rel}: use an API key you created earlier (lattice key create …).`);
    auth = '$LATTICE_KEY';
  }
  io.out('');
  io.out('Try it:');
  io.out(`  curl -s ${url}/graphql -H "Authorization: Bearer ${auth}" -H 'content-type: application/json' \\`);
  io.out(`    -d '${JSON.stringify({ query: firstQuery(model) })}'`);
  io.out('');
}

/**
 * The model to serve at start: the file's (or preset's), unless the database's latest version was applied at
 * run time (`PUT /api/v1/model`, `lattice model apply`: source `api`) and differs from it — then that version,
 * so a restart or a new instance never undoes or trips over an admin's change (SPEC M-7). Said on stderr.
 */
async function startModel(db: Db, fileModel: Model, options: ServeOptions, io: CliIo): Promise<Model> {
  const latest = await latestModelVersion(db, fileModel.systemSchema).catch(() => null);
  if (!latest || latest.source !== 'api' || latest.hash === fileModel.hash) return fileModel;
  try {
    const recorded = loadModelDocument(latest.document);
    const from = options.model ?? `the ${options.preset} preset`;
    io.err(
      `Serving model version ${latest.version}, applied at run time on ${latest.applied_at}, instead of ${from} (they differ). ` +
        `To serve the file again: lattice model apply ${options.model ?? '<file>'}.`,
    );
    return recorded;
  } catch {
    return fileModel;
  }
}

/**
 * Start the server.
 * @throws CliError for a held data directory, an unusable model, or a port in use
 */
export async function startServe(options: ServeOptions, io: CliIo): Promise<RunningServer> {
  if (options.watch && !options.model) throw new CliError('--watch applies a model file when it changes: pass --model <file> too.');
  const fileModel = await loadModelOption(options);
  let db: Db;
  try {
    db = await openDb({ url: options.databaseUrl, dataDir: options.dataDir });
  } catch (err) {
    if (err instanceof DataDirLockedError) throw new CliError(err.message);
    throw new CliError(`Cannot open the database: ${(err as Error).message}`);
  }
  const where = options.databaseUrl ? 'PostgreSQL' : `PGlite ${options.dataDir}`;
  let app: FastifyInstance | undefined;
  let ctx: AppContext | undefined;
  let model: Model = fileModel;
  let modelVersion = 0;
  try {
    model = await startModel(db, fileModel, options, io);
    const migrated = await migrateModel(db, model, io);
    modelVersion = migrated.version;
    // Opens the request login now that migrations gave the role LOGIN: a required login that fails stops the start.
    await db.requestIsolation?.();
    const config = options.introspection === false ? { introspection: false } : {};
    ({ app, ctx } = await buildServer({ db, model, modelVersion, config, logger: loggerOptions({ level: options.logLevel }) }));
    try {
      await app.listen({ port: options.port, host: options.host });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new CliError(`Port ${options.port} on ${options.host} is already in use: pass --port <another> (or set PORT).`);
      }
      throw err;
    }
  } catch (err) {
    await app?.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = publicUrl(options.host, port);
  if (!options.databaseUrl) recordUrlInLock(options.dataDir, url);
  const boot = await bootstrap(db, { url, credentialsFile: options.credentialsFile });
  printBanner(io, url, where, model, boot);

  let demo: Promise<void> = Promise.resolve();
  const presetDemo = demoForModel(model.name);
  if (boot.created && boot.credentials && options.demo && presetDemo) {
    const creds = boot.credentials;
    demo = (async () => {
      io.out(`Loading the demo data (${presetDemo.loading}; --no-demo skips this) …`);
      const started = performance.now();
      try {
        const summary = await presetDemo.run({ baseUrl: url, auth: `Bearer ${creds.secret_key}`, projectId: creds.project_id, log: (l) => io.out(`[demo] ${l}`) });
        io.out(`Demo data loaded in ${((performance.now() - started) / 1000).toFixed(1)} s: ${summary}.`);
      } catch (err) {
        const retry = model.name === 'experiments' ? 'lattice demo' : `lattice demo --preset ${model.name}`;
        io.err(`The demo data could not be loaded: ${(err as Error).message}. The server keeps running; retry with \`${retry}\`.`);
      }
    })();
  }

  let stopWatching: (() => Promise<void>) | undefined;
  if (options.watch && options.model && ctx?.models) {
    const file = options.model;
    stopWatching = watchModelFile(file, db, ctx.models, {
      onResult: (outcome) => {
        if ('error' in outcome) {
          io.err(`${file} changed but was not applied (still serving version ${ctx?.models?.version}): ${outcome.error.message}`);
        } else if (outcome.result.applied) {
          io.err(`${file} changed: now serving version ${outcome.result.version} (${outcome.result.changes.map((c) => c.message).join('; ') || 'no model changes'}).`);
        }
      },
    });
    io.err(`Watching ${file}: changes are applied as they are saved (destructive ones are refused).`);
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      try {
        await stopWatching?.();
        await app.close();
      } finally {
        await db.close();
      }
    })());
  return { url, app, db, model, bootstrap: boot, demo, close };
}

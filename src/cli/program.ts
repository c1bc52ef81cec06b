/**
 * The `lattice` command line (SPEC C): `serve`, `migrate`, `schema print`, `openapi`, `project create|list`,
 * `key create|list|revoke`, `user create|list`, `member add|list|remove`, `model show|diff|apply`, `demo`. Flags, then environment (`PORT`, `HOST`, `DATABASE_URL`, `LATTICE_DATA_DIR`,
 * `LATTICE_LOG_LEVEL`, `LATTICE_INTROSPECTION`), then defaults.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_DATA_DIR, openDb, DataDirLockedError } from '../db/open.js';
import { demoForModel, demoModels } from '../demo/registry.js';
import { DEFAULT_CREDENTIALS_FILE, readCredentials } from '../server/bootstrap.js';
import { authorizationFor, DEFAULT_URL, resolveAdminTarget, type AdminTarget, type TargetOptions } from './admin-target.js';
import { CliError, processIo, type CliIo } from './io.js';
import { loadModelOption, migrateModel } from './model-option.js';
import { runIngest } from './ingest.js';
import { openapiText, schemaSdl } from './schema.js';
import { startServe, type ServeOptions } from './serve.js';
import { stringify as stringifyYaml } from 'yaml';
import type { ModelChangeResult } from '../model-change/apply.js';
import type { ApiKeyInfo } from '../auth/api-keys.js';
import { UUID_RE } from '../uuid.js';

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected an integer port 0–65535.');
  return n;
}

const ROLES = ['owner', 'editor', 'viewer'];

function parseUuid(value: string): string {
  if (!UUID_RE.test(value)) throw new InvalidArgumentError('expected a UUID like 0190f7d2-6c1e-7a3b-9f00-4a5b6c7d8e9f.');
  return value.toLowerCase();
}

/** Units of `--expires-in`, in milliseconds. */
const DURATION_UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `--expires-in`: a whole number and a unit — `90m`, `12h`, `30d`, `2w` — as the ISO-8601 instant that far from now.
 * @throws InvalidArgumentError for anything else
 */
export function parseExpiresIn(value: string, now: Date = new Date()): string {
  const m = /^\s*(\d{1,6})\s*([mhdw])\s*$/i.exec(value);
  if (!m || Number(m[1]) === 0) throw new InvalidArgumentError('expected a positive duration like 90m, 12h, 30d or 2w (minutes, hours, days, weeks).');
  return new Date(now.getTime() + Number(m[1]) * DURATION_UNITS[m[2].toLowerCase()]).toISOString();
}

function addModelOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--preset <name>', 'shipped model preset').default('experiments'))
    .addOption(new Option('--model <file>', 'model file (.yaml, .json, .ts); overrides --preset'))
    .addOption(new Option('--database-url <url>', 'PostgreSQL URL (default: embedded PGlite)').env('DATABASE_URL'))
    .addOption(new Option('--data-dir <dir>', 'PGlite data directory').env('LATTICE_DATA_DIR').default(DEFAULT_DATA_DIR));
}

function addTargetOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', `running server (default: url in ${DEFAULT_CREDENTIALS_FILE}, else ${DEFAULT_URL})`)
    .option('--key <secret>', `admin or owner key (default: the key in ${DEFAULT_CREDENTIALS_FILE}); "pk:sk" for Basic`)
    .option('--database-url <url>', 'act directly on this PostgreSQL instead of a server')
    .option('--data-dir <dir>', 'PGlite data directory, used only when no server answers (refused while a server holds it)')
    .option('--credentials-file <file>', 'credentials file', DEFAULT_CREDENTIALS_FILE)
    .option('--json', 'print JSON');
}

type TargetFlags = TargetOptions & { json?: boolean };

async function withTarget<T>(flags: TargetFlags, io: CliIo, fn: (t: AdminTarget) => Promise<T>): Promise<T> {
  const target = await resolveAdminTarget(flags, io);
  try {
    return await fn(target);
  } finally {
    await target.close();
  }
}

/** Build the program; actions write through `io`. `onServe` receives the running server (main waits on signals). */
export function buildProgram(io: CliIo = processIo): Command {
  const program = new Command('lattice')
    .description('Lattice: a data model served as typed PostgreSQL tables, REST and one-statement GraphQL.')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) });

  addModelOptions(
    program
      .command('serve')
      .description('start the server (PGlite in ./.lattice/data unless --database-url / DATABASE_URL)')
      .addOption(new Option('--port <port>', 'port').env('PORT').default(4000).argParser(parsePort))
      .addOption(new Option('--host <host>', 'interface to bind').env('HOST').default('127.0.0.1'))
      .option('--no-demo', 'do not load the demo data on first start')
      .option('--no-introspection', 'refuse GraphQL introspection (__schema, __type); also LATTICE_INTROSPECTION=false')
      .option('--watch', 'apply the --model file whenever it changes, without a restart (development; destructive changes refused)')
      .option('--credentials-file <file>', 'where the first-start admin key is stored', DEFAULT_CREDENTIALS_FILE)
      .addOption(
        new Option('--log-level <level>', 'pino log level (default: warn on a terminal, info otherwise)')
          .env('LATTICE_LOG_LEVEL')
          .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
      ),
  ).action(async (flags: Omit<ServeOptions, 'logLevel'> & { logLevel?: string }) => {
    const server = await startServe({ ...flags, logLevel: flags.logLevel ?? (process.stdout.isTTY ? 'warn' : 'info') }, io);
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        io.err(`${signal}: shutting down (draining requests) …`);
        server.close().then(resolve, (err: unknown) => {
          io.err(`Shutdown error: ${(err as Error).message}`);
          resolve();
        });
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
  });

  addModelOptions(program.command('migrate').description('bring the database to the model (S-3)'))
    .option('--dry-run', 'print the DDL without executing it')
    .action(async (flags: { preset: string; model?: string; databaseUrl?: string; dataDir: string; dryRun?: boolean }) => {
      const model = await loadModelOption(flags);
      let db;
      try {
        db = await openDb({ url: flags.databaseUrl, dataDir: flags.dataDir });
      } catch (err) {
        if (err instanceof DataDirLockedError) throw new CliError(err.message);
        throw new CliError(`Cannot open the database: ${(err as Error).message}`);
      }
      try {
        await migrateModel(db, model, io, { dryRun: flags.dryRun });
      } finally {
        await db.close();
      }
    });

  const schema = program.command('schema').description('the GraphQL schema of a model');
  schema
    .command('print')
    .description('print the GraphQL SDL of the model given by --preset / --model (no database needed)')
    .addOption(new Option('--preset <name>', 'shipped model preset').default('experiments'))
    .addOption(new Option('--model <file>', 'model file (.yaml, .json, .ts); overrides --preset'))
    .action(async (flags: { preset: string; model?: string }) => {
      io.out(schemaSdl(await loadModelOption(flags)));
    });

  program
    .command('openapi')
    .description('print the OpenAPI 3.1 document of the REST API of the model given by --preset / --model (no database needed)')
    .addOption(new Option('--preset <name>', 'shipped model preset').default('experiments'))
    .addOption(new Option('--model <file>', 'model file (.yaml, .json, .ts); overrides --preset'))
    .action(async (flags: { preset: string; model?: string }) => {
      io.out(openapiText(await loadModelOption(flags)));
    });

  const project = program.command('project').description('manage projects (admin)');
  addTargetOptions(project.command('create').description('create a project').requiredOption('--name <name>', 'project name')).action(
    async (flags: TargetFlags & { name: string }) => {
      const p = await withTarget(flags, io, (t) => t.createProject(flags.name));
      if (flags.json) io.out(JSON.stringify(p));
      else io.out(`Created project "${p.name}": ${p.id}\nCreate a key for it: lattice key create --project ${p.id} --role editor`);
    },
  );
  addTargetOptions(project.command('list').description('list projects')).action(async (flags: TargetFlags) => {
    const items = await withTarget(flags, io, (t) => t.listProjects());
    if (flags.json) io.out(JSON.stringify(items));
    else for (const p of items) io.out(`${p.id}  ${p.name}`);
  });

  const key = program.command('key').description('manage API keys (admin, or an owner key of the project)');
  addTargetOptions(
    key
      .command('create')
      .description('create an API key for a project; the secret is printed once')
      .requiredOption('--project <id>', 'project id')
      .addOption(new Option('--role <role>', 'role of the key').choices(ROLES).makeOptionMandatory())
      .option('--name <name>', 'a label for the key')
      .addOption(new Option('--expires-in <duration>', 'the key stops working after this long: 90m, 12h, 30d, 2w').argParser((v) => parseExpiresIn(v)).conflicts('expiresAt'))
      .option('--expires-at <date>', 'the key stops working at this ISO-8601 date-time (2026-12-31T00:00:00Z) or date (midnight UTC)'),
  ).action(async (flags: TargetFlags & { project: string; role: string; name?: string; expiresIn?: string; expiresAt?: string }) => {
    const k = await withTarget(flags, io, (t) => t.createKey(flags.project, flags.role, flags.name, flags.expiresIn ?? flags.expiresAt));
    if (flags.json) io.out(JSON.stringify(k));
    else {
      io.out(`Created ${k.role} key ${k.id} for project ${k.project_id}${k.expires_at ? `, expiring at ${k.expires_at}` : ''}. The secret is shown only now:`);
      io.out(`  public key  ${k.public_key}\n  secret key  ${k.secret_key}`);
      io.out(`Use it as "Authorization: Bearer ${k.secret_key}".`);
    }
  });
  addTargetOptions(key.command('list').description("list a project's keys (no secrets)").requiredOption('--project <id>', 'project id')).action(
    async (flags: TargetFlags & { project: string }) => {
      const items = await withTarget(flags, io, (t) => t.listKeys(flags.project));
      if (flags.json) io.out(JSON.stringify(items));
      else for (const k of items) io.out(`${k.id}  ${k.role.padEnd(6)}  ${k.public_key}  ${keyState(k)}  last used ${k.last_used_at ?? 'never'}  ${k.name ?? ''}`);
    },
  );
  addTargetOptions(
    key.command('revoke').description('revoke a key').argument('<key-id>', 'id of the key').requiredOption('--project <id>', 'project id'),
  ).action(async (keyId: string, flags: TargetFlags & { project: string }) => {
    const k = await withTarget(flags, io, (t) => t.revokeKey(flags.project, keyId));
    if (flags.json) io.out(JSON.stringify(k));
    else io.out(`Revoked key ${k.id} (${k.public_key}) at ${k.revoked_at}.`);
  });

  const user = program.command('user').description('manage users (admin); users of tokens and proxy identities also appear on first sign-in');
  addTargetOptions(
    user
      .command('create')
      .description('create a user, e.g. to make it a member of projects before its first sign-in')
      .requiredOption('--subject <subject>', "the subject its tokens carry (the JWT sub claim) or the proxy's X-Lattice-User-Id")
      .option('--issuer <iss>', "the tokens' issuer (iss claim) exactly; omit for proxy identities and tokens without iss")
      .option('--email <email>', 'email address')
      .option('--name <name>', 'display name'),
  ).action(async (flags: TargetFlags & { subject: string; issuer?: string; email?: string; name?: string }) => {
    const u = await withTarget(flags, io, (t) => t.createUser({ subject: flags.subject, issuer: flags.issuer, email: flags.email, name: flags.name }));
    if (flags.json) io.out(JSON.stringify(u));
    else io.out(`Created user ${u.id} (subject ${JSON.stringify(u.subject)}).\nAdd it to a project: lattice member add --project <id> --user ${u.id} --role viewer`);
  });
  addTargetOptions(user.command('list').description('list users')).action(async (flags: TargetFlags) => {
    const items = await withTarget(flags, io, (t) => t.listUsers());
    if (flags.json) io.out(JSON.stringify(items));
    else for (const u of items) io.out(`${u.id}  ${u.subject ?? ''}  ${u.issuer ? `(issuer ${u.issuer})` : ''}  ${u.email ?? ''}  ${u.name ?? ''}`.trimEnd());
  });

  const member = program.command('member').description("manage a project's members (admin, or an owner of the project)");
  addTargetOptions(
    member
      .command('add')
      .description("add a user to a project with a role, or change a member's role")
      .requiredOption('--project <id>', 'project id', parseUuid)
      .requiredOption('--user <id>', 'user id (lattice user list)', parseUuid)
      .addOption(new Option('--role <role>', 'role in the project').choices(ROLES).makeOptionMandatory()),
  ).action(async (flags: TargetFlags & { project: string; user: string; role: string }) => {
    const m = await withTarget(flags, io, (t) => t.setMember(flags.project, flags.user, flags.role));
    if (flags.json) io.out(JSON.stringify(m));
    else io.out(`User ${m.user_id} is ${m.role} of project ${m.project_id}.`);
  });
  addTargetOptions(member.command('list').description("list a project's members").requiredOption('--project <id>', 'project id', parseUuid)).action(
    async (flags: TargetFlags & { project: string }) => {
      const items = await withTarget(flags, io, (t) => t.listMembers(flags.project));
      if (flags.json) io.out(JSON.stringify(items));
      else for (const m of items) io.out(`${m.user_id}  ${m.role.padEnd(6)}  ${m.subject ?? ''}  ${m.email ?? ''}`.trimEnd());
    },
  );
  addTargetOptions(
    member
      .command('remove')
      .description('remove a user from a project')
      .requiredOption('--project <id>', 'project id', parseUuid)
      .requiredOption('--user <id>', 'user id', parseUuid),
  ).action(async (flags: TargetFlags & { project: string; user: string }) => {
    const m = await withTarget(flags, io, (t) => t.removeMember(flags.project, flags.user));
    if (flags.json) io.out(JSON.stringify(m));
    else io.out(`Removed user ${m.user_id} (${m.role}) from project ${m.project_id}.`);
  });

  const modelCmd = program.command('model').description('the served model: show it, diff a file against it, apply a file at run time (M-7)');
  addTargetOptions(modelCmd.command('show').description('print the served model document and its version')).action(async (flags: TargetFlags) => {
    const served = await withTarget(flags, io, (t) => t.getModel());
    if (flags.json) io.out(JSON.stringify(served));
    else {
      io.out(`# model "${served.name}", version ${served.version}, hash ${served.hash}`);
      io.out(stringifyYaml(served.document).trimEnd());
    }
  });
  addTargetOptions(
    modelCmd.command('diff').description('what applying a model file would change, and its DDL (nothing applied)').argument('<file>', 'model file (.yaml, .json, .ts)'),
  ).action(async (file: string, flags: TargetFlags) => {
    const model = await loadModelOption({ model: file });
    const result = await withTarget(flags, io, (t) => t.diffModel(model.document));
    if (flags.json) return io.out(JSON.stringify(result));
    printChanges(io, result);
    if (result.statements.length) {
      io.out('');
      io.out(`-- DDL (${result.statements.length} statements) that \`lattice model apply\` would run as version ${result.version}:`);
      for (const statement of result.statements) io.out(`${statement};`);
    }
    if (result.destructive.length) io.out(`\n${result.destructive.length} destructive change(s): apply with --allow-destructive to carry them out.`);
  });
  addTargetOptions(
    modelCmd
      .command('apply')
      .description('apply a model file as the new version; running servers swap to it without a restart')
      .argument('<file>', 'model file (.yaml, .json, .ts)')
      .option('--allow-destructive', 'carry out changes that drop or convert data (listed by `lattice model diff`)'),
  ).action(async (file: string, flags: TargetFlags & { allowDestructive?: boolean }) => {
    const model = await loadModelOption({ model: file });
    const result = await withTarget(flags, io, (t) => t.applyModel(model.document, flags.allowDestructive === true));
    if (flags.json) return io.out(JSON.stringify(result));
    printChanges(io, result);
    io.out(result.applied ? `Applied model "${result.name}" as version ${result.version} (${result.statements.length} statements).` : `Nothing to apply: version ${result.version} is this model.`);
  });

  program
    .command('demo')
    .description(
      'load a preset\'s demo data into a running server through REST: experiments (train classifiers on Iris), ' +
        'catalog (the npm packages in node_modules) or traces (a retrieval assistant over the docs, sent over OTLP)',
    )
    .option('--preset <name>', `preset whose demo to load (${demoModels().join(', ')}); the server must serve that preset`, 'experiments')
    .option('--node-modules-root <dir>', 'catalog: the folder holding package.json and node_modules (default: Lattice\'s own)')
    .option('--url <url>', `server (default: url in ${DEFAULT_CREDENTIALS_FILE}, else ${DEFAULT_URL})`)
    .option('--key <secret>', 'a key that may write (default: the key in the credentials file)')
    .option('--project <id>', 'target project (default: the credentials file project)')
    .option('--credentials-file <file>', 'credentials file', DEFAULT_CREDENTIALS_FILE)
    .action(async (flags: { preset: string; nodeModulesRoot?: string; url?: string; key?: string; project?: string; credentialsFile: string }) => {
      const demo = demoForModel(flags.preset);
      if (!demo) throw new CliError(`The preset "${flags.preset}" has no demo; presets with one: ${demoModels().join(', ')}.`);
      const creds = await readCredentials(flags.credentialsFile);
      const key = flags.key ?? creds?.secret_key;
      if (!key) throw new CliError(`No key: pass --key <secret> or run from the folder holding ${DEFAULT_CREDENTIALS_FILE}.`);
      const baseUrl = flags.url ?? (creds?.url || DEFAULT_URL);
      const projectId = flags.project ?? (flags.key ? undefined : creds?.project_id || undefined);
      const summary = await demo.run({ baseUrl, auth: authorizationFor(key), projectId, rootDir: flags.nodeModulesRoot, log: (l) => io.out(l) });
      io.out(`Demo data loaded into ${baseUrl}: ${summary}.`);
    });

  program
    .command('ingest')
    .description('stream a JSONL or CSV file into a running server through REST in batches (resumable; rejected lines reported)')
    .argument('<file>', 'a .jsonl file (one object per line) or a .csv file (header row = field names)')
    .option('--entity <name>', 'entity of the rows (not with --format langfuse)')
    .addOption(new Option('--format <format>', 'input format; auto: by extension').choices(['auto', 'jsonl', 'csv', 'langfuse']).default('auto'))
    .option('--delimiter <char>', 'CSV delimiter', ',')
    .option('--batch-size <n>', 'events per request (at most 1000)', (v) => Number(v), 500)
    .option('--concurrency <n>', 'batches in flight', (v) => Number(v), 3)
    .option('--restart', 'ignore an existing checkpoint and start from the first line')
    .option('--url <url>', `server (default: url in ${DEFAULT_CREDENTIALS_FILE}, else ${DEFAULT_URL})`)
    .option('--key <secret>', 'a key that may write: secret, or public:secret (default: the key in the credentials file)')
    .option('--project <id>', 'target project of the rows (default: the credentials file project)')
    .option('--credentials-file <file>', 'credentials file', DEFAULT_CREDENTIALS_FILE)
    .action(async (file: string, flags: { entity?: string; format: 'auto' | 'jsonl' | 'csv' | 'langfuse'; delimiter: string; batchSize: number; concurrency: number; restart?: boolean; url?: string; key?: string; project?: string; credentialsFile: string }) => {
      const creds = await readCredentials(flags.credentialsFile);
      const key = flags.key ?? creds?.secret_key;
      if (!key) throw new CliError(`No key: pass --key <secret> or run from the folder holding ${DEFAULT_CREDENTIALS_FILE}.`);
      const abort = new AbortController();
      const onSigint = () => {
        io.err('SIGINT: finishing the batches in flight, then stopping; rerun the same command to resume.');
        abort.abort();
      };
      process.once('SIGINT', onSigint);
      try {
        const s = await runIngest(
          {
            file, entity: flags.entity, format: flags.format, delimiter: flags.delimiter, batchSize: flags.batchSize, concurrency: flags.concurrency,
            restart: flags.restart, url: flags.url ?? (creds?.url || DEFAULT_URL), auth: authorizationFor(key),
            projectId: flags.format === 'langfuse' ? undefined : flags.project ?? (flags.key ? undefined : creds?.project_id || undefined),
            signal: abort.signal, progress: process.stderr.isTTY ? 'bar' : 'lines',
          },
          io,
        );
        if (s.interrupted) throw new CliError(`Interrupted: ${s.accepted} rows accepted so far; rerun the same command to resume.`);
        io.out(`Ingested ${file}: ${s.accepted} rows accepted, ${s.rejected} rejected, ${s.batches} batches in ${s.seconds.toFixed(1)} s (${Math.round((s.accepted + s.rejected) / Math.max(s.seconds, 0.001))} rows/s)${s.resumedFromLine ? `, resumed after line ${s.resumedFromLine}` : ''}.`);
        if (s.rejected) throw new CliError(`${s.rejected} line(s) were rejected; their line numbers and reasons are in ${s.rejectedFile}.`, 2);
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });

  return program;
}

/** `active`, `revoked <when>`, `expired <when>` or `expires <when>`. */
function keyState(k: ApiKeyInfo): string {
  if (k.revoked_at) return `revoked ${k.revoked_at}`;
  if (k.expires_at) return Date.parse(k.expires_at) <= Date.now() ? `expired ${k.expires_at}` : `active, expires ${k.expires_at}`;
  return 'active';
}

/** One line per model change: `+` added, `-` removed, `~` changed; destructive ones marked. */
function printChanges(io: CliIo, result: ModelChangeResult): void {
  if (!result.changes.length) io.out('No changes to the model.');
  for (const c of result.changes) {
    const mark = c.op === 'add' ? '+' : c.op === 'remove' ? '-' : '~';
    io.out(`${mark} ${c.path}: ${c.message}${c.destructive ? '  [destructive]' : ''}`);
  }
}

/**
 * Run the CLI on `argv` (user arguments only, without `node` and the script).
 * @returns the exit code (0 success, 1 user error or failure); never throws
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) return e.exitCode ?? 1; // commander already printed
    if (err instanceof CliError) {
      io.err(`Error: ${err.message}`);
      return err.exitCode;
    }
    const detail = process.env.LATTICE_DEBUG ? (err as Error).stack : (err as Error).message;
    io.err(`Error: ${detail ?? String(err)}`);
    return 1;
  }
}

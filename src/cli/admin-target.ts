/**
 * Where `lattice project …` / `key …` / `user …` / `member …` / `model …` act (issue 2, item 6):
 *
 * 1. `--database-url` → directly on that PostgreSQL (many clients may share it);
 * 2. otherwise a running server (`--url`, else the url in `.lattice/credentials`, else http://127.0.0.1:4000)
 *    through the admin endpoints, authenticated with `--key` or the credentials file's admin key;
 * 3. no server answering: `DATABASE_URL` from the environment → that PostgreSQL; else, when a live server
 *    holds the PGlite data directory and recorded its URL in the lock file, through that server; else the
 *    data directory opened directly — which `openDb` refuses (DataDirLockedError) while another process
 *    holds it, so the directory is never opened twice.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createApiKey, listApiKeys, parseExpiry, revokeApiKey, type ApiKeyInfo, type CreatedApiKey } from '../auth/api-keys.js';
import { listMembers, removeMembership, setMembership, type MemberInfo } from '../auth/memberships.js';
import { isProjectRole } from '../auth/principal.js';
import { createProject, getProject, listProjects, type ProjectInfo } from '../auth/projects.js';
import { createUser, getUser, listUsers, type NewUser, type UserInfo } from '../auth/users.js';
import { DataDirLockedError, DEFAULT_DATA_DIR, openDb, readDataDirLock } from '../db/open.js';
import type { Db } from '../db/types.js';
import { readCredentials, DEFAULT_CREDENTIALS_FILE } from '../server/bootstrap.js';
import { AdminClient, ServerError, UnreachableError, type ServedModel } from './client.js';
import { changeModel, type ModelChangeResult } from '../model-change/apply.js';
import { latestModelVersion } from '../model-change/registry.js';
import { loadModelDocument } from '../model/load.js';
import type { Model } from '../model/types.js';
import { LatticeError } from '../errors.js';
import { CliError, type CliIo } from './io.js';

/** The administration operations, over HTTP or directly on the database. */
export interface AdminTarget {
  /** Human description, e.g. `server http://127.0.0.1:4000` or `PGlite data directory ./.lattice/data`. */
  readonly description: string;
  createProject(name: string): Promise<ProjectInfo>;
  listProjects(): Promise<ProjectInfo[]>;
  /** @param expiresAt ISO-8601 instant (or date) after which the key is refused; omitted: never */
  createKey(projectId: string, role: string, name?: string, expiresAt?: string): Promise<CreatedApiKey>;
  listKeys(projectId: string): Promise<ApiKeyInfo[]>;
  revokeKey(projectId: string, keyId: string): Promise<ApiKeyInfo>;
  createUser(user: NewUser): Promise<UserInfo>;
  listUsers(): Promise<UserInfo[]>;
  /** Add a member, or set the role of one. */
  setMember(projectId: string, userId: string, role: string): Promise<MemberInfo>;
  listMembers(projectId: string): Promise<MemberInfo[]>;
  removeMember(projectId: string, userId: string): Promise<MemberInfo>;
  /** The served (server) or latest recorded (database) model. */
  getModel(): Promise<ServedModel>;
  /** What applying `document` would change (SPEC M-7); nothing is applied. */
  diffModel(document: unknown): Promise<ModelChangeResult>;
  /** Apply `document` as the new model version; running servers swap to it. */
  applyModel(document: unknown, allowDestructive: boolean): Promise<ModelChangeResult>;
  close(): Promise<void>;
}

/** Options shared by the project/key commands. */
export interface TargetOptions {
  url?: string;
  key?: string;
  databaseUrl?: string;
  dataDir?: string;
  credentialsFile?: string;
}

export const DEFAULT_URL = 'http://127.0.0.1:4000';

/** `--key` as an Authorization header: `pk:sk` → Basic, a secret → Bearer. */
export function authorizationFor(key: string): string {
  return key.includes(':') ? `Basic ${Buffer.from(key).toString('base64')}` : `Bearer ${key}`;
}

function httpTarget(url: string, key: string): AdminTarget {
  const client = new AdminClient({ url, authorization: authorizationFor(key) });
  const wrap = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      if (err instanceof ServerError) throw new CliError(`The server refused (${err.status} ${err.code}): ${err.message}`);
      if (err instanceof UnreachableError) throw new CliError(err.message);
      throw err;
    }
  };
  return {
    description: `server ${url}`,
    createProject: (name) => wrap(client.createProject(name)),
    listProjects: () => wrap(client.listProjects()),
    createKey: (projectId, role, name, expiresAt) => wrap(client.createKey(projectId, role, name, expiresAt)),
    listKeys: (projectId) => wrap(client.listKeys(projectId)),
    revokeKey: (projectId, keyId) => wrap(client.revokeKey(projectId, keyId)),
    createUser: (user) => wrap(client.createUser(user)),
    listUsers: () => wrap(client.listUsers()),
    setMember: (projectId, userId, role) => wrap(client.setMember(projectId, userId, role)),
    listMembers: (projectId) => wrap(client.listMembers(projectId)),
    removeMember: (projectId, userId) => wrap(client.removeMember(projectId, userId)),
    getModel: () => wrap(client.getModel()),
    diffModel: (document) => wrap(client.diffModel(document)),
    applyModel: (document, allow) => wrap(client.applyModel(document, allow)),
    close: async () => undefined,
  };
}

const ROLES = ['owner', 'editor', 'viewer'];

/** A LatticeError of the auth layer (a refused value, a conflict) as the CLI's error. */
async function userError<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LatticeError) throw new CliError(err.message);
    throw err;
  }
}

/** Direct database access runs as owner: whoever can open the database is trusted like an admin. */
function dbTarget(db: Db, description: string): AdminTarget {
  const needProject = async (id: string) => {
    const project = await getProject(db, id);
    if (!project) throw new CliError(`Project ${id} does not exist (list them with: lattice project list).`);
    return project;
  };
  return {
    description,
    createProject: (name) => createProject(db, name),
    listProjects: () => listProjects(db),
    async createKey(projectId, role, name, expiresAt) {
      if (!isProjectRole(role)) throw new CliError(`--role must be one of ${ROLES.join(', ')} (got '${role}').`);
      const expiry = expiresAt === undefined ? null : await userError(async () => parseExpiry(expiresAt));
      await needProject(projectId);
      return createApiKey(db, { projectId, role, name: name ?? null, expiresAt: expiry });
    },
    async listKeys(projectId) {
      await needProject(projectId);
      return listApiKeys(db, { projectId });
    },
    async revokeKey(projectId, keyId) {
      const revoked = await revokeApiKey(db, keyId, { projectId });
      if (!revoked) throw new CliError(`Project ${projectId} has no API key ${keyId}.`);
      return revoked;
    },
    createUser: (user) => userError(() => createUser(db, user)),
    listUsers: () => listUsers(db),
    async setMember(projectId, userId, role) {
      if (!isProjectRole(role)) throw new CliError(`--role must be one of ${ROLES.join(', ')} (got '${role}').`);
      await needProject(projectId);
      if (!(await getUser(db, userId))) throw new CliError(`User ${userId} does not exist (list them with: lattice user list).`);
      return (await setMembership(db, projectId.toLowerCase(), userId.toLowerCase(), role)).member;
    },
    async listMembers(projectId) {
      await needProject(projectId);
      return listMembers(db, projectId);
    },
    async removeMember(projectId, userId) {
      const removed = await removeMembership(db, projectId, userId);
      if (!removed) throw new CliError(`User ${userId} is not a member of project ${projectId}.`);
      return removed;
    },
    getModel: async () => {
      const { running, version } = await recordedModel(db);
      return { version, name: running.name, hash: running.hash, document: running.document };
    },
    diffModel: async (document) => {
      const { running, version } = await recordedModel(db);
      return (await changeModel(db, running, document, { dryRun: true, source: 'api', runningVersion: version })).result;
    },
    applyModel: async (document, allowDestructive) => {
      const { running, version } = await recordedModel(db);
      return (await changeModel(db, running, document, { allowDestructive, source: 'api', runningVersion: version })).result;
    },
    close: () => db.close(),
  };
}

/**
 * The latest recorded model of a database, the basis of a model change made without a server.
 * @throws CliError when nothing was recorded yet, or the recorded document no longer loads
 */
async function recordedModel(db: Db): Promise<{ running: Model; version: number }> {
  const latest = await latestModelVersion(db);
  if (!latest) throw new CliError('This database has no model version recorded: run `lattice migrate` or `lattice serve` first.');
  try {
    return { running: loadModelDocument(latest.document), version: latest.version };
  } catch (err) {
    throw new CliError(`The recorded model (version ${latest.version}) does not load with this Lattice: ${(err as Error).message}`);
  }
}

async function assertMigrated(db: Db, description: string): Promise<void> {
  const { rows } = await db.query<{ ok: boolean }>(`SELECT to_regclass('lattice.api_keys') IS NOT NULL AS ok`);
  if (!rows[0]?.ok) {
    await db.close();
    throw new CliError(`${description} has no Lattice tables yet: run \`lattice migrate\` or \`lattice serve\` first.`);
  }
}

async function openDirect(url: string | undefined, dataDir: string | undefined): Promise<AdminTarget> {
  if (url) {
    const description = `PostgreSQL ${url.replace(/\/\/[^@/]*@/, '//***@')}`;
    let db: Db;
    try {
      db = await openDb({ url });
    } catch (err) {
      throw new CliError(`Cannot connect to ${description}: ${(err as Error).message}`);
    }
    await assertMigrated(db, description);
    return dbTarget(db, description);
  }
  const dir = dataDir ?? DEFAULT_DATA_DIR;
  const description = `PGlite data directory ${dir}`;
  if (!existsSync(dir)) {
    throw new CliError(`No Lattice server answers and there is no data directory ${path.resolve(dir)}: start one with \`lattice serve\`.`);
  }
  let db: Db;
  try {
    db = await openDb({ dataDir: dir });
  } catch (err) {
    if (err instanceof DataDirLockedError) {
      throw new CliError(
        `Refusing to open ${path.resolve(dir)}: it is held by a running Lattice server (pid ${err.holder.pid}` +
          `${err.holder.url ? ` at ${err.holder.url}` : ''}) that did not answer here. PGlite allows one process per data ` +
          `directory; pass --url <that server's address> (and --key) to go through it, or stop it first.`,
      );
    }
    throw err;
  }
  await assertMigrated(db, description);
  return dbTarget(db, description);
}

async function answers(url: string): Promise<boolean> {
  try {
    await new AdminClient({ url, authorization: '', timeoutMs: 3_000 }).health();
    return true;
  } catch {
    return false;
  }
}

/**
 * Choose the target as described in the module comment.
 * @throws CliError when no route works (message says what to pass or start)
 */
export async function resolveAdminTarget(options: TargetOptions, io: CliIo): Promise<AdminTarget> {
  if (options.databaseUrl) return openDirect(options.databaseUrl, undefined);
  const creds = await readCredentials(options.credentialsFile ?? DEFAULT_CREDENTIALS_FILE);
  const url = options.url ?? (creds?.url || DEFAULT_URL);
  const key = options.key ?? creds?.secret_key;
  try {
    await new AdminClient({ url, authorization: '', timeoutMs: 3_000 }).health();
  } catch (err) {
    if (!(err instanceof UnreachableError)) throw err;
    const envUrl = process.env.DATABASE_URL;
    // A server holding the PGlite data directory records its address in the lock: go through it instead.
    const holderUrl = envUrl ? undefined : readDataDirLock(options.dataDir ?? DEFAULT_DATA_DIR)?.url;
    if (holderUrl && holderUrl !== url && key && (await answers(holderUrl))) {
      io.err(`No Lattice server answers at ${url}; using the server holding the data directory, ${holderUrl}.`);
      return httpTarget(holderUrl, key);
    }
    io.err(`No Lattice server answers at ${url}; using ${envUrl ? 'DATABASE_URL' : 'the data directory'} directly.`);
    return openDirect(envUrl, options.dataDir);
  }
  if (!key) {
    throw new CliError(
      `A server answers at ${url}, but no admin key was found: pass --key <secret key> or run from the folder holding .lattice/credentials.`,
    );
  }
  return httpTarget(url, key);
}

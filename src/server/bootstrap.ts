/**
 * First start (SPEC A-5): on an empty database, create the project `default` and an admin key, and store the
 * key in `./.lattice/credentials` (mode 0600) for local use — the secret is shown once, only its hash is in
 * the database. Later starts create nothing; they re-read the credentials file so the key can be hinted at
 * again (the secret can never come from the database).
 *
 * Concurrent first starts of several instances on one PostgreSQL are serialised by a transaction-level
 * advisory lock, so exactly one of them creates the project and key.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createApiKey } from '../auth/api-keys.js';
import { countProjects, createProject } from '../auth/projects.js';
import type { Db } from '../db/types.js';

/** Default location of the local credentials file. */
export const DEFAULT_CREDENTIALS_FILE = path.join('.lattice', 'credentials');

/** Advisory lock key for first-start bootstrap (any constant int8; "lattice" in ASCII). */
const BOOTSTRAP_LOCK = 0x6c61747469636500n;

/** Content of `.lattice/credentials` (JSON). */
export interface Credentials {
  readonly url: string;
  readonly public_key: string;
  readonly secret_key: string;
  readonly project_id: string;
}

export interface BootstrapResult {
  /** True when this call created the default project and the admin key (first start). */
  readonly created: boolean;
  /** The credentials: just created, or read from the credentials file on later starts (null when absent/unreadable). */
  readonly credentials: Credentials | null;
  /** Absolute path of the credentials file. */
  readonly credentialsFile: string;
  /** Set on later starts when the credentials file names a key this database does not know (or has revoked). */
  readonly stale?: boolean;
}

/**
 * Read a credentials file.
 * @returns the parsed credentials, or null when the file does not exist or is not valid credentials JSON
 */
export async function readCredentials(file: string = DEFAULT_CREDENTIALS_FILE): Promise<Credentials | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  try {
    const c = JSON.parse(text) as Partial<Credentials>;
    if (typeof c.public_key === 'string' && typeof c.secret_key === 'string') {
      return { url: String(c.url ?? ''), public_key: c.public_key, secret_key: c.secret_key, project_id: String(c.project_id ?? '') };
    }
  } catch {
    /* not JSON: treated as absent */
  }
  return null;
}

/** Write a credentials file with mode 0600 (its directory 0700 when created). */
export async function writeCredentials(file: string, credentials: Credentials): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600 });
  await chmod(file, 0o600); // writeFile's mode applies only when it creates the file
}

/**
 * Create the default project and an admin key when the database has no project yet.
 * @param options.url the server's base URL, written into the credentials file
 * @param options.credentialsFile where to store the key (default `./.lattice/credentials`)
 * @returns what happened; on first start `credentials.secret_key` is the new admin secret
 * @throws the driver's error when the system tables are missing (run the migration first)
 */
export async function bootstrap(db: Db, options: { url: string; credentialsFile?: string }): Promise<BootstrapResult> {
  const credentialsFile = path.resolve(options.credentialsFile ?? DEFAULT_CREDENTIALS_FILE);
  const fresh = await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [BOOTSTRAP_LOCK.toString()]);
    if ((await countProjects(tx)) > 0) return null;
    const project = await createProject(tx, 'default');
    const key = await createApiKey(tx, { projectId: null, role: 'admin', name: 'bootstrap admin key' });
    return { url: options.url, public_key: key.public_key, secret_key: key.secret_key, project_id: project.id };
  });
  if (fresh) {
    await writeCredentials(credentialsFile, fresh);
    return { created: true, credentials: fresh, credentialsFile };
  }
  const existing = await readCredentials(credentialsFile);
  if (!existing) return { created: false, credentials: null, credentialsFile };
  const { rows } = await db.query<{ ok: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM lattice.api_keys WHERE public_key = $1 AND revoked_at IS NULL) AS ok',
    [existing.public_key],
  );
  const stale = !rows[0]?.ok;
  if (!stale && existing.url !== options.url) {
    // Same key, new address (another port): keep the file pointing at the running server.
    const updated = { ...existing, url: options.url };
    await writeCredentials(credentialsFile, updated);
    return { created: false, credentials: updated, credentialsFile, stale };
  }
  return { created: false, credentials: existing, credentialsFile, stale };
}

/**
 * Choose and open the database (SPEC S-1): a PostgreSQL URL, else embedded PGlite on disk (locked against a
 * second process, see `lock.ts`), or in memory.
 */
import { acquireDataDirLock } from './lock.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';
import type { Db } from './types.js';

export { acquireDataDirLock, DataDirLockedError, lockPathFor, readDataDirLock } from './lock.js';
export type { DataDirLock, DataDirLockInfo } from './lock.js';

/** Default PGlite data directory (relative to the working directory). */
export const DEFAULT_DATA_DIR = './.lattice/data';

/** Options of `openDb`. */
export interface OpenDbOptions {
  /** PostgreSQL URL (`postgres://` / `postgresql://`); when set, `dataDir` is ignored. */
  url?: string;
  /** PGlite data directory (default `./.lattice/data`); `:memory:` or `memory://` for an in-memory instance. */
  dataDir?: string;
}

/** True for the in-memory spellings of `dataDir`. */
export function isMemoryDataDir(dataDir: string): boolean {
  return dataDir === ':memory:' || dataDir.startsWith('memory://');
}

/**
 * Open the database.
 * @returns a `Db`; for PGlite on disk its `close()` also releases the data-directory lock.
 * @throws DataDirLockedError when another live process holds the PGlite data directory;
 *         Error for an unusable URL/server (message names host and database) or data directory.
 */
export async function openDb(options: OpenDbOptions = {}): Promise<Db> {
  if (options.url) {
    if (!/^postgres(ql)?:\/\//.test(options.url)) {
      throw new Error(`Database URL must start with postgres:// or postgresql:// (got ${options.url.split(':')[0]}:...)`);
    }
    return openPostgres({ connectionString: options.url });
  }
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  if (isMemoryDataDir(dataDir)) return openPglite({});
  const lock = acquireDataDirLock(dataDir);
  let db: Db;
  try {
    db = await openPglite({ dataDir });
  } catch (err) {
    lock.release();
    (err as Error).message = `Cannot open the PGlite data directory ${dataDir}: ${(err as Error).message}`;
    throw err;
  }
  const close = db.close.bind(db);
  db.close = async () => {
    try {
      await close();
    } finally {
      lock.release();
    }
  };
  return db;
}

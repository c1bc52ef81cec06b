/**
 * Data-directory lock for embedded PGlite. PGlite has no lock of its own: two processes opening one data
 * directory corrupt it. Lattice writes `<dataDir>.lock` (beside the directory, created atomically with O_EXCL)
 * holding the owner's pid; another process refuses to open the directory while that pid is alive. A lock left
 * by a dead process is stale and taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';

/** Contents of a lock file. `url` is filled in by a server once it listens, so CLIs can find it. */
export interface DataDirLockInfo {
  pid: number;
  startedAt: string;
  url?: string;
}

/** A held lock. */
export interface DataDirLock {
  /** Absolute path of the lock file. */
  readonly path: string;
  /** Merge `info` (e.g. `{ url }`) into the lock file. */
  update(info: Partial<Omit<DataDirLockInfo, 'pid'>>): void;
  /** Remove the lock file (idempotent; only if it still names this process). */
  release(): void;
}

/** Thrown when a live process holds the data directory. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: DataDirLockInfo,
  ) {
    super(
      `The data directory ${dataDir} is in use by another Lattice process (pid ${holder.pid}` +
        `${holder.url ? `, serving ${holder.url}` : ''}). PGlite allows one process per data directory: ` +
        `a server is running on this data directory; use the running server (--url${holder.url ? ` ${holder.url}` : ''}) ` +
        `or stop it first.`,
    );
    this.name = 'DataDirLockedError';
  }
}

/** Lock file path of a data directory: `<dataDir>.lock`. */
export function lockPathFor(dataDir: string): string {
  return `${path.resolve(dataDir).replace(/[\\/]+$/, '')}.lock`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): DataDirLockInfo | null {
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as DataDirLockInfo;
    return Number.isInteger(info.pid) ? info : null;
  } catch {
    return null;
  }
}

/**
 * The live holder of a data directory's lock, or null when it is free (no lock file, or a stale one).
 * The CLI uses this to send users to a running server instead of opening the directory.
 */
export function readDataDirLock(dataDir: string): DataDirLockInfo | null {
  const info = readLock(lockPathFor(dataDir));
  return info && alive(info.pid) ? info : null;
}

/**
 * Take the lock of a data directory (creating its parent folder if needed).
 * @throws DataDirLockedError when a live process (including this one, through another open Db) holds it.
 */
export function acquireDataDirLock(dataDir: string): DataDirLock {
  const file = lockPathFor(dataDir);
  mkdirSync(path.dirname(file), { recursive: true });
  const mine: DataDirLockInfo = { pid: process.pid, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readLock(file);
      if (holder && alive(holder.pid)) throw new DataDirLockedError(path.resolve(dataDir), holder);
      if (!holder) {
        // Possibly being written right now by another process: give it a moment before calling it stale.
        const since = Date.now();
        while (Date.now() - since < 50) { /* brief spin; lock contention is rare */ }
        const again = readLock(file);
        if (again && alive(again.pid)) throw new DataDirLockedError(path.resolve(dataDir), again);
      }
      rmSync(file, { force: true });
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(mine));
    } finally {
      closeSync(fd);
    }
    let released = false;
    return {
      path: file,
      update(info) {
        if (released) return;
        Object.assign(mine, info);
        writeFileSync(file, JSON.stringify(mine), { mode: 0o600 });
      },
      release() {
        if (released) return;
        released = true;
        if (readLock(file)?.pid === process.pid) rmSync(file, { force: true });
      },
    };
  }
  throw new Error(`Cannot take the lock ${file}; remove it if no Lattice process is running.`);
}

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireDataDirLock, DataDirLockedError, lockPathFor, openDb, readDataDirLock } from '../../src/db/open.js';

const root = mkdtempSync(path.join(tmpdir(), 'lattice-open-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('data directory lock', () => {
  it('refuses a second holder, names the holder, and frees the directory on release', () => {
    const dir = path.join(root, 'a', 'data');
    const lock = acquireDataDirLock(dir);
    expect(lock.path).toBe(`${path.resolve(dir)}.lock`);
    lock.update({ url: 'http://127.0.0.1:4000' });
    expect(readDataDirLock(dir)).toMatchObject({ pid: process.pid, url: 'http://127.0.0.1:4000' });
    let err: unknown;
    try {
      acquireDataDirLock(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataDirLockedError);
    expect((err as Error).message).toMatch(/in use by another Lattice process \(pid \d+, serving http:\/\/127\.0\.0\.1:4000\).*--url/);
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
    expect(readDataDirLock(dir)).toBeNull();
    acquireDataDirLock(dir).release();
  });

  it('takes over a stale lock left by a dead process', async () => {
    const dir = path.join(root, 'b', 'data');
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((resolve) => child.on('exit', () => resolve(child.pid!)));
    mkdirSync(path.dirname(dir), { recursive: true });
    writeFileSync(lockPathFor(dir), JSON.stringify({ pid: deadPid, startedAt: new Date().toISOString() }));
    expect(readDataDirLock(dir)).toBeNull();
    const lock = acquireDataDirLock(dir);
    expect(JSON.parse(readFileSync(lock.path, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });
});

describe('openDb', () => {
  it('opens PGlite on disk, refuses a second opener of the same directory, and unlocks on close', async () => {
    const dir = path.join(root, 'c', 'data');
    const db = await openDb({ dataDir: dir });
    try {
      expect(db.kind).toBe('pglite');
      await expect(openDb({ dataDir: dir })).rejects.toBeInstanceOf(DataDirLockedError);
      expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
    expect(existsSync(lockPathFor(dir))).toBe(false);
    expect(existsSync(path.join(dir, 'PG_VERSION'))).toBe(true);
  });

  it('rejects URLs that are not PostgreSQL URLs', async () => {
    await expect(openDb({ url: 'mysql://localhost/x' })).rejects.toThrow(/postgres:\/\//);
  });

  it.runIf(process.env.TEST_DATABASE_URL)('opens PostgreSQL from a URL', async () => {
    const db = await openDb({ url: process.env.TEST_DATABASE_URL });
    try {
      expect(db.kind).toBe('postgres');
      expect((await db.query<{ n: number }>('SELECT 2::int8 AS n')).rows).toEqual([{ n: 2 }]);
    } finally {
      await db.close();
    }
  });

  it('names host and database when PostgreSQL is unreachable', async () => {
    await expect(openDb({ url: 'postgres://nobody@127.0.0.1:1/nowhere' })).rejects.toThrow(/Cannot connect to PostgreSQL at 127\.0\.0\.1:1\/nowhere/);
  });
});

/**
 * `lattice serve --watch` (SPEC M-7, development): apply the model file whenever it changes, like
 * `PUT /api/v1/model` without `allow_destructive`, and keep serving the previous version when the new one is
 * invalid or destructive (the reason is printed; fix the file and save again).
 *
 * The file's folder is watched rather than the file (editors often save by writing a new file and renaming
 * it over the old one, which ends a watch on the file itself), with a short debounce since one save is
 * several file-system events.
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Db } from '../db/types.js';
import { LatticeError } from '../errors.js';
import { loadModelFile } from '../model/load.js';
import { changeModel, type ModelChangeResult } from './apply.js';
import type { ModelRegistry } from './registry.js';

/** Options of `watchModelFile`. */
export interface WatchOptions {
  /** Quiet period after the last file event before the file is read, in milliseconds (default 200). */
  readonly debounceMs?: number;
  /** Called after each attempt: the result when a version was applied (or nothing changed), else the error. */
  readonly onResult: (outcome: { result: ModelChangeResult } | { error: Error }) => void;
}

/**
 * Watch `file` and apply it to `db` through `registry` on every change (see the module comment).
 * @returns a function that stops watching (waits for an apply in progress)
 * @throws the `fs.watch` error when the folder cannot be watched
 */
export function watchModelFile(file: string, db: Db, registry: ModelRegistry, options: WatchOptions): () => Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const base = path.basename(file);
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;

  const apply = async () => {
    try {
      const model = await loadModelFile(file, { fresh: true });
      const version = registry.version;
      const { result, model: next } = await changeModel(db, registry.current(), model.document, {
        source: 'watch',
        runningVersion: version > 0 ? version : undefined,
      });
      if (result.applied) registry.swap(next, result.version);
      options.onResult({ result });
    } catch (err) {
      options.onResult({ error: err instanceof Error ? err : new LatticeError('INTERNAL', String(err)) });
    }
  };

  const watcher: FSWatcher = watch(dir, (_event, name) => {
    if (stopped || (name !== null && name !== base)) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      running = running.then(apply);
    }, options.debounceMs ?? 200);
  });
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    watcher.close();
    await running;
  };
}

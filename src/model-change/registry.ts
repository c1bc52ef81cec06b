/**
 * The model a running instance serves, and how it changes at run time (SPEC M-7, §8 "Scale-out").
 *
 * Every request reads `current()` once when it starts and keeps that `Model` to the end, so a swap never
 * changes a request in flight; the next request sees the new model. Everything derived from a model — the
 * GraphQL schema, the REST route validators, the OpenAPI document, compiled plans — is cached per Model
 * object (WeakMaps), so a swap needs no invalidation and the old caches are collected with the old model.
 *
 * Instances learn about a new version through `migrate`'s NOTIFY on `MODEL_CHANNEL` (sent at commit, so only
 * committed versions are announced): `follow` LISTENs, reads the latest recorded version and swaps when it is
 * newer than the one served. The instance that applied a change swaps at once (`swap`); its own notification
 * then finds nothing newer. Versions only move forward, so a late or repeated notification is harmless.
 */
import type { Db } from '../db/types.js';
import { MODEL_CHANNEL } from '../db/migrate/index.js';
import { loadModelDocument } from '../model/load.js';
import type { Model } from '../model/types.js';
import { qualified } from '../query/sql/ident.js';

/** A recorded model version (`lattice.model_versions`). */
export interface ModelVersion {
  readonly version: number;
  readonly hash: string;
  /** The model document as applied. */
  readonly document: unknown;
  /** `migrate`, `api` or `watch` (see `ModelSource`). */
  readonly source: string;
  /** ISO 8601. */
  readonly applied_at: string;
}

/**
 * The latest recorded version, or null for a database never migrated.
 * @param systemSchema the `lattice` schema name of the model in use
 */
export async function latestModelVersion(db: Db, systemSchema = 'lattice'): Promise<ModelVersion | null> {
  const table = qualified(systemSchema, 'model_versions');
  const { rows: exists } = await db.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [table]);
  if (!exists[0]?.ok) return null;
  const { rows } = await db.query<{ version: number; hash: string; document: unknown; source: string | null; applied_at: Date | string }>(
    `SELECT version, hash, document, source, applied_at FROM ${table} ORDER BY version DESC LIMIT 1`,
  );
  const r = rows[0];
  if (!r) return null;
  const appliedAt = r.applied_at instanceof Date ? r.applied_at.toISOString() : new Date(r.applied_at).toISOString();
  return { version: r.version, hash: r.hash, document: r.document, source: r.source ?? 'migrate', applied_at: appliedAt };
}

/** Minimal logger (pino / Fastify compatible). */
interface Log {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
}

/** The served model and its version; see the module comment. */
export class ModelRegistry {
  private model: Model;
  private versionNumber: number;
  private readonly listeners = new Set<(model: Model, version: number) => void>();
  private reloading: Promise<void> = Promise.resolve();

  /**
   * @param model the model served at start
   * @param version its recorded version (0 when unknown: any recorded version then counts as newer)
   */
  constructor(model: Model, version: number) {
    this.model = model;
    this.versionNumber = version;
  }

  /** The model to serve a request that starts now. */
  current(): Model {
    return this.model;
  }

  /** The recorded version of `current()`. */
  get version(): number {
    return this.versionNumber;
  }

  /**
   * Serve `model` as `version` from now on, unless a version at least as new is already served.
   * @returns whether the swap happened
   */
  swap(model: Model, version: number): boolean {
    if (version <= this.versionNumber) return false;
    this.model = model;
    this.versionNumber = version;
    for (const listener of this.listeners) listener(model, version);
    return true;
  }

  /**
   * Call `listener` after every swap.
   * @returns a function that removes it
   */
  onSwap(listener: (model: Model, version: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Read the latest recorded version and swap to it when it is newer. Calls are serialised; a version whose
   * document no longer loads (recorded by another Lattice release) is logged and skipped.
   */
  reload(db: Db, log?: Log): Promise<void> {
    this.reloading = this.reloading.then(async () => {
      const latest = await latestModelVersion(db, this.model.systemSchema);
      if (!latest || latest.version <= this.versionNumber) return;
      let model: Model;
      try {
        model = loadModelDocument(latest.document);
      } catch (err) {
        log?.warn({ err, version: latest.version }, 'A newer model version is recorded but does not load here; still serving the current one');
        return;
      }
      if (this.swap(model, latest.version)) log?.info({ version: latest.version, hash: latest.hash, source: latest.source }, 'Now serving a new model version');
    }).catch((err: unknown) => log?.warn({ err }, 'Could not read the latest model version'));
    return this.reloading;
  }

  /**
   * Follow model changes made through any instance: LISTEN on `MODEL_CHANNEL` and `reload` on every
   * notification.
   * @returns a function that stops following
   * @throws the driver's error when LISTEN cannot be set up
   */
  async follow(db: Db, log?: Log): Promise<() => Promise<void>> {
    return db.listen(MODEL_CHANNEL, () => void this.reload(db, log));
  }
}

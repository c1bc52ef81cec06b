/**
 * Applying a new model version to a running database (SPEC M-7): validate the document, diff it against the
 * model being replaced, run `migrate` (additive changes in one DDL transaction; destructive ones refused
 * unless allowed; the version recorded with its source; other instances told through NOTIFY at commit).
 * Used by `PUT /api/v1/model`, `POST /api/v1/model/diff`, `lattice model diff|apply` and `serve --watch`.
 */
import { migrate, removedEntities, type ModelSource } from '../db/migrate/index.js';
import type { Db } from '../db/types.js';
import { badInput, LatticeError, type ErrorDetail } from '../errors.js';
import { loadModelDocument } from '../model/load.js';
import type { Model } from '../model/types.js';
import { diffModels, type ModelChange } from './diff.js';

/** What a model change did (or, for a dry run, would do). Field names are the HTTP answer's. */
export interface ModelChangeResult {
  /** DDL executed and a version recorded (false for a dry run and for a model equal to the running one). */
  readonly applied: boolean;
  /** The version after the change (dry run: the one it would get). */
  readonly version: number;
  readonly name: string;
  readonly hash: string;
  /** What changes, in model terms (`diffModels`). */
  readonly changes: ModelChange[];
  /** What will be (or was) dropped or converted; applying them needs `allow_destructive`. */
  readonly destructive: ErrorDetail[];
  /** The DDL statements (dry run: those that would run with `allow_destructive`). */
  readonly statements: string[];
}

/** Options of `changeModel`. */
export interface ChangeModelOptions {
  /** Compute without applying: the statements include the destructive ones, listed in `destructive`. */
  readonly dryRun?: boolean;
  readonly allowDestructive?: boolean;
  /** Recorded with the version. */
  readonly source: ModelSource;
  /** The recorded version `running` is; when given, a different latest version is a CONFLICT (see `migrate`). */
  readonly runningVersion?: number;
}

/**
 * Validate `document` as a model and bring the database from `running` to it.
 * @returns the result and the new Model (to swap to when `applied`)
 * @throws LatticeError BAD_USER_INPUT (with a detail per problem) for an invalid document or a changed
 *         schema name; CONFLICT listing the destructive changes when not allowed, or when another version was
 *         recorded meanwhile; the database error of a failing statement (nothing applied)
 */
export async function changeModel(db: Db, running: Model, document: unknown, options: ChangeModelOptions): Promise<{ result: ModelChangeResult; model: Model }> {
  const next = loadModelDocument(document);
  if (next.systemSchema !== running.systemSchema || next.dataSchema !== running.dataSchema) {
    throw badInput(
      `The model's schema names cannot change at run time (running: data "${running.dataSchema}", system "${running.systemSchema}"; ` +
        `new: data "${next.dataSchema}", system "${next.systemSchema}"). Keep them, or migrate a new database.`,
      [{ path: 'schema', message: 'must stay as it is' }],
    );
  }
  const removed = { model: running, entities: removedEntities(running, next) };
  let migration;
  try {
    migration = await migrate(db, next, {
      dryRun: options.dryRun,
      // A dry run shows everything the change would do, destructive statements included.
      allowDestructive: options.dryRun ? true : options.allowDestructive,
      removed,
      source: options.source,
      expectVersion: options.runningVersion,
    });
  } catch (err) {
    throw refusedByDatabase(err);
  }
  return {
    model: next,
    result: {
      applied: migration.applied,
      version: migration.version,
      name: next.name,
      hash: next.hash,
      changes: diffModels(running, next),
      destructive: migration.destructive,
      statements: migration.statements,
    },
  };
}

/** What the stored data did not allow, by SQLSTATE class (the database's own text never reaches the client). */
function whyRefused(code: string): string {
  if (code === '2BP01') return 'other database objects (views, hand-made constraints) depend on what it drops';
  if (code === '23502') return 'existing rows hold no value for a field that is now required (give it a default, or fill those rows first)';
  if (code === '23505') return 'existing rows hold duplicate values for a field that is now unique';
  if (code.startsWith('23')) return 'existing rows violate the new constraint';
  if (code.startsWith('22') || code === '42804') return 'stored values do not convert to the new type or enum values (change or delete those rows first, or keep the old type)';
  if (code === '55P03' || code === '57014') return 'it waited too long for a lock held by running requests (retry when the load is lower)';
  return 'the database refused it';
}

/**
 * A failed DDL statement as a client error: CONFLICT naming the statement Lattice generated and why, never
 * the database's own message. Anything that is not a database error is returned as it is.
 */
function refusedByDatabase(err: unknown): unknown {
  const e = err as { code?: unknown; statement?: unknown };
  if (err instanceof LatticeError || typeof e.code !== 'string' || !/^[0-9A-Z]{5}$/.test(e.code)) return err;
  const statement = typeof e.statement === 'string' ? ` at \`${e.statement.split('\n')[0]}\`` : '';
  return new LatticeError(
    'CONFLICT',
    `The model change could not be applied${statement}: ${whyRefused(e.code)} (SQLSTATE ${e.code}). Nothing was changed.`,
  );
}

/**
 * The `--preset` / `--model` options shared by `serve` and `migrate`, and the migration step with its output.
 */
import { migrate, type MigrationResult } from '../db/migrate/index.js';
import type { Db } from '../db/types.js';
import { LatticeError } from '../errors.js';
import { loadModelFile, loadPreset } from '../model/load.js';
import type { Model } from '../model/types.js';
import { CliError, type CliIo } from './io.js';

/**
 * Load the model named by the options: `model` (a file) wins over `preset` (default `experiments`).
 * @throws CliError with the loader's message and each detail's path (SPEC M-1)
 */
export async function loadModelOption(options: { preset?: string; model?: string }): Promise<Model> {
  try {
    return options.model ? await loadModelFile(options.model) : await loadPreset(options.preset ?? 'experiments');
  } catch (err) {
    if (err instanceof LatticeError) {
      const details = err.details.map((d) => `\n  ${d.path}: ${d.message}`).join('');
      throw new CliError(`${err.message}${details}`);
    }
    throw err;
  }
}

/**
 * Migrate `db` to `model`, reporting one line (or, with `dryRun`, printing the DDL instead of running it).
 * @throws CliError when a statement fails (nothing is applied; the message names the statement)
 */
export async function migrateModel(db: Db, model: Model, io: CliIo, options: { dryRun?: boolean } = {}): Promise<MigrationResult> {
  let result: MigrationResult;
  try {
    result = await migrate(db, model, options);
  } catch (err) {
    throw new CliError(`Migration of model "${model.name}" failed: ${(err as Error).message}`);
  }
  if (options.dryRun) {
    io.out(`-- model "${model.name}", version ${result.version} (dry run: nothing executed)`);
    for (const statement of result.statements) io.out(`${statement};\n`);
  } else if (result.applied) {
    io.err(`Migrated model "${model.name}" to version ${result.version} (${result.statements.length} statements).`);
  } else {
    io.err(`Model "${model.name}" is up to date (version ${result.version}).`);
  }
  return result;
}

/**
 * Loading models: from a parsed document, a file (YAML, JSON, or a `.ts`/`.js` module exporting
 * `defineModel(...)`), or a preset shipped in `presets/<name>/model.yaml` (SPEC M-1, M-6).
 */
import { readFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { ErrorDetail } from '../errors.js';
import { badInput } from '../errors.js';
import { buildModel, modelError, type ParsedDocument } from './build.js';
import { modelDocument } from './document.js';
import { latticeRoot } from '../package-root.js';
import type { Model } from './types.js';

/** Folder holding the shipped presets. */
export const PRESETS_DIR = path.join(latticeRoot(), 'presets');

/**
 * Validate a model document and resolve it.
 * @param doc a plain JSON value (already parsed YAML/JSON)
 * @returns the immutable Model
 * @throws LatticeError BAD_USER_INPUT whose `details` name each problem's path (`entities.trial.fields.x.to`).
 */
export function loadModelDocument(doc: unknown): Model {
  const parsed = modelDocument.safeParse(doc);
  if (!parsed.success) {
    const details: ErrorDetail[] = parsed.error.issues.map((issue) => ({
      path: issue.path.length ? issue.path.map(String).join('.') : '(document)',
      message: issue.code === 'unrecognized_keys' ? `unknown key(s): ${issue.keys.join(', ')}` : issue.message,
    }));
    throw modelError(details);
  }
  return buildModel(parsed.data as ParsedDocument);
}

/**
 * Load a model file by extension: `.yaml`/`.yml`, `.json`, or `.ts`/`.mts`/`.js`/`.mjs` (default export).
 * `fresh` re-imports a module file changed since it was first loaded (each such load stays in the module
 * cache: meant for `serve --watch` in development).
 * @throws LatticeError BAD_USER_INPUT for unreadable, unparsable or invalid files (message names the file).
 */
export async function loadModelFile(file: string, options: { fresh?: boolean } = {}): Promise<Model> {
  const ext = path.extname(file).toLowerCase();
  let doc: unknown;
  if (ext === '.ts' || ext === '.mts' || ext === '.js' || ext === '.mjs') {
    // Modules are cached by URL: `fresh` (serve --watch) imports the edited file under a new URL.
    const url = pathToFileURL(path.resolve(file)).href + (options.fresh ? `?v=${Date.now()}` : '');
    const mod = (await import(url)) as { default?: unknown };
    if (mod.default === undefined) throw badInput(`${file} must export the model as its default export (export default defineModel({...}))`);
    doc = mod.default;
  } else {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw badInput(`Cannot read model file ${file}: ${(err as Error).message}`);
    }
    try {
      doc = ext === '.json' ? JSON.parse(text) : parseYaml(text);
    } catch (err) {
      const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
      throw badInput(`Cannot parse model file ${file}${where}: ${(err as Error).message}`);
    }
  }
  try {
    return loadModelDocument(doc);
  } catch (err) {
    if (err instanceof Error) err.message = `${file}: ${err.message}`;
    throw err;
  }
}

/** Names of the shipped presets (folders of `presets/` with a model file). */
export function listPresets(): string[] {
  return readdirSync(PRESETS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(PRESETS_DIR, d.name, 'model.yaml')))
    .map((d) => d.name)
    .sort();
}

/**
 * Load a shipped preset by name (default `experiments`).
 * @throws LatticeError BAD_USER_INPUT for an unknown preset name (the message lists the known ones).
 */
export async function loadPreset(name = 'experiments'): Promise<Model> {
  const file = path.join(PRESETS_DIR, name, 'model.yaml');
  if (!/^[a-z][a-z0-9_-]*$/.test(name) || !existsSync(file)) {
    throw badInput(`Unknown preset "${name}"; available presets: ${listPresets().join(', ')}`);
  }
  return loadModelFile(file);
}

/**
 * The benchmark's servers run as production runs Lattice: compiled JavaScript from `npm run build` (`dist/`), not
 * TypeScript under tsx, whose loader, transformed sources and source maps add about 70 MiB of RSS to a process
 * (README "Production"). `buildOnce` compiles `src/` and the bench servers (`tsconfig.build.json`) before the
 * first server starts; `compiledServerArgs` gives the `node` arguments of a bench server's compiled file.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The repository root. */
export const REPO_DIR = fileURLToPath(new URL('../', import.meta.url));

let built: Promise<void> | undefined;

/**
 * Compile with `tsc -p tsconfig.build.json` into `dist/`, once per benchmark process (about 15 s; incremental).
 * @throws Error with tsc's output when the build fails
 */
export function buildOnce(): Promise<void> {
  built ??= promisify(execFile)(process.execPath, [path.join(REPO_DIR, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: REPO_DIR,
    maxBuffer: 16 * 1024 * 1024,
  }).then(
    () => undefined,
    (err: { stdout?: string; message: string }) => {
      throw new Error(`npm run build failed:\n${err.stdout || err.message}`);
    },
  );
  return built;
}

/**
 * `node` arguments running the compiled form of a bench server (`./lattice-server.ts` → `dist/bench/lattice-server.js`).
 * @param file the server's path relative to `bench/`, with its `.ts` extension
 */
export function compiledServerArgs(file: string): string[] {
  return [path.join(REPO_DIR, 'dist', 'bench', file.replace(/^\.\//, '').replace(/\.ts$/, '.js'))];
}

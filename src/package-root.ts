/**
 * Lattice's own folder, found from a module's location so that it is the same whether the module runs from its
 * TypeScript source (`src/…` under tsx) or from the compiled build (`dist/src/…`, `npm run build`).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The nearest ancestor of this module holding a `package.json`: the repository, or the installed package (the
 * build writes none into `dist/`). Shipped files outside `src/` (presets, docs, the OTLP `.proto` files) are
 * found from here.
 * @returns an absolute directory path
 * @throws Error when no ancestor has a `package.json`
 */
export function latticeRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return (cached = dir);
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('No package.json above the Lattice installation: cannot find its shipped files.');
    dir = parent;
  }
}

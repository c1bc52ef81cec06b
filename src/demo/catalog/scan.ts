/**
 * Reading the catalog demo's source data: the npm packages installed in a `node_modules` tree, exactly as
 * published (package.json fields, README text) plus facts measured on disk (file count, bytes).
 *
 * The walk covers scoped folders (`@scope/name`) and nested `node_modules` at any depth; the same
 * `name@version` found twice (a nested copy) is kept once (first in walk order, which is sorted, so the
 * result is deterministic). Dependencies are resolved the way Node does: from the package's own folder,
 * `node_modules/<dep>` in it and then in every ancestor folder up to the root.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, type Dirent } from 'node:fs';
import path from 'node:path';

/** Longest README text kept (characters); features are computed from what is stored. */
export const README_MAX_CHARS = 16_000;

/** A person as package.json names one (`author`, `maintainers[]`, `contributors[]`). */
export interface Person {
  readonly name: string;
  readonly email?: string;
  readonly url?: string;
}

/** Dependency kinds, as the package.json maps that declare them. */
export type DependencyKind = 'prod' | 'dev' | 'peer' | 'optional';

/** One declared dependency and, when installed, the `name@version` Node's resolution finds. */
export interface DeclaredDependency {
  readonly name: string;
  readonly range: string;
  readonly kind: DependencyKind;
  /** `name@version` of the installed package it resolves to; undefined when not installed. */
  readonly resolved?: string;
}

/** One installed package (or the root project). */
export interface ScannedPackage {
  /** `name@version`, the dedupe key. */
  readonly spec: string;
  readonly name: string;
  readonly version: string;
  /** npm scope without `@` (`radix-ui`), undefined for unscoped packages. */
  readonly scope?: string;
  readonly description?: string;
  readonly license?: string;
  readonly keywords: readonly string[];
  readonly homepage?: string;
  readonly repository?: string;
  readonly moduleType: 'commonjs' | 'module';
  /** README text, at most README_MAX_CHARS characters; undefined when the package has none. */
  readonly readme?: string;
  readonly authors: readonly Person[];
  readonly maintainers: readonly Person[];
  readonly contributors: readonly Person[];
  readonly dependencies: readonly DeclaredDependency[];
  readonly counts: { readonly dependencies: number; readonly devDependencies: number; readonly peerDependencies: number };
  readonly hasTypes: boolean;
  readonly hasBin: boolean;
  readonly fileCount: number;
  readonly sizeBytes: number;
  /** Folder relative to the scanned root's parent, e.g. `node_modules/@types/node` (`.` for the root). */
  readonly installedPath: string;
  /** True for the root project itself. */
  readonly root: boolean;
  /** Listed in the root project's dependencies or devDependencies. */
  readonly direct: boolean;
}

/** What `scanNodeModules` found. */
export interface ScanResult {
  /** The root project first (when it has a package.json), then packages sorted by path. */
  readonly packages: readonly ScannedPackage[];
  /** Folders skipped because their package.json is missing a name/version or is not valid JSON. */
  readonly skipped: readonly string[];
}

type Json = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/**
 * Parse a package.json person: `"Name <email> (url)"` or `{ name, email, url }`.
 * @returns undefined when there is no name and no email (nothing to identify the person by)
 */
export function parsePerson(value: unknown): Person | undefined {
  let name: string | undefined;
  let email: string | undefined;
  let url: string | undefined;
  if (typeof value === 'string') {
    const m = /^([^<(]*)(?:<([^>]*)>)?\s*(?:\(([^)]*)\))?/.exec(value.trim());
    name = str(m?.[1]);
    email = str(m?.[2]);
    url = str(m?.[3]);
  } else if (value && typeof value === 'object') {
    const o = value as Json;
    name = str(o.name);
    email = str(o.email) ?? str(o.mail);
    url = str(o.url) ?? str(o.web);
  }
  if (!name && !email) return undefined;
  return { name: name ?? email!, ...(email ? { email } : {}), ...(url ? { url } : {}) };
}

function people(value: unknown): Person[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.map(parsePerson).filter((p): p is Person => p !== undefined);
}

function repositoryUrl(value: unknown): string | undefined {
  if (typeof value === 'string') return str(value);
  if (value && typeof value === 'object') return str((value as Json).url);
  return undefined;
}

function licenseOf(j: Json): string | undefined {
  if (typeof j.license === 'string') return str(j.license);
  if (j.license && typeof j.license === 'object') return str((j.license as Json).type);
  if (Array.isArray(j.licenses)) {
    const types = j.licenses.map((l) => (l && typeof l === 'object' ? str((l as Json).type) : str(l))).filter(Boolean);
    return types.length ? types.join(' OR ') : undefined;
  }
  return undefined;
}

function keywordsOf(value: unknown): string[] {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[,\s]+/) : [];
  const out: string[] = [];
  for (const k of list) {
    const s = typeof k === 'string' ? k.trim() : '';
    if (s && !out.includes(s)) out.push(s);
  }
  return out;
}

function depMap(value: unknown): [string, string][] {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.entries(value as Json)
    .filter(([, v]) => typeof v === 'string')
    .map(([k, v]) => [k, v as string]);
}

const README_RE = /^readme(\.(md|markdown|txt|rst))?$/i;

function readReadme(dir: string, entries: Dirent[]): string | undefined {
  const files = entries.filter((e) => e.isFile() && README_RE.test(e.name)).map((e) => e.name);
  // Prefer README.md, then any other variant, in a fixed order.
  files.sort((a, b) => Number(!/\.md$/i.test(a)) - Number(!/\.md$/i.test(b)) || a.localeCompare(b));
  if (!files.length) return undefined;
  // CRLF → LF; NUL removed (PostgreSQL text cannot hold it).
  const text = readFileSync(path.join(dir, files[0]), 'utf8').replace(/\r\n?/g, '\n').replace(/\0/g, '').trim();
  return text ? text.slice(0, README_MAX_CHARS) : undefined;
}

/** Files and bytes under `dir`, not descending into `node_modules` or dot-folders (`.git`), not following links. */
function measure(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && !e.name.startsWith('.')) stack.push(p);
      } else if (e.isFile()) {
        files++;
        bytes += lstatSync(p).size;
      }
    }
  }
  return { files, bytes };
}

/** Package folders directly inside one `node_modules` folder (`x`, `@scope/y`), sorted. */
function packageDirs(nodeModules: string): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(nodeModules, { withFileTypes: true });
  } catch {
    return [];
  }
  const dirs: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.') || !(e.isDirectory() || e.isSymbolicLink())) continue;
    const p = path.join(nodeModules, e.name);
    if (e.name.startsWith('@')) {
      for (const s of packageDirs(p)) dirs.push(s);
    } else {
      dirs.push(p);
    }
  }
  return dirs;
}

function readJson(file: string): Json | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resolve `dep` from `fromDir` like Node: `<dir>/node_modules/<dep>` for `fromDir` and each ancestor up to
 * and including `rootDir`. @returns the folder, or undefined when the package is not installed
 */
function resolveFrom(fromDir: string, dep: string, rootDir: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    if (path.basename(dir) !== 'node_modules') {
      const candidate = path.join(dir, 'node_modules', dep);
      if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    }
    if (dir === rootDir) return undefined;
    const parent = path.dirname(dir);
    if (parent === dir || !parent.startsWith(rootDir)) return undefined;
    dir = parent;
  }
}

/**
 * Scan the project folder `rootDir` (the folder that holds `package.json` and `node_modules`).
 *
 * The root project becomes a package too (`root: true`) when its package.json has a name and a version;
 * its `dependencies` and `devDependencies` mark installed packages as `direct`. Dependency edges are
 * recorded for `dependencies`, `peerDependencies` and `optionalDependencies` of every package, and for the
 * root's `devDependencies`; a non-root package's devDependencies are never installed for it, so they are
 * only counted.
 *
 * @param options.maxPackages stop after this many packages (root included; default: no limit)
 * @throws Error when `rootDir/node_modules` does not exist (the message says to run `npm install`)
 */
export function scanNodeModules(rootDir: string, options: { maxPackages?: number } = {}): ScanResult {
  const root = path.resolve(rootDir);
  const top = path.join(root, 'node_modules');
  if (!existsSync(top)) throw new Error(`No node_modules folder in ${root}: run \`npm install\` there first.`);
  const max = options.maxPackages ?? Infinity;

  // 1. Collect package folders: root first, then a breadth-first walk of node_modules (sorted per folder).
  const found: { dir: string; json: Json; root: boolean }[] = [];
  const skipped: string[] = [];
  const rootJson = readJson(path.join(root, 'package.json'));
  const seen = new Set<string>();
  if (rootJson && str(rootJson.name) && str(rootJson.version)) {
    found.push({ dir: root, json: rootJson, root: true });
    seen.add(`${str(rootJson.name)}@${str(rootJson.version)}`);
  }
  const queue = [top];
  while (queue.length) {
    for (const dir of packageDirs(queue.shift()!)) {
      const json = readJson(path.join(dir, 'package.json'));
      if (!json || !str(json.name) || !str(json.version)) {
        if (existsSync(path.join(dir, 'package.json'))) skipped.push(path.relative(root, dir));
        continue;
      }
      const spec = `${str(json.name)}@${str(json.version)}`;
      if (!seen.has(spec)) {
        seen.add(spec);
        found.push({ dir, json, root: false });
      }
      const nested = path.join(dir, 'node_modules');
      if (existsSync(nested)) queue.push(nested);
    }
  }
  const chosen = found.slice(0, max);
  const specByDir = new Map<string, string>();
  for (const f of found) specByDir.set(f.dir, `${str(f.json.name)}@${str(f.json.version)}`);
  // A nested duplicate resolves to the copy we kept: map every folder holding that spec.
  const specOfDir = (dir: string): string | undefined => {
    const j = readJson(path.join(dir, 'package.json'));
    return j && str(j.name) && str(j.version) ? `${str(j.name)}@${str(j.version)}` : undefined;
  };
  const direct = new Set([...depMap(rootJson?.dependencies), ...depMap(rootJson?.devDependencies)].map(([n]) => n));

  // 2. Read each chosen package.
  const packages: ScannedPackage[] = chosen.map(({ dir, json, root: isRoot }) => {
    const name = str(json.name)!;
    const version = str(json.version)!;
    const readme = readReadme(dir, readdirSync(dir, { withFileTypes: true }));
    const kinds: [DependencyKind, unknown][] = [
      ['prod', json.dependencies],
      ['peer', json.peerDependencies],
      ['optional', json.optionalDependencies],
      ...(isRoot ? ([['dev', json.devDependencies]] as [DependencyKind, unknown][]) : []),
    ];
    const dependencies: DeclaredDependency[] = [];
    for (const [kind, map] of kinds) {
      for (const [dep, range] of depMap(map)) {
        const at = resolveFrom(dir, dep, root);
        const resolved = at ? (specByDir.get(at) ?? specOfDir(at)) : undefined;
        dependencies.push({ name: dep, range, kind, ...(resolved ? { resolved } : {}) });
      }
    }
    const size = measure(dir);
    const scope = name.startsWith('@') ? name.slice(1, name.indexOf('/')) : undefined;
    const hasTypes =
      scope === 'types' ||
      typeof json.types === 'string' ||
      typeof json.typings === 'string' ||
      existsSync(path.join(dir, 'index.d.ts'));
    return {
      spec: `${name}@${version}`,
      name,
      version,
      ...(scope ? { scope } : {}),
      ...(str(json.description) ? { description: str(json.description) } : {}),
      ...(licenseOf(json) ? { license: licenseOf(json) } : {}),
      keywords: keywordsOf(json.keywords),
      ...(str(json.homepage) ? { homepage: str(json.homepage) } : {}),
      ...(repositoryUrl(json.repository) ? { repository: repositoryUrl(json.repository) } : {}),
      moduleType: json.type === 'module' ? 'module' : 'commonjs',
      ...(readme !== undefined ? { readme } : {}),
      authors: people(json.author),
      maintainers: people(json.maintainers),
      contributors: people(json.contributors),
      dependencies,
      counts: {
        dependencies: depMap(json.dependencies).length,
        devDependencies: depMap(json.devDependencies).length,
        peerDependencies: depMap(json.peerDependencies).length,
      },
      hasTypes,
      hasBin: typeof json.bin === 'string' || (!!json.bin && typeof json.bin === 'object' && Object.keys(json.bin).length > 0),
      fileCount: size.files,
      sizeBytes: size.bytes,
      installedPath: path.relative(root, dir) || '.',
      root: isRoot,
      direct: !isRoot && direct.has(name) && isTopLevel(top, dir),
    };
  });
  return { packages, skipped };
}

/** True when `dir` is `top/<name>` or `top/@scope/<name>` (not a nested copy). */
function isTopLevel(top: string, dir: string): boolean {
  const rel = path.relative(top, dir).split(path.sep);
  return rel.length === 1 || (rel.length === 2 && rel[0].startsWith('@'));
}

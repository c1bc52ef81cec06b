/**
 * A small fake project with a node_modules tree, written to a temp folder, for the catalog demo's loader tests:
 * scoped and unscoped packages, a nested copy of a different version, a nested duplicate of the same
 * name@version, a package.json without a version (skipped), README variants, people as strings and objects,
 * and every dependency kind (one not installed).
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

async function pkg(dir: string, json: Record<string, unknown>, files: Record<string, string> = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'package.json'), JSON.stringify(json, null, 2));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
}

/** The fixture's folder and a remover. */
export interface CatalogFixture {
  readonly root: string;
  remove(): Promise<void>;
}

/**
 * Write the fixture. Packages (name@version → what it exercises):
 * - `fixture-app@1.0.0` (root): deps alpha-test, @acme/db-client; devDeps beta-cli, not-installed
 * - `alpha-test@1.0.0`: keywords test/assertion, author string with e-mail and url, README.md,
 *   dep shared-util ^1 (resolves to the top-level copy; a nested duplicate of shared-util@1.0.0 is ignored)
 * - `beta-cli@3.1.0`: keywords cli/terminal, author object, contributor named without e-mail (same person as
 *   alpha-test's author), `bin`, dep shared-util ^2 (resolves to its nested copy shared-util@2.0.0)
 * - `shared-util@1.0.0` and nested `shared-util@2.0.0`: keywords object/deep, readme.markdown / README.txt
 * - `@acme/db-client@2.0.0`: keywords database/sql, types, peer dep alpha-test, optional dep missing-pkg
 * - `@acme/ui-kit@0.1.0`: keywords react/dom, licenses array, no README
 * - `broken`: package.json without a version (skipped)
 */
export async function writeCatalogFixture(): Promise<CatalogFixture> {
  const root = await mkdtemp(path.join(tmpdir(), 'lattice-catalog-'));
  const nm = path.join(root, 'node_modules');
  await pkg(root, {
    name: 'fixture-app',
    version: '1.0.0',
    description: 'A fixture project for the catalog loader test.',
    dependencies: { 'alpha-test': '^1.0.0', '@acme/db-client': '^2.0.0' },
    devDependencies: { 'beta-cli': '^3.0.0', 'not-installed': '^9.0.0' },
  });
  await pkg(
    path.join(nm, 'alpha-test'),
    {
      name: 'alpha-test',
      version: '1.0.0',
      description: 'Assertion library for unit tests',
      license: 'MIT',
      keywords: ['test', 'assertion'],
      author: 'Ann Example <ann@example.com> (https://ann.example.com)',
      homepage: 'https://example.com/alpha',
      repository: { type: 'git', url: 'git+https://example.com/alpha.git' },
      dependencies: { 'shared-util': '^1.0.0' },
    },
    {
      'README.md': '# alpha-test\n\nWrite assertions in your unit tests: expect, assert, spies and mocks for testing.\n',
      'index.js': 'module.exports = {};\n',
      'lib/extra.js': '// two files in lib\n',
      '.github/ci.yml': 'ignored: true\n',
    },
  );
  await pkg(
    path.join(nm, 'alpha-test', 'node_modules', 'shared-util'),
    { name: 'shared-util', version: '1.0.0', keywords: ['object'] },
    { 'index.js': '' },
  );
  await pkg(
    path.join(nm, 'beta-cli'),
    {
      name: 'beta-cli',
      version: '3.1.0',
      description: 'Command-line arguments parser for terminal programs',
      license: 'ISC',
      keywords: ['cli', 'terminal', 'argv'],
      author: { name: 'Bob Builder', email: 'bob@example.com' },
      contributors: ['Ann Example'],
      bin: { beta: 'bin/beta.js' },
      type: 'module',
      dependencies: { 'shared-util': '^2.0.0' },
    },
    { 'README.md': 'beta-cli parses argv flags and options of command line programs in the terminal.', 'bin/beta.js': '' },
  );
  await pkg(
    path.join(nm, 'beta-cli', 'node_modules', 'shared-util'),
    { name: 'shared-util', version: '2.0.0', description: 'Deep merge and clone of objects', license: 'MIT', keywords: ['object', 'deep'] },
    { 'README.txt': 'shared-util 2: merge objects deeply, clone objects.' },
  );
  await pkg(
    path.join(nm, 'shared-util'),
    { name: 'shared-util', version: '1.0.0', description: 'Object utilities', license: 'MIT', keywords: ['object', 'deep', 'merge'] },
    { 'readme.markdown': 'shared-util: get and set deep properties of objects.', 'index.js': 'module.exports = 1;\n' },
  );
  await pkg(
    path.join(nm, '@acme', 'db-client'),
    {
      name: '@acme/db-client',
      version: '2.0.0',
      description: 'A PostgreSQL database client with SQL query helpers',
      license: 'Apache-2.0',
      keywords: ['database', 'sql', 'postgres'],
      types: 'index.d.ts',
      maintainers: [{ name: 'Carol Keeper', email: 'carol@example.com' }],
      peerDependencies: { 'alpha-test': '*' },
      optionalDependencies: { 'missing-pkg': '^1.0.0' },
    },
    { 'README.md': 'Connect to PostgreSQL, run SQL queries, read rows from the database.', 'index.d.ts': 'export {};\n' },
  );
  await pkg(
    path.join(nm, '@acme', 'ui-kit'),
    { name: '@acme/ui-kit', version: '0.1.0', keywords: ['react', 'dom'], licenses: [{ type: 'MIT' }, { type: 'Apache-2.0' }] },
    { 'index.js': '' },
  );
  await pkg(path.join(nm, 'broken'), { name: 'broken' });
  return { root, remove: () => rm(root, { recursive: true, force: true }) };
}

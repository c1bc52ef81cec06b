/**
 * The catalog demo's reader and row builder on the fixture project (test/demo/catalog-fixture.ts): what is
 * read from package.json and disk, dedupe, Node-style dependency resolution, users, ownership and rows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeFeatures } from '../../src/demo/catalog/features.js';
import { buildCatalogRows, CATALOG_ENTITIES, UNSCOPED_DATASET, wordCount } from '../../src/demo/catalog/rows.js';
import { parsePerson, README_MAX_CHARS, scanNodeModules, type ScannedPackage } from '../../src/demo/catalog/scan.js';
import { writeCatalogFixture, type CatalogFixture } from './catalog-fixture.js';

let fixture: CatalogFixture;
beforeAll(async () => {
  fixture = await writeCatalogFixture();
});
afterAll(async () => {
  await fixture?.remove();
});

const bySpec = (packages: readonly ScannedPackage[], spec: string): ScannedPackage => {
  const p = packages.find((x) => x.spec === spec);
  if (!p) throw new Error(`no ${spec} in ${packages.map((x) => x.spec).join(', ')}`);
  return p;
};

describe('parsePerson', () => {
  it('reads the string and object forms', () => {
    expect(parsePerson('Ann Example <ann@example.com> (https://ann.example.com)')).toEqual({
      name: 'Ann Example',
      email: 'ann@example.com',
      url: 'https://ann.example.com',
    });
    expect(parsePerson('Bob')).toEqual({ name: 'Bob' });
    expect(parsePerson('<x@example.com>')).toEqual({ name: 'x@example.com', email: 'x@example.com' });
    expect(parsePerson({ name: 'Carol', email: 'c@example.com', url: 'https://c' })).toEqual({ name: 'Carol', email: 'c@example.com', url: 'https://c' });
    expect(parsePerson({})).toBeUndefined();
    expect(parsePerson(42)).toBeUndefined();
  });
});

describe('scanNodeModules on the fixture', () => {
  it('finds the root and every installed name@version once, skipping a package.json without a version', () => {
    const { packages, skipped } = scanNodeModules(fixture.root);
    expect(packages.map((p) => p.spec)).toEqual([
      'fixture-app@1.0.0',
      '@acme/db-client@2.0.0',
      '@acme/ui-kit@0.1.0',
      'alpha-test@1.0.0',
      'beta-cli@3.1.0',
      'shared-util@1.0.0',
      'shared-util@2.0.0',
    ]);
    expect(skipped).toEqual([path.join('node_modules', 'broken')]);
    expect(packages[0].root).toBe(true);
    expect(packages[0].installedPath).toBe('.');
    expect(bySpec(packages, 'shared-util@1.0.0').installedPath).toBe(path.join('node_modules', 'shared-util'));
    expect(bySpec(packages, 'shared-util@2.0.0').installedPath).toBe(path.join('node_modules', 'beta-cli', 'node_modules', 'shared-util'));
  });

  it('reads package.json fields and README variants as published', () => {
    const { packages } = scanNodeModules(fixture.root);
    const alpha = bySpec(packages, 'alpha-test@1.0.0');
    expect(alpha).toMatchObject({
      name: 'alpha-test',
      description: 'Assertion library for unit tests',
      license: 'MIT',
      keywords: ['test', 'assertion'],
      homepage: 'https://example.com/alpha',
      repository: 'git+https://example.com/alpha.git',
      moduleType: 'commonjs',
      authors: [{ name: 'Ann Example', email: 'ann@example.com', url: 'https://ann.example.com' }],
      direct: true,
      hasBin: false,
      hasTypes: false,
    });
    expect(alpha.readme).toMatch(/^# alpha-test\n\nWrite assertions/);
    // package.json, README.md, index.js, lib/extra.js; .github and node_modules are not counted.
    expect(alpha.fileCount).toBe(4);
    expect(bySpec(packages, 'shared-util@1.0.0').readme).toBe('shared-util: get and set deep properties of objects.');
    expect(bySpec(packages, 'shared-util@2.0.0').readme).toMatch(/^shared-util 2/);
    expect(bySpec(packages, '@acme/ui-kit@0.1.0')).toMatchObject({ scope: 'acme', license: 'MIT OR Apache-2.0', direct: false });
    expect(bySpec(packages, '@acme/ui-kit@0.1.0').readme).toBeUndefined();
    expect(bySpec(packages, 'beta-cli@3.1.0')).toMatchObject({ moduleType: 'module', hasBin: true, direct: true });
    expect(bySpec(packages, '@acme/db-client@2.0.0')).toMatchObject({ hasTypes: true, maintainers: [{ name: 'Carol Keeper', email: 'carol@example.com' }] });
  });

  it('resolves dependencies from the package folder upwards, like Node', () => {
    const { packages } = scanNodeModules(fixture.root);
    expect(bySpec(packages, 'alpha-test@1.0.0').dependencies).toEqual([{ name: 'shared-util', range: '^1.0.0', kind: 'prod', resolved: 'shared-util@1.0.0' }]);
    expect(bySpec(packages, 'beta-cli@3.1.0').dependencies).toEqual([{ name: 'shared-util', range: '^2.0.0', kind: 'prod', resolved: 'shared-util@2.0.0' }]);
    expect(bySpec(packages, '@acme/db-client@2.0.0').dependencies).toEqual([
      { name: 'alpha-test', range: '*', kind: 'peer', resolved: 'alpha-test@1.0.0' },
      { name: 'missing-pkg', range: '^1.0.0', kind: 'optional' },
    ]);
    const root = packages[0];
    expect(root.dependencies.map((d) => [d.name, d.kind, d.resolved])).toEqual([
      ['alpha-test', 'prod', 'alpha-test@1.0.0'],
      ['@acme/db-client', 'prod', '@acme/db-client@2.0.0'],
      ['beta-cli', 'dev', 'beta-cli@3.1.0'],
      ['not-installed', 'dev', undefined],
    ]);
    expect(root.counts).toEqual({ dependencies: 2, devDependencies: 2, peerDependencies: 0 });
  });

  it('caps README text and the number of packages; refuses a folder without node_modules', async () => {
    expect(scanNodeModules(fixture.root, { maxPackages: 3 }).packages).toHaveLength(3);
    expect(README_MAX_CHARS).toBe(16_000);
    const empty = await mkdtemp(path.join(tmpdir(), 'lattice-empty-'));
    try {
      expect(() => scanNodeModules(empty)).toThrow(/No node_modules folder in .*run `npm install`/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('buildCatalogRows', () => {
  it('builds datasets, users, records, features, ownerships and dependencies in ingestion order', () => {
    const { packages } = scanNodeModules(fixture.root);
    const { features, report } = computeFeatures(packages);
    let n = 0;
    const rows = buildCatalogRows(packages, features, report, () => `id-${++n}`);
    const order = rows.map((r) => CATALOG_ENTITIES.indexOf(r.entity));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    const of = (entity: string) => rows.filter((r) => r.entity === entity).map((r) => r.body);

    expect(of('dataset').map((d) => [d.name, d.scope])).toEqual([
      [UNSCOPED_DATASET, null],
      ['@acme', 'acme'],
    ]);
    const records = of('record');
    expect(records).toHaveLength(7);
    const alpha = records.find((r) => r.spec === 'alpha-test@1.0.0')!;
    expect(alpha).toMatchObject({ name: 'alpha-test', version: '1.0.0', license: 'MIT', direct: true, module_type: 'commonjs' });
    expect((alpha.embedding as number[]).length).toBe(256);

    // Ann Example is one user (her e-mail is known from alpha-test), author of alpha-test, contributor to beta-cli.
    const users = of('user');
    expect(users.map((u) => [u.name, u.email]).sort()).toEqual([
      ['Ann Example', 'ann@example.com'],
      ['Bob Builder', 'bob@example.com'],
      ['Carol Keeper', 'carol@example.com'],
    ]);
    const ann = users.find((u) => u.name === 'Ann Example')!.id;
    const recordName = (id: unknown) => records.find((r) => r.id === id)!.name;
    expect(of('ownership').filter((o) => o.owner_id === ann).map((o) => [recordName(o.record_id), o.kind])).toEqual([
      ['alpha-test', 'author'],
      ['beta-cli', 'contributor'],
    ]);
    expect(of('ownership').some((o) => o.kind === 'maintainer')).toBe(true);

    // Edges only between catalogued records; the root's devDependency beta-cli is kind dev.
    const edges = of('dependency').map((d) => `${recordName(d.source_id)} -${d.kind}-> ${recordName(d.target_id)} ${d.range}`);
    expect(edges.sort()).toEqual([
      '@acme/db-client -peer-> alpha-test *',
      'alpha-test -prod-> shared-util ^1.0.0',
      'beta-cli -prod-> shared-util ^2.0.0',
      'fixture-app -dev-> beta-cli ^3.0.0',
      'fixture-app -prod-> @acme/db-client ^2.0.0',
      'fixture-app -prod-> alpha-test ^1.0.0',
    ]);

    const profiles = of('package_profile');
    expect(profiles).toHaveLength(7);
    expect(profiles.find((p) => p.record_id === alpha.id)).toMatchObject({ file_count: 4, readme_words: wordCount(packages.find((p) => p.name === 'alpha-test')!.readme) });
    const topics = of('topic_classification');
    expect(topics).toHaveLength(7);
    expect(topics.find((t) => t.record_id === alpha.id)).toMatchObject({ weak_label: 'testing', model: report.model });
  });

  it('counts words like wc -w', () => {
    expect(wordCount(' a  b\nc\t')).toBe(3);
    expect(wordCount(undefined)).toBe(0);
  });
});

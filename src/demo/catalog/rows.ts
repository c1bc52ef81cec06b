/**
 * Scanned packages and their features → rows of the catalog preset (presets/catalog/model.yaml), each with a
 * client-generated UUID v7, in the order they must be ingested (parents before children):
 * datasets, users, records, topic_classifications, package_profiles, ownerships, dependencies.
 *
 * - One dataset per npm scope (`@radix-ui`) and one named `(unscoped)` for unscoped packages and the root
 *   project.
 * - Users are the people package.json names (`author`, `maintainers`, `contributors`), one per e-mail address
 *   (case-insensitive); a person named without an address is the user with that name and an address when
 *   there is exactly one such, else one user per name. Ownership kinds are author, maintainer, contributor.
 * - A dependency row links two catalogued records: the declaring package and the installed package Node's
 *   resolution finds for it (dependencies that are not installed are counted in the profile only).
 */
import { uuidv7 } from 'uuidv7';
import type { JsonValue } from '../../model/types.js';
import type { ClassifierReport, PackageFeatures } from './features.js';
import type { Person, ScannedPackage } from './scan.js';

/** Name of the dataset of unscoped packages. */
export const UNSCOPED_DATASET = '(unscoped)';

type Body = { [key: string]: JsonValue };

/** One row to ingest: the entity and its body (with `id`). */
export interface CatalogRow {
  readonly entity: 'dataset' | 'user' | 'record' | 'topic_classification' | 'package_profile' | 'ownership' | 'dependency';
  readonly body: Body & { id: string };
}

/** Entities in ingestion order. */
export const CATALOG_ENTITIES: readonly CatalogRow['entity'][] = [
  'dataset',
  'user',
  'record',
  'topic_classification',
  'package_profile',
  'ownership',
  'dependency',
];

/** Whitespace-separated words (`wc -w`). */
export function wordCount(text: string | undefined): number {
  return text ? text.split(/\s+/).filter(Boolean).length : 0;
}

/**
 * The identity of each person named anywhere in `packages`: the lower-cased e-mail address; without one, the
 * address of the only person with an address and the same (case-insensitive) name, else the lower-cased name.
 */
function personKeys(packages: readonly ScannedPackage[]): (p: Person) => { key: string; email?: string } {
  // lower-cased name → lower-cased address → the address as first written
  const emailsByName = new Map<string, Map<string, string>>();
  for (const pkg of packages) {
    for (const p of [...pkg.authors, ...pkg.maintainers, ...pkg.contributors]) {
      if (!p.email) continue;
      const name = p.name.toLowerCase();
      const emails = emailsByName.get(name) ?? new Map<string, string>();
      if (!emails.has(p.email.toLowerCase())) emails.set(p.email.toLowerCase(), p.email);
      emailsByName.set(name, emails);
    }
  }
  return (p) => {
    if (p.email) return { key: `email:${p.email.toLowerCase()}`, email: p.email };
    const emails = emailsByName.get(p.name.toLowerCase());
    if (emails?.size === 1) {
      const [[lower, email]] = [...emails];
      return { key: `email:${lower}`, email };
    }
    return { key: `name:${p.name.toLowerCase()}` };
  };
}

/**
 * Build the rows.
 * @param packages as `scanNodeModules` returns them
 * @param features `computeFeatures(packages).features`, same order
 * @param report the classifier report (its `model` string is stored on every classification)
 * @param newId id generator (default UUID v7; tests pass a deterministic one)
 * @throws RangeError when `features` and `packages` differ in length
 */
export function buildCatalogRows(
  packages: readonly ScannedPackage[],
  features: readonly PackageFeatures[],
  report: ClassifierReport,
  newId: () => string = uuidv7,
): CatalogRow[] {
  if (features.length !== packages.length) throw new RangeError(`${packages.length} packages but ${features.length} feature sets`);
  const rows: Record<CatalogRow['entity'], CatalogRow[]> = {
    dataset: [],
    user: [],
    record: [],
    topic_classification: [],
    package_profile: [],
    ownership: [],
    dependency: [],
  };
  const add = (entity: CatalogRow['entity'], body: Body): string => {
    const id = newId();
    rows[entity].push({ entity, body: { id, ...body } });
    return id;
  };

  const datasets = new Map<string, string>();
  const datasetFor = (scope: string | undefined): string => {
    const name = scope ? `@${scope}` : UNSCOPED_DATASET;
    let id = datasets.get(name);
    if (!id) {
      id = add('dataset', {
        name,
        description: scope
          ? `npm packages published under the @${scope} scope, as installed in node_modules.`
          : 'Unscoped npm packages installed in node_modules, and the project that installed them.',
        scope: scope ?? null,
      });
      datasets.set(name, id);
    }
    return id;
  };

  const users = new Map<string, string>();
  const personKey = personKeys(packages);
  const userFor = (p: Person): string => {
    const { key, email } = personKey(p);
    let id = users.get(key);
    if (!id) {
      id = add('user', { name: p.name, email: email ?? null, url: p.url ?? null });
      users.set(key, id);
    }
    return id;
  };

  const recordIds = new Map<string, string>();
  packages.forEach((p, i) => {
    const f = features[i];
    const recordId = add('record', {
      dataset_id: datasetFor(p.scope),
      name: p.name,
      description: p.description ?? null,
      readme: p.readme ?? null,
      version: p.version,
      spec: p.spec,
      license: p.license ?? null,
      keywords: [...p.keywords],
      homepage: p.homepage ?? null,
      repository: p.repository ?? null,
      module_type: p.moduleType,
      direct: p.direct,
      installed_path: p.installedPath,
      embedding: f.embedding ?? null,
    });
    recordIds.set(p.spec, recordId);
    if (f.topic) {
      add('topic_classification', {
        record_id: recordId,
        label: f.topic.label,
        confidence: f.topic.confidence,
        weak_label: f.weakLabel ?? null,
        model: report.model,
      });
    }
    add('package_profile', {
      record_id: recordId,
      file_count: p.fileCount,
      size_bytes: p.sizeBytes,
      readme_words: wordCount(p.readme),
      dependency_count: p.counts.dependencies,
      dev_dependency_count: p.counts.devDependencies,
      peer_dependency_count: p.counts.peerDependencies,
      has_types: p.hasTypes,
      has_bin: p.hasBin,
    });
    const owned = new Set<string>();
    const own = (people: readonly Person[], kind: 'author' | 'maintainer' | 'contributor') => {
      for (const person of people) {
        const ownerId = userFor(person);
        if (owned.has(`${ownerId}/${kind}`)) continue;
        owned.add(`${ownerId}/${kind}`);
        add('ownership', { owner_id: ownerId, record_id: recordId, kind });
      }
    };
    own(p.authors, 'author');
    own(p.maintainers, 'maintainer');
    own(p.contributors, 'contributor');
  });

  for (const p of packages) {
    const seen = new Set<string>();
    for (const d of p.dependencies) {
      const target = d.resolved ? recordIds.get(d.resolved) : undefined;
      const key = `${d.resolved}/${d.kind}`;
      if (!target || seen.has(key)) continue;
      seen.add(key);
      add('dependency', { source_id: recordIds.get(p.spec)!, target_id: target, range: d.range, kind: d.kind });
    }
  }
  return CATALOG_ENTITIES.flatMap((e) => rows[e]);
}

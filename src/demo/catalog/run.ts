/**
 * The catalog demo: scan `node_modules` (`scan.ts`), compute features (`features.ts`), build the rows
 * (`rows.ts`) and send them to a running Lattice through `POST /api/v1/ingest` only — the demo is an
 * ordinary HTTP client, exactly like the experiments demo (src/demo/run.ts).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_BATCH, sendBatch, type IngestClientOptions, type IngestEvent } from '../ingest-client.js';
import { computeFeatures, type ClassifierReport } from './features.js';
import { buildCatalogRows, CATALOG_ENTITIES, type CatalogRow } from './rows.js';
import { scanNodeModules } from './scan.js';

/** Largest request body the demo sends (bytes); the server accepts 10 MiB by default. */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

export interface CatalogDemoOptions {
  /** Server origin, e.g. `http://127.0.0.1:4000`. */
  readonly baseUrl: string;
  /** Full `Authorization` header value of a key that may write. */
  readonly auth: string;
  /** Target project; required when the key is an admin key. */
  readonly projectId?: string;
  /** Folder holding `package.json` and `node_modules` (default: `defaultCatalogRoot()`). */
  readonly rootDir?: string;
  /** Catalogue at most this many packages (root project included). */
  readonly maxPackages?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

/** Rows created per entity, the classifier's report, and timings (ms). */
export interface CatalogDemoSummary {
  readonly rows: Readonly<Record<CatalogRow['entity'], number>>;
  readonly classifier: ClassifierReport;
  readonly batches: number;
  readonly timings: { readonly scanMs: number; readonly featuresMs: number; readonly ingestMs: number };
}

/**
 * The folder whose `node_modules` the demo catalogues by default: the nearest ancestor of this module that
 * has a `node_modules` folder (Lattice's own installation).
 * @throws Error when no ancestor has one
 */
export function defaultCatalogRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'node_modules'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('No node_modules folder above the Lattice installation: run `npm install` first.');
    dir = parent;
  }
}

/** Sends events in order, in batches of at most 500 events and MAX_BATCH_BYTES bytes. */
class Sender {
  private events: IngestEvent[] = [];
  private bytes = 0;
  batches = 0;
  constructor(private readonly options: IngestClientOptions) {}

  async add(event: IngestEvent): Promise<void> {
    const size = Buffer.byteLength(JSON.stringify(event)) + 1;
    if (this.events.length > 0 && (this.events.length >= MAX_BATCH || this.bytes + size > MAX_BATCH_BYTES)) await this.flush();
    this.events.push(event);
    this.bytes += size;
  }

  async flush(): Promise<void> {
    if (this.events.length === 0) return;
    await sendBatch(this.options, this.events);
    this.batches++;
    this.events = [];
    this.bytes = 0;
  }
}

/**
 * Scan, compute features, and ingest the catalog.
 *
 * @returns counts per entity (all acknowledged by the server), the classifier report and timings
 * @throws Error when there is no node_modules folder to scan
 * @throws IngestError when the server is unreachable, refuses a batch, or rejects any event
 */
export async function runCatalogDemo(options: CatalogDemoOptions): Promise<CatalogDemoSummary> {
  const log = options.log ?? (() => {});
  const rootDir = options.rootDir ?? defaultCatalogRoot();
  let t = performance.now();
  const { packages, skipped } = scanNodeModules(rootDir, { maxPackages: options.maxPackages });
  const scanMs = performance.now() - t;
  log(`scanned ${packages.length} packages in ${path.join(rootDir, 'node_modules')} (${Math.round(scanMs)} ms)${skipped.length ? `; skipped ${skipped.length} without name/version` : ''}`);

  t = performance.now();
  const { features, report } = computeFeatures(packages);
  const featuresMs = performance.now() - t;
  if (report.holdoutAccuracy !== undefined) {
    log(
      `topic classifier: ${report.labelled} keyword-labelled packages, training accuracy ${report.trainingAccuracy!.toFixed(3)}, ` +
        `5-fold hold-out accuracy ${report.holdoutAccuracy.toFixed(3)} (majority baseline ${report.majorityBaseline!.toFixed(3)}), ` +
        `temperature ${report.temperature.toFixed(2)} (${Math.round(featuresMs)} ms)`,
    );
  } else {
    log(`topic classifier: ${report.model}`);
  }

  t = performance.now();
  const rows = buildCatalogRows(packages, features, report);
  const sender = new Sender({ baseUrl: options.baseUrl, auth: options.auth });
  const counts = Object.fromEntries(CATALOG_ENTITIES.map((e) => [e, 0])) as Record<CatalogRow['entity'], number>;
  for (const row of rows) {
    const body = options.projectId ? { ...row.body, project_id: options.projectId } : row.body;
    await sender.add({ id: row.body.id, type: `${row.entity}.create`, body });
    counts[row.entity]++;
  }
  await sender.flush();
  const ingestMs = performance.now() - t;
  log(
    `catalog: ${CATALOG_ENTITIES.map((e) => `${counts[e]} ${e}`).join(', ')} ingested in ${sender.batches} batches (${Math.round(ingestMs)} ms)`,
  );
  return { rows: counts, classifier: report, batches: sender.batches, timings: { scanMs, featuresMs, ingestMs } };
}

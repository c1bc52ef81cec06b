/**
 * The demo of each shipped preset, by model name (SPEC M-6): what `lattice serve` loads on first start and
 * `lattice demo` loads on request, plus the first query the start banner suggests. Demos are imported lazily
 * so a server that never loads one never pays for it.
 */

/** Where and as whom a demo writes. */
export interface DemoTarget {
  /** Server origin, e.g. `http://127.0.0.1:4000`. */
  readonly baseUrl: string;
  /** Full `Authorization` header value of a key that may write. */
  readonly auth: string;
  /** Target project; required when the key is an admin key. */
  readonly projectId?: string;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /**
   * Catalog demo: the folder whose node_modules is catalogued; traces demo: the folder whose README.md and
   * docs/*.md are answered from (default for both: Lattice's own).
   */
  readonly rootDir?: string;
}

/** One preset's demo. */
export interface PresetDemo {
  /** What is being loaded, for "Loading the demo data (…)". */
  readonly loading: string;
  /** A first GraphQL query over the demo data (printed in the start banner). */
  readonly firstQuery: string;
  /** Load the demo through the REST ingestion API. @returns a one-line summary of what was loaded */
  run(target: DemoTarget): Promise<string>;
}

const DEMOS: Readonly<Record<string, PresetDemo>> = {
  experiments: {
    loading: 'training classifiers on Iris',
    firstQuery: '{ projects { id name } experiments(limit: 5) { id name kind trials { id name status } } }',
    async run(target) {
      const { runDemo } = await import('./run.js');
      const s = await runDemo(target);
      return `${s.experiments} experiments, ${s.trials} trials, ${s.runs} runs, ${s.metrics} metrics`;
    },
  },
  catalog: {
    loading: 'cataloguing the npm packages in node_modules',
    firstQuery:
      '{ datasets(limit: 3) { name records(limit: 3) { name version license topic_classification { label confidence } } } }',
    async run(target) {
      const { runCatalogDemo } = await import('./catalog/run.js');
      const s = await runCatalogDemo(target);
      const r = s.rows;
      return (
        `${r.record} records in ${r.dataset} datasets, ${r.topic_classification} topic classifications, ` +
        `${r.package_profile} package profiles, ${r.user} users, ${r.ownership} ownerships, ${r.dependency} dependencies`
      );
    },
  },
  traces: {
    loading: 'a retrieval assistant answering questions over Lattice\'s documentation, traced with OpenTelemetry',
    firstQuery:
      '{ traces(limit: 3, order_by: { timestamp: DESC }) { name user_id input observations(filter: { parent_id: { is_null: true } }, limit: 1) ' +
      '{ name type latency_ms children(limit: 10) { name type model input_tokens output_tokens total_cost latency_ms } } scores(limit: 10) { name value } } ' +
      'observation_aggregate(filter: { type: { eq: GENERATION } }, group_by: [model]) { key { model } count sum { total_tokens total_cost } } }',
    async run(target) {
      const { runTracesDemo } = await import('./traces/run.js');
      const s = await runTracesDemo(target);
      return (
        `${s.traces} traces, ${s.spans} spans, ${s.scores} scores, ${s.inputTokens + s.outputTokens} tokens, ` +
        `$${s.cost.toFixed(6)} at stated demo prices, retrieval hit@3 ${s.hitAt3.toFixed(2)}, answer keyword rate ${s.keywordRate.toFixed(2)}`
      );
    },
  },
};

/** The demo of the model named `name` (a shipped preset's model), or undefined when it has none. */
export function demoForModel(name: string): PresetDemo | undefined {
  return Object.hasOwn(DEMOS, name) ? DEMOS[name] : undefined;
}

/** Model names that have a demo. */
export function demoModels(): string[] {
  return Object.keys(DEMOS);
}

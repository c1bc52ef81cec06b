import { describe, expect, it } from 'vitest';
import { loadIris, splitAndStandardize, type LabelledData } from '../../src/demo/iris.js';
import { mlp, softmax, softmaxRegression, type Classifier } from '../../src/demo/models.js';
import { mulberry32, normal, shuffled } from '../../src/demo/random.js';
import { DEMO_SEEDS, demoSweep } from '../../src/demo/sweep.js';
import { evaluate, train } from '../../src/demo/train.js';

describe('random', () => {
  it('mulberry32 is deterministic, in [0,1), and seed-dependent', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(mulberry32(43)()).not.toBe(mulberry32(42)());
  });

  it('normal() has mean ~0 and variance ~1', () => {
    const rng = mulberry32(7);
    const xs = Array.from({ length: 20000 }, () => normal(rng));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });

  it('shuffled() is a permutation and leaves its input alone', () => {
    const input = Array.from({ length: 50 }, (_, i) => i);
    const out = shuffled(input, mulberry32(1));
    expect(out).not.toEqual(input);
    expect([...out].sort((x, y) => x - y)).toEqual(input);
    expect(input[0]).toBe(0);
  });
});

describe('iris', () => {
  it('loads 150 samples of 4 features in 3 balanced classes', () => {
    const data = loadIris();
    expect(data.x).toHaveLength(150);
    expect(data.x.every((row) => row.length === 4)).toBe(true);
    expect(data.classes).toEqual(['setosa', 'versicolor', 'virginica']);
    for (let c = 0; c < 3; c++) expect(data.y.filter((y) => y === c)).toHaveLength(50);
  });

  it('splits 120/30 and standardises with training statistics only', () => {
    const split = splitAndStandardize(loadIris(), 0.2, mulberry32(3));
    expect(split.train.x).toHaveLength(120);
    expect(split.test.x).toHaveLength(30);
    for (let j = 0; j < 4; j++) {
      const col = split.train.x.map((r) => r[j]);
      const mean = col.reduce((s, v) => s + v, 0) / col.length;
      const variance = col.reduce((s, v) => s + (v - mean) ** 2, 0) / col.length;
      expect(Math.abs(mean)).toBeLessThan(1e-9);
      expect(variance).toBeCloseTo(1, 9);
    }
  });

  it('refuses a test fraction that empties a set', () => {
    expect(() => splitAndStandardize(loadIris(), 0, mulberry32(1))).toThrow(RangeError);
    expect(() => splitAndStandardize(loadIris(), 1, mulberry32(1))).toThrow(RangeError);
  });
});

/** Central finite differences of the loss against the analytic gradient. */
function gradientCheck(model: Classifier, data: LabelledData): number {
  const params = model.init(mulberry32(11));
  const idx = data.x.map((_, i) => i);
  const { gradient } = model.lossAndGradient(params, data, idx);
  let worst = 0;
  const eps = 1e-6;
  for (let i = 0; i < params.length; i++) {
    const plus = Float64Array.from(params);
    const minus = Float64Array.from(params);
    plus[i] += eps;
    minus[i] -= eps;
    const numeric = (model.lossAndGradient(plus, data, idx).loss - model.lossAndGradient(minus, data, idx).loss) / (2 * eps);
    worst = Math.max(worst, Math.abs(numeric - gradient[i]));
  }
  return worst;
}

describe('models', () => {
  const small = splitAndStandardize(loadIris(), 0.2, mulberry32(5)).train;
  const data: LabelledData = { x: small.x.slice(0, 20), y: small.y.slice(0, 20) };

  it('softmax is stable for large logits and sums to 1', () => {
    const { p, lse } = softmax(Float64Array.from([1000, 1001, 999]));
    expect(p.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    expect(p[1]).toBeGreaterThan(p[0]);
    expect(Number.isFinite(lse)).toBe(true);
  });

  it('softmax regression gradient matches finite differences', () => {
    expect(gradientCheck(softmaxRegression(4, 3), data)).toBeLessThan(1e-7);
  });

  it('MLP backpropagation matches finite differences', () => {
    expect(gradientCheck(mlp(4, 5, 3), data)).toBeLessThan(1e-7);
  });

  it('an empty batch is refused', () => {
    const model = softmaxRegression(4, 3);
    expect(() => model.lossAndGradient(model.init(mulberry32(1)), data, [])).toThrow(RangeError);
  });
});

describe('train', () => {
  it('is deterministic per seed and different across seeds', () => {
    const config = { family: 'softmax', learningRate: 0.1, epochs: 5, batchSize: 1000 } as const;
    expect(train({ ...config, seed: 1 }).metrics).toEqual(train({ ...config, seed: 1 }).metrics);
    expect(train({ ...config, seed: 2 }).metrics).not.toEqual(train({ ...config, seed: 1 }).metrics);
  });

  it('softmax regression learns Iris: training loss falls, accuracy well above chance', () => {
    const { metrics, trainSize, testSize } = train({ family: 'softmax', learningRate: 0.5, epochs: 40, batchSize: 1000, seed: 1 });
    expect(metrics).toHaveLength(40);
    expect(metrics.map((m) => m.epoch)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect([trainSize, testSize]).toEqual([120, 30]);
    // Full-batch gradient descent with a small enough step decreases the training loss monotonically.
    for (let i = 1; i < metrics.length; i++) expect(metrics[i].trainLoss).toBeLessThan(metrics[i - 1].trainLoss);
    expect(metrics[0].trainLoss).toBeLessThan(Math.log(3) + 0.05);
    expect(metrics[39].trainLoss).toBeLessThan(0.35);
    expect(metrics[39].testAccuracy).toBeGreaterThan(0.8);
  });

  it('the MLP reaches high test accuracy with mini-batch SGD', () => {
    const { metrics, params } = train({ family: 'mlp', hidden: 8, learningRate: 0.3, epochs: 30, batchSize: 16, seed: 2 });
    expect(params).toHaveLength(8 * 4 + 8 + 3 * 8 + 3);
    expect(metrics[29].trainLoss).toBeLessThan(metrics[0].trainLoss / 3);
    expect(metrics[29].testAccuracy).toBeGreaterThanOrEqual(0.9);
    for (const m of metrics) {
      expect(m.testAccuracy).toBeGreaterThanOrEqual(0);
      expect(m.testAccuracy).toBeLessThanOrEqual(1);
      expect(m.testLoss).toBeGreaterThan(0);
    }
  });

  it('evaluate() reports a uniform model at log(3) loss', () => {
    const model = softmaxRegression(4, 3);
    const data = loadIris();
    const { loss } = evaluate(model, new Float64Array(model.size), data);
    expect(loss).toBeCloseTo(Math.log(3), 12);
  });

  it('rejects invalid hyperparameters', () => {
    const ok = { family: 'softmax', learningRate: 0.1, epochs: 2, batchSize: 8, seed: 1 } as const;
    expect(() => train({ ...ok, learningRate: 0 })).toThrow(/learningRate/);
    expect(() => train({ ...ok, epochs: 1.5 })).toThrow(/epochs/);
    expect(() => train({ ...ok, batchSize: 0 })).toThrow(/batchSize/);
    expect(() => train({ ...ok, family: 'mlp' })).toThrow(/hidden/);
  });

  it('the whole demo sweep trains in well under a few seconds', () => {
    const started = performance.now();
    let runs = 0;
    for (const experiment of demoSweep()) {
      for (const trial of experiment.trials) for (const seed of DEMO_SEEDS) runs += train({ ...trial.config, seed }) ? 1 : 0;
    }
    expect(runs).toBe(30);
    expect(performance.now() - started).toBeLessThan(3000);
  });
});

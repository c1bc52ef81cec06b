/**
 * Multinomial naive Bayes text classifier (McCallum & Nigam, "A Comparison of Event Models for Naive Bayes
 * Text Classification", AAAI-98 workshop) with Laplace smoothing, the sublinear term-frequency transform of
 * Rennie, Shih, Teevan & Karger ("Tackling the Poor Assumptions of Naive Bayes Text Classifiers", ICML 2003,
 * §4.1), and temperature scaling of its posteriors (Guo, Pleiss, Sun & Weinberger, "On Calibration of Modern
 * Neural Networks", ICML 2017) fitted on cross-validated predictions.
 *
 * Features: x_dt = 1 + ln(count of token t in document d) for the document's distinct tokens.
 * Training, for classes C and vocabulary V (the tokens of the training documents):
 *   prior(c) = (N_c + 1) / (N + |C|)
 *   θ(c, t)  = (α + Σ_{d ∈ c} x_dt) / (α·|V| + Σ_{d ∈ c} Σ_t x_dt)        (α = 1: Laplace smoothing)
 * Scores: s_c = ln prior(c) + Σ_t x_dt · ln θ(c, t) over the document's tokens in V (unknown tokens ignored).
 * Posterior: softmax(s / T). Naive Bayes multiplies hundreds of token likelihoods as if independent, so with
 * T = 1 nearly every posterior is 0 or 1; `fitTemperature` picks the T that minimises the negative
 * log-likelihood of held-out predictions, which makes "confidence 0.9" mean roughly "right 9 times in 10".
 * Everything is deterministic.
 */
import { termCounts } from './text.js';

/** A trained model: classes, their log priors and per-token log likelihoods. */
export interface NaiveBayesModel<C extends string> {
  readonly classes: readonly C[];
  readonly logPrior: readonly number[];
  /** token → ln θ(c, t) for each class (same order as `classes`). */
  readonly logLikelihood: ReadonlyMap<string, Float64Array>;
  /** |V|: distinct tokens of the training documents. */
  readonly vocabularySize: number;
  readonly alpha: number;
}

/** One labelled training document (its tokens). */
export interface Example<C extends string> {
  readonly tokens: readonly string[];
  readonly label: C;
}

/** A prediction: the most probable class, its posterior probability, and every class's posterior. */
export interface Prediction<C extends string> {
  readonly label: C;
  readonly confidence: number;
  readonly posterior: ReadonlyMap<C, number>;
}

/** Sublinear term frequencies `1 + ln(count)` of a document's distinct tokens. */
export function logTf(tokens: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const [t, c] of termCounts(tokens)) out.set(t, 1 + Math.log(c));
  return out;
}

/**
 * Train on labelled examples.
 * @param classes every class that may be predicted (classes without examples keep only their smoothed prior)
 * @throws RangeError when there are no examples, `alpha` is not positive, or an example's label is not in `classes`
 */
export function trainNaiveBayes<C extends string>(classes: readonly C[], examples: readonly Example<C>[], alpha = 1): NaiveBayesModel<C> {
  if (examples.length === 0) throw new RangeError('naive Bayes needs at least one training example');
  if (!(alpha > 0)) throw new RangeError(`alpha must be positive, got ${alpha}`);
  const index = new Map(classes.map((c, i) => [c, i]));
  const k = classes.length;
  const docCount = new Float64Array(k);
  const mass = new Float64Array(k);
  const sums = new Map<string, Float64Array>();
  for (const ex of examples) {
    const c = index.get(ex.label);
    if (c === undefined) throw new RangeError(`label "${ex.label}" is not one of the classes (${classes.join(', ')})`);
    docCount[c]++;
    for (const [t, x] of logTf(ex.tokens)) {
      let s = sums.get(t);
      if (!s) sums.set(t, (s = new Float64Array(k)));
      s[c] += x;
      mass[c] += x;
    }
  }
  const v = sums.size;
  const logLikelihood = new Map<string, Float64Array>();
  for (const [t, s] of sums) {
    const ll = new Float64Array(k);
    for (let c = 0; c < k; c++) ll[c] = Math.log((alpha + s[c]) / (alpha * v + mass[c]));
    logLikelihood.set(t, ll);
  }
  const logPrior = Array.from(docCount, (n) => Math.log((n + 1) / (examples.length + k)));
  return { classes: [...classes], logPrior, logLikelihood, vocabularySize: v, alpha };
}

/** Unnormalised log scores s_c of a document, in the order of `model.classes`. */
export function scores<C extends string>(model: NaiveBayesModel<C>, tokens: readonly string[]): number[] {
  const s = [...model.logPrior];
  for (const [t, x] of logTf(tokens)) {
    const ll = model.logLikelihood.get(t);
    if (!ll) continue;
    for (let c = 0; c < s.length; c++) s[c] += x * ll[c];
  }
  return s;
}

/** softmax(s / T), max-subtracted for numerical stability. @throws RangeError when T is not positive */
export function softmax(s: readonly number[], temperature = 1): number[] {
  if (!(temperature > 0)) throw new RangeError(`temperature must be positive, got ${temperature}`);
  const max = Math.max(...s);
  const e = s.map((x) => Math.exp((x - max) / temperature));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / total);
}

/** Posterior over the classes for a document's tokens; ties go to the class listed first. */
export function predict<C extends string>(model: NaiveBayesModel<C>, tokens: readonly string[], temperature = 1): Prediction<C> {
  const p = softmax(scores(model, tokens), temperature);
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return { label: model.classes[best], confidence: p[best], posterior: new Map(model.classes.map((c, i) => [c, p[i]])) };
}

/** One held-out prediction of cross-validation: the scores and the index of the true class. */
export interface HeldOut {
  readonly scores: readonly number[];
  readonly truth: number;
}

/**
 * k-fold cross-validation: the fold of example i is `i mod folds` (pass examples in a fixed order for a
 * deterministic result); every example is scored once, by the model trained on the other folds.
 * @throws RangeError when `folds` < 2 or there are fewer examples than folds
 */
export function crossValidate<C extends string>(classes: readonly C[], examples: readonly Example<C>[], folds = 5, alpha = 1): HeldOut[] {
  if (!Number.isInteger(folds) || folds < 2) throw new RangeError(`folds must be an integer ≥ 2, got ${folds}`);
  if (examples.length < folds) throw new RangeError(`${examples.length} examples cannot be split into ${folds} folds`);
  const out: HeldOut[] = [];
  for (let f = 0; f < folds; f++) {
    const model = trainNaiveBayes(classes, examples.filter((_, i) => i % folds !== f), alpha);
    examples.forEach((e, i) => {
      if (i % folds === f) out.push({ scores: scores(model, e.tokens), truth: classes.indexOf(e.label) });
    });
  }
  return out;
}

/** Mean negative log-likelihood of the true classes at temperature T. */
export function meanNll(heldOut: readonly HeldOut[], temperature: number): number {
  let sum = 0;
  for (const h of heldOut) sum -= Math.log(Math.max(softmax(h.scores, temperature)[h.truth], 1e-300));
  return sum / heldOut.length;
}

/**
 * The temperature minimising `meanNll` over a fixed grid T = 10^(i/100), i = 0 … 400 (T from 1 to 10,000;
 * the first minimum wins, so the result is deterministic).
 * @throws RangeError when `heldOut` is empty
 */
export function fitTemperature(heldOut: readonly HeldOut[]): number {
  if (heldOut.length === 0) throw new RangeError('fitTemperature needs held-out predictions');
  let best = 1;
  let bestNll = Infinity;
  for (let i = 0; i <= 400; i++) {
    const t = 10 ** (i / 100);
    const nll = meanNll(heldOut, t);
    if (nll < bestNll) {
      bestNll = nll;
      best = t;
    }
  }
  return best;
}

/** Accuracy of the predicted (arg-max) classes of held-out predictions. */
export function heldOutAccuracy(heldOut: readonly HeldOut[]): number {
  let correct = 0;
  for (const h of heldOut) {
    let best = 0;
    for (let i = 1; i < h.scores.length; i++) if (h.scores[i] > h.scores[best]) best = i;
    if (best === h.truth) correct++;
  }
  return correct / heldOut.length;
}

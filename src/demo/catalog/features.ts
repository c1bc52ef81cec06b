/**
 * The catalog demo's computed features, from each package's text (`packageText`: name words, description,
 * stored README): the hashed embedding (`hashing.ts`) and the topic classification (`classifier.ts`, trained
 * on keyword-derived weak labels from `topics.ts`). See docs/catalog.md for the method and its accuracy.
 */
import { crossValidate, fitTemperature, heldOutAccuracy, meanNll, predict, trainNaiveBayes, type Example } from './classifier.js';
import { EMBEDDING_DIMENSIONS, hashEmbedding } from './hashing.js';
import { packageText, tokenize } from './text.js';
import { TOPICS, weakLabel, type Topic } from './topics.js';

/** Folds of the cross-validation that measures hold-out accuracy and fits the temperature. */
export const FOLDS = 5;

/** What a package contributes to feature computation. */
export interface FeatureInput {
  readonly name: string;
  readonly description?: string;
  readonly readme?: string;
  readonly keywords: readonly string[];
}

/** Features of one package. */
export interface PackageFeatures {
  readonly tokens: number;
  /** Unit vector of EMBEDDING_DIMENSIONS values; undefined when the package has no tokens. */
  readonly embedding?: number[];
  /** Topic prediction; undefined when there were no labelled packages to train on. */
  readonly topic?: { readonly label: Topic; readonly confidence: number };
  readonly weakLabel?: Topic;
}

/** How the classifier was trained and how well it does. */
export interface ClassifierReport {
  /** Packages with a weak label (the training set). */
  readonly labelled: number;
  /** Labelled packages per topic. */
  readonly labels: Readonly<Partial<Record<Topic, number>>>;
  /** Accuracy on the training set (resubstitution), with the final temperature. */
  readonly trainingAccuracy?: number;
  /** 5-fold cross-validated accuracy (undefined with fewer labelled packages than folds). */
  readonly holdoutAccuracy?: number;
  /** Accuracy of always answering the most frequent weak label. */
  readonly majorityBaseline?: number;
  /** Softmax temperature fitted on the held-out predictions (1 without cross-validation). */
  readonly temperature: number;
  /** Mean held-out negative log-likelihood at T = 1 and at the fitted T. */
  readonly holdoutNll?: { readonly raw: number; readonly calibrated: number };
  /** The `topic_classification.model` value: method and settings. */
  readonly model: string;
}

const round = (v: number, digits: number): number => Number(v.toFixed(digits));

/**
 * Compute the features of every package. Deterministic: the same packages in the same order give the same
 * features. Cross-validation folds follow the input order.
 */
export function computeFeatures(packages: readonly FeatureInput[]): { features: PackageFeatures[]; report: ClassifierReport } {
  const docs = packages.map((p) => ({ tokens: tokenize(packageText(p)), weak: weakLabel(p.keywords) }));
  const examples: Example<Topic>[] = docs.filter((d) => d.weak).map((d) => ({ tokens: d.tokens, label: d.weak! }));
  const labels: Partial<Record<Topic, number>> = {};
  for (const e of examples) labels[e.label] = (labels[e.label] ?? 0) + 1;

  let report: ClassifierReport;
  let classify: ((tokens: readonly string[]) => { label: Topic; confidence: number }) | undefined;
  if (examples.length === 0) {
    report = { labelled: 0, labels, temperature: 1, model: 'none (no package had a keyword matching a topic rule)' };
  } else {
    let temperature = 1;
    let holdout: Pick<ClassifierReport, 'holdoutAccuracy' | 'majorityBaseline' | 'holdoutNll'> = {};
    if (examples.length >= FOLDS) {
      const heldOut = crossValidate(TOPICS, examples, FOLDS);
      temperature = fitTemperature(heldOut);
      holdout = {
        holdoutAccuracy: heldOutAccuracy(heldOut),
        majorityBaseline: Math.max(...Object.values(labels)) / examples.length,
        holdoutNll: { raw: meanNll(heldOut, 1), calibrated: meanNll(heldOut, temperature) },
      };
    }
    const model = trainNaiveBayes(TOPICS, examples);
    classify = (tokens) => predict(model, tokens, temperature);
    const trainingAccuracy = examples.filter((e) => classify!(e.tokens).label === e.label).length / examples.length;
    const acc = holdout.holdoutAccuracy !== undefined ? `, ${FOLDS}-fold hold-out accuracy ${holdout.holdoutAccuracy.toFixed(3)}` : '';
    report = {
      labelled: examples.length,
      labels,
      trainingAccuracy,
      ...holdout,
      temperature,
      model: `multinomial naive Bayes (1+ln tf, Laplace α=1, temperature ${temperature.toFixed(2)}; ${examples.length} keyword-labelled packages${acc})`,
    };
  }

  const features = docs.map((d): PackageFeatures => {
    const embedding = hashEmbedding(d.tokens, EMBEDDING_DIMENSIONS);
    const topic = classify?.(d.tokens);
    return {
      tokens: d.tokens.length,
      ...(embedding ? { embedding } : {}),
      ...(topic ? { topic: { label: topic.label, confidence: round(topic.confidence, 6) } } : {}),
      ...(d.weak ? { weakLabel: d.weak } : {}),
    };
  });
  return { features, report };
}

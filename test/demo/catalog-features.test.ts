/**
 * The catalog demo's feature code on small known inputs: tokenizer, MurmurHash3 (reference vectors), the
 * signed hashing embedding, the weak-label rules, and the naive Bayes classifier with its calibration.
 */
import { describe, expect, it } from 'vitest';
import {
  crossValidate,
  fitTemperature,
  heldOutAccuracy,
  logTf,
  meanNll,
  predict,
  scores,
  softmax,
  trainNaiveBayes,
} from '../../src/demo/catalog/classifier.js';
import { computeFeatures } from '../../src/demo/catalog/features.js';
import { EMBEDDING_DIMENSIONS, hashEmbedding, hashSlot, murmur3 } from '../../src/demo/catalog/hashing.js';
import { logTfL2, packageText, termCounts, tokenize } from '../../src/demo/catalog/text.js';
import { keywordTopics, TOPICS, weakLabel } from '../../src/demo/catalog/topics.js';

describe('tokenize', () => {
  it('lower-cases, splits on non-alphanumerics, drops URLs, tags, stop words, short and numeric tokens', () => {
    expect(tokenize('The Quick-Brown fox: see https://example.com/x?y=1 and <img src="b.svg"> 2024 v8 a')).toEqual([
      'quick',
      'brown',
      'fox',
      'v8',
    ]);
  });
  it('keeps Unicode letters and normalises compatibility forms (NFKC)', () => {
    expect(tokenize('Ｆｕｌｌwidth café naïve')).toEqual(['fullwidth', 'café', 'naïve']);
  });
  it('drops README boilerplate and overlong tokens', () => {
    expect(tokenize('npm install --save fast-parser; const x = require("parser")')).toEqual(['fast', 'parser', 'parser']);
    expect(tokenize(`${'x'.repeat(31)} ok`)).toEqual(['ok']);
  });
  it('packageText joins name words, description and README', () => {
    expect(packageText({ name: '@acme/db-client', description: 'SQL', readme: 'Rows' })).toBe('acme db client\nSQL\nRows');
    expect(tokenize(packageText({ name: 'lodash.clonedeep' }))).toEqual(['lodash', 'clonedeep']);
  });
});

describe('term weights', () => {
  it('log tf is 1 + ln(count)', () => {
    expect(termCounts(['a', 'b', 'a'])).toEqual(new Map([['a', 2], ['b', 1]]));
    expect(logTf(['x', 'x', 'x', 'y'])).toEqual(new Map([['x', 1 + Math.log(3)], ['y', 1]]));
  });
  it('logTfL2 has unit norm', () => {
    const w = logTfL2(termCounts(['a', 'a', 'b']));
    const a = 1 + Math.log(2);
    expect(w.get('a')).toBeCloseTo(a / Math.hypot(a, 1), 12);
    expect(w.get('b')).toBeCloseTo(1 / Math.hypot(a, 1), 12);
    expect(logTfL2(new Map()).size).toBe(0);
  });
});

describe('murmur3 (MurmurHash3_x86_32)', () => {
  it('matches the reference test vectors', () => {
    expect(murmur3('', 0)).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('', 0xffffffff)).toBe(0x81f16f39);
    expect(murmur3(new Uint8Array([0, 0, 0, 0]), 0)).toBe(0x2362f9de);
    expect(murmur3('a', 0x9747b28c)).toBe(0x7fa09ea6);
    expect(murmur3('abc', 0x9747b28c)).toBe(0xc84a62dd);
    expect(murmur3('aaaa', 0x9747b28c)).toBe(0x5a97808a);
    expect(murmur3('Hello, world!', 0x9747b28c)).toBe(0x24884cba);
    expect(murmur3('The quick brown fox jumps over the lazy dog', 0x9747b28c)).toBe(0x2fa826cd);
  });
  it('hashes strings as UTF-8', () => {
    expect(murmur3('café')).toBe(murmur3(new TextEncoder().encode('café')));
  });
});

describe('hashEmbedding (signed hashing trick)', () => {
  it('puts each token in its bucket with its sign, log-tf weighted and L2-normalised', () => {
    const tokens = ['parser', 'parser', 'json'];
    const v = hashEmbedding(tokens, 16)!;
    const p = hashSlot('parser', 16);
    const j = hashSlot('json', 16);
    expect(p.index).not.toBe(j.index); // (true for these two tokens; the test would need other tokens otherwise)
    const wp = 1 + Math.log(2);
    const norm = Math.hypot(wp, 1);
    const expected = new Array(16).fill(0);
    expected[p.index] = Math.round(((p.sign * wp) / norm) * 1e6) / 1e6;
    expected[j.index] = Math.round(((j.sign * 1) / norm) * 1e6) / 1e6;
    expect(v).toEqual(expected);
  });
  it('is deterministic, unit length, order-independent; undefined without tokens', () => {
    const a = hashEmbedding(tokenize('fast json schema validator for node'))!;
    expect(a).toHaveLength(EMBEDDING_DIMENSIONS);
    expect(Math.hypot(...a)).toBeCloseTo(1, 5);
    expect(hashEmbedding(tokenize('node for validator schema json fast'))).toEqual(a);
    expect(hashEmbedding([])).toBeUndefined();
    expect(() => hashEmbedding(['x'], 0)).toThrow(RangeError);
    expect(a.some((x) => Object.is(x, -0))).toBe(false);
  });
  it('similar texts are closer than unrelated ones (cosine)', () => {
    const e = (t: string) => hashEmbedding(tokenize(t))!;
    const cos = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i], 0);
    const a = e('postgres database client sql queries rows tables');
    const b = e('sql database driver for postgres: queries and rows');
    const c = e('terminal colors ansi styles for command line output');
    expect(cos(a, b)).toBeGreaterThan(cos(a, c));
  });
});

describe('weak labels from keywords', () => {
  it('matches whole keywords and their words', () => {
    expect(keywordTopics('command-line')).toEqual(['cli']);
    expect(keywordTopics('react animation')).toEqual(['ui']);
    expect(keywordTopics('JSON-Schema')).toEqual(['validation']);
    expect(keywordTopics('unrelated')).toEqual([]);
  });
  it('majority vote, ties to the earlier topic, undefined without matches', () => {
    expect(weakLabel(['ansi', 'terminal', 'test'])).toBe('cli');
    expect(weakLabel(['test', 'cli'])).toBe('testing'); // tie: testing is listed before cli
    expect(weakLabel(['graphql', 'http', 'server'])).toBe('web');
    expect(weakLabel([])).toBeUndefined();
    expect(weakLabel(['foo', 'bar'])).toBeUndefined();
  });
});

describe('multinomial naive Bayes', () => {
  const classes = ['sport', 'food'] as const;
  const examples = [
    { tokens: ['ball', 'goal', 'team'], label: 'sport' as const },
    { tokens: ['goal', 'match', 'team', 'team'], label: 'sport' as const },
    { tokens: ['bread', 'cheese'], label: 'food' as const },
  ];

  it('computes Laplace-smoothed likelihoods and priors exactly', () => {
    const m = trainNaiveBayes(classes, examples);
    // Vocabulary: ball goal team match bread cheese (6). Sport mass: 3 + (1 + 1 + (1 + ln 2)) = 6 + ln 2.
    const sportMass = 6 + Math.log(2);
    expect(m.vocabularySize).toBe(6);
    expect(m.logPrior).toEqual([Math.log(3 / 5), Math.log(2 / 5)]);
    expect(m.logLikelihood.get('team')![0]).toBeCloseTo(Math.log((1 + 1 + (1 + Math.log(2))) / (6 + sportMass)), 12);
    expect(m.logLikelihood.get('team')![1]).toBeCloseTo(Math.log(1 / (6 + 2)), 12);
    const s = scores(m, ['team', 'unknown']);
    expect(s[0]).toBeCloseTo(Math.log(3 / 5) + m.logLikelihood.get('team')![0], 12);
    const p = predict(m, ['team', 'goal']);
    expect(p.label).toBe('sport');
    expect(p.posterior.get('sport')! + p.posterior.get('food')!).toBeCloseTo(1, 12);
    expect(predict(m, ['cheese']).label).toBe('food');
  });

  it('temperature flattens the posterior without changing the arg-max', () => {
    const m = trainNaiveBayes(classes, examples);
    const sharp = predict(m, ['goal', 'team', 'ball'], 1);
    const soft = predict(m, ['goal', 'team', 'ball'], 10);
    expect(soft.label).toBe(sharp.label);
    expect(soft.confidence).toBeLessThan(sharp.confidence);
    const p = softmax([0, Math.log(3)]);
    expect(p[0]).toBeCloseTo(0.25, 12);
    expect(p[1]).toBeCloseTo(0.75, 12);
    expect(() => softmax([1], 0)).toThrow(RangeError);
  });

  it('refuses bad training input', () => {
    expect(() => trainNaiveBayes(classes, [])).toThrow(/at least one/);
    expect(() => trainNaiveBayes(classes, examples, 0)).toThrow(/alpha/);
    expect(() => trainNaiveBayes(['a'], [{ tokens: ['x'], label: 'b' }])).toThrow(/not one of the classes/);
  });

  it('cross-validates by index mod k and fits the temperature that minimises held-out NLL', () => {
    const ex = [
      ...['ball goal', 'team match', 'goal team', 'match ball', 'team goal ball'].map((t) => ({ tokens: t.split(' '), label: 'sport' as const })),
      ...['bread cheese', 'cheese soup', 'soup bread', 'bread cheese soup', 'cheese'].map((t) => ({ tokens: t.split(' '), label: 'food' as const })),
    ];
    const held = crossValidate(classes, ex, 5);
    expect(held).toHaveLength(10);
    expect(heldOutAccuracy(held)).toBe(1);
    const t = fitTemperature(held);
    expect(t).toBeGreaterThanOrEqual(1);
    for (const other of [1, 2, 5, 20, 100]) expect(meanNll(held, t)).toBeLessThanOrEqual(meanNll(held, other) + 1e-12);
    expect(() => crossValidate(classes, ex, 1)).toThrow(RangeError);
    expect(() => crossValidate(classes, ex.slice(0, 3), 5)).toThrow(/cannot be split/);
    expect(() => fitTemperature([])).toThrow(RangeError);
  });
});

describe('computeFeatures', () => {
  const pkgs = [
    { name: 'jest-like', description: 'test runner with assertions', keywords: ['test'] },
    { name: 'mocha-like', description: 'test framework, assertions, spies', keywords: ['testing'] },
    { name: 'assert-x', description: 'assertions for tests', keywords: ['assert'] },
    { name: 'color-out', description: 'terminal colors for command line output', keywords: ['cli'] },
    { name: 'argv-parse', description: 'command line argv parser for terminal tools', keywords: ['argv'] },
    { name: 'mystery', description: 'assertions and spies for your test runner', keywords: [] },
    { name: 'empty', keywords: ['terminal'] },
  ];

  it('embeds every package with tokens, classifies every package (labelled ones too) and reports accuracy', () => {
    const { features, report } = computeFeatures(pkgs);
    expect(report.labelled).toBe(6);
    expect(report.labels).toEqual({ testing: 3, cli: 3 });
    expect(report.holdoutAccuracy).toBeGreaterThanOrEqual(0);
    expect(report.majorityBaseline).toBe(0.5);
    expect(report.model).toMatch(/^multinomial naive Bayes \(1\+ln tf, Laplace α=1, temperature [\d.]+; 6 keyword-labelled packages, 5-fold hold-out accuracy [\d.]+\)$/);
    expect(features).toHaveLength(7);
    expect(features.every((f) => f.topic && f.topic.confidence > 0 && f.topic.confidence <= 1)).toBe(true);
    expect(features[5].weakLabel).toBeUndefined();
    expect(features[5].topic!.label).toBe('testing');
    expect(features[6].embedding).toHaveLength(EMBEDDING_DIMENSIONS); // the name alone gives tokens
    expect(features[0].weakLabel).toBe('testing');
    expect(computeFeatures(pkgs)).toEqual({ features, report }); // deterministic
  });

  it('skips classification without labelled packages and cross-validation with fewer than 5', () => {
    const none = computeFeatures([{ name: 'x-y', keywords: [] }]);
    expect(none.report.labelled).toBe(0);
    expect(none.features[0].topic).toBeUndefined();
    const few = computeFeatures(pkgs.slice(0, 2));
    expect(few.report.holdoutAccuracy).toBeUndefined();
    expect(few.report.temperature).toBe(1);
    expect(few.features[0].topic!.label).toBe('testing');
    expect(TOPICS).toContain(few.features[1].topic!.label);
  });
});

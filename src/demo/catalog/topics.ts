/**
 * Weak labels for the topic classifier: a package's published `keywords` name its topic often enough to train
 * on. Each topic has a list of keyword terms; a keyword matches a term when it equals it, or when one of its
 * words (split on space, `-`, `_`, `.`, `/`) equals it (`command-line` → `command`, `line`; `react animation`
 * → `react`, `animation`). Every matching keyword adds one vote for its topic; the topic with the most votes
 * wins, ties going to the topic listed first in `TOPIC_RULES`. Packages whose keywords match nothing (or that
 * have no keywords) are unlabelled: the classifier still predicts a topic for them.
 */

/** Topics, in tie-break order (the catalog model's `topic_classification.label` enum, same order). */
export const TOPICS = [
  'testing',
  'cli',
  'database',
  'graphql',
  'web',
  'typescript',
  'ui',
  'build',
  'parsing',
  'validation',
  'logging',
  'utility',
] as const;

export type Topic = (typeof TOPICS)[number];

/** Keyword terms per topic (lower case). Written down here and in docs/catalog.md. */
export const TOPIC_RULES: Readonly<Record<Topic, readonly string[]>> = {
  testing: ['test', 'testing', 'tests', 'jest', 'mocha', 'vitest', 'chai', 'assert', 'assertion', 'mock', 'spy', 'snapshot', 'benchmark', 'tdd', 'bdd'],
  cli: ['cli', 'terminal', 'command', 'console', 'tty', 'ansi', 'argv', 'args', 'argument', 'arguments', 'getopt', 'shell', 'xterm', 'progress', 'spinner', 'colors', 'colour', 'color'],
  database: ['database', 'sql', 'postgres', 'postgresql', 'postgre', 'pg', 'pglite', 'pgvector', 'rdbms', 'libpq', 'db'],
  graphql: ['graphql', 'graphiql'],
  web: ['http', 'server', 'web', 'fastify', 'router', 'cookie', 'cookies', 'proxy', 'request', 'req', 'url', 'uri', 'querystring', 'ip', 'ipv4', 'ipv6', 'multipart', 'fetch'],
  typescript: ['typescript', 'typings', 'tslib'],
  ui: ['react', 'dom', 'css', 'tooltip', 'popover', 'dropdown', 'menu', 'popup', 'animation', 'vue', 'solid', 'editor', 'codemirror', 'style', 'styles', 'svg', 'scroll', 'aria', 'clipboard', 'browser'],
  build: ['bundler', 'esbuild', 'rollup', 'rolldown', 'webpack', 'parcel', 'vite', 'sourcemap', 'compiler', 'transpiler', 'transpilation', 'wasm', 'webassembly', 'runtime'],
  parsing: ['parser', 'parse', 'parsing', 'tokenize', 'tokenizer', 'token', 'ast', 'regex', 'regexp', 'markdown', 'yaml', 'lexer', 'unicode'],
  validation: ['schema', 'jsonschema', 'validation', 'validator', 'validate', 'ajv', 'json-schema'],
  logging: ['log', 'logging', 'logger', 'pino', 'debug', 'trace', 'stacktrace'],
  utility: ['object', 'function', 'property', 'properties', 'deep', 'merge', 'clone', 'copy', 'typeof', 'util', 'utility', 'symbol', 'array', 'intrinsic', 'ecmascript', 'prototype', 'equal', 'cache', 'uuid', 'id', 'async', 'promise', 'queue', 'timer'],
};

const TERM_TOPICS = new Map<string, Topic[]>();
for (const topic of TOPICS) {
  for (const term of TOPIC_RULES[topic]) TERM_TOPICS.set(term, [...(TERM_TOPICS.get(term) ?? []), topic]);
}

/** The topics one keyword votes for (each at most once). */
export function keywordTopics(keyword: string): Topic[] {
  const k = keyword.trim().toLowerCase();
  const words = new Set([k, ...k.split(/[\s\-_./]+/).filter(Boolean)]);
  const topics = new Set<Topic>();
  for (const w of words) for (const t of TERM_TOPICS.get(w) ?? []) topics.add(t);
  return [...topics];
}

/**
 * The weak label of a package from its keywords (the rules in the module comment).
 * @returns the winning topic, or undefined when no keyword matches
 */
export function weakLabel(keywords: readonly string[]): Topic | undefined {
  const votes = new Map<Topic, number>();
  for (const k of keywords) for (const t of keywordTopics(k)) votes.set(t, (votes.get(t) ?? 0) + 1);
  let best: Topic | undefined;
  for (const t of TOPICS) {
    const v = votes.get(t) ?? 0;
    if (v > 0 && (best === undefined || v > (votes.get(best) ?? 0))) best = t;
  }
  return best;
}

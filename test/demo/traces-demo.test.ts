/**
 * The traces demo (issue 7 item 7): the retrieval assistant over Lattice's documentation runs against an
 * in-process server on PGlite and PostgreSQL, exports its spans through the OTLP endpoint with the OpenTelemetry
 * SDK and its scores through the batch API (admin key + project, as `lattice serve` runs it), and everything is
 * read back through GraphQL: the trace tree, token counts equal to gpt-tokenizer's counts of the stored input
 * and output, cost = tokens × the stated prices, the answers equal to the pipeline's, and the scores equal to the
 * checks recomputed from the stored data. Plus the pieces: chunking, BM25, the questions' references.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { countTokens } from 'gpt-tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { startServe, type RunningServer } from '../../src/cli/serve.js';
import { demoForModel } from '../../src/demo/registry.js';
import { Bm25Index, chunkMarkdown, CHUNK_WORDS, loadCorpus, terms } from '../../src/demo/traces/corpus.js';
import { buildPrompt, DEMO_MODEL, DEMO_PRICES, generate } from '../../src/demo/traces/generate.js';
import { keywordFound, QUESTIONS } from '../../src/demo/traces/questions.js';
import { latticeRoot } from '../../src/package-root.js';
import { runTracesDemo, TOP_K, userOf, type TracesDemoSummary } from '../../src/demo/traces/run.js';
import { loadPreset } from '../../src/model/load.js';
import { buildServer } from '../../src/server/app.js';
import { readCredentials } from '../../src/server/bootstrap.js';
import { createEmptyPostgresDatabase, createProject, createTestDb, TEST_KINDS, type TestDb } from '../support/db.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('traces demo pieces', () => {
  it('chunks markdown by heading, drops code fences and caps chunk size', () => {
    const long = Array.from({ length: CHUNK_WORDS + 30 }, (_, i) => `w${i}`).join(' ');
    const chunks = chunkMarkdown('x.md', `intro words here\n\n# Alpha\n\nfirst para.\n\n\`\`\`sh\nnpm secret-command\n\`\`\`\n\n## Beta\n\n${long}\n`);
    expect(chunks.map((c) => [c.id, c.heading])).toEqual([
      ['x.md#0', ''],
      ['x.md#1', 'Alpha'],
      ['x.md#2', 'Beta'],
      ['x.md#3', 'Beta'],
    ]);
    expect(chunks[1].text).toBe('first para.');
    expect(chunks.some((c) => c.text.includes('secret-command'))).toBe(false);
    expect(chunks[2].text.split(' ')).toHaveLength(CHUNK_WORDS);
    expect(chunks[3].text.split(' ')).toHaveLength(30);
  });

  it('scores with Okapi BM25 (k1 1.2, b 0.75, Lucene idf)', () => {
    const chunks = [
      { id: 'a#0', document: 'a', heading: '', text: 'postgres timeout timeout' },
      { id: 'b#0', document: 'b', heading: '', text: 'postgres pool size' },
      { id: 'c#0', document: 'c', heading: '', text: 'graphql schema' },
    ];
    const index = new Bm25Index(chunks);
    // df(timeout) = 1 of N = 3: idf = ln(1 + 2.5 / 1.5); avg length 8/3; chunk a has 3 terms, f = 2.
    const idf = Math.log(1 + 2.5 / 1.5);
    expect(index.idf('timeout')).toBeCloseTo(idf, 12);
    const norm = 1.2 * (1 - 0.75 + (0.75 * 3) / (8 / 3));
    const hits = index.search('the timeout?', 5);
    expect(hits.map((h) => h.chunk.id)).toEqual(['a#0']);
    expect(hits[0].score).toBeCloseTo((idf * 2 * 2.2) / (2 + norm), 12);
    expect(index.search('postgres', 5).map((h) => h.chunk.id)).toEqual(['a#0', 'b#0']);
    expect(terms('What is LATTICE_STATEMENT_TIMEOUT_MS?')).toEqual(['lattice_statement_timeout_ms']);
  });

  it('every question names a document of the repository that contains one of its keywords', () => {
    expect(QUESTIONS.length).toBeGreaterThanOrEqual(20);
    for (const q of QUESTIONS) {
      const text = readFileSync(path.join(ROOT, q.document), 'utf8').toLowerCase();
      expect(q.keywords.some((k) => text.includes(k.toLowerCase())), `${q.document}: ${q.question}`).toBe(true);
    }
  });
});

// A subset over every document: README (3, so a user has two traces), catalog, architecture, traces.
const SUBSET = [0, 4, 6, 8, 15, 22, 26].map((i) => QUESTIONS[i]);

/** Traces in the subset's order (traces started within the same millisecond have no order by time). */
const bySubset = (traces: any[]): any[] => {
  const at = (tr: any) => SUBSET.findIndex((q) => q.question === tr.input.question);
  expect(traces.every((tr) => at(tr) >= 0)).toBe(true);
  return [...traces].sort((a, b) => at(a) - at(b));
};

describe.each(TEST_KINDS)('traces demo on %s', (kind) => {
  let t: TestDb;
  let app: FastifyInstance;
  let baseUrl: string;
  let projectId: string;
  let otherProject: string;
  let admin: string;
  let summary: TracesDemoSummary;
  const lines: string[] = [];

  const graphql = async (query: string) => {
    const res = await fetch(`${baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ query }),
    });
    const body = (await res.json()) as { data?: any; errors?: { message: string }[] };
    expect(body.errors).toBeUndefined();
    return body.data;
  };

  beforeAll(async () => {
    t = await createTestDb(kind, await loadPreset('traces'));
    projectId = await createProject(t.db, 'traces-demo');
    otherProject = await createProject(t.db, 'other'); // the admin key must name the project: the demo does
    admin = (await createApiKey(t.db, { projectId: null, role: 'admin' })).secret_key;
    ({ app } = await buildServer({ db: t.db, model: t.model, followModelChanges: false }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    summary = await runTracesDemo({ baseUrl, auth: `Bearer ${admin}`, projectId, rootDir: ROOT, questions: SUBSET, log: (l) => lines.push(l) });
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('stores one trace per question (plus the indexing trace) with its spans as a tree, in the named project', async () => {
    expect(summary).toMatchObject({ traces: SUBSET.length + 1, spans: 3 * SUBSET.length + 1, scores: 3 * SUBSET.length, skippedQuestions: 0 });
    const { rows } = await t.db.query<{ project_id: string; n: number }>('SELECT project_id, count(*)::int AS n FROM app.observation GROUP BY project_id');
    expect(rows).toEqual([{ project_id: projectId, n: summary.spans }]);

    const data = await graphql(`{
      traces(filter: { name: { eq: "docs-qa" } }, order_by: { timestamp: ASC }, limit: 10) {
        user_id input output session { external_id }
        observations(filter: { parent_id: { is_null: true } }, limit: 1) { name type latency_ms children(order_by: { name: DESC }, limit: 2) { name type model latency_ms } }
      }
      index: traces(filter: { name: { eq: "index-documentation" } }, limit: 2) { observations(limit: 2) { name output } }
    }`);
    expect(data.traces).toHaveLength(SUBSET.length);
    data.traces = bySubset(data.traces);
    data.traces.forEach((tr: any, i: number) => {
      expect(tr.user_id).toBe(userOf(i));
      expect(tr.session.external_id).toMatch(new RegExp(`^${userOf(i)}-session-\\d+-[0-9a-f]{8}$`));
      expect(tr.observations).toHaveLength(1);
      const [root] = tr.observations;
      expect(root).toMatchObject({ name: 'answer-question', type: 'CHAIN' });
      expect(root.children.map((c: any) => [c.name, c.type, c.model])).toEqual([
        ['retrieve', 'RETRIEVER', null],
        ['generate', 'GENERATION', DEMO_MODEL],
      ]);
      for (const o of [root, ...root.children]) expect(o.latency_ms).toBeGreaterThanOrEqual(0);
    });
    expect(new Set(data.traces.map((tr: any) => tr.session.external_id)).size).toBeGreaterThan(1);
    expect(data.traces[0].session.external_id).toBe(data.traces[4].session.external_id); // user 1's two first questions
    expect(data.index[0].observations[0].output.chunks).toBe(loadCorpus(ROOT).length);
  });

  it("generations: answers are the pipeline's, tokens are gpt-tokenizer counts of the stored text, cost = tokens × stated prices", async () => {
    const index = new Bm25Index(loadCorpus(ROOT));
    const data = await graphql(`{
      traces(filter: { name: { eq: "docs-qa" } }, order_by: { timestamp: ASC }, limit: 10) {
        input observations(filter: { type: { eq: GENERATION } }, limit: 1) { input output input_tokens output_tokens total_tokens input_cost output_cost total_cost }
      }
    }`);
    let inputTokens = 0;
    let outputTokens = 0;
    let cost = 0;
    expect(data.traces).toHaveLength(SUBSET.length);
    bySubset(data.traces).forEach((tr: any, i: number) => {
      const [g] = tr.observations;
      const q = SUBSET[i];
      const hits = index.search(q.question, TOP_K);
      const prompt = buildPrompt(q.question, hits);
      expect(g.input).toBe(prompt);
      expect(g.output).toBe(generate(index, q.question, hits, prompt).answer);
      expect(g.input_tokens).toBe(countTokens(g.input));
      expect(g.output_tokens).toBe(countTokens(g.output));
      expect(g.input_tokens).toBeGreaterThan(100);
      expect(g.total_tokens).toBe(g.input_tokens + g.output_tokens);
      expect(g.input_cost).toBeCloseTo(g.input_tokens * DEMO_PRICES.input, 15);
      expect(g.output_cost).toBeCloseTo(g.output_tokens * DEMO_PRICES.output, 15);
      expect(g.total_cost).toBeCloseTo(g.input_cost + g.output_cost, 15);
      inputTokens += g.input_tokens;
      outputTokens += g.output_tokens;
      cost += g.total_cost;
    });
    expect(summary.inputTokens).toBe(inputTokens);
    expect(summary.outputTokens).toBe(outputTokens);
    expect(summary.cost).toBeCloseTo(cost, 12);
    expect(DEMO_PRICES).toEqual({ input: 0.15e-6, output: 0.6e-6 });
  });

  it('scores equal the checks recomputed from the stored retrieval output and answer', async () => {
    const data = await graphql(`{
      traces(filter: { name: { eq: "docs-qa" } }, order_by: { timestamp: ASC }, limit: 10) {
        input observations(filter: { parent_id: { is_null: false } }, order_by: { name: DESC }, limit: 2) { name output scores(order_by: { name: ASC }, limit: 5) { name value data_type source } }
        scores(limit: 5) { name }
      }
    }`);
    let hits = 0;
    let keywords = 0;
    expect(data.traces).toHaveLength(SUBSET.length);
    bySubset(data.traces).forEach((tr: any, i: number) => {
      expect(tr.scores).toHaveLength(3);
      const [retrieve, generation] = tr.observations;
      const docs: string[] = retrieve.output.chunks.map((c: { document: string }) => c.document);
      expect(docs.length).toBeLessThanOrEqual(TOP_K);
      const rank = docs.indexOf(SUBSET[i].document) + 1;
      const hit = rank >= 1 && rank <= 3 ? 1 : 0;
      expect(retrieve.scores).toEqual([
        { name: 'retrieval_hit@3', value: hit, data_type: 'BOOLEAN', source: 'EVAL' },
        { name: 'retrieval_reciprocal_rank', value: rank ? 1 / rank : 0, data_type: 'NUMERIC', source: 'EVAL' },
      ]);
      const keyword = keywordFound(generation.output, SUBSET[i]) ? 1 : 0;
      expect(generation.scores).toEqual([{ name: 'answer_keyword', value: keyword, data_type: 'BOOLEAN', source: 'EVAL' }]);
      hits += hit;
      keywords += keyword;
    });
    expect(summary.hitAt3).toBeCloseTo(hits / SUBSET.length, 12);
    expect(summary.keywordRate).toBeCloseTo(keywords / SUBSET.length, 12);
    expect(lines.at(-1)).toContain(`hit@3 ${summary.hitAt3.toFixed(2)}`);
  });

  it("the banner's first query runs and gives tokens and cost per model", async () => {
    const data = await graphql(demoForModel('traces')!.firstQuery);
    expect(data.traces).toHaveLength(3);
    expect(data.observation_aggregate).toEqual([
      { key: { model: DEMO_MODEL }, count: SUBSET.length, sum: { total_tokens: summary.inputTokens + summary.outputTokens, total_cost: expect.closeTo(summary.cost, 12) } },
    ]);
  });

  it('the registered demo (as `lattice serve` runs it) answers all questions from Lattice\'s own docs', async () => {
    expect(latticeRoot()).toBe(ROOT);
    const line = await demoForModel('traces')!.run({ baseUrl, auth: `Bearer ${admin}`, projectId: otherProject });
    const n = QUESTIONS.length;
    expect(line).toMatch(new RegExp(`^${n + 1} traces, ${3 * n + 1} spans, ${3 * n} scores, \\d+ tokens, \\$0\\.\\d{6} at stated demo prices, retrieval hit@3 [01]\\.\\d\\d, answer keyword rate [01]\\.\\d\\d$`));
    const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM app.score WHERE project_id = $1', [otherProject]);
    expect(rows[0].n).toBe(3 * n);
  });

  it('fails with a clear message when the server refuses the export', async () => {
    await expect(runTracesDemo({ baseUrl, auth: 'Bearer lk-sk-not-a-key', projectId, rootDir: ROOT, questions: SUBSET.slice(0, 1) })).rejects.toThrow(
      /The OTLP export to http:\/\/127\.0\.0\.1:\d+ failed: HTTP 401 .*\(check the key, and the project for an admin key\)/,
    );
  });
});

describe.each(TEST_KINDS)('lattice serve --preset traces, first start (%s)', (kind) => {
  let dir: string;
  let pgDb: { url: string; drop(): Promise<void> } | undefined;
  let server: RunningServer;
  const lines: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lattice-traces-serve-'));
    if (kind === 'postgres') pgDb = await createEmptyPostgresDatabase();
    server = await startServe(
      {
        port: 0,
        host: '127.0.0.1',
        databaseUrl: pgDb?.url,
        dataDir: path.join(dir, 'data'),
        preset: 'traces',
        demo: true,
        credentialsFile: path.join(dir, 'credentials'),
        logLevel: 'silent',
      },
      { out: (l) => lines.push(l), err: (l) => lines.push(l) },
    );
    await server.demo;
  });
  afterAll(async () => {
    await server?.close();
    await pgDb?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the traces demo through OTLP and prints a first query that shows it', async () => {
    const out = lines.join('\n');
    const n = QUESTIONS.length;
    expect(out).toContain(`Demo data loaded in`);
    expect(out).toContain(`: ${n + 1} traces, ${3 * n + 1} spans, ${3 * n} scores,`);
    expect(out).toMatch(/\[demo\] exported \d+ spans of \d+ traces over OTLP\/HTTP protobuf/);
    const firstQuery = demoForModel('traces')!.firstQuery;
    expect(out).toContain(JSON.stringify({ query: firstQuery }));
    const { secret_key } = (await readCredentials(path.join(dir, 'credentials')))!;
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret_key}` },
      body: JSON.stringify({ query: firstQuery }),
    });
    const body = (await res.json()) as { data: any; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(body.data.traces).toHaveLength(3);
    expect(body.data.observation_aggregate).toEqual([{ key: { model: DEMO_MODEL }, count: n, sum: { total_tokens: expect.any(Number), total_cost: expect.any(Number) } }]);
  });
});

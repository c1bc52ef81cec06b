/**
 * The traces demo's "model": an extractive answer generator that really runs locally. It receives a prompt (the
 * question and the retrieved chunks), picks the sentences of the chunks that share the most query terms
 * (weighted by BM25 idf), and stitches the best ones together in document order. Token counts are those of the
 * o200k_base tokenizer (`gpt-tokenizer`, the encoding of OpenAI's GPT-4o family) over the exact prompt and answer
 * text; the cost comes from the stated demo price table {@link DEMO_PRICES}, not from any provider's bill.
 */
import { countTokens } from 'gpt-tokenizer';
import { terms, type Bm25Index, type Hit } from './corpus.js';

/** The model name the generations carry. */
export const DEMO_MODEL = 'lattice-demo-extractive';

/** Most sentences in an answer. */
export const MAX_SENTENCES = 2;

/**
 * The demo's stated price table in USD per token (not a real bill; chosen to be of the order of a small hosted
 * model): $0.15 per 1M input tokens, $0.60 per 1M output tokens.
 */
export const DEMO_PRICES = { input: 0.15 / 1_000_000, output: 0.6 / 1_000_000 } as const;

/** The prompt given to the generator: an instruction, the numbered context chunks with their ids, the question. */
export function buildPrompt(question: string, hits: readonly Hit[]): string {
  const context = hits.map((h, i) => `[${i + 1}] (${h.chunk.id}) ${h.chunk.text}`).join('\n');
  return `Answer the question using only the context.\n\nContext:\n${context}\n\nQuestion: ${question}\nAnswer:`;
}

/** A generation's result. */
export interface Generation {
  readonly answer: string;
  /** Ids of the chunks the answer's sentences come from, in answer order. */
  readonly sources: readonly string[];
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** USD, from {@link DEMO_PRICES}. */
  readonly inputCost: number;
  readonly outputCost: number;
}

/** The answer when no sentence shares a term with the question. */
export const NO_ANSWER = 'The documentation retrieved does not answer this question.';

/** Sentences of a chunk: split after `.`, `!` or `?` followed by white space; markdown table rows are skipped. */
function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+/)
    .map((s) => s.trim())
    .filter((s) => s.length >= 20 && !s.startsWith('|'));
}

/**
 * Generate an answer (see the module comment). Sentence score: the sum of idf over the distinct query terms the
 * sentence contains, divided by √(number of its terms) so long sentences do not win by length alone; the
 * {@link MAX_SENTENCES} best with a positive score, ties to the earlier chunk, are joined in retrieval order.
 */
export function generate(index: Bm25Index, question: string, hits: readonly Hit[], prompt: string): Generation {
  const q = new Set(terms(question));
  const candidates: { text: string; source: string; score: number; order: number }[] = [];
  for (const hit of hits) {
    for (const s of sentences(hit.chunk.text)) {
      const st = terms(s);
      const distinct = new Set(st);
      let score = 0;
      for (const t of q) if (distinct.has(t)) score += index.idf(t);
      if (score > 0) candidates.push({ text: s, source: hit.chunk.id, score: score / Math.sqrt(st.length || 1), order: candidates.length });
    }
  }
  const chosen = candidates
    .sort((a, b) => b.score - a.score || a.order - b.order)
    .slice(0, MAX_SENTENCES)
    .sort((a, b) => a.order - b.order);
  const answer = chosen.length ? chosen.map((c) => c.text).join(' ') : NO_ANSWER;
  const inputTokens = countTokens(prompt);
  const outputTokens = countTokens(answer);
  return {
    answer,
    sources: chosen.map((c) => c.source),
    inputTokens,
    outputTokens,
    inputCost: inputTokens * DEMO_PRICES.input,
    outputCost: outputTokens * DEMO_PRICES.output,
  };
}

/**
 * The traces demo's document collection: Lattice's own documentation (README.md and docs/*.md of the
 * repository), split into chunks, and an Okapi BM25 index over them (Robertson & Zaragoza, *The Probabilistic
 * Relevance Framework: BM25 and Beyond*, Foundations and Trends in IR 3(4), 2009; k1 = 1.2, b = 0.75, the
 * non-negative idf ln(1 + (N − df + 0.5) / (df + 0.5)) of Lucene).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** One retrievable piece of a document. */
export interface Chunk {
  /** `<document>#<n>`, n counting from 0 in document order, e.g. `docs/catalog.md#4`. */
  readonly id: string;
  /** Path relative to the repository root, with `/` separators. */
  readonly document: string;
  /** The nearest heading above the chunk (`''` before the first one). */
  readonly heading: string;
  /** The chunk's text (markdown, code fences removed). */
  readonly text: string;
}

/** Most words in one chunk; paragraphs are joined up to this size and longer paragraphs are split. */
export const CHUNK_WORDS = 120;

/** English function words left out of the index (they carry no topic). */
const STOP_WORDS = new Set(
  ('a an and are as at be by can do does for from how i in is it its of on or that the this to what when where which who why will with ' +
    'my me your you we our if into not no than then there these those was were has have had been being so such only also each every')
    .split(' '),
);

/**
 * Terms of a text: NFKC, lower case, split on anything that is not a letter, a digit or `_`; terms of at least
 * two characters that are not stop words. Identifiers such as `LATTICE_STATEMENT_TIMEOUT_MS` stay one term.
 */
export function terms(text: string): string[] {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}_]+/u)
    .filter((t) => t.length >= 2 && !STOP_WORDS.has(t));
}

/**
 * The documents the demo answers from, relative to `rootDir`: `README.md` and every `docs/*.md`, sorted.
 * Missing files are simply absent (an installation without `docs/` has only the README).
 */
export function documentPaths(rootDir: string): string[] {
  const out: string[] = [];
  if (existsSync(path.join(rootDir, 'README.md'))) out.push('README.md');
  const docs = path.join(rootDir, 'docs');
  if (existsSync(docs)) {
    for (const name of readdirSync(docs).sort()) if (name.endsWith('.md')) out.push(`docs/${name}`);
  }
  return out;
}

/**
 * Split a markdown document into chunks: code fences are dropped (commands and YAML are poor answers), headings
 * start a new chunk and name it, paragraphs are packed up to {@link CHUNK_WORDS} words, and a longer paragraph is
 * cut at that many words.
 * @param document the path used in the chunk ids
 */
export function chunkMarkdown(document: string, markdown: string): Chunk[] {
  const chunks: Chunk[] = [];
  let heading = '';
  let words: string[] = [];
  const flush = () => {
    if (words.length) chunks.push({ id: `${document}#${chunks.length}`, document, heading, text: words.join(' ') });
    words = [];
  };
  const paragraphs: string[][] = [];
  let current: string[] = [];
  let fenced = false;
  for (const line of markdown.replace(/\r\n?/g, '\n').split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (fenced) continue;
    const h = /^#{1,6}\s+(.*)$/.exec(line);
    if (h) {
      if (current.length) paragraphs.push(current);
      paragraphs.push([`\u0000${h[1].trim()}`]);
      current = [];
    } else if (line.trim() === '') {
      if (current.length) paragraphs.push(current);
      current = [];
    } else {
      current.push(line.trim());
    }
  }
  if (current.length) paragraphs.push(current);
  for (const p of paragraphs) {
    if (p[0].startsWith('\u0000')) {
      flush();
      heading = p[0].slice(1);
      continue;
    }
    const pw = p.join(' ').split(/\s+/).filter(Boolean);
    if (words.length && words.length + pw.length > CHUNK_WORDS) flush();
    for (let i = 0; i < pw.length; i += CHUNK_WORDS) {
      words.push(...pw.slice(i, i + CHUNK_WORDS));
      if (words.length >= CHUNK_WORDS) flush();
    }
  }
  flush();
  return chunks;
}

/** Read and chunk every document of {@link documentPaths}. */
export function loadCorpus(rootDir: string): Chunk[] {
  return documentPaths(rootDir).flatMap((doc) => chunkMarkdown(doc, readFileSync(path.join(rootDir, doc), 'utf8')));
}

/** One retrieved chunk with its BM25 score. */
export interface Hit {
  readonly chunk: Chunk;
  readonly score: number;
}

/** An Okapi BM25 index over chunks (see the module comment); chunk text and heading are indexed together. */
export class Bm25Index {
  static readonly K1 = 1.2;
  static readonly B = 0.75;
  private readonly tf: Map<string, number>[];
  private readonly lengths: number[];
  private readonly df = new Map<string, number>();
  private readonly avgLength: number;

  constructor(readonly chunks: readonly Chunk[]) {
    this.tf = chunks.map((c) => {
      const m = new Map<string, number>();
      for (const t of terms(`${c.heading} ${c.text}`)) m.set(t, (m.get(t) ?? 0) + 1);
      return m;
    });
    this.lengths = this.tf.map((m) => [...m.values()].reduce((a, b) => a + b, 0));
    for (const m of this.tf) for (const t of m.keys()) this.df.set(t, (this.df.get(t) ?? 0) + 1);
    this.avgLength = this.lengths.reduce((a, b) => a + b, 0) / Math.max(1, chunks.length);
  }

  /** Distinct terms in the index. */
  get vocabularySize(): number {
    return this.df.size;
  }

  /** Inverse document frequency of a term (0 for a term in no chunk). */
  idf(term: string): number {
    const df = this.df.get(term) ?? 0;
    if (df === 0) return 0;
    return Math.log(1 + (this.chunks.length - df + 0.5) / (df + 0.5));
  }

  /**
   * The `k` best chunks for a query, best first; chunks scoring 0 (no query term) are left out, ties keep
   * corpus order.
   */
  search(query: string, k: number): Hit[] {
    const q = [...new Set(terms(query))];
    const hits: Hit[] = [];
    this.tf.forEach((m, i) => {
      let score = 0;
      const norm = Bm25Index.K1 * (1 - Bm25Index.B + (Bm25Index.B * this.lengths[i]) / this.avgLength);
      for (const t of q) {
        const f = m.get(t);
        if (f) score += (this.idf(t) * f * (Bm25Index.K1 + 1)) / (f + norm);
      }
      if (score > 0) hits.push({ chunk: this.chunks[i], score });
    });
    return hits.sort((a, b) => b.score - a.score).slice(0, k);
  }
}

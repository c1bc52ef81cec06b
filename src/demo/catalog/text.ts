/**
 * Text → tokens for the catalog demo's features (embedding and topic classifier). Deterministic and small:
 *
 * 1. Unicode NFKC normalisation and lower-casing;
 * 2. URLs (`http(s)://…`, `www.…`) and HTML tags (`<img …>`) are removed — in READMEs they are mostly badges
 *    and links whose fragments would otherwise dominate the counts;
 * 3. split on every character that is not a letter or a digit (`\p{L}`, `\p{N}`), so `command-line` gives
 *    `command` and `line`, and `getOwnPropertyDescriptor` stays one token (after lower-casing);
 * 4. keep tokens of 2 to 30 characters that contain a letter and are not stop words (`STOP_WORDS`: English
 *    function words plus README boilerplate such as `npm`, `install`, `license`, `const`, `require`).
 */

/** English function words and README/JavaScript boilerplate that says nothing about a package's topic. */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    // English function words (a short list in the spirit of the SMART and Snowball lists).
    'a an and are as at be been being but by can could did do does doing done for from had has have having he her ' +
    'here hers him his how if in into is it its itself just may me might more most must my no nor not of off on ' +
    'once only or other our ours out over own same shall she should so some such than that the their theirs them ' +
    'then there these they this those through to too under until up us very was we were what when where which ' +
    'while who whom why will with would you your yours also any all each both few many much every via per etc ' +
    'eg ie am let lets use used uses using one two see get gets got make makes made like need needs ' +
    // README and JavaScript boilerplate.
    'npm yarn pnpm npx install installation installing save dev license licensed mit isc copyright readme md ' +
    'const var require import export default return new true false null undefined js mjs cjs ts ' +
    'github com www org io badge badges svg png img src href shields version versions'
  )
    .split(/\s+/)
    .filter(Boolean),
);

const URL_RE = /\b(?:https?:\/\/|www\.)[^\s)\]>"'`]+/g;
const TAG_RE = /<\/?[a-z][^>]*>/g;
const SPLIT_RE = /[^\p{L}\p{N}]+/u;
const HAS_LETTER_RE = /\p{L}/u;

/**
 * Tokenize text as described in the module comment.
 * @returns tokens in text order (repeats kept)
 */
export function tokenize(text: string): string[] {
  const cleaned = text.normalize('NFKC').toLowerCase().replace(URL_RE, ' ').replace(TAG_RE, ' ');
  const out: string[] = [];
  for (const t of cleaned.split(SPLIT_RE)) {
    if (t.length < 2 || t.length > 30 || !HAS_LETTER_RE.test(t) || STOP_WORDS.has(t)) continue;
    out.push(t);
  }
  return out;
}

/** Token → count. */
export type TermCounts = Map<string, number>;

/** Count tokens. */
export function termCounts(tokens: readonly string[]): TermCounts {
  const counts: TermCounts = new Map();
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
  return counts;
}

/**
 * Sublinear term-frequency weights `1 + ln(count)` (Manning, Raghavan & Schütze, *Introduction to Information
 * Retrieval*, 2008, §6.4.1), scaled to unit L2 norm. An empty input gives an empty map.
 */
export function logTfL2(counts: TermCounts): Map<string, number> {
  const weights = new Map<string, number>();
  let sq = 0;
  for (const [t, c] of counts) {
    const w = 1 + Math.log(c);
    weights.set(t, w);
    sq += w * w;
  }
  const norm = Math.sqrt(sq);
  if (norm > 0) for (const [t, w] of weights) weights.set(t, w / norm);
  return weights;
}

/**
 * The text the features of one package are computed from: its name split into words, its description and
 * its (stored, capped) README, joined by newlines. Keywords are deliberately not included: they are the
 * source of the classifier's training labels.
 */
export function packageText(p: { readonly name: string; readonly description?: string; readonly readme?: string }): string {
  return [p.name.replace(/^@/, '').replace(/[/_.-]+/g, ' '), p.description ?? '', p.readme ?? ''].join('\n');
}

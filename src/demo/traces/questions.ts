/**
 * The traces demo's questions about Lattice, each with the document that answers it and reference keywords a
 * correct answer contains (any one suffices, compared case-insensitively). The keywords were chosen by reading
 * the document; test/demo/traces-demo.test.ts checks that each occurs in its document.
 */

/** One question with its reference. */
export interface DemoQuestion {
  readonly question: string;
  /** The document (relative to the repository root) that answers it. */
  readonly document: string;
  /** Words or phrases of the reference answer. */
  readonly keywords: readonly string[];
}

export const QUESTIONS: readonly DemoQuestion[] = [
  { question: 'What happens on the first start of Lattice?', document: 'README.md', keywords: ['default project', 'admin key', 'credentials'] },
  { question: 'Where does Lattice keep the embedded database and the credentials file?', document: 'README.md', keywords: ['.lattice/data', '.lattice/credentials'] },
  { question: 'How do I change the data model while the server runs?', document: 'README.md', keywords: ['model apply', '--watch', 'no restart'] },
  { question: 'Does Lattice drop data when a field is removed from the model?', document: 'README.md', keywords: ['refused', 'never drops'] },
  { question: 'How do I point the Langfuse SDK at Lattice?', document: 'README.md', keywords: ['base URL', 'baseUrl'] },
  { question: 'Which OTEL environment variables send OpenTelemetry traces to Lattice?', document: 'README.md', keywords: ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'] },
  { question: 'When is a request statement cancelled by the statement timeout?', document: 'README.md', keywords: ['30 s', 'LATTICE_STATEMENT_TIMEOUT_MS'] },
  { question: 'How do I turn off GraphQL introspection?', document: 'README.md', keywords: ['--no-introspection', 'LATTICE_INTROSPECTION'] },
  { question: 'What does the health endpoint answer while PostgreSQL cannot be reached?', document: 'README.md', keywords: ['503', 'DATABASE_UNAVAILABLE'] },
  { question: 'How do automatic persisted queries work with a sha256Hash?', document: 'README.md', keywords: ['persistedQuery', 'PersistedQueryNotFound'] },
  { question: 'How do I run the tests against PostgreSQL with TEST_DATABASE_URL?', document: 'README.md', keywords: ['TEST_DATABASE_URL'] },
  { question: 'Which JWT algorithms and keys does Lattice accept?', document: 'README.md', keywords: ['LATTICE_JWT_SECRET', 'LATTICE_JWT_PUBLIC_KEY', 'JWKS'] },
  { question: 'How are memberships of users in projects decided?', document: 'README.md', keywords: ['memberships', 'owner', 'editor'] },
  { question: 'Which OTLP encodings does the trace receiver accept?', document: 'README.md', keywords: ['protobuf', 'OTLP/JSON'] },
  { question: 'What does the catalog preset load as demo data?', document: 'README.md', keywords: ['node_modules', 'npm packages'] },
  { question: 'How is the catalog topic classifier trained and calibrated?', document: 'docs/catalog.md', keywords: ['naive Bayes', 'keywords', 'temperature'] },
  { question: 'How are the catalog embeddings computed with feature hashing?', document: 'docs/catalog.md', keywords: ['MurmurHash3', 'hashing'] },
  { question: 'How does the catalog scan resolve dependencies between installed packages?', document: 'docs/catalog.md', keywords: ['resolved', 'node_modules'] },
  { question: 'How are authors, maintainers and contributors turned into users and ownership?', document: 'docs/catalog.md', keywords: ['maintainer', 'contributor', 'e-mail'] },
  { question: 'What does the package_profile feature table measure?', document: 'docs/catalog.md', keywords: ['file_count', 'size_bytes', 'readme_words'] },
  { question: 'How is README text tokenised for the catalog features?', document: 'docs/catalog.md', keywords: ['NFKC', 'stop words'] },
  { question: 'How long may a catalog README be before it is capped?', document: 'docs/catalog.md', keywords: ['16,000'] },
  { question: 'How is a GraphQL query compiled to one SQL statement?', document: 'docs/ARCHITECTURE.md', keywords: ['one SQL statement'] },
  { question: 'Which folder owns the migrations and what do they create?', document: 'docs/ARCHITECTURE.md', keywords: ['src/db/migrate', 'DDL'] },
  { question: 'How do I add a new field type?', document: 'docs/ARCHITECTURE.md', keywords: ['field type'] },
  { question: 'How do I add a new filter operator?', document: 'docs/ARCHITECTURE.md', keywords: ['operator'] },
  { question: 'How does the traces demo retrieve documentation chunks with BM25?', document: 'docs/traces.md', keywords: ['BM25', 'k1'] },
  { question: 'Which price table does the traces demo use for the cost of a generation?', document: 'docs/traces.md', keywords: ['0.15', '0.60'] },
  { question: 'Which tokenizer counts the tokens of the traces demo generations?', document: 'docs/traces.md', keywords: ['gpt-tokenizer', 'o200k_base'] },
  { question: 'Which scores does the traces demo attach to its traces?', document: 'docs/traces.md', keywords: ['hit@3', 'reciprocal rank', 'answer_keyword'] },
];

/**
 * Whether an answer contains one of the question's keywords (case-insensitive substring).
 * @returns the first keyword found, or undefined
 */
export function keywordFound(answer: string, q: DemoQuestion): string | undefined {
  const a = answer.toLowerCase();
  return q.keywords.find((k) => a.includes(k.toLowerCase()));
}

/**
 * Persisted documents (SPEC G-13): which GraphQL document a request means when it names one by hash or id.
 *
 * **Automatic persisted queries (APQ)** — Apollo's protocol, also spoken by urql and others: the request carries
 * `extensions.persistedQuery = { version: 1, sha256Hash }` (the lowercase hex SHA-256 of the UTF-8 document
 * text).
 * - Hash only, known: the stored text runs. Hash only, unknown: HTTP 200 with one error whose message is
 *   `PersistedQueryNotFound` and `extensions.code` `PERSISTED_QUERY_NOT_FOUND` (what Apollo Client and urql
 *   match on; Apollo Server answers the same way, with `Cache-Control: private, no-cache, must-revalidate` so a
 *   CDN does not keep the miss), and the client retries with the full query.
 * - Hash and query: the hash must be the query's SHA-256 (else 400); after an execution without request errors
 *   the text is stored, so the next hash-only request — also a GET, which CDNs can cache — finds it.
 * The store is an LRU (`lru-cache`) per server instance, bounded by entries and by total text length; an
 * instance that never saw a document simply answers the miss and the client retries.
 *
 * **Trusted documents** (`LATTICE_TRUSTED_DOCUMENTS=<file>`): only documents of an allow-list execute. The file is
 * a JSON object mapping document ids to document texts — GraphQL Code Generator's `persisted-documents.json`,
 * Relay's `persisted_queries.json`, or any `{ "<sha256 hex>": "<document>" }` map — or an Apollo persisted query
 * manifest (`{ "format": "apollo-persisted-query-manifest", "version": 1, "operations": [{ id, body }] }`). An id
 * that looks like a SHA-256 (64 hex digits, optionally `sha256:`-prefixed) must be the SHA-256 of its text;
 * other ids (Relay's MD5, Code Generator's SHA-1) are opaque. A request names a document by `documentId`
 * (GraphQL-over-HTTP persisted documents draft: `sha256:<hex>` or the file's id), by the APQ hash, or by sending
 * a text whose SHA-256 is listed. Anything else is refused: `PERSISTED_QUERY_REQUIRED` (403) for a document not
 * on the list, `UNKNOWN_DOCUMENT` (404) for an id or hash not on the list. The APQ store is not used in this
 * mode.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { LRUCache } from 'lru-cache';
import { badInput, LatticeError } from '../errors.js';

/** The persisted-document parts of a GraphQL-over-HTTP request (`src/graphql/http.ts` checks their types). */
export interface PersistedRequestParts {
  readonly query?: string;
  /** GraphQL-over-HTTP persisted documents: `sha256:<hex>` or an id of the trusted-documents file. */
  readonly documentId?: string;
  readonly extensions?: Readonly<Record<string, unknown>>;
}

/** What a request's document resolved to. */
export type Resolution =
  /** Run `query`; when `register` is set, store it under that hash once it executed without request errors. */
  | { readonly kind: 'document'; readonly query: string; readonly register?: string }
  /** APQ miss: answer {@link persistedQueryNotFoundBody} (HTTP 200) so the client sends the full query. */
  | { readonly kind: 'not-found'; readonly hash: string };

/** A loaded allow-list. */
export interface TrustedDocuments {
  /** Where it came from (named in messages and logs). */
  readonly source: string;
  /** Document text by the file's id (as written, without a `sha256:` prefix). */
  readonly byId: ReadonlyMap<string, string>;
  /** Document text by the SHA-256 (lowercase hex) of the text. */
  readonly bySha256: ReadonlyMap<string, string>;
}

/** Options of {@link PersistedDocuments}. */
export interface PersistedDocumentsOptions {
  /** The allow-list; when given, only its documents execute (trusted-documents mode). */
  readonly trusted?: TrustedDocuments | null;
  /** Most documents the APQ store keeps (default 1,000). */
  readonly apqMaxEntries?: number;
  /** Most characters (UTF-16 code units) of document text the APQ store keeps in all (default 8 Mi). */
  readonly apqMaxChars?: number;
}

/** Environment variable naming the trusted-documents file. */
export const TRUSTED_DOCUMENTS_ENV = 'LATTICE_TRUSTED_DOCUMENTS';

const SHA256_HEX = /^[0-9a-f]{64}$/i;

/** The lowercase hex SHA-256 of `text` encoded as UTF-8 (the APQ and `sha256:` document id hash). */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The body of an APQ miss (answered with HTTP 200, see the module comment). */
export function persistedQueryNotFoundBody(hash: string): string {
  return JSON.stringify({
    errors: [
      {
        message: 'PersistedQueryNotFound',
        extensions: {
          code: 'PERSISTED_QUERY_NOT_FOUND',
          hint: `No document is stored under sha256Hash ${hash} on this server: send the request again with the full "query" and the same extensions.persistedQuery; it is then stored.`,
        },
      },
    ],
  });
}

/** `extensions.persistedQuery` checked: its hash in lowercase, or undefined when absent. */
function apqHash(extensions: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const pq = extensions?.persistedQuery;
  if (pq === undefined || pq === null) return undefined;
  if (typeof pq !== 'object' || Array.isArray(pq)) {
    throw badInput('extensions.persistedQuery must be an object { "version": 1, "sha256Hash": "<64 hex digits>" }.');
  }
  const { version, sha256Hash } = pq as Record<string, unknown>;
  if (version !== 1) {
    throw badInput(`extensions.persistedQuery.version ${JSON.stringify(version ?? null)} is not supported; use version 1 (sha256Hash of the document text).`);
  }
  if (typeof sha256Hash !== 'string' || !SHA256_HEX.test(sha256Hash)) {
    throw badInput('extensions.persistedQuery.sha256Hash must be the SHA-256 of the document text as 64 hex digits.');
  }
  return sha256Hash.toLowerCase();
}

/** A `documentId`'s SHA-256 hex when it is `sha256:<hex>` or bare hex; else undefined (an opaque id). */
function documentIdHash(id: string): string | undefined {
  const hex = id.startsWith('sha256:') ? id.slice('sha256:'.length) : id;
  return SHA256_HEX.test(hex) ? hex.toLowerCase() : undefined;
}

/** One line of a printed id, shortened for messages. */
function shown(id: string): string {
  return JSON.stringify(id.length > 80 ? `${id.slice(0, 80)}…` : id);
}

/** Resolves persisted documents for one server instance: the APQ store and the optional allow-list. */
export class PersistedDocuments {
  readonly trusted: TrustedDocuments | null;
  private readonly apq: LRUCache<string, string>;

  constructor(options: PersistedDocumentsOptions = {}) {
    this.trusted = options.trusted ?? null;
    this.apq = new LRUCache<string, string>({
      max: options.apqMaxEntries ?? 1_000,
      maxSize: options.apqMaxChars ?? 8 * 1024 * 1024,
      sizeCalculation: (text) => Math.max(1, text.length),
    });
  }

  /** Number of documents in the APQ store. */
  get storedCount(): number {
    return this.apq.size;
  }

  /**
   * The document a request means (see the module comment for the rules).
   * @throws LatticeError BAD_USER_INPUT (no document, malformed `persistedQuery` or `documentId`, hash not the
   *         query's SHA-256, both `documentId` and `query`), UNKNOWN_DOCUMENT (id or hash not known),
   *         PERSISTED_QUERY_REQUIRED (trusted mode: a document not on the list)
   */
  resolve(parts: PersistedRequestParts): Resolution {
    const hash = apqHash(parts.extensions);
    const { query, documentId } = parts;
    if (documentId !== undefined) {
      if (query !== undefined) throw badInput('Send either "documentId" or "query", not both.');
      const idHash = documentIdHash(documentId);
      if (hash !== undefined && idHash !== hash) {
        throw badInput('"documentId" and extensions.persistedQuery.sha256Hash name different documents; send one of them.');
      }
      return { kind: 'document', query: this.byDocumentId(documentId, idHash) };
    }
    if (query !== undefined && hash !== undefined) {
      const actual = sha256Hex(query);
      if (actual !== hash) {
        throw badInput(
          `extensions.persistedQuery.sha256Hash ${hash} is not the SHA-256 of "query" (${actual}); hash the exact query text as UTF-8 and send the lowercase hex digest.`,
        );
      }
    }
    if (this.trusted) return { kind: 'document', query: this.trustedDocument(query, hash) };
    if (query !== undefined) return hash !== undefined ? { kind: 'document', query, register: hash } : { kind: 'document', query };
    if (hash !== undefined) {
      const stored = this.apq.get(hash);
      return stored !== undefined ? { kind: 'document', query: stored } : { kind: 'not-found', hash };
    }
    throw badInput('The request has no "query": send the GraphQL document as a string in "query" (or a persisted document\'s "documentId").');
  }

  /** Store an APQ document (after it executed without request errors); ignored in trusted mode. */
  register(hash: string, query: string): void {
    if (!this.trusted) this.apq.set(hash, query);
  }

  /**
   * In trusted-documents mode, refuse a document text that is not on the allow-list (the subscription transports
   * call this with the text they received); a no-op otherwise.
   * @throws LatticeError PERSISTED_QUERY_REQUIRED
   */
  assertTrusted(query: string | undefined): void {
    if (!this.trusted) return;
    if (typeof query !== 'string') throw badInput('Send the GraphQL document of a listed trusted document in "query".');
    const hash = sha256Hex(query);
    if (!this.trusted.bySha256.has(hash)) throw this.notTrusted(hash);
  }

  private byDocumentId(documentId: string, idHash: string | undefined): string {
    const text =
      this.trusted?.byId.get(documentId) ??
      (idHash !== undefined ? (this.trusted ? (this.trusted.byId.get(idHash) ?? this.trusted.bySha256.get(idHash)) : this.apq.get(idHash)) : undefined);
    if (text !== undefined) return text;
    if (this.trusted) {
      throw new LatticeError(
        'UNKNOWN_DOCUMENT',
        `No trusted document has id ${shown(documentId)}: this server runs only the documents of its allow-list (${this.trusted.source}); regenerate the client's persisted documents and deploy the new list with the server.`,
      );
    }
    throw new LatticeError(
      'UNKNOWN_DOCUMENT',
      `No document with id ${shown(documentId)} is stored on this server: send the full "query" (with extensions.persistedQuery { "version": 1, "sha256Hash" } to store it).`,
    );
  }

  private trustedDocument(query: string | undefined, hash: string | undefined): string {
    const trusted = this.trusted!;
    if (query !== undefined) {
      const h = hash ?? sha256Hex(query);
      if (trusted.bySha256.has(h)) return query;
      throw this.notTrusted(h);
    }
    if (hash !== undefined) {
      const text = trusted.bySha256.get(hash) ?? trusted.byId.get(hash);
      if (text !== undefined) return text;
      throw new LatticeError(
        'UNKNOWN_DOCUMENT',
        `No trusted document has sha256Hash ${hash}: this server runs only the documents of its allow-list (${trusted.source}); regenerate the client's persisted documents and deploy the new list with the server.`,
      );
    }
    throw badInput('The request names no document: this server runs only trusted documents; send "documentId": "sha256:<hex>" of a listed document.');
  }

  private notTrusted(hash: string): LatticeError {
    return new LatticeError(
      'PERSISTED_QUERY_REQUIRED',
      `This server runs only trusted documents (${this.trusted!.source}) and the document with SHA-256 ${hash} is not one of them; send the "documentId" of a listed document, or add this document to the list and deploy it.`,
    );
  }
}

/** A configuration error about the trusted-documents file, naming the file and the variable. */
function fileError(file: string, problem: string): LatticeError {
  return badInput(`${TRUSTED_DOCUMENTS_ENV}=${file}: ${problem}`);
}

/** The `id → text` entries of a parsed trusted-documents file (plain map or Apollo manifest). */
function entriesOf(file: string, json: unknown): Array<[string, unknown]> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw fileError(file, 'the file must be a JSON object mapping document hashes to GraphQL documents, e.g. { "<sha256 hex>": "query Q { projects { id } }" }.');
  }
  const obj = json as Record<string, unknown>;
  if (obj.format === 'apollo-persisted-query-manifest') {
    if (obj.version !== 1 || !Array.isArray(obj.operations)) {
      throw fileError(file, 'an Apollo persisted query manifest must have "version": 1 and an "operations" array.');
    }
    return obj.operations.map((op, i): [string, unknown] => {
      const o = (op ?? {}) as Record<string, unknown>;
      if (typeof o.id !== 'string' || o.id === '') throw fileError(file, `operations[${i}] has no string "id".`);
      return [o.id, o.body];
    });
  }
  return Object.entries(obj);
}

/**
 * Read and check a trusted-documents file (see the module comment for the formats).
 * @param file a path (relative to the working directory)
 * @throws LatticeError BAD_USER_INPUT naming the file and the problem: unreadable, not JSON, not an object, no
 *         documents, a document that is not a string or not valid GraphQL, a SHA-256-looking id that is not the
 *         text's SHA-256
 */
export function loadTrustedDocuments(file: string): TrustedDocuments {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw fileError(file, `cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); point the variable at the JSON file of your client's persisted documents.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw fileError(file, `the file is not JSON (${(err as Error).message}).`);
  }
  const byId = new Map<string, string>();
  const bySha256 = new Map<string, string>();
  for (const [rawId, doc] of entriesOf(file, json)) {
    if (typeof doc !== 'string' || doc.trim() === '') throw fileError(file, `document ${shown(rawId)} is not a non-empty string of GraphQL.`);
    try {
      parse(doc, { noLocation: true });
    } catch (err) {
      throw fileError(file, `document ${shown(rawId)} is not valid GraphQL: ${(err as Error).message}`);
    }
    const hash = sha256Hex(doc);
    const id = rawId.startsWith('sha256:') ? rawId.slice('sha256:'.length) : rawId;
    if (SHA256_HEX.test(id) && id.toLowerCase() !== hash) {
      throw fileError(file, `id ${shown(rawId)} looks like a SHA-256 but the SHA-256 of its document is ${hash}; regenerate the file with the tool that produced it.`);
    }
    byId.set(SHA256_HEX.test(id) ? id.toLowerCase() : id, doc);
    bySha256.set(hash, doc);
  }
  if (byId.size === 0) throw fileError(file, 'the file lists no documents, so every request would be refused; list at least one document.');
  return { source: file, byId, bySha256 };
}

/**
 * The persisted-documents resolver configured by the environment: trusted-documents mode when
 * `LATTICE_TRUSTED_DOCUMENTS` names a file, else APQ only.
 * @throws LatticeError BAD_USER_INPUT for an invalid file (at start)
 */
export function persistedDocumentsFromEnv(env: NodeJS.ProcessEnv = process.env, options: Omit<PersistedDocumentsOptions, 'trusted'> = {}): PersistedDocuments {
  const file = env[TRUSTED_DOCUMENTS_ENV]?.trim();
  return new PersistedDocuments({ ...options, trusted: file ? loadTrustedDocuments(file) : null });
}

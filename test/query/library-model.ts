/**
 * A small model for the search / similarity / nested-ordering tests: authors write books, books have reviews.
 * `book` has searchable text (title weighted A, summary B) and a 4-dimensional embedding indexed for every
 * metric; `author.name` and `review.body` are searchable too; `book.author` is optional (null related rows).
 */
import { loadModelDocument } from '../../src/model/load.js';
import type { JsonValue, Model } from '../../src/model/types.js';

export const LIBRARY_DOCUMENT = {
  name: 'library',
  search_config: 'english',
  entities: {
    author: {
      fields: {
        name: { type: 'string', required: true, searchable: true },
        country: { type: 'string' },
      },
    },
    book: {
      fields: {
        author: { type: 'ref', to: 'author' },
        title: { type: 'string', required: true, searchable: true },
        summary: { type: 'text', searchable: true },
        genre: { type: 'enum', values: ['fiction', 'science', 'history'] },
        year: { type: 'int' },
        embedding: { type: 'vector', dimensions: 4, metrics: ['cosine', 'l2', 'inner_product'] },
      },
    },
    review: {
      fields: {
        book: { type: 'ref', to: 'book', required: true },
        body: { type: 'text', searchable: true },
        stars: { type: 'int' },
      },
    },
  },
} as const;

/** The library model (optionally with `edit` applied to a copy of its document). */
export function libraryModel(edit?: (doc: Record<string, any>) => void): Model {
  const doc = JSON.parse(JSON.stringify(LIBRARY_DOCUMENT)) as Record<string, any>;
  edit?.(doc);
  return loadModelDocument(doc as JsonValue);
}

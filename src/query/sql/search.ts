/**
 * Full-text search (SPEC G-6, S-4): the match predicate and the rank of a row of an entity with searchable
 * fields, over the generated `search_vector` column (`src/db/migrate/tables.ts`), with the model's text-search
 * configuration (`Model.searchConfig`, default `english`) so queries and the stored vectors agree.
 *
 * The query text goes through `websearch_to_tsquery` (quoted phrases, `or`, `-word`; never a syntax error), as
 * one bind parameter shared by the predicate and the rank, and by every table read of the same list (page,
 * count, keyset look-ahead): `bindSearch` binds once, `searchSql` applies the binding to a table alias.
 */
import type { Entity } from '../../model/types.js';
import { badInput } from '../../errors.js';
import { col, type CompileContext } from './context.js';
import { sqlLiteral } from '../../db/migrate/tables.js';

/** Generated full-text column of entities with searchable fields. */
export const SEARCH_VECTOR_COLUMN = 'search_vector';

/** Longest accepted search text (characters). */
export const MAX_SEARCH_LENGTH = 1000;

/** The compiled pieces of one `search` argument on one table alias. */
export interface SearchSql {
  /** Boolean: the row matches the query. */
  readonly predicate: string;
  /** `ts_rank` of the row for the query (`real`, higher is better; 0 when it does not match). */
  readonly rank: string;
}

/** A validated `search` argument with its query bound once: `websearch_to_tsquery('<config>', $n::text)`. */
export interface SearchBinding {
  readonly tsquery: string;
}

/**
 * Validate a `search` argument for `entity` and bind its text.
 * @param query the user's query text (`websearch_to_tsquery` syntax); a query of only stop words or
 *        punctuation, or an empty one, matches nothing
 * @throws LatticeError BAD_USER_INPUT when the entity has no searchable field, or the query is not a string
 *         or is longer than 1,000 characters
 */
export function bindSearch(ctx: CompileContext, entity: Entity, query: string): SearchBinding {
  if (!entity.fields.some((f) => f.searchable)) {
    throw badInput(`${entity.name} has no searchable fields; mark string or text fields "searchable: true" in the model to search it.`);
  }
  if (typeof query !== 'string') throw badInput('"search" must be a string.');
  if (query.length > MAX_SEARCH_LENGTH) throw badInput(`"search" is ${query.length} characters long; use at most ${MAX_SEARCH_LENGTH}.`);
  const config = `${sqlLiteral(ctx.model.searchConfig)}::regconfig`;
  return { tsquery: `websearch_to_tsquery(${config}, ${ctx.params.add(query, 'text')})` };
}

/** The predicate and rank of a bound search on the rows of a table alias. */
export function searchSql(binding: SearchBinding, alias: string): SearchSql {
  const vector = col(alias, SEARCH_VECTOR_COLUMN);
  return { predicate: `${vector} @@ ${binding.tsquery}`, rank: `ts_rank(${vector}, ${binding.tsquery})` };
}

/**
 * Compile `search: <query>` on rows of `entity` under `alias` (binds the text; see `bindSearch`).
 * @throws LatticeError BAD_USER_INPUT as `bindSearch`
 */
export function compileSearch(ctx: CompileContext, entity: Entity, alias: string, query: string): SearchSql {
  return searchSql(bindSearch(ctx, entity, query), alias);
}

/**
 * Full-text search (SPEC G-6, S-4): the match predicate and the rank of a row of an entity with searchable
 * fields, over the generated `search_vector` column (`src/db/migrate/tables.ts`), with the model's text-search
 * configuration (`Model.searchConfig`, default `english`) so queries and the stored vectors agree.
 *
 * The query text goes through `websearch_to_tsquery` (quoted phrases, `or`, `-word`; never a syntax error), as
 * one bind parameter shared by the predicate and the rank.
 */
import type { Entity } from '../../model/types.js';
import { badInput } from '../../errors.js';
import { col, type CompileContext } from './context.js';
import { sqlLiteral } from '../../db/migrate/tables.js';

/** Generated full-text column of entities with searchable fields. */
export const SEARCH_VECTOR_COLUMN = 'search_vector';

/** The compiled pieces of one `search` argument on one table alias. */
export interface SearchSql {
  /** Boolean: the row matches the query. */
  readonly predicate: string;
  /** `ts_rank` of the row for the query (real, higher is better; 0 when it does not match). */
  readonly rank: string;
}

/**
 * Compile `search: <query>` on rows of `entity` under `alias`.
 * @param query the user's query text (`websearch_to_tsquery` syntax); a query of only stop words or
 *        punctuation matches nothing
 * @throws LatticeError BAD_USER_INPUT when the entity has no searchable field, or the query is not a string
 *         or is longer than 1,000 characters
 */
export function compileSearch(ctx: CompileContext, entity: Entity, alias: string, query: string): SearchSql {
  if (!entity.fields.some((f) => f.searchable)) {
    throw badInput(`${entity.name} has no searchable fields; mark string or text fields "searchable: true" in the model to search it.`);
  }
  if (typeof query !== 'string') throw badInput('"search" must be a string.');
  if (query.length > 1000) throw badInput(`"search" is ${query.length} characters long; use at most 1000.`);
  const config = `${sqlLiteral(ctx.model.searchConfig)}::regconfig`;
  const tsquery = `websearch_to_tsquery(${config}, ${ctx.params.add(query, 'text')})`;
  const vector = col(alias, SEARCH_VECTOR_COLUMN);
  return { predicate: `${vector} @@ ${tsquery}`, rank: `ts_rank(${vector}, ${tsquery})` };
}

/**
 * SQL identifier quoting: the ONLY place in the codebase that turns a name into SQL (SPEC G-10, GUIDE
 * "identifiers quoted in one place", like pg_graphql's `quote_ident`). Identifiers come from the model only;
 * values are always bind parameters (`src/query/sql/params.ts`).
 */
import { badInput } from '../../errors.js';

/**
 * Quote one identifier the way PostgreSQL's `quote_ident()` does when quoting is needed: wrap in double quotes
 * and double every embedded double quote. Always quotes (so case and reserved words are preserved).
 *
 * @param name identifier as stored in the model, e.g. `experiment_id`
 * @returns the quoted identifier, e.g. `"experiment_id"`
 * @throws LatticeError BAD_USER_INPUT when the name is empty or contains a NUL character (PostgreSQL cannot
 *         represent either; the model must use another name).
 */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw badInput('An SQL identifier cannot be empty; give the entity or field a name.');
  if (name.includes('\0')) {
    throw badInput(`The name ${JSON.stringify(name)} contains a NUL character; rename it.`);
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Schema-qualified name: `"schema"."name"` (tables, types, functions).
 * @throws LatticeError BAD_USER_INPUT as `quoteIdent` for either part.
 */
export function qualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

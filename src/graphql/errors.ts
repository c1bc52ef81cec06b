/**
 * GraphQL errors with codes (SPEC G-14).
 *
 * Request errors (syntax, validation, variable coercion, planning) are `GraphQLRequestError`s: a LatticeError
 * (so the HTTP layer knows the code and status) that also carries GraphQL-shaped errors with locations.
 * `formatErrors` turns anything thrown into the `errors` array of a GraphQL response, hiding database and
 * unknown errors behind a generic INTERNAL message outside development mode.
 */
import { GraphQLError, type ASTNode, type GraphQLFormattedError } from 'graphql';
import { LatticeError, userErrorFromFailure, type ErrorCode } from '../errors.js';

/** A request error that prevents execution; carries one or more GraphQL errors, all with `extensions.code`. */
export class GraphQLRequestError extends LatticeError {
  readonly graphqlErrors: readonly GraphQLError[];

  constructor(code: ErrorCode, errors: readonly GraphQLError[]) {
    super(code, errors[0]?.message ?? 'Invalid GraphQL request.');
    this.name = 'GraphQLRequestError';
    this.graphqlErrors = errors.map((e) =>
      e.extensions?.code ? e : new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, path: e.path, originalError: e.originalError, extensions: { ...e.extensions, code } }),
    );
  }
}

/**
 * A request error with one message located at `node` (a field or argument of the document).
 * @param code e.g. `BAD_USER_INPUT`, `QUERY_TOO_COMPLEX`
 * @param message what was wrong and what to do
 */
export function requestError(code: ErrorCode, message: string, node?: ASTNode | readonly ASTNode[]): GraphQLRequestError {
  return new GraphQLRequestError(code, [new GraphQLError(message, { nodes: node, extensions: { code } })]);
}

/** Wrap graphql-js errors (syntax, validation, coercion) as a BAD_USER_INPUT request error. */
export function fromGraphQLErrors(errors: readonly GraphQLError[], code: ErrorCode = 'BAD_USER_INPUT'): GraphQLRequestError {
  return new GraphQLRequestError(code, errors);
}

/** Options of `formatErrors`. */
export interface FormatOptions {
  /** `development` adds the original message of internal errors under `extensions.original`. */
  readonly mode: 'development' | 'production';
  /** Called with each internal (non-Lattice) error so it is logged server-side. */
  readonly onInternal?: (err: unknown) => void;
}

function formatOne(err: unknown, opts: FormatOptions): GraphQLFormattedError[] {
  err = userErrorFromFailure(err) ?? err;
  if (err instanceof GraphQLRequestError) return err.graphqlErrors.map((e) => e.toJSON());
  if (err instanceof GraphQLError) {
    // Execution errors from graphql-js (mixed introspection path): unwrap the original error.
    const original = err.originalError;
    if (original && !(original instanceof GraphQLError)) {
      return formatOne(original, opts).map((f) => ({ ...f, locations: err.locations, path: err.path }));
    }
    const code = (err.extensions?.code as string | undefined) ?? 'BAD_USER_INPUT';
    return [{ ...err.toJSON(), extensions: { ...err.extensions, code } }];
  }
  if (err instanceof LatticeError) {
    const extensions: Record<string, unknown> = { code: err.code };
    if (err.details.length > 0) extensions.details = err.details;
    if (err.code === 'INTERNAL' && err.cause !== undefined) {
      opts.onInternal?.(err.cause);
      if (opts.mode === 'development') extensions.original = String((err.cause as Error)?.message ?? err.cause);
    }
    return [{ message: err.message, extensions }];
  }
  opts.onInternal?.(err);
  const extensions: Record<string, unknown> = { code: 'INTERNAL' };
  if (opts.mode === 'development') extensions.original = err instanceof Error ? err.message : String(err);
  return [{ message: 'Internal server error; the request id identifies it in the server log.', extensions }];
}

/**
 * The `errors` array of a GraphQL response for a thrown value.
 * @returns formatted errors, each with `extensions.code`
 */
export function formatErrors(err: unknown, opts: FormatOptions): GraphQLFormattedError[] {
  return formatOne(err, opts);
}

/** HTTP status of a thrown value: the LatticeError's status, 400 for GraphQL errors, else 500. */
export function statusOf(err: unknown): number {
  err = userErrorFromFailure(err) ?? err;
  if (err instanceof LatticeError) return err.status;
  if (err instanceof GraphQLError) return err.originalError && !(err.originalError instanceof GraphQLError) ? statusOf(err.originalError) : 400;
  return 500;
}

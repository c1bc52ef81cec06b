/**
 * The target project of a write on the tracing routes (Langfuse ingestion, scores, prompts, OTLP). Langfuse's
 * API has no project field, since a Langfuse key belongs to one project; a Lattice principal may write into
 * several (a member of several projects, SPEC A-3), so these routes take the project from a header.
 */
import type { FastifyRequest } from 'fastify';
import { resolveWriteProject, type Principal } from '../auth/principal.js';
import { badInput, LatticeError } from '../errors.js';

/** Header naming the target project for principals that may write into several. */
export const PROJECT_HEADER = 'x-lattice-project-id';

/**
 * The project a tracing write goes to: the one named by the {@link PROJECT_HEADER} header, else the principal's
 * only writable project (`resolveWriteProject`).
 * @returns the project id (lower case)
 * @throws LatticeError FORBIDDEN when the role cannot write or the header names a project the principal may not
 *         write; BAD_USER_INPUT when no header is sent and the principal may write into several projects (the
 *         message says to send the header and lists them)
 */
export function traceWriteProject(principal: Principal, request: FastifyRequest): string {
  const raw = request.headers[PROJECT_HEADER];
  const requested = Array.isArray(raw) ? raw[0] : raw;
  try {
    return resolveWriteProject(principal, requested);
  } catch (err) {
    if (requested || !(err instanceof LatticeError) || err.code !== 'BAD_USER_INPUT') throw err;
    throw badInput(err.message.replace('with "project_id"', `with the ${PROJECT_HEADER} header`));
  }
}

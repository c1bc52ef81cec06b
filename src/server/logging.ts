/**
 * Server logging (issue 9 item 6): quiet by default, readable on a terminal.
 *
 * - **Level**: `lattice serve --log-level <pino level>` (default `warn` on a terminal, `info` otherwise).
 * - **Format**: `LATTICE_LOG_FORMAT=pretty|json`. Unset: `pretty` when the output is a terminal — one
 *   human-readable line per entry through pino-pretty (pino's own formatter), in this thread and synchronous, so
 *   entries never interleave with the CLI banner or get lost at exit — and pino's JSON lines otherwise (log
 *   shippers, containers, files).
 * - **Per-request lines** (`incoming request`, `request completed`) are logged at `debug`
 *   (`RequestLogController`), so `info` shows only what an operator acts on; `--log-level debug` shows every
 *   request. A request that failed still logs `request errored` at `error`, and Fastify's other request-related
 *   errors keep their levels.
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import pinoPretty from 'pino-pretty';
import { badInput } from '../errors.js';

/** Output format of the server log. */
export type LogFormat = 'pretty' | 'json';

/**
 * The log format: `LATTICE_LOG_FORMAT` (`pretty` or `json`, any case) when set, else `pretty` on a terminal.
 * @throws LatticeError BAD_USER_INPUT for any other value (naming the variable and the accepted values)
 */
export function logFormatFromEnv(value: string | undefined, isTTY: boolean): LogFormat {
  if (value === undefined || value.trim() === '') return isTTY ? 'pretty' : 'json';
  const v = value.trim().toLowerCase();
  if (v === 'pretty' || v === 'json') return v;
  throw badInput(`LATTICE_LOG_FORMAT is "${value}"; set it to pretty (human-readable) or json (one JSON object per line).`);
}

/** Inputs of `loggerOptions`. */
export interface LoggerSettings {
  /** pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`. */
  readonly level: string;
  /** Where entries go (default `process.stdout`); whether it is a terminal decides the default format and colours. */
  readonly destination?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Environment read for `LATTICE_LOG_FORMAT` and `NO_COLOR` (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Fastify's `logger` option (pino options), as `loggerOptions` builds it. */
export interface ServerLoggerOptions {
  readonly level: string;
  /** The destination stream; absent for JSON on standard output (pino's own fast writer to fd 1). */
  readonly stream?: NodeJS.WritableStream;
}

/**
 * Fastify/pino logger options for `buildServer({ logger })`: the level, and the format chosen by
 * `logFormatFromEnv` (pretty: pino-pretty with local times, no pid/hostname, one line per entry, colours on a
 * terminal unless `NO_COLOR` is set).
 * @throws LatticeError BAD_USER_INPUT for an invalid `LATTICE_LOG_FORMAT`
 */
export function loggerOptions(settings: LoggerSettings): ServerLoggerOptions {
  const env = settings.env ?? process.env;
  const destination = settings.destination ?? process.stdout;
  const isTTY = destination.isTTY === true;
  const format = logFormatFromEnv(env.LATTICE_LOG_FORMAT, isTTY);
  if (format === 'json') return destination === process.stdout ? { level: settings.level } : { level: settings.level, stream: destination };
  const stream = pinoPretty({
    destination,
    sync: true,
    colorize: isTTY && env.NO_COLOR === undefined,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    singleLine: true,
  });
  return { level: settings.level, stream };
}

/**
 * Fastify's log controller with the per-request lines at `debug` instead of `info` (everything else, e.g. the
 * `error` line of a failed request, as Fastify logs it). Pass it as `Fastify({ logController })`.
 */
export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (error) {
      super.requestCompleted(error, request, reply, metadata);
      return;
    }
    if (this.isLogDisabled(request)) return;
    reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

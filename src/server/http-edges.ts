/**
 * The edges of HTTP that Fastify or Node's HTTP parser answer before any route runs, brought into Lattice's error
 * shape (SPEC R-1, G-14; issue 8 item 7):
 * - **Oversized bodies** (SPEC G-12: 413). Fastify answers a body over `bodyLimit` at once and closes the
 *   connection (`Connection: close`) while the client is still sending; clients that write the whole body before
 *   reading (undici's `fetch`, `node:http`) then see EPIPE / ECONNRESET instead of the 413. The `preParsing`
 *   hook here reads and discards the rest of such a body first (up to a drain limit), then answers 413
 *   `PAYLOAD_TOO_LARGE`, so the client receives it; bodies beyond the drain limit are answered at once and the
 *   connection closed, as before.
 * - **Malformed URLs** (`FST_ERR_BAD_URL`: an invalid percent-escape) and over-long path parameters
 *   (`FST_ERR_MAX_PARAM_LENGTH`): Fastify's `frameworkErrors` option, answered 400 / 414 in the error shape.
 * - **Parser-level client errors** (headers over Node's `maxHeaderSize`: 431; request timeout: 408; anything the
 *   HTTP parser cannot read: 400): Node emits `clientError` before Fastify sees a request, so the response is
 *   written to the socket by hand, in the error shape with a fresh request id.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { Transform, type Duplex, type Readable, type TransformCallback } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badInput, LatticeError, type ErrorCode } from '../errors.js';
import { sendError, type ErrorBody } from './errors.js';

/**
 * How much of an oversized body is read and discarded so the client receives the 413: this many times the body
 * limit (80 MB with the default 10 MB limit). Beyond it the connection is closed without reading further.
 */
export const DRAIN_FACTOR = 8;

/** A body over the limit, as a Lattice error that Fastify's parser also treats as a client error (status 413). */
function payloadTooLarge(bodyLimit: number): LatticeError {
  const mb = (bodyLimit / (1024 * 1024)).toFixed(bodyLimit % (1024 * 1024) === 0 ? 0 : 1);
  const err = new LatticeError(
    'PAYLOAD_TOO_LARGE',
    `The request body is larger than the server accepts (${mb} MiB); send smaller requests or batches, or raise the server's body limit.`,
  );
  return Object.assign(err, { statusCode: 413 });
}

/**
 * Read and discard `stream` until it ends, errors, closes, or more than `max` bytes arrived.
 * @returns true when the stream ended within `max` bytes
 */
function drain(stream: Readable, max: number): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = 0;
    const finish = (ended: boolean) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onStop);
      stream.off('close', onStop);
      resolve(ended);
    };
    const onData = (chunk: Buffer | string) => {
      seen += chunk.length;
      if (seen > max) finish(false);
    };
    const onEnd = () => finish(true);
    const onStop = () => finish(false);
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onStop);
    stream.once('close', onStop);
    stream.resume();
  });
}

/**
 * A pass-through for bodies of unknown length (chunked): the first `limit` bytes go to the body parser; past
 * them, the rest is read and discarded (up to `drainMax` bytes in all) and the stream then fails with a 413,
 * so the answer is sent once the client has finished sending.
 */
class LimitedBody extends Transform {
  private seen = 0;

  constructor(
    private readonly limit: number,
    private readonly drainMax: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const before = this.seen;
    this.seen += chunk.length;
    if (this.seen > this.drainMax) {
      callback(payloadTooLarge(this.limit));
      return;
    }
    if (before >= this.limit) {
      callback();
      return;
    }
    callback(null, this.seen > this.limit ? chunk.subarray(0, this.limit - before) : chunk);
  }

  override _flush(callback: TransformCallback): void {
    callback(this.seen > this.limit ? payloadTooLarge(this.limit) : null);
  }
}

/**
 * Register the `preParsing` hook that answers bodies over `bodyLimit` with 413 after reading them (see the module
 * comment). Fastify's own limit stays in place as the backstop.
 * @param bodyLimit bytes (Fastify's `bodyLimit`)
 */
export function registerBodyLimit(app: FastifyInstance, bodyLimit: number): void {
  const drainMax = bodyLimit * DRAIN_FACTOR;
  // A callback hook: the usual body (declared length within the limit) costs no promise.
  app.addHook('preParsing', (request, reply, payload, done) => {
    const declared = request.headers['content-length'];
    if (declared !== undefined) {
      const length = Number(declared);
      if (!(length > bodyLimit)) {
        done(null, payload);
        return;
      }
      const refuse = (drained: boolean) => {
        if (!drained) reply.header('connection', 'close');
        done(payloadTooLarge(bodyLimit));
      };
      if (length > drainMax) refuse(false);
      else drain(payload, drainMax).then(refuse, (err: Error) => done(err));
      return;
    }
    if (request.headers['transfer-encoding'] === undefined) {
      done(null, payload);
      return;
    }
    const limited = new LimitedBody(bodyLimit, drainMax);
    payload.on('error', (err) => limited.destroy(err));
    done(null, payload.pipe(limited));
  });
}

/** The error body of {@link ErrorBody} as JSON text. */
function errorJson(code: ErrorCode, message: string, requestId: string): string {
  const body: ErrorBody = { error: { code, message, details: [] }, request_id: requestId };
  return JSON.stringify(body);
}

/**
 * Fastify's `clientErrorHandler`: answers what Node's HTTP parser refuses (431 for headers over `maxHeaderSize`,
 * 408 for a request timeout, 400 otherwise) in the error shape, then closes the socket. A reset or already
 * destroyed socket gets nothing.
 */
export function clientErrorHandler(this: FastifyInstance, err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let message = 'The request could not be read as HTTP/1.1; check the request line, headers and body framing.';
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    message = 'The request headers are larger than the server accepts (16 KiB in all by default); send fewer or shorter headers (cookies, tokens).';
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    message = 'The request was not received in time; send it again.';
  }
  const requestId = randomUUID();
  this.log.debug({ err, request_id: requestId, status }, 'client error before routing');
  if (socket.writable) {
    const body = errorJson('BAD_USER_INPUT', message, requestId);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** Shorten a client-supplied path for an error message. */
function shortPath(url: string): string {
  const path = url.split('?')[0];
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}

/**
 * Fastify's `frameworkErrors` option: a URL that is not valid percent-encoding (`FST_ERR_BAD_URL`) and a path
 * parameter over `maxParamLength` (`FST_ERR_MAX_PARAM_LENGTH`) answered 400 / 414 in the error shape.
 * @param mode `development` or `production` (as for every error answer)
 */
export function frameworkErrorHandler(mode: 'development' | 'production') {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    reply.header('x-request-id', String(request.id));
    const path = shortPath(request.raw.url ?? '');
    if (err.code === 'FST_ERR_BAD_URL') {
      const message = `The URL path ${path} is not valid percent-encoding; write "%" as %25 and encode other characters as UTF-8 bytes (%XX).`;
      sendError(request, reply, badInput(message), mode);
    } else if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
      const message = `A path segment of ${path} is too long; ids are UUIDs (36 characters).`;
      request.log.info({ code: 'BAD_USER_INPUT', status: 414 }, message);
      reply.code(414).type('application/json; charset=utf-8').send(errorJson('BAD_USER_INPUT', message, String(request.id)));
    } else {
      sendError(request, reply, err, mode);
    }
  };
}

/**
 * Quiet by default (issue 9 item 6): per-request log lines only at `debug`; pino-pretty on a terminal, JSON
 * elsewhere, `LATTICE_LOG_FORMAT` overriding.
 */
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/types.js';
import { loadPreset } from '../../src/model/load.js';
import { buildServer } from '../../src/server/app.js';
import { logFormatFromEnv, loggerOptions } from '../../src/server/logging.js';

/** A stream that keeps what is written to it; `tty` makes it look like a terminal. */
function capture(tty = false) {
  const stream = Object.assign(new PassThrough(), tty ? { isTTY: true } : {});
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return {
    stream,
    async text() {
      await new Promise((r) => setImmediate(r));
      return text;
    },
    async json() {
      return (await this.text())
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}

/** Enough of a Db for routes that never reach the database. */
const noDb: Db = {
  kind: 'postgres',
  stats: { statements: 0 },
  query: async () => {
    throw new Error('no database in this test');
  },
  transaction: async () => {
    throw new Error('no database in this test');
  },
  withPrincipal: async () => {
    throw new Error('no database in this test');
  },
  queryAs: async () => {
    throw new Error('no database in this test');
  },
  listen: async () => async () => undefined,
  close: async () => undefined,
};

async function serveOnce(level: string, out: ReturnType<typeof capture>, env: NodeJS.ProcessEnv = { LATTICE_LOG_FORMAT: 'json' }) {
  const { app } = await buildServer({ db: noDb, model: await loadPreset('experiments'), logger: loggerOptions({ level, destination: out.stream, env }) });
  const res = await app.inject({ method: 'GET', url: '/no/such/route', headers: { 'x-request-id': 'req-42' } });
  expect(res.statusCode).toBe(404);
  app.log.info('marker after the request');
  await app.close();
}

const requestLines = (entries: Record<string, unknown>[]) => entries.filter((e) => e.msg === 'incoming request' || e.msg === 'request completed');

describe('request logging', () => {
  it('logs no per-request lines at info (other info entries still appear)', async () => {
    const out = capture();
    await serveOnce('info', out);
    const entries = await out.json();
    expect(entries.some((e) => e.msg === 'marker after the request')).toBe(true);
    expect(requestLines(entries)).toEqual([]);
  });

  it('logs both per-request lines at debug, with the request id, method, url and status', async () => {
    const out = capture();
    await serveOnce('debug', out);
    const lines = requestLines(await out.json());
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 20, msg: 'incoming request', request_id: 'req-42', req: { method: 'GET', url: '/no/such/route' } });
    expect(lines[1]).toMatchObject({ level: 20, msg: 'request completed', request_id: 'req-42', res: { statusCode: 404 } });
    expect(typeof lines[1].responseTime).toBe('number');
  });
});

describe('log format', () => {
  it('is pretty on a terminal and JSON elsewhere unless LATTICE_LOG_FORMAT says otherwise', () => {
    expect(logFormatFromEnv(undefined, true)).toBe('pretty');
    expect(logFormatFromEnv(undefined, false)).toBe('json');
    expect(logFormatFromEnv('', true)).toBe('pretty');
    expect(logFormatFromEnv('json', true)).toBe('json');
    expect(logFormatFromEnv(' Pretty ', false)).toBe('pretty');
    expect(() => logFormatFromEnv('yaml', true)).toThrow(/LATTICE_LOG_FORMAT is "yaml"; set it to pretty .* or json/);
  });

  it('writes human-readable lines through pino-pretty on a terminal', async () => {
    const out = capture(true);
    const options = loggerOptions({ level: 'info', destination: out.stream, env: { NO_COLOR: '1' } });
    expect(options.stream).not.toBe(out.stream); // the pino-pretty transform in front of it
    pino({ level: options.level }, options.stream).info({ request_id: 'r1' }, 'hello there');
    const text = await out.text();
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: hello there \{"request_id":"r1"\}\n$/);
    expect(() => JSON.parse(text)).toThrow();
  });

  it('writes JSON lines on a terminal when LATTICE_LOG_FORMAT=json, and off a terminal by default', async () => {
    for (const [tty, env] of [
      [true, { LATTICE_LOG_FORMAT: 'json' }],
      [false, {}],
    ] as const) {
      const out = capture(tty);
      const options = loggerOptions({ level: 'info', destination: out.stream, env });
      pino({ level: options.level }, options.stream).info('hello there');
      expect(await out.json()).toMatchObject([{ level: 30, msg: 'hello there' }]);
    }
  });

  it('shows per-request lines in the pretty format at debug', async () => {
    const out = capture(true);
    await serveOnce('debug', out, { NO_COLOR: '1' });
    const text = await out.text();
    expect(text).toMatch(/DEBUG: incoming request \{.*"request_id":"req-42"/);
    expect(text).toMatch(/DEBUG: request completed \{.*"statusCode":404/);
    expect(text).toMatch(/INFO: marker after the request/);
  });
});

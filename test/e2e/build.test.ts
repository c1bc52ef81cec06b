/**
 * The compiled build (`npm run build` → `dist/`, what production and `npm run bench` run: plain JavaScript without
 * tsx's loader and source maps in memory). Builds it, starts `node dist/src/cli/main.js serve --preset traces` on a
 * PGlite data directory and checks that what the build must find outside `dist/` is found: the shipped presets
 * (the model), the OTLP `.proto` files (a protobuf export is decoded and stored) and the GraphQL API over the
 * stored data. The build does not depend on the database, so this runs once, on PGlite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { encodeExportRequest } from '../../src/traces/otlp-decode.js';
import { PROJECT_HEADER } from '../../src/traces/otlp-routes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

describe('the compiled build', () => {
  let child: ChildProcess | undefined;
  let cwd = '';
  let url = '';
  let out = '';

  beforeAll(async () => {
    await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT });
    expect(existsSync(MAIN)).toBe(true);
    cwd = mkdtempSync(path.join(tmpdir(), 'lattice-build-'));
    // No tsx anywhere: plain node on the compiled files.
    child = spawn(process.execPath, [MAIN, 'serve', '--preset', 'traces', '--port', '0', '--no-demo', '--data-dir', path.join(cwd, 'data')], {
      cwd,
      env: { ...process.env, LATTICE_LOG_LEVEL: 'warn', NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 90_000);
      child!.stdout!.on('data', () => {
        const m = /Lattice is running at (http:\/\/[^\s]+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1].replace(/\/$/, ''));
        }
      });
      child!.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
    });
  }, 180_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('serves the traces preset: an OTLP protobuf export is stored and read back over GraphQL', async () => {
    const creds = JSON.parse(readFileSync(path.join(cwd, '.lattice', 'credentials'), 'utf8')) as { public_key: string; secret_key: string; project_id: string };
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const body = encodeExportRequest({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'build-test' } }] },
          scopeSpans: [
            {
              scope: { name: 'build-test' },
              spans: [
                {
                  traceId,
                  spanId: 'b7ad6b7169203331',
                  name: 'compiled',
                  kind: 1,
                  startTimeUnixNano: '1772359200000000000',
                  endTimeUnixNano: '1772359201000000000',
                  attributes: [{ key: 'langfuse.trace.name', value: { stringValue: 'from-the-build' } }],
                },
              ],
            },
          ],
        },
      ],
    });
    const basic = Buffer.from(`${creds.public_key}:${creds.secret_key}`).toString('base64');
    const res = await fetch(`${url}/api/public/otel/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', authorization: `Basic ${basic}`, [PROJECT_HEADER]: creds.project_id },
      body: new Uint8Array(body),
    });
    expect(res.status, out).toBe(200);

    const gql = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${creds.secret_key}` },
      body: JSON.stringify({ query: '{ traces(limit: 5) { name observations { name } } }' }),
    });
    const json = (await gql.json()) as { data?: { traces: Array<{ name: string; observations: Array<{ name: string }> }> }; errors?: unknown };
    expect(json.errors, JSON.stringify(json.errors)).toBeUndefined();
    expect(json.data!.traces).toEqual([{ name: 'from-the-build', observations: [{ name: 'compiled' }] }]);
  });
});

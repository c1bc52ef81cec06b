/**
 * The REST reference page (`/api/docs`, SPEC R-3) in a real browser: headless Chromium (Debian's `chromium`,
 * driven by playwright-core) renders Swagger UI from our own assets with one section per entity tag and one
 * block per documented operation, makes no request outside the server and raises no page error.
 *
 * Needs no database: the documentation routes read only the model. Needs a Chromium executable
 * (`LATTICE_CHROMIUM`, else `/usr/bin/chromium`); skipped, with the reason in the test name, when there is none.
 */
import { existsSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/types.js';
import { loadPreset } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import { apiDocsRoutes } from '../../src/rest/api-docs.js';
import { openapiDocument } from '../../src/rest/openapi.js';
import { DEFAULT_LIMITS } from '../../src/server/context.js';

const executable = process.env.LATTICE_CHROMIUM || '/usr/bin/chromium';
const available = existsSync(executable);
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe.skipIf(!available)(`/api/docs in headless Chromium${available ? '' : ` (skipped: no Chromium at ${executable})`}`, () => {
  let model: Model;
  let app: FastifyInstance;
  let url: string;
  let browser: Browser;

  beforeAll(async () => {
    model = await loadPreset('catalog');
    app = Fastify({ logger: false });
    const ctx = { db: undefined as unknown as Db, config: { mode: 'production' as const, limits: DEFAULT_LIMITS, bodyLimit: 1024 }, log: app.log, model: () => model };
    await app.register(async (scope) => apiDocsRoutes(scope, ctx));
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await chromium.launch({ executablePath: executable, headless: true, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('renders every tag and operation of the document from local assets only', async () => {
    const page = await browser.newPage();
    const outside: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(url) && !r.url().startsWith('data:')) outside.push(r.url());
    });
    page.on('pageerror', (err) => errors.push(err.message));
    try {
      await page.goto(`${url}/api/docs`);
      await page.waitForSelector('.opblock', { timeout: 30_000 });
      const doc = openapiDocument(model) as { paths: Record<string, object>; tags: Array<{ name: string }> };
      const operations = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
      expect(await page.locator('.opblock').count()).toBe(operations);
      const tags = await page.locator('.opblock-tag').allInnerTexts();
      expect(tags.map((t) => t.split('\n')[0])).toEqual(doc.tags.map((t) => t.name));
      expect(outside).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});

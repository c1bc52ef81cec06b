/**
 * GraphiQL in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core) opens
 * `/graphql` as a browser does, the page renders GraphiQL from our own assets, and running the default query
 * answers UNAUTHENTICATED without a key and with the project's data once the key is in the headers editor.
 *
 * Needs a Chromium executable: `LATTICE_CHROMIUM`, else `/usr/bin/chromium` (`.ci/run` installs the Debian
 * package when it is missing). Skipped, with the reason in the test name, when there is none.
 */
import { existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { buildServer } from '../../src/server/app.js';
import { createProject, createTestDb, insertRows, type TestDb } from '../support/db.js';

const executable = process.env.LATTICE_CHROMIUM || '/usr/bin/chromium';
const available = existsSync(executable);

// The flags the machine notes give for a closed network: no background connections, no first-run UI.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe.skipIf(!available)(`GraphiQL in headless Chromium${available ? '' : ` (skipped: no Chromium at ${executable})`}`, () => {
  let t: TestDb;
  let app: FastifyInstance;
  let url: string;
  let secret: string;
  let browser: Browser;

  beforeAll(async () => {
    t = await createTestDb('pglite');
    const project = await createProject(t.db, 'browser');
    await insertRows(t.db, 'experiment', [{ project_id: project, name: 'seen in the browser', kind: 'softmax' }]);
    secret = (await createApiKey(t.db, { projectId: project, role: 'viewer' })).secret_key;
    ({ app } = await buildServer({ db: t.db, model: t.model }));
    url = `${await app.listen({ port: 0, host: '127.0.0.1' })}/graphql`;
    browser = await chromium.launch({ executablePath: executable, headless: true, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await t?.close();
  });

  /** Open GraphiQL in a fresh context (optionally with persisted headers), run the default query, return the result pane's text. */
  async function runDefaultQuery(headers?: Record<string, string>): Promise<{ text: string; errors: string[] }> {
    const context = await browser.newContext();
    const page: Page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    try {
      // GraphiQL keeps the headers editor in localStorage (shouldPersistHeaders): what a user pasted before.
      if (headers) await page.addInitScript((h) => localStorage.setItem('graphiql:headers', h), JSON.stringify(headers));
      const res = await page.goto(url);
      expect(res?.status()).toBe(200);
      expect(res?.headers()['content-type']).toContain('text/html');
      await page.locator('.graphiql-container').waitFor({ timeout: 30_000 });
      await page.locator('.graphiql-execute-button').click();
      const result = page.locator('.result-window');
      await expect.poll(async () => (await result.innerText()).trim().length, { timeout: 30_000 }).toBeGreaterThan(2);
      return { text: await result.innerText(), errors };
    } finally {
      await context.close();
    }
  }

  it('renders and runs the default query: UNAUTHENTICATED without a key, the data with one', async () => {
    const anonymous = await runDefaultQuery();
    expect(anonymous.text).toContain('UNAUTHENTICATED');
    expect(anonymous.errors).toEqual([]);

    const keyed = await runDefaultQuery({ Authorization: `Bearer ${secret}` });
    expect(keyed.text).toContain('"seen in the browser"');
    expect(keyed.text).not.toContain('UNAUTHENTICATED');
    expect(keyed.errors).toEqual([]);
  });
});

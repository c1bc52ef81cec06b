/**
 * Open routes of the REST API's documentation (SPEC R-3), no credentials needed (like health):
 * - `GET /api/openapi.json`: the OpenAPI 3.1 document of the model being served (`openapi.ts`), built on
 *   first use per Model object, so after a model swap (`ctx.model()` returning a new Model) the next request
 *   gets the new document;
 * - `GET /api/docs`: an interactive reference page (Swagger UI from the npm package `swagger-ui-dist`, served
 *   under `/api/docs/assets/`: no CDN is reachable, and `@scalar/api-reference` / `redoc` need Node 22). The
 *   page loads the document from `/api/openapi.json`, never embeds a key, and turns off Swagger UI's online
 *   validator badge (it would call validator.swagger.io).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../server/context.js';
import { OPENAPI_PATH, openapiJson } from './openapi.js';

const require = createRequire(import.meta.url);

/** URL of the reference page. */
export const DOCS_PATH = '/api/docs';
/** URL prefix of the page's assets. */
export const DOCS_ASSETS_PATH = '/api/docs/assets';

/** Served asset name → [file inside `swagger-ui-dist`, content type]. */
const ASSETS: Readonly<Record<string, readonly [string, string]>> = {
  'swagger-ui-bundle.js': ['swagger-ui-bundle.js', 'application/javascript; charset=utf-8'],
  'swagger-ui.css': ['swagger-ui.css', 'text/css; charset=utf-8'],
  'favicon-32x32.png': ['favicon-32x32.png', 'image/png'],
};

/** The reference page (static: no key, no user data). */
export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Lattice — REST API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" type="image/png" href="${DOCS_ASSETS_PATH}/favicon-32x32.png">
<link rel="stylesheet" href="${DOCS_ASSETS_PATH}/swagger-ui.css">
<style>body { margin: 0; }</style>
</head>
<body>
<div id="swagger-ui">Loading the API reference…</div>
<script src="${DOCS_ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script>
  window.ui = SwaggerUIBundle({
    url: new URL('${OPENAPI_PATH}', location.href).toString(),
    dom_id: '#swagger-ui',
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: true,
    tryItOutEnabled: false,
  });
</script>
</body>
</html>
`;

/**
 * Register `GET /api/openapi.json`, `GET /api/docs` and `GET /api/docs/assets/:file` (files read once, on
 * first request; unknown names answer 404 in the standard error shape).
 */
export async function apiDocsRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get(OPENAPI_PATH, async (_request, reply) =>
    reply
      .header('content-type', 'application/json; charset=utf-8')
      .header('cache-control', 'no-cache')
      .send(openapiJson(ctx.model(), { maxLimit: ctx.config.limits.maxLimit })),
  );
  app.get(DOCS_PATH, async (_request, reply) => reply.header('content-type', 'text/html; charset=utf-8').send(DOCS_HTML));

  const dir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  const files = new Map<string, Buffer>();
  app.get<{ Params: { file: string } }>(`${DOCS_ASSETS_PATH}/:file`, async (request, reply) => {
    const name = request.params.file;
    const asset = Object.prototype.hasOwnProperty.call(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) return reply.callNotFound();
    let body = files.get(name);
    if (!body) files.set(name, (body = readFileSync(path.join(dir, asset[0]))));
    return reply.header('content-type', asset[1]).header('cache-control', 'public, max-age=86400').send(body);
  });
}

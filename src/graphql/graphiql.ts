/**
 * GraphiQL at `GET /graphql` when a browser asks for HTML (SPEC "GraphQL API": "GraphiQL when a browser asks
 * for HTML").
 *
 * No CDN is reachable from many deployments (nor from our CI), so GraphiQL is served from npm packages: the
 * `graphiql` 3 browser bundle (`graphiql.min.js`/`.css`, which expects React globals) and the React 18 UMD
 * builds. Only these four files are served, from `/graphql/assets/`, with long-lived caching. The page and its
 * assets are open (like documentation, SPEC A-1); the API key goes into GraphiQL's headers editor, which the
 * browser keeps in localStorage — the server never embeds a key in a page.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

const require = createRequire(import.meta.url);

/** Served asset name → [npm package, file inside it, content type]. */
const ASSETS: Readonly<Record<string, readonly [string, string, string]>> = {
  'graphiql.min.js': ['graphiql', 'graphiql.min.js', 'application/javascript; charset=utf-8'],
  'graphiql.min.css': ['graphiql', 'graphiql.min.css', 'text/css; charset=utf-8'],
  'react.production.min.js': ['react', 'umd/react.production.min.js', 'application/javascript; charset=utf-8'],
  'react-dom.production.min.js': ['react-dom', 'umd/react-dom.production.min.js', 'application/javascript; charset=utf-8'],
};

/** A file of an installed package, located from its package.json (React's `exports` hide the UMD files). */
function packageFile(pkg: string, file: string): string {
  return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file);
}

/** URL prefix of the assets. */
export const GRAPHIQL_ASSETS_PATH = '/graphql/assets';

const DEFAULT_QUERY = `# Put your secret key in the Headers tab below
# (the first start stores it in .lattice/credentials),
# then run this query:
{
  projects { id name }
  experiments {
    id
    name
    kind
    trials { name params status runs { id status } }
  }
}
`;

/** The GraphiQL page (static; no key, no user data). */
export const GRAPHIQL_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Lattice — GraphiQL</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${GRAPHIQL_ASSETS_PATH}/graphiql.min.css">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="${GRAPHIQL_ASSETS_PATH}/react.production.min.js"></script>
<script src="${GRAPHIQL_ASSETS_PATH}/react-dom.production.min.js"></script>
<script src="${GRAPHIQL_ASSETS_PATH}/graphiql.min.js"></script>
<script>
  const fetcher = GraphiQL.createFetcher({ url: new URL('/graphql', location.href).toString() });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultQuery: ${JSON.stringify(DEFAULT_QUERY)},
      // ASCII only: fetch() refuses header values outside ISO-8859-1.
      defaultHeaders: JSON.stringify({ Authorization: 'Bearer lk-sk-... (paste your secret key)' }, null, 2),
      defaultEditorToolsVisibility: 'headers',
      shouldPersistHeaders: true,
    }),
  );
</script>
</body>
</html>
`;

/**
 * Register `GET /graphql/assets/:file` for the four GraphiQL files (read once, on first request).
 * Unknown names answer 404 in the standard error shape (through the scope's not-found handling).
 */
export function graphiqlAssetRoutes(app: FastifyInstance): void {
  const cache = new Map<string, Buffer>();
  app.get<{ Params: { file: string } }>(`${GRAPHIQL_ASSETS_PATH}/:file`, async (request, reply) => {
    const asset = Object.prototype.hasOwnProperty.call(ASSETS, request.params.file) ? ASSETS[request.params.file] : undefined;
    if (!asset) return reply.callNotFound();
    let body = cache.get(request.params.file);
    if (!body) cache.set(request.params.file, (body = readFileSync(packageFile(asset[0], asset[1]))));
    return reply.header('content-type', asset[2]).header('cache-control', 'public, max-age=86400').send(body);
  });
}

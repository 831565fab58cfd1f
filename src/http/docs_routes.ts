/**
 * `GET /openapi.json` (the OpenAPI 3.1 document generated from the routes'
 * zod schemas) and `GET /docs` (Swagger UI on it). No authentication: the
 * document describes the API, it holds no data.
 *
 * Swagger UI's script and stylesheet come from `assetsUrl`: jsDelivr's copy
 * of the `swagger-ui-dist` version in `deno.lock` by default (a browser
 * reading the docs of a deployed service is online), or the service's own
 * `/docs/assets` in local and embedded mode (`src/local/swagger_ui_assets.ts`
 * serves them from the npm package, so the docs work offline).
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "./app_env.ts";
import { REQUEST_ID_HEADER } from "./openapi_responses.ts";

/** The `swagger-ui-dist` version the CDN URL names (a test compares it with `deno.lock`). */
export const SWAGGER_UI_VERSION = "5.35.0";

/** Where Swagger UI loads from by default. */
export const SWAGGER_UI_CDN = `https://cdn.jsdelivr.net/npm/swagger-ui-dist@${SWAGGER_UI_VERSION}`;

/** Options of {@linkcode docsRoutes}. */
export interface DocsRoutesOptions {
  /** The OpenAPI document (built once, on first use). */
  document: () => unknown;
  /**
   * Base URL of `swagger-ui-bundle.js` and `swagger-ui.css`; a relative URL
   * is resolved against the page (`docs/assets` → `<base path>/docs/assets`).
   * @default SWAGGER_UI_CDN
   */
  assetsUrl?: string;
  /** The page title. @default "API reference" */
  title?: string;
}

const spec = createRoute({
  method: "get",
  path: "/openapi.json",
  tags: ["documentation"],
  summary: "This OpenAPI 3.1 document",
  responses: {
    200: {
      description: "The OpenAPI document, generated from the zod schemas the routes validate with",
      headers: REQUEST_ID_HEADER,
      content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
    },
  },
});

const page = createRoute({
  method: "get",
  path: "/docs",
  tags: ["documentation"],
  summary: "Interactive API reference (Swagger UI)",
  responses: {
    200: {
      description: "An HTML page rendering /openapi.json",
      headers: REQUEST_ID_HEADER,
      content: { "text/html": { schema: z.string() } },
    },
  },
});

function _escape(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** The HTML of `/docs`. The document URL is relative, so the page works under any base path. */
export function renderDocsPage({ assetsUrl = SWAGGER_UI_CDN, title = "API reference" } = {}): string {
  const assets = _escape(assetsUrl.replace(/\/$/, ""));
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${_escape(title)}</title>
  <link rel="stylesheet" href="${assets}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${assets}/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: new URL("openapi.json", document.baseURI).href,
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null,
      persistAuthorization: false,
    });
  </script>
</body>
</html>
`;
}

/** Builds the documentation sub-app (mounted at the root of the API). */
export function docsRoutes({ document, assetsUrl, title }: DocsRoutesOptions): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  const html = renderDocsPage({ ...(assetsUrl ? { assetsUrl } : {}), ...(title ? { title } : {}) });
  let cached: Record<string, unknown> | undefined;
  app.openapi(spec, (c) => c.json(cached ??= document() as Record<string, unknown>, 200));
  app.openapi(page, (c) => c.html(html, 200));
  return app;
}

/**
 * Swagger UI's script and stylesheet, served by the service itself under
 * `/docs/assets` in local and embedded mode, from the `swagger-ui-dist` npm
 * package (read once from Deno's npm cache): the docs page then works
 * offline, as the rest of the local stack does. A deployed service lets
 * `/docs` load them from the CDN instead (`src/http/docs_routes.ts`).
 *
 * @module
 */
import { Hono } from "hono";
import getAbsoluteFSPath from "swagger-ui-dist/absolute-path.js";

/** The files `/docs` loads, with their media types. */
const FILES: Record<string, string> = {
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
};

/**
 * Builds the assets sub-app (mount it at `/docs/assets`).
 *
 * @example
 * ```ts
 * createApp({ ...deps, docsAssets: swaggerUiAssets() });
 * ```
 */
export function swaggerUiAssets(): Hono {
  const dir: string = getAbsoluteFSPath();
  const cache = new Map<string, Promise<Uint8Array>>();
  const app = new Hono();
  for (const [file, type] of Object.entries(FILES)) {
    app.get(`/${file}`, async (c) => {
      let bytes = cache.get(file);
      if (!bytes) {
        bytes = Deno.readFile(`${dir}/${file}`);
        cache.set(file, bytes);
      }
      return c.body((await bytes).slice().buffer, 200, {
        "Content-Type": type,
        "Cache-Control": "public, max-age=86400",
      });
    });
  }
  return app;
}

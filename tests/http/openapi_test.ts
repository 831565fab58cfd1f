import assert from "node:assert/strict";
import { Validator } from "@seriousme/openapi-schema-validator";
import { createApp } from "../../src/app.ts";
import { createJwtVerifier } from "../../src/auth/jwt_verifier.ts";
import { ERROR_TABLE } from "../../src/errors.ts";
import { SWAGGER_UI_VERSION } from "../../src/http/docs_routes.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import { createPaystackProvider } from "../../src/providers/paystack_provider.ts";
import { startTestStack } from "../support/stack.ts";
import { expectJson } from "../support/http_helpers.ts";

type Spec = {
  openapi: string;
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { description?: string }>; securitySchemes: Record<string, unknown> };
};
type Operation = {
  security?: Array<Record<string, unknown>>;
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  responses: Record<string, {
    headers?: Record<string, unknown>;
    content?: Record<string, { schema: { allOf?: Array<{ properties?: { code?: { enum?: string[] } } }> } }>;
  }>;
};

/** Routes of the app that are deliberately not part of the API document, and why. */
const UNDOCUMENTED = [
  // The sandbox provider: a development stand-in with its own documentation (docs/sandbox.md).
  /^\/sandbox\/paystack(\/|$)/,
  // Static files of the docs page (local modes only).
  /^\/docs\/assets\//,
];

/** `METHOD /path/{param}` of every endpoint route of `app` (middleware excluded). */
function endpoints(app: { routes: Array<{ method: string; path: string }> }): string[] {
  return [
    ...new Set(
      app.routes
        .filter((r) => r.method !== "ALL" && !UNDOCUMENTED.some((re) => re.test(r.path)))
        .map((r) => `${r.method} ${r.path.replace(/:([^/]+)/g, "{$1}")}`),
    ),
  ].sort();
}

/** `METHOD /path` of every operation of `spec`. */
function operations(spec: Spec): string[] {
  return Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`)
  ).sort();
}

/** The problem `code`s an operation documents. */
function documentedCodes(operation: Operation): string[] {
  return Object.values(operation.responses).flatMap((response) =>
    response.content?.["application/problem+json"]?.schema.allOf?.flatMap((part) =>
      part.properties?.code?.enum ?? []
    ) ?? []
  );
}

Deno.test("OpenAPI 3.1 document and /docs", async (t) => {
  const stack = await startTestStack();
  try {
    const spec = await expectJson<Spec>(await stack.request("/openapi.json"), 200);

    await t.step("GET /openapi.json is a valid OpenAPI 3.1 document whose $refs resolve", async () => {
      assert.equal(spec.openapi, "3.1.0");
      const validator = new Validator();
      const result = await validator.validate(structuredClone(spec));
      assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
      assert.equal(validator.version, "3.1");
      validator.resolveRefs(); // throws on a dangling $ref
    });

    await t.step("every route the app registered is in the document, and nothing else", () => {
      assert.deepEqual(operations(spec), endpoints(stack.runtime.app));
      for (const expected of ["GET /health", "GET /ready", "GET /metrics", "POST /v1/jobs/reconcile"]) {
        assert.ok(operations(spec).includes(expected), expected);
      }
    });

    await t.step("headers: Idempotency-Key, Idempotent-Replayed, Retry-After, RateLimit-*, X-Request-Id", () => {
      const create = spec.paths["/v1/payments"]!.post!;
      const key = create.parameters?.find((p) => p.name.toLowerCase() === "idempotency-key");
      assert.deepEqual({ in: key?.in, required: key?.required }, { in: "header", required: true });
      assert.ok(create.responses["201"]!.headers!["Idempotent-Replayed"]);
      assert.ok(create.responses["409"]!.headers!["Retry-After"]);
      assert.ok(create.responses["429"]!.headers!["Retry-After"]);
      assert.ok(create.responses["429"]!.headers!["RateLimit-Reset"]);
      for (const [path, item] of Object.entries(spec.paths)) {
        for (const [method, operation] of Object.entries(item)) {
          for (const [status, response] of Object.entries(operation.responses)) {
            assert.ok(response.headers?.["X-Request-Id"], `${method} ${path} ${status} lacks X-Request-Id`);
          }
        }
      }
      const webhook = spec.paths["/v1/webhooks/paystack"]!.post!;
      assert.deepEqual(webhook.security, [{ paystackSignature: [] }]);
      assert.deepEqual(spec.components.securitySchemes.paystackSignature, {
        type: "apiKey",
        in: "header",
        name: "x-paystack-signature",
        description: (spec.components.securitySchemes.paystackSignature as { description: string }).description,
      });
    });

    await t.step("each route's problem codes are documented under their status, and every code is listed", () => {
      const create = spec.paths["/v1/payments"]!.post!;
      for (
        const code of [
          "idempotency_key_missing",
          "idempotency_key_in_use",
          "idempotency_key_reused",
          "validation_failed",
          "rate_limited",
          "provider_unavailable",
        ] as const
      ) {
        const status = String(ERROR_TABLE[code][0]);
        const codes = documentedCodes({ responses: { [status]: create.responses[status]! } });
        assert.ok(codes.includes(code), `${code} under ${status}`);
      }
      assert.ok(documentedCodes(spec.paths["/v1/payments/{reference}"]!.get!).includes("payment_not_found"));
      assert.ok(documentedCodes(spec.paths["/v1/webhooks/paystack"]!.post!).includes("invalid_signature"));
      const catalogue = spec.components.schemas.Problem?.description ?? "";
      for (const code of Object.keys(ERROR_TABLE)) assert.ok(catalogue.includes(`\`${code}\``), code);
    });

    await t.step("GET /docs renders Swagger UI on ./openapi.json with assets served locally", async () => {
      const res = await stack.request("/docs");
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      const html = await res.text();
      assert.match(html, /SwaggerUIBundle\(/);
      assert.match(html, /new URL\("openapi\.json", document\.baseURI\)/);
      const script = await stack.request("/docs/assets/swagger-ui-bundle.js");
      assert.equal(script.status, 200);
      assert.match(script.headers.get("content-type") ?? "", /javascript/);
      assert.ok((await script.arrayBuffer()).byteLength > 100_000);
      const css = await stack.request("/docs/assets/swagger-ui.css");
      assert.equal(css.status, 200);
      await css.body?.cancel();
      const other = await stack.request("/docs/assets/package.json");
      assert.equal(other.status, 404);
      await other.body?.cancel();
    });

    await t.step("the CDN fallback names the swagger-ui-dist version deno.lock pins", async () => {
      const lock = JSON.parse(await Deno.readTextFile(new URL("../../deno.lock", import.meta.url)));
      const locked = Object.keys(lock.npm).find((id) => id.startsWith("swagger-ui-dist@"));
      assert.equal(locked, `swagger-ui-dist@${SWAGGER_UI_VERSION}`);
    });

    await t.step("under a base path the routes move, the document's server says where clients reach them", async () => {
      const { app } = createApp({
        config: stack.config,
        store: stack.runtime.store,
        locks: stack.runtime.locks,
        provider: createPaystackProvider({ secretKey: "sk_test_x", baseUrl: "http://127.0.0.1:9" }),
        verifier: createJwtVerifier({ secret: stack.config.auth.jwtSecret, jwksUrl: null }),
        logger: silentLogger,
        metrics: createMetrics(),
        clock: { now: () => Date.now() },
        basePath: "/payments",
        publicPath: "/functions/v1/payments",
      });
      const edgeSpec = await expectJson<Spec>(await app.request("/payments/openapi.json"), 200);
      assert.deepEqual(edgeSpec.servers, [{ url: "/functions/v1/payments" }]);
      assert.deepEqual(Object.keys(edgeSpec.paths).sort(), Object.keys(spec.paths).sort());
      const html = await (await app.request("/payments/docs")).text();
      assert.match(html, /cdn\.jsdelivr\.net\/npm\/swagger-ui-dist@/);
      assert.equal((await app.request("/openapi.json")).status, 404);
    });

    await t.step("METRICS_ENABLED=false: no /metrics route, and none in the document", async () => {
      const { app } = createApp({
        config: { ...stack.config, metrics: { enabled: false } },
        store: stack.runtime.store,
        locks: stack.runtime.locks,
        provider: createPaystackProvider({ secretKey: "sk_test_x", baseUrl: "http://127.0.0.1:9" }),
        verifier: createJwtVerifier({ secret: stack.config.auth.jwtSecret, jwksUrl: null }),
        logger: silentLogger,
        metrics: createMetrics(),
        clock: { now: () => Date.now() },
      });
      const offSpec = await expectJson<Spec>(await app.request("/openapi.json"), 200);
      assert.equal(offSpec.paths["/metrics"], undefined);
      assert.equal((await app.request("/metrics")).status, 404);
    });
  } finally {
    await stack.close();
  }
});

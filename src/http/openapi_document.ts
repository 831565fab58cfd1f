/**
 * The OpenAPI 3.1 document of the service, generated from the route
 * definitions (`createRoute`) registered on the API app: what `GET
 * /openapi.json` serves. The routes carry their own schemas; this adds the
 * document-wide parts (info, servers, security schemes, tags).
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./app_env.ts";
import { SECURITY_SCHEMES } from "./openapi_responses.ts";

/** Options of {@linkcode buildOpenApiDocument}. */
export interface OpenApiDocumentOptions {
  /**
   * The URL prefix clients reach the routes under: `/` for the service,
   * `/functions/v1/payments` for the Supabase Edge Function.
   */
  serverUrl: string;
  /** @default "0.0.0" */
  version?: string;
}

const DESCRIPTION = `The SMS-credit payment service: start a payment (idempotent), send the customer to the
provider's checkout, and see the wallet credited exactly once — by the provider's webhook, your verify call or
reconciliation, whichever comes first.

Errors are RFC 9457 \`application/problem+json\` documents with a stable \`code\`; each response below lists
the codes it can carry. Every response has an \`X-Request-Id\`.

Semantics the schemas cannot say (idempotency, payment states, late successes): see docs/api.md.`;

const TAGS = [
  { name: "payments", description: "Start, read, list and confirm your payments (user token)" },
  { name: "wallet", description: "Balances and the ledger (user token); debits (service role)" },
  { name: "refunds", description: "Refunds of a payment (service role; owners may list theirs)" },
  { name: "webhooks", description: "Provider and database events (signed or with a shared secret)" },
  { name: "jobs", description: "Operations for a cron (service role)" },
  { name: "operations", description: "Health, readiness and metrics" },
  { name: "documentation", description: "This document and its reference page" },
];

/**
 * Builds the document of every route registered on `api` so far.
 *
 * @example
 * ```ts
 * const document = buildOpenApiDocument(api, { serverUrl: "/" });
 * ```
 */
export function buildOpenApiDocument(
  api: OpenAPIHono<AppEnv>,
  { serverUrl, version = "0.0.0" }: OpenApiDocumentOptions,
): Record<string, unknown> {
  for (const [name, scheme] of Object.entries(SECURITY_SCHEMES)) {
    api.openAPIRegistry.registerComponent("securitySchemes", name, scheme);
  }
  return api.getOpenAPI31Document({
    openapi: "3.1.0",
    info: { title: "SMS payments API", version, description: DESCRIPTION },
    servers: [{ url: serverUrl }],
    tags: TAGS,
  }) as unknown as Record<string, unknown>;
}

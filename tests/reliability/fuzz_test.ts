/**
 * Item 4 of the reliability suite: fast-check over every endpoint of the
 * service (each route the app registers, outside the sandbox provider: a
 * route nobody fuzzes fails the test), through the real stack on a socket.
 * Each request mixes valid and hostile parts: bodies (random JSON, valid
 * bodies with fields swapped for anything, invalid UTF-8, unicode, empty,
 * over the 64 KiB limit, nested tens of thousands deep), content types,
 * bearer tokens (valid, another user's, the service role's, forged,
 * truncated, none), Idempotency-Keys (empty, 256 characters, spaces,
 * Latin-1), references in the path (unknown, someone else's, percent-encoded
 * unicode, 3,000 characters), cursors and limits, webhook signatures (valid
 * for the exact bytes, for other bytes, random, missing) and the database
 * webhook's secret.
 *
 * Properties, for every request:
 * - never a 5xx;
 * - an error is `application/problem+json` whose `code` is one of
 *   `ERROR_TABLE` and whose `status` is the response's;
 * - a rejected request (4xx) changes nothing: the row counts and content
 *   hashes of every table (the service's and the sandbox provider's) are
 *   the same before and after it.
 *
 * CI size: 1,500 requests (a third on the PGlite fallback; `RELIABILITY_SCALE` multiplies); `FUZZ_SEED`
 * replays the same requests (fast-check prints the shrunk one on failure).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { SignJWT } from "jose";
import { ERROR_TABLE } from "../../src/errors.ts";
import { signPaystackBody } from "../../src/providers/paystack_signature.ts";
import { DB_WEBHOOK_SECRET_HEADER } from "../../src/http/db_hook_routes.ts";
import { ManualClock } from "../support/manual_clock.ts";
import { startTestStack } from "../support/stack.ts";
import { createPayment, payAtCheckout } from "../support/payment_flow.ts";
import { reportFigures, sized, suiteSeed } from "./support/scale.ts";
import { findLeaks } from "./support/secret_scan.ts";

/** Every table a request could write: the service's and the sandbox provider's. */
const TABLES = [
  "public.payment_logs",
  "public.sms_transactions",
  "public.wallets",
  "public.idempotency_keys",
  "public.webhook_events",
  "public.refunds",
  "public.refund_requests",
  "public.provider_reconciliation_cursors",
  "sandbox_paystack.transactions",
  "sandbox_paystack.refunds",
  "sandbox_paystack.deliveries",
];

/** The endpoints fuzzed: every route of the service (the sandbox provider's are Paystack's, not ours). */
const ENDPOINTS = [
  "GET /health",
  "GET /ready",
  "POST /v1/payments",
  "GET /v1/payments",
  "GET /v1/payments/:reference",
  "POST /v1/payments/:reference/verify",
  "POST /v1/payments/:reference/refunds",
  "GET /v1/payments/:reference/refunds",
  "GET /v1/wallet",
  "POST /v1/wallet/debits",
  "POST /v1/hooks/database",
  "POST /v1/webhooks/paystack",
  "POST /v1/jobs/reconcile",
  "GET /metrics",
  "GET /openapi.json",
  "GET /docs",
  "GET /docs/assets/swagger-ui-bundle.js",
  "GET /docs/assets/swagger-ui.css",
] as const;
type Endpoint = typeof ENDPOINTS[number];

const MAX_BODY = 64 * 1024;

/** A JSON text nested `depth` levels deep (arrays or objects), optionally inside `wrap`'s field. */
function deepJson(depth: number, objects: boolean): string {
  return objects ? `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}` : `${"[".repeat(depth)}${"]".repeat(depth)}`;
}

/** Header-safe text: what `fetch` can send (Latin-1, no control characters but tab). */
const headerText = (maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)),
    maxLength,
  });

Deno.test("fuzz: every endpoint answers hostile input with a known problem, never a 5xx, and writes nothing when it refuses", async () => {
  const seed = suiteSeed("fuzz");
  const clock = new ManualClock(); // the sandbox's refunds never move by themselves: no write behind a request's back
  const stack = await startTestStack({
    env: {
      RATE_LIMIT_INITIALIZE_PER_MINUTE: "0",
      RATE_LIMIT_VERIFY_PER_MINUTE: "0",
      RATE_LIMIT_WEBHOOK_PER_MINUTE: "0",
    },
    sandboxRetrySchedule: [20],
    sandboxTimers: clock,
  });
  // On the embedded fallback (PGlite: one connection, slower) a third of the requests: the CI run with services does all.
  const numRuns = stack.database.engine === "pglite" ? Math.ceil(sized(1_500) / 3) : sized(1_500);
  const started = performance.now();
  try {
    // Every route the app serves is fuzzed, or this fails: a new endpoint joins the list.
    const served = new Set(
      stack.runtime.app.routes.filter((r) => r.method !== "ALL" && !r.path.startsWith("/sandbox/"))
        .map((r) => `${r.method} ${r.path}`),
    );
    assert.deepEqual([...served].filter((r) => !(ENDPOINTS as readonly string[]).includes(r)), [], "routes not fuzzed");

    // --- a world to aim at: two users, paid and pending payments -------------------------------------------------------
    const paid = await createPayment(stack, { amount: 500_000 });
    await payAtCheckout(paid, "success");
    const pending = await createPayment(stack, {
      userId: paid.userId as ReturnType<typeof crypto.randomUUID>,
      amount: 20_000,
    });
    const other = await createPayment(stack, { amount: 30_000 });
    await payAtCheckout(other, "success");
    await stack.runtime.sandbox!.idle();
    const userToken = paid.token;
    const otherToken = other.token;
    const serviceToken = await stack.serviceToken();
    const jwtSecret = new TextEncoder().encode(stack.config.auth.jwtSecret!);
    const now = Math.floor(Date.now() / 1000);
    const forged = {
      none: `${btoa(JSON.stringify({ alg: "none", typ: "JWT" }))}.${
        btoa(JSON.stringify({ sub: paid.userId, role: "authenticated", aud: "authenticated", exp: now + 600 }))
      }.`,
      expired: await new SignJWT({ role: "authenticated", aud: "authenticated" }).setSubject(paid.userId)
        .setProtectedHeader({ alg: "HS256" }).setExpirationTime(now - 60).sign(jwtSecret),
      wrongKey: await new SignJWT({ role: "service_role" }).setProtectedHeader({ alg: "HS256" })
        .setExpirationTime(now + 600).sign(new TextEncoder().encode("x".repeat(40))),
    };
    const references = [paid.reference, pending.reference, other.reference];

    const snapshot = async (): Promise<string> => {
      const parts = TABLES.map((t) =>
        `(select count(*) || ':' || coalesce(md5(string_agg(x::text, ',' order by x::text)), '') from ${t} x)`
      );
      const [row] = await stack.database.db.query<{ s: string }>(`select ${parts.join(" || '|' || ")} as s`);
      return row!.s;
    };

    // --- the requests --------------------------------------------------------------------------------------------------
    const validBodies: Partial<Record<Endpoint, Record<string, unknown>>> = {
      "POST /v1/payments": { amount: 5_000, currency: "NGN", email: "fuzz@example.test", metadata: { plan: "gold" } },
      "POST /v1/payments/:reference/refunds": { amount: 1_000, reason: "fuzz" },
      "POST /v1/wallet/debits": { user_id: paid.userId, amount: 100, currency: "NGN", reason: "sms" },
      "POST /v1/hooks/database": {
        type: "INSERT",
        table: "refund_requests",
        schema: "public",
        record: {
          id: crypto.randomUUID(),
          payment_reference: paid.reference,
          amount: 100,
          reason: "r",
          requested_by: null,
          status: "pending",
        },
        old_record: null,
      },
      "POST /v1/webhooks/paystack": {
        event: "charge.success",
        data: { id: 4_000_000_777, reference: pending.reference, amount: 20_000, currency: "NGN", status: "success" },
      },
    };
    const anyValue = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.constantFrom(0, -1, 1.5, 2 ** 53, 1e308, -0, "100", "NGN", "", null, true, [], {}),
    );
    const mutated = (valid: Record<string, unknown>) =>
      fc.tuple(
        fc.dictionary(fc.constantFrom(...Object.keys(valid)), anyValue, { maxKeys: 3 }),
        fc.option(fc.tuple(fc.string({ maxLength: 12 }), anyValue), { nil: undefined }),
        fc.subarray(Object.keys(valid)),
      ).map(([changes, extra, dropped]) => {
        const body: Record<string, unknown> = { ...valid, ...changes };
        for (const key of dropped.slice(0, 1)) delete body[key];
        if (extra) body[extra[0]] = extra[1];
        return JSON.stringify(body);
      });
    const bodyArb = (endpoint: Endpoint): fc.Arbitrary<string | Uint8Array | undefined> => {
      const valid = validBodies[endpoint];
      return fc.oneof(
        { weight: 4, arbitrary: valid ? mutated(valid) : fc.constant(undefined) },
        { weight: 2, arbitrary: valid ? fc.constant(JSON.stringify(valid)) : fc.constant(undefined) },
        { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
        { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            "",
            "{",
            "null",
            '{"amount":',
            "\u0000",
            JSON.stringify({ filler: "x".repeat(MAX_BODY + 10) }),
          ),
        },
        {
          weight: 1,
          arbitrary: fc.tuple(fc.integer({ min: 1_000, max: 30_000 }), fc.boolean(), fc.boolean()).map(
            ([depth, objects, wrapped]) =>
              wrapped && valid
                ? JSON.stringify({ ...valid, metadata: 0 }).replace(
                  '"metadata":0',
                  `"metadata":{"x":${deepJson(depth, objects)}}`,
                )
                : deepJson(depth, objects),
          ),
        },
      );
    };
    const requestArb = fc.constantFrom(...ENDPOINTS).chain((endpoint) =>
      fc.record({
        endpoint: fc.constant(endpoint),
        method: fc.oneof(
          { weight: 9, arbitrary: fc.constant(endpoint.split(" ")[0]!) },
          { weight: 1, arbitrary: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH") },
        ),
        reference: fc.oneof(
          fc.constantFrom(...references),
          fc.constantFrom("pay-doesnotexist", "..", "%2e%2e%2f", "a".repeat(3_000), "pay-1.r2", "pay-1.r99999999999"),
          fc.string({ unit: "binary", minLength: 1, maxLength: 40 }).map(encodeURIComponent),
        ),
        query: fc.option(
          fc.dictionary(
            fc.constantFrom("limit", "cursor", "scope", "since", "x"),
            fc.oneof(
              fc.string({ unit: "binary", maxLength: 40 }),
              fc.constantFrom("0", "1", "100", "101", "-1", "1e3", "provider", "payments", "48h", "999d", "eyJ"),
              fc.base64String({ maxLength: 80 }),
              fc.jsonValue().map((v) => btoa(unescape(encodeURIComponent(JSON.stringify(v))))),
            ),
            { maxKeys: 3 },
          ),
          { nil: undefined },
        ),
        auth: fc.oneof(
          { weight: 6, arbitrary: fc.constant("default") },
          {
            weight: 4,
            arbitrary: fc.constantFrom(
              "none",
              "user",
              "other",
              "service",
              "forged_none",
              "expired",
              "wrong_key",
              "garbage",
              "basic",
              "truncated",
            ),
          },
        ),
        contentType: fc.oneof(
          { weight: 6, arbitrary: fc.constant("application/json") },
          {
            weight: 3,
            arbitrary: fc.constantFrom(
              undefined,
              "application/json; charset=utf-8",
              "application/problem+json",
              "text/plain",
              "application/x-www-form-urlencoded",
              "multipart/form-data; boundary=x",
              "application/jsonx",
              "",
            ),
          },
          { weight: 1, arbitrary: headerText(60) },
        ),
        idempotencyKey: fc.oneof(
          { weight: 5, arbitrary: fc.uuid() },
          {
            weight: 3,
            arbitrary: fc.constantFrom(undefined, "", " ", "a".repeat(255), "a".repeat(256), "key with spaces", "clé"),
          },
          { weight: 2, arbitrary: headerText(300) },
        ),
        signature: fc.constantFrom("valid", "none", "random", "other_body", "upper", "empty"),
        dbSecret: fc.constantFrom("valid", "none", "wrong", "padded"),
        body: bodyArb(endpoint),
      })
    );

    const figures = {
      requests: 0,
      rejected: 0,
      accepted: 0,
      statuses: {} as Record<string, number>,
      codes: new Set<string>(),
    };
    const failures: string[] = [];
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        const path = r.endpoint.split(" ")[1]!.replace(":reference", r.reference) +
          (r.query ? `?${new URLSearchParams(r.query)}` : "");
        const userRoute = /^\/v1\/(payments|wallet)(\/|$)/.test(path) && !/\/(refunds|debits)$/.test(path);
        const token = r.auth === "default"
          ? (r.endpoint.includes("refunds") && r.method === "POST") || r.endpoint.includes("debits") ||
              r.endpoint.includes("jobs") || r.endpoint.includes("metrics")
            ? serviceToken
            : userRoute
            ? userToken
            : undefined
          : ({
            none: undefined,
            user: userToken,
            other: otherToken,
            service: serviceToken,
            forged_none: forged.none,
            expired: forged.expired,
            wrong_key: forged.wrongKey,
            garbage: "not-a-token",
            basic: undefined,
            truncated: userToken.slice(0, -5),
          } as Record<string, string | undefined>)[r.auth];
        const headers = new Headers();
        if (token) headers.set("Authorization", `Bearer ${token}`);
        if (r.auth === "basic") headers.set("Authorization", "Basic dXNlcjpwYXNz");
        if (r.contentType !== undefined) headers.set("Content-Type", r.contentType);
        if (r.idempotencyKey !== undefined) headers.set("Idempotency-Key", r.idempotencyKey);
        const bytes = r.body === undefined
          ? undefined
          : typeof r.body === "string"
          ? new TextEncoder().encode(r.body)
          : r.body;
        if (r.endpoint === "POST /v1/webhooks/paystack") {
          const text = bytes ? new TextDecoder().decode(bytes) : "";
          const secret = stack.config.provider.secretKey;
          const signature = {
            valid: await signPaystackBody(secret, text),
            upper: (await signPaystackBody(secret, text)).toUpperCase(),
            other_body: await signPaystackBody(secret, `${text} `),
            random: Array.from({ length: 128 }, (_, i) => "0123456789abcdef"[(i * 7 + text.length) % 16]).join(""),
            none: undefined,
            empty: "",
          }[r.signature];
          if (signature !== undefined) headers.set("x-paystack-signature", signature);
        }
        if (r.endpoint === "POST /v1/hooks/database") {
          const secret = stack.config.dbWebhookSecret;
          const value = { valid: secret, none: undefined, wrong: `${secret}x`, padded: ` ${secret}` }[r.dbSecret];
          if (value !== undefined) headers.set(DB_WEBHOOK_SECRET_HEADER, value);
        }
        // What an accepted request set going at the provider (a refund's refund.pending webhook) lands first.
        await stack.runtime.sandbox!.idle();
        const before = await snapshot();
        const res = await fetch(`${stack.url}${path}`, {
          method: r.method,
          headers,
          ...(bytes !== undefined && r.method !== "GET" ? { body: bytes as Uint8Array<ArrayBuffer> } : {}),
        });
        const text = await res.text();
        figures.requests++;
        figures.statuses[res.status] = (figures.statuses[res.status] ?? 0) + 1;
        const what = `${r.method} ${path.slice(0, 120)} → ${res.status} ${text.slice(0, 300)}`;
        assert.ok(res.status < 500, `a 5xx: ${what}`);
        if (res.status >= 400) {
          figures.rejected++;
          assert.equal(res.headers.get("content-type"), "application/problem+json", what);
          const problem = JSON.parse(text);
          assert.ok(problem.code in ERROR_TABLE, `unknown code: ${what}`);
          assert.equal(problem.status, res.status, what);
          figures.codes.add(problem.code);
          const after = await snapshot();
          if (after !== before) failures.push(what);
          assert.equal(after, before, `a refused request changed the database: ${what}`);
        } else {
          figures.accepted++;
        }
      }),
      { seed, numRuns },
    );
    const leaks = findLeaks(stack.logs, [
      stack.config.provider.secretKey,
      stack.config.auth.jwtSecret ?? "",
      stack.config.dbWebhookSecret,
      serviceToken,
    ]);
    reportFigures("fuzz", {
      seed,
      requests: figures.requests,
      rejected: figures.rejected,
      accepted: figures.accepted,
      statuses: figures.statuses,
      problem_codes: [...figures.codes].sort(),
      endpoints: ENDPOINTS.length,
      leaks: leaks.length,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    });
    assert.deepEqual(leaks.slice(0, 5), [], "secrets, tokens, signatures or e-mails in the logs");
  } finally {
    await stack.close();
  }
});

/**
 * Pure HTTP behaviour of `createApp`, in process: authentication, methods,
 * body limits, media types, request ids and the problem+json contract.
 */
import assert from "node:assert/strict";
import { ERROR_TABLE } from "../../src/errors.ts";
import { PROBLEM_TYPE_BASE } from "../../src/http/problem.ts";
import { expectJson, expectProblem, send } from "../support/http_helpers.ts";
import { appDatabase, createTestApp, initializePayment } from "./app_harness.ts";

const database = await appDatabase();

Deno.test("HTTP behaviour in process", async (t) => {
  const app = createTestApp(database);
  await t.step("a problem is RFC 9457 problem+json with a stable code and the request id", async () => {
    const res = await app.request("/v1/payments", { headers: { "X-Request-Id": "trace-401" } });
    const body = await expectProblem(res, 401, "unauthorized");
    assert.deepEqual(Object.keys(body).sort(), ["code", "detail", "request_id", "status", "title", "type"]);
    assert.equal(body.type, `${PROBLEM_TYPE_BASE}unauthorized`);
    assert.equal(body.title, ERROR_TABLE.unauthorized[1]);
    assert.equal(body.request_id, "trace-401");
    assert.equal(res.headers.get("x-request-id"), "trace-401");
  });

  await t.step("no bearer token → 401 unauthorized; a garbage token → 401 invalid_token", async () => {
    await expectProblem(await app.request("/v1/wallet"), 401, "unauthorized");
    await expectProblem(await send(app, "GET", "/v1/payments", { token: "garbage" }), 401, "invalid_token");
    const res = await send(app, "GET", "/v1/payments", {
      headers: { Authorization: "Basic dXNlcjpwYXNz" },
    });
    await expectProblem(res, 401, "unauthorized");
  });

  await t.step("a wrong method → 405 method_not_allowed with Allow listing the path's methods", async () => {
    const token = await app.userToken();
    const res = await send(app, "PUT", "/v1/payments", { token, body: {} });
    await expectProblem(res, 405, "method_not_allowed");
    assert.equal(res.headers.get("allow"), "GET, HEAD, POST");
    const health = await app.request("/health", { method: "DELETE" });
    await expectProblem(health, 405, "method_not_allowed");
    assert.equal(health.headers.get("allow"), "GET, HEAD");
  });

  await t.step("an unknown path → 404 not_found", async () => {
    await expectProblem(await app.request("/v2/payments"), 404, "not_found");
  });

  await t.step("a body over MAX_BODY_BYTES → 413 payload_too_large, before the handler runs", async () => {
    const token = await app.userToken();
    const res = await send(app, "POST", "/v1/payments", {
      token,
      body: { amount: 5000, currency: "NGN", metadata: { x: "y".repeat(database.config.maxBodyBytes) } },
      headers: { "Idempotency-Key": crypto.randomUUID() },
    });
    await expectProblem(res, 413, "payload_too_large");
    assert.equal(app.provider.calls.initialize.length, 0);
  });

  await t.step("a body that is not JSON → 415 unsupported_media_type; unparsable JSON → 400", async () => {
    const token = await app.userToken();
    const headers = { Authorization: `Bearer ${token}`, "Idempotency-Key": crypto.randomUUID() };
    const plain = await app.request("/v1/payments", {
      method: "POST",
      headers: { ...headers, "Content-Type": "text/plain" },
      body: '{"amount": 5000, "currency": "NGN"}',
    });
    await expectProblem(plain, 415, "unsupported_media_type");
    const broken = await app.request("/v1/payments", {
      method: "POST",
      headers: { ...headers, "Content-Type": "application/json" },
      body: '{"amount": 5000,',
    });
    await expectProblem(broken, 400, "malformed_json");
  });

  await t.step("a body against the schema → 422 validation_failed listing each issue", async () => {
    const res = await send(app, "POST", "/v1/payments", {
      token: await app.userToken(),
      body: { amount: 10.5, currency: "XXX" },
      headers: { "Idempotency-Key": crypto.randomUUID() },
    });
    const body = await expectProblem(res, 422, "validation_failed");
    const paths = (body.errors as Array<{ path: string }>).map((e) => e.path).sort();
    assert.deepEqual(paths, ["amount", "currency"]);
  });

  await t.step("text Postgres cannot store (U+0000) → 422 validation_failed naming it, nothing written", async () => {
    const token = await app.userToken();
    const calls = app.provider.calls.initialize.length;
    for (const metadata of [{ note: "a\u0000b" }, { ["k\u0000"]: 1 }]) {
      const res = await send(app, "POST", "/v1/payments", {
        token,
        body: { amount: 5000, currency: "NGN", metadata },
        headers: { "Idempotency-Key": crypto.randomUUID() },
      });
      const body = await expectProblem(res, 422, "validation_failed");
      assert.match((body.errors as Array<{ path: string }>)[0]!.path, /^metadata\./);
    }
    assert.equal(app.provider.calls.initialize.length, calls, "no provider call");
    const [row] = await database.db.query<{ n: number }>(
      "select count(*)::int as n from idempotency_keys where user_id = $1",
      [JSON.parse(atob(token.split(".")[1]!)).sub],
    );
    assert.equal(row!.n, 0, "no idempotency key stored");
  });

  await t.step("a forged cursor Postgres cannot read (year 0000) → 422 validation_failed", async () => {
    const forged = btoa(JSON.stringify({ created_at: "0000-01-01T00:00:00Z", id: crypto.randomUUID() }))
      .replaceAll("=", "");
    const res = await send(app, "GET", `/v1/payments?cursor=${forged}`, { token: await app.userToken() });
    await expectProblem(res, 422, "validation_failed");
  });

  await t.step(
    "X-Request-Id: a sane one is echoed, an unacceptable one replaced, one made up otherwise",
    async () => {
      const kept = await app.request("/health", { headers: { "X-Request-Id": "abc-123" } });
      assert.deepEqual(await expectJson(kept, 200), { status: "ok" });
      assert.equal(kept.headers.get("x-request-id"), "abc-123");
      const replaced = await app.request("/health", { headers: { "X-Request-Id": "bad id with spaces" } });
      await replaced.body?.cancel();
      assert.match(replaced.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
      const made = await app.request("/health");
      await made.body?.cancel();
      assert.match(made.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
    },
  );

  await t.step("someone else's payment is 404 payment_not_found, like a missing one", async () => {
    const payment = await initializePayment(app);
    const stranger = await app.userToken();
    const res = await send(app, "GET", `/v1/payments/${payment.reference}`, { token: stranger });
    await expectProblem(res, 404, "payment_not_found");
    await expectProblem(
      await send(app, "GET", "/v1/payments/pay-0000", { token: payment.token }),
      404,
      "payment_not_found",
    );
  });
});

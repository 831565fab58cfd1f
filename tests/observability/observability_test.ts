import assert from "node:assert/strict";
import { createLogger, redact } from "../../src/observability/logger.ts";
import { addLogContext, runWithLogContext } from "../../src/observability/log_context.ts";
import { createMetrics } from "../../src/observability/metrics.ts";

Deno.test("logger writes JSON lines and never a secret-looking field", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), now: () => new Date(0) }).child({ request_id: "r1" });
  log.info("hello", {
    authorization: "Bearer abc",
    nested: { secret_key: "sk_live_x", ok: 1 },
    err: new Error("boom"),
  });
  log.debug("hidden");
  assert.equal(lines.length, 1);
  const parsed = JSON.parse(lines[0]!);
  assert.equal(parsed.msg, "hello");
  assert.equal(parsed.request_id, "r1");
  assert.equal(parsed.authorization, "[redacted]");
  assert.deepEqual(parsed.nested, { secret_key: "[redacted]", ok: 1 });
  assert.deepEqual(parsed.err, { name: "Error", message: "boom" });
  assert.ok(!lines[0]!.includes("sk_live_x"));
  assert.deepEqual(redact({ token: "t", x: 1 }), { token: "[redacted]", x: 1 });
});

Deno.test("metrics count per label set and render Prometheus text", async () => {
  const m = createMetrics();
  m.inc("lock_degraded_total");
  m.inc("webhooks_total", { outcome: "credited" }, 2);
  assert.equal(m.get("lock_degraded_total"), 1);
  assert.equal(m.get("webhooks_total", { outcome: "credited" }), 2);
  assert.equal(m.get("webhooks_total", { outcome: "other" }), 0);
  assert.match(await m.render(), /webhooks_total\{outcome="credited"\} 2/);
});

Deno.test("log lines carry the request's context (request id, user id), also from code that never saw it", async () => {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({ write: (l) => lines.push(JSON.parse(l)) });
  const useCase = async () => {
    await Promise.resolve();
    log.info("payment credited", { reference: "pay-1" });
  };
  await runWithLogContext({ request_id: "r-9" }, async () => {
    addLogContext({ user_id: "u-1" });
    await useCase();
  });
  log.info("outside");
  assert.deepEqual(
    lines.map(({ msg, request_id, user_id }) => ({ msg, request_id, user_id })),
    [
      { msg: "payment credited", request_id: "r-9", user_id: "u-1" },
      { msg: "outside", request_id: undefined, user_id: undefined },
    ],
  );
});

Deno.test("logs never carry an e-mail address (personal data), whatever the field is called", () => {
  const lines: string[] = [];
  createLogger({ write: (l) => lines.push(l) }).info("x", { email: "a@b.co", payer: { e_mail: "c@d.co" } });
  assert.ok(!lines[0]!.includes("@"), lines[0]);
});

Deno.test("metrics: histograms render buckets; a mislabelled sample is dropped and counted, never thrown", async () => {
  const m = createMetrics();
  m.observe("http_request_duration_seconds", { method: "GET", route: "/health", status: "200" }, 0.003);
  m.inc("webhooks_total", { provider: "paystack", surprise: "label" });
  m.observe("webhooks_total", {}, 1);
  const text = await m.render();
  assert.match(text, /http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/health",status="200"\} 1/);
  assert.match(text, /metrics_dropped_total\{name="webhooks_total"\} 2/);
  assert.match(text, /# HELP payment_transitions_total /);
  assert.equal(m.contentType, "text/plain; version=0.0.4; charset=utf-8");
});

import assert from "node:assert/strict";
import { createLogger, redact } from "../../src/observability/logger.ts";
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

Deno.test("metrics count per label set and render Prometheus text", () => {
  const m = createMetrics();
  m.inc("lock_degraded_total");
  m.inc("webhooks_total", { outcome: "credited" }, 2);
  assert.equal(m.get("lock_degraded_total"), 1);
  assert.equal(m.get("webhooks_total", { outcome: "credited" }), 2);
  assert.equal(m.get("webhooks_total", { outcome: "other" }), 0);
  assert.match(m.render(), /webhooks_total\{outcome="credited"\} 2/);
});

import assert from "node:assert/strict";
import { createMemoryRateLimiter } from "../../src/rate_limit/memory_rate_limiter.ts";
import { failOpenRateLimiter } from "../../src/rate_limit/fail_open_rate_limiter.ts";
import type { RateLimiter } from "../../src/rate_limit/rate_limiter.ts";
import { ManualClock } from "../support/manual_clock.ts";

const RULE = { name: "initialize", limit: 3, windowSeconds: 60 };

Deno.test("memory limiter: `limit` per key per window, then refused until the window slides", async () => {
  const clock = new ManualClock(60_000 * 1000); // at the start of a window
  const limiter = createMemoryRateLimiter(RULE, { clock });
  const allowed = async (key: string) => (await limiter.limit(key)).allowed;
  assert.deepEqual([await allowed("a"), await allowed("a"), await allowed("a"), await allowed("a")], [
    true,
    true,
    true,
    false,
  ]);
  assert.equal(await allowed("b"), true, "another key has its own count");
  const refused = await limiter.limit("a");
  assert.deepEqual(
    { allowed: refused.allowed, limit: refused.limit, remaining: refused.remaining, resetAt: refused.resetAt },
    { allowed: false, limit: 3, remaining: 0, resetAt: clock.now() + 60_000 },
  );
  // Half-way through the next window half of the previous one still counts (3 * 0.5 → 1): two more pass.
  await clock.advance(90_000);
  assert.deepEqual([await allowed("a"), await allowed("a"), await allowed("a")], [true, true, false]);
  // Two windows later nothing is left.
  await clock.advance(120_000);
  assert.deepEqual([await allowed("a"), await allowed("a"), await allowed("a"), await allowed("a")], [
    true,
    true,
    true,
    false,
  ]);
});

Deno.test("memory limiter keeps at most maxKeys keys, dropping the least recently used", async () => {
  const clock = new ManualClock();
  const limiter = createMemoryRateLimiter({ ...RULE, limit: 1 }, { clock, maxKeys: 2 });
  await limiter.limit("a");
  await limiter.limit("b");
  await limiter.limit("c"); // "a" is dropped: it starts afresh
  assert.equal((await limiter.limit("a")).allowed, true);
  assert.equal((await limiter.limit("c")).allowed, false);
});

Deno.test("fail open: a store that rejects or never answers allows the request, and says why", async () => {
  const clock = new ManualClock();
  const rejecting: RateLimiter = { rule: RULE, limit: () => Promise.reject(new Error("ECONNREFUSED")) };
  const refused = await failOpenRateLimiter(rejecting, { timeoutMs: 250, timers: clock }).limit("a");
  assert.deepEqual({ allowed: refused.allowed, degraded: refused.degraded }, {
    allowed: true,
    degraded: "ECONNREFUSED",
  });

  const hanging: RateLimiter = { rule: RULE, limit: () => new Promise(() => {}) };
  const pending = failOpenRateLimiter(hanging, { timeoutMs: 250, timers: clock }).limit("a");
  await clock.advance(250);
  const timedOut = await pending;
  assert.deepEqual({ allowed: timedOut.allowed, degraded: timedOut.degraded }, {
    allowed: true,
    degraded: "no answer within 250 ms",
  });

  const answering = failOpenRateLimiter(createMemoryRateLimiter({ ...RULE, limit: 1 }, { clock }), {
    timeoutMs: 250,
    timers: clock,
  });
  assert.equal((await answering.limit("k")).allowed, true);
  const second = await answering.limit("k");
  assert.deepEqual({ allowed: second.allowed, degraded: second.degraded }, { allowed: false, degraded: undefined });
  assert.equal(clock.pending, 0, "no timer left behind");
});

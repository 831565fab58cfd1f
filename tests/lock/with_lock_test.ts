import assert from "node:assert/strict";
import type { LockHandle, LockService } from "../../src/lock/lock_service.ts";
import { withLock } from "../../src/lock/with_lock.ts";
import { ManualClock } from "../support/manual_clock.ts";

/**
 * A service handing out one scripted handle, recording every call on it in
 * order, and a manual clock for the heartbeat and for fn's work.
 */
function scripted(handle: Partial<LockHandle> = {}, clock = new ManualClock()) {
  const start = clock.now();
  const calls: string[] = [];
  const full: LockHandle = {
    key: "payment:spy",
    fence: 1,
    degraded: false,
    extend: (ms) => {
      calls.push(`extend ${ms} at ${clock.now() - start}`);
      return Promise.resolve(true);
    },
    release: () => {
      calls.push(`release at ${clock.now() - start}`);
      return Promise.resolve(true);
    },
    ...handle,
  };
  const service: LockService = {
    acquire: (_key, options) => {
      calls.push(`acquire lease=${options?.leaseMs} wait=${options?.waitMs}`);
      return Promise.resolve(full);
    },
    advanceFence: () => Promise.resolve(),
    status: () => Promise.resolve({ ok: true }),
  };
  return { service, calls, clock };
}

Deno.test("withLock renews the full lease every lease/3 while fn runs, then releases", async () => {
  const { service, calls, clock } = scripted();
  const outcome = await clock.run(withLock(service, "payment:spy", async () => {
    await clock.sleep(330);
    return 42;
  }, { leaseMs: 90, waitMs: 10, timers: clock }));
  assert.deepEqual(outcome, { acquired: true, value: 42 });
  assert.deepEqual(calls, [
    "acquire lease=90 wait=10",
    ...[30, 60, 90, 120, 150, 180, 210, 240, 270, 300].map((at) => `extend 90 at ${at}`), // the full lease each time
    "release at 330",
  ]);
});

Deno.test("withLock honours heartbeatMs", async () => {
  const { service, calls, clock } = scripted();
  await clock.run(withLock(service, "payment:spy", () => clock.sleep(250), {
    leaseMs: 10_000,
    heartbeatMs: 100,
    timers: clock,
  }));
  assert.deepEqual(calls.filter((c) => c.startsWith("extend")), ["extend 10000 at 100", "extend 10000 at 200"]);
});

Deno.test("withLock stops the heartbeat and calls onLost once when the lease is gone", async () => {
  const lost: Array<{ key: string; reason: string }> = [];
  const { service, calls, clock } = scripted({
    extend: () => {
      calls.push("extend");
      return Promise.resolve(false);
    },
  });
  const outcome = await clock.run(withLock(service, "payment:spy", async () => {
    await clock.sleep(200); // ten heartbeat periods of 20 ms
    return "finished anyway";
  }, { leaseMs: 60, onLost: (event) => lost.push(event), timers: clock }));
  assert.deepEqual(outcome, { acquired: true, value: "finished anyway" });
  assert.deepEqual(calls.filter((c) => c === "extend"), ["extend"], "no heartbeat after the lease was lost");
  assert.deepEqual(lost, [{ key: "payment:spy", reason: "lock no longer held" }]);
  assert.equal(calls.at(-1), "release at 200");
});

Deno.test("withLock reports a throwing extend as lost and still releases", async () => {
  const lost: string[] = [];
  const { service, calls, clock } = scripted({ extend: () => Promise.reject(new Error("socket closed")) });
  await clock.run(withLock(service, "payment:spy", () => clock.sleep(100), {
    leaseMs: 30,
    onLost: ({ reason }) => lost.push(reason),
    timers: clock,
  }));
  assert.deepEqual(lost, ["extend failed: socket closed"]);
  assert.equal(calls.at(-1), "release at 100");
});

Deno.test("withLock waits for an extend in flight before releasing", async () => {
  const calls: string[] = [];
  const clock = new ManualClock();
  const { service } = scripted({
    async extend() {
      calls.push("extend start");
      await clock.sleep(60); // still running when fn finishes at 40 ms
      calls.push("extend end");
      return true;
    },
    release() {
      calls.push("release");
      return Promise.resolve(true);
    },
  }, clock);
  await clock.run(withLock(service, "payment:spy", () => clock.sleep(40), { leaseMs: 90, timers: clock })); // heartbeat at 30 ms
  assert.deepEqual(calls, ["extend start", "extend end", "release"]);
});

Deno.test("withLock: fn's error wins over a failing release; a failing release after success is thrown", async () => {
  const failingRelease = { release: () => Promise.reject(new Error("release failed")) };
  await assert.rejects(
    withLock(scripted(failingRelease).service, "payment:spy", () => Promise.reject(new Error("fn failed"))),
    /fn failed/,
  );
  await assert.rejects(
    withLock(scripted(failingRelease).service, "payment:spy", () => Promise.resolve("ok")),
    /release failed/,
  );
});

Deno.test("withLock runs no heartbeat for a degraded handle", async () => {
  const { service, calls, clock } = scripted({ degraded: true, fence: null });
  const outcome = await clock.run(withLock(service, "payment:spy", async (handle) => {
    await clock.sleep(100); // more than three heartbeat periods of 10 ms
    return handle.fence;
  }, { leaseMs: 30, timers: clock }));
  assert.deepEqual(outcome, { acquired: true, value: null });
  assert.equal(calls.filter((c) => c.startsWith("extend")).length, 0);
  assert.equal(clock.pending, 0, "no timer left behind");
});

Deno.test("withLock leaves no heartbeat timer behind, whether fn succeeds or throws", async () => {
  const { service, clock } = scripted();
  await clock.run(withLock(service, "payment:spy", () => clock.sleep(45), { leaseMs: 30, timers: clock }));
  assert.equal(clock.pending, 0);
  await assert.rejects(
    clock.run(withLock(service, "payment:spy", async () => {
      await clock.sleep(45);
      throw new Error("fn failed");
    }, { leaseMs: 30, timers: clock })),
    /fn failed/,
  );
  assert.equal(clock.pending, 0);
});

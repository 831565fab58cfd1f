import assert from "node:assert/strict";
import type { LockHandle, LockService } from "../../src/lock/lock_service.ts";
import { withLock } from "../../src/lock/with_lock.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A service handing out one scripted handle, recording every call on it in order. */
function scripted(handle: Partial<LockHandle> = {}) {
  const calls: string[] = [];
  const full: LockHandle = {
    key: "payment:spy",
    fence: 1,
    degraded: false,
    extend: (ms) => {
      calls.push(`extend ${ms}`);
      return Promise.resolve(true);
    },
    release: () => {
      calls.push("release");
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
  return { service, calls };
}

Deno.test("withLock renews the full lease about every lease/3 while fn runs, then releases", async () => {
  const { service, calls } = scripted();
  const outcome = await withLock(service, "payment:spy", async () => {
    await sleep(330);
    return 42;
  }, { leaseMs: 90, waitMs: 10 });
  assert.deepEqual(outcome, { acquired: true, value: 42 });
  assert.equal(calls[0], "acquire lease=90 wait=10");
  assert.equal(calls.at(-1), "release");
  const extends_ = calls.filter((c) => c.startsWith("extend"));
  assert.ok(extends_.length >= 5 && extends_.length <= 11, `${extends_.length} heartbeats in 330 ms at 30 ms`);
  assert.ok(extends_.every((c) => c === "extend 90"), "each heartbeat renews to the full lease");
});

Deno.test("withLock honours heartbeatMs", async () => {
  const { service, calls } = scripted();
  await withLock(service, "payment:spy", () => sleep(250), { leaseMs: 10_000, heartbeatMs: 100 });
  const beats = calls.filter((c) => c.startsWith("extend")).length;
  assert.ok(beats >= 1 && beats <= 2, `${beats} heartbeats in 250 ms at 100 ms`);
});

Deno.test("withLock stops the heartbeat and calls onLost once when the lease is gone", async () => {
  const lost: Array<{ key: string; reason: string }> = [];
  const { service, calls } = scripted({
    extend: () => {
      calls.push("extend");
      return Promise.resolve(false);
    },
  });
  const outcome = await withLock(service, "payment:spy", async () => {
    await sleep(200);
    return "finished anyway";
  }, { leaseMs: 60, onLost: (event) => lost.push(event) });
  assert.deepEqual(outcome, { acquired: true, value: "finished anyway" });
  assert.deepEqual(calls.filter((c) => c === "extend"), ["extend"], "no heartbeat after the lease was lost");
  assert.deepEqual(lost, [{ key: "payment:spy", reason: "lock no longer held" }]);
  assert.equal(calls.at(-1), "release");
});

Deno.test("withLock reports a throwing extend as lost and still releases", async () => {
  const lost: string[] = [];
  const { service, calls } = scripted({ extend: () => Promise.reject(new Error("socket closed")) });
  await withLock(service, "payment:spy", () => sleep(100), {
    leaseMs: 30,
    onLost: ({ reason }) => lost.push(reason),
  });
  assert.deepEqual(lost, ["extend failed: socket closed"]);
  assert.equal(calls.at(-1), "release");
});

Deno.test("withLock waits for an extend in flight before releasing", async () => {
  const calls: string[] = [];
  const { service } = scripted({
    async extend() {
      calls.push("extend start");
      await sleep(60);
      calls.push("extend end");
      return true;
    },
    release() {
      calls.push("release");
      return Promise.resolve(true);
    },
  });
  await withLock(service, "payment:spy", () => sleep(40), { leaseMs: 90 }); // heartbeat at 30 ms
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
  const { service, calls } = scripted({ degraded: true, fence: null });
  const outcome = await withLock(service, "payment:spy", async (handle) => {
    await sleep(100);
    return handle.fence;
  }, { leaseMs: 30 });
  assert.deepEqual(outcome, { acquired: true, value: null });
  assert.equal(calls.filter((c) => c.startsWith("extend")).length, 0);
});

import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { createUpstashProxy } from "../../src/local/upstash_proxy.ts";
import {
  createDegradingLockService,
  type DegradedEvent,
  FENCE_COUNTER_KEY,
} from "../../src/lock/degrading_lock_service.ts";
import type { LockHandle, LockService } from "../../src/lock/lock_service.ts";
import { createMemoryLockService } from "../../src/lock/memory_lock_service.ts";
import { createUpstashLockService } from "../../src/lock/upstash_lock_service.ts";
import { withLock } from "../../src/lock/with_lock.ts";
import { freePort } from "../support/free_port.ts";
import { ManualClock, within } from "../support/manual_clock.ts";

/** Tracks whether a promise has settled, to assert that it has not yet. */
function watch<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  return { promise, settled: () => done };
}

/** A LockService whose calls never answer until `unblock()` (no timers: the sanitizer stays quiet). */
function hangingService(answer: LockHandle | null = null) {
  const calls: string[] = [];
  let unblock: () => void = () => {};
  const gate = new Promise<void>((resolve) => (unblock = resolve));
  const service: LockService = {
    async acquire(key) {
      calls.push(`acquire ${key}`);
      await gate;
      return answer;
    },
    async advanceFence(floor) {
      calls.push(`advanceFence ${floor}`);
      await gate;
    },
    async status() {
      calls.push("status");
      await gate;
      return { ok: true };
    },
  };
  return { service, calls, unblock: () => unblock() };
}

function fakeHandle(overrides: Partial<LockHandle> = {}): LockHandle & { released: number } {
  const handle = {
    key: "payment:fake",
    fence: 7,
    degraded: false,
    released: 0,
    extend: () => Promise.resolve(true),
    release() {
      handle.released++;
      return Promise.resolve(true);
    },
    ...overrides,
  };
  return handle;
}

function recorder() {
  const events: DegradedEvent[] = [];
  return { events, onDegraded: (event: DegradedEvent) => void events.push(event) };
}

Deno.test("degrading: an Upstash client on a dead port → degraded handle at once, onDegraded called", async () => {
  const { events, onDegraded } = recorder();
  const clock = new ManualClock();
  const redis = new Redis({ url: `http://127.0.0.1:${freePort()}`, token: "t", enableTelemetry: false, retry: false });
  const locks = createDegradingLockService(createUpstashLockService({ redis, prefix: "test" }), {
    onDegraded,
    timers: clock,
  });
  // The clock never moves: the answer cannot come from the timeout, only from the failure itself.
  const handle = await within(locks.acquire("payment:ref_dead", { waitMs: 0 }));
  assert.ok(handle);
  assert.equal(handle.degraded, true);
  assert.equal(handle.fence, null);
  assert.equal(handle.key, "payment:ref_dead");
  assert.equal(await handle.extend(1_000), true);
  assert.equal(await handle.release(), true);
  assert.equal(events.length, 1);
  assert.equal(events[0]?.key, "payment:ref_dead");
  assert.match(events[0]!.reason, /^acquire failed: /);
  const status = await within(locks.status());
  assert.equal(status.ok, false);
  assert.match(String(status.detail), /unreachable/);
  await within(locks.advanceFence(1_000)); // resolves: no fence is handed out while the store is down
  assert.equal(events.length, 2);
  assert.equal(events[1]?.key, FENCE_COUNTER_KEY);
  assert.match(events[1]!.reason, /^advanceFence failed: /);
  assert.equal(clock.pending, 0, "every timeout was cleared");
  await within(locks.drain());
});

Deno.test("degrading: a client still retrying the dead port is cut off after waitMs + timeoutMs", async () => {
  const { events, onDegraded } = recorder();
  const clock = new ManualClock();
  let retrying: () => void = () => {};
  const clientRetries = new Promise<void>((resolve) => (retrying = resolve));
  // The client retries network errors itself, here twice, 400 ms of real time apart: the wrapper does not wait for that.
  const redis = new Redis({
    url: `http://127.0.0.1:${freePort()}`,
    token: "t",
    enableTelemetry: false,
    retry: {
      retries: 2,
      backoff: () => {
        retrying();
        return 400;
      },
    },
  });
  const locks = createDegradingLockService(createUpstashLockService({ redis, prefix: "test" }), {
    timeoutMs: 100,
    onDegraded,
    timers: clock,
  });
  const acquiring = watch(locks.acquire("payment:ref_retrying", { waitMs: 50 }));
  await within(clientRetries); // the first attempt failed; the client now waits to retry
  await clock.advance(149);
  assert.equal(acquiring.settled(), false, "not cut off before waitMs + timeoutMs");
  await clock.advance(1);
  const handle = await acquiring.promise;
  assert.equal(handle?.degraded, true);
  assert.deepEqual(events, [{ key: "payment:ref_retrying", reason: "acquire timed out after 150 ms" }]);
  assert.equal(await within(locks.drain()), true); // the abandoned request finishes failing; nothing outlives the test
});

Deno.test("degrading: a proxy whose Redis is unreachable → degraded handle at once", async () => {
  const { events, onDegraded } = recorder();
  const clock = new ManualClock();
  const proxy = createUpstashProxy({ redisUrl: `redis://127.0.0.1:${freePort()}`, token: "t" });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, proxy.fetch);
  try {
    const redis = new Redis({ url: `http://127.0.0.1:${server.addr.port}`, token: "t", enableTelemetry: false });
    const locks = createDegradingLockService(createUpstashLockService({ redis, prefix: "test" }), {
      onDegraded,
      timers: clock,
    });
    // The clock never moves: a degraded answer here is the proxy's 503, not the timeout.
    const handle = await within(locks.acquire("payment:ref_noredis", { waitMs: 0 }));
    assert.equal(handle?.degraded, true);
    assert.equal(handle?.fence, null);
    assert.equal(events.length, 1);
    assert.match(events[0]!.reason, /Redis unavailable/, "the proxy's 503 reached the caller as the reason");
    assert.equal((await within(locks.status())).ok, false);
    await within(locks.advanceFence(7));
    assert.match(events[1]?.reason ?? "", /^advanceFence failed: .*Redis unavailable/);
    await within(locks.drain());
  } finally {
    await server.shutdown();
    await proxy.close();
  }
});

Deno.test("degrading: an inner service that hangs → degraded after timeoutMs (+ waitMs)", async () => {
  const hanging = hangingService();
  const { events, onDegraded } = recorder();
  const clock = new ManualClock();
  const locks = createDegradingLockService(hanging.service, { timeoutMs: 120, onDegraded, timers: clock });
  try {
    let pending = watch(locks.acquire("payment:hang", { waitMs: 0 }));
    await clock.advance(119);
    assert.equal(pending.settled(), false, "still waiting 1 ms before timeoutMs");
    await clock.advance(1);
    assert.equal((await pending.promise)?.degraded, true);
    pending = watch(locks.acquire("payment:hang", { waitMs: 200 }));
    await clock.advance(319);
    assert.equal(pending.settled(), false, "a contended wait is not cut short");
    await clock.advance(1);
    assert.equal((await pending.promise)?.degraded, true);
    const status = watch(locks.status());
    await clock.advance(120);
    assert.deepEqual(await status.promise, { ok: false, detail: "degraded: lock store did not answer within 120 ms" });
    const advancing = watch(locks.advanceFence(50));
    await clock.advance(119);
    assert.equal(advancing.settled(), false);
    await clock.advance(1);
    await advancing.promise; // resolves, does not throw
    assert.deepEqual(events, [
      { key: "payment:hang", reason: "acquire timed out after 120 ms" },
      { key: "payment:hang", reason: "acquire timed out after 320 ms" },
      { key: FENCE_COUNTER_KEY, reason: "advanceFence timed out after 120 ms" },
    ]);
  } finally {
    hanging.unblock();
    await within(locks.drain());
  }
});

Deno.test("degrading: a lock obtained after the timeout is released, not leaked", async () => {
  const late = fakeHandle();
  const hanging = hangingService(late);
  const clock = new ManualClock();
  const locks = createDegradingLockService(hanging.service, { timeoutMs: 30, timers: clock });
  const acquiring = locks.acquire("payment:late", { waitMs: 0 });
  await clock.advance(30);
  const handle = await acquiring;
  assert.equal(handle?.degraded, true);
  assert.equal(late.released, 0);
  hanging.unblock();
  assert.equal(await within(locks.drain()), true);
  assert.equal(late.released, 1);
});

Deno.test("degrading: drain gives up after maxWaitMs while an abandoned call still hangs", async () => {
  const hanging = hangingService();
  const clock = new ManualClock();
  const locks = createDegradingLockService(hanging.service, { timeoutMs: 30, timers: clock });
  const acquiring = locks.acquire("payment:stuck", { waitMs: 0 });
  await clock.advance(30);
  assert.equal((await acquiring)?.degraded, true);
  const draining = watch(locks.drain(1_000));
  await clock.advance(999);
  assert.equal(draining.settled(), false);
  await clock.advance(1);
  assert.equal(await draining.promise, false, "still pending when the bound ran out");
  hanging.unblock();
  assert.equal(await within(locks.drain()), true);
});

Deno.test("degrading: a contended result (null) passes through without degrading", async () => {
  const { events, onDegraded } = recorder();
  const clock = new ManualClock();
  const inner = createMemoryLockService({ clock, timers: clock });
  const locks = createDegradingLockService(inner, { onDegraded, timers: clock });
  const held = await locks.acquire("payment:busy", { leaseMs: 5_000, waitMs: 0 });
  assert.equal(held?.degraded, false);
  assert.equal(typeof held?.fence, "number");
  const started = clock.now();
  assert.equal(await clock.run(locks.acquire("payment:busy", { waitMs: 50 })), null);
  assert.equal(clock.now() - started, 50, "the inner wait ran its course; the wrapper's timeout did not fire");
  assert.deepEqual(events, []);
  assert.equal(await held?.extend(1_000), true);
  assert.equal(await held?.release(), true);
  assert.equal(await held?.release(), false, "a real handle's answers pass through");
  assert.deepEqual(await locks.status(), { ok: true });
});

Deno.test("degrading: advanceFence passes through to a healthy store", async () => {
  const { events, onDegraded } = recorder();
  const locks = createDegradingLockService(createMemoryLockService(), { onDegraded });
  await locks.advanceFence(500);
  assert.equal((await locks.acquire("payment:fenced", { waitMs: 0 }))?.fence, 501);
  await assert.rejects(locks.advanceFence(-1), RangeError, "a caller bug is rethrown, not hidden as degradation");
  assert.deepEqual(events, []);
});

Deno.test("degrading: extend/release failures of a real handle answer false and are reported", async () => {
  const { events, onDegraded } = recorder();
  const clock = new ManualClock();
  const handle = fakeHandle({
    extend: () => Promise.reject(new Error("connection reset")),
    release: () => new Promise<boolean>(() => {}), // never answers
  });
  const inner: LockService = {
    acquire: () => Promise.resolve(handle),
    advanceFence: () => Promise.resolve(),
    status: () => Promise.resolve({ ok: true }),
  };
  const locks = createDegradingLockService(inner, { timeoutMs: 50, onDegraded, timers: clock });
  const wrapped = await locks.acquire("payment:fake", { waitMs: 0 });
  assert.equal(wrapped?.fence, 7);
  assert.equal(await wrapped?.extend(1_000), false);
  const releasing = wrapped!.release();
  await clock.advance(50);
  assert.equal(await releasing, false);
  assert.deepEqual(events, [
    { key: "payment:fake", reason: "extend failed: connection reset" },
    { key: "payment:fake", reason: "release timed out after 50 ms" },
  ]);
});

Deno.test("degrading: caller bugs (RangeError) are rethrown, not hidden as degradation", async () => {
  const { events, onDegraded } = recorder();
  const locks = createDegradingLockService(createMemoryLockService(), { onDegraded });
  await assert.rejects(locks.acquire("payment:x", { leaseMs: -5 }), RangeError);
  assert.deepEqual(events, []);
});

Deno.test("degrading: a throwing onDegraded callback does not break acquire or advanceFence", async () => {
  const inner: LockService = {
    acquire: () => Promise.reject(new Error("down")),
    advanceFence: () => Promise.reject(new Error("down")),
    status: () => Promise.reject(new Error("down")),
  };
  const locks = createDegradingLockService(inner, {
    onDegraded: () => {
      throw new Error("logger exploded");
    },
  });
  assert.equal((await locks.acquire("payment:x"))?.degraded, true);
  await locks.advanceFence(3);
  assert.deepEqual(await locks.status(), { ok: false, detail: "degraded: down" });
});

Deno.test("degrading: withLock runs fn unlocked with fence null when the store is down", async () => {
  const inner: LockService = {
    acquire: () => Promise.reject(new Error("down")),
    advanceFence: () => Promise.reject(new Error("down")),
    status: () => Promise.resolve({ ok: false }),
  };
  const locks = createDegradingLockService(inner);
  const outcome = await withLock(locks, "payment:x", (handle) => Promise.resolve(handle.fence), { leaseMs: 30 });
  assert.deepEqual(outcome, { acquired: true, value: null });
});

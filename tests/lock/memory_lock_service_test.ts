import assert from "node:assert/strict";
import { createMemoryLockService, MemoryLockStore } from "../../src/lock/memory_lock_service.ts";
import { lockServiceContract } from "./lock_service_contract.ts";
import { ManualClock } from "../support/manual_clock.ts";

lockServiceContract("memory", () => {
  // Several services over one store model several app instances in one process;
  // leases and waits follow one manual clock.
  const clock = new ManualClock();
  let store = new MemoryLockStore();
  return Promise.resolve({
    clock,
    newService: () => createMemoryLockService({ clock, timers: clock, store }),
    pttl: (key: string) => {
      const entry = store.entries.get(key);
      const left = entry ? entry.expiresAt - clock.now() : 0;
      return Promise.resolve(left > 0 ? left : null);
    },
    elapse: (ms: number) => clock.advance(ms),
    loseState: () => {
      store = new MemoryLockStore();
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  });
}, { stateLoss: "a new store, as after an embedded-mode restart" });

Deno.test("memory: leases expire by the injected clock, to the millisecond", async () => {
  const clock = new ManualClock();
  const store = new MemoryLockStore();
  const [a, b] = [createMemoryLockService({ clock, store }), createMemoryLockService({ clock, store })];
  const first = await a.acquire("payment:clock", { leaseMs: 10_000, waitMs: 0 });
  assert.ok(first);
  await clock.advance(9_999);
  assert.equal(await b.acquire("payment:clock", { waitMs: 0 }), null);
  await clock.advance(1);
  const second = await b.acquire("payment:clock", { leaseMs: 10_000, waitMs: 0 });
  assert.ok(second);
  assert.ok(second.fence! > first.fence!);
  assert.equal(await first.release(), false);
  assert.equal(await first.extend(1_000), false);
  assert.equal(await second.extend(1_500), true);
  await clock.advance(1_499);
  assert.equal(await a.acquire("payment:clock", { waitMs: 0 }), null);
  await clock.advance(1);
  assert.ok(await a.acquire("payment:clock", { waitMs: 0 }), "free exactly 1500 ms after the extend");
});

Deno.test("memory: a waiting contender retries on the injected timers and gets the lock within a pause of the expiry", async () => {
  const clock = new ManualClock();
  const start = clock.now();
  const store = new MemoryLockStore();
  const [a, b] = [0, 1].map(() => createMemoryLockService({ clock, timers: clock, store }));
  assert.ok(await a!.acquire("payment:wait", { leaseMs: 1_000, waitMs: 0 }));
  let obtained = false;
  const waiting = b!.acquire("payment:wait", { leaseMs: 1_000, waitMs: 5_000 }).then((handle) => {
    obtained = handle !== null;
    return handle;
  });
  await clock.advance(999);
  assert.equal(obtained, false, "still held 1 ms before the lease ends");
  assert.ok(await clock.run(waiting));
  const waited = clock.now() - start;
  assert.ok(
    waited >= 1_000 && waited <= 1_000 + 200,
    `obtained after ${waited} ms: within one backoff pause of the expiry`,
  );
});

Deno.test("memory: separate stores are separate lock spaces", async () => {
  const a = createMemoryLockService();
  const b = createMemoryLockService();
  assert.ok(await a.acquire("payment:x", { waitMs: 0 }));
  assert.ok(await b.acquire("payment:x", { waitMs: 0 }));
});

Deno.test("memory: advanceFence raises the store's counter, shared by every service on the store", async () => {
  const store = new MemoryLockStore();
  const [a, b] = [createMemoryLockService({ store }), createMemoryLockService({ store })];
  await a.advanceFence(41);
  assert.equal(store.fence, 41);
  assert.equal((await b.acquire("payment:y", { waitMs: 0 }))?.fence, 42);
  await b.advanceFence(7);
  assert.equal(store.fence, 42, "never lowered");
});

Deno.test("memory: expired entries are swept so abandoned keys do not accumulate", async () => {
  const clock = new ManualClock();
  const store = new MemoryLockStore();
  const locks = createMemoryLockService({ clock, store });
  for (let i = 0; i < 1_200; i++) assert.ok(await locks.acquire(`payment:${i}`, { leaseMs: 100, waitMs: 0 }));
  assert.equal(store.entries.size, 1_200);
  await clock.advance(100);
  assert.ok(await locks.acquire("payment:new", { leaseMs: 100, waitMs: 0 }));
  assert.equal(store.entries.size, 1);
});

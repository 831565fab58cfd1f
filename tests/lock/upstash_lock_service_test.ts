import assert from "node:assert/strict";
import { Lock } from "@upstash/lock";
import type { Redis } from "@upstash/redis";
import { createUpstashLockService } from "../../src/lock/upstash_lock_service.ts";
import { lockServiceContract } from "./lock_service_contract.ts";
import { freePort } from "../support/free_port.ts";
import { ignoreWithout, redisReachable, servicesRequired } from "../support/services.ts";
import { openUpstashBackend, REDIS_URL, type UpstashBackend, withDedicatedDb } from "./upstash_backend.ts";

/** Skipped (with a printed reason) only when Redis is down and nobody requires it; with REQUIRE_SERVICES=1 they run and fail. */
const ignore = await ignoreWithout(["redis"], "upstash lock adapter", "it is tested against real Redis");

Deno.test({
  name: "Redis is reachable when REQUIRE_SERVICES=1",
  ignore: !servicesRequired(),
  async fn() {
    assert.ok(await redisReachable(), `Redis at ${REDIS_URL} is unreachable and REQUIRE_SERVICES=1`);
  },
});

lockServiceContract("upstash", openUpstashBackend, {
  ignore,
  stateLoss: "every key of the test's prefix deleted, as FLUSHDB or an eviction deletes them",
});

const test = (name: string, fn: (backend: UpstashBackend) => Promise<void>) =>
  Deno.test({
    name: `upstash: ${name}`,
    ignore,
    async fn() {
      const backend = await openUpstashBackend();
      try {
        await fn(backend);
      } finally {
        await backend.close();
      }
    },
  });

/**
 * `@upstash/lock`'s CommonJS typings name `@upstash/redis`'s `.d.ts` Redis, our
 * import resolves the `.d.mts` one: the same class at runtime, two nominal types.
 */
const forLock = (redis: Redis) => redis as unknown as ConstructorParameters<typeof Lock>[0]["redis"];

test("keys are namespaced <prefix>:lock:<key>, with one fence counter <prefix>:lock:fence", async (backend) => {
  const handle = await backend.newService().acquire("payment:ref_42", { leaseMs: 5_000, waitMs: 0 });
  assert.ok(handle);
  const keys = (await backend.admin.keys(`${backend.prefix}:*`)).sort();
  assert.deepEqual(keys, [`${backend.prefix}:lock:fence`, `${backend.prefix}:lock:payment:ref_42`]);
  assert.equal(Number(await backend.admin.get(`${backend.prefix}:lock:fence`)), handle.fence);
  assert.match(String(await backend.admin.get(`${backend.prefix}:lock:payment:ref_42`)), /^[0-9a-f-]{36}$/);
  await assert.rejects(backend.newService().acquire("fence"), RangeError, "the counter can never be locked over");
});

test("two holders are impossible: NX and PX reach Redis, and a refused attempt takes no fence", async (backend) => {
  const [a, b] = [backend.newService(), backend.newService()];
  const lockKey = `${backend.prefix}:lock:payment:nx`;
  const started = performance.now();
  const first = await a.acquire("payment:nx", { leaseMs: 3_000, waitMs: 0 });
  assert.ok(first);
  const pttl = await backend.admin.pttl(lockKey);
  // At most the real time the acquire and the read took has run off the lease (measured, so load cannot fail it).
  const spent = Math.ceil(performance.now() - started);
  assert.ok(pttl >= 3_000 - spent - 1 && pttl <= 3_000, `PX reached Redis: PTTL ${pttl}, ${spent} ms spent`);
  const token = await backend.admin.get(lockKey);
  const fenceBefore = await backend.admin.get(`${backend.prefix}:lock:fence`);
  const attempts = await Promise.all(Array.from({ length: 5 }, () => b.acquire("payment:nx", { waitMs: 0 })));
  assert.deepEqual(attempts, [null, null, null, null, null], "NX reached Redis");
  assert.equal(await backend.admin.get(lockKey), token, "the holder's token was not overwritten");
  assert.ok((await backend.admin.pttl(lockKey)) <= pttl, "nor its expiry pushed back");
  assert.equal(await backend.admin.get(`${backend.prefix}:lock:fence`), fenceBefore, "INCR only when SET NX won");
});

test("extend sets the key's PTTL with millisecond precision (PEXPIRE, not EXPIRE)", async (backend) => {
  const handle = await backend.newService().acquire("payment:px", { leaseMs: 1_000, waitMs: 0 });
  assert.ok(handle);
  const started = performance.now();
  assert.equal(await handle.extend(1_234), true);
  const pttl = await backend.admin.pttl(`${backend.prefix}:lock:payment:px`);
  const spent = Math.ceil(performance.now() - started);
  // 1_234, less the measured real time. EXPIRE would have set whole seconds (at most 1_000 left): told apart
  // whenever the extend and the read took under 233 ms, as they do by far on an idle machine.
  assert.ok(pttl >= 1_234 - spent - 1 && pttl <= 1_234, `PTTL ${pttl}, ${spent} ms spent`);
});

test("round trips: acquire = 1 HTTP request, extend = 1, release = 1, contended attempt = 1", async (backend) => {
  const locks = backend.newService();
  const other = backend.newService();
  // Another test file may SCRIPT FLUSH in parallel, costing one extra EVAL request:
  // a round is retried then, but every round must show the same counts to pass.
  let counts: number[] = [];
  for (let round = 0; round < 3; round++) {
    const warm = await locks.acquire(`payment:warm${round}`, { waitMs: 0 }); // EVALSHA misses → EVAL, once
    await warm?.extend(1_000);
    await warm?.release();
    await (await other.acquire(`payment:warm${round}`, { waitMs: 0 }))?.release();
    const count = async (op: () => Promise<unknown>) => {
      backend.requests.length = 0;
      await op();
      return backend.requests.length;
    };
    let handle = null as Awaited<ReturnType<typeof locks.acquire>>;
    counts = [
      await count(async () => handle = await locks.acquire(`payment:rt${round}`, { leaseMs: 5_000, waitMs: 0 })),
      await count(async () => assert.equal(await other.acquire(`payment:rt${round}`, { waitMs: 0 }), null)),
      await count(async () => assert.equal(await handle?.extend(2_000), true)),
      await count(async () => assert.equal(await handle?.release(), true)),
    ];
    assert.ok(handle);
    if (counts.every((n) => n === 1)) break;
  }
  assert.deepEqual(counts, [1, 1, 1, 1], "acquire, contended attempt, extend, release: one request each");
});

test("after SCRIPT FLUSH the first acquire costs 2 requests (EVALSHA → EVAL), then 1 again", async (backend) => {
  const locks = backend.newService();
  let counts: number[] = [];
  // Retried if a parallel test file flushes scripts in between; each round must match to pass.
  for (let round = 0; round < 3; round++) {
    await (await locks.acquire(`payment:a${round}`, { waitMs: 0 }))?.release();
    await backend.admin.script("FLUSH");
    backend.requests.length = 0;
    assert.ok(await locks.acquire(`payment:b${round}`, { waitMs: 0 }));
    const cold = backend.requests.length;
    backend.requests.length = 0;
    assert.ok(await locks.acquire(`payment:c${round}`, { waitMs: 0 }));
    counts = [cold, backend.requests.length];
    if (counts[0] === 2 && counts[1] === 1) break;
  }
  assert.deepEqual(counts, [2, 1]);
});

test("a contended acquire retries with backoff: a handful of requests, not a busy loop", async (backend) => {
  const holder = await backend.newService().acquire("payment:backoff", { leaseMs: 5_000, waitMs: 0 });
  assert.ok(holder);
  backend.requests.length = 0;
  const started = backend.clock.now();
  assert.equal(await backend.clock.run(backend.newService().acquire("payment:backoff", { waitMs: 500 })), null);
  assert.equal(backend.clock.now() - started, 500);
  // Pauses of 10 ms doubling to 200 ms, each drawn from its upper half, within 500 ms: 7 to 10 attempts.
  assert.ok(backend.requests.length >= 4 && backend.requests.length <= 12, `${backend.requests.length} attempts`);
});

test("interoperates with @upstash/lock holders on the same key", async (backend) => {
  const id = `${backend.prefix}:lock:payment:interop`;
  const theirs = new Lock({ id, redis: forLock(backend.client()), lease: 5_000, retry: { attempts: 1, delay: 10 } });
  assert.equal(await theirs.acquire(), true);
  const locks = backend.newService();
  assert.equal(await locks.acquire("payment:interop", { waitMs: 0 }), null);
  assert.equal(await theirs.release(), true);
  const ours = await locks.acquire("payment:interop", { leaseMs: 5_000, waitMs: 0 });
  assert.ok(ours);
  assert.equal(await theirs.acquire(), false);
  assert.equal(await ours.release(), true);
});

test("status() reports a ping failure as not ok with the reason", async (backend) => {
  const deadPort = freePort();
  const { Redis } = await import("@upstash/redis");
  const redis = new Redis({ url: `http://127.0.0.1:${deadPort}`, token: backend.token, retry: false });
  const status = await createUpstashLockService({ redis, prefix: backend.prefix }).status();
  assert.equal(status.ok, false);
  assert.match(String(status.detail), /redis unreachable/);
});

test("advanceFence is one atomic script in one HTTP request: it raises the counter and never lowers it", async (backend) => {
  const locks = backend.newService();
  const fenceKey = `${backend.prefix}:lock:fence`;
  let counts: number[] = [];
  // Retried if a parallel test file flushes scripts in between (one extra EVAL request).
  for (let round = 0; round < 3; round++) {
    await locks.advanceFence(0); // warm the script cache
    backend.requests.length = 0;
    await locks.advanceFence(1_000 * (round + 1));
    counts = [backend.requests.length];
    if (counts[0] === 1) break;
  }
  assert.deepEqual(counts, [1]);
  const raised = Number(await backend.admin.get(fenceKey));
  assert.ok(raised >= 1_000, `counter ${raised}`);
  await locks.advanceFence(3);
  assert.equal(Number(await backend.admin.get(fenceKey)), raised, "a lower floor leaves the counter alone");
  assert.equal(await backend.admin.pttl(fenceKey), -1, "the counter never expires");
  const handle = await locks.acquire("payment:after_advance", { waitMs: 0 });
  assert.equal(handle?.fence, raised + 1, "INCR continues from the raised counter");
});

test("advanceFence over a counter that is not an integer fails loudly instead of resetting it", async (backend) => {
  await backend.admin.set(`${backend.prefix}:lock:fence`, "not-a-number");
  await assert.rejects(backend.newService().advanceFence(10), /fence counter is not an integer/);
  assert.equal(await backend.admin.get(`${backend.prefix}:lock:fence`), "not-a-number");
});

test("a real PX lease runs out in Redis by itself (short lease, PTTL polled a bounded number of times)", async (backend) => {
  const locks = backend.newService();
  assert.ok(await locks.acquire("payment:px_expiry", { leaseMs: 30, waitMs: 0 }));
  let polls = 0;
  // Each poll is a round trip to Redis; 30 ms of lease cannot outlast thousands of them.
  while ((await backend.pttl("payment:px_expiry")) !== null) {
    assert.ok(++polls < 100_000, "the lease never ran out");
  }
  const handle = await backend.newService().acquire("payment:px_expiry", { waitMs: 0 });
  assert.ok(handle, "free once Redis expired the key");
});

Deno.test({
  name: "upstash: FLUSHDB (of a dedicated logical database) restarts fences at 1; advanceFence restores monotonicity",
  ignore,
  async fn() {
    await withDedicatedDb(async ({ client, clock }) => {
      const prefix = `test:lock:${crypto.randomUUID()}`;
      const before = createUpstashLockService({ redis: client(), prefix, timers: clock });
      const fences: number[] = [];
      for (let i = 0; i < 3; i++) {
        const handle = await before.acquire(`payment:flushed${i}`, { waitMs: 0 });
        assert.ok(handle);
        fences.push(handle.fence!);
        await handle.release();
      }
      const last = fences.at(-1)!; // say the database now holds last_fence = last
      assert.equal(await client().flushdb(), "OK");
      const fresh = createUpstashLockService({ redis: client(), prefix, timers: clock });
      const reset = await fresh.acquire("payment:flushed0", { waitMs: 0 });
      assert.equal(reset?.fence, 1, `the hazard: after FLUSHDB the fence is ${reset?.fence}, below ${last}`);
      await reset?.release();
      await fresh.advanceFence(last);
      const repaired = await createUpstashLockService({ redis: client(), prefix, timers: clock })
        .acquire("payment:flushed0", { waitMs: 0 });
      assert.ok(repaired && repaired.fence! > last, `fence after advanceFence(${last}): ${repaired?.fence}`);
    });
  },
});

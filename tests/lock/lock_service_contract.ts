/**
 * The LockService contract, as one suite every adapter must pass
 * (in-memory and Upstash-through-the-proxy). Each case opens its own backend,
 * so cases never share keys or depend on order.
 *
 * Time never comes from the wall clock: the services wait on the backend's
 * {@linkcode ManualClock}, and a lease "runs" only when the test lets time
 * pass with `elapse` (the memory store follows the same manual clock; for
 * Redis, whose PX expiry cannot be faked, the backend ages the keys' PTTL by
 * hand and tests use leases long enough that real time does not matter).
 * Where a bound on real latency is asserted, it is measured around the call,
 * never guessed.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { LockHandle, LockService } from "../../src/lock/lock_service.ts";
import { withLock } from "../../src/lock/with_lock.ts";
import { type ManualClock, within } from "../support/manual_clock.ts";

/** What the contract needs from an adapter under test. */
export interface LockBackend {
  /** The clock every service of this backend waits on (backoff pauses); pass it as `timers` to withLock too. */
  clock: ManualClock;
  /** A new service instance with its own client, over the lock store all instances share. */
  newService(): LockService;
  /** Time left on `key`'s lease, read from the store itself (not through the service); null when free. */
  pttl(key: string): Promise<number | null>;
  /**
   * Lets `ms` milliseconds pass: every lease in the store loses `ms` (one that
   * reaches 0 ends, as its expiry would end it), then the clock advances by
   * `ms`, firing the timers due by then.
   */
  elapse(ms: number): Promise<void>;
  /**
   * Makes the store lose everything it holds, fencing counter included, as a
   * flushed or new Redis database, an eviction or an embedded-mode restart
   * would; services created afterwards use the emptied store.
   */
  loseState(): Promise<void>;
  /** Removes the test's keys and closes clients and servers. */
  close(): Promise<void>;
}

/** Options of {@linkcode lockServiceContract}. */
export interface LockServiceContractOptions {
  /** Skip every case (service unavailable and not required). */
  ignore?: boolean;
  /** What `loseState` really does for this adapter, for the test's title. */
  stateLoss: string;
}

/** The handle, asserting the lock was obtained and is a real (not degraded) one. */
function obtained(handle: LockHandle | null): LockHandle {
  assert.ok(handle, "expected the lock to be obtained");
  assert.equal(handle.degraded, false);
  assert.equal(typeof handle.fence, "number");
  return handle;
}

/**
 * Runs `call` and asserts the lease it leaves on `key` is `ms`, less at most
 * the real time the call and the read took (measured, so load cannot fail it).
 */
async function assertLeaseLeft(backend: LockBackend, key: string, ms: number, call: () => Promise<unknown>) {
  const started = performance.now();
  await call();
  const left = await backend.pttl(key);
  const spent = Math.ceil(performance.now() - started);
  assert.ok(
    left !== null && left <= ms && left >= ms - spent - 1,
    `lease left: ${left} (set to ${ms}, ${spent} ms ago at most)`,
  );
}

/** Wraps a service so that the test can wait for its handles' next extend to answer. */
function observingExtends(inner: LockService) {
  let waiters: Array<(answer: boolean) => void> = [];
  const settled = (answer: boolean) => {
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake(answer);
    return answer;
  };
  const service: LockService = {
    ...inner,
    async acquire(key, options) {
      const handle = await inner.acquire(key, options);
      return handle && { ...handle, extend: async (ms: number) => settled(await handle.extend(ms)) };
    },
  };
  return { service, nextExtend: () => new Promise<boolean>((resolve) => waiters.push(resolve)) };
}

/**
 * Registers the contract's tests for one adapter.
 *
 * @param name Adapter name, prefixed to each test name.
 * @param open Opens a fresh backend for one test.
 * @param options `ignore`, and what losing the store's state means for this adapter.
 */
export function lockServiceContract(
  name: string,
  open: () => Promise<LockBackend>,
  { ignore = false, stateLoss }: LockServiceContractOptions,
): void {
  const test = (title: string, fn: (backend: LockBackend) => Promise<void>) =>
    Deno.test({
      name: `${name}: ${title}`,
      ignore,
      async fn() {
        const backend = await open();
        try {
          await fn(backend);
        } finally {
          await backend.close();
        }
      },
    });

  test("a held lock is exclusive across two service instances", async (backend) => {
    const [a, b] = [backend.newService(), backend.newService()];
    const held = obtained(await a.acquire("payment:ref_1", { leaseMs: 60_000, waitMs: 0 }));
    assert.equal(held.key, "payment:ref_1");
    assert.equal(await b.acquire("payment:ref_1", { leaseMs: 5_000, waitMs: 0 }), null);
    assert.equal(await a.acquire("payment:ref_1", { leaseMs: 5_000, waitMs: 0 }), null, "not re-entrant either");
    obtained(await b.acquire("payment:ref_2", { waitMs: 0 })); // other keys are independent
    assert.equal(await held.release(), true);
    obtained(await b.acquire("payment:ref_1", { waitMs: 0 }));
  });

  test("of many concurrent contenders exactly one obtains the lock", async (backend) => {
    const services = Array.from({ length: 8 }, () => backend.newService());
    const handles = await Promise.all(
      services.map((s) => s.acquire("payment:storm", { leaseMs: 60_000, waitMs: 0 })),
    );
    assert.equal(handles.filter((h) => h !== null).length, 1);
  });

  test("the lease reaches the store as the key's expiry", async (backend) => {
    await assertLeaseLeft(backend, "payment:ttl", 60_000, async () => {
      obtained(await backend.newService().acquire("payment:ttl", { leaseMs: 60_000, waitMs: 0 }));
    });
  });

  test("fencing tokens strictly increase across acquisitions, instances and keys", async (backend) => {
    const [a, b] = [backend.newService(), backend.newService()];
    const fences: number[] = [];
    for (let i = 0; i < 6; i++) {
      const service = i % 2 === 0 ? a : b;
      const acquiring = service.acquire(`payment:f${i % 3}`, { leaseMs: 5_000, waitMs: 500 });
      const handle = obtained(await backend.clock.run(acquiring));
      fences.push(handle.fence!);
      await handle.release();
    }
    for (let i = 1; i < fences.length; i++) assert.ok(fences[i]! > fences[i - 1]!, `fences: ${fences}`);
    const concurrent = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).acquire(`payment:c${i}`, { waitMs: 0 })),
    );
    const concurrentFences = concurrent.map((h) => obtained(h).fence!);
    assert.equal(new Set(concurrentFences).size, 10, "no two acquisitions share a fence");
    assert.ok(Math.min(...concurrentFences) > fences.at(-1)!);
  });

  test("lease expiry frees the lock for a contender waiting on it", async (backend) => {
    const [a, b] = [backend.newService(), backend.newService()];
    obtained(await a.acquire("payment:lease", { leaseMs: 5_000, waitMs: 0 }));
    assert.equal(await b.acquire("payment:lease", { waitMs: 0 }), null);
    const started = backend.clock.now();
    const waiting = b.acquire("payment:lease", { leaseMs: 60_000, waitMs: 20_000 });
    await within(Promise.race([backend.clock.whenPending(), waiting])); // b was refused and pauses before its next attempt
    await backend.elapse(5_000); // the holder's lease runs out
    obtained(await backend.clock.run(waiting));
    const waited = backend.clock.now() - started;
    assert.ok(
      waited >= 5_000 && waited <= 5_200,
      `obtained ${waited} ms after the wait began: within a pause of the expiry`,
    );
  });

  test("a stale holder's release and extend fail and leave the new holder's lock alone", async (backend) => {
    const [a, b, c] = [backend.newService(), backend.newService(), backend.newService()];
    const stale = obtained(await a.acquire("payment:stale", { leaseMs: 5_000, waitMs: 0 }));
    await backend.elapse(5_000); // the stale holder's lease ran out
    const fresh = obtained(await b.acquire("payment:stale", { leaseMs: 60_000, waitMs: 0 }));
    assert.ok(fresh.fence! > stale.fence!);
    assert.equal(await stale.release(), false);
    assert.equal(await stale.extend(5_000), false);
    assert.notEqual(await backend.pttl("payment:stale"), null, "the new holder's lock is still there");
    assert.equal(await c.acquire("payment:stale", { waitMs: 0 }), null);
    assert.equal(await fresh.release(), true);
    assert.equal(await fresh.release(), false, "a second release finds nothing to release");
    assert.equal(await backend.pttl("payment:stale"), null);
  });

  test("extend(15_500) renews the lease with millisecond precision", async (backend) => {
    const [a, b] = [backend.newService(), backend.newService()];
    const handle = obtained(await a.acquire("payment:extend", { leaseMs: 10_000, waitMs: 0 }));
    await assertLeaseLeft(
      backend,
      "payment:extend",
      15_500,
      async () => assert.equal(await handle.extend(15_500), true),
    );
    await backend.elapse(12_000); // past the original 10 s lease
    assert.equal(await b.acquire("payment:extend", { waitMs: 0 }), null);
    assert.equal(await handle.release(), true);
  });

  test("extend works with less than 500 ms left on the lease", async (backend) => {
    const [a, b] = [backend.newService(), backend.newService()];
    const handle = obtained(await a.acquire("payment:late", { leaseMs: 10_000, waitMs: 0 }));
    await backend.elapse(9_550);
    const before = await backend.pttl("payment:late");
    assert.ok(before !== null && before < 500, `lease left before extend: ${before}`);
    await assertLeaseLeft(backend, "payment:late", 2_000, async () => assert.equal(await handle.extend(2_000), true));
    await backend.elapse(1_000); // past the original lease
    assert.equal(await b.acquire("payment:late", { waitMs: 0 }), null);
    assert.equal(await handle.release(), true);
  });

  test("a bounded wait on a contended lock returns null once waitMs is spent", async (backend) => {
    const [a, b] = [backend.newService(), backend.newService()];
    obtained(await a.acquire("payment:busy", { leaseMs: 60_000, waitMs: 0 }));
    const started = backend.clock.now();
    assert.equal(await backend.clock.run(b.acquire("payment:busy", { waitMs: 300 })), null);
    assert.equal(backend.clock.now() - started, 300, "the whole budget, and not a millisecond more");
  });

  test("withLock's heartbeat keeps a short lease alive past its length, then releases", async (backend) => {
    const { service, nextExtend } = observingExtends(backend.newService());
    const b = backend.newService();
    let contenderGotIt = false;
    const outcome = await withLock(service, "payment:beat", async (handle) => {
      assert.equal(typeof handle.fence, "number");
      for (let i = 0; i < 8; i++) {
        const beat = nextExtend();
        await backend.elapse(3_000); // 24 s of work under a 9 s lease, a heartbeat due every 3 s
        assert.equal(await within(beat), true, `heartbeat ${i + 1} renewed the lease`);
        if (await b.acquire("payment:beat", { waitMs: 0 })) contenderGotIt = true;
      }
      return "done";
    }, { leaseMs: 9_000, waitMs: 0, timers: backend.clock });
    assert.deepEqual(outcome, { acquired: true, value: "done" });
    assert.equal(contenderGotIt, false, "the lease never lapsed while fn ran");
    assert.equal(await backend.pttl("payment:beat"), null, "released on the way out");
  });

  test("withLock releases when fn throws, and rethrows fn's error", async (backend) => {
    const a = backend.newService();
    await assert.rejects(
      withLock(a, "payment:throws", async () => {
        await backend.elapse(50);
        throw new Error("Cannot credit payment: state is failed");
      }, { leaseMs: 60_000, waitMs: 0, timers: backend.clock }),
      /Cannot credit payment: state is failed/,
    );
    assert.equal(await backend.pttl("payment:throws"), null);
    obtained(await backend.newService().acquire("payment:throws", { waitMs: 0 }));
  });

  test("withLock answers acquired: false on contention without running fn", async (backend) => {
    obtained(await backend.newService().acquire("payment:taken", { leaseMs: 60_000, waitMs: 0 }));
    let ran = false;
    const outcome = await backend.clock.run(withLock(backend.newService(), "payment:taken", () => {
      ran = true;
      return Promise.resolve(1);
    }, { waitMs: 50, timers: backend.clock }));
    assert.deepEqual(outcome, { acquired: false });
    assert.equal(ran, false);
  });

  test("invalid leases are refused with a RangeError", async (backend) => {
    const s = backend.newService();
    await assert.rejects(s.acquire("payment:bad", { leaseMs: 1.5 }), RangeError);
    await assert.rejects(s.acquire("payment:bad", { leaseMs: 0 }), RangeError);
    const handle = obtained(await s.acquire("payment:bad", { leaseMs: 1_000, waitMs: 0 }));
    await assert.rejects(handle.extend(-1), RangeError);
    await handle.release();
  });

  test("advanceFence(floor): every later fence exceeds floor, and a lower floor never lowers the counter", async (backend) => {
    const [a, b] = [backend.newService(), backend.newService()];
    const first = obtained(await a.acquire("payment:adv", { waitMs: 0 }));
    assert.ok(first.fence! < 1_000);
    await first.release();
    await a.advanceFence(1_000);
    const raised = obtained(await b.acquire("payment:adv", { waitMs: 0 })); // another instance sees it too
    assert.ok(raised.fence! > 1_000, `fence after advanceFence(1000): ${raised.fence}`);
    await raised.release();
    await b.advanceFence(5);
    const next = obtained(await a.acquire("payment:adv", { waitMs: 0 }));
    assert.ok(next.fence! > raised.fence!, `advanceFence(5) lowered the counter: ${next.fence} after ${raised.fence}`);
    await next.release();
    await a.advanceFence(next.fence!); // a floor equal to the counter: still strictly greater afterwards
    assert.ok(obtained(await b.acquire("payment:adv", { waitMs: 0 })).fence! > next.fence!);
  });

  test("advanceFence racing acquisitions keeps fences unique, and above every floor once it has returned", async (backend) => {
    const services = Array.from({ length: 4 }, () => backend.newService());
    const floors = [100, 50, 400, 200, 300];
    const [advanced, acquired] = await Promise.all([
      Promise.all(floors.map((floor, i) => services[i % 4]!.advanceFence(floor))),
      Promise.all(Array.from({ length: 12 }, (_, i) => services[i % 4]!.acquire(`payment:mix${i}`, { waitMs: 0 }))),
    ]);
    assert.equal(advanced.length, floors.length);
    const fences = acquired.map((h) => obtained(h).fence!);
    assert.equal(new Set(fences).size, fences.length, `no two acquisitions share a fence: ${fences}`);
    const after = obtained(await services[0]!.acquire("payment:mix_after", { waitMs: 0 })).fence!;
    assert.ok(after > 400 && after > Math.max(...fences), `fence after the race: ${after}; during: ${fences}`);
  });

  test(
    `after the store loses its state (${stateLoss}) fences restart at 1; advanceFence(last fence) puts them above it again`,
    async (backend) => {
      const before = backend.newService();
      let last = 0;
      for (let i = 0; i < 3; i++) {
        const handle = obtained(await before.acquire(`payment:loss${i}`, { waitMs: 0 }));
        last = handle.fence!;
        await handle.release();
      }
      await backend.loseState();
      const fresh = backend.newService();
      const reset = obtained(await fresh.acquire("payment:loss0", { waitMs: 0 }));
      // The hazard: the database already holds `last` for this payment and would refuse this fence as stale.
      assert.equal(reset.fence, 1, `fence after the loss: ${reset.fence}; before it: ${last}`);
      await reset.release();
      await fresh.advanceFence(last); // what the use case does on stale_fence, with the database's highest fence
      const repaired = obtained(await backend.newService().acquire("payment:loss0", { waitMs: 0 }));
      assert.ok(repaired.fence! > last, `fence after advanceFence(${last}): ${repaired.fence}`);
    },
  );

  test("invalid fence floors are refused with a RangeError", async (backend) => {
    const s = backend.newService();
    for (const floor of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      await assert.rejects(s.advanceFence(floor), RangeError, `floor ${floor}`);
    }
    const handle = obtained(await s.acquire("payment:floor", { waitMs: 0 }));
    assert.equal(handle.fence, 1, "the counter was left untouched");
  });

  test("status() is ok while the store answers", async (backend) => {
    assert.deepEqual(await backend.newService().status(), { ok: true });
  });
}

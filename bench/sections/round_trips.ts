/**
 * Round trips per operation (deterministic): database RPCs counted at
 * supabase-js' fetch (per function), Upstash REST requests counted at the
 * proxy, provider calls counted where the sandbox is mounted. Each operation
 * runs after a warm-up (Lua scripts loaded, schema cache read, connections
 * open) and three times over; the counts must agree. Events that arrive after
 * the HTTP answer (work left off the answer's path) are counted apart.
 *
 * @module
 */
import type { BenchStack } from "../support/bench_stack.ts";
import { createPaidPayments, type PaidPayment, verifyRequest, webhookRequest } from "../support/payments_fixture.ts";
import type { RequestSpec } from "../support/load_protocol.ts";

/** Round trips of one operation. */
export interface RoundTripRow {
  operation: string;
  /** "measured", "not built yet", or what went wrong. */
  status: string;
  httpStatus: number | null;
  /** RPCs per function. */
  rpc: Record<string, number>;
  rpcTotal: number;
  redis: number;
  /** Redis requests sent before the HTTP answer (on the answer's path). */
  redisOnPath: number;
  provider: number;
  /** Events in order; `⇒ answer` marks the answer when work followed it. */
  sequence: string;
  /** The three repetitions counted the same. */
  stable: boolean;
  /** Lowest count this operation can have with the guarantees it gives. */
  floor: string;
  why: string;
}

const FLOORS: Record<string, { floor: string; why: string }> = {
  "initialize (new key)": {
    floor: "2 RPC · 1 provider · 0 Redis",
    why: "The key (and the payment row) must be claimed durably before the provider is called — otherwise two " +
      "concurrent retries both open a provider transaction — and the provider's answer stored after it, so " +
      "retries replay it. The foreign call between them is what keeps it at two transactions.",
  },
  "initialize (replay)": {
    floor: "1 RPC · 0 provider · 0 Redis",
    why: "The stored answer lives in Postgres; a cache in Redis would still be one round trip and a second source " +
      "of truth.",
  },
  "webhook (credit)": {
    floor: "2 RPC · 1 provider · 1 Redis on the path",
    why: "Record the event durably before any work (a provider outage leaves a retryable record), ask the " +
      "provider (the event's own amount is not trusted), then credit and mark the event processed in one " +
      "transaction. The provider call between them keeps it at two RPCs (one only by giving up the record of " +
      "events whose processing failed). The lock costs one Redis round trip to take; its release can leave " +
      "the answer's path (the lease bounds it).",
  },
  "webhook (duplicate)": {
    floor: "1 RPC · 0 provider · 0–1 Redis",
    why: "One lookup of the event record answers a redelivery; taking the lock first costs Redis round trips " +
      "a duplicate does not need, but checking the record first would cost new events a second lookup.",
  },
  "verify (credit)": {
    floor: "2 RPC · 1 provider · 1 Redis on the path",
    why: "Ownership check + pending → processing (with the fence) before asking the provider, then the credit. " +
      "The ownership check needs no RPC of its own: it can be folded into mark_processing.",
  },
  "verify (settled)": {
    floor: "1 RPC · 0 provider · 0 Redis",
    why: "A settled payment is answered from the database: no lock, no provider.",
  },
  "debit": {
    floor: "1 RPC · 0 provider · 0 Redis",
    why: "One transaction on the locked wallet row with the idempotency key: the database alone serialises it.",
  },
  "refund": {
    floor: "2 RPC · 1 provider · 0–1 Redis",
    why: "Reserve the amount in SQL before the provider refund (never refund more than paid), settle or release " +
      "on its answer: the foreign call sits between two transactions, as in initialize.",
  },
};

function _row(operation: string, partial: Partial<RoundTripRow>): RoundTripRow {
  return {
    operation,
    status: "measured",
    httpStatus: null,
    rpc: {},
    rpcTotal: 0,
    redis: 0,
    redisOnPath: 0,
    provider: 0,
    sequence: "",
    stable: true,
    ...FLOORS[operation]!,
    ...partial,
  };
}

/** Sends `spec` while recording; returns the answer's status and the events (`|` = the answer). */
async function _traced(stack: BenchStack, spec: RequestSpec): Promise<{ status: number; events: string[] }> {
  stack.events.length = 0;
  stack.record(true);
  const res = await fetch(spec.url, {
    method: spec.method,
    headers: spec.headers,
    ...(spec.body === undefined ? {} : { body: spec.body }),
  });
  await res.body?.cancel();
  stack.events.push("|");
  // Work left off the answer's path (a lock release, say) lands within a few milliseconds.
  await new Promise((resolve) => setTimeout(resolve, 100));
  stack.record(false);
  return { status: res.status, events: [...stack.events] };
}

function _count(
  events: string[],
): Omit<RoundTripRow, "operation" | "status" | "httpStatus" | "stable" | "floor" | "why"> {
  const rpc: Record<string, number> = {};
  let redis = 0;
  let redisOnPath = 0;
  let provider = 0;
  let answered = false;
  for (const e of events) {
    if (e === "|") answered = true;
    else if (e.startsWith("rpc:")) rpc[e.slice(4)] = (rpc[e.slice(4)] ?? 0) + 1;
    else if (e === "redis") {
      redis++;
      if (!answered) redisOnPath++;
    } else if (e.startsWith("provider:")) provider++;
  }
  // "⇒ answer" marks where the HTTP answer went out; what follows it was off the answer's path.
  const sequence = events.map((e) => (e === "|" ? "⇒ answer" : e)).join(" → ").replace(/ → ⇒ answer$/, "");
  return { rpc, rpcTotal: Object.values(rpc).reduce((a, b) => a + b, 0), redis, redisOnPath, provider, sequence };
}

/** Runs `make()` three times and folds the counts (stable when all three agree). */
async function _measure(
  operation: string,
  make: () => Promise<RequestSpec>,
  stack: BenchStack,
): Promise<RoundTripRow> {
  const runs: Array<{ status: number; counted: ReturnType<typeof _count> }> = [];
  for (let i = 0; i < 3; i++) {
    const spec = await make();
    const { status, events } = await _traced(stack, spec);
    runs.push({ status, counted: _count(events) });
  }
  const first = runs[0]!;
  const key = (r: typeof first) =>
    JSON.stringify([r.status, r.counted.rpc, r.counted.redis, r.counted.redisOnPath, r.counted.provider]);
  return _row(operation, {
    httpStatus: first.status,
    ...first.counted,
    stable: runs.every((r) => key(r) === key(first)),
  });
}

function _initialize(stack: BenchStack, token: string, key: string): RequestSpec {
  return {
    url: `${stack.url}/v1/payments`,
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": key },
    body: JSON.stringify({ amount: 10_000, currency: "NGN" }),
  };
}

/**
 * Whether a route is there: asked with a user token (which passes the user
 * routes' auth but not a service-role route's), a route that is not there
 * answers 404 (no route) or 405 (another method's route).
 */
async function _built(stack: BenchStack, path: string, token: string): Promise<boolean> {
  const res = await fetch(`${stack.url}${path}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": "probe" },
    body: "{}",
  });
  await res.body?.cancel();
  return res.status !== 404 && res.status !== 405;
}

/** Measures every operation. */
export async function measureRoundTrips(stack: BenchStack): Promise<RoundTripRow[]> {
  // Warm-up: one of each, unrecorded.
  const warm = await createPaidPayments(stack, 2);
  for (const p of warm) {
    for (const spec of [webhookRequest(stack, p), webhookRequest(stack, p), verifyRequest(stack, p)]) {
      await (await fetch(spec.url, { method: spec.method, headers: spec.headers, body: spec.body ?? null })).text();
    }
  }
  const rows: RoundTripRow[] = [];
  const userToken = await stack.userToken();
  let lastKey = "";
  rows.push(
    await _measure("initialize (new key)", () => {
      lastKey = crypto.randomUUID();
      return Promise.resolve(_initialize(stack, userToken, lastKey));
    }, stack),
  );
  rows.push(
    await _measure("initialize (replay)", () => Promise.resolve(_initialize(stack, userToken, lastKey)), stack),
  );

  let paid: PaidPayment | undefined;
  rows.push(
    await _measure("webhook (credit)", async () => {
      paid = (await createPaidPayments(stack, 1))[0]!;
      return webhookRequest(stack, paid);
    }, stack),
  );
  rows.push(await _measure("webhook (duplicate)", () => Promise.resolve(webhookRequest(stack, paid!)), stack));
  rows.push(
    await _measure("verify (credit)", async () => {
      paid = (await createPaidPayments(stack, 1))[0]!;
      return verifyRequest(stack, paid);
    }, stack),
  );
  rows.push(await _measure("verify (settled)", () => Promise.resolve(verifyRequest(stack, paid!)), stack));

  const service = await stack.serviceToken();
  const credited = paid!;
  if (await _built(stack, "/v1/wallet/debits", userToken)) {
    rows.push(
      await _measure("debit", () =>
        Promise.resolve({
          url: `${stack.url}/v1/wallet/debits`,
          method: "POST",
          headers: {
            Authorization: `Bearer ${service}`,
            "Content-Type": "application/json",
            "Idempotency-Key": crypto.randomUUID(),
          },
          body: JSON.stringify({ user_id: credited.userId, amount: 1, currency: "NGN", reason: "bench" }),
        }), stack),
    );
  } else {
    rows.push(_row("debit", { status: "not built yet" }));
  }
  if (await _built(stack, `/v1/payments/${credited.reference}/refunds`, userToken)) {
    rows.push(
      await _measure("refund", async () => {
        const [p] = await createPaidPayments(stack, 1);
        await (await fetch(webhookRequest(stack, p!).url, {
          method: "POST",
          headers: webhookRequest(stack, p!).headers,
          body: p!.webhookBody,
        })).text();
        return {
          url: `${stack.url}/v1/payments/${p!.reference}/refunds`,
          method: "POST",
          headers: {
            Authorization: `Bearer ${service}`,
            "Content-Type": "application/json",
            "Idempotency-Key": crypto.randomUUID(),
          },
          body: JSON.stringify({ amount: 1_000, reason: "bench" }),
        };
      }, stack),
    );
  } else {
    rows.push(_row("refund", { status: "not built yet" }));
  }
  for (const row of rows) {
    if (row.status === "measured" && (row.httpStatus ?? 0) >= 400) row.status = `answered ${row.httpStatus}`;
  }
  return rows;
}

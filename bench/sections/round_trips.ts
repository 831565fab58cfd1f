/**
 * Round trips per operation (deterministic): database RPCs counted at
 * supabase-js' fetch (per function), Upstash REST requests (and the commands
 * they carry, by purpose: rate limiter or lock) counted at the proxy the
 * service uses as its Upstash, provider calls counted where the sandbox is
 * mounted. Each operation runs after a warm-up (Lua scripts loaded, schema
 * cache read, connections open) and three times over; the counts must agree.
 * Events that arrive after the HTTP answer (work left off the answer's path)
 * are counted apart. A refund's completion is the `refund.processed` webhook
 * the sandbox delivers when the benchmark advances its clock.
 *
 * @module
 */
import type { BenchStack } from "../support/bench_stack.ts";
import { DEFAULT_REFUND_SCHEDULE } from "../../src/providers/sandbox/sandbox_paystack.ts";
import { createPaidPayments, type PaidPayment, verifyRequest, webhookRequest } from "../support/payments_fixture.ts";
import type { RequestSpec } from "../support/load_protocol.ts";

/** Round trips of one operation. */
export interface RoundTripRow {
  operation: string;
  /** "measured", or what went wrong. */
  status: string;
  httpStatus: number | null;
  /** RPCs per function. */
  rpc: Record<string, number>;
  rpcTotal: number;
  /** Upstash REST requests (each one HTTP round trip to Upstash). */
  redis: number;
  /** Redis requests sent before the HTTP answer (on the answer's path). */
  redisOnPath: number;
  /** Of {@linkcode RoundTripRow.redis}, the rate limiter's. */
  redisRateLimit: number;
  /** Redis commands those requests carried (Upstash bills per command). */
  redisCommands: number;
  provider: number;
  /** Provider calls per operation (`verify`, `refund`, `refund_list`, …). */
  providerOps: Record<string, number>;
  /** Events in order; `⇒ answer` marks the answer when work followed it. */
  sequence: string;
  /** The three repetitions counted the same. */
  stable: boolean;
  /** Lowest count this operation can have with the guarantees it gives (rate limiter excluded). */
  floor: string;
  /** The floor's RPCs, for "at the floor or not". */
  floorRpc: number;
  why: string;
}

/** Floors and their reasons. The rate limiter (1 Redis request per limited route) is a separate choice. */
export const FLOORS: Record<string, { floor: string; floorRpc: number; why: string }> = {
  "initialize (new key)": {
    floor: "2 RPC · 1 provider · 0 Redis",
    floorRpc: 2,
    why: "The key (and the payment row) must be claimed durably before the provider is called — otherwise two " +
      "concurrent retries both open a provider transaction — and the provider's answer stored after it, so " +
      "retries replay it. The foreign call between them is what keeps it at two transactions.",
  },
  "initialize (replay)": {
    floor: "1 RPC · 0 provider · 0 Redis",
    floorRpc: 1,
    why: "The stored answer lives in Postgres; a cache in Redis would still be one round trip and a second source " +
      "of truth.",
  },
  "webhook (credit)": {
    floor: "2 RPC · 1 provider · 1 Redis on the path",
    floorRpc: 2,
    why: "Record the event durably before any work (a provider outage leaves a retryable record), ask the " +
      "provider (the event's own amount is not trusted), then credit and mark the event processed in one " +
      "transaction. The provider call between them keeps it at two RPCs (one only by giving up the record of " +
      "events whose processing failed). The lock costs one Redis round trip to take; its release can leave " +
      "the answer's path (the lease bounds it).",
  },
  "webhook (duplicate)": {
    floor: "1 RPC · 0 provider · 0–1 Redis",
    floorRpc: 1,
    why: "One lookup of the event record answers a redelivery; taking the lock first costs Redis round trips " +
      "a duplicate does not need, but checking the record first would cost new events a second lookup.",
  },
  "verify (credit)": {
    floor: "2 RPC · 1 provider · 1 Redis on the path",
    floorRpc: 2,
    why: "pending → processing with the owner check and the fence (one RPC: mark_processing answers someone " +
      "else's payment with nothing) before asking the provider — the only way two verifies, or a verify and a " +
      "webhook, cannot both ask and both act — then the credit. Lock as for the webhook.",
  },
  "verify (settled)": {
    floor: "1 RPC · 0 provider · 0 Redis",
    floorRpc: 1,
    why: "A settled payment is answered from the database: no provider. Taking the lock first costs 2 Redis " +
      "round trips a settled payment does not need; reading first would cost an unsettled one a second RPC.",
  },
  "debit (new key)": {
    floor: "1 RPC · 0 provider · 0 Redis",
    floorRpc: 1,
    why: "One transaction on the locked wallet row, with the idempotency key claimed in it: the database alone " +
      "serialises debits, checks the balance net of refund holds, and records the answer for replays.",
  },
  "debit (replay)": {
    floor: "1 RPC · 0 provider · 0 Redis",
    floorRpc: 1,
    why: "The first debit's answer is read back by its key in Postgres, in the same call that would have made it.",
  },
  "refund request": {
    floor: "2 RPC · 1 provider · 0 Redis",
    floorRpc: 2,
    why: "Reserve the amount (held) and claim the provider call durably before it (never refund more than " +
      "paid, never send twice), then store the provider's answer: the foreign call sits between two " +
      "transactions, as in initialize. A refund just created is claimed by its creator, so the claim can ride " +
      "in the reservation's transaction; it needs a call of its own only on a retry.",
  },
  "refund completed (webhook)": {
    floor: "1 RPC · 2 provider, or 2 RPC · 1 provider · 0 Redis",
    floorRpc: 1,
    why: "The webhook is only a hint: the refund's status is read back from the provider, then applied with the " +
      "event recorded in the same transaction (ledger entry, balance and held debited once); no lock, applying " +
      "is idempotent in SQL. Paystack's refund.processed names neither the refund nor the transaction's id, " +
      "only its reference, and its refund listing filters by id: the id costs one provider call (verify) or " +
      "one RPC (our refund row has it). One apply per refund of the transaction.",
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
    redisRateLimit: 0,
    redisCommands: 0,
    provider: 0,
    providerOps: {},
    sequence: "",
    stable: true,
    ...FLOORS[operation]!,
    ...partial,
  };
}

/** Work left off the answer's path (a lock release, say) lands within a few milliseconds. */
function _afterAnswer(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 100));
}

/** Runs `act` while recording; `|` marks where the answer came back. */
async function _recording(
  stack: BenchStack,
  act: () => Promise<number>,
): Promise<{ status: number; events: string[] }> {
  stack.events.length = 0;
  stack.record(true);
  let status: number;
  try {
    status = await act();
    stack.events.push("|");
    await _afterAnswer();
  } finally {
    stack.record(false);
  }
  return { status, events: [...stack.events] };
}

/** Sends `spec` while recording; returns the answer's status and the events. */
function _traced(stack: BenchStack, spec: RequestSpec): Promise<{ status: number; events: string[] }> {
  return _recording(stack, async () => {
    const res = await fetch(spec.url, {
      method: spec.method,
      headers: spec.headers,
      ...(spec.body === undefined ? {} : { body: spec.body }),
    });
    await res.body?.cancel();
    return res.status;
  });
}

type _Counted = Pick<
  RoundTripRow,
  | "rpc"
  | "rpcTotal"
  | "redis"
  | "redisOnPath"
  | "redisRateLimit"
  | "redisCommands"
  | "provider"
  | "providerOps"
  | "sequence"
>;

/** `redis:ratelimit:EVALSHA` → `redis(ratelimit)`; a pipeline lists its commands' purposes. */
function _label(event: string): string {
  if (!event.startsWith("redis:")) return event;
  const purposes = event.slice(6).split("+").map((c) => c.split(":")[0]);
  return `redis(${purposes.join("+")})`;
}

/** Folds a recording into counts. */
export function countEvents(events: string[]): _Counted {
  const rpc: Record<string, number> = {};
  const providerOps: Record<string, number> = {};
  let redis = 0;
  let redisOnPath = 0;
  let redisRateLimit = 0;
  let redisCommands = 0;
  let provider = 0;
  let answered = false;
  for (const e of events) {
    if (e === "|") answered = true;
    else if (e.startsWith("rpc:")) rpc[e.slice(4)] = (rpc[e.slice(4)] ?? 0) + 1;
    else if (e.startsWith("redis:")) {
      redis++;
      if (!answered) redisOnPath++;
      const commands = e.slice(6).split("+");
      redisCommands += commands.length;
      if (commands.every((c) => c.startsWith("ratelimit:"))) redisRateLimit++;
    } else if (e.startsWith("provider:")) {
      provider++;
      providerOps[e.slice(9)] = (providerOps[e.slice(9)] ?? 0) + 1;
    }
  }
  // "⇒ answer" marks where the HTTP answer went out; what follows it was off the answer's path.
  const sequence = events.map((e) => (e === "|" ? "⇒ answer" : _label(e))).join(" → ").replace(/ → ⇒ answer$/, "");
  return {
    rpc,
    rpcTotal: Object.values(rpc).reduce((a, b) => a + b, 0),
    redis,
    redisOnPath,
    redisRateLimit,
    redisCommands,
    provider,
    providerOps,
    sequence,
  };
}

/**
 * Runs `once()` three times and folds the counts: stable when all three
 * agree; otherwise the most frequent count is reported (ties: the latest),
 * since a shared Redis may have dropped its script cache in between (one
 * NOSCRIPT → EVAL more).
 */
async function _measure(
  operation: string,
  once: () => Promise<{ status: number; events: string[] }>,
): Promise<RoundTripRow> {
  const runs: Array<{ status: number; counted: _Counted }> = [];
  for (let i = 0; i < 3; i++) {
    const { status, events } = await once();
    runs.push({ status, counted: countEvents(events) });
  }
  const key = (r: (typeof runs)[number]) =>
    JSON.stringify([r.status, r.counted.rpc, r.counted.redis, r.counted.redisOnPath, r.counted.providerOps]);
  const keys = runs.map(key);
  const frequency = (k: string) => keys.filter((x) => x === k).length;
  let chosen = runs.length - 1;
  for (let i = runs.length - 1; i >= 0; i--) if (frequency(keys[i]!) > frequency(keys[chosen]!)) chosen = i;
  const picked = runs[chosen]!;
  return _row(operation, {
    httpStatus: picked.status,
    ...picked.counted,
    stable: keys.every((k) => k === keys[0]),
  });
}

/** {@linkcode _measure} of one HTTP request made by `make()` (set-up unrecorded). */
function _measureRequest(
  operation: string,
  make: () => Promise<RequestSpec>,
  stack: BenchStack,
): Promise<RoundTripRow> {
  return _measure(operation, async () => _traced(stack, await make()));
}

function _initialize(stack: BenchStack, token: string, key: string): RequestSpec {
  return {
    url: `${stack.url}/v1/payments`,
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Idempotency-Key": key },
    body: JSON.stringify({ amount: 10_000, currency: "NGN" }),
  };
}

async function _send(spec: RequestSpec): Promise<{ status: number; text: string }> {
  const res = await fetch(spec.url, { method: spec.method, headers: spec.headers, body: spec.body ?? null });
  return { status: res.status, text: await res.text() };
}

/** A paid payment credited by its webhook (unrecorded). */
async function _credited(stack: BenchStack): Promise<PaidPayment> {
  const [p] = await createPaidPayments(stack, 1, { amount: 100_000 });
  const credited = await _send(webhookRequest(stack, p!));
  if (credited.status !== 200 || !credited.text.includes('"credited"')) {
    throw new Error(`set-up credit answered ${credited.status}: ${credited.text}`);
  }
  return p!;
}

/** Measures every operation. */
export async function measureRoundTrips(stack: BenchStack): Promise<RoundTripRow[]> {
  const sandbox = stack.runtime.sandbox!;
  // Warm-up: one of each, unrecorded.
  const warm = await createPaidPayments(stack, 2);
  for (const p of warm) {
    for (const spec of [webhookRequest(stack, p), webhookRequest(stack, p), verifyRequest(stack, p)]) await _send(spec);
  }
  const rows: RoundTripRow[] = [];
  const userToken = await stack.userToken();
  let lastKey = "";
  rows.push(
    await _measureRequest("initialize (new key)", () => {
      lastKey = crypto.randomUUID();
      return Promise.resolve(_initialize(stack, userToken, lastKey));
    }, stack),
  );
  rows.push(
    await _measureRequest(
      "initialize (replay)",
      () => Promise.resolve(_initialize(stack, userToken, lastKey)),
      stack,
    ),
  );

  let paid: PaidPayment | undefined;
  rows.push(
    await _measureRequest("webhook (credit)", async () => {
      paid = (await createPaidPayments(stack, 1))[0]!;
      return webhookRequest(stack, paid);
    }, stack),
  );
  rows.push(await _measureRequest("webhook (duplicate)", () => Promise.resolve(webhookRequest(stack, paid!)), stack));
  rows.push(
    await _measureRequest("verify (credit)", async () => {
      paid = (await createPaidPayments(stack, 1))[0]!;
      return verifyRequest(stack, paid);
    }, stack),
  );
  rows.push(await _measureRequest("verify (settled)", () => Promise.resolve(verifyRequest(stack, paid!)), stack));

  // Debits: spend 1 unit of a credited wallet, with a new key, then the same request again.
  const service = await stack.serviceToken();
  const wallet = await _credited(stack);
  let debitKey = "";
  const debit = (): RequestSpec => ({
    url: `${stack.url}/v1/wallet/debits`,
    method: "POST",
    headers: { Authorization: `Bearer ${service}`, "Content-Type": "application/json", "Idempotency-Key": debitKey },
    body: JSON.stringify({ user_id: wallet.userId, amount: 1, currency: "NGN", reason: "bench" }),
  });
  rows.push(
    await _measureRequest("debit (new key)", () => {
      debitKey = crypto.randomUUID();
      return Promise.resolve(debit());
    }, stack),
  );
  rows.push(await _measureRequest("debit (replay)", () => Promise.resolve(debit()), stack));

  // Refunds: a request on a credited payment (its refund.pending webhook is not delivered, so that only the
  // request is counted), the provider moves it to processing (webhook delivered, not counted), then to
  // processed: that webhook, delivered by the sandbox as Paystack would, is the completion counted.
  const { pendingMs, processingMs } = DEFAULT_REFUND_SCHEDULE;
  const completions: Array<{ status: number; events: string[] }> = [];
  rows.push(
    await _measure("refund request", async () => {
      const p = await _credited(stack);
      sandbox.faults.failWebhooks({ times: 1, status: 500 });
      try {
        return await _traced(stack, {
          url: `${stack.url}/v1/payments/${p.reference}/refunds`,
          method: "POST",
          headers: {
            Authorization: `Bearer ${service}`,
            "Content-Type": "application/json",
            "Idempotency-Key": crypto.randomUUID(),
          },
          body: JSON.stringify({ amount: 40_000, reason: "bench" }),
        });
      } finally {
        await sandbox.idle();
        sandbox.faults.reset();
        await stack.providerClock.advance(pendingMs);
        await sandbox.idle();
        completions.push(
          await _recording(stack, async () => {
            await stack.providerClock.advance(processingMs);
            await sandbox.idle();
            return 200;
          }),
        );
      }
    }),
  );
  let next = 0;
  rows.push(await _measure("refund completed (webhook)", () => Promise.resolve(completions[next++]!)));

  for (const row of rows) {
    if (row.status === "measured" && (row.httpStatus ?? 0) >= 400) row.status = `answered ${row.httpStatus}`;
  }
  return rows;
}

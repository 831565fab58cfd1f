/**
 * The Supabase PaymentStore through the real stack: supabase-js → the local
 * PostgREST-compatible RPC gateway (over HTTP, service-role JWT) → Postgres
 * with the migrations. Every port method is called at least once; the error
 * mapping is checked with errors produced by the real gateway.
 */
import assert from "node:assert/strict";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { SignJWT } from "jose";
import { createTestDatabase } from "../support/test_db.ts";
import { serveRpcGateway } from "../../src/local/rpc_gateway.ts";
import { AppError } from "../../src/errors.ts";
import type { BeginPaymentRequestInput, Payment, PaymentStore } from "../../src/payments/payment_store.ts";
import { createSupabasePaymentStore, rpcFailure, StoreError } from "../../src/store/supabase_payment_store.ts";

const JWT_SECRET = "store-test-secret-with-at-least-32-characters";

function client(url: string, key: string, fetch?: typeof globalThis.fetch): SupabaseClient {
  return createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    ...(fetch ? { global: { fetch } } : {}),
  });
}

function beginInput(userId: string, key: string, overrides: Partial<BeginPaymentRequestInput> = {}) {
  return {
    userId,
    idempotencyKey: key,
    fingerprint: "fp-1",
    method: "POST",
    path: "/v1/payments",
    amount: 5000,
    currency: "NGN",
    email: "buyer@example.com",
    metadata: { plan: "sms-1000" },
    provider: "paystack",
    lockTimeoutSeconds: 60,
    retentionHours: 24,
    ...overrides,
  } satisfies BeginPaymentRequestInput;
}

async function assertAppError(run: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(run, (error: unknown) => {
    assert.ok(error instanceof AppError, `expected an AppError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

async function created(store: PaymentStore, userId: string, amount = 5000): Promise<Payment> {
  const r = await store.beginPaymentRequest(beginInput(userId, crypto.randomUUID(), { amount }));
  assert.equal(r.outcome, "created");
  return (r as { payment: Payment }).payment;
}

Deno.test("createSupabasePaymentStore over supabase-js, the RPC gateway and Postgres", async (t) => {
  const database = await createTestDatabase();
  const served = await serveRpcGateway({ db: database.db, jwtSecret: JWT_SECRET, port: 0 });
  const serviceKey = await new SignJWT({ role: "service_role" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(JWT_SECRET));
  const supabase = client(served.url, serviceKey);
  const store = createSupabasePaymentStore(supabase);
  const { db } = database;
  try {
    await t.step("ping", async () => {
      await store.ping();
    });

    await t.step("begin: created, in_progress, mismatch; complete; replay", async () => {
      const user = crypto.randomUUID();
      const first = await store.beginPaymentRequest(beginInput(user, "k-1"));
      assert.equal(first.outcome, "created");
      const payment = (first as { payment: Payment }).payment;
      assert.equal(payment.amount, 5000);
      assert.equal(payment.state, "pending");
      assert.deepEqual(payment.metadata, { plan: "sms-1000" });

      const busy = await store.beginPaymentRequest(beginInput(user, "k-1"));
      assert.equal(busy.outcome, "in_progress");
      assert.ok(busy.outcome === "in_progress" && busy.retryAfterSeconds >= 1);

      assert.deepEqual(await store.beginPaymentRequest(beginInput(user, "k-1", { fingerprint: "fp-2" })), {
        outcome: "mismatch",
      });

      const body = { reference: payment.reference, authorization_url: "https://checkout.test/x" };
      assert.deepEqual(
        await store.completePaymentRequest({
          userId: user,
          idempotencyKey: "k-1",
          responseStatus: 201,
          responseBody: body,
          authorizationUrl: "https://checkout.test/x",
          accessCode: "x",
          failureReason: null,
        }),
        { status: 201, body },
      );
      assert.deepEqual(await store.beginPaymentRequest(beginInput(user, "k-1")), {
        outcome: "replay",
        status: 201,
        body,
      });
      const after = await store.getPayment(user, payment.reference);
      assert.equal(after?.authorization_url, "https://checkout.test/x");
    });

    await t.step("release, then the retry resumes with the same payment", async () => {
      const user = crypto.randomUUID();
      const first = await store.beginPaymentRequest(beginInput(user, "k-2"));
      await store.releasePaymentRequest(user, "k-2");
      const resumed = await store.beginPaymentRequest(beginInput(user, "k-2"));
      assert.equal(resumed.outcome, "resumed");
      assert.equal(
        (resumed as { payment: Payment }).payment.reference,
        (first as { payment: Payment }).payment.reference,
      );
    });

    await t.step("getPayment and listPayments", async () => {
      const user = crypto.randomUUID();
      const payments = [
        await created(store, user, 100),
        await created(store, user, 200),
        await created(store, user, 300),
      ];
      assert.equal((await store.getPayment(user, payments[0]!.reference))?.id, payments[0]!.id);
      assert.equal(await store.getPayment(crypto.randomUUID(), payments[0]!.reference), null);
      assert.equal((await store.getPayment(user, payments[1]!.reference))?.user_id, user);
      assert.equal(await store.getPayment(user, "pay-unknown"), null);

      const first = await store.listPayments(user, 2, null);
      assert.deepEqual(first.items.map((p) => p.amount), [300, 200]);
      assert.ok(first.next_cursor);
      const second = await store.listPayments(user, 2, first.next_cursor);
      assert.deepEqual(second.items.map((p) => p.amount), [100]);
      assert.equal(second.next_cursor, null);
    });

    await t.step("markProcessing, creditUser (credited, already_credited), getWallet", async () => {
      const user = crypto.randomUUID();
      const p = await created(store, user, 5000);
      // With an owner, someone else's payment is null and nothing is written.
      assert.equal(
        await store.markProcessing(p.reference, { fence: 3, actor: "verify", ownerId: crypto.randomUUID() }),
        null,
      );
      assert.equal(await store.markProcessing("pay-unknown", { fence: 3, actor: "verify", ownerId: user }), null);
      assert.equal((await store.getPayment(user, p.reference))?.lock_version, 0);
      const marked = await store.markProcessing(p.reference, {
        fence: 3,
        actor: "verify",
        reason: "test",
        ownerId: user,
      });
      assert.equal(marked?.changed, true);
      assert.equal(marked?.payment.state, "processing");
      const credit = await store.creditUser({
        reference: p.reference,
        amount: 5000,
        currency: "NGN",
        providerPayload: { status: "success" },
        fence: 3,
        actor: "verify",
      });
      assert.equal(credit.outcome, "credited");
      assert.equal(credit.credited, true);
      assert.equal(credit.payment.state, "completed");
      const again = await store.creditUser({
        reference: p.reference,
        amount: 5000,
        currency: "NGN",
        providerPayload: null,
        fence: null,
        actor: "reconcile",
      });
      assert.equal(again.outcome, "already_credited");

      const second = await created(store, user, 700);
      await store.creditUser({
        reference: second.reference,
        amount: 700,
        currency: "NGN",
        providerPayload: null,
        fence: null,
        actor: "webhook",
      });
      const wallet = await store.getWallet(user, 1, null);
      assert.deepEqual(wallet.balances.map((b) => [b.currency, b.balance]), [["NGN", 5700]]);
      assert.equal(wallet.items[0]?.payment_reference, second.reference);
      assert.equal(wallet.items[0]?.balance_after, 5700);
      assert.ok(wallet.next_cursor);
      const older = await store.getWallet(user, 1, wallet.next_cursor);
      assert.equal(older.items[0]?.payment_reference, p.reference);
      assert.equal(older.next_cursor, null);
    });

    await t.step("creditUser mismatch, not_creditable and late success; failPayment", async () => {
      const user = crypto.randomUUID();
      const p = await created(store, user, 5000);
      const mismatch = await store.creditUser({
        reference: p.reference,
        amount: 4000,
        currency: "NGN",
        providerPayload: { amount: 4000 },
        fence: null,
        actor: "verify",
      });
      assert.equal(mismatch.outcome, "mismatch");
      assert.equal(mismatch.payment.failure_reason, "amount_mismatch: provider confirmed 4000 NGN, expected 5000 NGN");
      assert.equal(mismatch.payment.settled, true);
      const notCreditable = await store.creditUser({
        reference: p.reference,
        amount: 5000,
        currency: "NGN",
        providerPayload: null,
        fence: null,
        actor: "verify",
      });
      assert.deepEqual([notCreditable.outcome, notCreditable.credited], ["not_creditable", false]);

      const q = await created(store, user, 100);
      const failed = await store.failPayment({
        reference: q.reference,
        reason: "abandoned",
        providerPayload: null,
        fence: null,
        actor: "reconcile",
      });
      assert.deepEqual([failed.changed, failed.payment.state, failed.payment.settled], [true, "failed", false]);
      const late = await store.creditUser({
        reference: q.reference,
        amount: 100,
        currency: "NGN",
        providerPayload: null,
        fence: null,
        actor: "verify",
      });
      assert.deepEqual([late.outcome, late.credited, late.late_success, late.payment.state], [
        "credited",
        true,
        true,
        "completed",
      ]);
    });

    await t.step("recordWebhookEvent, then creditUser marks the event processed", async () => {
      const p = await created(store, crypto.randomUUID(), 900);
      const event = await store.recordWebhookEvent({
        provider: "paystack",
        eventKey: `charge.success:${p.reference}`,
        eventType: "charge.success",
        reference: p.reference,
        payload: { event: "charge.success" },
        markProcessing: true,
        fence: 8,
      });
      assert.deepEqual([event.duplicate, event.processed, event.payment?.state], [false, false, "processing"]);
      await store.creditUser({
        reference: p.reference,
        amount: 900,
        currency: "NGN",
        providerPayload: {},
        fence: 8,
        actor: "webhook",
        webhookEventId: event.eventId,
      });
      const again = await store.recordWebhookEvent({
        provider: "paystack",
        eventKey: `charge.success:${p.reference}`,
        eventType: "charge.success",
        reference: p.reference,
        payload: {},
        markProcessing: false,
        fence: null,
      });
      assert.deepEqual([again.eventId, again.duplicate, again.processed], [event.eventId, true, true]);
      const unknown = await store.recordWebhookEvent({
        provider: "paystack",
        eventKey: "evt-unknown",
        eventType: "charge.success",
        reference: null,
        payload: {},
        markProcessing: false,
        fence: null,
      });
      assert.deepEqual([unknown.processed, unknown.payment], [true, null]);
    });

    await t.step("reconcileCandidates", async () => {
      const p = await created(store, crypto.randomUUID());
      const due = await store.reconcileCandidates({
        pendingOlderThanSeconds: 0,
        processingOlderThanSeconds: 0,
        limit: 100,
      });
      const mine = due.find((c) => c.reference === p.reference);
      assert.equal(mine?.state, "pending");
      assert.ok(Number.isInteger(mine?.age_seconds));
      assert.deepEqual(
        await store.reconcileCandidates({
          pendingOlderThanSeconds: 86_400,
          processingOlderThanSeconds: 86_400,
          limit: 5,
        }),
        [],
      );
    });

    await t.step("checkLedgerInvariants and purgeIdempotencyKeys", async () => {
      assert.deepEqual(await store.checkLedgerInvariants(), []);
      await db.query(
        "update public.wallets set balance = balance + 1 where id = (select id from public.wallets limit 1)",
      );
      const broken = await store.checkLedgerInvariants();
      assert.deepEqual(broken.map((v) => v.invariant), ["balance_mismatch"]);
      await db.query("update public.wallets set balance = balance - 1 where id = $1", [broken[0]!.subject]);
      assert.deepEqual(await store.checkLedgerInvariants(), []);

      await db.query("update public.idempotency_keys set expires_at = now() - interval '1 minute', locked_at = null");
      const purged = await store.purgeIdempotencyKeys();
      assert.ok(purged >= 3);
      assert.equal(await store.purgeIdempotencyKeys(), 0);
    });

    await t.step("our SQLSTATEs become domain errors", async () => {
      const p = await created(store, crypto.randomUUID());
      await store.markProcessing(p.reference, { fence: 5, actor: "verify" });
      // PM003
      await assertAppError(
        store.creditUser({
          reference: p.reference,
          amount: 5000,
          currency: "NGN",
          providerPayload: null,
          fence: 4,
          actor: "verify",
        }),
        "stale_fence",
      );
      // PM004
      await assertAppError(store.markProcessing("pay-nowhere", { fence: null, actor: "verify" }), "payment_not_found");
      // PM008
      await assertAppError(
        store.beginPaymentRequest(beginInput(crypto.randomUUID(), "k-bad", { currency: "naira" })),
        "validation_failed",
      );
      // PM001 and PM002: no port method can provoke them, so take the gateway's real answer for
      // the generic writer and map it the way every store method does.
      const illegal = await supabase.rpc("transition_payment", {
        p_reference: p.reference,
        p_to: "pending",
        p_expected_lock_version: (await store.getPayment(p.user_id, p.reference))!.lock_version,
        p_actor: "test",
      });
      assert.ok(illegal.error);
      const mapped = rpcFailure("transition_payment", illegal.error, illegal.status);
      assert.ok(mapped instanceof AppError);
      assert.equal(mapped.code, "illegal_transition");
      assert.equal(mapped.status, 409);
      const stale = await supabase.rpc("transition_payment", {
        p_reference: p.reference,
        p_to: "completed",
        p_expected_lock_version: 0,
        p_actor: "test",
      });
      assert.ok(stale.error);
      assert.equal(
        (rpcFailure("transition_payment", stale.error, stale.status) as AppError).code,
        "stale_payment_version",
      );
    });

    await t.step("an unsafe-integer amount is refused by the result schema (StoreError)", async () => {
      const owner = crypto.randomUUID();
      await db.query(
        `insert into public.payment_logs (user_id, reference, amount, currency)
         values ($1, 'pay-huge', 9007199254740993, 'NGN')`,
        [owner],
      );
      await assert.rejects(store.getPayment(owner, "pay-huge"), StoreError);
    });

    await t.step("an error that is neither ours nor an outage is a StoreError (500)", async () => {
      await db.query("revoke execute on function public.ping() from service_role");
      try {
        await assert.rejects(store.ping(), (error: unknown) => {
          assert.ok(error instanceof StoreError && !(error instanceof AppError));
          assert.equal(error.code, "42501");
          return true;
        });
      } finally {
        await db.query("grant execute on function public.ping() to service_role");
      }
      // PM007 can only come from a bug of ours: it is not shown to clients as a domain error.
      assert.ok(rpcFailure("credit_user", { code: "PM007", message: "append-only" }, 400) instanceof StoreError);
    });

    await t.step("an unreachable database is database_unavailable; a SQL bug stays a 500", async () => {
      const answering = (status: number, code: string) =>
        createSupabasePaymentStore(client(
          served.url,
          serviceKey,
          () =>
            Promise.resolve(
              new Response(JSON.stringify({ code, message: "boom", details: null, hint: null }), {
                status,
                headers: { "content-type": "application/json" },
              }),
            ),
        ));
      await assertAppError(answering(503, "57P01").ping(), "database_unavailable");
      await assertAppError(answering(503, "08006").ping(), "database_unavailable");
      await assert.rejects(answering(500, "XX000").ping(), StoreError);

      const down = await serveRpcGateway({ db, jwtSecret: JWT_SECRET, port: 0 });
      const downUrl = down.url;
      await down.close();
      await assertAppError(createSupabasePaymentStore(client(downUrl, serviceKey)).ping(), "database_unavailable");

      const connection = rpcFailure("ping", { code: "08006", message: "connection failure" }, 503);
      assert.ok(connection instanceof AppError && connection.code === "database_unavailable");
    });
  } finally {
    await served.close();
    await database.close();
  }
});

/**
 * `createPaystackWebhookParser()`: a signed Paystack event becomes a neutral
 * ProviderEvent. `charge.success` claims a payment; every `refund.*` event
 * claims a refund update, with the refunded transaction's reference, the
 * refund id where Paystack names it, and one event key per refund and status.
 * The refund bodies below have the shapes of Paystack's samples of each
 * event (PaystackOSS/doc-code-snippets `src/doc/payments/refunds/events/`).
 */
import assert from "node:assert/strict";
import { AppError } from "../../src/errors.ts";
import { signPaystackBody } from "../../src/providers/paystack_signature.ts";
import { createPaystackWebhookParser } from "../../src/providers/paystack_webhook.ts";

const SECRET = "sk_test_webhook";
const parse = createPaystackWebhookParser(SECRET);

async function signed(body: unknown): Promise<{ rawBody: string; signature: string }> {
  const rawBody = JSON.stringify(body);
  return { rawBody, signature: await signPaystackBody(SECRET, rawBody) };
}

const customer = { first_name: "Ada", last_name: "Obi", email: "ada@example.ng" };

/** A refund event as Paystack's samples show the four common ones: no refund id, amount as a digit string. */
function refundEvent(status: string, overrides: Record<string, unknown> = {}): unknown {
  return {
    event: `refund.${status}`,
    data: {
      status,
      transaction_reference: "pay-7f3a.r1",
      refund_reference: status === "pending" || status === "processing" ? null : "TRF_3kd9x0c2ml",
      amount: "12500",
      currency: "NGN",
      processor: "instant-transfer",
      customer,
      integration: 412_000,
      domain: "live",
      ...overrides,
    },
  };
}

Deno.test("charge.success claims a payment by its reference, keyed by the transaction id, no refund id", async () => {
  const event = await parse(
    await signed({ event: "charge.success", data: { id: 4_000_000_001, reference: "pay-1", status: "success" } }),
  );
  assert.deepEqual(
    { ...event, payload: undefined },
    {
      provider: "paystack",
      eventKey: "charge.success:4000000001",
      eventType: "charge.success",
      reference: "pay-1",
      claim: "payment_succeeded",
      refundId: null,
      payload: undefined,
    },
  );
  const other = await parse(await signed({ event: "transfer.success", data: { id: 9, reference: "tr-1" } }));
  assert.deepEqual([other.claim, other.refundId, other.eventKey], ["other", null, "transfer.success:9"]);
});

Deno.test("every refund.* event claims a refund update of the transaction it names", async () => {
  for (const status of ["pending", "processing", "processed", "failed"]) {
    const body = refundEvent(status, status === "failed" ? { amount: 12_500 } : {});
    const event = await parse(await signed(body));
    assert.equal(event.provider, "paystack");
    assert.equal(event.eventType, `refund.${status}`);
    assert.equal(event.claim, "refund_updated", status);
    assert.equal(event.reference, "pay-7f3a.r1", "the refunded transaction's reference");
    assert.equal(event.refundId, null, "Paystack's samples of this event name no refund id");
    assert.deepEqual(event.payload, body);
  }
  const attention = await parse(
    await signed({
      event: "refund.needs-attention",
      data: {
        status: "needs-attention",
        transaction_reference: "pay-7f3a",
        refund_reference: "TRF_8a7sd6f5",
        amount: 5_300,
        currency: "NGN",
        customer,
        integration: 412_000,
        domain: "live",
        id: "1234567",
        customer_note: "Refund for transaction pay-7f3a",
        merchant_note: "refund:0b1c",
      },
    }),
  );
  assert.deepEqual(
    [attention.claim, attention.reference, attention.refundId, attention.eventKey],
    ["refund_updated", "pay-7f3a", "1234567", "refund.needs-attention:1234567"],
  );
  const numericId = await parse(await signed(refundEvent("processed", { id: 7_000_001 })));
  assert.deepEqual([numericId.refundId, numericId.eventKey], ["7000001", "refund.processed:7000001"]);
});

Deno.test("refund event keys: one per refund and status, the same for every redelivery", async () => {
  const key = async (body: unknown) => (await parse(await signed(body))).eventKey;
  const pending = await key(refundEvent("pending"));
  const processing = await key(refundEvent("processing"));
  const processed = await key(refundEvent("processed"));
  assert.equal(new Set([pending, processing, processed]).size, 3, "refund.pending and refund.processed are two events");
  assert.equal(await key(refundEvent("processed")), processed, "a redelivery is the same event");
  // A redelivery serialised differently (key order) is still the same event.
  const reordered = refundEvent("processed") as { event: string; data: Record<string, unknown> };
  assert.equal(
    await key({ data: Object.fromEntries(Object.entries(reordered.data).reverse()), event: reordered.event }),
    processed,
  );
  // Another refund of the same transaction: another amount, or another processor reference.
  assert.notEqual(await key(refundEvent("processed", { amount: "2500" })), processed);
  assert.notEqual(await key(refundEvent("processed", { refund_reference: "TRF_other" })), processed);
  // The amount as a number or a digit string names the same refund.
  assert.equal(await key(refundEvent("processed", { amount: 12_500 })), processed);
  assert.match(processed, /^refund\.processed:/);
});

Deno.test("a refund event naming neither transaction nor refund is recorded, not claimed; odd fields read as absent", async () => {
  const bare = await parse(await signed({ event: "refund.processed", data: { status: "processed" } }));
  assert.deepEqual([bare.claim, bare.reference, bare.refundId], ["other", null, null]);
  assert.match(bare.eventKey, /^refund\.processed:[0-9a-f]{64}$/);

  const odd = await parse(
    await signed(refundEvent("processed", { id: "not-a-number", amount: 12.5, refund_reference: { x: 1 } })),
  );
  assert.deepEqual([odd.claim, odd.reference, odd.refundId], ["refund_updated", "pay-7f3a.r1", null]);
  const noReference = await parse(await signed(refundEvent("failed", { transaction_reference: 42, id: 77 })));
  assert.deepEqual([noReference.claim, noReference.reference, noReference.refundId], ["refund_updated", null, "77"]);
});

Deno.test("a refund event is authenticated like any other: bad signature 401, not JSON or not an event 400", async () => {
  const { rawBody, signature } = await signed(refundEvent("processed"));
  for (const wrong of [null, "", signature.replace(/^./, (c) => (c === "a" ? "b" : "a"))]) {
    await assert.rejects(
      () => parse({ rawBody, signature: wrong }),
      (error) => error instanceof AppError && error.code === "invalid_signature",
    );
  }
  await assert.rejects(
    () => parse({ rawBody: `${rawBody} `, signature }),
    (error) => error instanceof AppError && error.code === "invalid_signature",
  );
  const notJson = "refund.processed";
  await assert.rejects(
    async () => parse({ rawBody: notJson, signature: await signPaystackBody(SECRET, notJson) }),
    (error) => error instanceof AppError && error.code === "malformed_json",
  );
  await assert.rejects(
    async () => parse(await signed({ event: "refund.processed" })),
    (error) => error instanceof AppError && error.code === "bad_request",
  );
});

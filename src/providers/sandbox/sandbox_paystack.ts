/**
 * A Paystack-compatible local provider for dev and tests, and the test double
 * of fault tests. It speaks Paystack's API (`POST /transaction/initialize`,
 * `GET /transaction/verify/:reference`, `GET /transaction` with its paging
 * `meta`, `POST /refund`, `GET /refund`, `GET /refund/:id`, bearer secret key,
 * `{status, message, data}` envelopes), serves a checkout page with Pay /
 * Decline at the `authorization_url`, and sends signed webhooks with retries.
 * State lives in the `sandbox_paystack` schema, so a restart loses nothing.
 *
 * It answers only what Paystack documents (verify carries no `access_code` or
 * `authorization_url`), accepts only the currencies enabled on its merchant,
 * and behaves as Paystack's checkout does: a declined checkout can still be
 * paid, an abandoned one can be paid at any time, a paid one never again.
 * Refunds are asynchronous, as Paystack's: `pending` → `processing` →
 * `processed` (or `failed`, or `needs-attention`), each step a signed
 * `refund.*` webhook, timed by injectable timers (`sandbox_refunds.ts`).
 *
 * Sandbox-only routes, behind the same bearer: `GET|POST /_sandbox/faults`,
 * `GET /_sandbox/deliveries`, `GET /_sandbox/stats` (see `docs/sandbox.md`).
 *
 * @module
 */
import { type Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import type { SqlClient } from "../../db/sql_client.ts";
import { systemTimers, type Timers } from "../../observability/clock.ts";
import { abortableSleep } from "./abortable_sleep.ts";
import { renderCheckoutPage, renderErrorPage, renderResultPage, renderSettledPage } from "./checkout_page.ts";
import { inFlightData, listedTransactionData, transactionData } from "./paystack_payloads.ts";
import {
  applyFaultCommand,
  createSandboxFaults,
  FAULT_COMMAND_SCHEMA,
  SANDBOX_ENDPOINTS,
  type SandboxEndpoint,
  type SandboxFaults,
} from "./sandbox_faults.ts";
import { createSandboxRefunds, DEFAULT_REFUND_SCHEDULE, type RefundSchedule } from "./sandbox_refunds.ts";
import {
  createSandboxStore,
  type DeliveryRecord,
  ensureSandboxSchema,
  PAYABLE_STATUSES,
  type SandboxTransaction,
} from "./sandbox_store.ts";
import { createWebhookDelivery, DEFAULT_RETRY_SCHEDULE, type SandboxLog } from "./webhook_delivery.ts";

export { DEFAULT_REFUND_SCHEDULE, ensureSandboxSchema, type RefundSchedule };

/** The secret key the sandbox accepts unless told otherwise. */
export const SANDBOX_SECRET_KEY = "sk_test_sandbox";

/**
 * Currencies a Paystack integration can be enabled for: the sandbox merchant's
 * `currencies` must be among them, and are all of them by default.
 */
export const SANDBOX_CURRENCIES: ReadonlySet<string> = new Set(["NGN", "GHS", "ZAR", "USD", "KES", "XOF", "EGP"]);

/** Paystack's answer to a currency not enabled on the merchant's integration. */
export const CURRENCY_NOT_SUPPORTED = "Currency not supported by merchant";

/** Every call the sandbox counts. */
export type SandboxCall = SandboxEndpoint | "checkout" | "settle";

/** Options of {@linkcode createSandboxPaystack}. */
export interface SandboxPaystackOptions {
  /** Where the `sandbox_paystack` schema lives (created on first use). */
  db: SqlClient;
  /** The bearer the API accepts and the key webhooks are signed with. @default "sk_test_sandbox" */
  secretKey?: string;
  /**
   * Currencies enabled on the sandbox merchant, as on a Paystack account
   * (USD only once enabled, say). Initialize, and a tampered checkout, refuse
   * others with Paystack's 400 "Currency not supported by merchant". The
   * service passes its `PAYMENT_CURRENCIES` codes.
   * @default every code in {@linkcode SANDBOX_CURRENCIES}
   */
  currencies?: readonly string[];
  /**
   * Public URL the app is mounted at, e.g. `http://127.0.0.1:8000/sandbox/paystack`; checkout URLs start
   * with it. When absent, derived from each API request's own URL.
   */
  publicBaseUrl?: string;
  /** Where webhooks go (the service's `/v1/webhooks/paystack`). When absent, none are sent. */
  webhookUrl?: string;
  /** Waits (ms) between delivery attempts of one event. @default [1000, 3000, 10000, 30000] */
  retrySchedule?: readonly number[];
  /** Budget of one delivery attempt. @default 10_000 */
  webhookTimeoutMs?: number;
  /**
   * How long a refund stays `pending`, then `processing`, before its outcome.
   * @default {pendingMs: 1000, processingMs: 3000}
   */
  refundSchedule?: RefundSchedule;
  /** The timers refund steps wait on; tests pass a manual clock. @default the real ones */
  timers?: Timers;
  /** The fetch webhooks are sent with. @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /** The caller's `APP_ENV`; `"production"` is refused. */
  appEnv?: string;
  /** Structured log sink. @default JSON lines on stderr */
  log?: SandboxLog;
}

/** Counters and records for tests. */
export interface SandboxStats {
  /** Requests received per endpoint (faulted and refused ones included), live. */
  readonly calls: Readonly<Record<SandboxCall, number>>;
  /** Every webhook event and how its delivery went, oldest first. */
  deliveries(): Promise<DeliveryRecord[]>;
  /** Zeroes {@linkcode SandboxStats.calls}. */
  reset(): void;
}

/** A running sandbox. */
export interface SandboxPaystack {
  /** Mount with `app.route("/sandbox/paystack", sandbox.app)` or serve on its own. */
  app: Hono;
  faults: SandboxFaults;
  stats: SandboxStats;
  /**
   * Resolves when every running refund step and every started webhook
   * delivery has finished (retries included). A refund step still waiting on
   * the timers is not waited for: advance the clock, then wait on this.
   */
  idle(): Promise<void>;
  /** Stops pending retries, in-flight deliveries and hanging faults. Does not close `db`. */
  close(): Promise<void>;
}

const REFERENCE_PATTERN = /^[A-Za-z0-9.=-]{1,100}$/;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const CURRENCY_PATTERN = /^[A-Z]{3}$/;
const ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyz0123456789";

function _randomToken(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => ALPHANUMERIC[b % ALPHANUMERIC.length]).join("");
}

/** Minor units as Paystack accepts them: an integer, or a string of digits. */
const _minorUnits = z.union([z.number(), z.string().regex(/^[0-9]{1,16}$/).transform(Number)])
  .refine((n) => Number.isSafeInteger(n) && n > 0);

const _initializeBody = z.object({
  email: z.string().max(254).regex(EMAIL_PATTERN),
  amount: _minorUnits,
  currency: z.string().optional(),
  reference: z.string().optional(),
  callback_url: z.string().optional(),
  metadata: z.unknown().optional(),
});

/** Paystack's default page size of `GET /transaction`. */
const DEFAULT_PER_PAGE = 50;

/** A positive integer query value. */
const _positive = z.string().regex(/^[0-9]{1,9}$/).transform(Number).refine((n) => n >= 1);

/** A timestamp query value: an ISO 8601 date or date-time, as Paystack takes `from` and `to`. */
const _timestamp = z.string().refine((text) => Number.isFinite(Date.parse(text))).transform((text) =>
  new Date(Date.parse(text)).toISOString()
);

const _listQuery = z.object({
  status: z.enum(["success", "failed", "abandoned", "reversed"]).optional(),
  from: _timestamp.optional(),
  to: _timestamp.optional(),
  perPage: _positive.optional(),
  page: _positive.optional(),
});

const _settleBody = z.object({
  outcome: z.enum(["success", "failed"]),
  amount: _minorUnits.optional(),
  currency: z.string().regex(CURRENCY_PATTERN).optional(),
});

/** Paystack's error `type`s; its documentation lists these three. */
type _ErrorType = "api_error" | "validation_error" | "processor_error";

/**
 * Paystack's error envelope. `type` and `meta.next_step` are sent where we
 * know Paystack's; `code` is left out because Paystack documents no value for
 * these errors, and an invented one would be something clients could wrongly
 * match on.
 */
function _fail(
  c: Context,
  status: ContentfulStatusCode,
  message: string,
  detail?: { type: _ErrorType; nextStep: string },
): Response {
  return c.json(
    { status: false, message, ...(detail ? { meta: { next_step: detail.nextStep }, type: detail.type } : {}) },
    status,
  );
}

function _currencyNotSupported(c: Context): Response {
  return _fail(c, 400, CURRENCY_NOT_SUPPORTED, {
    type: "validation_error",
    nextStep: "Pass a currency that is enabled on your integration",
  });
}

function _merchantCurrencies(currencies: readonly string[] | undefined): ReadonlySet<string> {
  if (currencies === undefined) return SANDBOX_CURRENCIES;
  const unknown = currencies.filter((code) => !SANDBOX_CURRENCIES.has(code));
  if (currencies.length === 0 || unknown.length > 0) {
    throw new RangeError(
      `Cannot start the sandbox provider: currencies must be some of ${[...SANDBOX_CURRENCIES].join(", ")}${
        unknown.length > 0 ? `; Paystack cannot enable ${unknown.join(", ")}` : ""
      }`,
    );
  }
  return new Set(currencies);
}

function _parseMetadata(value: unknown): Record<string, unknown> | null | "invalid" {
  if (value === undefined || value === null || value === "") return null;
  // Paystack accepts metadata as an object or as its JSON text.
  const parsed = typeof value === "string"
    ? (() => {
      try {
        return JSON.parse(value) as unknown;
      } catch {
        return "invalid";
      }
    })()
    : value;
  return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
    ? parsed as Record<string, unknown>
    : "invalid";
}

function _isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

function _defaultLog(entry: Record<string, unknown>): void {
  console.error(JSON.stringify({ at: new Date().toISOString(), component: "sandbox_paystack", ...entry }));
}

/**
 * Creates a sandbox Paystack over `db`.
 *
 * @throws {Error} when `appEnv` is `"production"`: the sandbox settles payments nobody paid
 * @throws {RangeError} on an invalid `retrySchedule` or `refundSchedule`, or `currencies` empty or outside {@linkcode SANDBOX_CURRENCIES}
 *
 * @example
 * ```ts
 * const sandbox = createSandboxPaystack({ db, webhookUrl: "http://127.0.0.1:8000/v1/webhooks/paystack" });
 * app.route("/sandbox/paystack", sandbox.app);
 * // ...
 * await sandbox.close();
 * ```
 */
export function createSandboxPaystack(
  {
    db,
    secretKey = SANDBOX_SECRET_KEY,
    currencies,
    publicBaseUrl,
    webhookUrl,
    retrySchedule = DEFAULT_RETRY_SCHEDULE,
    webhookTimeoutMs = 10_000,
    refundSchedule = DEFAULT_REFUND_SCHEDULE,
    timers = systemTimers,
    fetch = globalThis.fetch,
    appEnv,
    log = _defaultLog,
  }: SandboxPaystackOptions,
): SandboxPaystack {
  if (appEnv === "production") {
    throw new Error("Cannot start the sandbox provider: APP_ENV is production");
  }
  if (secretKey.length === 0) throw new TypeError("Cannot start the sandbox provider: secretKey is empty");
  const merchantCurrencies = _merchantCurrencies(currencies);

  const store = createSandboxStore(db);
  const faults = createSandboxFaults();
  const delivery = createWebhookDelivery({
    store,
    faults,
    secretKey,
    url: webhookUrl ?? null,
    retrySchedule,
    timeoutMs: webhookTimeoutMs,
    fetch,
    log,
  });
  const closing = new AbortController();
  const refunds = createSandboxRefunds({
    store,
    faults,
    delivery,
    timers,
    schedule: refundSchedule,
    closing: closing.signal,
    fail: _fail,
    log,
  });
  const calls = Object.fromEntries([...SANDBOX_ENDPOINTS, "checkout", "settle"].map((call) => [call, 0])) as Record<
    SandboxCall,
    number
  >;
  const base = publicBaseUrl?.replace(/\/+$/, "");

  let ready: Promise<void> | null = null;
  const ensureReady = () => {
    // A restarted sandbox picks up the refunds still in flight once its schema is there.
    ready ??= ensureSandboxSchema(db).then(() => refunds.resume()).catch((error) => {
      ready = null; // let the next request try again
      throw error;
    });
    return ready;
  };

  /** The public base URL: configured, else this request's URL up to the route. */
  const baseOf = (c: Context, marker: string): string => {
    if (base !== undefined) return base;
    const url = new URL(c.req.url);
    const at = url.pathname.lastIndexOf(marker);
    return `${url.origin}${at >= 0 ? url.pathname.slice(0, at) : ""}`;
  };
  const checkoutUrl = (c: Context, marker: string, t: SandboxTransaction) =>
    `${baseOf(c, marker)}/checkout/${encodeURIComponent(t.accessCode)}`;

  const authorized = (c: Context) => c.req.header("Authorization") === `Bearer ${secretKey}`;

  /**
   * Runs one API call as Paystack's edge would see it: counted, then any
   * injected fault (failure, hang, delay), then the key check, then `handler`.
   */
  const api = (endpoint: SandboxEndpoint, handler: (c: Context) => Promise<Response>) => async (c: Context) => {
    calls[endpoint] += 1;
    const fault = faults.takeApiFault(endpoint);
    if (fault?.kind === "fail") return _fail(c, fault.status as ContentfulStatusCode, fault.message);
    if (fault?.kind === "drop") {
      // Hold the answer until the hang ends or the sandbox closes; the client's own timeout gives up first.
      // (Not request.signal: touching it makes Deno.serve print a legacy-abort warning for the whole process.)
      await abortableSleep(fault.ms, closing.signal);
      return _fail(c, 504, "Gateway timeout (sandbox dropped the request)");
    }
    const delay = faults.apiDelay(endpoint);
    if (delay > 0 && !await abortableSleep(delay, closing.signal)) return _fail(c, 503, "Request cancelled");
    if (!authorized(c)) return _fail(c, 401, "Invalid key");
    await ensureReady();
    return handler(c);
  };

  const readJson = async (c: Context): Promise<unknown> => {
    try {
      return await c.req.json();
    } catch {
      return undefined;
    }
  };

  const app = new Hono();

  app.post(
    "/transaction/initialize",
    api("initialize", async (c) => {
      const parsed = _initializeBody.safeParse(await readJson(c));
      if (!parsed.success) {
        const field = parsed.error.issues[0]?.path[0];
        if (field === "email") return _fail(c, 400, "Invalid Email Address Passed");
        if (field === "amount") return _fail(c, 400, "Invalid Amount Sent");
        return _fail(c, 400, "Invalid request body");
      }
      const body = parsed.data;
      const currency = body.currency ?? "NGN";
      if (!merchantCurrencies.has(currency)) return _currencyNotSupported(c);
      const reference = body.reference ?? _randomToken(12);
      if (!REFERENCE_PATTERN.test(reference)) {
        return _fail(c, 400, "Invalid transaction reference: only -, ., = and alphanumeric characters allowed");
      }
      if (body.callback_url !== undefined && !_isHttpUrl(body.callback_url)) {
        return _fail(c, 400, "Invalid callback_url");
      }
      const metadata = _parseMetadata(body.metadata);
      if (metadata === "invalid") return _fail(c, 400, "Invalid metadata: expected a JSON object");
      const t = await store.insertTransaction({
        reference,
        accessCode: _randomToken(15),
        amount: body.amount,
        currency,
        email: body.email,
        metadata,
        callbackUrl: body.callback_url ?? null,
      });
      if (t === null) {
        return _fail(c, 400, "Duplicate Transaction Reference", {
          type: "validation_error",
          nextStep: "Use a new, unique reference for every transaction",
        });
      }
      return c.json({
        status: true,
        message: "Authorization URL created",
        data: {
          authorization_url: checkoutUrl(c, "/transaction/initialize", t),
          access_code: t.accessCode,
          reference: t.reference,
        },
      });
    }),
  );

  app.get(
    "/transaction/verify/:reference",
    api("verify", async (c) => {
      const t = await store.findByReference(c.req.param("reference") ?? "");
      if (t === null) return _fail(c, 404, "Transaction reference not found");
      const data = await transactionData(t);
      // A verify_status rule makes the answer that of a payment still in flight.
      const inFlight = faults.takeVerifyStatus(t.reference);
      return c.json({
        status: true,
        message: "Verification successful",
        data: inFlight === null ? data : inFlightData(data, inFlight),
      });
    }),
  );

  // The transactions of a window, newest first, with Paystack's offset paging block.
  app.get(
    "/transaction",
    api("list", async (c) => {
      const parsed = _listQuery.safeParse(c.req.query());
      if (!parsed.success) {
        const field = parsed.error.issues[0]?.path[0];
        return _fail(c, 400, `Invalid ${typeof field === "string" ? field : "query"}`, {
          type: "validation_error",
          nextStep: "Check the query parameters: status, from, to, perPage, page",
        });
      }
      const { status = null, from = null, to = null, perPage = DEFAULT_PER_PAGE, page = 1 } = parsed.data;
      const listed = await store.listTransactions({ status, from, to, perPage, page });
      return c.json({
        status: true,
        message: "Transactions retrieved",
        data: await Promise.all(listed.transactions.map(listedTransactionData)),
        meta: {
          total: listed.total,
          total_volume: listed.totalVolume,
          skipped: (page - 1) * perPage,
          perPage,
          page,
          pageCount: Math.ceil(listed.total / perPage),
        },
      });
    }),
  );

  app.post("/refund", api("refund", refunds.create));
  app.get("/refund", api("refund_list", refunds.list));
  app.get("/refund/:id", api("refund_fetch", refunds.fetch));

  const html = (c: Context, status: ContentfulStatusCode, page: string) => {
    // The page needs nothing but its inline style and a form posting to itself.
    c.header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
    return c.html(page, status);
  };
  const wantsJson = (c: Context) => (c.req.header("Accept") ?? "").includes("application/json");

  app.get("/checkout/:accessCode", async (c) => {
    calls.checkout += 1;
    await ensureReady();
    const t = await store.findByAccessCode(c.req.param("accessCode") ?? "");
    if (t === null) return html(c, 404, renderErrorPage("Not found", "No transaction has this checkout link"));
    return html(c, 200, PAYABLE_STATUSES.has(t.status) ? renderCheckoutPage(t) : renderSettledPage(t));
  });

  app.post("/checkout/:accessCode", async (c) => {
    calls.settle += 1;
    await ensureReady();
    const json = wantsJson(c);
    const refuse = (status: ContentfulStatusCode, title: string, message: string) =>
      json ? _fail(c, status, message) : html(c, status, renderErrorPage(title, message));
    const isJsonBody = (c.req.header("Content-Type") ?? "").includes("application/json");
    let form: unknown;
    try {
      form = isJsonBody ? await c.req.json() : await c.req.parseBody();
    } catch {
      return refuse(400, "Bad request", "The form could not be read");
    }
    const parsed = _settleBody.safeParse(form);
    if (!parsed.success) {
      return refuse(400, "Bad request", "outcome must be success or failed; amount and currency must be valid");
    }
    if (parsed.data.currency !== undefined && !merchantCurrencies.has(parsed.data.currency)) {
      return json ? _currencyNotSupported(c) : html(c, 400, renderErrorPage("Bad request", CURRENCY_NOT_SUPPORTED));
    }
    const result = await store.settle({
      accessCode: c.req.param("accessCode") ?? "",
      outcome: parsed.data.outcome,
      // A tampered checkout is a transaction of another amount/currency than initialize asked for.
      amount: parsed.data.amount ?? null,
      currency: parsed.data.currency ?? null,
      gatewayResponse: parsed.data.outcome === "success" ? "Successful" : "Declined",
      passFees: (t) => faults.takePassFees(t.reference),
    });
    if (result.outcome === "not_found") return refuse(404, "Not found", "No transaction has this checkout link");
    if (result.outcome === "already_settled") {
      return refuse(409, "Already settled", `This transaction is already ${result.transaction.status}`);
    }
    const t = result.transaction;
    const data = await transactionData(t);
    // Paystack sends webhooks only for successful charges.
    if (t.status === "success") await delivery.send("charge.success", t.reference, data);
    if (json) {
      return c.json({
        status: true,
        message: t.status === "success" ? "Payment successful" : "Payment declined",
        data,
      });
    }
    return html(c, 200, renderResultPage(t));
  });

  const sandboxOnly = new Hono();
  sandboxOnly.use(async (c, next) => {
    if (!authorized(c)) return _fail(c, 401, "Invalid key");
    await ensureReady();
    return next();
  });
  sandboxOnly.get("/faults", (c) => c.json({ status: true, message: "Faults", data: faults.snapshot() }));
  sandboxOnly.post("/faults", async (c) => {
    const body = await readJson(c);
    // One schema or the other, not a union of both: zod then names the field that is wrong.
    const parsed = Array.isArray(body)
      ? z.array(FAULT_COMMAND_SCHEMA).max(100).safeParse(body)
      : FAULT_COMMAND_SCHEMA.transform((command) => [command]).safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
      return _fail(c, 400, `Invalid fault command: ${where}${issue?.message ?? "?"}`);
    }
    try {
      for (const command of parsed.data) applyFaultCommand(faults, command);
    } catch (error) {
      // A full rule queue; the commands before this one stay set.
      if (error instanceof RangeError) return _fail(c, 400, error.message);
      throw error;
    }
    return c.json({ status: true, message: "Faults set", data: faults.snapshot() });
  });
  sandboxOnly.get(
    "/deliveries",
    async (c) => c.json({ status: true, message: "Deliveries", data: await store.listDeliveries() }),
  );
  sandboxOnly.get("/stats", (c) => c.json({ status: true, message: "Stats", data: { calls } }));
  app.route("/_sandbox", sandboxOnly);

  app.notFound((c) => _fail(c, 404, "Not found"));
  app.onError((error, c) => {
    log({ level: "error", msg: "sandbox request failed", path: c.req.path, error: String(error) });
    return _fail(c, 500, "An error occurred (sandbox)");
  });

  return {
    app,
    faults,
    stats: {
      calls,
      deliveries: () => store.listDeliveries(),
      reset() {
        for (const key of Object.keys(calls) as SandboxCall[]) calls[key] = 0;
      },
    },
    async idle() {
      // A running refund step sends its webhook before it ends: wait for the steps, then the deliveries.
      await refunds.idle();
      await delivery.idle();
    },
    async close() {
      closing.abort();
      await refunds.close();
      await delivery.close();
    },
  };
}

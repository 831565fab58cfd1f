/**
 * The Paystack adapter of the {@linkcode PaymentProvider} port, over real
 * HTTP. It talks to `https://api.paystack.co` in the cloud and to the local
 * sandbox (`sandbox/sandbox_paystack.ts`) in dev and tests; both answer the
 * same `{status, message, data}` envelope, parsed here with zod.
 *
 * Error mapping (see {@linkcode ProviderError}): network errors, timeouts,
 * 5xx, 408 and 429 are `unavailable` (retry later); 401 and 403 are
 * `unauthorized` (our secret key was refused); initialize's 400 "Duplicate
 * Transaction Reference" is `duplicate_reference`; verify of an unknown
 * reference is `not_found`; other 4xx are `rejected`; an answer that does not
 * parse is `invalid_response` (a listing whose `meta` paging block is missing
 * included). Paystack documents no `code` value for these
 * errors, so the duplicate and not-found cases are told apart by HTTP status
 * and message.
 *
 * @module
 */
import { z } from "zod";
import {
  type InitializeInput,
  type InitializeResult,
  LISTABLE_TRANSACTION_STATUSES,
  type ListedTransaction,
  type ListTransactionsQuery,
  type PaymentProvider,
  PROVIDER_TRANSACTION_STATUSES,
  ProviderError,
  type RefundInput,
  type RefundResult,
  type TransactionPage,
  type VerifyResult,
} from "./payment_provider.ts";

/** Options of {@linkcode createPaystackProvider}. */
export interface PaystackProviderOptions {
  /** The secret key (`sk_live_…`, `sk_test_…`). Sent as the bearer token, never logged or returned. */
  secretKey: string;
  /** API base URL, without a trailing slash. @default "https://api.paystack.co" */
  baseUrl?: string;
  /** Per-call budget, connection to last body byte. @default 10_000 */
  timeoutMs?: number;
  /** The fetch to use (tests pass their own). @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
}

/** Paystack references: letters, digits, `-`, `.`, `=`. */
const REFERENCE_PATTERN = /^[A-Za-z0-9.=-]{1,100}$/;
const CURRENCY_PATTERN = /^[A-Z]{3}$/;

const DUPLICATE_REFERENCE = /duplicate transaction reference/i;
const REFERENCE_NOT_FOUND = /transaction reference not found/i;

const _envelope = z.object({
  status: z.boolean(),
  message: z.string().nullish(),
  data: z.unknown().optional(),
  // Only listings carry it (the paging block).
  meta: z.unknown().optional(),
});

const _minorUnits = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const _initializeData = z.object({
  authorization_url: z.string().url(),
  access_code: z.string().min(1),
  reference: z.string().min(1),
});

/**
 * ISO 4217 codes are case-insensitive; the rest of the service (and the SQL
 * guard) speaks upper case. Normalised here, at the provider boundary, so an
 * odd answer is either usable or an `invalid_response`, never a "validation"
 * error further in.
 */
const _currency = z.string().regex(/^[A-Za-z]{3}$/).transform((c) => c.toUpperCase());

const _verifyData = z.object({
  id: z.union([z.number().int(), z.string()]).nullish(),
  status: z.enum(PROVIDER_TRANSACTION_STATUSES),
  reference: z.string().min(1),
  amount: _minorUnits,
  // What initialize asked; `amount` adds the fees to it when they are passed to the customer.
  requested_amount: _minorUnits.nullish(),
  fees: _minorUnits.nullish(),
  currency: _currency,
  paid_at: z.string().nullish(),
  paidAt: z.string().nullish(),
  gateway_response: z.string().nullish(),
});

/** A listed transaction: verify's object, with the creation time listings are windowed by. */
const _listedData = _verifyData.extend({
  created_at: z.string().nullish(),
  createdAt: z.string().nullish(),
});

/** Paystack documents `perPage` as an integer or a string; the others as integers. */
const _count = z.union([z.number(), z.string().regex(/^[0-9]{1,15}$/).transform(Number)])
  .pipe(z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER));

/** The `meta` block of `GET /transaction` (offset pagination). */
const _listMeta = z.object({
  total: _count,
  perPage: _count,
  page: _count,
  pageCount: _count,
});

/** The most transactions one listing call may ask for: a bound on one answer's size, not Paystack's. */
const MAX_PER_PAGE = 1_000;

const _refundData = z.object({
  id: z.union([z.number().int(), z.string()]),
  status: z.string(),
  amount: _minorUnits,
  currency: _currency,
});

/** The port's view of a verified or listed transaction; `raw` is the provider's object, unchanged. */
function _verifyResult(d: z.infer<typeof _verifyData>, raw: unknown): VerifyResult {
  return {
    reference: d.reference,
    status: d.status,
    amount: d.amount,
    requestedAmount: d.requested_amount ?? d.amount,
    fees: d.fees ?? null,
    currency: d.currency,
    paidAt: d.paid_at ?? d.paidAt ?? null,
    gatewayResponse: d.gateway_response ?? null,
    providerTransactionId: d.id === null || d.id === undefined ? null : String(d.id),
    raw,
  };
}

type _Operation = "initialize" | "verify" | "refund" | "list";

function _checkMinorUnits(what: string, amount: number): void {
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    throw new RangeError(`Cannot ${what}: amount must be a positive safe integer of minor units, got ${amount}`);
  }
}

function _checkCurrency(what: string, currency: string): void {
  if (!CURRENCY_PATTERN.test(currency)) {
    throw new RangeError(`Cannot ${what}: currency must be three upper-case letters, got ${JSON.stringify(currency)}`);
  }
}

function _checkTimestamp(what: string, name: string, value: string): number {
  const at = Date.parse(value);
  if (!Number.isFinite(at)) throw new RangeError(`Cannot ${what}: ${name} must be an ISO 8601 timestamp, got ${value}`);
  return at;
}

function _checkListQuery(query: ListTransactionsQuery): void {
  const what = "list transactions";
  if (!(LISTABLE_TRANSACTION_STATUSES as readonly string[]).includes(query.status)) {
    throw new RangeError(`Cannot ${what}: status must be one of ${LISTABLE_TRANSACTION_STATUSES.join(", ")}`);
  }
  if (_checkTimestamp(what, "from", query.from) > _checkTimestamp(what, "to", query.to)) {
    throw new RangeError(`Cannot ${what}: from is after to`);
  }
  if (!Number.isSafeInteger(query.perPage) || query.perPage < 1 || query.perPage > MAX_PER_PAGE) {
    throw new RangeError(`Cannot ${what}: perPage must be an integer from 1 to ${MAX_PER_PAGE}, got ${query.perPage}`);
  }
  if (!Number.isSafeInteger(query.page) || query.page < 1) {
    throw new RangeError(`Cannot ${what}: page must be a positive integer, got ${query.page}`);
  }
}

function _checkReference(what: string, reference: string): void {
  if (!REFERENCE_PATTERN.test(reference)) {
    throw new RangeError(`Cannot ${what}: reference may only hold letters, digits, '-', '.', '=' (1-100)`);
  }
}

/**
 * Builds the Paystack adapter.
 *
 * On `initialize`, Paystack answers 400 "Duplicate Transaction Reference" when
 * our reference is already known (a retry after a crash between the call and
 * storing its answer). The adapter rejects with a `duplicate_reference`
 * {@linkcode ProviderError} and does not try to resume: verify documents no
 * `access_code` or `authorization_url`, so the existing checkout cannot be
 * rebuilt. The caller opens a new attempt under a new reference.
 *
 * @throws {TypeError} when `secretKey` is empty
 *
 * @example
 * ```ts
 * const paystack = createPaystackProvider({ secretKey: "sk_test_sandbox", baseUrl: "http://127.0.0.1:8025" });
 * const { authorizationUrl } = await paystack.initialize({ reference: "pay-1", amount: 50_000, currency: "NGN", email: "a@b.co" });
 * ```
 */
export function createPaystackProvider(
  {
    secretKey,
    baseUrl = "https://api.paystack.co",
    timeoutMs = 10_000,
    fetch = globalThis.fetch,
  }: PaystackProviderOptions,
): PaymentProvider {
  if (secretKey.length === 0) throw new TypeError("Cannot create Paystack provider: secretKey is empty");
  const base = baseUrl.replace(/\/+$/, "");

  /** One call: resolves with the envelope's `data` on 2xx + `status: true`, rejects with a ProviderError otherwise. */
  async function call(op: _Operation, method: "GET" | "POST", path: string, body?: unknown): Promise<unknown> {
    return (await callForEnvelope(op, method, path, body)).data;
  }

  /** {@linkcode call}, resolving with the whole envelope (`data` and a listing's `meta`). */
  async function callForEnvelope(
    op: _Operation,
    method: "GET" | "POST",
    path: string,
    body?: unknown,
  ): Promise<z.infer<typeof _envelope>> {
    let response: Response;
    let text: string;
    try {
      // One signal for the whole exchange: a server that stalls mid-body is as unavailable as one that never answers.
      response = await fetch(`${base}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${secretKey}`,
          Accept: "application/json",
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const timedOut = error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError");
      throw new ProviderError(
        "unavailable",
        timedOut ? `Paystack ${op} timed out after ${timeoutMs} ms` : `Paystack ${op} failed: network error`,
        { cause: error },
      );
    }

    let json: unknown = undefined;
    try {
      json = JSON.parse(text);
    } catch {
      // handled below: what an unparsable body means depends on the status
    }
    const parsed = _envelope.safeParse(json);
    const providerMessage = parsed.success ? parsed.data.message ?? null : null;
    const status = response.status;

    if (status >= 500 || status === 408 || status === 429) {
      throw new ProviderError("unavailable", `Paystack ${op} failed: HTTP ${status}`, {
        httpStatus: status,
        providerMessage,
      });
    }
    if (status === 401 || status === 403) {
      // Our key was refused: a configuration error on our side, never a refusal of the payment.
      throw new ProviderError("unauthorized", `Paystack ${op} refused our secret key: HTTP ${status}`, {
        httpStatus: status,
        providerMessage,
      });
    }
    if (status >= 400) {
      if (
        op === "initialize" && status === 400 && providerMessage !== null && DUPLICATE_REFERENCE.test(providerMessage)
      ) {
        throw new ProviderError("duplicate_reference", `Paystack ${op} refused: the reference is already known`, {
          httpStatus: status,
          providerMessage,
        });
      }
      if (
        op === "verify" && (status === 404 || (providerMessage !== null && REFERENCE_NOT_FOUND.test(providerMessage)))
      ) {
        throw new ProviderError("not_found", `Paystack ${op} failed: transaction reference not found`, {
          httpStatus: status,
          providerMessage,
        });
      }
      throw new ProviderError("rejected", `Paystack ${op} rejected: HTTP ${status}`, {
        httpStatus: status,
        providerMessage,
      });
    }
    if (status < 200 || status >= 300 || !parsed.success) {
      throw new ProviderError("invalid_response", `Paystack ${op} answered HTTP ${status} with an unreadable body`, {
        httpStatus: status,
        providerMessage,
        ...(parsed.success ? {} : { cause: parsed.error }),
      });
    }
    if (!parsed.data.status) {
      // A 2xx saying status:false is a refusal all the same.
      throw new ProviderError("rejected", `Paystack ${op} rejected: status false`, {
        httpStatus: status,
        providerMessage,
      });
    }
    return parsed.data;
  }

  function parseData<S extends z.ZodTypeAny>(op: _Operation, schema: S, data: unknown): z.infer<S> {
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      throw new ProviderError("invalid_response", `Paystack ${op} answered with unexpected data`, {
        httpStatus: 200,
        cause: parsed.error,
      });
    }
    return parsed.data;
  }

  async function verify(reference: string): Promise<VerifyResult> {
    const data = await call("verify", "GET", `/transaction/verify/${encodeURIComponent(reference)}`);
    const d = parseData("verify", _verifyData, data);
    if (d.reference !== reference) {
      // Never let an answer about another transaction be taken for this one.
      throw new ProviderError("invalid_response", "Paystack verify answered for a different reference", {
        httpStatus: 200,
      });
    }
    return _verifyResult(d, data);
  }

  async function listTransactions(query: ListTransactionsQuery): Promise<TransactionPage> {
    _checkListQuery(query);
    const params = new URLSearchParams({
      status: query.status,
      from: query.from,
      to: query.to,
      perPage: String(query.perPage),
      page: String(query.page),
    });
    const envelope = await callForEnvelope("list", "GET", `/transaction?${params}`);
    const rows = parseData("list", z.array(z.unknown()), envelope.data);
    const items = rows.map((row): ListedTransaction => {
      const d = parseData("list", _listedData, row);
      return { ..._verifyResult(d, row), createdAt: d.created_at ?? d.createdAt ?? null };
    });
    const meta = parseData("list", _listMeta, envelope.meta);
    return { items, page: meta.page, perPage: meta.perPage, pageCount: meta.pageCount, total: meta.total };
  }

  return {
    name: "paystack",

    async initialize(input: InitializeInput): Promise<InitializeResult> {
      _checkReference("initialize payment", input.reference);
      _checkMinorUnits("initialize payment", input.amount);
      _checkCurrency("initialize payment", input.currency);
      if (input.email.trim().length === 0) throw new RangeError("Cannot initialize payment: email is empty");
      const body = {
        reference: input.reference,
        amount: input.amount,
        currency: input.currency,
        email: input.email,
        ...(input.metadata === undefined ? {} : { metadata: input.metadata }),
        ...(input.callbackUrl === undefined ? {} : { callback_url: input.callbackUrl }),
      };
      const data = await call("initialize", "POST", "/transaction/initialize", body);
      const d = parseData("initialize", _initializeData, data);
      if (d.reference !== input.reference) {
        throw new ProviderError("invalid_response", "Paystack initialize answered for a different reference", {
          httpStatus: 200,
        });
      }
      return { reference: d.reference, authorizationUrl: d.authorization_url, accessCode: d.access_code };
    },

    verify,

    async refund(input: RefundInput): Promise<RefundResult> {
      _checkReference("refund payment", input.reference);
      if (input.amount !== undefined) _checkMinorUnits("refund payment", input.amount);
      if (input.currency !== undefined) _checkCurrency("refund payment", input.currency);
      const data = await call("refund", "POST", "/refund", {
        transaction: input.reference,
        ...(input.amount === undefined ? {} : { amount: input.amount }),
        ...(input.currency === undefined ? {} : { currency: input.currency }),
        ...(input.merchantNote === undefined ? {} : { merchant_note: input.merchantNote }),
      });
      const d = parseData("refund", _refundData, data);
      return { refundId: String(d.id), status: d.status, amount: d.amount, currency: d.currency, raw: data };
    },

    listTransactions,
  };
}

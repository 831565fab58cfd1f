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
 * reference, and a refund fetch or listing answered 404, are `not_found`; other
 * 4xx (a refund over what remains refundable, of a transaction fully reversed
 * or never paid) are `rejected`; an answer that does not
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
  type ListRefundsInput,
  type ListTransactionsQuery,
  type PaymentProvider,
  PROVIDER_REFUND_STATUSES,
  PROVIDER_TRANSACTION_STATUSES,
  ProviderError,
  type RefundInput,
  type RefundResult,
  type TransactionPage,
  type VerifyResult,
} from "../payments/payment_provider.ts";
import { REFERENCE_PATTERN } from "../payments/provider_reference.ts";

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

/** A Paystack id: an integer, sent as a number or (in webhooks) as a digit string. */
const _providerId = z.union([
  z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  z.string().regex(/^[0-9]{1,20}$/),
])
  .transform(String);

/**
 * The refund object of `POST /refund`, `GET /refund/:id` and `GET /refund`.
 * `transaction` is the transaction object in the refund call's answer and the
 * transaction id in fetch and list answers; `transaction_reference` is in
 * Paystack's OpenAPI description of fetch and list, not in its samples.
 */
const _refundData = z.object({
  id: _providerId,
  status: z.enum(PROVIDER_REFUND_STATUSES),
  amount: _minorUnits,
  currency: _currency,
  merchant_note: z.string().nullish(),
  transaction: z.union([
    _providerId,
    z.object({ id: _providerId.nullish(), reference: z.string().min(1).nullish() }),
  ]).nullish(),
  transaction_reference: z.string().min(1).nullish(),
});

/** The `meta` block of `GET /refund`; Paystack's samples of that listing show it with or without. */
const _refundListMeta = z.object({ page: _count, pageCount: _count });

/** Refunds asked per page of a listing. */
const REFUND_PAGE_SIZE = 100;
/** Pages of one transaction's refunds read at most: a bound on a listing that never ends, not Paystack's. */
const MAX_REFUND_PAGES = 50;
/** The longest merchant or customer note sent. */
const MAX_NOTE_LENGTH = 500;
/** Paystack's ids are integers; a transaction given by id is all digits. */
const PROVIDER_ID_PATTERN = /^[0-9]{1,20}$/;

/** The id of the transaction a refund object names, whichever form it takes. */
function _refundTransactionId(d: z.infer<typeof _refundData>): string | null {
  if (d.transaction === null || d.transaction === undefined) return null;
  return typeof d.transaction === "string" ? d.transaction : d.transaction.id ?? null;
}

/** The port's view of a refund; `raw` is the provider's object, unchanged. */
function _refundResult(d: z.infer<typeof _refundData>, raw: unknown, knownReference: string | null): RefundResult {
  const named = typeof d.transaction === "object" && d.transaction !== null ? d.transaction.reference : null;
  return {
    refundId: d.id,
    status: d.status,
    amount: d.amount,
    currency: d.currency,
    transactionReference: named ?? d.transaction_reference ?? knownReference,
    merchantNote: d.merchant_note ?? null,
    raw,
  };
}

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

type _Operation = "initialize" | "verify" | "refund" | "list" | "refund_fetch" | "refund_list";

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

function _checkTransaction(what: string, transaction: string): void {
  if (!REFERENCE_PATTERN.test(transaction)) {
    throw new RangeError(`Cannot ${what}: transaction must be a reference or a transaction id`);
  }
}

function _checkNote(what: string, name: string, note: string): void {
  if (note.trim().length === 0 || note.length > MAX_NOTE_LENGTH) {
    throw new RangeError(`Cannot ${what}: ${name} must hold 1 to ${MAX_NOTE_LENGTH} characters`);
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
      if ((op === "refund_fetch" || op === "refund_list") && status === 404) {
        // A listing's 404 is not read as "no refunds": treating it so could send a refund twice.
        throw new ProviderError("not_found", `Paystack ${op} failed: not found`, {
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

  async function refund(input: RefundInput): Promise<RefundResult> {
    const what = "refund payment";
    _checkTransaction(what, input.transaction);
    _checkMinorUnits(what, input.amount);
    _checkCurrency(what, input.currency);
    _checkNote(what, "merchantNote", input.merchantNote);
    if (input.customerNote !== undefined) _checkNote(what, "customerNote", input.customerNote);
    const data = await call("refund", "POST", "/refund", {
      transaction: input.transaction,
      amount: input.amount,
      currency: input.currency,
      merchant_note: input.merchantNote,
      ...(input.customerNote === undefined ? {} : { customer_note: input.customerNote }),
    });
    const d = parseData("refund", _refundData, data);
    const named = typeof d.transaction === "object" && d.transaction !== null ? d.transaction : null;
    if (named !== null && named.reference !== input.transaction && named.id !== input.transaction) {
      // Never let a refund of another transaction be taken for this one.
      throw new ProviderError("invalid_response", "Paystack refund answered for a different transaction", {
        httpStatus: 200,
      });
    }
    return _refundResult(d, data, PROVIDER_ID_PATTERN.test(input.transaction) ? null : input.transaction);
  }

  async function fetchRefund(refundId: string): Promise<RefundResult> {
    if (!PROVIDER_ID_PATTERN.test(refundId)) {
      throw new RangeError(
        `Cannot fetch refund: refundId must be the provider's integer id, got ${JSON.stringify(refundId)}`,
      );
    }
    const data = await call("refund_fetch", "GET", `/refund/${refundId}`);
    const d = parseData("refund_fetch", _refundData, data);
    if (d.id !== refundId) {
      throw new ProviderError("invalid_response", "Paystack refund fetch answered for a different refund", {
        httpStatus: 200,
      });
    }
    return _refundResult(d, data, null);
  }

  /**
   * Paystack's listing filters by transaction id (`transaction`), so a
   * reference is first resolved with verify; rows of other transactions (a
   * listing that ignored the filter) are dropped rather than trusted.
   */
  async function listRefunds({ transaction }: ListRefundsInput): Promise<RefundResult[]> {
    _checkTransaction("list refunds", transaction);
    let transactionId = transaction;
    let reference: string | null = null;
    if (!PROVIDER_ID_PATTERN.test(transaction)) {
      const verified = await verify(transaction);
      if (verified.providerTransactionId === null) {
        throw new ProviderError("invalid_response", "Paystack verify answered without a transaction id", {
          httpStatus: 200,
        });
      }
      transactionId = verified.providerTransactionId;
      reference = verified.reference;
    }
    const refunds = new Map<string, RefundResult>();
    const seen = new Set<string>();
    for (let page = 1; page <= MAX_REFUND_PAGES; page++) {
      const params = new URLSearchParams({
        transaction: transactionId,
        perPage: String(REFUND_PAGE_SIZE),
        page: String(page),
      });
      const envelope = await callForEnvelope("refund_list", "GET", `/refund?${params}`);
      const rows = parseData("refund_list", z.array(z.unknown()), envelope.data);
      let fresh = 0;
      for (const row of rows) {
        const d = parseData("refund_list", _refundData, row);
        if (!seen.has(d.id)) fresh += 1;
        seen.add(d.id);
        if (_refundTransactionId(d) !== transactionId || refunds.has(d.id)) continue;
        refunds.set(d.id, _refundResult(d, row, reference));
      }
      const meta = envelope.meta === undefined || envelope.meta === null
        ? null
        : parseData("refund_list", _refundListMeta, envelope.meta);
      const more = meta === null ? rows.length >= REFUND_PAGE_SIZE : page < meta.pageCount;
      if (!more) return [...refunds.values()];
      if (fresh === 0) {
        throw new ProviderError("invalid_response", "Paystack refund listing repeats itself instead of paging", {
          httpStatus: 200,
        });
      }
    }
    throw new ProviderError("invalid_response", `Paystack refund listing has more than ${MAX_REFUND_PAGES} pages`, {
      httpStatus: 200,
    });
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

    refund,
    fetchRefund,
    listRefunds,

    listTransactions,
  };
}

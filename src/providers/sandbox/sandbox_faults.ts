/**
 * Fault injection for the sandbox Paystack: what a flaky provider or a flaky
 * webhook receiver does to us, on demand, and the real Paystack behaviours a
 * happy-path sandbox would hide (fees passed to the customer, verify answering
 * a non-final status). Settable from code (`sandbox.faults`) and over HTTP
 * (`POST /_sandbox/faults`, see {@linkcode FAULT_COMMAND_SCHEMA}).
 *
 * Every rule is bounded: a finite number of calls, a finite delay.
 *
 * @module
 */
import { z } from "zod";

/** The API endpoints faults can target. */
export const SANDBOX_ENDPOINTS = ["initialize", "verify", "refund", "list", "refund_list", "refund_fetch"] as const;

/** An API endpoint of the sandbox. */
export type SandboxEndpoint = typeof SANDBOX_ENDPOINTS[number];

/** The statuses Paystack's verify answers while a transaction is still in progress (not final). */
export const NON_FINAL_STATUSES = ["ongoing", "pending", "processing", "queued"] as const;

/** A non-final transaction status. */
export type NonFinalStatus = typeof NON_FINAL_STATUSES[number];

/** Paystack references: letters, digits, `-`, `.`, `=`. */
const REFERENCE_PATTERN = /^[A-Za-z0-9.=-]{1,100}$/;

/** The ends a refund can be made to reach instead of `processed`. */
export const REFUND_FAULT_OUTCOMES = ["failed", "needs-attention"] as const;

/** A refund outcome a fault can force. */
export type RefundFaultOutcome = typeof REFUND_FAULT_OUTCOMES[number];

/** Longest delay or hang a rule may ask for; keeps a forgotten fault from stalling a run for ever. */
export const MAX_FAULT_DELAY_MS = 120_000;
/** How many calls one rule may cover, and how many rules may be queued. */
const MAX_TIMES = 10_000;
const MAX_RULES = 100;

/** What happens to a faulted API call. */
export type ApiFaultAction =
  /** Answer `status` with Paystack's error envelope. */
  | { kind: "fail"; status: number; message: string }
  /** Answer nothing for `ms` (or until the client gives up), then 504: a dropped connection, to a client with a timeout. */
  | { kind: "drop"; ms: number };

interface _Rule {
  endpoint: SandboxEndpoint | null;
  remaining: number;
  action: ApiFaultAction;
}

interface _FeeRule {
  reference: string | null;
  remaining: number;
}

interface _StatusRule {
  reference: string | null;
  remaining: number;
  status: NonFinalStatus;
}

interface _RefundOutcomeRule {
  reference: string | null;
  remaining: number;
  outcome: RefundFaultOutcome;
}

/** Options of {@linkcode SandboxFaults.failNext}. */
export interface FailNextOptions {
  /** Only calls of this endpoint; every API endpoint when absent. */
  endpoint?: SandboxEndpoint;
  /** How many calls. @default 1 */
  times?: number;
  /** HTTP status to answer. @default 503 */
  status?: number;
  /** Paystack `message`. @default a generic one per status class */
  message?: string;
}

/** Options of {@linkcode SandboxFaults.dropNext}. */
export interface DropNextOptions {
  endpoint?: SandboxEndpoint;
  /** @default 1 */
  times?: number;
  /** How long to hang at most. @default 60_000 */
  ms?: number;
}

/** Options of {@linkcode SandboxFaults.failWebhooks}. */
export interface FailWebhooksOptions {
  /** How many delivery attempts. @default 1 */
  times?: number;
  /** The status the receiver "answers"; `0` = a network error (no answer). @default 500 */
  status?: number;
}

/** Options of {@linkcode SandboxFaults.passFeesNext}. */
export interface PassFeesOptions {
  /** Only payments of this reference; any when absent. */
  reference?: string;
  /** How many successful payments. @default 1 */
  times?: number;
}

/** Options of {@linkcode SandboxFaults.verifyStatusNext}. */
export interface VerifyStatusOptions {
  /** The non-final status verify answers. */
  status: NonFinalStatus;
  /** Only verifies of this reference; any when absent. */
  reference?: string;
  /** How many verify answers. @default 1 */
  times?: number;
}

/** Options of {@linkcode SandboxFaults.refundOutcomeNext}. */
export interface RefundOutcomeOptions {
  /** Where the refunds end instead of `processed`. */
  outcome: RefundFaultOutcome;
  /** Only refunds of the transaction with this reference; any when absent. */
  reference?: string;
  /** How many refunds. @default 1 */
  times?: number;
}

/** Options of {@linkcode SandboxFaults.loseRefundAnswerNext}. */
export interface LoseRefundAnswerOptions {
  /** How many created refunds. @default 1 */
  times?: number;
  /** How long the answer hangs before the 504; `0` answers the 504 at once. @default 0 */
  ms?: number;
}

/** The current fault settings, for tests and `GET /_sandbox/faults`. */
export interface FaultSnapshot {
  api: { endpoint: SandboxEndpoint | null; remaining: number; action: ApiFaultAction }[];
  apiDelayMs: Record<SandboxEndpoint | "all", number>;
  webhookFailures: { remaining: number; status: number };
  webhookDelayMs: number;
  /** Pending "pass fees to the customer" rules, first to be used first. */
  passFees: { reference: string | null; remaining: number }[];
  /** Pending "verify answers a non-final status" rules, first to be used first. */
  verifyStatus: { reference: string | null; remaining: number; status: NonFinalStatus }[];
  /** Pending "the next refunds end `failed` / `needs-attention`" rules, first to be used first. */
  refundOutcome: { reference: string | null; remaining: number; outcome: RefundFaultOutcome }[];
  /** Refunds still to be created whose answer is lost, and how long each answer hangs first. */
  refundAnswerLoss: { remaining: number; ms: number };
}

/** Fault settings of one sandbox. */
export interface SandboxFaults {
  /** Fails the next `times` API calls (of `endpoint`) with `status`. */
  failNext(options?: FailNextOptions): void;
  /** Makes the next `times` API calls (of `endpoint`) hang, as a dropped connection would. */
  dropNext(options?: DropNextOptions): void;
  /** Delays every API answer (of `endpoint`) by `ms`; `0` clears. */
  delay(ms: number, endpoint?: SandboxEndpoint): void;
  /** Fails the next `times` webhook delivery attempts as a receiver answering `status` would. */
  failWebhooks(options?: FailWebhooksOptions): void;
  /** Delays every webhook delivery attempt by `ms`; `0` clears. */
  delayWebhooks(ms: number): void;
  /**
   * Charges the fees to the customer on the next `times` successful payments
   * (of `reference`), as a merchant who passes fees on does: verify then
   * answers `amount = requested_amount + fees`.
   */
  passFeesNext(options?: PassFeesOptions): void;
  /**
   * Makes the next `times` verify answers (of `reference`) report `status`
   * (`ongoing`, `pending`, `processing`, `queued`) whatever the transaction's
   * real state, with no `paid_at`: a payment still in flight at the provider.
   */
  verifyStatusNext(options: VerifyStatusOptions): void;
  /**
   * Makes the next `times` refunds created (of the transaction `reference`)
   * end `failed` or `needs-attention` instead of `processed`, after going
   * through `pending` and `processing` like any other.
   */
  refundOutcomeNext(options: RefundOutcomeOptions): void;
  /**
   * Loses the answer of the next `times` refunds created: the refund exists
   * (it progresses and its webhooks are sent) but `POST /refund` hangs `ms`,
   * then answers 504, as when a connection drops after the provider acted.
   * Refused refunds do not use it up.
   */
  loseRefundAnswerNext(options?: LoseRefundAnswerOptions): void;
  /** Clears every fault. */
  reset(): void;
  snapshot(): FaultSnapshot;
  /** Takes the fault for one API call, if any (consumes one unit of the first matching rule). */
  takeApiFault(endpoint: SandboxEndpoint): ApiFaultAction | null;
  /** The delay for one API call. */
  apiDelay(endpoint: SandboxEndpoint): number;
  /** Takes the fault for one delivery attempt: the status to pretend, `0` for a network error, `null` for none. */
  takeWebhookFault(): number | null;
  /** The delay before one delivery attempt. */
  webhookDelay(): number;
  /** Whether a successful payment of `reference` passes its fees to the customer (consumes one unit). */
  takePassFees(reference: string): boolean;
  /** The status one verify of `reference` must answer instead of the real one, if any (consumes one unit). */
  takeVerifyStatus(reference: string): NonFinalStatus | null;
  /** The forced outcome of a refund of `reference` being created, if any (consumes one unit). */
  takeRefundOutcome(reference: string): RefundFaultOutcome | null;
  /** Whether the answer of a refund just created is lost, and how long it hangs (consumes one unit). */
  takeRefundAnswerLoss(): { ms: number } | null;
}

function _count(n: number | undefined, what: string, max: number): number {
  const value = n ?? 1;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new RangeError(`Cannot set fault: ${what} must be an integer from 1 to ${max}, got ${value}`);
  }
  return value;
}

function _ms(ms: number, what: string): number {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_FAULT_DELAY_MS) {
    throw new RangeError(`Cannot set fault: ${what} must be an integer from 0 to ${MAX_FAULT_DELAY_MS} ms, got ${ms}`);
  }
  return ms;
}

function _status(status: number, allowZero: boolean): number {
  if (!Number.isInteger(status) || (status === 0 ? !allowZero : status < 100 || status > 599)) {
    throw new RangeError(`Cannot set fault: status must be an HTTP status${allowZero ? " or 0" : ""}, got ${status}`);
  }
  return status;
}

function _reference(reference: string | undefined): string | null {
  if (reference === undefined) return null;
  if (!REFERENCE_PATTERN.test(reference)) {
    throw new RangeError("Cannot set fault: reference may only hold letters, digits, '-', '.', '=' (1-100)");
  }
  return reference;
}

/** Paystack's own messages where the status has one, so a faulted answer reads like a real one. */
function _defaultMessage(status: number): string {
  if (status >= 500) return "Service temporarily unavailable (sandbox fault)";
  if (status === 401) return "Invalid key";
  if (status === 403) return "Access Denied";
  return "Request rejected (sandbox fault)";
}

/** Takes one unit of the first rule matching `reference`, dropping it when spent. */
function _take<R extends { reference: string | null; remaining: number }>(
  rules: R[],
  reference: string,
): [R | null, R[]] {
  const rule = rules.find((r) => r.reference === null || r.reference === reference);
  if (!rule) return [null, rules];
  rule.remaining -= 1;
  return [rule, rule.remaining <= 0 ? rules.filter((r) => r !== rule) : rules];
}

/** Creates an empty fault table. */
export function createSandboxFaults(): SandboxFaults {
  let rules: _Rule[] = [];
  let apiDelayMs: Record<SandboxEndpoint | "all", number> = {
    all: 0,
    initialize: 0,
    verify: 0,
    refund: 0,
    list: 0,
    refund_list: 0,
    refund_fetch: 0,
  };
  let webhookFailures = { remaining: 0, status: 500 };
  let webhookDelayMs = 0;
  let feeRules: _FeeRule[] = [];
  let statusRules: _StatusRule[] = [];
  let refundOutcomeRules: _RefundOutcomeRule[] = [];
  let refundAnswerLoss = { remaining: 0, ms: 0 };

  function push<R>(list: R[], rule: R): void {
    if (list.length >= MAX_RULES) throw new RangeError(`Cannot set fault: at most ${MAX_RULES} rules may be queued`);
    list.push(rule);
  }

  return {
    failNext({ endpoint, times, status = 503, message } = {}) {
      const s = _status(status, false);
      push(rules, {
        endpoint: endpoint ?? null,
        remaining: _count(times, "times", MAX_TIMES),
        action: { kind: "fail", status: s, message: message ?? _defaultMessage(s) },
      });
    },
    dropNext({ endpoint, times, ms = 60_000 } = {}) {
      push(rules, {
        endpoint: endpoint ?? null,
        remaining: _count(times, "times", MAX_TIMES),
        action: { kind: "drop", ms: _ms(ms, "ms") },
      });
    },
    delay(ms, endpoint) {
      apiDelayMs = { ...apiDelayMs, [endpoint ?? "all"]: _ms(ms, "delay") };
    },
    failWebhooks({ times, status = 500 } = {}) {
      webhookFailures = { remaining: _count(times, "times", MAX_TIMES), status: _status(status, true) };
    },
    delayWebhooks(ms) {
      webhookDelayMs = _ms(ms, "webhook delay");
    },
    passFeesNext({ reference, times } = {}) {
      push(feeRules, { reference: _reference(reference), remaining: _count(times, "times", MAX_TIMES) });
    },
    verifyStatusNext({ status, reference, times }) {
      if (!(NON_FINAL_STATUSES as readonly string[]).includes(status)) {
        throw new RangeError(`Cannot set fault: status must be one of ${NON_FINAL_STATUSES.join(", ")}, got ${status}`);
      }
      push(statusRules, { reference: _reference(reference), remaining: _count(times, "times", MAX_TIMES), status });
    },
    refundOutcomeNext({ outcome, reference, times }) {
      if (!(REFUND_FAULT_OUTCOMES as readonly string[]).includes(outcome)) {
        throw new RangeError(
          `Cannot set fault: outcome must be one of ${REFUND_FAULT_OUTCOMES.join(", ")}, got ${outcome}`,
        );
      }
      push(refundOutcomeRules, {
        reference: _reference(reference),
        remaining: _count(times, "times", MAX_TIMES),
        outcome,
      });
    },
    loseRefundAnswerNext({ times, ms = 0 } = {}) {
      refundAnswerLoss = { remaining: _count(times, "times", MAX_TIMES), ms: _ms(ms, "ms") };
    },
    reset() {
      rules = [];
      apiDelayMs = {
        all: 0,
        initialize: 0,
        verify: 0,
        refund: 0,
        list: 0,
        refund_list: 0,
        refund_fetch: 0,
      };
      webhookFailures = { remaining: 0, status: 500 };
      webhookDelayMs = 0;
      feeRules = [];
      statusRules = [];
      refundOutcomeRules = [];
      refundAnswerLoss = { remaining: 0, ms: 0 };
    },
    snapshot() {
      return {
        api: rules.map((r) => ({ endpoint: r.endpoint, remaining: r.remaining, action: r.action })),
        apiDelayMs: { ...apiDelayMs },
        webhookFailures: { ...webhookFailures },
        webhookDelayMs,
        passFees: feeRules.map((r) => ({ reference: r.reference, remaining: r.remaining })),
        verifyStatus: statusRules.map((r) => ({ reference: r.reference, remaining: r.remaining, status: r.status })),
        refundOutcome: refundOutcomeRules.map((r) => ({
          reference: r.reference,
          remaining: r.remaining,
          outcome: r.outcome,
        })),
        refundAnswerLoss: { ...refundAnswerLoss },
      };
    },
    takeApiFault(endpoint) {
      const rule = rules.find((r) => r.endpoint === null || r.endpoint === endpoint);
      if (!rule) return null;
      rule.remaining -= 1;
      if (rule.remaining <= 0) rules = rules.filter((r) => r !== rule);
      return rule.action;
    },
    apiDelay(endpoint) {
      return apiDelayMs.all + apiDelayMs[endpoint];
    },
    takeWebhookFault() {
      if (webhookFailures.remaining <= 0) return null;
      webhookFailures.remaining -= 1;
      return webhookFailures.status;
    },
    webhookDelay() {
      return webhookDelayMs;
    },
    takePassFees(reference) {
      const [rule, rest] = _take(feeRules, reference);
      feeRules = rest;
      return rule !== null;
    },
    takeVerifyStatus(reference) {
      const [rule, rest] = _take(statusRules, reference);
      statusRules = rest;
      return rule?.status ?? null;
    },
    takeRefundOutcome(reference) {
      const [rule, rest] = _take(refundOutcomeRules, reference);
      refundOutcomeRules = rest;
      return rule?.outcome ?? null;
    },
    takeRefundAnswerLoss() {
      if (refundAnswerLoss.remaining <= 0) return null;
      refundAnswerLoss.remaining -= 1;
      return { ms: refundAnswerLoss.ms };
    },
  };
}

const _endpoint = z.enum(SANDBOX_ENDPOINTS).optional();
const _times = z.number().int().min(1).max(MAX_TIMES).optional();
const _delay = z.number().int().min(0).max(MAX_FAULT_DELAY_MS);
const _ref = z.string().regex(REFERENCE_PATTERN).optional();

/**
 * One fault command as `POST /_sandbox/faults` takes it (a single object or an
 * array of them), e.g. `{"action":"fail","endpoint":"initialize","times":2,"status":503}`,
 * `{"action":"pass_fees","times":1}`, `{"action":"verify_status","status":"pending","times":3,"reference":"pay-1"}`,
 * `{"action":"refund_outcome","outcome":"failed"}`, `{"action":"refund_lose_answer","times":1}`.
 */
export const FAULT_COMMAND_SCHEMA = z.discriminatedUnion("action", [
  z.object({
    action: z.literal("fail"),
    endpoint: _endpoint,
    times: _times,
    status: z.number().int().min(100).max(599).optional(),
    message: z.string().max(500).optional(),
  }),
  z.object({ action: z.literal("drop"), endpoint: _endpoint, times: _times, ms: _delay.optional() }),
  z.object({ action: z.literal("delay"), endpoint: _endpoint, ms: _delay }),
  z.object({
    action: z.literal("webhook_fail"),
    times: _times,
    status: z.number().int().refine((s) => s === 0 || (s >= 100 && s <= 599), "an HTTP status or 0").optional(),
  }),
  z.object({ action: z.literal("webhook_delay"), ms: _delay }),
  z.object({ action: z.literal("pass_fees"), reference: _ref, times: _times }),
  z.object({ action: z.literal("verify_status"), status: z.enum(NON_FINAL_STATUSES), reference: _ref, times: _times }),
  z.object({
    action: z.literal("refund_outcome"),
    outcome: z.enum(REFUND_FAULT_OUTCOMES),
    reference: _ref,
    times: _times,
  }),
  z.object({ action: z.literal("refund_lose_answer"), times: _times, ms: _delay.optional() }),
  z.object({ action: z.literal("reset") }),
]);

/** A parsed fault command. */
export type FaultCommand = z.infer<typeof FAULT_COMMAND_SCHEMA>;

/** Applies one parsed command to `faults`. */
export function applyFaultCommand(faults: SandboxFaults, command: FaultCommand): void {
  // zod's optional fields are `T | undefined`; drop the undefined ones so exactOptionalPropertyTypes holds.
  const defined = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
      [K in keyof T]?: Exclude<T[K], undefined>;
    };
  switch (command.action) {
    case "fail": {
      const { action: _, ...rest } = command;
      faults.failNext(defined(rest));
      return;
    }
    case "drop": {
      const { action: _, ...rest } = command;
      faults.dropNext(defined(rest));
      return;
    }
    case "delay":
      faults.delay(command.ms, ...(command.endpoint ? [command.endpoint] as const : []));
      return;
    case "webhook_fail": {
      const { action: _, ...rest } = command;
      faults.failWebhooks(defined(rest));
      return;
    }
    case "webhook_delay":
      faults.delayWebhooks(command.ms);
      return;
    case "pass_fees": {
      const { action: _, ...rest } = command;
      faults.passFeesNext(defined(rest));
      return;
    }
    case "verify_status": {
      const { action: _, ...rest } = command;
      faults.verifyStatusNext({ ...defined(rest), status: command.status });
      return;
    }
    case "refund_outcome": {
      const { action: _, ...rest } = command;
      faults.refundOutcomeNext({ ...defined(rest), outcome: command.outcome });
      return;
    }
    case "refund_lose_answer": {
      const { action: _, ...rest } = command;
      faults.loseRefundAnswerNext(defined(rest));
      return;
    }
    case "reset":
      faults.reset();
      return;
    default: {
      const unreachable: never = command;
      return unreachable;
    }
  }
}

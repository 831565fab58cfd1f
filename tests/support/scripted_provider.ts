/**
 * A {@linkcode PaymentProvider} whose every answer the test writes: queue
 * what the next call of each method resolves with (or
 * throws), and read back every call it received. A call nobody scripted
 * throws, so a test never passes on an answer it did not choose.
 *
 * @module
 */
import type {
  InitializeInput,
  InitializeResult,
  PaymentProvider,
  VerifyResult,
} from "../../src/payments/payment_provider.ts";

/** One scripted answer: a value to resolve with, an error to throw, or a function of the call's input. */
export type Answer<I, O> = O | Error | ((input: I) => O | Promise<O>);

/** The port's calls (every method takes one argument and returns a promise). */
export type ProviderMethod = {
  [K in keyof PaymentProvider]-?: PaymentProvider[K] extends (input: never) => Promise<unknown> ? K : never;
}[keyof PaymentProvider];
type Input<K extends ProviderMethod> = Parameters<PaymentProvider[K]>[0];
type Output<K extends ProviderMethod> = Awaited<ReturnType<PaymentProvider[K]>>;

/** Every call of the port, scripted; a new method of the port fails to compile below until it is listed. */
const METHODS: readonly string[] = [
  "initialize",
  "verify",
  "refund",
  "fetchRefund",
  "listRefunds",
  "listTransactions",
];
type _Unscripted = Exclude<
  ProviderMethod,
  "initialize" | "verify" | "refund" | "fetchRefund" | "listRefunds" | "listTransactions"
>;
const _everyMethodScripted: [_Unscripted] extends [never] ? true : never = true;

/** A provider driven by a script. */
export interface ScriptedProvider extends PaymentProvider {
  /** Answers still to give, in order, per method: push to script the next calls. */
  readonly script: { [K in ProviderMethod]: Answer<Input<K>, Output<K>>[] };
  /** Every call received (its argument), in order, per method. */
  readonly calls: { [K in ProviderMethod]: Input<K>[] };
}

async function _answer(method: string, queue: Answer<unknown, unknown>[], input: unknown): Promise<unknown> {
  if (queue.length === 0) throw new Error(`Unscripted provider call: ${method}(${JSON.stringify(input)})`);
  const answer = queue.shift()!;
  if (answer instanceof Error) throw answer;
  return typeof answer === "function" ? await answer(input) : answer;
}

/**
 * Creates a provider with an empty script.
 *
 * @example
 * ```ts
 * const provider = createScriptedProvider();
 * provider.script.initialize.push(checkoutFor);
 * provider.script.verify.push(new ProviderError("unavailable", "Paystack is down"));
 * ```
 */
export function createScriptedProvider({ name = "paystack" }: { name?: string } = {}): ScriptedProvider {
  const script: Record<string, Answer<unknown, unknown>[]> = {};
  const calls: Record<string, unknown[]> = {};
  const provider: Record<string, unknown> = { name, script, calls };
  for (const method of METHODS) {
    const queue: Answer<unknown, unknown>[] = script[method] = [];
    const received: unknown[] = calls[method] = [];
    provider[method] = (input: unknown) => {
      received.push(input);
      return _answer(method, queue, input);
    };
  }
  return provider as unknown as ScriptedProvider;
}

/** A checkout for the reference asked about, as Paystack's initialize answers it. */
export function checkoutFor(input: InitializeInput): InitializeResult {
  const accessCode = `ac_${input.reference.replaceAll(/[^A-Za-z0-9]/g, "").slice(-12)}`;
  return { reference: input.reference, authorizationUrl: `https://checkout.test/${accessCode}`, accessCode };
}

/**
 * The provider's view of a transaction: a success for `amount` NGN unless
 * `overrides` says otherwise.
 */
export function transaction(
  reference: string,
  amount: number,
  overrides: Partial<VerifyResult> = {},
): VerifyResult {
  const status = overrides.status ?? "success";
  return {
    reference,
    status,
    amount,
    requestedAmount: amount,
    fees: null,
    currency: "NGN",
    paidAt: status === "success" ? new Date(0).toISOString() : null,
    gatewayResponse: status === "success" ? "Successful" : null,
    providerTransactionId: "4099260516",
    raw: { reference, status, amount, currency: overrides.currency ?? "NGN" },
    ...overrides,
  };
}

/**
 * RFC 9457 problem documents: the only place that knows their shape. Every
 * error a client sees is rendered here from an {@linkcode AppError} (its
 * stable `code`, and the status and title of `ERROR_TABLE`).
 *
 * @module
 */
import { AppError, ERROR_TABLE, type ErrorCode } from "../errors.ts";

/** An RFC 9457 problem document as this service writes it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  request_id?: string;
  [extra: string]: unknown;
}

/** Base URI of problem types; each code is documented at `<base><code>`. */
export const PROBLEM_TYPE_BASE = "https://docs.sms-payments.dev/problems/";

/**
 * Renders an {@linkcode AppError} as a problem document.
 *
 * @example
 * ```ts
 * toProblem(new AppError("payment_not_found"), "req-1").status; // 404
 * ```
 */
export function toProblem(error: AppError, requestId?: string): Problem {
  const [status, title] = ERROR_TABLE[error.code];
  return {
    ...error.extras,
    type: PROBLEM_TYPE_BASE + error.code,
    title,
    status,
    detail: error.message,
    code: error.code,
    ...(requestId ? { request_id: requestId } : {}),
  };
}
